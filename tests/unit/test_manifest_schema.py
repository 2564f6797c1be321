"""The fleetform/v1 JSON Schema: valid, documented, one canonical file, and a safe fast path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.manifest import JsonSchemaValidator, schema_document
from reconciler.manifest.iccid import with_check_digit
from reconciler.manifest.schema import plainly_valid_entry, sim_entry_violations

ROOT = Path(__file__).resolve().parents[2]


def test_schema_is_valid_2020_12() -> None:
    schema = schema_document()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_repo_schema_is_the_packaged_schema() -> None:
    repo = ROOT / "schemas" / "fleet.schema.json"
    packaged = ROOT / "reconciler" / "schemas" / "fleet.schema.json"
    assert repo.read_bytes() == packaged.read_bytes()
    assert json.loads(packaged.read_text(encoding="utf-8")) == schema_document()


def _described(node: dict[str, Any], defs: dict[str, Any]) -> bool:
    if "description" in node:
        return True
    ref = node.get("$ref")
    return isinstance(ref, str) and "description" in defs[ref.rsplit("/", 1)[-1]]


def test_every_property_has_a_description() -> None:
    schema = schema_document()
    defs = schema["$defs"]
    missing: list[str] = []

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                if not _described(sub, defs):
                    missing.append(f"{where}.{name}")
            for key, sub in node.items():
                if key != "if":  # conditions name properties, they do not declare them
                    walk(sub, f"{where}/{key}")
        elif isinstance(node, list):
            for index, sub in enumerate(node):
                walk(sub, f"{where}[{index}]")

    walk(schema, "#")
    assert missing == []
    assert [name for name, sub in defs.items() if "description" not in sub] == []


def test_a_valid_document_has_no_violations() -> None:
    document = {
        "apiVersion": "fleetform/v1",
        "kind": "SimGroup",
        "metadata": {"name": "berlin"},
        "spec": {"state": "active", "sims": [with_check_digit("894450000000000001")]},
    }
    assert JsonSchemaValidator().violations(document) == []


def test_violations_of_sim_entries_carry_the_full_path() -> None:
    found = sim_entry_violations(JsonSchemaValidator(), ["x", {"iccid": 1}], ("spec", "sims"))
    assert [(v.path, v.keyword) for v in found] == [
        (("spec", "sims", 0), "pattern"),
        (("spec", "sims", 1, "iccid"), "type"),
    ]


_names = st.one_of(
    st.sampled_from(["IoT-1GB", "EU-Roaming-500MB", "", "x" * 129]), st.text(max_size=4)
)
_values: st.SearchStrategy[object] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    _names,
    st.sampled_from(["active", "suspended", "retired", "enabled", "disabled", "y" * 256]),
)
_iccids = st.one_of(
    st.sampled_from([with_check_digit("894450000000000001"), "8944500000000000019", "123"]),
    st.from_regex(r"[0-9]{18,21}", fullmatch=True),
    st.integers(),
)
_entry_values = st.one_of(
    _values,
    st.lists(_values, max_size=3),
    st.lists(_names, max_size=3),
    st.dictionaries(
        st.sampled_from(["custom1", "custom5", "custom6", "iot.acme", ""]), _values, max_size=3
    ),
)
_entries = st.one_of(
    _iccids,
    st.dictionaries(
        st.sampled_from(
            ["iccid", "state", "ratePlan", "supplementaryPlans", "apns", "customFields", "extra"]
        ),
        _entry_values,
        max_size=6,
    ).flatmap(lambda d: st.one_of(st.just(d), _iccids.map(lambda i: {**d, "iccid": i}))),
)


@settings(max_examples=400, deadline=None)
@given(_entries)
def test_the_fast_path_accepts_only_what_the_schema_accepts(entry: object) -> None:
    if plainly_valid_entry(entry):
        assert JsonSchemaValidator().violations(entry, "simEntry") == []


def test_the_fast_path_covers_the_common_shapes() -> None:
    iccid = with_check_digit("894450000000000001")
    assert plainly_valid_entry(iccid)
    assert plainly_valid_entry(
        {
            "iccid": iccid,
            "state": "suspended",
            "ratePlan": "IoT-1GB",
            "supplementaryPlans": ["EU-Roaming-500MB"],
            "apns": {"iot.acme": "enabled"},
            "customFields": {"custom1": "berlin", "custom2": None},
        }
    )


def test_a_document_missing_several_required_fields_says_so_once() -> None:
    violations = JsonSchemaValidator().violations({"x": 1})
    messages = [v.message for v in violations]
    assert messages.count("missing required field 'apiVersion', 'kind', 'metadata', 'spec'") == 1
    assert len(messages) == len(set(messages))

"""A managed field kind added by its table entry is read from the manifests (`reconciler.fields`,
docs/architecture.md "Adding a managed SIM field"): with the loader's precedence, its places,
and never dropped by the fast path, which knows only the five built-in kinds."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from reconciler import fields
from reconciler.fields import FIELD_KINDS, FieldTable
from reconciler.manifest.loader import load_manifests
from reconciler.manifest.schema import JsonSchemaValidator, schema_document
from tests.fakes import giccid
from tests.unit.test_fields import DATA_CAP, TAGS


@pytest.fixture
def six_kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    """The table with the two kinds of test_fields more."""
    monkeypatch.setattr(fields, "TABLE", FieldTable((*FIELD_KINDS, DATA_CAP, TAGS)))


def _schema_with_the_two_kinds() -> dict[str, Any]:
    """The manifest schema with the two kinds in it, as their schema entry would put them."""
    schema = copy.deepcopy(schema_document())
    defs = schema["$defs"]
    defs["dataCap"] = {"type": "string", "minLength": 1}
    defs["tags"] = {"type": "object", "additionalProperties": {"type": "string", "minLength": 1}}
    for where in ("simSettings", "simGroupSpec", "simObject"):
        defs[where]["properties"]["dataCap"] = {"$ref": "#/$defs/dataCap"}
        defs[where]["properties"]["tags"] = {"$ref": "#/$defs/tags"}
    return schema


@pytest.mark.parametrize("form", ["bare ICCIDs", "one mapping per SIM"])
def test_a_kind_added_later_is_read_from_the_manifests_with_its_precedence(
    six_kinds: None, tmp_path: Path, form: str
) -> None:
    ids = [giccid(i) for i in range(3)]
    (tmp_path / "fleet.yaml").write_text(
        "apiVersion: fleetform/v1\nkind: Fleet\nmetadata:\n  name: f\nspec:\n"
        "  account: acme\n  defaults:\n    dataCap: 1GB\n    tags: {site: bonn, team: a}\n",
        encoding="utf-8",
    )
    sims = (
        [f'    - "{i}"' for i in ids[:2]]
        if form == "bare ICCIDs"
        else [f'    - {{iccid: "{i}"}}' for i in ids[:2]]
    )
    (tmp_path / "g.yaml").write_text(
        "\n".join(
            [
                "apiVersion: fleetform/v1",
                "kind: SimGroup",
                "metadata:",
                "  name: g",
                "spec:",
                "  state: active",
                "  dataCap: 5GB",
                "  sims:",
                *sims,
                f'    - {{iccid: "{ids[2]}", dataCap: 2GB, tags: {{site: berlin}}}}',
                "",
            ]
        ),
        encoding="utf-8",
    )
    fleet = load_manifests([tmp_path], JsonSchemaValidator(_schema_with_the_two_kinds())).fleet
    got = {i: (dict(s.extra), dict(s.field_sources)) for i, s in fleet.sims.items()}
    group_cap = {"dataCap": {"": "5GB"}, "tags": {"site": "bonn", "team": "a"}}
    assert [got[i][0] for i in ids] == [
        group_cap,
        group_cap,
        {"dataCap": {"": "2GB"}, "tags": {"site": "berlin", "team": "a"}},
    ]
    sources = got[ids[2]][1]
    assert (sources["dataCap"].file, sources["dataCap"].line) == (str(tmp_path / "g.yaml"), 11)
    assert (sources["tags[team]"].file, sources["tags[team]"].line) == (
        str(tmp_path / "fleet.yaml"),
        9,
    )
    assert got[ids[0]][1]["dataCap"].line == 7


def test_a_kind_added_later_only_at_the_group_level_is_not_lost(
    six_kinds: None, tmp_path: Path
) -> None:
    """The fast manifest path reads the five kinds it knows; a group that declares another
    sends the set the marked way rather than dropping it."""
    (tmp_path / "fleet.yaml").write_text(
        "apiVersion: fleetform/v1\nkind: Fleet\nmetadata:\n  name: f\nspec:\n  account: acme\n",
        encoding="utf-8",
    )
    (tmp_path / "g.yaml").write_text(
        "apiVersion: fleetform/v1\nkind: SimGroup\nmetadata:\n  name: g\nspec:\n"
        f'  dataCap: 5GB\n  sims:\n    - "{giccid(0)}"\n',
        encoding="utf-8",
    )
    fleet = load_manifests([tmp_path], JsonSchemaValidator(_schema_with_the_two_kinds())).fleet
    assert dict(fleet.sims[giccid(0)].extra) == {"dataCap": {"": "5GB"}}

"""The table of managed field kinds (`reconciler.fields`) is the one home of a field kind.

Two proofs of the claim in docs/architecture.md ("Adding a managed SIM field"):

- a sixth kind, defined here by one table entry and nothing else of fleetform proper, is
  diffed, planned, sealed and read back from a plan file, rendered, applied (through the
  in-memory API), reported as drift and exported;
- no consumer names a kind: outside the table, the wire format, the manifest schema code and
  the simulator, the product code holds none of the kinds' manifest names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from reconciler import fields, model
from reconciler.applier import Applier
from reconciler.clock import FakeClock
from reconciler.diff import diff_fleet
from reconciler.drift import build_drift
from reconciler.export import ExportSettings, export_fleet
from reconciler.fields import FIELD_KINDS, Cost, FieldTable, Syntax
from reconciler.journal import JournalStore
from reconciler.live.cache import decode_sim, encode_rest
from reconciler.model import (
    DesiredFleet,
    DesiredSim,
    DesiredState,
    FleetSpec,
    LiveSim,
    Operation,
    SourceRef,
    Status,
)
from reconciler.planfile import load_plan, seal, write_plan
from reconciler.planner import make_plan
from reconciler.render.plan_text import render_plan_text
from reconciler.reporting import RecordingReporter
from reconciler.smarthub import wire, wire_fields
from reconciler.smarthub.wire_fields import FieldWire
from tests.fakes import FakeSmartHub, giccid

ROOT = Path(__file__).resolve().parents[2]

# --- the table itself ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "name", "key"),
    [
        ("state", "state", None),
        ("ratePlan", "ratePlan", None),
        ("supplementaryPlans[EU-Roaming-500MB]", "supplementaryPlans", "EU-Roaming-500MB"),
        ("apns[iot.acme]", "apns", "iot.acme"),
        ("apns[a[b]]", "apns", "a[b]"),
        ("customFields.custom1", "customFields", "custom1"),
    ],
)
def test_a_field_path_splits_into_its_kind_and_key_and_back(
    path: str, name: str, key: str | None
) -> None:
    kind, found = fields.split(path)
    assert (kind.name, found) == (name, key)
    assert kind.path(found) == path


@pytest.mark.parametrize("path", ["", "apns", "apns[]", "customFields.", "rate_plan", "x.y"])
def test_anything_else_is_not_a_field_path(path: str) -> None:
    with pytest.raises(ValueError, match="not a field path"):
        fields.split(path)


def test_every_kind_an_operation_sets_has_its_write_on_the_wire() -> None:
    written = {k.name for k in FIELD_KINDS if k.operation is not None}
    assert written == {name for name, w in wire.FIELD_WIRES.items() if w.write is not None}
    assert {fields.of_operation(k.operation) for k in FIELD_KINDS if k.operation} == {
        k for k in FIELD_KINDS if k.operation
    }


def test_the_wire_writes_of_the_five_kinds_are_the_contracts_requests() -> None:
    iccid = "89000000000000000001"
    assert wire.field_writes("ratePlan", iccid, {None: "IoT-5GB"}) == [
        wire.WireRequest(
            "PUT", f"/global-sims/{iccid}/servicePackage", {"servicePackageName": "IoT-5GB"}
        )
    ]
    apns = wire.field_writes("apns", iccid, {"b.acme": "disabled", "a.acme": "enabled"})
    assert [(r.method, r.body) for r in apns] == [
        ("PUT", {"apn": "b.acme", "status": "DISABLED"}),
        ("PUT", {"apn": "a.acme", "status": "ENABLED"}),
    ]
    custom = wire.field_writes("customFields", iccid, {"custom2": None, "custom1": "x"})
    assert [(r.method, r.body) for r in custom] == [("PUT", {"custom1": "x", "custom2": None})]
    with pytest.raises(ValueError, match="no write is known"):
        wire.field_writes("state", iccid, {None: "active"})


# --- a sixth kind, from its table entry alone ---------------------------------------------------

DATA_CAP = fields.extra_kind(
    "dataCap",
    syntax=Syntax.PLAIN,
    label="data cap",
    operation=Operation.added("set_data_cap"),
    title="set data cap",
    cost=Cost.PER_SIM,
)
TAGS = fields.extra_kind(
    "tags",
    syntax=Syntax.BRACKETED,
    label="tag",
    operation=Operation.added("set_tags"),
    title="set tags",
    cost=Cost.PER_KEY,
)


@pytest.fixture
def six_kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    """The table with two kinds more, as adding their entries to FIELD_KINDS would make it."""
    monkeypatch.setattr(fields, "TABLE", FieldTable((*FIELD_KINDS, DATA_CAP, TAGS)))


def _fleet(sims: dict[str, DesiredSim]) -> DesiredFleet:
    return DesiredFleet(FleetSpec("f", "acme", SourceRef("fleet.yaml", 1)), sims, "digest")


def test_a_kind_added_by_its_table_entry_alone_goes_through_plan_apply_drift_and_export(
    six_kinds: None, tmp_path: Path
) -> None:
    api = FakeSmartHub.seeded(3)
    ids = [giccid(i) for i in range(3)]
    for n, iccid in enumerate(ids):
        api.sims[iccid] = LiveSim(
            iccid=iccid,
            status=Status.ACTIVE,
            account=api.sims[iccid].account,
            rate_plan=api.sims[iccid].rate_plan,
            extra={"dataCap": {"": "1GB"}, "tags": {"site": "berlin" if n else "bonn"}},
        )
    account = api.sims[ids[0]].account
    source = SourceRef("g.yaml", 3)
    desired = DesiredFleet(
        FleetSpec("f", account, SourceRef("fleet.yaml", 1)),
        {
            iccid: DesiredSim(
                iccid=iccid,
                group="g",
                source=source,
                state=DesiredState.ACTIVE,
                extra={"dataCap": {"": "5GB"}, "tags": {"site": "berlin"}},
                field_sources={"dataCap": SourceRef("g.yaml", 5), "tags[site]": source},
            )
            for iccid in ids
        },
        "digest",
    )

    diff = diff_fleet(desired, api.iter_sims(account=account))
    assert [[(c.field, c.before, c.after) for c in d.changes] for d in diff.changed] == [
        [("dataCap", "1GB", "5GB"), ("tags[site]", "bonn", "berlin")],
        [("dataCap", "1GB", "5GB")],
        [("dataCap", "1GB", "5GB")],
    ]

    plan = seal(
        make_plan(
            desired,
            diff,
            [],
            endpoint=api.endpoint,
            account=account,
            requests_read=1,
            rate_budget=None,
            created_at="2026-01-01T00:00:00Z",
        )
    )
    assert not plan.problems
    assert [(s.operation.value, len(s.sims), s.requests) for s in plan.steps] == [
        ("set_data_cap", 3, 3),
        ("set_tags", 1, 1),
    ]
    write_plan(plan, tmp_path / "plan.json")
    again = load_plan(tmp_path / "plan.json")
    assert again == plan and again.steps[0].operation is Operation("set_data_cap")

    text = render_plan_text(plan)
    assert "set data cap" in text and "dataCap: 1GB → 5GB" in text

    journal = JournalStore(tmp_path / "state").create(plan.checksum, plan.endpoint, account, "{}")
    report = Applier(api, journal, RecordingReporter(), FakeClock()).run(plan)
    assert report.complete, report
    assert api.calls_named("write_field:dataCap") == ids
    assert api.calls_named("write_field:tags") == [ids[0]]
    assert [dict(api.sims[i].extra) for i in ids] == [
        {"dataCap": {"": "5GB"}, "tags": {"site": "berlin"}}
    ] * 3
    assert not diff_fleet(desired, api.iter_sims(account=account)).changed

    api.sims[ids[1]] = LiveSim(
        iccid=ids[1],
        status=Status.ACTIVE,
        account=account,
        extra={"dataCap": {"": "2GB"}, "tags": {"site": "berlin"}},
    )
    drift = build_drift(
        desired,
        diff_fleet(desired, api.iter_sims(account=account)),
        endpoint=api.endpoint,
        checked_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert [
        (s.iccid, [(f.field, f.live, f.desired, f.source) for f in s.fields]) for s in drift.sims
    ] == [(ids[1], [("dataCap", "2GB", "5GB", SourceRef("g.yaml", 5))])]

    files = export_fleet(api.iter_sims(account=account), ExportSettings(account, "f"))
    group = next(f.text for f in files if f.name != "fleet.yaml")
    assert '  dataCap: "5GB"\n' in group
    assert f'{{iccid: "{ids[1]}", dataCap: "2GB"}}' in group
    assert "  tags:\n    site: berlin\n" in group


def test_a_kind_added_later_is_read_from_the_sim_record_by_its_wire_entry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def cap(record: Mapping[str, Any]) -> dict[str, str | None]:
        value = record["dataCapMb"]
        if value is not None and not isinstance(value, int):
            raise ValueError(f"expected a number of MB, got {value!r}")
        return {"": None if value is None else f"{value}MB"}

    extended = {
        **wire_fields.FIELD_WIRES,
        "dataCap": FieldWire(record_keys=("dataCapMb",), read=cap),
    }
    first, second = giccid(0), giccid(1)
    page = [
        {"giccid": first, "status": "ACTIVATED", "dataCapMb": 500},
        {"giccid": second, "status": "ACTIVATED"},
    ]
    body = json.dumps(page).encode()
    assert [s.extra for s in wire.parse_sim_page(wire.decode_sim_page(body))] == [{}, {}]

    monkeypatch.setattr(wire_fields, "FIELD_WIRES", extended)
    want = [{"dataCap": {"": "500MB"}}, {"dataCap": {"": None}}]
    assert [s.extra for s in wire.parse_sim_page(wire.decode_sim_page(body))] == want
    assert [s.extra for s in wire.parse_sim_page(page)] == want  # the liberal reader
    page[0]["dataCapMb"] = "lots"
    with pytest.raises(wire.MalformedResponse, match=r"dataCap.*expected a number of MB"):
        wire.parse_sim_page(wire.decode_sim_page(json.dumps(page).encode()))


def test_the_models_path_builders_write_the_tables_syntax() -> None:
    assert fields.RATE_PLAN_KIND.path() == model.RATE_PLAN
    assert fields.STATE_KIND.path() == model.STATE
    assert model.supplementary_field("EU") == fields.SUPPLEMENTARY_PLANS_KIND.path("EU")
    assert model.apn_field("iot.acme") == fields.APNS_KIND.path("iot.acme")
    assert model.custom_field("custom1") == fields.CUSTOM_FIELDS_KIND.path("custom1")
    assert fields.CUSTOM_FIELDS_KIND.keys == model.CUSTOM_FIELD_NAMES
    for path in ("state", "ratePlan", "supplementaryPlans[EU]", "apns[a[b]]", "customFields.c"):
        kind, key = fields.split(path)
        assert model.parse_field(path) == (kind.name, key)


def test_the_live_state_cache_keeps_a_kind_added_later() -> None:
    sim = LiveSim(
        iccid=giccid(0),
        status=Status.ACTIVE,
        account="acme",
        rate_plan="IoT-1GB",
        extra={"dataCap": {"": "5GB"}, "tags": {"site": "berlin"}},
    )
    row = (sim.iccid, 1, sim.rate_plan, encode_rest(sim), None)
    assert decode_sim(row, "acme").extra == sim.extra
    plain = LiveSim(iccid=giccid(1), status=Status.ACTIVE, account="acme")
    assert (
        encode_rest(plain) is None
        and decode_sim((plain.iccid, 1, None, None, None), "acme").extra == {}
    )


# --- nobody else names a kind ----------------------------------------------------------------

# Where a kind's manifest name may be written: its table, the wire format (which maps it to
# paths and bodies, and keeps thin named writes for scripts), the manifest schema code, and
# the simulator (which shares no code with fleetform proper).
ALLOWED = (
    "reconciler/fields.py",
    "reconciler/smarthub/",
    "reconciler/manifest/schema.py",
    "reconciler/simulator/",
    # the model's path builders, for the layers below the table (checked against it below)
    "reconciler/model/paths.py",
    # the fast manifest path (fast.py, fast_places.py) for the five built-in kinds: it hands
    # a set that declares any other kind to the marked loader, which reads every kind of the
    # table (test_fields_manifest.py)
    "reconciler/manifest/fast",
)
NAMES = re.compile(r"""["'](ratePlan|supplementaryPlans|apns|customFields)["'\[.]""")


def test_no_consumer_of_the_table_names_a_field_kind() -> None:
    named = []
    for path in sorted((ROOT / "reconciler").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(ALLOWED):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            code = line.split("#", 1)[0]
            if NAMES.search(code):
                named.append(f"{relative}:{number}: {line.strip()}")
    assert named == []

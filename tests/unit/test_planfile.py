"""The plan file: fleetform.plan/v1, stable, round-trips, checksummed, refuses anything else."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from reconciler.diff import diff_fleet
from reconciler.errors import PlanFileError
from reconciler.model import (
    ApnStatus,
    DesiredFleet,
    DesiredSim,
    DesiredState,
    FleetSpec,
    LiveSim,
    Plan,
    RateBudget,
    RatePlan,
    RatePlanType,
    SourceRef,
    Status,
)
from reconciler.planfile import (
    PLAN_FORMAT,
    load_plan,
    plan_checksum,
    plan_from_dict,
    plan_from_json,
    plan_to_json,
    seal,
    write_plan,
)
from reconciler.planner.make import make_plan

SECRET = "sk-live-7f3a9c"


def sample_plan(created_at: str = "2026-11-25T13:00:00Z") -> Plan:
    src = SourceRef("fleet/sims.yaml", 3)
    spec = FleetSpec("acme-trackers", "acme", SourceRef("fleet/fleet.yaml", 1))
    sims = [
        DesiredSim("1", "berlin", src, state=DesiredState.RETIRED),
        DesiredSim("2", "berlin", src, apns={"iot.acme": ApnStatus.DISABLED}),
        DesiredSim("3", "hamburg", src, rate_plan="IoT-9GB", custom_fields={"custom1": None}),
        DesiredSim("4", "hamburg", src),
    ]
    fleet = DesiredFleet(spec, {s.iccid: s for s in sims}, digest="sha256:abc")
    live = [
        LiveSim("1", Status.ACTIVE, "acme", rate_plan="IoT-1GB"),
        LiveSim("2", Status.ACTIVE, "acme", apns={"iot.acme": ApnStatus.ENABLED}),
        LiveSim("3", Status.SUSPENDED, "acme", custom_fields={"custom1": "old"}),
        LiveSim("5", Status.ACTIVE, "acme"),
    ]
    catalogue = [RatePlan("IoT-1GB", RatePlanType.BASIC)]
    plan = make_plan(
        fleet,
        diff_fleet(fleet, live),
        catalogue,
        endpoint="http://127.0.0.1:8080/v1",
        account="acme",
        requests_read=2,
        rate_budget=RateBudget(5000, 4990, 1200.0, 0.0),
        created_at=created_at,
    )
    return seal(plan)


def test_round_trip_gives_back_the_same_plan() -> None:
    plan = sample_plan()
    text = plan_to_json(plan)
    assert text.endswith("}\n")
    back = plan_from_json(text)
    assert back == plan
    assert plan_to_json(back) == text


def test_the_file_carries_what_the_design_says_in_a_stable_order() -> None:
    data = json.loads(plan_to_json(sample_plan()))
    assert list(data)[:4] == ["format", "created_at", "checksum", "endpoint"]
    assert data["format"] == PLAN_FORMAT
    assert data["account"] == "acme" and data["manifest_digest"] == "sha256:abc"
    assert data["summary"]["requests_estimated"] > 0
    step = data["steps"][0]
    assert set(step["sims"][0]) == {"iccid", "group", "before", "after"}
    assert data["missing"] == ["4"] and data["unmanaged"] == ["5"]
    assert data["problems"][0]["source"] == {"file": "fleet/sims.yaml", "line": 3, "column": 1}


def test_two_plans_of_the_same_state_differ_only_in_their_creation_time() -> None:
    first = plan_to_json(sample_plan("2026-11-25T13:00:00Z")).splitlines()
    second = plan_to_json(sample_plan("2026-11-25T14:30:00Z")).splitlines()
    differing = [(a, b) for a, b in zip(first, second, strict=True) if a != b]
    assert differing == [
        ('  "created_at": "2026-11-25T13:00:00Z",', '  "created_at": "2026-11-25T14:30:00Z",')
    ]
    assert plan_checksum(sample_plan("a")) == plan_checksum(sample_plan("b"))


def test_no_secret_in_the_plan_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMARTHUB_API_KEY", SECRET)
    assert SECRET not in plan_to_json(sample_plan())


def test_an_edited_plan_is_refused() -> None:
    data = json.loads(plan_to_json(sample_plan()))
    data["steps"][0]["sims"][0]["after"]["state"] = "active"
    with pytest.raises(PlanFileError, match="checksum does not match"):
        plan_from_json(json.dumps(data))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(format="fleetform.plan/v2"), "format: expected 'fleetform.plan/v1'"),
        (lambda d: d.pop("steps"), "missing 'steps'"),
        (lambda d: d["steps"][0].update(operation="explode"), "unknown operation 'explode'"),
        (lambda d: d["steps"][0].update(wave="1"), r"steps\[0\]\.wave: expected int"),
        (lambda d: d["summary"].update(sims_read=True), "summary.sims_read: expected int"),
        (lambda d: d["steps"][0]["sims"][0]["after"].update(state=3), "expected text or null"),
    ],
)
def test_malformed_plans_are_refused_with_the_place(mutate, message) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(plan_to_json(sample_plan()))
    mutate(data)
    with pytest.raises(PlanFileError, match=message):
        plan_from_json(json.dumps(data))


def test_not_json_and_not_an_object() -> None:
    with pytest.raises(PlanFileError, match="not JSON"):
        plan_from_json("{", origin="plan.json")
    with pytest.raises(PlanFileError, match="expected an object"):
        plan_from_json("[]")


def test_write_and_load(tmp_path: Path) -> None:
    plan = sample_plan()
    path = tmp_path / "plan.json"
    write_plan(plan, path)
    assert load_plan(path) == plan
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]
    with pytest.raises(PlanFileError, match="cannot read"):
        load_plan(tmp_path / "nope.json")


def test_the_checksum_covers_the_content() -> None:
    plan = sample_plan()
    assert plan.checksum.startswith("sha256:")
    assert plan_checksum(replace(plan, account="globex")) != plan.checksum


def test_where_the_window_came_from_is_in_the_file_but_not_in_the_checksum() -> None:
    plan = sample_plan()
    assert plan.summary.rate_window_source == "assumed"
    assert '"rate_window_source": "assumed"' in plan_to_json(plan)
    learnt = seal(replace(plan, summary=replace(plan.summary, rate_window_source="server")))
    assert learnt.checksum == plan.checksum
    assert plan_from_json(plan_to_json(learnt)).summary.rate_window_source == "server"


def test_a_plan_file_without_the_window_source_still_loads() -> None:
    data = json.loads(plan_to_json(sample_plan()))
    del data["summary"]["rate_window_source"]
    assert plan_from_dict(data).summary.rate_window_source is None


def test_the_sealed_plan_is_turned_into_text_once_and_the_text_is_the_indented_json() -> None:
    plan = sample_plan()
    text = plan_to_json(plan)
    assert plan_to_json(plan) is text  # rendering and --out share one serialisation
    from reconciler.planfile import plan_to_dict

    assert text == json.dumps(plan_to_dict(plan), indent=2, ensure_ascii=False) + "\n"
    # another plan value (even an equal one) is serialised afresh, never mixed up
    other = replace(plan, created_at="2026-11-26T00:00:00Z")
    assert '"created_at": "2026-11-26T00:00:00Z"' in plan_to_json(other)
    assert plan_to_json(plan) == text

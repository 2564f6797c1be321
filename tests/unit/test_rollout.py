"""Rollout: manifest rules (each at its line), the canary split in the plan, the plan file,
the gate command and the push receiver's records as events."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from reconciler.diff import diff_fleet
from reconciler.errors import ManifestError, ManifestProblem
from reconciler.manifest import load_fleet
from reconciler.manifest.iccid import with_check_digit
from reconciler.manifest.rollout import parse_duration
from reconciler.model import (
    RATE_PLAN,
    DesiredFleet,
    DesiredSim,
    DesiredState,
    FleetSpec,
    LiveSim,
    Operation,
    Plan,
    RatePlan,
    RatePlanType,
    RolloutPolicy,
    SourceRef,
    Status,
)
from reconciler.planfile import plan_from_json, plan_to_json, seal
from reconciler.planner.make import make_plan
from reconciler.render import render_plan
from reconciler.rollout import CommandGate
from reconciler.webhook.events import DriftLog


def iccid(n: int) -> str:
    return with_check_digit(f"894450{n:012d}")


# --- manifests -----------------------------------------------------------------------------

FLEET = """\
apiVersion: fleetform/v1
kind: Fleet
metadata: {{name: acme}}
spec:
  account: acme
  rollout: {rollout}
---
apiVersion: fleetform/v1
kind: SimGroup
metadata: {{name: depot}}
spec:
  ratePlan: IoT-1GB
{group}  sims: ["{sim}"]
"""


def load(tmp_path: Path, rollout: str, group: str = "") -> DesiredFleet:
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET.format(rollout=rollout, group=group, sim=iccid(1)), encoding="utf-8")
    return load_fleet([path])


def problems(tmp_path: Path, rollout: str, group: str = "") -> list[ManifestProblem]:
    with pytest.raises(ManifestError) as caught:
        load(tmp_path, rollout, group)
    return list(caught.value.problems)


def test_a_fleet_rollout_reaches_every_sim_and_a_group_overrides_it(tmp_path: Path) -> None:
    fleet = load(tmp_path, '{steps: ["1%", "10%", "100%"], soak: 10m, maxFailed: 0}')
    policy = fleet.fleet.rollout
    assert policy == RolloutPolicy(("1%", "10%", "100%"), 600.0, 0.0)
    assert fleet.sims[iccid(1)].rollout == policy
    assert policy.source is not None and policy.source.line == 6

    group = '  rollout: {steps: [5, "50%", "100%"], soak: 1h30m, maxFailed: "5%"}\n'
    fleet = load(tmp_path, '{steps: ["100%"]}', group)
    assert fleet.sims[iccid(1)].rollout == RolloutPolicy(("5", "50%", "100%"), 5400.0, 0.05)


@pytest.mark.parametrize(
    ("rollout", "line", "message"),
    [
        (
            '{steps: ["10%", "5%", "100%"]}',
            6,
            "spec.rollout.steps[1]: step '5%' is not more than the step before it (10%)",
        ),
        (
            '{steps: ["1%", "50%"]}',
            6,
            "spec.rollout.steps[1]: the last step is '50%', but it must be \"100%\"",
        ),
        ('{steps: ["150%"]}', 6, "spec.rollout.steps[0]: step '150%' must be more than 0%"),
        ('{steps: ["10%", 5, "100%"]}', 6, "spec.rollout.steps[1]: step 5 (a count) comes after"),
        ('{steps: [10, 5, "100%"]}', 6, "spec.rollout.steps[1]: step 5 is not more than"),
        ("{steps: [10, 20]}", 6, 'the last step is 20, but it must be "100%"'),
        ('{steps: ["100%"], soak: 10 minutes}', 6, "spec.rollout.soak:"),
        ('{steps: ["100%"], maxFailed: 2}', 6, "spec.rollout.maxFailed:"),
        ('{steps: ["100%"], maxFailed: "120%"}', 6, "spec.rollout.maxFailed: '120%' is more"),
        ("{steps: []}", 6, "spec.rollout.steps:"),
        ("{soak: 10m}", 6, "spec.rollout:"),
        ('{steps: ["100%"], gate: "rm -rf /"}', 6, "spec.rollout:"),
    ],
)
def test_bad_rollouts_are_reported_at_their_line(
    tmp_path: Path, rollout: str, line: int, message: str
) -> None:
    found = problems(tmp_path, rollout)
    assert len(found) == 1, [str(p) for p in found]
    assert found[0].line == line and message in found[0].message, str(found[0])


def test_a_bad_group_rollout_is_reported_at_the_group(tmp_path: Path) -> None:
    found = problems(tmp_path, '{steps: ["100%"]}', '  rollout: {steps: ["1%", "1%"]}\n')
    assert len(found) == 1
    assert found[0].line == 13
    assert "spec.rollout.steps[1]: step '1%' is not more than" in found[0].message


def test_durations() -> None:
    assert parse_duration("30s") == 30
    assert parse_duration("10m") == 600
    assert parse_duration("1h30m") == 5400
    assert parse_duration("1.5s") == 1.5
    assert parse_duration("10 m") is None
    assert parse_duration("") is None


def test_targets_are_cumulative_and_end_at_the_total() -> None:
    policy = RolloutPolicy(("1%", "10%", "100%"))
    assert policy.targets(1340) == (14, 134, 1340)
    assert policy.targets(5) == (1, 1, 5)  # the second step adds none
    assert policy.targets(0) == (0, 0, 0)
    assert RolloutPolicy(("5", "50%", "100%")).targets(4) == (4, 4, 4)


# --- the plan ------------------------------------------------------------------------------

CATALOGUE = [
    RatePlan("IoT-1GB", RatePlanType.BASIC),
    RatePlan("IoT-5GB", RatePlanType.BASIC),
    RatePlan("IoT-10GB", RatePlanType.BASIC),
]
SRC = SourceRef("fleet.yaml", 3)
ROLLOUT = RolloutPolicy(("1%", "10%", "100%"), 60.0, 0.0)


def plan_for(
    count: int,
    *,
    rollout: RolloutPolicy | None = ROLLOUT,
    group_rollout: dict[str, RolloutPolicy | None] | None = None,
    state: DesiredState | None = None,
    live_status: Status = Status.ACTIVE,
) -> Plan:
    groups = ("north", "south", "east", "west")
    sims = {}
    lives = []
    for i in range(count):
        group = groups[i % len(groups)]
        policy = (group_rollout or {}).get(group, rollout)
        sims[iccid(i)] = DesiredSim(
            iccid(i), group, SRC, state=state, rate_plan="IoT-10GB", rollout=policy
        )
        old = ("IoT-1GB", "IoT-5GB")[(i // 4) % 2]
        lives.append(LiveSim(iccid(i), live_status, "acme", rate_plan=old))
    fleet = DesiredFleet(
        FleetSpec("acme", "acme", SRC, allow_retire=True, rollout=rollout), sims, digest="d"
    )
    return seal(
        make_plan(
            fleet,
            diff_fleet(fleet, lives),
            CATALOGUE,
            endpoint="http://sim/v1",
            account="acme",
            requests_read=20,
            rate_budget=None,
            created_at="2026-12-04T00:00:00Z",
        )
    )


def stage_sims(plan: Plan, number: int, wave: int = 1) -> set[str]:
    return {
        s.iccid
        for step in plan.steps
        if step.wave == wave and step.rollout == number
        for s in step.sims
    }


def test_the_plan_splits_the_wave_into_rollout_steps_that_still_use_batch_jobs() -> None:
    plan = plan_for(1340)
    assert [(r.id, r.share, r.sims) for r in plan.rollout] == [
        ("w1-r1", "1%", 14),
        ("w1-r2", "10%", 120),
        ("w1-r3", "100%", 1206),
    ]
    assert [len(stage_sims(plan, n)) for n in (1, 2, 3)] == [14, 120, 1206]
    later = [s for s in plan.steps if s.rollout > 1]
    assert all(s.batch for s in later)
    assert [r.checked for r in plan.rollout] == [True, True, False]
    assert [r.soak_seconds for r in plan.rollout] == [60.0, 60.0, 0.0]
    # the estimate counts each step's own re-reads and the soaks
    assert plan.summary.requests_estimated == sum(r.requests for r in plan.rollout)
    assert plan.summary.duration_estimated_seconds >= 120
    for stage in plan.rollout:
        assert stage.step_ids == tuple(
            s.id for s in plan.steps if s.wave == stage.wave and s.rollout == stage.number
        )


def test_canaries_are_deterministic_and_spread_across_groups_and_plans() -> None:
    first, again = plan_for(400), plan_for(400)
    assert stage_sims(first, 1) == stage_sims(again, 1)
    canaries = stage_sims(first, 1)
    assert len(canaries) == 4
    sims = {s.iccid: s for step in first.steps for s in step.sims}
    assert {sims[i].group for i in canaries} == {"north", "south", "east", "west"}
    tens = stage_sims(first, 2) | canaries
    plans = [sims[i].before[RATE_PLAN] for i in tens]
    assert abs(plans.count("IoT-1GB") - plans.count("IoT-5GB")) <= 4
    # a bigger fleet keeps most of the same canaries (the hash order does not move)
    assert len(stage_sims(plan_for(404), 1) & canaries) >= 2


def test_a_plan_without_rollout_is_as_before() -> None:
    plan = plan_for(40, rollout=None)
    assert plan.rollout == ()
    assert all(s.rollout == 0 for s in plan.steps)
    text = plan_to_json(plan)
    assert '"rollout"' not in text


def test_retirements_run_only_in_the_last_step_of_their_wave() -> None:
    """Half the SIMs are suspended and go to retired, half are active and go to suspended:
    wave 2 suspends the ones in canary steps and retires only in its last step."""
    sims = {}
    lives = []
    for i in range(400):
        retire = i % 2 == 0
        state = DesiredState.RETIRED if retire else DesiredState.SUSPENDED
        sims[iccid(i)] = DesiredSim(iccid(i), "g", SRC, state=state, rollout=ROLLOUT)
        live_status = Status.SUSPENDED if retire else Status.ACTIVE
        lives.append(LiveSim(iccid(i), live_status, "acme", rate_plan="IoT-1GB"))
    fleet = DesiredFleet(FleetSpec("acme", "acme", SRC, allow_retire=True), sims, digest="d")
    plan = make_plan(
        fleet,
        diff_fleet(fleet, lives),
        CATALOGUE,
        endpoint="http://sim/v1",
        account="acme",
        requests_read=20,
        rate_budget=None,
        created_at="now",
    )
    last = max(r.number for r in plan.rollout if r.wave == 1)
    assert last == 3
    retire = [s for s in plan.steps if s.operation is Operation.RETIRE]
    suspend = [s for s in plan.steps if s.operation is Operation.SUSPEND]
    assert sum(len(s.sims) for s in retire) == 200
    assert {s.rollout for s in retire} == {last}
    assert {s.rollout for s in suspend} == {1, 2, 3}
    assert [r.sims for r in plan.rollout] == [2, 18, 380]  # 1% and 10% of the 200 suspends


def test_groups_without_a_rollout_go_first_and_group_rollouts_differ() -> None:
    fast = RolloutPolicy(("50%", "100%"), 5.0, 0.5)
    plan = plan_for(400, rollout=ROLLOUT, group_rollout={"north": None, "south": fast})
    sims = {s.iccid: s for step in plan.steps for s in step.sims}
    first = plan.rollout[0]
    groups = [sims[i].group for i in stage_sims(plan, 1)]
    assert groups.count("north") == 100  # no rollout: all at once, in the first step
    assert groups.count("south") == 50
    assert set(first.share.split("/")) == {"all", "50%", "1%"}
    assert first.soak_seconds == 60.0 and first.max_failed == 0.0  # the strictest
    assert set(plan.rollout[1].share.split("/")) == {"100%", "10%"}


def test_the_plan_file_carries_the_rollout_and_its_checksum_covers_it() -> None:
    plan = plan_for(300)
    text = plan_to_json(plan)
    again = plan_from_json(text)
    assert again == plan
    data = json.loads(text)
    data["rollout"][0]["soak_seconds"] = 0
    with pytest.raises(Exception, match="checksum"):
        plan_from_json(json.dumps(data))


def test_renderers_show_the_steps_their_sims_requests_and_time() -> None:
    plan = plan_for(1340)
    text = render_plan(plan, "text")
    assert "Rollout step 1 of 3 (1%): 14 SIMs" in text
    assert "then soak 1m, re-check (maxFailed 0%) and --gate" in text
    assert "soaks of 2m included" in text
    markdown = render_plan(plan, "markdown")
    assert "| 1 | 1 of 3 (1%) | 14 |" in markdown
    assert "soak 1m, re-check, `--gate`" in markdown
    data = json.loads(render_plan(plan, "json"))
    assert [r["sims"] for r in data["rollout"]] == [14, 120, 1206]


# --- the gate and the events ---------------------------------------------------------------


def test_the_gate_reads_stdin_and_its_exit_decides(tmp_path: Path) -> None:
    out = tmp_path / "in.json"
    assert CommandGate(f"cat > {out}")('{"step": 1}\n').passed
    assert out.read_text() == '{"step": 1}\n'
    verdict = CommandGate("echo looks bad; exit 4")("{}")
    assert not verdict.passed and verdict.why == "exit 4" and verdict.output == "looks bad"
    started = time.monotonic()
    verdict = CommandGate(f"{sys.executable} -c 'import time; time.sleep(30)'", timeout=0.3)("{}")
    assert not verdict.passed and verdict.why == "timed out after 0.3s"
    assert time.monotonic() - started < 10
    with pytest.raises(ValueError):
        CommandGate("true", timeout=0)


def test_the_drift_log_gives_the_events_of_the_sims_since_a_time(tmp_path: Path) -> None:
    log = DriftLog(tmp_path)
    assert log.events(frozenset({iccid(1)}), 0) == []
    lines = [
        {
            "iccid": iccid(1),
            "kind": "drift",
            "detectedAt": "2026-12-04T10:00:00.000000Z",
            "status": "suspended",
            "fields": [{"field": "state"}],
        },
        {
            "iccid": iccid(1),
            "kind": "drift",
            "detectedAt": "2026-12-04T09:00:00.000000Z",
            "fields": [{"field": "ratePlan"}],
        },
        {"iccid": iccid(2), "kind": "missing", "detectedAt": "2026-12-04T10:00:00.000000Z"},
    ]
    text = "".join(json.dumps(line) + "\n" for line in lines) + '{"torn'
    (tmp_path / "drift.jsonl").write_text(text, encoding="utf-8")
    since = 1_796_378_400.0  # 2026-12-04T10:00:00Z
    found = log.events(frozenset({iccid(1)}), since - 60)
    assert [(e.iccid, e.fields, e.status_change) for e in found] == [(iccid(1), ("state",), True)]
    assert [e.kind for e in log.events(frozenset({iccid(2)}), since)] == ["missing"]

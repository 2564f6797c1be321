"""Every kind of plan path, applied for real against the simulator, converges: after the apply a
new plan shows nothing. This is the planner's correctness seen from SmartHub's side of the wire
(the state machine the simulator enforces, not the planner's own idea of it)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.clock import SystemClock
from reconciler.commands.apply import ApplyOptions, apply_plan
from reconciler.live.read import run_plan
from reconciler.model import (
    PRE_SERVICE,
    ApnStatus,
    DesiredFleet,
    DesiredSim,
    DesiredState,
    FleetSpec,
    LiveSim,
    Operation,
    SourceRef,
    Status,
)
from reconciler.planfile import write_plan
from reconciler.reporting import RecordingReporter
from reconciler.simulator import RunningSimulator
from reconciler.smarthub.client import SmartHubClient

MANAGED = {s.value for s in DesiredState}


def as_desired(sim: LiveSim, line: int) -> DesiredSim:
    return DesiredSim(
        iccid=sim.iccid,
        group="site-a" if line % 2 else "site-b",
        source=SourceRef("fleet/sims.yaml", line),
        state=DesiredState(sim.status.value) if sim.status.value in MANAGED else None,
        rate_plan=sim.rate_plan,
        apns=dict(sim.apns),
        custom_fields={"custom1": sim.custom_fields.get("custom1")},
    )


@pytest.fixture
def client(sim_factory: Callable[..., RunningSimulator]) -> Iterator[SmartHubClient]:
    sim = sim_factory(sims=250, seed=1, job_delay=0.02)
    with SmartHubClient(sim.url, sim.api_key) as api:
        yield api


def test_every_kind_of_change_converges(client: SmartHubClient, tmp_path: Path) -> None:
    live = list(client.iter_sims(account="acme"))
    wanted = {s.iccid: as_desired(s, i + 2) for i, s in enumerate(live)}
    by_status: dict[Status, list[LiveSim]] = {}
    for sim in live:
        by_status.setdefault(sim.status, []).append(sim)
    active = iter(by_status[Status.ACTIVE])
    suspended = iter(by_status[Status.SUSPENDED])
    pre = iter(s for s in live if s.status in PRE_SERVICE)

    def change(sim: LiveSim, **fields: object) -> None:
        wanted[sim.iccid] = dataclasses.replace(wanted[sim.iccid], **fields)  # type: ignore[arg-type]

    def missing_plan(sim: LiveSim) -> tuple[str, ...]:
        free = [
            p for p in ("EU-Roaming-500MB", "US-Roaming-1GB") if p not in sim.supplementary_plans
        ]
        return tuple(free[:1])

    for _ in range(3):
        change(next(active), state=DesiredState.RETIRED)
    change(next(active), state=DesiredState.RETIRED, custom_fields={"custom1": "scrapped"})
    for _ in range(3):
        sim = next(active)
        change(sim, state=DesiredState.SUSPENDED, supplementary_plans=missing_plan(sim))
    for _ in range(3):
        sim = next(suspended)
        change(sim, state=DesiredState.ACTIVE, supplementary_plans=missing_plan(sim))
    change(next(suspended), state=DesiredState.RETIRED)
    change(next(pre), state=DesiredState.ACTIVE)
    change(next(pre), state=DesiredState.SUSPENDED, rate_plan="IoT-Unlimited")
    for _ in range(6):  # enough for a batch job of basic plans
        change(next(active), rate_plan="IoT-Unlimited")
    for _ in range(3):
        sim = next(active)
        flipped = {
            apn: ApnStatus.DISABLED if st is ApnStatus.ENABLED else ApnStatus.ENABLED
            for apn, st in sim.apns.items()
        }
        change(sim, apns=flipped, custom_fields={"custom1": None})

    desired = DesiredFleet(
        FleetSpec("acme-trackers", "acme", SourceRef("fleet/fleet.yaml", 1), allow_retire=True),
        wanted,
        digest="sha256:converge",
    )
    plan = run_plan(client, desired, RecordingReporter(), created_at="t")
    assert plan.problems == ()
    operations = {s.operation for s in plan.steps}
    assert operations == set(Operation)
    assert any(s.batch for s in plan.steps)
    assert len(plan.waves) == 3

    path = tmp_path / "plan.json"
    write_plan(plan, path)
    report = apply_plan(
        client,
        ApplyOptions(
            plan_file=path,
            auto_approve=True,
            allow_retire=True,
            poll_initial=0.02,
            poll_max=0.1,
            orphan_grace=0.5,
        ),
        RecordingReporter(),
        state_dir=tmp_path / "state",
        clock=SystemClock(),
    )
    assert report.complete

    again = run_plan(client, desired, RecordingReporter(), created_at="t2")
    assert not again.has_changes, [s.operation for s in again.steps]
    assert again.summary.unchanged == 250

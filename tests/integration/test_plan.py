"""Planning against the real simulator over a socket, through the real client."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import pytest

from reconciler.live.read import read_live, run_plan
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
from reconciler.planfile import plan_to_json
from reconciler.reporting import RecordingReporter
from reconciler.simulator import RunningSimulator
from reconciler.smarthub.client import SmartHubClient

MANAGED_STATES = {s.value for s in DesiredState}


def as_desired(sim: LiveSim, line: int) -> DesiredSim:
    """A manifest entry declaring exactly what the simulator serves."""
    state = DesiredState(sim.status.value) if sim.status.value in MANAGED_STATES else None
    return DesiredSim(
        iccid=sim.iccid,
        group="berlin-warehouse" if line % 2 else "hamburg-port",
        source=SourceRef("fleet/sims.yaml", line),
        state=state,
        rate_plan=sim.rate_plan,
        apns=dict(sim.apns),
        custom_fields={"custom1": sim.custom_fields.get("custom1")},
    )


def fleet_of(sims: dict[str, DesiredSim], **spec: object) -> DesiredFleet:
    fleet = FleetSpec("acme-trackers", "acme", SourceRef("fleet/fleet.yaml", 1), **spec)  # type: ignore[arg-type]
    return DesiredFleet(fleet, sims, digest="sha256:test")


@pytest.fixture
def sim_2500(sim_factory: Callable[..., RunningSimulator]) -> RunningSimulator:
    return sim_factory(sims=2500, job_delay=0.05)


@pytest.fixture
def client(sim_2500: RunningSimulator) -> Iterator[SmartHubClient]:
    with SmartHubClient(sim_2500.url, sim_2500.api_key) as api:
        yield api


def live_sims(client: SmartHubClient) -> list[LiveSim]:
    return list(client.iter_sims(account="acme"))


def test_a_fleet_that_matches_plans_nothing(client: SmartHubClient) -> None:
    sims = live_sims(client)
    desired = fleet_of({s.iccid: as_desired(s, i + 1) for i, s in enumerate(sims)})
    plan = run_plan(client, desired, RecordingReporter(), created_at="2026-11-25T13:00:00Z")
    assert plan.steps == () and plan.problems == ()
    assert plan.summary.unchanged == 2500 and plan.summary.sims_read == 2500
    assert plan.checksum.startswith("sha256:")


def test_2500_sims_cost_at_most_30_requests_and_1200_suspends_are_two_batch_jobs(
    client: SmartHubClient,
) -> None:
    sims = live_sims(client)
    active = [s for s in sims if s.status is Status.ACTIVE]
    assert len(active) >= 1200
    wanted = {s.iccid: as_desired(s, i + 1) for i, s in enumerate(sims)}
    for sim in active[:1200]:
        wanted[sim.iccid] = dataclasses.replace(wanted[sim.iccid], state=DesiredState.SUSPENDED)
    reporter = RecordingReporter()
    spent_before = client.stats().requests

    plan = run_plan(client, fleet_of(wanted, max_changes=2000), reporter, created_at="t")

    assert client.stats().requests - spent_before <= 30
    assert plan.summary.requests_read == 26  # 25 pages of 100 + the catalogue
    suspends = [s for s in plan.steps if s.operation is Operation.SUSPEND]
    assert [(s.batch, len(s.sims)) for s in suspends] == [(True, 600), (True, 600)]
    assert plan.summary.requests_estimated == 8 + 25  # 2 jobs and their polls + re-check pages
    assert any("Read 2,500 SIMs" in line for line in reporter.infos)
    assert any(line.startswith("Rate budget: ") for line in reporter.infos)


def test_an_activated_sim_declared_retired_is_suspended_then_retired(
    client: SmartHubClient,
) -> None:
    sims = live_sims(client)
    wanted = {s.iccid: as_desired(s, i + 1) for i, s in enumerate(sims)}
    target = next(s for s in sims if s.status is Status.ACTIVE)
    wanted[target.iccid] = dataclasses.replace(wanted[target.iccid], state=DesiredState.RETIRED)
    plan = run_plan(client, fleet_of(wanted), RecordingReporter(), created_at="t")
    assert [(s.wave, s.operation, s.sims[0].iccid) for s in plan.steps] == [
        (1, Operation.SUSPEND, target.iccid),
        (2, Operation.RETIRE, target.iccid),
    ]
    guard = next(g for g in plan.guards if g.name == "allowRetire")
    assert guard.blocking


def test_unmanaged_missing_and_unknown_plans_are_reported(client: SmartHubClient) -> None:
    sims = live_sims(client)
    wanted = {s.iccid: as_desired(s, i + 1) for i, s in enumerate(sims[:-3])}
    first = sims[0].iccid
    wanted[first] = dataclasses.replace(wanted[first], rate_plan="IoT-2GB")
    ghost = "8944509999999999998"
    wanted[ghost] = DesiredSim(ghost, "g", SourceRef("fleet/sims.yaml", 9999))
    live = read_live(client, fleet_of(wanted), RecordingReporter())
    assert live.sims_read == 2500
    assert len(live.diff.unmanaged) == 3 and live.diff.missing == (ghost,)
    plan = run_plan(client, fleet_of(wanted), RecordingReporter(), created_at="t")
    messages = [str(p) for p in plan.problems]
    (held,) = [str(p) for p in plan.held_back]  # one SIM's problem: held back
    assert held.startswith("fleet/sims.yaml:9999:1: SIM 8944509999999999998 is declared")
    assert any("unknown rate plan 'IoT-2GB'" in m for m in messages)
    assert len(plan.unmanaged) == 3


def test_two_plans_of_the_same_state_differ_only_in_creation_time(
    client: SmartHubClient, sim_2500: RunningSimulator
) -> None:
    sims = live_sims(client)
    wanted = {s.iccid: as_desired(s, i + 1) for i, s in enumerate(sims)}
    for sim in sims[:50]:
        if sim.status is not Status.RETIRED:
            wanted[sim.iccid] = dataclasses.replace(
                wanted[sim.iccid], custom_fields={"custom1": "x"}
            )
    desired = fleet_of(wanted)
    one = plan_to_json(run_plan(client, desired, RecordingReporter(), created_at="A"))
    two = plan_to_json(run_plan(client, desired, RecordingReporter(), created_at="B"))
    assert one != two
    assert one.replace('"created_at": "A"', '"created_at": "B"') == two
    assert sim_2500.api_key not in one

"""The planner: state paths, waves, batch grouping, guards, the estimate and raise_if_unsafe."""

from __future__ import annotations

import dataclasses

import pytest

from reconciler.diff import diff_fleet
from reconciler.errors import PlanError, UnsafePlanError
from reconciler.model import (
    ApnStatus,
    DesiredFleet,
    DesiredSim,
    DesiredState,
    FleetSpec,
    LiveSim,
    Operation,
    Plan,
    RateBudget,
    RatePlan,
    RatePlanType,
    SourceRef,
    Status,
)
from reconciler.planner.config import PlannerConfig
from reconciler.planner.cost import check_reads, estimate_seconds, rate_window
from reconciler.planner.guards import raise_if_unsafe
from reconciler.planner.make import make_plan
from reconciler.planner.statemachine import operation_allowed, status_path

CATALOGUE = (
    RatePlan("IoT-1GB", RatePlanType.BASIC),
    RatePlan("IoT-5GB", RatePlanType.BASIC),
    RatePlan("EU-Roaming-500MB", RatePlanType.SUPPLEMENTARY),
)
SRC = SourceRef("fleet/sims.yaml", 3)


def iccid(i: int) -> str:
    return f"89445000000{i:08d}"


def desired(
    sims: list[DesiredSim],
    *,
    allow_retire: bool = False,
    max_changes: int | None = None,
    max_changes_percent: float | None = None,
    mass_disable_percent: float | None = None,
) -> DesiredFleet:
    spec = FleetSpec(
        "acme-trackers",
        "acme",
        SourceRef("fleet/fleet.yaml", 1),
        allow_retire=allow_retire,
        max_changes=max_changes,
        max_changes_percent=max_changes_percent,
        mass_disable_percent=mass_disable_percent,
    )
    return DesiredFleet(spec, {s.iccid: s for s in sims}, digest="sha256:d")


def want(i: int, **kw: object) -> DesiredSim:
    return DesiredSim(iccid=iccid(i), group="berlin", source=SRC, **kw)  # type: ignore[arg-type]


def live(i: int, status: Status = Status.ACTIVE, **kw: object) -> LiveSim:
    kw.setdefault("rate_plan", "IoT-1GB")
    return LiveSim(iccid=iccid(i), status=status, account="acme", **kw)  # type: ignore[arg-type]


def plan_of(
    wants: list[DesiredSim],
    lives: list[LiveSim],
    budget: RateBudget | None = None,
    *,
    strict: bool = False,
    **fleet_kw: object,
) -> Plan:
    fleet = desired(wants, **fleet_kw)  # type: ignore[arg-type]
    return make_plan(
        fleet,
        diff_fleet(fleet, lives),
        CATALOGUE,
        endpoint="http://sim/v1",
        account="acme",
        requests_read=3,
        rate_budget=budget,
        created_at="2026-11-25T13:00:00Z",
        config=PlannerConfig(strict=strict),
    )


def test_state_paths_follow_the_contract() -> None:
    assert status_path(Status.ACTIVE, Status.RETIRED) == (Operation.SUSPEND, Operation.RETIRE)
    assert status_path(Status.INVENTORY, Status.RETIRED) == (Operation.SUSPEND, Operation.RETIRE)
    assert status_path(Status.SUSPENDED, Status.RETIRED) == (Operation.RETIRE,)
    assert status_path(Status.TEST_READY, Status.ACTIVE) == (Operation.ACTIVATE,)
    assert status_path(Status.ACTIVATION_READY, Status.SUSPENDED) == (Operation.SUSPEND,)
    assert status_path(Status.RETIRED, Status.ACTIVE) is None
    assert status_path(Status.ACTIVE, Status.ACTIVE) == ()
    assert not operation_allowed(Operation.RETIRE, Status.ACTIVE)
    assert not operation_allowed(Operation.SUBSCRIBE_PLAN, Status.SUSPENDED)


def test_an_active_sim_declared_retired_is_suspended_then_retired_in_two_waves() -> None:
    plan = plan_of([want(1, state=DesiredState.RETIRED)], [live(1)], allow_retire=True)
    assert [(s.wave, s.operation) for s in plan.steps] == [
        (1, Operation.SUSPEND),
        (2, Operation.RETIRE),
    ]
    suspend, retire = plan.steps
    assert suspend.sims[0].before == {"state": "active"}
    assert suspend.sims[0].after == {"state": "suspended"}
    assert retire.sims[0].before == {"state": "suspended"}  # what wave 1 set
    assert [s.id for s in plan.steps] == ["w1-s001", "w2-s001"]


def test_activation_comes_before_the_subscribe_it_enables() -> None:
    plan = plan_of(
        [want(1, state=DesiredState.ACTIVE, supplementary_plans=("EU-Roaming-500MB",))],
        [live(1, Status.SUSPENDED)],
    )
    activate, subscribe = plan.steps
    assert (activate.wave, activate.operation) == (1, Operation.ACTIVATE)
    assert (subscribe.wave, subscribe.operation) == (2, Operation.SUBSCRIBE_PLAN)
    assert subscribe.rate_plan == "EU-Roaming-500MB"
    assert subscribe.sims[0].before == {
        "state": "active",
        "supplementaryPlans[EU-Roaming-500MB]": None,
    }


def test_field_changes_of_a_sim_being_retired_run_before_its_suspend() -> None:
    plan = plan_of(
        [want(1, state=DesiredState.RETIRED, custom_fields={"custom1": "scrap"})],
        [live(1)],
        allow_retire=True,
    )
    assert [(s.wave, s.operation) for s in plan.steps] == [
        (1, Operation.SET_CUSTOM_FIELDS),
        (2, Operation.SUSPEND),
        (3, Operation.RETIRE),
    ]


def test_subscribe_that_can_never_be_legal_is_a_problem_with_the_manifest_line() -> None:
    line = SourceRef("fleet/g.yaml", 9, 7)
    plan = plan_of(
        [
            want(
                1,
                state=DesiredState.SUSPENDED,
                supplementary_plans=("EU-Roaming-500MB",),
                field_sources={"supplementaryPlans[EU-Roaming-500MB]": line},
            )
        ],
        [live(1, Status.SUSPENDED)],
    )
    assert plan.steps == ()
    (problem,) = plan.problems
    assert problem.source == line and "needs an active SIM" in problem.message


def test_subscribe_before_suspend_when_the_sim_is_still_active() -> None:
    plan = plan_of(
        [want(1, state=DesiredState.SUSPENDED, supplementary_plans=("EU-Roaming-500MB",))],
        [live(1)],
    )
    assert [(s.wave, s.operation) for s in plan.steps] == [
        (1, Operation.SUBSCRIBE_PLAN),
        (2, Operation.SUSPEND),
    ]


def test_unknown_and_wrong_type_rate_plans_are_problems_once_per_manifest_place() -> None:
    line = SourceRef("fleet/g.yaml", 4, 14)
    wants = [
        want(i, rate_plan="IoT-2GB", field_sources={"ratePlan": line}) for i in range(1, 4)
    ] + [want(9, rate_plan="EU-Roaming-500MB")]
    plan = plan_of(wants, [live(i) for i in (1, 2, 3, 9)])
    assert plan.steps == ()
    messages = [str(p) for p in plan.problems]
    assert messages[0].startswith("fleet/g.yaml:4:14: unknown rate plan 'IoT-2GB'")
    assert "(and 2 more SIMs declared there)" in messages[0]
    assert "is supplementary" in messages[1]
    two = plan_of(wants[1:], [live(i) for i in (2, 3, 9)])
    assert "(and 1 more SIM declared there)" in str(two.problems[0])


def test_declared_but_missing_sims_are_held_back_and_the_rest_stays_appliable() -> None:
    plan = plan_of([want(1, state=DesiredState.SUSPENDED), want(2)], [live(1)])
    assert plan.missing == (iccid(2),)
    assert plan.problems == ()
    (held,) = plan.held_back
    assert held.iccid == iccid(2) and held.source == SRC
    assert "declared but not in account 'acme'; fix: remove it from the manifests" in held.message
    assert [s.iccid for step in plan.steps for s in step.sims] == [iccid(1)]
    raise_if_unsafe(plan)  # the rest can be applied
    # --strict: today's behaviour, the whole plan is invalid
    strict = plan_of([want(1, state=DesiredState.SUSPENDED), want(2)], [live(1)], strict=True)
    assert strict.held_back == () and "declared but not in" in strict.problems[0].message
    with pytest.raises(PlanError, match="1 problem"):
        raise_if_unsafe(strict)


def test_a_retired_sim_declared_otherwise_is_held_back_with_its_fix() -> None:
    plan = plan_of(
        [want(1, state=DesiredState.ACTIVE), want(2, state=DesiredState.SUSPENDED)],
        [live(1, Status.RETIRED), live(2)],
    )
    assert plan.problems == ()
    (held,) = plan.held_back
    assert held.iccid == iccid(1) and "fix: declare it retired on its own entry" in held.message
    assert [s.iccid for step in plan.steps for s in step.sims] == [iccid(2)]
    # counted as read and managed (the mass-disable base), not as to change
    assert (plan.summary.sims_read, plan.summary.to_change) == (2, 1)
    assert plan_of(
        [want(1, state=DesiredState.ACTIVE)], [live(1, Status.RETIRED)], strict=True
    ).problems


def test_many_missing_sims_of_one_file_are_one_problem() -> None:
    plan = plan_of([want(i) for i in range(30)], [live(0)])
    assert len(plan.missing) == 29
    (problem,) = plan.held_back
    assert problem.message.startswith("29 SIMs declared in this file are not in account 'acme'")
    assert "fix: remove them from the manifests" in problem.message
    assert problem.source == SRC


def test_1200_suspends_are_two_even_batch_jobs() -> None:
    n = 1200
    plan = plan_of(
        [want(i, state=DesiredState.SUSPENDED) for i in range(n)],
        [live(i) for i in range(n)] + [live(i, Status.SUSPENDED) for i in range(n, 2 * n)],
        max_changes=5000,
    )
    assert [(s.operation, s.batch, len(s.sims), s.requests) for s in plan.steps] == [
        (Operation.SUSPEND, True, 600, 4),
        (Operation.SUSPEND, True, 600, 4),
    ]
    # 2 jobs x (submit + 3 polls), plus apply's re-check: the list (24 pages) beats 1,200 GETs
    assert plan.summary.requests_estimated == 8 + 24
    assert plan.summary.sims_by_operation == {"suspend": 1200}


def test_few_sims_go_as_single_calls_and_apns_cost_one_request_each() -> None:
    plan = plan_of(
        [
            want(1, state=DesiredState.SUSPENDED),
            want(2, apns={"a": ApnStatus.ENABLED, "b": ApnStatus.DISABLED}),
            want(3, rate_plan="IoT-5GB", custom_fields={"custom1": "x", "custom2": "y"}),
        ],
        [live(1), live(2), live(3)],
    )
    by_op = {s.operation: s for s in plan.steps}
    assert not by_op[Operation.SUSPEND].batch
    assert by_op[Operation.SET_APN_STATUS].requests == 2
    assert by_op[Operation.SET_CUSTOM_FIELDS].requests == 1
    assert by_op[Operation.SET_RATE_PLAN].rate_plan == "IoT-5GB"
    assert all(s.wave == 1 for s in plan.steps)
    # 5 writes, plus apply's re-check of the wave: one page of the list beats 3 GETs
    assert plan.summary.to_change == 3 and plan.summary.requests_estimated == 5 + 1


def test_steps_are_ordered_by_wave_operation_plan_and_iccid() -> None:
    wants = [want(i, rate_plan="IoT-5GB" if i % 2 else "IoT-1GB") for i in range(20)]
    lives = [live(i, rate_plan="IoT-5GB" if i % 2 == 0 else "IoT-1GB") for i in range(20)]
    plan = plan_of(wants, lives)
    assert [(s.rate_plan, s.batch) for s in plan.steps] == [("IoT-1GB", True), ("IoT-5GB", True)]
    iccids = [sim.iccid for sim in plan.steps[0].sims]
    assert iccids == sorted(iccids)


def test_guards_as_the_manifest_sets_them_and_the_flags_that_lift_them() -> None:
    wants = [want(i, state=DesiredState.RETIRED) for i in range(12)] + [
        want(i) for i in range(12, 20)
    ]
    plan = plan_of(wants, [live(i) for i in range(20)], max_changes=10)
    guards = {g.name: g for g in plan.guards}
    assert guards["allowRetire"].blocking and guards["allowRetire"].override == "--allow-retire"
    assert guards["maxChanges"].blocking and "12 SIMs change" in guards["maxChanges"].message
    assert guards["massDisable"].blocking and guards["massDisable"].override == "--force"

    with pytest.raises(UnsafePlanError) as caught:
        raise_if_unsafe(plan)
    for needle in ("--allow-retire", "--max-changes", "--force"):
        assert needle in str(caught.value)
    with pytest.raises(UnsafePlanError, match="more than --max-changes 11"):
        raise_if_unsafe(plan, allow_retire=True, max_changes=11, force=True)
    raise_if_unsafe(plan, allow_retire=True, max_changes=12, force=True)


def test_max_changes_as_a_share_of_the_declared_fleet() -> None:
    wants = [want(i, custom_fields={"custom1": "x"}) for i in range(40)]
    plan = plan_of(wants, [live(i) for i in range(40)], max_changes_percent=10.0)
    guard = next(g for g in plan.guards if g.name == "maxChanges")
    assert guard.blocking and "maxChanges allows 4" in guard.message
    assert not next(g for g in plan.guards if g.name == "massDisable").blocking


def test_tiny_fleets_skip_the_mass_disable_guard() -> None:
    plan = plan_of([want(1, state=DesiredState.SUSPENDED)], [live(1)])
    guard = next(g for g in plan.guards if g.name == "massDisable")
    assert not guard.blocking and "not checked below 10" in guard.message
    raise_if_unsafe(plan)


def test_mass_disable_counts_the_managed_fleet_not_the_whole_account() -> None:
    # 20 managed SIMs in an account of 1,000: suspending 15 of them is a mass disable, though
    # it is 1.5% of the account (the unmanaged 980 are no cushion).
    wants = [want(i, state=DesiredState.SUSPENDED) for i in range(15)] + [
        want(i) for i in range(15, 20)
    ]
    plan = plan_of(wants, [live(i) for i in range(1000)], max_changes_percent=100.0)
    guard = next(g for g in plan.guards if g.name == "massDisable")
    assert guard.blocking and guard.override == "--force"
    assert "15 of 20 managed SIMs (75%)" in guard.message
    with pytest.raises(UnsafePlanError, match="--force"):
        raise_if_unsafe(plan)
    raise_if_unsafe(plan, force=True)


def test_a_few_managed_sims_in_a_large_account_skip_the_mass_disable_guard() -> None:
    plan = plan_of(
        [want(i, state=DesiredState.SUSPENDED) for i in range(4)], [live(i) for i in range(500)]
    )
    guard = next(g for g in plan.guards if g.name == "massDisable")
    assert not guard.blocking and "4 of 4 managed SIMs" in guard.message


def test_the_estimate_counts_the_live_recheck_of_each_wave() -> None:
    assert check_reads(3, 1000) == 3  # three GETs beat ten pages
    assert check_reads(600, 2500) == 25  # the list beats 600 GETs
    assert check_reads(5, 0) == 1
    plan = plan_of(
        [want(1, state=DesiredState.RETIRED)], [live(1)], allow_retire=True, max_changes=5
    )
    assert [s.wave for s in plan.steps] == [1, 2]
    assert plan.summary.requests_estimated == 2 + 2  # suspend, retire; one GET before each


def test_estimate_is_the_sustained_pace_of_the_reported_limit() -> None:
    config = PlannerConfig()
    assert estimate_seconds(5000, 5000, config) == 3600.0
    assert estimate_seconds(3200, 5000, config) == pytest.approx(2304.0)
    assert estimate_seconds(0, 5000, config) == 0.0
    budget = RateBudget(limit=1000, remaining=10, reset_seconds=600.0, observed_at=0.0)
    plan = plan_of([want(1, rate_plan="IoT-5GB")], [live(1)], budget=budget)
    assert plan.summary.rate_limit == 1000
    # one write and one re-check read, at 1,000 requests an hour
    assert plan.summary.requests_estimated == 2
    assert plan.summary.duration_estimated_seconds == 7.2
    # what is left in the window does not change the plan: it moves with every request
    other = plan_of(
        [want(1, rate_plan="IoT-5GB")], [live(1)], budget=dataclasses.replace(budget, remaining=999)
    )
    assert other == plan


def test_unmanaged_are_reported_unless_ignored() -> None:
    plan = plan_of([want(1)], [live(1), live(2)])
    assert plan.unmanaged == (iccid(2),)
    assert any("in no manifest" in w for w in plan.warnings)
    fleet = desired([want(1)])
    fleet = DesiredFleet(FleetSpec("f", "acme", SRC, unmanaged="ignore"), fleet.sims, fleet.digest)
    quiet = make_plan(
        fleet,
        diff_fleet(fleet, [live(1), live(2)]),
        CATALOGUE,
        endpoint="e",
        account="acme",
        requests_read=1,
        rate_budget=None,
        created_at="t",
    )
    assert quiet.unmanaged == () and not any("in no manifest" in w for w in quiet.warnings)
    assert quiet.summary.unmanaged == 1


def test_the_estimate_uses_the_window_the_server_showed() -> None:
    budget = RateBudget(
        limit=100, remaining=99, reset_seconds=60.0, observed_at=0.0, window_seconds=60.0
    )
    plan = plan_of([want(1, rate_plan="IoT-5GB")], [live(1)], budget=budget)
    assert plan.summary.rate_window_seconds == 60.0
    assert plan.summary.rate_window_source == "server"
    assert plan.summary.duration_estimated_seconds == pytest.approx(2 * 60 / 100)


@pytest.mark.parametrize(
    ("window", "longest", "expected"),
    [
        (59.4, 59.4, (60.0, "server")),  # whole seconds: the Reset's rounding moves no plan
        (None, 1800.0, (3600.0, "assumed")),  # mid-window: Reset is only a lower bound
        (None, 86_000.0, (86_000.0, "at least")),  # longer than the hour: at least that
    ],
)
def test_rate_window_sources(
    window: float | None, longest: float, expected: tuple[float, str]
) -> None:
    budget = RateBudget(5000, 10, longest, 0.0, window_seconds=window, longest_reset=longest)
    assert rate_window(budget, PlannerConfig()) == expected
    assert rate_window(None, PlannerConfig()) == (3600.0, "assumed")

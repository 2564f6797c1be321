"""Property: for random desired/live fleets, running the plan's steps, wave by wave, against a
model of SmartHub's state machine (written here from the contract, not taken from the planner)
is legal at every step, finds every ``before`` as expected, touches only managed fields of
managed SIMs, and ends with exactly the desired managed fields -- for every SIM the plan did not
report a problem for. Every such plan also survives the plan file unchanged."""

from __future__ import annotations

from collections.abc import Mapping

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.diff import diff_fleet
from reconciler.model import (
    RATE_PLAN,
    STATE,
    SUBSCRIBED,
    ApnStatus,
    DesiredFleet,
    DesiredSim,
    DesiredState,
    FleetSpec,
    LiveSim,
    Operation,
    Plan,
    RatePlan,
    RatePlanType,
    SourceRef,
    Status,
    apn_field,
    custom_field,
    supplementary_field,
)
from reconciler.planfile import plan_from_json, plan_to_json, seal
from reconciler.planner.config import PlannerConfig
from reconciler.planner.make import make_plan

BASIC = ("IoT-1GB", "IoT-5GB")
SUPPLEMENTARY = ("EU", "US")
APNS = ("iot", "backup")
CUSTOM = ("custom1", "custom2")
CATALOGUE = [RatePlan(p, RatePlanType.BASIC) for p in BASIC] + [
    RatePlan(p, RatePlanType.SUPPLEMENTARY) for p in SUPPLEMENTARY
]
SRC = SourceRef("fleet.yaml", 1)

# The contract's table (smarthub-api.md), independently of reconciler.planner.
PRE = {"test_ready", "inventory", "activation_ready"}
ALLOWED: Mapping[Operation, set[str]] = {
    Operation.ACTIVATE: PRE | {"suspended"},
    Operation.SUSPEND: PRE | {"active"},
    Operation.RETIRE: {"suspended"},
    Operation.SUBSCRIBE_PLAN: {"active"},
    Operation.SET_RATE_PLAN: PRE | {"active", "suspended"},
    Operation.SET_APN_STATUS: PRE | {"active", "suspended"},
    Operation.SET_CUSTOM_FIELDS: PRE | {"active", "suspended"},
}
STATUS_OPS = {Operation.ACTIVATE, Operation.SUSPEND, Operation.RETIRE}

text = st.sampled_from(["a", "b", "", None])


@st.composite
def sim_pair(draw: st.DrawFn, index: int) -> tuple[LiveSim, DesiredSim | None]:
    iccid = f"s{index:04d}"
    live = LiveSim(
        iccid=iccid,
        status=draw(st.sampled_from(list(Status))),
        account="acme",
        rate_plan=draw(st.sampled_from(BASIC)),
        supplementary_plans=tuple(draw(st.sets(st.sampled_from(SUPPLEMENTARY)))),
        apns=draw(st.dictionaries(st.sampled_from(APNS), st.sampled_from(list(ApnStatus)))),
        custom_fields=draw(st.dictionaries(st.sampled_from(CUSTOM), text)),
    )
    if draw(st.integers(0, 9)) == 0:
        return live, None  # unmanaged
    want = DesiredSim(
        iccid=iccid,
        group=draw(st.sampled_from(["g1", "g2"])),
        source=SourceRef("fleet.yaml", index + 2),  # one line each: problems are not merged
        state=draw(st.none() | st.sampled_from(list(DesiredState))),
        rate_plan=draw(st.none() | st.sampled_from(BASIC)),
        supplementary_plans=tuple(draw(st.sets(st.sampled_from(SUPPLEMENTARY)))),
        apns=draw(st.dictionaries(st.sampled_from(APNS), st.sampled_from(list(ApnStatus)))),
        custom_fields=draw(st.dictionaries(st.sampled_from(CUSTOM), text)),
    )
    return live, want


@st.composite
def fleets(draw: st.DrawFn) -> tuple[list[LiveSim], DesiredFleet]:
    count = draw(st.integers(1, 25))
    pairs = [draw(sim_pair(i)) for i in range(count)]
    lives = [live for live, _ in pairs]
    wants = {w.iccid: w for _, w in pairs if w is not None}
    spec = FleetSpec("f", "acme", SRC, allow_retire=True)
    return lives, DesiredFleet(spec, wants, digest="d")


def model_values(sim: LiveSim) -> dict[str, str | None]:
    """Every field path of a live SIM, as the plan's before/after name them."""
    values: dict[str, str | None] = {STATE: sim.status.value, RATE_PLAN: sim.rate_plan}
    for plan in SUPPLEMENTARY:
        values[supplementary_field(plan)] = SUBSCRIBED if plan in sim.supplementary_plans else None
    for apn in APNS:
        status = sim.apns.get(apn)
        values[apn_field(apn)] = status.value if status else None
    for name in CUSTOM:
        values[custom_field(name)] = sim.custom_fields.get(name) or None
    return values


def desired_values(want: DesiredSim) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    if want.state is not None:
        values[STATE] = want.state.value
    if want.rate_plan is not None:
        values[RATE_PLAN] = want.rate_plan
    for plan in want.supplementary_plans:
        values[supplementary_field(plan)] = SUBSCRIBED
    for apn, status in want.apns.items():
        values[apn_field(apn)] = status.value
    for name, value in want.custom_fields.items():
        values[custom_field(name)] = value or None
    return values


def plan_for(lives: list[LiveSim], desired: DesiredFleet, polls: int) -> Plan:
    return make_plan(
        desired,
        diff_fleet(desired, iter(lives)),
        CATALOGUE,
        endpoint="e",
        account="acme",
        requests_read=1,
        rate_budget=None,
        created_at="t",
        config=PlannerConfig(batch_polls=polls),
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets(), st.integers(0, 4))
def test_running_the_plan_yields_the_desired_managed_fields(
    fleet: tuple[list[LiveSim], DesiredFleet], polls: int
) -> None:
    lives, desired = fleet
    plan = plan_for(lives, desired, polls)
    assert len(plan.waves) <= 3  # fields, suspend, retire at the most
    sealed = seal(plan)
    assert plan_from_json(plan_to_json(sealed)) == sealed
    state = {sim.iccid: model_values(sim) for sim in lives}
    start = {iccid: dict(values) for iccid, values in state.items()}
    touched: dict[str, set[str]] = {}

    for wave in plan.waves:
        seen_in_wave: dict[str, list[Operation]] = {}
        for step in wave:
            for sim in step.sims:
                seen_in_wave.setdefault(sim.iccid, []).append(step.operation)
        for iccid, ops in seen_in_wave.items():
            # a status change never shares a wave with another step on the same SIM
            assert not (STATUS_OPS & set(ops)) or len(ops) == 1, (iccid, ops)
        for step in wave:
            for sim in step.sims:
                current = state[sim.iccid]
                assert STATE in sim.before
                for path, expected in sim.before.items():
                    assert current[path] == expected, (step.id, sim.iccid, path)
                assert current[STATE] in ALLOWED[step.operation], (step.id, sim.iccid)
                for path, value in sim.after.items():
                    current[path] = value
                    touched.setdefault(sim.iccid, set()).add(path)
        # steps of one wave are independent: applying them in any order gives the same state

    problem_sims = {p.iccid for p in (*plan.problems, *plan.held_back)}
    for iccid, paths in touched.items():
        assert iccid in desired.sims, "an unmanaged SIM was touched"
        assert paths <= set(desired_values(desired.sims[iccid])), "an unmanaged field was touched"
        assert start[iccid][STATE] != Status.RETIRED.value
    for iccid, values in state.items():
        want = desired.sims.get(iccid)
        if want is None:
            assert values == start[iccid]
            continue
        if iccid in problem_sims:
            continue
        wanted = desired_values(want)
        assert {path: values[path] for path in wanted} == wanted, iccid


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets())
def test_problems_are_exactly_the_impossible_wishes(
    fleet: tuple[list[LiveSim], DesiredFleet],
) -> None:
    lives, desired = fleet
    plan = plan_for(lives, desired, 3)
    by_iccid = {sim.iccid: sim for sim in lives}
    for problem in (*plan.problems, *plan.held_back):  # held back: one SIM's problem
        assert problem.iccid is not None
        live = by_iccid[problem.iccid]
        want = desired.sims[problem.iccid]
        wanted = desired_values(want)
        differs = {p for p, v in wanted.items() if model_values(live)[p] != v}
        assert differs
        target = want.state.value if want.state else live.status.value
        # retired cannot change; a subscribe needs the SIM active at some point of its path
        assert live.status is Status.RETIRED or (
            any(p.startswith("supplementaryPlans[") for p in differs)
            and not (target == "active" or live.status is Status.ACTIVE)
        )

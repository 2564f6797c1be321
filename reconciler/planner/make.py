"""`make_plan`: a `FleetDiff` becomes a `Plan` of steps in waves. Pure: no network, no clock.

The rooms it draws on: `reconciler.planner.schedule` (waves, grouping, steps),
`reconciler.planner.cost` (apply's re-reads and the time estimate) and
`reconciler.planner.guards` (the guards recorded in the plan).

Rollout
-------
With a ``spec.rollout``, `reconciler.canary` splits each wave's SIMs into rollout steps before
the grouping (see there for how canaries are chosen); the plan's ``rollout`` lists them with
their SIMs, requests and time including the soaks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reconciler import holdback
from reconciler.canary import StageInfo, describe_stages, split_stages
from reconciler.model import (
    DesiredFleet,
    FleetDiff,
    Operation,
    Plan,
    PlanSummary,
    Problem,
    RateBudget,
    RatePlan,
    RolloutStage,
    Step,
    Targeting,
    known_account_size,
    steps_by_wave,
)
from reconciler.planner.config import DEFAULT_CONFIG, PlannerConfig
from reconciler.planner.cost import check_reads, estimate_seconds, rate_window
from reconciler.planner.guards import plan_guards
from reconciler.planner.schedule import Collector, build_steps, schedule_sim
from reconciler.wording import counted


def make_plan(
    desired: DesiredFleet,
    diff: FleetDiff,
    catalogue: Iterable[RatePlan],
    *,
    endpoint: str,
    account: str,
    requests_read: int,
    rate_budget: RateBudget | None,
    created_at: str,
    config: PlannerConfig = DEFAULT_CONFIG,
    targeted: Targeting | None = None,
) -> Plan:
    """Plan the changes of ``diff``.

    The plan's ``checksum`` is left empty: `reconciler.planfile.seal` fills it (the canonical
    JSON lives there, a layer above). ``sims_read`` counts every SIM of the account the diff
    saw: changed, unchanged, unmanaged, and retired ones with a problem; the mass-disable
    guard counts only the managed ones (all of those but the unmanaged). A ``targeted`` plan
    (``--changed-from``) read only some SIMs: its guards weigh them against every SIM declared
    and found, and its re-check estimate prices the list by the whole account.
    """
    by_name = {p.name: p for p in catalogue}
    collector = Collector()
    sim_problems = [*diff.problems, *_missing_problems(desired, diff.missing, account, config)]
    strict_problems, held = holdback.split(sim_problems, strict=config.strict)
    collector.problems.extend(strict_problems)
    for sim in diff.changed:
        schedule_sim(sim, desired.sims[sim.iccid], by_name, collector)

    groups, stage_infos = split_stages(collector.groups, lambda i: desired.sims[i].rollout)
    steps = build_steps(groups, config)
    by_operation = _sims_by_operation(steps)
    touched: set[str] = set().union(*by_operation.values()) if by_operation else set()
    managed = len(diff.changed) + diff.unchanged + len(diff.problems)  # declared and live
    sims_read = managed + len(diff.unmanaged)
    size = known_account_size(sims_read, len(desired.sims), targeted)
    if targeted is not None:  # the SIMs not read are declared and, as far as we know, live
        managed = len(desired.sims) - len(diff.missing)

    estimate = _estimate(steps, stage_infos, size, rate_budget, config)
    summary = PlanSummary(
        sims_declared=len(desired.sims),
        sims_read=sims_read,
        unchanged=diff.unchanged,
        to_change=len(touched),
        unmanaged=len(diff.unmanaged),
        missing=len(diff.missing),
        sims_by_operation={
            op.value: len(by_operation[op.value]) for op in Operation if op.value in by_operation
        },
        requests_read=requests_read,
        requests_estimated=estimate.requests,
        duration_estimated_seconds=estimate.seconds,
        rate_limit=estimate.rate_limit,
        rate_window_seconds=estimate.window,
        rate_window_source=estimate.window_source,
    )
    report_unmanaged = desired.fleet.unmanaged != "ignore"
    return Plan(
        created_at=created_at,
        manifest_digest=desired.digest,
        endpoint=endpoint,
        account=account,
        fleet=desired.fleet.name,
        summary=summary,
        steps=steps,
        warnings=_warnings(diff, account, rate_budget, config, report_unmanaged=report_unmanaged),
        problems=tuple(collector.finished_problems()),
        guards=plan_guards(desired, steps, len(touched), managed, config),
        unmanaged=diff.unmanaged if report_unmanaged else (),
        missing=diff.missing,
        rollout=estimate.stages,
        held_back=tuple(held),
        targeted=targeted,
    )


def _sims_by_operation(steps: Sequence[Step]) -> dict[str, set[str]]:
    """The ICCIDs each operation touches, by `Operation` value."""
    by_operation: dict[str, set[str]] = {}
    for step in steps:
        by_operation.setdefault(step.operation.value, set()).update(s.iccid for s in step.sims)
    return by_operation


@dataclass(frozen=True, slots=True)
class _Estimate:
    stages: tuple[RolloutStage, ...]
    requests: int
    seconds: float  # rounded to 0.1 s, the soaks included
    rate_limit: int
    window: float
    window_source: str


def _estimate(
    steps: Sequence[Step],
    stage_infos: Sequence[StageInfo],
    account_size: int,
    rate_budget: RateBudget | None,
    config: PlannerConfig,
) -> _Estimate:
    """Requests and time to apply: writes and batch polls, plus apply's live re-check of each
    wave's SIMs; with a rollout, each rollout step re-checks its own SIMs and waits its soak."""
    rate_limit = rate_budget.limit if rate_budget else config.default_rate_limit
    window, window_source = rate_window(rate_budget, config)
    stages = describe_stages(
        stage_infos,
        steps,
        reads=lambda n: check_reads(n, account_size),
        seconds=lambda r: estimate_seconds(r, rate_limit, config, window),
    )
    if stages:
        requests = sum(stage.requests for stage in stages)
    else:
        requests = sum(step.requests for step in steps) + sum(
            check_reads(len({s.iccid for step in wave_steps for s in step.sims}), account_size)
            for wave_steps in steps_by_wave(steps)
        )
    seconds = estimate_seconds(requests, rate_limit, config, window) + sum(
        stage.soak_seconds for stage in stages
    )
    return _Estimate(stages, requests, round(seconds, 1), rate_limit, window, window_source)


def _warnings(
    diff: FleetDiff,
    account: str,
    rate_budget: RateBudget | None,
    config: PlannerConfig,
    *,
    report_unmanaged: bool,
) -> tuple[str, ...]:
    warnings: list[str] = []
    if report_unmanaged and diff.unmanaged:
        shown = ", ".join(diff.unmanaged[: config.unmanaged_listed_in_warning])
        more = len(diff.unmanaged) - config.unmanaged_listed_in_warning
        warnings.append(
            f"{counted(len(diff.unmanaged), 'SIM')} in account {account!r} "
            f"{'is' if len(diff.unmanaged) == 1 else 'are'} in no manifest (unmanaged): {shown}"
            + (f" and {more:,} more" if more > 0 else "")
        )
    if rate_budget is None:
        warnings.append(
            f"the server reported no rate budget: the estimate assumes "
            f"{config.default_rate_limit:,} requests an hour"
        )
    return tuple(warnings)


def _missing_problems(
    desired: DesiredFleet, missing: Sequence[str], account: str, config: PlannerConfig
) -> list[Problem]:
    """One problem per missing SIM; past ``missing_listed_per_file`` in one file, one problem
    for the file (a wrong account would otherwise give 100,000 lines; `Plan.missing` still
    lists every ICCID)."""
    by_file: dict[str, list[str]] = {}
    for iccid in missing:
        by_file.setdefault(desired.sims[iccid].source.file, []).append(iccid)
    problems: list[Problem] = []
    for iccids in by_file.values():
        if len(iccids) <= config.missing_listed_per_file:
            problems.extend(
                Problem(
                    f"SIM {iccid} is declared but not in account {account!r}; "
                    + holdback.missing_fix(account),
                    iccid=iccid,
                    source=desired.sims[iccid].source,
                )
                for iccid in iccids
            )
            continue
        first = desired.sims[iccids[0]]
        problems.append(
            Problem(
                f"{counted(len(iccids), 'SIM')} declared in this file "
                f"{'is' if len(iccids) == 1 else 'are'} not in account {account!r}, "
                f"{first.iccid} first (a wrong account, or SIMs moved away?); "
                + holdback.missing_fix(account, many=True),
                iccid=first.iccid,
                source=first.source,
            )
        )
    return problems


__all__ = ["make_plan"]

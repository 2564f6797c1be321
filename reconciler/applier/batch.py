"""Batch jobs: submit a step's SIMs, poll the jobs to the end, fold their results into the run.

The intent is journaled before each submit and the job id right after the 202, so a crash
between the two leaves an intent without a job id (the applier settles those SIMs on resume,
see `reconciler.applier.waves`). A submit whose answer was lost may have created the job: its
SIMs get no final outcome (not run) and the run ends asking for ``apply --resume``. Polls wait
with a doubling interval (``poll_initial`` .. ``poll_max``): few requests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from reconciler.applier.books import Run
from reconciler.applier.verdicts import (
    job_verdicts,
    may_have_acted,
    reason_of,
    recheck_verdicts,
)
from reconciler.clock import Clock
from reconciler.errors import (
    ApiError,
    AuthenticationError,
    BudgetExhausted,
    ForbiddenError,
    NotFoundError,
)
from reconciler.model import (
    BATCH_MAX_SIMS,
    RATE_PLAN,
    BatchJob,
    LiveSim,
    Operation,
    Outcome,
    SimOutcome,
    Step,
    StepSim,
)
from reconciler.smarthub.api import SmartHubApi

# job id -> the step and the SIMs it holds
Jobs = dict[str, tuple[Step, tuple[str, ...]]]
# re-reads SIMs whose job result does not settle them (iccid -> live record or None)
Reread = Callable[[Sequence[str]], Mapping[str, LiveSim | None]]


class BatchJobs:
    """Submits and polls batch jobs for one applier (its API, clock and poll intervals)."""

    def __init__(
        self, api: SmartHubApi, clock: Clock, *, poll_initial: float, poll_max: float
    ) -> None:
        self.api = api
        self.clock = clock
        self.poll_initial = poll_initial
        self.poll_max = poll_max

    def submit(self, run: Run, step: Step, sims: Sequence[StepSim]) -> Jobs:
        """Submit ``sims`` of a batch step in jobs of at most `BATCH_MAX_SIMS`; the jobs sent."""
        operation = step.operation.batch_operation
        assert operation is not None, f"step {step.id}: {step.operation} has no batch call"
        rate_plan = step.rate_plan
        if operation.value == Operation.SET_RATE_PLAN.value and rate_plan is None:
            rate_plan = sims[0].after.get(RATE_PLAN)
        jobs: Jobs = {}
        for start in range(0, len(sims), BATCH_MAX_SIMS):
            iccids = tuple(s.iccid for s in sims[start : start + BATCH_MAX_SIMS])
            run.journal.intent(step.id, iccids)
            try:
                job = self.api.submit_batch(operation, iccids, rate_plan=rate_plan)
            except (BudgetExhausted, AuthenticationError, ForbiddenError):
                raise
            except ApiError as exc:
                run.record(step.id, _refused(run, iccids, exc))
                continue
            run.job_submitted(step.id, job.job_id, iccids)
            jobs[job.job_id] = (step, iccids)
            run.progress(f"{step.id}: batch job {job.job_id} submitted ({len(iccids)} SIMs)")
        return jobs

    def poll(
        self, run: Run, jobs: Mapping[str, tuple[Step, tuple[str, ...]]], reread: Reread
    ) -> None:
        """Poll until every job finished; the interval doubles from poll_initial to poll_max."""
        active = dict(jobs)
        interval = self.poll_initial
        while active:
            run.progress(f"waiting {interval:g}s for {len(active)} batch job(s)")
            self.clock.sleep(interval)
            for job_id in sorted(active):
                step, iccids = active[job_id]
                try:
                    job: BatchJob | None = self.api.get_batch_job(job_id)
                except NotFoundError:
                    job = None  # the server forgot it: decide by the SIMs' live state
                if job is None or job.status.finished:
                    _fold(run, step, iccids, job, reread)
                    del active[job_id]
            interval = min(interval * 2, self.poll_max)


def _refused(run: Run, iccids: tuple[str, ...], exc: ApiError) -> list[SimOutcome]:
    """The SIMs of a submit the API refused (FAILED) or did not answer (NOT_RUN)."""
    reason = reason_of(exc)
    if not may_have_acted(exc):
        return [SimOutcome(i, Outcome.FAILED, reason) for i in iccids]
    # the job may exist and run: no final outcome; resume settles these SIMs as orphans of
    # an intent without job id (wait, re-read, never resubmit a SIM a pending job may hold)
    reason = (
        f"batch job submit unanswered ({reason}): it may have been accepted; "
        "`fleetform apply --resume` checks and finishes these SIMs"
    )
    run.add_unanswered(len(iccids))
    return [SimOutcome(i, Outcome.NOT_RUN, reason) for i in iccids]


def _fold(
    run: Run, step: Step, iccids: Sequence[str], job: BatchJob | None, reread: Reread
) -> None:
    """Record a finished (or forgotten) job's outcomes, re-reading the SIMs it did not settle."""
    outcomes, recheck = job_verdicts(iccids, job)
    if recheck:
        live = reread(list(recheck))
        outcomes += recheck_verdicts({s.iccid: s for s in step.sims}, recheck, live)
    run.record(step.id, outcomes)
    failed = sum(1 for o in outcomes if o.outcome is Outcome.FAILED)
    label = job.job_id if job is not None else "?"
    run.progress(
        f"{step.id}: batch job {label} finished: {len(outcomes) - failed} done, {failed} failed"
    )


__all__ = ["BatchJobs", "Jobs", "Reread"]

"""The applier: runs a plan's waves against the API, journaled, paced and crash-safe.

Per wave:

1. Re-read the wave's SIMs (single GETs when few, the paged list when that is cheaper; the
   list is checked page by page, writes start as soon as their SIMs passed, and reading stops
   once every SIM was seen) and compare each `StepSim.before` with live state. A SIM that
   moved is *stale*: left alone and reported with what moved (deepdiff of the plan's view of
   the SIM against its live record). A SIM already holding every value the step sets counts
   as *done* (idempotence; also how a resumed run recognises work a crashed run did without
   journaling it).
2. Submit the batch jobs (only the SIMs that passed the check), journaling the intent before
   the request and the job id right after the 202; send the single calls concurrently
   (bounded by ``concurrency``; the client paces itself under the rate limit).
3. Poll the batch jobs with a doubling interval (``poll_initial`` .. ``poll_max``): few requests.
   Per-SIM results are folded into the report; a SIM refused with ``illegal_status`` is re-read
   and counts as done when it already holds the step's values.

With a rollout (`Plan.rollout`) the plan runs rollout step by rollout step instead of wave by
wave (each wave split into its canary steps), and after each one `reconciler.rollout.StageCheck`
soaks, re-checks and asks the gate; a stop ends the run like ``--budget`` does (journaled,
``apply --resume`` continues with that check).

A SIM that failed or was stale in a wave is skipped in later waves. `BudgetExhausted` (the
client's ``--budget`` cap) stops the run cleanly: what was not reached is reported *not run*,
the journal records the stop, and ``apply --resume`` continues.

Resume (``run(plan, resume=True)``): steps done are skipped; SIMs with a final outcome
(done, failed, stale) keep it; batch jobs already submitted are polled, never submitted again.
A batch intent without a job id means the run died between sending the job and journaling
its id: the job may exist on the server. Those SIMs are re-read; if some still need the
change, the applier waits ``orphan_grace`` seconds (time for such a job to run), re-reads, and
only then submits for the SIMs still at their ``before``. This keeps "no SIM in two jobs" for
any server that runs an accepted job within ``orphan_grace``; it is the one place the
contract (no way to list one's batch jobs) leaves a window, and the choice is written here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace

from deepdiff import DeepDiff

from reconciler.clock import Clock
from reconciler.errors import (
    ApiError,
    AuthenticationError,
    BudgetExhausted,
    ForbiddenError,
    IllegalStatus,
    JournalError,
    NotFoundError,
    ServerError,
    TransportError,
)
from reconciler.journal import Journal, JournalState
from reconciler.model import (
    BATCH_MAX_SIMS,
    RATE_PLAN,
    ApnStatus,
    ApplyReport,
    BatchJob,
    FieldChange,
    LiveSim,
    Operation,
    Outcome,
    Plan,
    RolloutStage,
    SimOutcome,
    Step,
    StepReport,
    StepSim,
    parse_field,
)
from reconciler.planner import check_reads
from reconciler.reporting import Progress, Reporter
from reconciler.rollout import StageCheck
from reconciler.smarthub.api import RequestStats, SmartHubApi

ALREADY = "already as planned"


def _show(value: str | None) -> str:
    return "(empty)" if value is None else value


def what_moved(sim: StepSim, live: LiveSim) -> tuple[FieldChange, ...]:
    """The fields whose live value differs from the plan's ``before`` (plan value -> live).

    deepdiff explains how two records differ: the plan's view of the SIM
    against the same fields of its live record.
    """
    plan_view = dict(sim.before)
    live_view = {path: live.value(path) for path in sim.before}
    diff = DeepDiff(plan_view, live_view, view="tree")
    moved: list[FieldChange] = []
    for kind in ("values_changed", "type_changes"):
        for level in diff.get(kind, ()):
            path = level.path(output_format="list")[0]
            moved.append(FieldChange(str(path), level.t1, level.t2))
    return tuple(sorted(moved, key=lambda m: m.field))


def holds_after(sim: StepSim, live: LiveSim) -> bool:
    return all(live.value(path) == value for path, value in sim.after.items())


def check(sim: StepSim, live: LiveSim | None, account: str) -> SimOutcome | None:
    """None when the step may proceed; DONE when the values already hold; STALE when moved
    (or moved to another account than the plan's: a single GET still finds it there)."""
    if live is None:
        return SimOutcome(sim.iccid, Outcome.STALE, "no longer in the account")
    if live.account != account:
        return SimOutcome(
            sim.iccid,
            Outcome.STALE,
            f"moved to account {live.account} since the plan",
            (FieldChange("account", account, live.account),),
        )
    if all(live.value(path) == value for path, value in sim.before.items()):
        return None  # the common case, without deepdiff's cost (~0.3 ms a SIM)
    moved = what_moved(sim, live)
    if not moved:
        return None
    if holds_after(sim, live) and all(m.field in sim.after for m in moved):
        return SimOutcome(sim.iccid, Outcome.DONE, ALREADY)
    text = ", ".join(f"{m.field} {_show(m.before)} -> {_show(m.after)}" for m in moved)
    return SimOutcome(sim.iccid, Outcome.STALE, f"moved since the plan: {text}", moved)


def may_have_acted(exc: ApiError) -> bool:
    """Whether a write that raised ``exc`` may still have taken effect: its answer was lost
    after sending, or the server failed (a 5xx to a POST is not retried: it may have acted)."""
    if isinstance(exc, TransportError):
        return exc.maybe_sent
    return isinstance(exc, ServerError)


def reason_of(exc: ApiError) -> str:
    """The API's reason in a few words: the 422 code, else status and title."""
    if exc.code:
        return exc.code
    if exc.status:
        return f"{exc.status} {exc.title}"
    return exc.title


@dataclass
class _Run:
    """Mutable bookkeeping of one run (the applier's own, guarded by ``lock``)."""

    plan: Plan
    outcomes: dict[str, dict[str, SimOutcome]]
    job_ids: dict[str, list[str]]
    prior: JournalState
    job_of: dict[str, str] = field(default_factory=dict)  # "step id/iccid" -> its batch job
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    steps_done: int = 0
    unanswered: int = 0  # SIMs in batch job submits that may have reached the server

    @property
    def sims_done(self) -> int:
        return sum(len(v) for v in self.outcomes.values())


def _unfinished(run: _Run, step_id: str, iccid: str) -> SimOutcome:
    """A SIM the run stopped before settling: not sent yet, or inside a job not yet confirmed."""
    job = run.job_of.get(f"{step_id}/{iccid}")
    if job is None:
        return SimOutcome(iccid, Outcome.NOT_RUN, "the run stopped before this SIM")
    return SimOutcome(
        iccid,
        Outcome.NOT_RUN,
        f"submitted in batch job {job}, not confirmed before the run stopped: "
        "`fleetform apply --resume` polls it (never submits it again)",
        job_id=job,
    )


class Applier:
    def __init__(
        self,
        api: SmartHubApi,
        journal: Journal,
        reporter: Reporter,
        clock: Clock,
        *,
        concurrency: int = 8,
        poll_initial: float = 1.0,
        poll_max: float = 30.0,
        orphan_grace: float = 10.0,
        rollout: StageCheck | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.api = api
        self.journal = journal
        self.reporter = reporter
        self.clock = clock
        self.concurrency = concurrency
        self.poll_initial = poll_initial
        self.poll_max = poll_max
        self.orphan_grace = orphan_grace
        # after each rollout step: soak, re-check, gate (reconciler.rollout)
        self.rollout = rollout or StageCheck(journal, reporter, clock)

    # -- the run -----------------------------------------------------------------------------

    def run(self, plan: Plan, *, resume: bool = False) -> ApplyReport:
        start = self.api.stats()
        started_at = self.clock.monotonic()
        prior = JournalState()
        if resume:
            prior = self.journal.state()
            if prior.checksum and prior.checksum != plan.checksum:
                raise JournalError(
                    f"the journal {self.journal.path} belongs to plan {prior.checksum}, "
                    f"not {plan.checksum}"
                )
        self.journal.begin_run(resume=resume)
        run = _Run(
            plan=plan,
            # a step done keeps every outcome (its skipped SIMs stay skipped in the report);
            # in the others, skipped and not-run SIMs are tried again
            outcomes={
                s.id: dict(
                    prior.results.get(s.id, {})
                    if s.id in prior.steps_done
                    else prior.final_results(s.id)
                )
                for s in plan.steps
            },
            job_ids={s.id: [j.job_id for j in prior.jobs.get(s.id, ())] for s in plan.steps},
            prior=prior,
        )
        run.steps_done = sum(1 for s in plan.steps if s.id in prior.steps_done)
        stopped: str | None = None
        stopped_at: str | None = None  # the rollout step that stopped the run
        if not plan.rollout and self.rollout.gate is not None:
            self.reporter.warn("--gate has no effect: the plan has no rollout (spec.rollout)")
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="apply") as pool:
            try:
                for stage, steps in plan.units:
                    if steps:
                        self._wave(run, pool, steps[0].wave, steps)
                    if stage is not None and stage.checked:
                        stopped = self._after_stage(run, pool, stage, steps)
                        if stopped is not None:
                            stopped_at = stage.id
                            break
            except BudgetExhausted as exc:
                stopped = (
                    f"stopped at the request budget ({exc}); "
                    "run `fleetform apply --resume` to continue"
                )
                self.journal.aborted(stopped)
                self.reporter.warn(stopped)
            except BaseException as exc:
                run.stop.set()
                if not isinstance(exc, KeyboardInterrupt):
                    self.journal.aborted(f"error: {exc}")
                raise
        unsettled = run.unanswered
        if stopped is None and unsettled:
            # not `finished`: the journal stays open, so `--resume` (or the same apply again)
            # settles these SIMs instead of starting over
            stopped = (
                f"{unsettled} SIMs were sent in a batch job whose answer was lost; the job may "
                "still run: run `fleetform apply --resume` to check them and finish"
            )
            self.journal.aborted(stopped)
            self.reporter.warn(stopped)
        report = self._report(run, start_requests=start, started_at=started_at, stopped=stopped)
        if stopped_at is not None:
            report = replace(report, rollout_stopped_at=stopped_at)
        if stopped is None:
            self.journal.finished(complete=report.complete)
        self._progress(run, "finished" if stopped is None else "stopped")
        return report

    def _wave(self, run: _Run, pool: ThreadPoolExecutor, number: int, wave: Sequence[Step]) -> None:
        blocked = self._blocked(run, before_wave=number)
        # SIMs in batch jobs submitted by an earlier run: polled, not checked or submitted
        in_flight: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        to_check: list[tuple[Step, StepSim]] = []
        uncertain: set[tuple[str, str]] = set()
        for step in wave:
            if step.id in run.prior.steps_done:
                continue
            have = run.outcomes[step.id]
            skipped: list[SimOutcome] = []
            jobbed: set[str] = set()
            for job in run.prior.jobs.get(step.id, ()):
                open_iccids = tuple(i for i in job.iccids if i not in have)
                if open_iccids:
                    in_flight.setdefault(step.id, []).append((job.job_id, open_iccids))
                jobbed.update(job.iccids)
            intended = {i for ids in run.prior.intents.get(step.id, ()) for i in ids}
            for sim in step.sims:
                if sim.iccid in have or sim.iccid in jobbed:
                    continue
                if sim.iccid in blocked:
                    skipped.append(blocked[sim.iccid])
                    continue
                to_check.append((step, sim))
                if step.batch and sim.iccid in intended:
                    uncertain.add((step.id, sim.iccid))
            self._record(run, step.id, skipped)
        total = sum(len(s.sims) for s in wave)
        self._progress(
            run, f"wave {number}/{len(run.plan.waves)}: {total} SIMs, checking live state"
        )

        jobs: dict[str, tuple[Step, tuple[str, ...]]] = {}
        for step in wave:
            for job_id, iccids in in_flight.get(step.id, ()):
                jobs[job_id] = (step, iccids)
        futures: list[Future[None]] = []
        try:
            to_read = [sim.iccid for _, sim in to_check]
            if not uncertain and self._list_is_cheaper(run, to_read):
                self._stream(run, pool, to_check, jobs, futures)
            else:
                live = self._read(run, pool, to_read)
                if uncertain:
                    live = self._settle_orphans(run, pool, to_check, uncertain, live)
                proceed: dict[str, list[StepSim]] = {}
                for step, sim in to_check:
                    if self._verdict(run, step, sim, live.get(sim.iccid)):
                        proceed.setdefault(step.id, []).append(sim)
                for step in wave:
                    sims = proceed.get(step.id, [])
                    if not sims:
                        continue
                    if step.batch:
                        jobs.update(self._submit(run, step, sims))
                    else:
                        self.journal.intent(step.id, [s.iccid for s in sims])
                        futures.extend(pool.submit(self._single, run, step, s) for s in sims)
            self._poll(run, pool, jobs)
        except BaseException:
            run.stop.set()
            wait(futures)
            raise
        wait(futures)
        for future in futures:
            error = future.exception()
            if error is not None:
                raise error
        for step in wave:
            if step.id in run.prior.steps_done:
                continue
            have = run.outcomes[step.id]
            if all(
                s.iccid in have and have[s.iccid].outcome is not Outcome.NOT_RUN for s in step.sims
            ):
                self.journal.step_done(step.id)
                run.steps_done += 1
        self._progress(run, f"wave {number}/{len(run.plan.waves)} done")

    def _after_stage(
        self, run: _Run, pool: ThreadPoolExecutor, stage: RolloutStage, steps: Sequence[Step]
    ) -> str | None:
        """The rollout check after a rollout step; the reason when it stops the run."""
        stopped: str | None
        if not all(s.id in run.prior.steps_done or self._settled(run, s) for s in steps):
            stopped = (
                f"rollout paused after step {stage.id}: some of its SIMs were not settled (a "
                "batch job's answer was lost); `fleetform apply --resume` settles them, checks "
                "the step and goes on"
            )
        else:
            stopped = self.rollout.after_stage(
                run.plan,
                stage,
                steps,
                run.outcomes,
                lambda iccids: self._read(run, pool, iccids),
                run.prior,
            )
        if stopped is not None:
            self.journal.aborted(stopped)
            self.reporter.warn(stopped)
        return stopped

    @staticmethod
    def _settled(run: _Run, step: Step) -> bool:
        have = run.outcomes[step.id]
        return all(
            s.iccid in have and have[s.iccid].outcome is not Outcome.NOT_RUN for s in step.sims
        )

    def _blocked(self, run: _Run, *, before_wave: int) -> dict[str, SimOutcome]:
        """SIMs not done in an earlier wave, with the outcome they get here: skipped after a
        failed, stale or skipped SIM; not run (left for resume) while an earlier step's batch
        job submit went unanswered, since that job may yet do the earlier change."""
        blocked: dict[str, SimOutcome] = {}
        for step in run.plan.steps:
            if step.wave >= before_wave:
                continue
            for iccid, outcome in run.outcomes[step.id].items():
                if outcome.outcome is Outcome.DONE or iccid in blocked:
                    continue
                kind = Outcome.NOT_RUN if outcome.outcome is Outcome.NOT_RUN else Outcome.SKIPPED
                reason = f"{outcome.outcome.value} in step {step.id}"
                blocked[iccid] = SimOutcome(iccid, kind, reason)
        return blocked

    # -- reading -----------------------------------------------------------------------------

    def _read(
        self, run: _Run, pool: ThreadPoolExecutor, iccids: Sequence[str]
    ) -> dict[str, LiveSim | None]:
        """Live records of ``iccids``: single GETs or the paged list, whichever costs less.

        The list costs one request per 100 SIMs of the account (the plan read the account, so
        its ``sims_read`` is the size to expect); single GETs cost one each.
        """
        wanted = list(dict.fromkeys(iccids))
        if not wanted:
            return {}
        if not self._list_is_cheaper(run, wanted):
            found = dict(zip(wanted, pool.map(self._get_or_none, wanted), strict=True))
            return found
        wanted_set = set(wanted)
        live: dict[str, LiveSim | None] = dict.fromkeys(wanted)
        for sim in self.api.iter_sims(account=run.plan.account):
            if sim.iccid in wanted_set:
                live[sim.iccid] = sim
        return live

    @staticmethod
    def _list_is_cheaper(run: _Run, iccids: Sequence[str]) -> bool:
        """`check_reads` is the rule the plan's estimate uses too, with the plan's
        ``account_size`` (a targeted plan read fewer SIMs than the account holds)."""
        wanted = len(set(iccids))
        return check_reads(wanted, run.plan.account_size or wanted) < wanted

    def _verdict(self, run: _Run, step: Step, sim: StepSim, live: LiveSim | None) -> bool:
        """Check one SIM; record and say a verdict; True when the step may proceed."""
        verdict = check(sim, live, run.plan.account)
        if verdict is None:
            return True
        self._record(run, step.id, [verdict])
        if verdict.outcome is Outcome.STALE:
            self.reporter.warn(f"{sim.iccid}: stale, left alone ({verdict.reason})")
        return False

    def _stream(
        self,
        run: _Run,
        pool: ThreadPoolExecutor,
        to_check: Sequence[tuple[Step, StepSim]],
        jobs: dict[str, tuple[Step, tuple[str, ...]]],
        futures: list[Future[None]],
    ) -> None:
        """Check the SIMs page by page as the list arrives, acting at once: a single call is
        sent as soon as its SIM passed, a batch job as soon as every SIM of its step was seen.
        The writes overlap the reading instead of waiting for the last page."""
        entries: dict[str, list[tuple[Step, StepSim]]] = {}
        unseen: dict[str, int] = {}
        proceed: dict[str, list[StepSim]] = {}
        for step, sim in to_check:
            entries.setdefault(sim.iccid, []).append((step, sim))
            unseen[step.id] = unseen.get(step.id, 0) + 1
        singles: dict[str, list[str]] = {}
        for step, sim in to_check:
            if not step.batch:
                singles.setdefault(step.id, []).append(sim.iccid)
        for step_id, iccids in singles.items():
            self.journal.intent(step_id, iccids)  # before the first call of the step

        def seen(step: Step, sim: StepSim, live: LiveSim | None) -> None:
            passed = self._verdict(run, step, sim, live)
            if not step.batch:
                if passed:
                    futures.append(pool.submit(self._single, run, step, sim))
                return
            if passed:
                proceed.setdefault(step.id, []).append(sim)
            unseen[step.id] -= 1
            if unseen[step.id] == 0 and proceed.get(step.id):
                order = {s.iccid: i for i, s in enumerate(step.sims)}
                sims = sorted(proceed[step.id], key=lambda s: order[s.iccid])
                jobs.update(self._submit(run, step, sims))

        for live in self.api.iter_sims(account=run.plan.account):
            for step, sim in entries.pop(live.iccid, ()):
                seen(step, sim, live)
            if not entries:
                break  # every SIM seen: the remaining pages are not needed
        for pending in list(entries.values()):
            for step, sim in pending:
                seen(step, sim, None)  # not in the account any more: stale

    def _get_or_none(self, iccid: str) -> LiveSim | None:
        try:
            return self.api.get_sim(iccid)
        except NotFoundError:
            return None

    def _settle_orphans(
        self,
        run: _Run,
        pool: ThreadPoolExecutor,
        to_check: Sequence[tuple[Step, StepSim]],
        uncertain: set[tuple[str, str]],
        live: dict[str, LiveSim | None],
    ) -> dict[str, LiveSim | None]:
        """Wait once for a batch job that may have been sent but never journaled."""
        waiting = [
            sim.iccid
            for step, sim in to_check
            if (step.id, sim.iccid) in uncertain
            and check(sim, live.get(sim.iccid), run.plan.account) is None
        ]
        if not waiting:
            return live
        self.reporter.info(
            f"{len(waiting)} SIMs were being submitted in a batch job when the last run "
            f"stopped; waiting {self.orphan_grace:g}s for such a job to run before "
            "submitting them again"
        )
        self.clock.sleep(self.orphan_grace)
        return {**live, **self._read(run, pool, waiting)}

    # -- writing -----------------------------------------------------------------------------

    def _submit(
        self, run: _Run, step: Step, sims: Sequence[StepSim]
    ) -> dict[str, tuple[Step, tuple[str, ...]]]:
        operation = step.operation.batch_operation
        assert operation is not None, f"step {step.id}: {step.operation} has no batch call"
        rate_plan = step.rate_plan
        if operation.value == Operation.SET_RATE_PLAN.value and rate_plan is None:
            rate_plan = sims[0].after.get(RATE_PLAN)
        jobs: dict[str, tuple[Step, tuple[str, ...]]] = {}
        for start in range(0, len(sims), BATCH_MAX_SIMS):
            iccids = tuple(s.iccid for s in sims[start : start + BATCH_MAX_SIMS])
            self.journal.intent(step.id, iccids)
            try:
                job = self.api.submit_batch(operation, iccids, rate_plan=rate_plan)
            except (BudgetExhausted, AuthenticationError, ForbiddenError):
                raise
            except ApiError as exc:
                reason = reason_of(exc)
                if may_have_acted(exc):
                    # the job may exist and run: no final outcome; resume settles these SIMs
                    # as orphans of an intent without job id (wait, re-read, never resubmit
                    # a SIM a pending job may hold)
                    reason = (
                        f"batch job submit unanswered ({reason}): it may have been accepted; "
                        "`fleetform apply --resume` checks and finishes these SIMs"
                    )
                    outcome = Outcome.NOT_RUN
                    with run.lock:
                        run.unanswered += len(iccids)
                else:
                    outcome = Outcome.FAILED
                self._record(run, step.id, [SimOutcome(i, outcome, reason) for i in iccids])
                continue
            self.journal.job_submitted(step.id, job.job_id, iccids)
            with run.lock:
                run.job_ids[step.id].append(job.job_id)
                run.job_of.update((f"{step.id}/{i}", job.job_id) for i in iccids)
            jobs[job.job_id] = (step, iccids)
            self._progress(run, f"{step.id}: batch job {job.job_id} submitted ({len(iccids)} SIMs)")
        return jobs

    def _single(self, run: _Run, step: Step, sim: StepSim) -> None:
        if run.stop.is_set():
            return
        try:
            outcome = self._single_outcome(step, sim)
        except (BudgetExhausted, AuthenticationError, ForbiddenError):
            # also when raised by the re-read after a refused call: the run stops, recorded
            run.stop.set()
            raise
        self._record(run, step.id, [outcome])
        self._progress(run, f"{step.id}: {sim.iccid} {outcome.outcome.value}")

    def _single_outcome(self, step: Step, sim: StepSim) -> SimOutcome:
        """Send one SIM's call. A bad key (401) or a refused resource (403) is no verdict on
        the SIM: it propagates and stops the run instead of failing every SIM in turn."""
        try:
            self._call(step, sim)
            return SimOutcome(sim.iccid, Outcome.DONE)
        except IllegalStatus as exc:
            return self._illegal(sim, reason_of(exc))
        except (AuthenticationError, ForbiddenError):
            raise
        except (ServerError, TransportError) as exc:
            # the retries are spent, but the change may have landed before the answer was lost
            try:
                return self._illegal(sim, reason_of(exc))
            except (AuthenticationError, ForbiddenError):
                raise
            except ApiError:
                return SimOutcome(sim.iccid, Outcome.FAILED, reason_of(exc))
        except ApiError as exc:
            return SimOutcome(sim.iccid, Outcome.FAILED, reason_of(exc))

    def _illegal(self, sim: StepSim, reason: str) -> SimOutcome:
        """A refused or unanswered call on a SIM that already holds the step's values counts
        as done (one GET decides); otherwise it failed with ``reason``."""
        live = self._get_or_none(sim.iccid)
        if live is not None and holds_after(sim, live):
            return SimOutcome(sim.iccid, Outcome.DONE, ALREADY)
        return SimOutcome(sim.iccid, Outcome.FAILED, reason)

    def _call(self, step: Step, sim: StepSim) -> None:
        api, iccid, op = self.api, sim.iccid, step.operation
        if op is Operation.ACTIVATE:
            api.activate(iccid)
        elif op is Operation.SUSPEND:
            api.suspend(iccid)
        elif op is Operation.RETIRE:
            api.retire(iccid)
        elif op is Operation.SET_RATE_PLAN:
            plan_name = sim.after.get(RATE_PLAN) or step.rate_plan
            assert plan_name is not None
            api.set_rate_plan(iccid, plan_name)
        elif op is Operation.SUBSCRIBE_PLAN:
            for path in sim.after:
                kind, key = parse_field(path)
                if kind == "supplementaryPlans" and key is not None:
                    api.subscribe_plan(iccid, key)
        elif op is Operation.SET_APN_STATUS:
            for path, value in sorted(sim.after.items()):
                kind, key = parse_field(path)
                if kind == "apns" and key is not None and value is not None:
                    api.set_apn_status(iccid, key, ApnStatus(value))
        elif op is Operation.SET_CUSTOM_FIELDS:
            values: dict[str, str | None] = {}
            for path, value in sim.after.items():
                kind, key = parse_field(path)
                if kind == "customFields" and key is not None:
                    values[key] = value
            api.set_custom_fields(iccid, values)
        else:  # pragma: no cover - every Operation is handled above
            raise AssertionError(f"unknown operation {op}")

    # -- batch jobs --------------------------------------------------------------------------

    def _poll(
        self,
        run: _Run,
        pool: ThreadPoolExecutor,
        jobs: Mapping[str, tuple[Step, tuple[str, ...]]],
    ) -> None:
        """Poll until every job finished; the interval doubles from poll_initial to poll_max."""
        active = dict(jobs)
        interval = self.poll_initial
        while active:
            self._progress(run, f"waiting {interval:g}s for {len(active)} batch job(s)")
            self.clock.sleep(interval)
            for job_id in sorted(active):
                step, iccids = active[job_id]
                try:
                    job: BatchJob | None = self.api.get_batch_job(job_id)
                except NotFoundError:
                    job = None  # the server forgot it: decide by the SIMs' live state
                if job is None or job.status.finished:
                    self._fold(run, pool, step, iccids, job)
                    del active[job_id]
            interval = min(interval * 2, self.poll_max)

    def _fold(
        self,
        run: _Run,
        pool: ThreadPoolExecutor,
        step: Step,
        iccids: Sequence[str],
        job: BatchJob | None,
    ) -> None:
        items = {item.iccid: item for item in job.items} if job is not None else {}
        outcomes: list[SimOutcome] = []
        recheck: dict[str, str] = {}  # iccid -> reason if the SIM does not hold the values
        for iccid in iccids:
            item = items.get(iccid)
            if item is not None and item.ok:
                outcomes.append(SimOutcome(iccid, Outcome.DONE))
            elif item is not None and item.code not in (None, "illegal_status"):
                outcomes.append(SimOutcome(iccid, Outcome.FAILED, item.code))
            elif item is not None:
                recheck[iccid] = item.code or "failed in the batch job"
            elif job is None:
                recheck[iccid] = "batch job no longer known to the server"
            else:
                recheck[iccid] = f"no result in batch job {job.job_id} ({job.status.value})"
        if recheck:
            sims = {s.iccid: s for s in step.sims}
            live = self._read(run, pool, list(recheck))
            for iccid, reason in recheck.items():
                record = live.get(iccid)
                if record is not None and holds_after(sims[iccid], record):
                    outcomes.append(SimOutcome(iccid, Outcome.DONE, ALREADY))
                else:
                    outcomes.append(SimOutcome(iccid, Outcome.FAILED, reason))
        self._record(run, step.id, outcomes)
        failed = sum(1 for o in outcomes if o.outcome is Outcome.FAILED)
        label = job.job_id if job is not None else "?"
        self._progress(
            run,
            f"{step.id}: batch job {label} finished: "
            f"{len(outcomes) - failed} done, {failed} failed",
        )

    # -- records -----------------------------------------------------------------------------

    def _record(self, run: _Run, step_id: str, outcomes: Iterable[SimOutcome]) -> None:
        batch = list(outcomes)
        if not batch:
            return
        self.journal.results(step_id, batch)
        with run.lock:
            for outcome in batch:
                run.outcomes[step_id][outcome.iccid] = outcome

    def _progress(self, run: _Run, message: str) -> None:
        budget = self.api.rate_budget()
        self.reporter.progress(
            Progress(
                steps_done=run.steps_done,
                steps_total=len(run.plan.steps),
                sims_done=run.sims_done,
                sims_total=sum(len(s.sims) for s in run.plan.steps),
                requests_spent=self.api.stats().requests,
                budget_left=budget.remaining if budget is not None else None,
                message=message,
            )
        )

    def _report(
        self,
        run: _Run,
        *,
        start_requests: RequestStats,
        started_at: float,
        stopped: str | None,
    ) -> ApplyReport:
        end = self.api.stats()
        steps = tuple(
            StepReport(
                step_id=step.id,
                wave=step.wave,
                operation=step.operation,
                batch=step.batch,
                sims=tuple(
                    run.outcomes[step.id].get(sim.iccid) or _unfinished(run, step.id, sim.iccid)
                    for sim in step.sims
                ),
                job_ids=tuple(run.job_ids[step.id]),
            )
            for step in run.plan.steps
        )
        return ApplyReport(
            plan_checksum=run.plan.checksum,
            endpoint=run.plan.endpoint,
            account=run.plan.account,
            steps=steps,
            requests_spent=end.requests - start_requests.requests,
            waited_seconds=end.rate_waited_seconds - start_requests.rate_waited_seconds,
            rate_limited=end.rate_limited - start_requests.rate_limited,
            duration_seconds=self.clock.monotonic() - started_at,
            stopped=stopped,
            resumed=run.prior.runs > 0,
        )

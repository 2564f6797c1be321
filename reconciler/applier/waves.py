"""The applier: runs a plan's waves against the API, journaled, paced and crash-safe.

Per wave:

1. Re-read the wave's SIMs (single GETs when few, the paged list when that is cheaper:
   `reconciler.applier.reads`; the list is checked page by page, writes start as soon as their
   SIMs passed, and reading stops once every SIM was seen) and compare each `StepSim.before`
   with live state (`reconciler.applier.verdicts.check`). A SIM that moved is *stale*: left
   alone and reported with what moved. A SIM already holding every value the step sets counts
   as *done* (idempotence; also how a resumed run recognises work a crashed run did without
   journaling it).
2. Submit the batch jobs (only the SIMs that passed the check; `reconciler.applier.batch`),
   journaling the intent before the request and the job id right after the 202; send the
   single calls (`reconciler.applier.calls`) concurrently (bounded by ``concurrency``; the
   client paces itself under the rate limit).
3. Poll the batch jobs with a doubling interval (``poll_initial`` .. ``poll_max``): few requests.
   Per-SIM results are folded into the run's books (`reconciler.applier.books`); a SIM refused
   with ``illegal_status`` is re-read and counts as done when it already holds the step's values.

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

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import replace

from reconciler.applier.batch import BatchJobs, Jobs
from reconciler.applier.books import Run, WaveWork
from reconciler.applier.calls import single_outcome
from reconciler.applier.reads import list_is_cheaper, read_live
from reconciler.applier.verdicts import check
from reconciler.clock import Clock
from reconciler.errors import (
    AuthenticationError,
    BudgetExhausted,
    Cancelled,
    ForbiddenError,
    JournalError,
)
from reconciler.journal import Journal, JournalState
from reconciler.model import (
    ApplyReport,
    LiveSim,
    Outcome,
    Plan,
    RolloutStage,
    Step,
    StepSim,
)
from reconciler.reporting import Reporter
from reconciler.rollout import StageCheck
from reconciler.smarthub.api import SmartHubApi

INTERRUPTED = (
    "interrupted (Ctrl+C): nothing more was sent; what was done is in the journal: "
    "run `fleetform apply --resume` to continue"
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
        self.orphan_grace = orphan_grace
        self.batches = BatchJobs(api, clock, poll_initial=poll_initial, poll_max=poll_max)
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
        run = Run.start(plan, prior, journal=self.journal, reporter=self.reporter, api=self.api)
        if not plan.rollout and self.rollout.gate is not None:
            self.reporter.warn("--gate has no effect: the plan has no rollout (spec.rollout)")
        stopped, stopped_at = self._units(run)
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
        report = run.report(
            start=start,
            duration_seconds=self.clock.monotonic() - started_at,
            stopped=stopped,
        )
        if stopped_at is not None:
            report = replace(report, rollout_stopped_at=stopped_at)
        if stopped is None:
            self.journal.finished(complete=report.complete)
        run.progress("finished" if stopped is None else "stopped")
        return report

    def _units(self, run: Run) -> tuple[str | None, str | None]:
        """Run the plan's units (waves, or rollout steps); why and where the run stopped."""
        prior = run.prior
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="apply") as pool:
            try:
                for stage, steps in run.plan.units:
                    if stage is not None and not all(s.id in prior.steps_done for s in steps):
                        self.reporter.info(
                            f"rollout step {stage.id} (wave {stage.wave}, step {stage.number} of "
                            f"{stage.of}: {stage.share}): {stage.sims:,} SIMs"
                        )
                    if steps:
                        self._wave(run, pool, steps[0].wave, steps)
                    if stage is not None and stage.checked:
                        stopped = self._after_stage(run, pool, stage, steps)
                        if stopped is not None:
                            run.held_back = f"held back: the rollout stopped after step {stage.id}"
                            return stopped, stage.id
            except BudgetExhausted as exc:
                stopped = (
                    f"stopped at the request budget ({exc}); "
                    "run `fleetform apply --resume` to continue"
                )
                self.journal.aborted(stopped)
                self.reporter.warn(stopped)
                return stopped, None
            except (KeyboardInterrupt, Cancelled):
                run.stop.set()
                pool.shutdown(wait=False, cancel_futures=True)  # queued SIMs are never sent
                self.journal.aborted(INTERRUPTED)
                self.reporter.warn(INTERRUPTED)
                raise
            except BaseException as exc:
                run.stop.set()
                self.journal.aborted(f"error: {exc}")
                raise
        return None, None

    def _wave(self, run: Run, pool: ThreadPoolExecutor, number: int, wave: Sequence[Step]) -> None:
        work = run.wave_work(number, wave)
        total = sum(len(s.sims) for s in wave)
        run.progress(f"wave {number}/{len(run.plan.waves)}: {total} SIMs, checking live state")
        futures: list[Future[None]] = []
        try:
            to_read = [sim.iccid for _, sim in work.to_check]
            if not work.uncertain and list_is_cheaper(run.plan, to_read):
                self._stream(run, pool, work.to_check, work.jobs, futures)
            else:
                live = self._read(run, pool, to_read)
                if work.uncertain:
                    live = self._settle_orphans(run, pool, work.to_check, work.uncertain, live)
                self._act(run, pool, wave, work, live, futures)
            self.batches.poll(run, work.jobs, lambda ids: self._read(run, pool, ids))
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
            if step.id not in run.prior.steps_done and run.settled(step):
                self.journal.step_done(step.id)
                run.steps_done += 1
        run.progress(f"wave {number}/{len(run.plan.waves)} done")

    def _act(
        self,
        run: Run,
        pool: ThreadPoolExecutor,
        wave: Sequence[Step],
        work: WaveWork,
        live: dict[str, LiveSim | None],
        futures: list[Future[None]],
    ) -> None:
        """Check every SIM against the live records read, then submit the batch jobs and send
        the single calls of the SIMs that passed."""
        proceed: dict[str, list[StepSim]] = {}
        for step, sim in work.to_check:
            if self._verdict(run, step, sim, live.get(sim.iccid)):
                proceed.setdefault(step.id, []).append(sim)
        for step in wave:
            sims = proceed.get(step.id, [])
            if not sims:
                continue
            if step.batch:
                work.jobs.update(self.batches.submit(run, step, sims))
            else:
                self.journal.intent(step.id, [s.iccid for s in sims])
                futures.extend(pool.submit(self._single, run, step, s) for s in sims)

    def _after_stage(
        self, run: Run, pool: ThreadPoolExecutor, stage: RolloutStage, steps: Sequence[Step]
    ) -> str | None:
        """The rollout check after a rollout step; the reason when it stops the run."""
        stopped: str | None
        if not all(s.id in run.prior.steps_done or run.settled(s) for s in steps):
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

    # -- reading -----------------------------------------------------------------------------

    def _read(
        self, run: Run, pool: ThreadPoolExecutor, iccids: Sequence[str]
    ) -> dict[str, LiveSim | None]:
        return read_live(self.api, pool, run.plan, iccids)

    def _verdict(self, run: Run, step: Step, sim: StepSim, live: LiveSim | None) -> bool:
        """Check one SIM; record and say a verdict; True when the step may proceed."""
        verdict = check(sim, live, run.plan.account)
        if verdict is None:
            return True
        run.record(step.id, [verdict])
        if verdict.outcome is Outcome.STALE:
            self.reporter.warn(f"{sim.iccid}: stale, left alone ({verdict.reason})")
        return False

    def _stream(
        self,
        run: Run,
        pool: ThreadPoolExecutor,
        to_check: Sequence[tuple[Step, StepSim]],
        jobs: Jobs,
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
                jobs.update(self.batches.submit(run, step, sims))

        for live in self.api.iter_sims(account=run.plan.account):
            for step, sim in entries.pop(live.iccid, ()):
                seen(step, sim, live)
            if not entries:
                break  # every SIM seen: the remaining pages are not needed
        for pending in list(entries.values()):
            for step, sim in pending:
                seen(step, sim, None)  # not in the account any more: stale

    def _settle_orphans(
        self,
        run: Run,
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

    def _single(self, run: Run, step: Step, sim: StepSim) -> None:
        if run.stop.is_set():
            return
        try:
            outcome = single_outcome(self.api, step, sim)
        except (BudgetExhausted, AuthenticationError, ForbiddenError):
            # also when raised by the re-read after a refused call: the run stops, recorded
            run.stop.set()
            raise
        run.record(step.id, [outcome])
        run.progress(f"{step.id}: {sim.iccid} {outcome.outcome.value}")


__all__ = ["INTERRUPTED", "Applier"]

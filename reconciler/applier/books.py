"""The books of one apply run: every SIM's outcome so far, what each wave has left to do
(`Run.wave_work`: settled, skipped, held in a job an earlier run submitted, or to check), the
batch jobs, progress lines and the final `ApplyReport`.

Outcomes are written to the journal before they enter the run's own record, so a crash never
leaves the report ahead of the journal. The run's threads (single calls run concurrently)
update it under ``lock``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from reconciler.journal import Journal, JournalState
from reconciler.model import ApplyReport, Outcome, Plan, SimOutcome, Step, StepReport, StepSim
from reconciler.reporting import Progress, Reporter
from reconciler.smarthub.api import RequestStats, SmartHubApi


@dataclass
class WaveWork:
    """What a wave has to do once the SIMs settled earlier are set aside."""

    to_check: list[tuple[Step, StepSim]] = field(default_factory=list)
    # batch jobs an earlier run submitted: polled, not checked or submitted again
    jobs: dict[str, tuple[Step, tuple[str, ...]]] = field(default_factory=dict)
    # (step id, iccid) of batch SIMs with an intent but no job id: maybe in an orphaned job
    uncertain: set[tuple[str, str]] = field(default_factory=set)


@dataclass
class Run:
    """Mutable bookkeeping of one run (guarded by ``lock``)."""

    plan: Plan
    journal: Journal
    reporter: Reporter
    api: SmartHubApi  # asked for the requests spent and the budget left, for progress lines
    outcomes: dict[str, dict[str, SimOutcome]]
    job_ids: dict[str, list[str]]
    prior: JournalState
    job_of: dict[str, str] = field(default_factory=dict)  # "step id/iccid" -> its batch job
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    steps_done: int = 0
    unanswered: int = 0  # SIMs in batch job submits that may have reached the server
    held_back: str | None = None  # why SIMs not reached were not run (a rollout stop)

    @classmethod
    def start(
        cls,
        plan: Plan,
        prior: JournalState,
        *,
        journal: Journal,
        reporter: Reporter,
        api: SmartHubApi,
    ) -> Run:
        """The books of a new run, or of a resumed one from the journal's ``prior`` state."""
        run = cls(
            plan=plan,
            journal=journal,
            reporter=reporter,
            api=api,
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
        return run

    @property
    def sims_done(self) -> int:
        return sum(len(v) for v in self.outcomes.values())

    def settled(self, step: Step) -> bool:
        """Every SIM of ``step`` has an outcome other than not run."""
        have = self.outcomes[step.id]
        return all(
            s.iccid in have and have[s.iccid].outcome is not Outcome.NOT_RUN for s in step.sims
        )

    def blocked(self, *, before_wave: int) -> dict[str, SimOutcome]:
        """SIMs not done in an earlier wave, with the outcome they get here: skipped after a
        failed, stale or skipped SIM; not run (left for resume) while an earlier step's batch
        job submit went unanswered, since that job may yet do the earlier change."""
        blocked: dict[str, SimOutcome] = {}
        for step in self.plan.steps:
            if step.wave >= before_wave:
                continue
            for iccid, outcome in self.outcomes[step.id].items():
                if outcome.outcome is Outcome.DONE or iccid in blocked:
                    continue
                kind = Outcome.NOT_RUN if outcome.outcome is Outcome.NOT_RUN else Outcome.SKIPPED
                reason = f"{outcome.outcome.value} in step {step.id}"
                blocked[iccid] = SimOutcome(iccid, kind, reason)
        return blocked

    def wave_work(self, number: int, wave: Sequence[Step]) -> WaveWork:
        """Sort the wave's SIMs: settled already, skipped after an earlier wave, held in a job
        an earlier run submitted, or to be checked now (maybe in an orphaned job)."""
        blocked = self.blocked(before_wave=number)
        work = WaveWork()
        for step in wave:
            if step.id in self.prior.steps_done:
                continue
            have = self.outcomes[step.id]
            skipped: list[SimOutcome] = []
            jobbed: set[str] = set()
            for job in self.prior.jobs.get(step.id, ()):
                open_iccids = tuple(i for i in job.iccids if i not in have)
                if open_iccids:
                    work.jobs[job.job_id] = (step, open_iccids)
                jobbed.update(job.iccids)
            intended = {i for ids in self.prior.intents.get(step.id, ()) for i in ids}
            for sim in step.sims:
                if sim.iccid in have or sim.iccid in jobbed:
                    continue
                if sim.iccid in blocked:
                    skipped.append(blocked[sim.iccid])
                    continue
                work.to_check.append((step, sim))
                if step.batch and sim.iccid in intended:
                    work.uncertain.add((step.id, sim.iccid))
            self.record(step.id, skipped)
        return work

    def record(self, step_id: str, outcomes: Iterable[SimOutcome]) -> None:
        """Journal the outcomes, then keep them."""
        batch = list(outcomes)
        if not batch:
            return
        self.journal.results(step_id, batch)
        with self.lock:
            for outcome in batch:
                self.outcomes[step_id][outcome.iccid] = outcome

    def job_submitted(self, step_id: str, job_id: str, iccids: tuple[str, ...]) -> None:
        """Journal a batch job's id right after the server accepted it, then keep it."""
        self.journal.job_submitted(step_id, job_id, iccids)
        with self.lock:
            self.job_ids[step_id].append(job_id)
            self.job_of.update((f"{step_id}/{i}", job_id) for i in iccids)

    def add_unanswered(self, sims: int) -> None:
        with self.lock:
            self.unanswered += sims

    def progress(self, message: str) -> None:
        budget = self.api.rate_budget()
        self.reporter.progress(
            Progress(
                steps_done=self.steps_done,
                steps_total=len(self.plan.steps),
                sims_done=self.sims_done,
                sims_total=sum(len(s.sims) for s in self.plan.steps),
                requests_spent=self.api.stats().requests,
                budget_left=budget.remaining if budget is not None else None,
                message=message,
            )
        )

    def unfinished(self, step_id: str, iccid: str) -> SimOutcome:
        """A SIM the run stopped before settling: not sent yet, or inside a job not yet
        confirmed."""
        job = self.job_of.get(f"{step_id}/{iccid}")
        if job is None and self.held_back is not None:
            return SimOutcome(iccid, Outcome.NOT_RUN, self.held_back)
        if job is None:
            return SimOutcome(iccid, Outcome.NOT_RUN, "the run stopped before this SIM")
        return SimOutcome(
            iccid,
            Outcome.NOT_RUN,
            f"submitted in batch job {job}, not confirmed before the run stopped: "
            "`fleetform apply --resume` polls it (never submits it again)",
            job_id=job,
        )

    def report(
        self, *, start: RequestStats, duration_seconds: float, stopped: str | None
    ) -> ApplyReport:
        """The run's report: every step's SIMs in plan order, and what this run spent."""
        end = self.api.stats()
        steps = tuple(
            StepReport(
                step_id=step.id,
                wave=step.wave,
                operation=step.operation,
                batch=step.batch,
                sims=tuple(
                    self.outcomes[step.id].get(sim.iccid) or self.unfinished(step.id, sim.iccid)
                    for sim in step.sims
                ),
                job_ids=tuple(self.job_ids[step.id]),
            )
            for step in self.plan.steps
        )
        return ApplyReport(
            plan_checksum=self.plan.checksum,
            endpoint=self.plan.endpoint,
            account=self.plan.account,
            steps=steps,
            requests_spent=end.requests - start.requests,
            waited_seconds=end.rate_waited_seconds - start.rate_waited_seconds,
            rate_limited=end.rate_limited - start.rate_limited,
            duration_seconds=duration_seconds,
            stopped=stopped,
            resumed=self.prior.runs > 0,
            held_back=self.plan.held_back,
        )


__all__ = ["Run", "WaveWork"]

"""The applier against an in-memory SmartHub (tests/fakes.py): waves, batch jobs, stale SIMs,
idempotence, budget stops and resume — asserting on journal, report and recorded sleeps."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import pytest

from reconciler.applier.waves import Applier
from reconciler.clock import FakeClock
from reconciler.errors import AuthenticationError, ForbiddenError, ServerError, TransportError
from reconciler.journal import Journal, JournalStore, iter_journal_lines
from reconciler.model import (
    Operation,
    Outcome,
    Plan,
    PlanSummary,
    Status,
    Step,
    StepSim,
)
from reconciler.render.apply_text import render_apply_text
from reconciler.reporting import RecordingReporter
from tests.fakes import FakeSmartHub, giccid


def make_plan(steps: Sequence[Step], sims_read: int = 100) -> Plan:
    return Plan(
        created_at="2026-01-01T00:00:00Z",
        manifest_digest="d",
        endpoint="http://fake.test/v1",
        account="acme",
        fleet="f",
        summary=PlanSummary(
            sims_declared=sims_read,
            sims_read=sims_read,
            unchanged=0,
            to_change=0,
            unmanaged=0,
            missing=0,
            sims_by_operation={},
            requests_read=1,
            requests_estimated=1,
            duration_estimated_seconds=1.0,
        ),
        steps=tuple(steps),
        checksum="sum-" + "-".join(s.id for s in steps),
    )


def status_step(
    step_id: str,
    wave: int,
    op: Operation,
    iccids: Sequence[str],
    before: str,
    after: str,
    *,
    batch: bool,
) -> Step:
    return Step(
        id=step_id,
        wave=wave,
        operation=op,
        batch=batch,
        sims=tuple(StepSim(i, "g", {"state": before}, {"state": after}) for i in iccids),
        requests=1,
    )


def custom_step(step_id: str, iccids: Sequence[str], value: str, wave: int = 1) -> Step:
    return Step(
        id=step_id,
        wave=wave,
        operation=Operation.SET_CUSTOM_FIELDS,
        batch=False,
        sims=tuple(
            StepSim(
                i,
                "g",
                {"state": "active", "customFields.custom1": None},
                {"customFields.custom1": value},
            )
            for i in iccids
        ),
        requests=len(iccids),
    )


def applier(
    api: FakeSmartHub, tmp_path: Path, plan: Plan, **kwargs: object
) -> tuple[Applier, Journal, FakeClock, RecordingReporter]:
    journal = JournalStore(tmp_path).create(plan.checksum, plan.endpoint, plan.account, "{}")
    clock = FakeClock()
    reporter = RecordingReporter()
    return Applier(api, journal, reporter, clock, **kwargs), journal, clock, reporter  # type: ignore[arg-type]


IDS = [giccid(i) for i in range(6)]


def test_a_batch_suspend_then_retire_runs_in_waves_and_converges(tmp_path: Path) -> None:
    api = FakeSmartHub.seeded(6)
    plan = make_plan(
        [
            status_step("w1-s001", 1, Operation.SUSPEND, IDS, "active", "suspended", batch=True),
            status_step(
                "w2-s001", 2, Operation.RETIRE, IDS[:2], "suspended", "retired", batch=True
            ),
            custom_step("w1-s002", IDS[2:4], "berlin"),
        ]
    )
    app, journal, clock, reporter = applier(api, tmp_path, plan)
    report = app.run(plan)
    assert report.complete
    assert [api.sims[i].status for i in IDS] == [Status.RETIRED] * 2 + [Status.SUSPENDED] * 4
    assert api.sims[IDS[2]].custom_fields["custom1"] == "berlin"
    assert [len(j.iccids) for j in api.jobs.values()] == [6, 2]
    # polls back off: 1 s, then 2 s (the fake finishes a job on its second poll)
    assert clock.sleeps == [1.0, 2.0, 1.0, 2.0]
    assert report.requests_spent == api.requests
    totals = {t.operation: t for t in report.totals}
    assert totals[Operation.SUSPEND].done == 6 and totals[Operation.RETIRE].done == 2
    kinds = [r["kind"] for r in iter_journal_lines(journal.path)]
    assert kinds[:2] == ["plan", "run"] and kinds[-1] == "finished"
    assert kinds.count("step_done") == 3
    assert reporter.updates and reporter.updates[-1].sims_done == 10


def test_the_reads_pick_the_cheaper_of_single_gets_and_the_paged_list(tmp_path: Path) -> None:
    api = FakeSmartHub.seeded(300)
    few = make_plan([custom_step("w1-s001", IDS[:2], "x")], sims_read=300)
    applier(api, tmp_path, few)[0].run(few)
    assert api.calls_named("list") == [] and len(api.calls_named("get_sim")) == 2
    many_ids = [giccid(i) for i in range(50)]
    many = make_plan([custom_step("w1-s001", many_ids, "y")], sims_read=300)
    api.calls.clear()
    applier(api, tmp_path / "2", many)[0].run(many)
    # the list, read only until every SIM was seen (the 50 are on the first page)
    assert api.calls_named("list") == ["1"] and api.calls_named("get_sim") == []


def test_a_sim_moved_since_the_plan_is_stale_left_alone_and_skipped_later(tmp_path: Path) -> None:
    api = FakeSmartHub.seeded(6)
    api.change(IDS[1], status=Status.SUSPENDED, rate_plan="IoT-5GB")
    api.change(IDS[2], custom_fields={"custom1": "moved"})
    plan = make_plan(
        [
            status_step(
                "w1-s001", 1, Operation.SUSPEND, IDS[:1], "active", "suspended", batch=False
            ),
            custom_step("w1-s002", IDS[1:3], "berlin"),
            status_step(
                "w2-s001", 2, Operation.SUSPEND, IDS[1:3], "active", "suspended", batch=True
            ),
        ]
    )
    app, _, _, reporter = applier(api, tmp_path, plan)
    report = app.run(plan)
    assert not report.complete
    custom = report.steps[1].sims
    assert [s.outcome for s in custom] == [Outcome.STALE, Outcome.STALE]
    assert custom[0].moved[0].field == "state"
    assert "state active -> suspended" in (custom[0].reason or "")
    assert "customFields.custom1 (empty) -> moved" in (custom[1].reason or "")
    assert api.sims[IDS[2]].custom_fields["custom1"] == "moved"  # never overwritten
    assert [s.outcome for s in report.steps[2].sims] == [Outcome.SKIPPED] * 2
    assert api.jobs == {}  # nothing left to submit in wave 2
    assert any("stale" in w for w in reporter.warnings)


def test_a_sim_already_in_the_target_state_counts_as_done(tmp_path: Path) -> None:
    api = FakeSmartHub.seeded(2)
    plan = make_plan(
        [status_step("w1-s001", 1, Operation.SUSPEND, IDS[:2], "active", "suspended", batch=False)]
    )
    api.change(IDS[0], status=Status.SUSPENDED)  # someone did it already
    report = applier(api, tmp_path, plan)[0].run(plan)
    assert report.complete
    assert report.steps[0].sims[0].reason == "already as planned"
    assert api.calls_named("suspend") == [IDS[1]]


def test_illegal_status_on_a_sim_that_reached_the_target_is_done(tmp_path: Path) -> None:
    api = FakeSmartHub.seeded(2)
    plan = make_plan(
        [status_step("w1-s001", 1, Operation.SUSPEND, IDS[:2], "active", "suspended", batch=False)]
    )

    def race(name: str, arg: str) -> None:
        if name == "suspend" and arg == IDS[0] and api.sims[arg].status is Status.ACTIVE:
            api.change(arg, status=Status.SUSPENDED)  # another actor got there first

    api.on_request = race
    report = applier(api, tmp_path, plan)[0].run(plan)
    assert report.complete and report.steps[0].sims[0].reason == "already as planned"


def test_partial_batch_failure_reports_the_api_reason_and_the_rest_goes_on(tmp_path: Path) -> None:
    api = FakeSmartHub.seeded(
        6, fail_in_batch={IDS[3]: "internal_error"}, fail_single={IDS[5]: "Internal Server Error"}
    )
    plan = make_plan(
        [
            status_step(
                "w1-s001", 1, Operation.SUSPEND, IDS[:4], "active", "suspended", batch=True
            ),
            custom_step("w1-s002", IDS[4:], "x"),
        ]
    )
    report = applier(api, tmp_path, plan)[0].run(plan)
    outcomes = {s.iccid: s for step in report.steps for s in step.sims}
    assert (
        outcomes[IDS[3]].outcome is Outcome.FAILED and outcomes[IDS[3]].reason == "internal_error"
    )
    assert outcomes[IDS[5]].reason == "500 Internal Server Error"
    assert report.count(Outcome.DONE) == 4 and report.count(Outcome.FAILED) == 2


def test_the_budget_stops_the_run_cleanly_and_resume_finishes_it(tmp_path: Path) -> None:
    api = FakeSmartHub.seeded(20, budget=8)
    ids = [giccid(i) for i in range(20)]
    plan = make_plan(
        [
            custom_step("w1-s001", ids, "x"),
            status_step("w2-s001", 2, Operation.SUSPEND, ids, "active", "suspended", batch=True),
        ],
        sims_read=20,
    )
    app, journal, _, _ = applier(api, tmp_path, plan, concurrency=1)
    report = app.run(plan)
    assert report.stopped and "--resume" in report.stopped
    assert report.count(Outcome.NOT_RUN) > 0 and api.requests == 8
    assert [r["kind"] for r in iter_journal_lines(journal.path)][-1] == "aborted"
    api.budget = None
    done_before = {c for c in api.calls_named("set_custom_fields")}
    resumed = Applier(api, journal, RecordingReporter(), FakeClock()).run(plan, resume=True)
    assert resumed.complete and resumed.resumed
    # nothing done twice
    again = api.calls_named("set_custom_fields")
    assert len(again) == len(set(again)) == 20 and done_before <= set(again)


def test_a_budget_stop_names_the_batch_job_already_submitted(tmp_path: Path) -> None:
    """The job runs on the server whatever happens here: "not run" must say it was submitted,
    so nobody re-plans those SIMs into a second job."""
    ids = [giccid(i) for i in range(20)]
    plan = make_plan(
        [status_step("w1-s001", 1, Operation.SUSPEND, ids, "active", "suspended", batch=True)],
        sims_read=20,
    )
    api = FakeSmartHub.seeded(20, budget=2)  # the live re-check, the submit; no poll
    report = applier(api, tmp_path, plan)[0].run(plan)
    assert report.stopped and api.calls_named("submit_batch")
    (step,) = report.steps
    job = step.job_ids[0]
    assert {s.outcome for s in step.sims} == {Outcome.NOT_RUN}
    assert all(f"submitted in batch job {job}" in (s.reason or "") for s in step.sims)
    assert {s.job_id for s in step.sims} == {job}
    text = render_apply_text(report)
    assert f"20 of them are in submitted batch job {job} (w1-s001 suspend)" in text


def test_resume_polls_a_submitted_job_instead_of_submitting_it_again(tmp_path: Path) -> None:
    api = FakeSmartHub.seeded(4)
    plan = make_plan(
        [status_step("w1-s001", 1, Operation.SUSPEND, IDS[:4], "active", "suspended", batch=True)]
    )
    journal = JournalStore(tmp_path).create(plan.checksum, plan.endpoint, plan.account, "{}")
    journal.begin_run(resume=False)
    journal.intent("w1-s001", IDS[:4])
    job = api.submit_batch(Operation.SUSPEND.batch_operation, IDS[:4])  # type: ignore[arg-type]
    journal.job_submitted("w1-s001", job.job_id, IDS[:4])
    # crash here; on resume:
    report = Applier(api, journal, RecordingReporter(), FakeClock()).run(plan, resume=True)
    assert report.complete and len(api.jobs) == 1
    assert report.steps[0].job_ids == (job.job_id,)


def test_resume_after_a_crash_before_the_job_id_was_journaled_never_puts_a_sim_in_two_jobs(
    tmp_path: Path,
) -> None:
    api = FakeSmartHub.seeded(4)
    plan = make_plan(
        [status_step("w1-s001", 1, Operation.SUSPEND, IDS[:4], "active", "suspended", batch=True)]
    )
    journal = JournalStore(tmp_path).create(plan.checksum, plan.endpoint, plan.account, "{}")
    journal.begin_run(resume=False)
    journal.intent("w1-s001", IDS[:4])
    api.submit_batch(Operation.SUSPEND.batch_operation, IDS[:2])  # type: ignore[arg-type]
    # the job reached the server but its id was never journaled; the server runs it meanwhile
    clock = FakeClock()
    api.on_request = lambda name, arg: api.finish_jobs() if clock.sleeps else None
    report = Applier(api, journal, RecordingReporter(), clock, orphan_grace=7.0).run(
        plan, resume=True
    )
    assert report.complete
    assert clock.sleeps[0] == 7.0
    held = [i for j in api.jobs.values() for i in j.iccids]
    assert sorted(held) == sorted(IDS[:4])  # no SIM in two jobs


def test_a_sim_that_failed_is_skipped_in_later_waves(tmp_path: Path) -> None:
    api = FakeSmartHub.seeded(3, fail_in_batch={IDS[0]: "internal_error"})
    plan = make_plan(
        [
            status_step(
                "w1-s001", 1, Operation.SUSPEND, IDS[:3], "active", "suspended", batch=True
            ),
            status_step(
                "w2-s001", 2, Operation.RETIRE, IDS[:3], "suspended", "retired", batch=True
            ),
        ]
    )
    report = applier(api, tmp_path, plan)[0].run(plan)
    wave2 = report.steps[1].sims
    assert wave2[0].outcome is Outcome.SKIPPED and "w1-s001" in (wave2[0].reason or "")
    assert list(api.jobs.values())[1].iccids == tuple(IDS[1:3])


def test_resume_refuses_the_journal_of_another_plan(tmp_path: Path) -> None:
    api = FakeSmartHub.seeded(1)
    plan = make_plan([custom_step("w1-s001", IDS[:1], "x")])
    other = dataclasses.replace(plan, checksum="other")
    journal = JournalStore(tmp_path).create(plan.checksum, plan.endpoint, plan.account, "{}")
    from reconciler.errors import JournalError

    with pytest.raises(JournalError, match="belongs to plan"):
        Applier(api, journal, RecordingReporter(), FakeClock()).run(other, resume=True)


def test_check_explains_what_moved() -> None:
    from reconciler.applier.verdicts import check
    from reconciler.model import LiveSim

    sim = StepSim(
        IDS[0],
        "g",
        {"state": "active", "customFields.custom1": None},
        {"customFields.custom1": "x"},
    )
    live = LiveSim(IDS[0], Status.ACTIVE, "acme", custom_fields={"custom1": None})
    assert check(sim, live, "acme") is None
    moved = dataclasses.replace(live, status=Status.SUSPENDED, custom_fields={"custom1": "y"})
    verdict = check(sim, moved, "acme")
    assert verdict is not None and verdict.outcome is Outcome.STALE
    assert [(m.field, m.before, m.after) for m in verdict.moved] == [
        ("customFields.custom1", None, "y"),
        ("state", "active", "suspended"),
    ]
    done = check(sim, dataclasses.replace(live, custom_fields={"custom1": "x"}), "acme")
    assert done is not None and done.outcome is Outcome.DONE
    gone = check(sim, None, "acme")
    assert gone is not None and gone.reason == "no longer in the account"


def test_a_write_that_landed_but_lost_its_answer_counts_as_done(tmp_path: Path) -> None:
    api = FakeSmartHub.seeded(2)
    api.lose_answer.add(IDS[0])
    plan = make_plan([custom_step("w1-s001", IDS[:2], "x")])
    report = applier(api, tmp_path, plan)[0].run(plan)
    assert report.complete
    assert report.steps[0].sims[0].reason == "already as planned"


def test_with_the_list_writes_start_while_later_pages_are_still_to_read(tmp_path: Path) -> None:
    api = FakeSmartHub.seeded(300)
    first_page = [giccid(i) for i in range(0, 40)]
    last_page = [giccid(i) for i in range(260, 299)]
    gone = giccid(299)
    del api.sims[gone]
    plan = make_plan(
        [
            status_step(
                "w1-s001", 1, Operation.SUSPEND, first_page, "active", "suspended", batch=True
            ),
            status_step(
                "w1-s002",
                1,
                Operation.SUSPEND,
                [*last_page, gone],
                "active",
                "suspended",
                batch=True,
            ),
            custom_step("w1-s003", [giccid(i) for i in range(100, 110)], "x"),
        ],
        sims_read=300,
    )
    report = applier(api, tmp_path, plan)[0].run(plan)
    order = [(name, arg) for name, arg in api.calls if name in ("list", "submit_batch")]
    assert order[:3] == [("list", "1"), ("submit_batch", "suspend"), ("list", "2")]
    assert report.steps[1].sims[-1].reason == "no longer in the account"
    assert report.count(Outcome.DONE) == 40 + 39 + 10


class Crash(BaseException):
    """Stands in for ``kill -9``: nothing after it runs."""


def write_sealed(plan: Plan, path: Path) -> Path:
    from reconciler.planfile import plan_to_json, seal

    path.write_text(plan_to_json(seal(plan)), encoding="utf-8")
    return path


def test_apply_again_without_resume_after_a_crash_resumes_instead_of_resubmitting(
    tmp_path: Path,
) -> None:
    from reconciler.commands.apply import ApplyOptions, apply_plan

    api = FakeSmartHub.seeded(4)
    plan = make_plan(
        [status_step("w1-s001", 1, Operation.SUSPEND, IDS[:4], "active", "suspended", batch=True)]
    )
    options = ApplyOptions(plan_file=write_sealed(plan, tmp_path / "plan.json"))

    def crash(name: str, arg: str) -> None:
        if name == "get_batch_job":
            raise Crash

    api.on_request = crash
    with pytest.raises(Crash):
        apply_plan(api, options, RecordingReporter(), state_dir=tmp_path, clock=FakeClock())
    api.on_request = None
    # a CI retry runs the very same command, without --resume
    reporter = RecordingReporter()
    report = apply_plan(api, options, reporter, state_dir=tmp_path, clock=FakeClock())
    assert report.complete and report.resumed
    assert len(api.jobs) == 1  # the pending job was polled, not submitted again
    assert any("did not finish: resuming it" in m for m in reporter.infos)
    # a finished plan applied again: re-checked, already as planned, nothing sent
    again = RecordingReporter()
    report = apply_plan(api, options, again, state_dir=tmp_path, clock=FakeClock())
    assert report.complete and len(api.jobs) == 1
    assert {s.reason for s in report.steps[0].sims} == {"already as planned"}
    assert any("applied before" in m for m in again.infos)


def test_a_new_plan_is_refused_while_another_apply_of_the_account_has_jobs_pending(
    tmp_path: Path,
) -> None:
    from reconciler.commands.apply import ApplyOptions, apply_plan
    from reconciler.errors import JournalError

    api = FakeSmartHub.seeded(4)
    first = make_plan(
        [status_step("w1-s001", 1, Operation.SUSPEND, IDS[:4], "active", "suspended", batch=True)]
    )
    second = make_plan(
        [status_step("w1-s001", 1, Operation.SUSPEND, IDS[:3], "active", "suspended", batch=True)]
    )
    second = dataclasses.replace(second, fleet="other")  # another checksum

    def crash(name: str, arg: str) -> None:
        if name == "get_batch_job":
            raise Crash

    api.on_request = crash
    with pytest.raises(Crash):
        apply_plan(
            api,
            ApplyOptions(plan_file=write_sealed(first, tmp_path / "1.json")),
            RecordingReporter(),
            state_dir=tmp_path,
            clock=FakeClock(),
        )
    api.on_request = None
    with pytest.raises(JournalError, match="--resume"):
        apply_plan(
            api,
            ApplyOptions(plan_file=write_sealed(second, tmp_path / "2.json")),
            RecordingReporter(),
            state_dir=tmp_path,
            clock=FakeClock(),
        )
    assert len(api.jobs) == 1


class LosesSubmitAnswers(FakeSmartHub):
    """The server accepts the batch job, then the answer is lost (or it answers a 5xx)."""

    error: Exception

    def submit_batch(self, operation, iccids, *, rate_plan=None):  # type: ignore[no-untyped-def]
        super().submit_batch(operation, iccids, rate_plan=rate_plan)
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        TransportError("connection reset", method="POST", url="/batch", maybe_sent=True),
        ServerError(500, "Internal Server Error", method="POST", url="/batch"),
    ],
    ids=["answer-lost", "5xx"],
)
def test_a_batch_submit_that_may_have_reached_the_server_is_settled_on_resume_not_failed(
    tmp_path: Path, error: Exception
) -> None:
    api = LosesSubmitAnswers([s for s in FakeSmartHub.seeded(4).sims.values()])
    api.error = error
    plan = make_plan(
        [
            status_step(
                "w1-s001", 1, Operation.SUSPEND, IDS[:4], "active", "suspended", batch=True
            ),
            status_step(
                "w2-s001", 2, Operation.RETIRE, IDS[:4], "suspended", "retired", batch=True
            ),
        ]
    )
    app, journal, _, reporter = applier(api, tmp_path, plan)
    report = app.run(plan)
    assert any("answer was lost" in w for w in reporter.warnings)
    assert not report.complete and report.stopped and "--resume" in report.stopped
    assert {s.outcome for s in report.steps[0].sims} == {Outcome.NOT_RUN}
    assert "may have been accepted" in (report.steps[0].sims[0].reason or "")
    # the retire waits for that job: not run (resume does it), not skipped for good
    assert {s.outcome for s in report.steps[1].sims} == {Outcome.NOT_RUN}
    assert len(api.jobs) == 1
    state = journal.state()
    assert not state.finished and state.aborted and state.final_results("w1-s001") == {}
    # the job ran meanwhile; resume finds the SIMs suspended and submits no second job for them
    api.finish_jobs()
    after = FakeSmartHub(list(api.sims.values()))
    second = Applier(after, journal, RecordingReporter(), FakeClock()).run(plan, resume=True)
    assert second.complete
    assert {s.reason for s in second.steps[0].sims} == {"already as planned"}
    assert [j.operation.value for j in after.jobs.values()] == ["retire"]


def test_a_sim_moved_to_another_account_is_stale_and_left_alone(tmp_path: Path) -> None:
    api = FakeSmartHub.seeded(300)
    api.change(IDS[0], account="globex")  # a single GET still finds it
    plan = make_plan(
        [status_step("w1-s001", 1, Operation.SUSPEND, IDS[:2], "active", "suspended", batch=False)],
        sims_read=300,
    )
    report = applier(api, tmp_path, plan)[0].run(plan)
    moved = report.steps[0].sims[0]
    assert moved.outcome is Outcome.STALE and "globex" in (moved.reason or "")
    assert api.calls_named("suspend") == [IDS[1]]
    assert api.sims[IDS[0]].status is Status.ACTIVE


class RefusesKey(FakeSmartHub):
    """Raises ``write_error`` on single writes, and ``reread_error`` on reads of a SIM after
    its first (the check's) read."""

    write_error: Exception | None = None
    reread_error: Exception | None = None

    def set_custom_fields(self, iccid, values):  # type: ignore[no-untyped-def]
        if self.write_error is not None:
            raise self.write_error
        super().set_custom_fields(iccid, values)

    def get_sim(self, iccid):  # type: ignore[no-untyped-def]
        if self.reread_error is not None and iccid in self.calls_named("get_sim"):
            raise self.reread_error
        return super().get_sim(iccid)


UNAUTHORIZED = AuthenticationError(401, "Unauthorized", method="PUT", url="/x")
FORBIDDEN = ForbiddenError(403, "Forbidden", method="PUT", url="/x")
LOST = ServerError(502, "Bad Gateway", method="PUT", url="/x")


@pytest.mark.parametrize(
    ("write_error", "reread_error", "expected"),
    [
        (UNAUTHORIZED, None, AuthenticationError),
        (FORBIDDEN, None, ForbiddenError),
        (LOST, UNAUTHORIZED, AuthenticationError),  # the re-read after a lost answer
        (LOST, FORBIDDEN, ForbiddenError),
    ],
    ids=["401", "403", "401-on-reread", "403-on-reread"],
)
def test_a_401_or_403_stops_the_run_recorded_instead_of_failing_each_sim(
    tmp_path: Path, write_error: Exception, reread_error: Exception | None, expected: type
) -> None:
    api = RefusesKey(list(FakeSmartHub.seeded(4).sims.values()))
    api.write_error, api.reread_error = write_error, reread_error
    plan = make_plan([custom_step("w1-s001", IDS[:4], "x")], sims_read=1000)  # single GETs
    app, journal, _, _ = applier(api, tmp_path, plan, concurrency=1)
    with pytest.raises(expected):
        app.run(plan)
    records = list(iter_journal_lines(journal.path))
    assert (
        records[-1]["kind"] == "aborted" and str(expected_status(expected)) in records[-1]["reason"]
    )
    assert not [r for r in records if r["kind"] == "sim"]  # no SIM blamed for the key
    assert len(api.calls_named("set_custom_fields")) <= 1  # the others were not tried


def expected_status(error: type) -> int:
    return 401 if error is AuthenticationError else 403


def test_sims_skipped_before_a_resume_are_reported_skipped_not_as_not_run(tmp_path: Path) -> None:
    api = FakeSmartHub.seeded(5, fail_in_batch={IDS[0]: "internal_error"})
    plan = make_plan(
        [
            status_step(
                "w1-s001", 1, Operation.SUSPEND, IDS[:3], "active", "suspended", batch=True
            ),
            status_step(
                "w2-s001", 2, Operation.RETIRE, IDS[:3], "suspended", "retired", batch=True
            ),
            custom_step("w3-s001", IDS[3:5], "x", wave=3),
        ]
    )
    app, journal, _, _ = applier(api, tmp_path, plan, concurrency=1)
    api.budget = 10  # stops in wave 3, after wave 2 skipped the SIM that failed in wave 1
    first = app.run(plan)
    assert first.stopped and first.steps[1].sims[0].outcome is Outcome.SKIPPED
    api.budget = None
    resumed = Applier(api, journal, RecordingReporter(), FakeClock()).run(plan, resume=True)
    skipped = resumed.steps[1].sims[0]
    assert skipped.outcome is Outcome.SKIPPED and "w1-s001" in (skipped.reason or "")
    assert resumed.count(Outcome.NOT_RUN) == 0

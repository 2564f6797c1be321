"""The apply report's renderers and the progress reporters."""

from __future__ import annotations

import io
import json

from reconciler.clock import FakeClock
from reconciler.model import (
    ApplyReport,
    FieldChange,
    Operation,
    Outcome,
    SimOutcome,
    StepReport,
)
from reconciler.render.apply_json import render_apply_json
from reconciler.render.apply_markdown import render_apply_markdown
from reconciler.render.apply_progress import PlainApplyReporter, RichApplyReporter
from reconciler.render.apply_text import render_apply_text
from reconciler.reporting import Progress

MOVED = (FieldChange("state", "active", "suspended"),)


def report(stopped: str | None = None) -> ApplyReport:
    return ApplyReport(
        plan_checksum="sha256:abc",
        endpoint="http://x/v1",
        account="acme",
        steps=(
            StepReport(
                "w1-s001",
                1,
                Operation.SUSPEND,
                True,
                (
                    SimOutcome("1", Outcome.DONE),
                    SimOutcome("2", Outcome.FAILED, "illegal_status"),
                    SimOutcome("3", Outcome.STALE, "moved since the plan: state", MOVED),
                ),
                job_ids=("job-1",),
            ),
            StepReport(
                "w2-s001",
                2,
                Operation.RETIRE,
                True,
                (
                    SimOutcome("1", Outcome.NOT_RUN, "stopped"),
                    SimOutcome("2", Outcome.SKIPPED, "failed in step w1-s001"),
                ),
            ),
        ),
        requests_spent=42,
        waited_seconds=3.5,
        rate_limited=1,
        duration_seconds=9.0,
        stopped=stopped,
    )


def test_totals_per_operation_and_the_verdict() -> None:
    totals = {t.operation: t for t in report().totals}
    assert (totals[Operation.SUSPEND].done, totals[Operation.SUSPEND].failed) == (1, 1)
    assert totals[Operation.SUSPEND].stale == 1
    assert (totals[Operation.RETIRE].skipped, totals[Operation.RETIRE].not_run) == (1, 1)
    assert not report().complete


def test_text_lists_failed_stale_and_skipped_with_reasons_and_the_cost() -> None:
    text = render_apply_text(report())
    assert (
        "  suspend                    1         0       1       1        0        0" in text
    )  # done, in place, failed, stale, skipped, not run
    assert "Failed (1):\n  w1-s001 suspend 2: illegal_status" in text
    assert "w1-s001 suspend 3: moved since the plan: state" in text
    assert "Skipped: failed or stale in an earlier step (1):" in text
    assert "42 requests spent, waited 3.5 s for the rate limit, 1 answered 429, 9.0 s." in text
    assert "1 failed and 1 stale" in text
    stopped = render_apply_text(
        report("stopped at the request budget; run `fleetform apply --resume`")
    )
    assert stopped.rstrip().endswith("run `fleetform apply --resume`")


def test_markdown_has_a_totals_table_and_collapsible_lists() -> None:
    md = render_apply_markdown(report())
    assert "| suspend | 1 | 0 | 1 | 1 | 0 | 0 |" in md
    assert "<details><summary>Failed: 1</summary>" in md
    assert "| w1-s001 | suspend | `2` | illegal_status |" in md


def test_json_carries_every_sim_and_what_moved() -> None:
    data = json.loads(render_apply_json(report()))
    assert data["format"] == "fleetform.apply-report/v1" and data["complete"] is False
    stale = data["steps"][0]["sims"][2]
    assert stale["moved"] == [{"field": "state", "plan": "active", "live": "suspended"}]
    assert data["steps"][0]["job_ids"] == ["job-1"]


def update(message: str, done: int = 0) -> Progress:
    return Progress(1, 3, done, 100, 17, budget_left=4000, message=message)


def test_plain_progress_is_throttled_but_keeps_waves_and_jobs() -> None:
    out, clock = io.StringIO(), FakeClock()
    plain = PlainApplyReporter(out, clock, interval=5.0)
    plain.progress(update("w1-s001: 1 done", 1))
    plain.progress(update("w1-s001: 2 done", 2))  # within 5 s: dropped
    plain.progress(update("wave 1/3 done", 3))  # always shown
    clock.advance(6)
    plain.progress(update("w1-s001: 4 done", 4))
    plain.warn("careful")
    lines = out.getvalue().splitlines()
    assert lines == [
        "[1/3 steps, 1/100 SIMs, 17 requests, 4000 left in the window] w1-s001: 1 done",
        "[1/3 steps, 3/100 SIMs, 17 requests, 4000 left in the window] wave 1/3 done",
        "[1/3 steps, 4/100 SIMs, 17 requests, 4000 left in the window] w1-s001: 4 done",
        "Warning: careful",
    ]


def test_rich_progress_draws_a_bar_with_requests_and_budget() -> None:
    out = io.StringIO()
    with RichApplyReporter(out, width=160) as rich:
        rich.info("hello")
        rich.progress(update("wave 1/3", 50))
    text = out.getvalue()
    assert "hello" in text and "50/100" in text and "4000 left in the window" in text


def test_a_wait_for_the_rate_window_is_said_in_the_bar_and_as_a_line() -> None:
    out = io.StringIO()
    with RichApplyReporter(out, width=200) as rich:
        rich.progress(update("w1-s001: 3 done", 3))
        rich.waiting(12.0, "X-RateLimit-Remaining 0")
    text = out.getvalue()
    assert "rate limit: waiting 12.0s for the window to reset" in text
    assert "waiting 12s for the rate limit" in text
    plain_out = io.StringIO()
    PlainApplyReporter(plain_out, FakeClock()).waiting(3.5, "429")
    assert plain_out.getvalue() == "rate limit: waiting 3.5s for the window to reset (429)\n"


def already_report(*outcomes: SimOutcome) -> ApplyReport:
    return ApplyReport(
        plan_checksum="sha256:abc",
        endpoint="http://x/v1",
        account="acme",
        steps=(StepReport("w1-s001", 1, Operation.SET_CUSTOM_FIELDS, False, outcomes),),
        requests_spent=3,
        waited_seconds=0.0,
    )


def test_sims_already_in_place_are_not_claimed_as_done_by_this_apply() -> None:
    from reconciler.model import ALREADY

    mixed = already_report(SimOutcome("1", Outcome.DONE), SimOutcome("2", Outcome.DONE, ALREADY))
    (totals,) = mixed.totals
    assert (totals.done, totals.already) == (1, 1) and mixed.complete
    text = render_apply_text(mixed)
    assert "Apply complete: 1 SIM change done, 1 already in place." in text
    assert "Already in place" in text and "w1-s001 set_custom_fields 2" in text
    markdown = render_apply_markdown(mixed)
    assert "| in place |" in markdown and "`2`" in markdown
    data = json.loads(render_apply_json(mixed))
    assert (data["changed"], data["already_in_place"]) == (1, 1)
    assert [s.get("already_in_place", False) for s in data["steps"][0]["sims"]] == [False, True]

    again = already_report(*(SimOutcome(i, Outcome.DONE, ALREADY) for i in "123456"))
    text = render_apply_text(again)
    assert "Nothing left to do: all 6 SIM changes of this plan were already in place" in text
    assert "done." not in text.splitlines()[-1]
    nothing = already_report()
    assert render_apply_text(replace_steps(nothing)).splitlines()[-1].startswith("Nothing to do")


def replace_steps(report: ApplyReport) -> ApplyReport:
    from dataclasses import replace

    return replace(report, steps=())

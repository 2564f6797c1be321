"""The apply report as plain text (the terminal, CI logs)."""

from __future__ import annotations

from collections.abc import Iterator

from reconciler.model import ApplyReport, Outcome, SimOutcome, StepReport

LISTED = 50  # SIMs listed per outcome before "and N more"


def outcomes_of(report: ApplyReport, outcome: Outcome) -> list[tuple[StepReport, SimOutcome]]:
    return [(step, sim) for step in report.steps for sim in step.sims if sim.outcome is outcome]


def _changes(count: int) -> str:
    return f"{count} SIM change{'s' if count != 1 else ''}"


def verdict(report: ApplyReport) -> str:
    """One line: what happened, and what the exit code will say.

    Honest about who did what: SIM changes found already in place (an earlier apply of the
    same plan, or a hand edit) are not claimed as done by this apply."""
    if report.stopped:
        return report.stopped
    if report.complete:
        return _complete(report) + _held_back_note(report)
    failed, stale = report.count(Outcome.FAILED), report.count(Outcome.STALE)
    return (
        f"Apply finished with {failed} failed and {stale} stale SIM change"
        f"{'s' if failed + stale != 1 else ''} (exit 3); see above."
    )


def _complete(report: ApplyReport) -> str:
    changed, already = report.changed, report.already_in_place
    if not report.steps:
        if report.held_back:
            return "Nothing to apply."
        return "Nothing to do: the account already matches the manifests."
    if changed == 0:
        return (
            f"Nothing left to do: all {_changes(already)} of this plan were already in "
            "place (already applied); no change was made."
        )
    if already:
        return f"Apply complete: {_changes(changed)} done, {already} already in place."
    return f"Apply complete: {_changes(changed)} done."


def _held_back_note(report: ApplyReport) -> str:
    held = len(report.held_back)
    if not held:
        return ""
    return f" {held} SIM{'s' if held != 1 else ''} held back, not applied (see above)."


def held_back_lines(report: ApplyReport) -> Iterator[str]:
    if not report.held_back:
        return
    yield ""
    yield f"Held back, not applied: fix each one and plan again ({len(report.held_back)}):"
    for problem in report.held_back[:LISTED]:
        yield f"  {problem}"
    if len(report.held_back) > LISTED:
        yield f"  ... and {len(report.held_back) - LISTED} more (see the plan)"


def cost_line(report: ApplyReport) -> str:
    text = f"{report.requests_spent} request{'s' if report.requests_spent != 1 else ''} spent"
    if report.waited_seconds:
        text += f", waited {report.waited_seconds:.1f} s for the rate limit"
    if report.rate_limited:
        text += f", {report.rate_limited} answered 429"
    return text + f", {report.duration_seconds:.1f} s"


def _listing(report: ApplyReport, outcome: Outcome, title: str) -> Iterator[str]:
    rows = outcomes_of(report, outcome)
    if not rows:
        return
    yield ""
    yield f"{title} ({len(rows)}):"
    for step, sim in rows[:LISTED]:
        reason = f": {sim.reason}" if sim.reason else ""
        yield f"  {step.step_id} {step.operation.value} {sim.iccid}{reason}"
    if len(rows) > LISTED:
        yield f"  ... and {len(rows) - LISTED} more (see --format json)"


def already_rows(report: ApplyReport) -> list[tuple[StepReport, SimOutcome]]:
    return [(step, sim) for step in report.steps for sim in step.sims if sim.already]


ALREADY_TITLE = "Already in place: held the target before this apply, not changed by it"


def _already(report: ApplyReport) -> Iterator[str]:
    rows = already_rows(report)
    if not rows:
        return
    yield ""
    yield f"{ALREADY_TITLE} ({len(rows)}):"
    for step, sim in rows[:LISTED]:
        yield f"  {step.step_id} {step.operation.value} {sim.iccid}"
    if len(rows) > LISTED:
        yield f"  ... and {len(rows) - LISTED} more (see --format json)"


def render_apply_text(report: ApplyReport) -> str:
    lines = [
        f"Apply of plan {report.plan_checksum} to account {report.account!r} at {report.endpoint}"
        + (" (resumed)" if report.resumed else ""),
        "",
    ]
    header = (
        f"  {'operation':<20}{'done':>8}{'in place':>10}{'failed':>8}{'stale':>8}"
        f"{'skipped':>9}{'not run':>9}"
    )
    lines.append(header)
    for t in report.totals:
        lines.append(
            f"  {t.operation.value:<20}{t.done:>8}{t.already:>10}{t.failed:>8}{t.stale:>8}"
            f"{t.skipped:>9}{t.not_run:>9}"
        )
    if not report.steps:
        lines.append("  (nothing to do)")
    lines.extend(held_back_lines(report))
    lines.extend(_already(report))
    lines.extend(_listing(report, Outcome.FAILED, "Failed"))
    lines.extend(_listing(report, Outcome.STALE, "Stale: moved since the plan, left as they were"))
    lines.extend(_listing(report, Outcome.SKIPPED, "Skipped: failed or stale in an earlier step"))
    not_run = report.count(Outcome.NOT_RUN)
    if not_run:
        lines.extend(["", f"Not run: {not_run} SIM change{'s' if not_run != 1 else ''}."])
        # SIMs already inside a submitted batch job: that job runs on the server whatever
        # happened here; say which, so nobody plans them into a second one
        for step in report.steps:
            held = [s.job_id for s in step.sims if s.job_id and s.outcome is Outcome.NOT_RUN]
            if held:
                jobs = sorted(set(held))
                lines.append(
                    f"  {len(held)} of them are in submitted batch job"
                    f"{'s' if len(jobs) > 1 else ''} {', '.join(jobs)} ({step.step_id} "
                    f"{step.operation.value}), not yet confirmed: `fleetform apply --resume` "
                    "polls, never submits them again."
                )
    lines.extend(["", cost_line(report) + ".", verdict(report)])
    return "\n".join(lines) + "\n"

"""The apply report as GitHub-flavoured markdown (a CI job summary or PR comment)."""

from __future__ import annotations

from reconciler.model import ApplyReport, Outcome
from reconciler.render.apply_text import (
    ALREADY_TITLE,
    LISTED,
    already_rows,
    cost_line,
    outcomes_of,
    verdict,
)
from reconciler.render.markdown_escape import code_span, escape_markdown


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_apply_markdown(report: ApplyReport) -> str:
    lines = [
        f"### fleetform apply: account `{report.account}`"
        + (" (resumed)" if report.resumed else ""),
        "",
        f"Plan `{report.plan_checksum}` at `{report.endpoint}`.",
        "",
        "| operation | done | in place | failed | stale | skipped | not run |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for t in report.totals:
        lines.append(
            f"| {t.operation.value} | {t.done} | {t.already} | {t.failed} | {t.stale} "
            f"| {t.skipped} | {t.not_run} |"
        )
    if report.held_back:
        lines += ["", f"**Held back, not applied** ({len(report.held_back)}): fix each one", ""]
        for problem in report.held_back[:LISTED]:
            where = f"{code_span(str(problem.source))}: " if problem.source else ""
            lines.append(f"- {where}{escape_markdown(problem.message)}")
    already = already_rows(report)
    if already:
        lines += ["", f"<details><summary>{ALREADY_TITLE}: {len(already)}</summary>", ""]
        lines += ["| step | operation | SIM |", "|---|---|---|"]
        for step, sim in already[:LISTED]:
            lines.append(f"| {step.step_id} | {step.operation.value} | `{sim.iccid}` |")
        if len(already) > LISTED:
            lines.append(f"| | | and {len(already) - LISTED} more |")
        lines += ["", "</details>"]
    for outcome, title in (
        (Outcome.FAILED, "Failed"),
        (Outcome.STALE, "Stale (moved since the plan, left as they were)"),
        (Outcome.SKIPPED, "Skipped (failed or stale in an earlier step)"),
    ):
        rows = outcomes_of(report, outcome)
        if not rows:
            continue
        lines += ["", f"<details><summary>{title}: {len(rows)}</summary>", ""]
        lines += ["| step | operation | SIM | reason |", "|---|---|---|---|"]
        for step, sim in rows[:LISTED]:
            lines.append(
                f"| {step.step_id} | {step.operation.value} | `{sim.iccid}` "
                f"| {_cell(sim.reason or '')} |"
            )
        if len(rows) > LISTED:
            lines.append(f"| | | ... | and {len(rows) - LISTED} more |")
        lines += ["", "</details>"]
    lines += ["", f"{cost_line(report)}.", "", f"**{verdict(report)}**"]
    return "\n".join(lines) + "\n"

"""Drift as markdown: the body of the issue the scheduled CI job opens or updates."""

from __future__ import annotations

from reconciler.model import DriftReport
from reconciler.render.drift_text import LISTED_UNMANAGED, headline, show, when


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_drift_markdown(report: DriftReport) -> str:
    lines = [
        f"### fleetform drift: fleet `{report.fleet}` (account `{report.account}`)",
        "",
        f"Checked {when(report.checked_at)} against `{report.endpoint}`: **{headline(report)}**",
    ]
    if report.sims:
        lines += [
            "",
            "| SIM | group | field | git | live | changed |",
            "|---|---|---|---|---|---|",
        ]
        for sim in report.sims:
            for f in sim.fields:
                lines.append(
                    f"| `{sim.iccid}` | {_cell(sim.group)} | `{f.field}` "
                    f"| {_cell(show(f.desired))} "
                    f"| {_cell(show(f.live))} | {when(f.last_changed or sim.last_modified)} |"
                )
    if report.missing:
        lines += [
            "",
            "**Declared but not in the account:** " + ", ".join(f"`{i}`" for i in report.missing),
        ]
    if report.problems:
        lines += ["", "**Problems:**", *[f"- {_cell(str(p))}" for p in report.problems]]
    if report.unmanaged:
        shown = ", ".join(f"`{i}`" for i in report.unmanaged[:LISTED_UNMANAGED])
        more = len(report.unmanaged) - LISTED_UNMANAGED
        lines += [
            "",
            f"Unmanaged (not drift): {len(report.unmanaged)}: {shown}"
            + (f" and {more} more" if more > 0 else ""),
        ]
    return "\n".join(lines) + "\n"

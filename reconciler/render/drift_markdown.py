"""Drift as markdown: the body of the issue the scheduled CI job opens or updates.

Always under ``max_chars``: GitHub refuses an issue body over 65,536 characters, and a drift
touching thousands of SIMs (someone changed a custom field account-wide) would otherwise be
hundreds of kilobytes. As the plan's markdown does, the body is rendered with generous limits
(table rows, ICCIDs listed) and, while too long, again with smaller ones; every fold says what
it left out, and a last line says the body was shortened and where to see everything (``drift
--format json``). If even the smallest limits do not fit, the text is cut at a line boundary
with a note.

Every live or manifest value goes through `reconciler.render.markdown_escape`: a custom field
holding ``</details><!--`` or ``@everyone`` shows as typed and does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from reconciler.model import DriftReport
from reconciler.render.drift_basis import basis_lines
from reconciler.render.drift_text import LISTED_UNMANAGED, headline, show, when
from reconciler.render.fit import shrink_to_fit
from reconciler.render.markdown_escape import code_span, escape_markdown

GITHUB_ISSUE_LIMIT = 65_000  # GitHub's limit is 65,536; room for what a workflow adds


@dataclass(frozen=True, slots=True)
class _Limits:
    rows: int  # drifted fields shown in the table (one row each)
    items: int  # missing ICCIDs, problems and unmanaged ICCIDs listed


_LIMITS = (
    _Limits(1000, 200),
    _Limits(300, 50),
    _Limits(100, 20),
    _Limits(30, 10),
    _Limits(10, 5),
    _Limits(0, 3),
)


def render_drift_markdown(
    report: DriftReport, *, max_chars: int = GITHUB_ISSUE_LIMIT, managed: int | None = None
) -> str:
    """The drift as markdown of at most ``max_chars`` characters, saying what was folded;
    ``managed`` is the count of managed SIMs (see `managed_count`)."""
    return shrink_to_fit(
        lambda limits, shortened: _render(report, limits, shortened=shortened, managed=managed),
        _LIMITS,
        max_chars=max_chars,
        note="\n\n_… cut here to stay under the issue size limit; `--format json` has all._\n",
    )


def _render(report: DriftReport, limits: _Limits, *, shortened: bool, managed: int | None) -> str:
    lines = [
        f"### fleetform drift: fleet {code_span(report.fleet)} "
        f"(account {code_span(report.account)})",
        "",
        f"Checked {when(report.checked_at)} against {code_span(report.endpoint)}: "
        f"**{escape_markdown(headline(report, managed))}**",
    ]
    if report.sims:
        lines += [
            "",
            "| SIM | group | field | git | live | changed |",
            "|---|---|---|---|---|---|",
        ]
        shown = 0
        shown_sims = 0
        for sim in report.sims:
            if shown >= limits.rows:
                break
            shown_sims += 1
            for f in sim.fields:
                if shown >= limits.rows:
                    break
                lines.append(
                    f"| {code_span(sim.iccid, in_table=True)} | {escape_markdown(sim.group)} "
                    f"| {code_span(f.field, in_table=True)} "
                    f"| {escape_markdown(show(f.desired))} | {escape_markdown(show(f.live))} "
                    f"| {_changed(f.last_changed, sim.last_modified)} |"
                )
                shown += 1
        fields = sum(len(s.fields) for s in report.sims)
        if shown < fields:
            more_sims = len(report.sims) - shown_sims
            lines += [
                "",
                f"_… and {fields - shown:,} more drifted fields"
                + (f"; {more_sims:,} SIMs not shown" if more_sims else "")
                + "_",
            ]
    if report.missing:
        listed = ", ".join(code_span(i) for i in report.missing[: limits.items])
        lines += [
            "",
            f"**Declared but not in the account ({len(report.missing):,}):** {listed}"
            + _more(len(report.missing) - limits.items),
        ]
    if report.problems:
        lines += [
            "",
            f"**Problems ({len(report.problems):,}):**",
            *[f"- {escape_markdown(str(p))}" for p in report.problems[: limits.items]],
        ]
        if len(report.problems) > limits.items:
            lines.append(f"- _… and {len(report.problems) - limits.items:,} more problems_")
    if report.unmanaged:
        count = min(limits.items, LISTED_UNMANAGED)
        shown_unmanaged = ", ".join(code_span(i) for i in report.unmanaged[:count])
        lines += [
            "",
            f"Unmanaged (not drift): {len(report.unmanaged):,}: {shown_unmanaged}"
            + _more(len(report.unmanaged) - count),
        ]
    if report.basis is not None:
        lines += ["", *(escape_basis(line) for line in basis_lines(report))]
    if shortened:
        lines += [
            "",
            f"_Shortened to stay under the issue size limit: {limits.rows:,} table rows, "
            f"{limits.items:,} ICCIDs or problems per list. `fleetform drift --format json` "
            "has all._",
        ]
    return "\n".join(lines) + "\n"


def escape_basis(line: str) -> str:
    if line.startswith("- "):
        return "- " + escape_markdown(line[2:])
    return escape_markdown(line)


def _changed(last_changed: datetime | None, sim_last_modified: datetime | None) -> str:
    """The field's change date when the history knows it (the rule of ``drift --format
    json``'s ``last_changed``); never the SIM's lastModifiedTime in its place: that dates a
    change of *some* field (often fleetform's own), so it is shown only under its own name."""
    if last_changed is not None:
        return when(last_changed)
    if sim_last_modified is not None:
        return f"unknown (SIM last modified {when(sim_last_modified)})"
    return "unknown"


def _more(count: int) -> str:
    return f" and {count:,} more" if count > 0 else ""

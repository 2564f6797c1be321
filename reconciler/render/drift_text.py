"""Drift as plain text: by SIM, then field, with desired, live and when it changed."""

from __future__ import annotations

from datetime import datetime

from reconciler.model import DriftReport
from reconciler.render.drift_basis import basis_lines
from reconciler.wording import counted

LISTED_UNMANAGED = 20


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else ""


def show(value: str | None) -> str:
    return "(empty)" if value is None else value


def managed_count(report: DriftReport, managed: int | None = None) -> int:
    """The SIMs git manages that the account holds: ``managed`` when the caller knows it (the
    drift command: declared SIMs less the missing ones), else the SIMs read less the unmanaged
    ones listed (exact unless the fleet ignores unmanaged SIMs, which the report then omits)."""
    if managed is not None:
        return managed
    return report.sims_read - len(report.unmanaged)


def headline(report: DriftReport, managed: int | None = None) -> str:
    if not report.has_drift:
        n = managed_count(report, managed)
        sims = "managed SIM of account" if n == 1 else "managed SIMs of account"
        return f"No drift: the {n:,} {sims} {report.account!r} match{'es' if n == 1 else ''} git."
    parts = []
    if report.sims:
        fields = sum(len(s.fields) for s in report.sims)
        differ = "differs" if len(report.sims) == 1 else "differ"
        parts.append(
            f"{counted(len(report.sims), 'SIM')} {differ} from git in {counted(fields, 'field')}"
        )
    if report.missing:
        parts.append(f"{len(report.missing)} declared SIMs are missing")
    if report.problems:
        parts.append(f"{len(report.problems)} retired SIMs differ")
    return "Drift: " + ", ".join(parts) + "."


def render_drift_text(report: DriftReport, *, managed: int | None = None) -> str:
    """The report as text; ``managed`` is the count of managed SIMs (see `managed_count`)."""
    sections: list[list[str]] = [
        [
            f"Drift of fleet {report.fleet!r} (account {report.account!r} at "
            f"{report.endpoint}), checked {when(report.checked_at)}"
        ]
    ]
    if report.sims:
        block: list[str] = []
        for sim in report.sims:
            dated = f", SIM last modified {when(sim.last_modified)}" if sim.last_modified else ""
            block.append(f"{sim.iccid} (group {sim.group}, {sim.status.value}{dated})")
            for f in sim.fields:
                changed = f"  changed {when(f.last_changed)}" if f.last_changed else ""
                block.append(f"  {f.field}: git {show(f.desired)}, live {show(f.live)}{changed}")
        sections.append(block)
    if report.missing:
        sections.append(
            [
                f"Declared but not in the account ({len(report.missing)}):",
                *[f"  {iccid}" for iccid in report.missing],
            ]
        )
    if report.problems:
        sections.append(["Problems:", *[f"  {p}" for p in report.problems]])
    if report.unmanaged:
        shown = ", ".join(report.unmanaged[:LISTED_UNMANAGED])
        more = len(report.unmanaged) - LISTED_UNMANAGED
        sections.append(
            [
                f"Unmanaged (in the account, in no manifest; not drift): "
                f"{len(report.unmanaged)}: " + shown + (f" and {more} more" if more > 0 else "")
            ]
        )
    if report.history_since is not None:
        sections.append([f"Change history read from {when(report.history_since)}."])
    if report.basis is not None:
        sections.append(basis_lines(report))
    sections.append([headline(report, managed)])
    return "\n\n".join("\n".join(block) for block in sections) + "\n"

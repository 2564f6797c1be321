"""Drift as plain text: by SIM, then field, with desired, live and when it changed."""

from __future__ import annotations

from datetime import datetime

from reconciler.model import DriftReport

LISTED_UNMANAGED = 20


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else ""


def show(value: str | None) -> str:
    return "(empty)" if value is None else value


def headline(report: DriftReport) -> str:
    if not report.has_drift:
        return f"No drift: {report.sims_read} SIMs of account {report.account!r} match git."
    parts = []
    if report.sims:
        fields = sum(len(s.fields) for s in report.sims)
        parts.append(f"{len(report.sims)} SIMs differ from git in {fields} fields")
    if report.missing:
        parts.append(f"{len(report.missing)} declared SIMs are missing")
    if report.problems:
        parts.append(f"{len(report.problems)} retired SIMs differ")
    return "Drift: " + ", ".join(parts) + "."


def render_drift_text(report: DriftReport) -> str:
    lines = [
        f"Drift of fleet {report.fleet!r} (account {report.account!r} at {report.endpoint}), "
        f"checked {when(report.checked_at)}",
        "",
    ]
    for sim in report.sims:
        dated = f", last modified {when(sim.last_modified)}" if sim.last_modified else ""
        lines.append(f"{sim.iccid} (group {sim.group}, {sim.status.value}{dated})")
        for f in sim.fields:
            changed = f"  changed {when(f.last_changed)}" if f.last_changed else ""
            lines.append(f"  {f.field}: git {show(f.desired)}, live {show(f.live)}{changed}")
    if report.missing:
        lines += ["", f"Declared but not in the account ({len(report.missing)}):"]
        lines += [f"  {iccid}" for iccid in report.missing]
    if report.problems:
        lines += ["", "Problems:"]
        lines += [f"  {p}" for p in report.problems]
    if report.unmanaged:
        shown = ", ".join(report.unmanaged[:LISTED_UNMANAGED])
        more = len(report.unmanaged) - LISTED_UNMANAGED
        lines += [
            "",
            f"Unmanaged (in the account, in no manifest; not drift): {len(report.unmanaged)}: "
            + shown
            + (f" and {more} more" if more > 0 else ""),
        ]
    if report.history_since is not None:
        lines += ["", f"Change history read from {when(report.history_since)}."]
    lines += ["", headline(report)]
    return "\n".join(lines) + "\n"

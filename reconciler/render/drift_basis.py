"""What a drift report's verdicts rest on, in words (text and markdown) and as data (json)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from reconciler.model import DriftReport


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else "never"


def _age(now: datetime, then: datetime) -> str:
    seconds = max(0.0, (now - then).total_seconds())
    if seconds < 3600:
        return f"{max(1, math.ceil(seconds / 60))} min"
    if seconds < 3 * 86400:
        return f"{math.ceil(seconds / 3600)} h"
    return f"{math.ceil(seconds / 86400)} days"


def basis_lines(report: DriftReport) -> list[str]:
    """One headline and, for an incremental drift, one line per kind of verdict."""
    basis = report.basis
    if basis is None:
        return []
    spent = f"{report.requests_spent:,} request{'' if report.requests_spent == 1 else 's'}"
    if basis.mode == "full":
        line = f"Based on a full read of the account at {_when(basis.read_at)} ({spent})"
        if basis.reason:
            line += f"; not incremental because {basis.reason}"
        return [line + "."]
    lines = [
        f"Based on the live-state cache, brought up to date with {spent} (a full read costs "
        f"{basis.full_read_requests:,}; fleetform drift --full reads everything):",
        f"- state and rate plan: change history up to {_when(basis.history_until)} "
        f"({basis.history_entries:,} entries read)",
    ]
    if basis.last_push is not None:
        lines.append(
            f"- APN status: pushes taken in by fleetform webhook serve, the last at "
            f"{_when(basis.last_push)}; otherwise as last verified below"
        )
    else:
        lines.append("- APN status: no push recorded; as last verified below")
    if basis.oldest_verified is not None:
        lines.append(
            f"- custom fields and supplementary plans: every SIM verified within the last "
            f"{_age(report.checked_at, basis.oldest_verified)}, the oldest at "
            f"{_when(basis.oldest_verified)} ({basis.verified_pages:,} of "
            f"{basis.verify_budget:,} verify pages read this run)"
        )
    if basis.single_reads:
        lines.append(
            f"- {basis.single_reads:,} declared SIMs the cache did not hold: read one by one"
        )
    return lines


def basis_to_dict(report: DriftReport) -> dict[str, Any] | None:
    basis = report.basis
    if basis is None:
        return None

    def time(moment: datetime | None) -> str | None:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None

    return {
        "mode": basis.mode,
        "full_read_reason": basis.reason,
        "full_read_at": time(basis.read_at),
        "full_read_requests": basis.full_read_requests,
        "state_and_rate_plan": {"source": "change_history", "until": time(basis.history_until)}
        if basis.mode == "incremental"
        else {"source": "full_read", "until": time(basis.read_at)},
        "history_entries": basis.history_entries,
        "apn_status": {"source": "pushes", "last_push": time(basis.last_push)}
        if basis.mode == "incremental"
        else {"source": "full_read", "last_push": None},
        "custom_fields_and_supplementary_plans": {
            "source": "verify_rotation" if basis.mode == "incremental" else "full_read",
            "oldest_verified": time(basis.oldest_verified or basis.read_at),
            "verified_pages": basis.verified_pages,
            "verify_budget": basis.verify_budget,
        },
        "single_reads": basis.single_reads,
    }

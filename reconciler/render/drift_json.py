"""Drift as JSON (``fleetform.drift/v1``): every drifted field, for tools."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from reconciler.model import DriftReport
from reconciler.render.drift_basis import basis_to_dict

DRIFT_FORMAT = "fleetform.drift/v1"


def _time(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None


def drift_to_dict(report: DriftReport) -> dict[str, Any]:
    return {
        "format": DRIFT_FORMAT,
        "fleet": report.fleet,
        "account": report.account,
        "endpoint": report.endpoint,
        "checked_at": _time(report.checked_at),
        "drift": report.has_drift,
        "sims_read": report.sims_read,
        "requests_spent": report.requests_spent,
        "history_since": _time(report.history_since),
        "basis": basis_to_dict(report),
        "sims": [
            {
                "iccid": sim.iccid,
                "group": sim.group,
                "status": sim.status.value,
                "last_modified": _time(sim.last_modified),
                "fields": [
                    {
                        "field": f.field,
                        "desired": f.desired,
                        "live": f.live,
                        "last_changed": _time(f.last_changed),
                        "source": str(f.source) if f.source else None,
                    }
                    for f in sim.fields
                ],
            }
            for sim in report.sims
        ],
        "missing": list(report.missing),
        "problems": [
            {"message": p.message, "iccid": p.iccid, "field": p.field} for p in report.problems
        ],
        "unmanaged": list(report.unmanaged),
    }


def render_drift_json(report: DriftReport) -> str:
    return json.dumps(drift_to_dict(report), indent=2, ensure_ascii=False) + "\n"

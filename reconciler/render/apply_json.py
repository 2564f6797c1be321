"""The apply report as JSON (``fleetform.apply-report/v1``): every SIM's outcome, for tools."""

from __future__ import annotations

import json
from typing import Any

from reconciler.model import ApplyReport, SimOutcome

REPORT_FORMAT = "fleetform.apply-report/v1"


def _sim(sim: SimOutcome) -> dict[str, Any]:
    data: dict[str, Any] = {"iccid": sim.iccid, "outcome": sim.outcome.value}
    if sim.reason is not None:
        data["reason"] = sim.reason
    if sim.already:
        data["already_in_place"] = True  # done, but not by this apply
    if sim.moved:
        data["moved"] = [{"field": m.field, "plan": m.before, "live": m.after} for m in sim.moved]
    return data


def apply_report_to_dict(report: ApplyReport) -> dict[str, Any]:
    return {
        "format": REPORT_FORMAT,
        "plan_checksum": report.plan_checksum,
        "endpoint": report.endpoint,
        "account": report.account,
        "complete": report.complete,
        "changed": report.changed,
        "already_in_place": report.already_in_place,
        "held_back": [
            {
                "iccid": p.iccid,
                "message": p.message,
                "source": str(p.source) if p.source else None,
            }
            for p in report.held_back
        ],
        "resumed": report.resumed,
        "stopped": report.stopped,
        **(
            {"rollout_stopped_at": report.rollout_stopped_at}
            if report.rollout_stopped_at is not None
            else {}
        ),
        "requests_spent": report.requests_spent,
        "waited_seconds": round(report.waited_seconds, 3),
        "rate_limited": report.rate_limited,
        "duration_seconds": round(report.duration_seconds, 3),
        "totals": [
            {
                "operation": t.operation.value,
                "done": t.done,
                "already_in_place": t.already,
                "failed": t.failed,
                "stale": t.stale,
                "skipped": t.skipped,
                "not_run": t.not_run,
            }
            for t in report.totals
        ],
        "steps": [
            {
                "id": step.step_id,
                "wave": step.wave,
                "operation": step.operation.value,
                "batch": step.batch,
                "job_ids": list(step.job_ids),
                "sims": [_sim(s) for s in step.sims],
            }
            for step in report.steps
        ],
    }


def render_apply_json(report: ApplyReport) -> str:
    return json.dumps(apply_report_to_dict(report), indent=2, ensure_ascii=False) + "\n"

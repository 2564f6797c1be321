"""After a rollout step: soak, re-check its SIMs, look at pushed events, ask the gate.

`StageCheck.after_stage` runs once every step of a rollout step is done, unless the step is
the plan's last (nothing comes after it to hold back). In order:

1. **Soak.** Wait the step's soak. The start is journaled (``soak``), so a run killed during
   the soak and resumed waits only what is left of it.
2. **Re-check.** Re-read the step's SIMs. A SIM the step changed must still hold every value
   the step set (``after``), and the status it had or was moved to. A status other than that
   is a change fleetform did not make: the rollout stops, whatever ``maxFailed`` says. A SIM
   gone from the account stops it too.
3. **Events.** The push receiver (``fleetform webhook serve``) records what it finds after a
   push in ``drift.jsonl``; records about the step's SIMs since the soak began count: one
   about the state (or a SIM missing, or a problem) stops the rollout, others count as
   failures of that SIM.
4. **maxFailed.** SIMs the API refused in the step and SIMs failing the re-check, over the
   step's SIM count; above ``maxFailed`` the rollout stops. Stale SIMs (moved before the
   step, left alone) are listed but do not count: the step did not touch them.
5. **Gate.** If ``--gate`` was given and all of the above passed, the step's report
   (`stage_report`) goes to the gate; anything but a pass stops the rollout.

A pass is journaled (``stage_passed``) and never repeated; a stop is journaled
(``stage_stopped``) and returned as the reason, which says how to go on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reconciler import fields
from reconciler.clock import Clock
from reconciler.journal import Journal, JournalState
from reconciler.model import (
    STATE,
    LiveSim,
    Outcome,
    Plan,
    RolloutStage,
    SimOutcome,
    Step,
)
from reconciler.reporting import Reporter
from reconciler.rollout.gate import Gate

REPORT_FORMAT = "fleetform.rollout-step/v1"
_SHOWN = 5  # SIMs named in a stop reason


@dataclass(frozen=True, slots=True)
class SimEvent:
    """Something the push receiver recorded about a SIM (one line of ``drift.jsonl``)."""

    iccid: str
    at: float  # epoch seconds it was recorded
    kind: str  # drift | missing | problem | unmanaged
    status: str | None = None  # the live status it saw, fleetform's name
    fields: tuple[str, ...] = ()  # field paths that differed from git
    message: str | None = None

    @property
    def status_change(self) -> bool:
        return STATE in self.fields or self.kind in ("missing", "problem")

    def to_json(self) -> dict[str, Any]:
        return {
            "iccid": self.iccid,
            "at": _iso(self.at),
            "kind": self.kind,
            "status": self.status,
            "fields": list(self.fields),
            "message": self.message,
        }


EventFeed = Callable[[frozenset[str], float], Sequence[SimEvent]]
"""The events recorded about any of these SIMs at or after an epoch time."""

Reader = Callable[[Sequence[str]], Mapping[str, LiveSim | None]]
"""Live records of SIMs (None: not in the account), read the cheapest way."""


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _show(value: str | None) -> str:
    return "(empty)" if value is None else value


@dataclass(frozen=True, slots=True)
class _Expected:
    group: str
    before: Mapping[str, str | None]
    after: Mapping[str, str | None]  # every value the step set, and the state it leaves


def _expected(steps: Sequence[Step]) -> dict[str, _Expected]:
    merged: dict[str, tuple[str, dict[str, str | None], dict[str, str | None]]] = {}
    for step in steps:
        for sim in step.sims:
            _group, before, after = merged.setdefault(sim.iccid, (sim.group, {}, {}))
            before.update(sim.before)
            after.setdefault(STATE, sim.before.get(STATE))
            after.update(sim.after)
    return {i: _Expected(g, b, a) for i, (g, b, a) in merged.items()}


@dataclass(frozen=True, slots=True)
class _Finding:
    iccid: str
    reason: str
    hard: bool  # a change fleetform did not make: stops whatever maxFailed says


def _recheck(
    expected: Mapping[str, _Expected],
    outcomes: Mapping[str, SimOutcome],
    live: Mapping[str, LiveSim | None],
    account: str,
) -> list[_Finding]:
    findings: list[_Finding] = []
    for iccid, want in expected.items():
        outcome = outcomes.get(iccid)
        if outcome is None or outcome.outcome is not Outcome.DONE:
            continue
        record = live.get(iccid)
        if record is None or record.account != account:
            findings.append(_Finding(iccid, "no longer in the account", hard=True))
            continue
        status = want.after.get(STATE)
        if status is not None and record.status.value != status:
            findings.append(
                _Finding(
                    iccid,
                    f"status moved to {record.status.value} (fleetform left it {status})",
                    hard=True,
                )
            )
            continue
        wrong = [
            f"{path} is {_show(fields.live_value(record, path))}, not {_show(value)}"
            for path, value in sorted(want.after.items())
            if path != STATE and fields.live_value(record, path) != value
        ]
        if wrong:
            findings.append(_Finding(iccid, "; ".join(wrong), hard=False))
    return findings


def stage_report(
    plan: Plan,
    stage: RolloutStage,
    steps: Sequence[Step],
    outcomes: Mapping[str, SimOutcome],
    live: Mapping[str, LiveSim | None],
    failures: Mapping[str, str],
    events: Sequence[SimEvent],
    next_stage: RolloutStage | None,
) -> dict[str, Any]:
    """The rollout step's report, as the gate reads it on stdin (``fleetform.rollout-step/v1``):
    the step, each SIM with the values before and after and what it holds now, the failures
    and the events seen."""
    expected = _expected(steps)
    sims = []
    for iccid in sorted(expected):
        want = expected[iccid]
        outcome = outcomes.get(iccid)
        record = live.get(iccid)
        sims.append(
            {
                "iccid": iccid,
                "group": want.group,
                "outcome": outcome.outcome.value if outcome else Outcome.NOT_RUN.value,
                "reason": outcome.reason if outcome else None,
                "before": {k: want.before[k] for k in sorted(want.before)},
                "after": {k: want.after[k] for k in sorted(want.after)},
                "live": (
                    {k: fields.live_value(record, k) for k in sorted(want.after)}
                    if record is not None
                    else None
                ),
            }
        )
    return {
        "format": REPORT_FORMAT,
        "plan": plan.checksum,
        "fleet": plan.fleet,
        "account": plan.account,
        "endpoint": plan.endpoint,
        "step": {
            "id": stage.id,
            "wave": stage.wave,
            "number": stage.number,
            "of": stage.of,
            "share": stage.share,
            "sims": stage.sims,
            "soakSeconds": stage.soak_seconds,
            "maxFailed": stage.max_failed,
            "planSteps": list(stage.step_ids),
        },
        "next": next_stage.id if next_stage is not None else None,
        "sims": sims,
        "failures": [{"iccid": i, "reason": failures[i]} for i in sorted(failures)],
        "failedShare": round(len(failures) / stage.sims, 6) if stage.sims else 0.0,
        "events": [e.to_json() for e in events],
    }


class StageCheck:
    """Decides, after a rollout step, whether the rollout goes on (see the module docstring)."""

    def __init__(
        self,
        journal: Journal,
        reporter: Reporter,
        clock: Clock,
        *,
        gate: Gate | None = None,
        events: EventFeed | None = None,
    ) -> None:
        self.journal = journal
        self.reporter = reporter
        self.clock = clock
        self.gate = gate
        self.events = events

    def after_stage(
        self,
        plan: Plan,
        stage: RolloutStage,
        steps: Sequence[Step],
        outcomes: Mapping[str, Mapping[str, SimOutcome]],
        read: Reader,
        prior: JournalState,
    ) -> str | None:
        """None when the rollout goes on; otherwise why it stopped (journaled)."""
        if stage.id in prior.stages_passed:
            return None
        started = prior.soaks.get(stage.id)
        if started is None:
            started = self.clock.now()
            self.journal.soak_started(stage.id, started)
        left = stage.soak_seconds - max(0.0, self.clock.now() - started)
        if left > 0:
            self.reporter.info(
                f"rollout step {stage.id} ({stage.share}, {stage.sims:,} SIMs) applied: "
                f"soaking {left:g}s before checking them"
            )
            self.clock.sleep(left)

        merged: dict[str, SimOutcome] = {}
        for step in steps:
            for iccid, outcome in outcomes.get(step.id, {}).items():
                if iccid not in merged or outcome.outcome is not Outcome.DONE:
                    merged[iccid] = outcome
        expected = _expected(steps)
        live = read(sorted(expected))
        findings = _recheck(expected, merged, live, plan.account)
        seen = list(self.events(frozenset(expected), started)) if self.events else []
        for event in seen:
            if event.status_change:
                said = event.message or f"recorded {event.kind} (status {event.status})"
                findings.append(_Finding(event.iccid, f"push receiver: {said}", hard=True))
            elif event.kind == "drift":
                fields = ", ".join(event.fields) or "a managed field"
                findings.append(
                    _Finding(event.iccid, f"push receiver: {fields} differ from git", hard=False)
                )
        failures: dict[str, str] = {
            i: f"failed in the step: {o.reason or 'refused'}"
            for i, o in merged.items()
            if o.outcome is Outcome.FAILED
        }
        for finding in findings:
            failures.setdefault(finding.iccid, finding.reason)

        why: str | None = self._verdict(stage, findings, failures)
        if why is None and self.gate is not None:
            position = plan.rollout.index(stage)
            following = plan.rollout[position + 1] if position + 1 < len(plan.rollout) else None
            report = stage_report(plan, stage, steps, merged, live, failures, seen, following)
            self.reporter.info(f"rollout step {stage.id}: running the gate")
            verdict = self.gate(json.dumps(report, ensure_ascii=False) + "\n")
            if verdict.output:
                self.reporter.info(f"gate output:\n{verdict.output}")
            if not verdict.passed:
                why = f"the gate said no ({verdict.why})"
        elif why is None and stage.id in prior.stage_stops:
            self.reporter.warn(
                f"rollout step {stage.id} was stopped before ({prior.stage_stops[stage.id]}); "
                "no --gate is given now, so its re-check alone lets it go on"
            )
        if why is None:
            self.journal.stage_passed(stage.id)
            self.reporter.info(f"rollout step {stage.id} passed its checks: going on")
            return None
        message = self._stop_message(plan, stage, why)
        self.journal.stage_stopped(stage.id, why)
        return message

    @staticmethod
    def _verdict(
        stage: RolloutStage, findings: Sequence[_Finding], failures: Mapping[str, str]
    ) -> str | None:
        hard = [f for f in findings if f.hard]
        if hard:
            shown = "; ".join(f"{f.iccid}: {f.reason}" for f in hard[:_SHOWN])
            more = f" and {len(hard) - _SHOWN} more" if len(hard) > _SHOWN else ""
            return (
                f"{len(hard)} SIM{'s' if len(hard) != 1 else ''} changed in a way fleetform "
                f"did not make ({shown}{more})"
            )
        share = len(failures) / stage.sims if stage.sims else 0.0
        if failures and share > stage.max_failed + 1e-12:
            ordered = sorted(failures)
            shown = "; ".join(f"{i}: {failures[i]}" for i in ordered[:_SHOWN])
            more = f" and {len(ordered) - _SHOWN} more" if len(ordered) > _SHOWN else ""
            return (
                f"{len(failures)} of {stage.sims} SIMs failed ({share:.1%}), more than "
                f"maxFailed {stage.max_failed:.1%} ({shown}{more})"
            )
        return None

    @staticmethod
    def _stop_message(plan: Plan, stage: RolloutStage, why: str) -> str:
        later = sum(s.sims for s in plan.rollout[plan.rollout.index(stage) + 1 :])
        return (
            f"rollout stopped after step {stage.id} (wave {stage.wave}, step {stage.number} of "
            f"{stage.of}: {stage.share}, {stage.sims:,} SIMs): {why}. The later steps "
            f"({later:,} SIM changes) were not run. To go on: `fleetform apply --resume` checks "
            f"step {stage.id} again, runs the gate again (give --gate again) and continues if "
            "it passes. To roll back: revert the commit and apply."
        )

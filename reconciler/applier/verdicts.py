"""Per-SIM verdicts of an apply, as pure functions: no API, no journal, no clock.

- `check`: before a step, the SIM's live record against the step's ``before``: proceed, DONE
  when the values already hold (idempotence; also how a resumed run recognises work a crashed
  run did without journaling it), or STALE with what moved.
- `job_verdicts` and `recheck_verdicts`: a finished batch job's per-SIM results; a SIM refused
  with ``illegal_status`` (or without a result) is re-read and counts as DONE when it already
  holds the step's values.
- `may_have_acted` and `reason_of`: how a refused or unanswered write is read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from reconciler import fields
from reconciler.errors import ApiError, ServerError, TransportError
from reconciler.model import ALREADY, BatchJob, FieldChange, LiveSim, Outcome, SimOutcome, StepSim


def _show(value: str | None) -> str:
    return "(empty)" if value is None else value


def what_moved(sim: StepSim, live: LiveSim) -> tuple[FieldChange, ...]:
    """The fields whose live value differs from the plan's ``before`` (plan value -> live),
    in field-path order: the plan's view of the SIM against the same fields of its live record.
    """
    moved = (
        FieldChange(path, before, now)
        for path, before in sim.before.items()
        if (now := fields.live_value(live, path)) != before
    )
    return tuple(sorted(moved, key=lambda m: m.field))


def holds_after(sim: StepSim, live: LiveSim) -> bool:
    """Whether the live record already holds every value the step sets."""
    return all(fields.live_value(live, path) == value for path, value in sim.after.items())


def check(sim: StepSim, live: LiveSim | None, account: str) -> SimOutcome | None:
    """None when the step may proceed; DONE when the values already hold; STALE when moved
    (or moved to another account than the plan's: a single GET still finds it there)."""
    if live is None:
        return SimOutcome(sim.iccid, Outcome.STALE, "no longer in the account")
    if live.account != account:
        return SimOutcome(
            sim.iccid,
            Outcome.STALE,
            f"moved to account {live.account} since the plan",
            (FieldChange("account", account, live.account),),
        )
    if all(fields.live_value(live, path) == value for path, value in sim.before.items()):
        return None  # the common case, without building the list of what moved
    moved = what_moved(sim, live)
    if not moved:
        return None
    if holds_after(sim, live) and all(m.field in sim.after for m in moved):
        return SimOutcome(sim.iccid, Outcome.DONE, ALREADY)
    text = ", ".join(f"{m.field} {_show(m.before)} -> {_show(m.after)}" for m in moved)
    return SimOutcome(sim.iccid, Outcome.STALE, f"moved since the plan: {text}", moved)


def after_refusal(sim: StepSim, live: LiveSim | None, reason: str) -> SimOutcome:
    """A refused or unanswered call on a SIM that already holds the step's values counts as
    done; otherwise it failed with ``reason``."""
    if live is not None and holds_after(sim, live):
        return SimOutcome(sim.iccid, Outcome.DONE, ALREADY)
    return SimOutcome(sim.iccid, Outcome.FAILED, reason)


def may_have_acted(exc: ApiError) -> bool:
    """Whether a write that raised ``exc`` may still have taken effect: its answer was lost
    after sending, or the server failed (a 5xx to a POST is not retried: it may have acted)."""
    if isinstance(exc, TransportError):
        return exc.maybe_sent
    return isinstance(exc, ServerError)


def reason_of(exc: ApiError) -> str:
    """The API's reason in a few words: the 422 code, else status and title."""
    if exc.code:
        return exc.code
    if exc.status:
        return f"{exc.status} {exc.title}"
    return exc.title


def job_verdicts(
    iccids: Sequence[str], job: BatchJob | None
) -> tuple[list[SimOutcome], dict[str, str]]:
    """A finished batch job's results for its SIMs: the final outcomes, and the SIMs to re-read
    (iccid -> the reason they failed if they do not hold the values). ``job`` None: the server
    no longer knows the job, so every SIM is decided by its live state."""
    items = {item.iccid: item for item in job.items} if job is not None else {}
    outcomes: list[SimOutcome] = []
    recheck: dict[str, str] = {}
    for iccid in iccids:
        item = items.get(iccid)
        if item is not None and item.ok:
            outcomes.append(SimOutcome(iccid, Outcome.DONE))
        elif item is not None and item.code not in (None, "illegal_status"):
            outcomes.append(SimOutcome(iccid, Outcome.FAILED, item.code))
        elif item is not None:
            recheck[iccid] = item.code or "failed in the batch job"
        elif job is None:
            recheck[iccid] = "batch job no longer known to the server"
        else:
            recheck[iccid] = f"no result in batch job {job.job_id} ({job.status.value})"
    return outcomes, recheck


def recheck_verdicts(
    sims: Mapping[str, StepSim],
    recheck: Mapping[str, str],
    live: Mapping[str, LiveSim | None],
) -> list[SimOutcome]:
    """The re-read SIMs of `job_verdicts`: DONE when they hold the values, else FAILED."""
    return [
        after_refusal(sims[iccid], live.get(iccid), reason) for iccid, reason in recheck.items()
    ]


__all__ = [
    "after_refusal",
    "check",
    "holds_after",
    "job_verdicts",
    "may_have_acted",
    "reason_of",
    "recheck_verdicts",
    "what_moved",
]

"""Single calls: one SIM's write for a step that does not run as a batch job, and its outcome.

`send` maps a step's operation to the API call: a status action, or the write of the field
kind the operation belongs to (`reconciler.fields`). `single_outcome` reads the answer: DONE, or a
refused or unanswered call decided by one GET (a SIM already holding the step's values counts
as done), or FAILED with the API's reason. A bad key (401) or a refused resource (403) is no
verdict on the SIM: it propagates and stops the run instead of failing every SIM in turn.
"""

from __future__ import annotations

from reconciler import fields
from reconciler.applier.reads import get_or_none
from reconciler.applier.verdicts import after_refusal, reason_of
from reconciler.errors import (
    ApiError,
    AuthenticationError,
    ForbiddenError,
    IllegalStatus,
    ServerError,
    TransportError,
)
from reconciler.model import (
    Operation,
    Outcome,
    SimOutcome,
    Step,
    StepSim,
)
from reconciler.smarthub.api import SmartHubApi


def single_outcome(api: SmartHubApi, step: Step, sim: StepSim) -> SimOutcome:
    """Send one SIM's call and say what became of it."""
    try:
        send(api, step, sim)
        return SimOutcome(sim.iccid, Outcome.DONE)
    except IllegalStatus as exc:
        return _decide(api, sim, reason_of(exc))
    except (AuthenticationError, ForbiddenError):
        raise
    except (ServerError, TransportError) as exc:
        # the retries are spent, but the change may have landed before the answer was lost
        try:
            return _decide(api, sim, reason_of(exc))
        except (AuthenticationError, ForbiddenError):
            raise
        except ApiError:
            return SimOutcome(sim.iccid, Outcome.FAILED, reason_of(exc))
    except ApiError as exc:
        return SimOutcome(sim.iccid, Outcome.FAILED, reason_of(exc))


def _decide(api: SmartHubApi, sim: StepSim, reason: str) -> SimOutcome:
    """One GET decides a refused or unanswered call (`after_refusal`)."""
    return after_refusal(sim, get_or_none(api, sim.iccid), reason)


def send(api: SmartHubApi, step: Step, sim: StepSim) -> None:
    """The API call(s) of ``step`` for one SIM: a status action, or the field kind's write
    (`SmartHubApi.write_field`) of the values the step sets, in field-path order."""
    iccid, op = sim.iccid, step.operation
    if op is Operation.ACTIVATE:
        api.activate(iccid)
        return
    if op is Operation.SUSPEND:
        api.suspend(iccid)
        return
    if op is Operation.RETIRE:
        api.retire(iccid)
        return
    kind = fields.of_operation(op)
    if kind is None:  # pragma: no cover - every operation is a status one or a kind's
        raise AssertionError(f"unknown operation {op}")
    values: dict[str | None, str | None] = {}
    for path, value in sorted(sim.after.items()):
        found, key = fields.split(path)
        if found is kind:
            values[key] = value
    if kind.step_group == "value" and not kind.keyed:
        # a step split by its value (the rate plan) names it, for plans that left it out
        value = values.get(None) or step.rate_plan
        assert value is not None
        values = {None: value}
    api.write_field(kind.name, iccid, values)


__all__ = ["send", "single_outcome"]

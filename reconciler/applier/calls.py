"""Single calls: one SIM's write for a step that does not run as a batch job, and its outcome.

`send` maps a step's operation to the API call. `single_outcome` reads the answer: DONE, or a
refused or unanswered call decided by one GET (a SIM already holding the step's values counts
as done), or FAILED with the API's reason. A bad key (401) or a refused resource (403) is no
verdict on the SIM: it propagates and stops the run instead of failing every SIM in turn.
"""

from __future__ import annotations

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
    RATE_PLAN,
    ApnStatus,
    Operation,
    Outcome,
    SimOutcome,
    Step,
    StepSim,
    parse_field,
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
    """The API call(s) of ``step`` for one SIM."""
    iccid, op = sim.iccid, step.operation
    if op is Operation.ACTIVATE:
        api.activate(iccid)
    elif op is Operation.SUSPEND:
        api.suspend(iccid)
    elif op is Operation.RETIRE:
        api.retire(iccid)
    elif op is Operation.SET_RATE_PLAN:
        plan_name = sim.after.get(RATE_PLAN) or step.rate_plan
        assert plan_name is not None
        api.set_rate_plan(iccid, plan_name)
    elif op is Operation.SUBSCRIBE_PLAN:
        for path in sim.after:
            kind, key = parse_field(path)
            if kind == "supplementaryPlans" and key is not None:
                api.subscribe_plan(iccid, key)
    elif op is Operation.SET_APN_STATUS:
        for path, value in sorted(sim.after.items()):
            kind, key = parse_field(path)
            if kind == "apns" and key is not None and value is not None:
                api.set_apn_status(iccid, key, ApnStatus(value))
    elif op is Operation.SET_CUSTOM_FIELDS:
        values: dict[str, str | None] = {}
        for path, value in sim.after.items():
            kind, key = parse_field(path)
            if kind == "customFields" and key is not None:
                values[key] = value
        api.set_custom_fields(iccid, values)
    else:  # pragma: no cover - every Operation is handled above
        raise AssertionError(f"unknown operation {op}")


__all__ = ["send", "single_outcome"]

"""The SIM state machine: which status moves are legal, and the steps that make them.

Paths through the state machine (docs/smarthub-api.md)
------------------------------------------------------
==================  ==========================  ===================================
live                desired                      status steps
==================  ==========================  ===================================
pre-service         active                       activate
suspended           active                       activate
active/pre-service  suspended                    suspend
suspended           retired                      retire
active/pre-service  retired                      suspend, then retire (two waves)
retired             anything different           a Problem (the diff reports it)
==================  ==========================  ===================================
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler import fields
from reconciler.model import PRE_SERVICE, Operation, Status


def status_path(live: Status, target: Status) -> tuple[Operation, ...] | None:
    """The status operations taking ``live`` to ``target``; None when no path exists."""
    if live is target:
        return ()
    if live is Status.RETIRED:
        return None
    if target is Status.ACTIVE:
        return (Operation.ACTIVATE,)
    if target is Status.SUSPENDED:
        return None if live is Status.SUSPENDED else (Operation.SUSPEND,)
    if target is Status.RETIRED:
        if live is Status.SUSPENDED:
            return (Operation.RETIRE,)
        return (Operation.SUSPEND, Operation.RETIRE)
    return None  # a pre-service state is never a target


_RESULT: Mapping[Operation, Status] = {
    Operation.ACTIVATE: Status.ACTIVE,
    Operation.SUSPEND: Status.SUSPENDED,
    Operation.RETIRE: Status.RETIRED,
}


def operation_allowed(operation: Operation, status: Status) -> bool:
    """Whether SmartHub accepts ``operation`` on a SIM in ``status`` (the contract's table)."""
    if operation is Operation.ACTIVATE:
        return status in PRE_SERVICE or status is Status.SUSPENDED
    if operation is Operation.SUSPEND:
        return status in PRE_SERVICE or status is Status.ACTIVE
    if operation is Operation.RETIRE:
        return status is Status.SUSPENDED
    kind = fields.of_operation(operation)
    if kind is not None and kind.needs_active:  # a subscribe
        return status is Status.ACTIVE
    return status is not Status.RETIRED


def operation_result(operation: Operation) -> Status | None:
    """The status a status operation leaves the SIM in (None for field operations)."""
    return _RESULT.get(operation)


__all__ = ["operation_allowed", "operation_result", "status_path"]

"""SmartHub's wire format of the managed field kinds: how a SIM record carries each kind and how
each is written, keyed by the kind's name in `reconciler.fields`.

The five kinds fleetform has are read by `reconciler.smarthub.wire_sims` into the typed
attributes of `LiveSim` (``basicServicePackage``, ``supplementaryServicePackages``, ``apns``,
``custom1``..``custom5``). A kind added later says here which fields of the SIM record carry
it (``FieldWire.record_keys``) and how they read into ``LiveSim.extra[name]``
(``FieldWire.read``); the list's fast decoder and `wire_sims.parse_sim` both take them from
here. Every kind but ``state`` (whose calls are the status actions and batch jobs) has its
single write here (``FieldWire.write``): the requests that set it, in the order of the values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.model import CUSTOM_FIELD_NAMES, ApnStatus
from reconciler.smarthub.wire_values import sim_path

APN_FROM_WIRE: Mapping[str, ApnStatus] = {
    "ENABLED": ApnStatus.ENABLED,
    "DISABLED": ApnStatus.DISABLED,
}
APN_TO_WIRE: Mapping[ApnStatus, str] = {v: k for k, v in APN_FROM_WIRE.items()}

# --- paths and bodies ---------------------------------------------------------------------------


def custom_fields_path(iccid: str) -> str:
    return f"{sim_path(iccid)}/custom-field"


def basic_plan_path(iccid: str) -> str:
    return f"{sim_path(iccid)}/servicePackage"


def supplementary_plan_path(iccid: str) -> str:
    return f"{sim_path(iccid)}/supplementaryServicePackages"


def apn_status_path(iccid: str) -> str:
    return f"{sim_path(iccid)}/apnStatus"


def custom_fields_body(values: Mapping[str, str | None]) -> dict[str, str | None]:
    """Only the given fields (an omitted field is left as is on the server; None clears)."""
    unknown = sorted(set(values) - set(CUSTOM_FIELD_NAMES))
    if unknown:
        raise ValueError(f"not custom fields: {', '.join(unknown)}")
    return {name: values[name] for name in CUSTOM_FIELD_NAMES if name in values}


def service_package_body(plan: str) -> dict[str, str]:
    return {"servicePackageName": plan}


def apn_status_body(apn: str, status: ApnStatus) -> dict[str, str]:
    return {"apn": apn, "status": APN_TO_WIRE[status]}


# --- the table -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WireRequest:
    """One request a write makes: method, path (relative to the endpoint) and JSON body."""

    method: str
    path: str
    body: Any


# A kind's values as `reconciler.fields` hands them: key (None for an unkeyed kind) -> text.
FieldValues = Mapping[str | None, str | None]


@dataclass(frozen=True, slots=True)
class FieldWire:
    """The wire side of one field kind (see the module docstring)."""

    write: Callable[[str, FieldValues], list[WireRequest]] | None = None
    record_keys: tuple[str, ...] = ()  # the SIM record's fields that carry a kind added later
    # those fields' values (None when absent) -> the kind's values, key "" when unkeyed
    read: Callable[[Mapping[str, Any]], Mapping[str, str | None]] | None = None


def _rate_plan_writes(iccid: str, values: FieldValues) -> list[WireRequest]:
    plan = values.get(None)
    if not plan:
        raise ValueError("a rate plan change needs the plan's name")
    return [WireRequest("PUT", basic_plan_path(iccid), service_package_body(plan))]


def _subscribe_writes(iccid: str, values: FieldValues) -> list[WireRequest]:
    """One POST per plan (subscribe only: there is no unsubscribe call)."""
    path = supplementary_plan_path(iccid)
    return [WireRequest("POST", path, service_package_body(plan)) for plan in values if plan]


def _apn_writes(iccid: str, values: FieldValues) -> list[WireRequest]:
    """One PUT per APN; an APN without a status is left as it is."""
    path = apn_status_path(iccid)
    return [
        WireRequest("PUT", path, apn_status_body(apn, ApnStatus(status)))
        for apn, status in values.items()
        if apn and status is not None
    ]


def _custom_field_writes(iccid: str, values: FieldValues) -> list[WireRequest]:
    """One PUT of only the given fields (None clears one)."""
    named = {key: value for key, value in values.items() if key is not None}
    return [WireRequest("PUT", custom_fields_path(iccid), custom_fields_body(named))]


FIELD_WIRES: Mapping[str, FieldWire] = {
    "ratePlan": FieldWire(write=_rate_plan_writes),
    "supplementaryPlans": FieldWire(write=_subscribe_writes),
    "apns": FieldWire(write=_apn_writes),
    "customFields": FieldWire(write=_custom_field_writes),
}


def field_writes(kind: str, iccid: str, values: FieldValues) -> list[WireRequest]:
    """The requests that set ``values`` of the field kind ``kind`` on one SIM."""
    wire = FIELD_WIRES.get(kind)
    if wire is None or wire.write is None:
        raise ValueError(f"no write is known for the field kind {kind!r}")
    return wire.write(iccid, values)


def record_readers() -> tuple[tuple[str, FieldWire], ...]:
    """The kinds a SIM record carries beyond the five typed ones, with their wire side."""
    return tuple((name, w) for name, w in FIELD_WIRES.items() if w.read is not None)

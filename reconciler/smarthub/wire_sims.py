"""SmartHub's wire format, its SIM records: a SIM, a page of the list, custom fields and the
change history, into `reconciler.model` records (`reconciler.smarthub.wire` holds the paths).

A record that cannot be understood raises `MalformedResponse` naming the field (never a bare
KeyError/TypeError).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from functools import cache
from typing import Any

import msgspec

from reconciler.model import (
    CUSTOM_FIELD_NAMES,
    NO_EXTRA,
    ApnStatus,
    ChangeLogEntry,
    LiveSim,
    Status,
)
from reconciler.smarthub.wire_fields import APN_FROM_WIRE, record_readers
from reconciler.smarthub.wire_values import (
    as_list,
    as_object,
    get_str,
    malformed,
    parse_time,
)

# --- SIM ----------------------------------------------------------------------------------------

STATUS_FROM_WIRE: Mapping[str, Status] = {
    "TEST_READY": Status.TEST_READY,
    "INVENTORY": Status.INVENTORY,
    "ACTIVATION_READY": Status.ACTIVATION_READY,
    "ACTIVATED": Status.ACTIVE,
    "DEACTIVATED": Status.SUSPENDED,
    "RETIRED": Status.RETIRED,
}
STATUS_TO_WIRE: Mapping[Status, str] = {v: k for k, v in STATUS_FROM_WIRE.items()}


def _status(value: str | None, where: str) -> Status:
    if value is None:
        raise malformed(where, "missing field 'status'")
    status = STATUS_FROM_WIRE.get(value.upper())
    if status is None:
        raise malformed(where, f"field 'status': unknown SIM state {value!r}")
    return status


def _plan_name(item: Any, where: str) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, Mapping):  # liberal: [{"name": ...}] or [{"servicePackageName": ...}]
        for key in ("name", "servicePackageName"):
            if isinstance(item.get(key), str):
                return str(item[key])
    raise malformed(where, f"expected a plan name, got {item!r}")


def _apns(value: Any, where: str) -> dict[str, ApnStatus]:
    apns: dict[str, ApnStatus] = {}
    for index, raw in enumerate(as_list(value, f"{where}.apns")):
        item_where = f"{where}.apns[{index}]"
        item = as_object(raw, item_where)
        name = get_str(item, "apn", item_where, required=True)
        status_text = get_str(item, "status", item_where, required=True)
        assert name is not None and status_text is not None
        status = APN_FROM_WIRE.get(status_text.upper())
        if status is None:
            raise malformed(item_where, f"field 'status': unknown APN status {status_text!r}")
        apns[name] = status
    return apns


def parse_custom_fields(raw: Any, where: str = "custom fields") -> dict[str, str | None]:
    """custom1..custom5; an empty string is the same as null (empty) to fleetform."""
    record = as_object(raw, where)
    return {name: get_str(record, name, where) or None for name in CUSTOM_FIELD_NAMES}


def parse_sim(raw: Any, where: str = "SIM") -> LiveSim:
    record = as_object(raw, where)
    giccid = get_str(record, "giccid", where, required=True)
    assert giccid is not None
    where = f"SIM {giccid}"
    supplementary = tuple(
        _plan_name(item, f"{where}.supplementaryServicePackages")
        for item in as_list(
            record.get("supplementaryServicePackages"), f"{where}.supplementaryServicePackages"
        )
    )
    return LiveSim(
        iccid=giccid,
        status=_status(get_str(record, "status", where), where),
        account=get_str(record, "accountName", where) or "",
        rate_plan=get_str(record, "basicServicePackage", where),
        supplementary_plans=supplementary,
        apns=_apns(record.get("apns"), where),
        custom_fields=parse_custom_fields(record, where),
        wire_iccid=get_str(record, "iccid", where),
        imsi=get_str(record, "imsi", where),
        msisdn=get_str(record, "msisdn", where),
        imei=get_str(record, "imei", where),
        activated_time=parse_time(record.get("activatedTime"), field=f"{where}.activatedTime"),
        last_modified_time=parse_time(
            record.get("lastModifiedTime"), field=f"{where}.lastModifiedTime"
        ),
        url=get_str(record, "url", where),
        extra=_extra({key: record.get(key) for key in _record_keys()}, where),
    )


def _record_keys() -> tuple[str, ...]:
    """The SIM record's fields that carry field kinds added later (`wire_fields.FIELD_WIRES`)."""
    return tuple(key for _, wire in record_readers() for key in wire.record_keys)


def _extra(values: Mapping[str, Any], where: str) -> Mapping[str, Mapping[str, str | None]]:
    """The values of the field kinds added later, from their record fields (None: absent)."""
    readers = record_readers()
    if not readers:
        return NO_EXTRA
    extra: dict[str, Mapping[str, str | None]] = {}
    for name, wire in readers:
        assert wire.read is not None
        try:
            extra[name] = wire.read({key: values.get(key) for key in wire.record_keys})
        except (TypeError, ValueError) as exc:
            raise malformed(where, f"field kind {name!r}: {exc}") from None
    return extra


def parse_sim_page(raw: Any) -> list[LiveSim]:
    """A page of the SIM list, from `decode_sim_page`'s records or from plain JSON values."""
    if isinstance(raw, _FastPage):
        try:
            sims = [_sim_from_wire(item) for item in raw.sims]
            keys = _record_keys()
            if keys:  # field kinds added later, read from their record fields
                sims = [
                    replace(sim, extra=_extra({k: getattr(item, k) for k in keys}, sim.iccid))
                    for sim, item in zip(sims, raw.sims, strict=True)
                ]
            return sims
        except KeyError:  # a state or APN status in lower case, or unknown: parse_sim judges
            raw = json.loads(raw.body)
    return [parse_sim(item, f"SIM list[{i}]") for i, item in enumerate(as_list(raw, "SIM list"))]


# A page of 100 SIMs is decoded by msgspec straight into these records, in C; `parse_sim` read
# every field through a Python call (1.8 million calls for 100,000 SIMs, about 3 s). The
# records take only the common shape exactly (strings, null, lists of plan names, RFC 3339
# times); anything else, or an unknown state, makes `decode_sim_page` hand the page to
# `parse_sim` as plain JSON, which accepts the liberal shapes or names the malformed field.
# gc=False: they hold only strings, times and lists of those (never a cycle), so the cyclic
# collector need not track the million of them a full read makes.


class _WireApn(msgspec.Struct, gc=False):
    apn: str
    status: str


class _WireSim(msgspec.Struct, gc=False):
    giccid: str
    status: str
    accountName: str | None = None
    basicServicePackage: str | None = None
    supplementaryServicePackages: list[str] | None = None
    apns: list[_WireApn] | None = None
    custom1: str | None = None
    custom2: str | None = None
    custom3: str | None = None
    custom4: str | None = None
    custom5: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    msisdn: str | None = None
    imei: str | None = None
    activatedTime: datetime | None = None
    lastModifiedTime: datetime | None = None
    url: str | None = None


_SIM_PAGE_DECODER = msgspec.json.Decoder(list[_WireSim])


@cache
def _page_decoder(keys: tuple[str, ...]) -> msgspec.json.Decoder[Any]:
    """The page decoder, with the record fields of field kinds added later as further fields
    of the record (any JSON value, None when absent)."""
    if not keys:
        return _SIM_PAGE_DECODER
    more = msgspec.defstruct("_WireSimMore", [(key, Any, None) for key in keys], bases=(_WireSim,))
    return msgspec.json.Decoder(list[more])  # type: ignore[valid-type]


class _FastPage:
    """SIM records decoded by `decode_sim_page`, and the body they came from."""

    __slots__ = ("body", "sims")

    def __init__(self, sims: list[_WireSim], body: bytes) -> None:
        self.sims = sims
        self.body = body


def decode_sim_page(body: bytes) -> Any:
    """The body of a SIM list page, for `parse_sim_page`; ``ValueError`` if it is not JSON."""
    if not body.strip():
        return None
    try:
        sims = _page_decoder(_record_keys()).decode(body)
    except msgspec.DecodeError:  # another shape (parse_sim judges it), or not UTF-8 JSON
        return json.loads(body)  # ValueError if it is not JSON at all
    return _FastPage(sims, body)


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is UTC:
        return value
    if value.tzinfo is None:  # naive: UTC, as parse_time reads it
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _sim_from_wire(sim: _WireSim) -> LiveSim:
    # positional, in LiveSim's field order (a test compares every field with parse_sim's): 14
    # keyword arguments cost about 2 us a SIM more, 2 s of CPU for a million SIMs
    apns = sim.apns
    activated = sim.activatedTime
    modified = sim.lastModifiedTime
    return LiveSim(
        sim.giccid,
        STATUS_FROM_WIRE[sim.status],
        sim.accountName or "",
        sim.basicServicePackage,
        tuple(sim.supplementaryServicePackages) if sim.supplementaryServicePackages else (),
        {apn.apn: APN_FROM_WIRE[apn.status] for apn in apns} if apns else {},
        {
            "custom1": sim.custom1 or None,
            "custom2": sim.custom2 or None,
            "custom3": sim.custom3 or None,
            "custom4": sim.custom4 or None,
            "custom5": sim.custom5 or None,
        },
        sim.iccid,
        sim.imsi,
        sim.msisdn,
        sim.imei,
        activated if activated is None or activated.tzinfo is UTC else _utc(activated),
        modified if modified is None or modified.tzinfo is UTC else _utc(modified),
        sim.url,
    )


def parse_change_log(raw: Any, where: str = "change log") -> ChangeLogEntry:
    record = as_object(raw, where)
    giccid = get_str(record, "giccid", where, required=True)
    change_type = get_str(record, "changeType", where, required=True)
    changed = parse_time(record.get("changedTime"), field=f"{where}.changedTime")
    if changed is None:
        raise malformed(where, "missing field 'changedTime'")
    assert giccid is not None and change_type is not None
    kind = change_type.lower()  # STATUS/SERVICE_PACKAGE/IMEI -> status/...
    old_value = get_str(record, "oldValue", where)
    new_value = get_str(record, "newValue", where)
    if kind == "status":  # state names in fleetform's words (ACTIVATED -> active)
        old_value, new_value = _status_name(old_value), _status_name(new_value)
    return ChangeLogEntry(
        iccid=giccid,
        change_type=kind,
        old_value=old_value,
        new_value=new_value,
        changed_time=changed,
    )


def _status_name(value: str | None) -> str | None:
    """A wire state as a `Status` value; an unknown one is kept as sent (history is a hint)."""
    if value is None:
        return None
    status = STATUS_FROM_WIRE.get(value.upper())
    return status.value if status is not None else value


def parse_change_log_page(raw: Any) -> list[ChangeLogEntry]:
    return [
        parse_change_log(item, f"change log[{i}]")
        for i, item in enumerate(as_list(raw, "change log list"))
    ]

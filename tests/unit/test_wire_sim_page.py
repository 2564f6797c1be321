"""The SIM list page decoded in C (`wire.decode_sim_page`) gives the records `parse_sim` gives,
and hands every other shape to `parse_sim`, so liberal readings and clear errors stay."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.smarthub import wire


def _record(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "giccid": "8944500000000000018",
        "iccid": "89445000000000000",
        "imsi": "460001234567890",
        "msisdn": "882360010341361",
        "imei": "356938035643809",
        "status": "ACTIVATED",
        "accountName": "acme",
        "basicServicePackage": "IoT-1GB",
        "supplementaryServicePackages": ["EU-Roaming-500MB"],
        "apns": [{"apn": "iot.acme", "status": "ENABLED"}, {"apn": "m2m", "status": "DISABLED"}],
        "custom1": "berlin",
        "custom2": None,
        "custom3": "",
        "activatedTime": "2024-05-01T10:00:00+0000",
        "lastModifiedTime": "2024-05-02T11:00:00Z",
        "url": "https://x/v1/global-sims/8944500000000000018",
        "someFutureField": {"nested": True},
    }
    record.update(changes)
    return {k: v for k, v in record.items() if v is not _DROP}


_DROP: Any = object()


def _both(records: list[dict[str, Any]]) -> tuple[list[Any], list[Any]]:
    body = json.dumps(records).encode()
    fast = wire.parse_sim_page(wire.decode_sim_page(body))
    slow = wire.parse_sim_page(json.loads(body))
    return fast, slow


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"status": "DEACTIVATED", "apns": None, "supplementaryServicePackages": None},
        {"activatedTime": "2024-05-01T12:00:00+0200", "lastModifiedTime": "2024-05-01T10:00:00"},
        {"activatedTime": None, "lastModifiedTime": _DROP, "accountName": None},
        {"basicServicePackage": "", "custom5": "x", "apns": []},
    ],
)
def test_the_common_shape_is_decoded_in_c_to_the_same_records(changes: dict[str, Any]) -> None:
    body = json.dumps([_record(**changes)]).encode()
    assert type(wire.decode_sim_page(body)).__name__ == "_FastPage"
    fast, slow = _both([_record(**changes)])
    assert fast == slow
    assert [s.activated_time.tzinfo if s.activated_time else None for s in fast] == [
        s.activated_time.tzinfo if s.activated_time else None for s in slow
    ]


@pytest.mark.parametrize(
    "changes",
    [
        {"status": "activated"},  # lower case: parse_sim reads it
        {"giccid": 8944500000000000018},  # a number where text is expected
        {"supplementaryServicePackages": [{"name": "EU-Roaming-500MB"}]},
        {"apns": [{"apn": "iot.acme", "status": "enabled"}]},
        {"activatedTime": 1714557600},  # epoch seconds
        {"activatedTime": ""},
    ],
)
def test_liberal_shapes_are_read_as_parse_sim_reads_them(changes: dict[str, Any]) -> None:
    fast, slow = _both([_record(**changes)])
    assert fast == slow


def test_a_malformed_record_is_named_as_before() -> None:
    body = json.dumps([_record(), _record(status="EXPLODED")]).encode()
    with pytest.raises(wire.MalformedResponse, match=r"SIM 8944500000000000018: field 'status'"):
        wire.parse_sim_page(wire.decode_sim_page(body))
    body = json.dumps([_record(giccid=_DROP)]).encode()
    with pytest.raises(wire.MalformedResponse, match=r"SIM list\[0\]: missing field 'giccid'"):
        wire.parse_sim_page(wire.decode_sim_page(body))


def test_bodies_that_are_not_a_list_of_sims() -> None:
    assert wire.parse_sim_page(wire.decode_sim_page(b"")) == []
    assert wire.parse_sim_page(wire.decode_sim_page(b"null")) == []
    with pytest.raises(wire.MalformedResponse, match="expected a JSON array"):
        wire.parse_sim_page(wire.decode_sim_page(b'{"giccid": "1"}'))
    with pytest.raises(ValueError):
        wire.decode_sim_page(b"<html>busy</html>")

"""The wire mapping: SmartHub JSON <-> reconciler.model records, Link headers, times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from reconciler import fields
from reconciler.errors import ApiError
from reconciler.model import (
    ApnStatus,
    BatchOperation,
    JobStatus,
    RatePlanType,
    SmsStatus,
    Status,
)
from reconciler.smarthub import wire

SIM: dict[str, Any] = {
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
    "activatedTime": "2024-05-01T10:00:00+0000",
    "lastModifiedTime": "2024-05-02T11:00:00Z",
    "url": "https://x/v1/global-sims/8944500000000000018",
    "someFutureField": {"nested": True},
}


def test_sim_maps_every_field() -> None:
    sim = wire.parse_sim(SIM)
    assert sim.iccid == "8944500000000000018"
    assert sim.status is Status.ACTIVE
    assert sim.account == "acme"
    assert sim.rate_plan == "IoT-1GB"
    assert sim.supplementary_plans == ("EU-Roaming-500MB",)
    assert sim.apns == {"iot.acme": ApnStatus.ENABLED, "m2m": ApnStatus.DISABLED}
    assert sim.custom_fields == {
        "custom1": "berlin",
        "custom2": None,
        "custom3": None,
        "custom4": None,
        "custom5": None,
    }
    assert sim.wire_iccid == "89445000000000000"
    assert sim.imsi == "460001234567890"
    assert sim.msisdn == "882360010341361"
    assert sim.imei == "356938035643809"
    assert sim.activated_time == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert sim.last_modified_time == datetime(2024, 5, 2, 11, tzinfo=UTC)
    assert sim.url == SIM["url"]


@pytest.mark.parametrize(
    ("wire_name", "status"),
    [
        ("TEST_READY", Status.TEST_READY),
        ("INVENTORY", Status.INVENTORY),
        ("ACTIVATION_READY", Status.ACTIVATION_READY),
        ("ACTIVATED", Status.ACTIVE),
        ("DEACTIVATED", Status.SUSPENDED),
        ("RETIRED", Status.RETIRED),
    ],
)
def test_states_map_both_ways(wire_name: str, status: Status) -> None:
    assert wire.parse_sim({**SIM, "status": wire_name}).status is status
    assert wire.STATUS_TO_WIRE[status] == wire_name
    assert wire.list_params(account=None, status=status)["status"] == wire_name


def test_minimal_sim_with_nulls_is_accepted() -> None:
    sim = wire.parse_sim(
        {"giccid": "1", "status": "DEACTIVATED", "apns": None, "supplementaryServicePackages": None}
    )
    assert sim.status is Status.SUSPENDED
    assert sim.apns == {}
    assert sim.supplementary_plans == ()
    assert sim.rate_plan is None


def test_an_empty_custom_field_reads_as_empty() -> None:
    """SmartHub may say "" or null for an empty field; both must compare as the manifest's
    null, or apply would call the field stale forever."""
    sim = wire.parse_sim({**SIM, "custom3": ""})
    assert sim.custom_fields["custom3"] is None
    assert wire.parse_custom_fields({"custom1": "", "custom2": "x"})["custom1"] is None
    assert fields.live_value(sim, "customFields.custom3") is None


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({**SIM, "status": "FROZEN"}, "field 'status': unknown SIM state 'FROZEN'"),
        ({k: v for k, v in SIM.items() if k != "status"}, "missing field 'status'"),
        ({k: v for k, v in SIM.items() if k != "giccid"}, "missing field 'giccid'"),
        ({**SIM, "apns": [{"apn": "a", "status": "MAYBE"}]}, "apns[0]: field 'status'"),
        ({**SIM, "apns": [{"status": "ENABLED"}]}, "apns[0]: missing field 'apn'"),
        ({**SIM, "apns": "iot.acme"}, "apns: expected a JSON array"),
        ({**SIM, "custom1": ["x"]}, "field 'custom1': expected a string"),
        ({**SIM, "activatedTime": "yesterday"}, "activatedTime: not an ISO 8601 time"),
        ("not an object", "expected a JSON object"),
    ],
)
def test_malformed_sim_names_the_field(record: Any, message: str) -> None:
    with pytest.raises(ApiError) as info:
        wire.parse_sim(record)
    assert isinstance(info.value, wire.MalformedResponse)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        "2024-05-01T10:00:00+0000",
        "2024-05-01T10:00:00Z",
        "2024-05-01T10:00:00+00:00",
        "2024-05-01T10:00:00",
        "2024-05-01T12:00:00+0200",
        "2024-05-01T10:00:00.000Z",
    ],
)
def test_times_are_read_liberally(text: str) -> None:
    assert wire.parse_time(text) == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_epoch_times_are_accepted() -> None:
    assert wire.parse_time(1714557600) == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert wire.parse_time(1714557600000) == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert wire.parse_time(None) is None


def test_times_are_sent_in_the_vendor_format() -> None:
    assert wire.format_time(datetime(2024, 5, 1, 10, tzinfo=UTC)) == "2024-05-01T10:00:00+0000"
    assert wire.format_time(datetime(2024, 5, 1, 10)) == "2024-05-01T10:00:00+0000"


def test_paths_escape_segments() -> None:
    assert wire.sim_path("894") == "/global-sims/894"
    assert wire.status_action_path("894", BatchOperation.SUSPEND) == "/global-sims/894/deactivate"
    assert wire.custom_fields_path("894") == "/global-sims/894/custom-field"
    assert wire.service_packages_path("acme corp/x") == "/acme%20corp%2Fx/servicePackages"
    assert wire.batch_path(BatchOperation.SET_RATE_PLAN) == "/batchJobs/global-sims/servicePackage"
    assert wire.batch_path(BatchOperation.RETIRE) == "/batchJobs/global-sims/retire"
    with pytest.raises(ValueError, match="giccid"):
        wire.sim_path("")


def test_request_bodies() -> None:
    assert wire.custom_fields_body({"custom3": None, "custom1": "a"}) == {
        "custom1": "a",
        "custom3": None,
    }
    with pytest.raises(ValueError, match="custom9"):
        wire.custom_fields_body({"custom9": "x"})
    assert wire.apn_status_body("iot", ApnStatus.DISABLED) == {"apn": "iot", "status": "DISABLED"}
    assert wire.batch_body(BatchOperation.SET_RATE_PLAN, ["1", "2"], "IoT-5GB") == {
        "giccids": ["1", "2"],
        "servicePackageName": "IoT-5GB",
    }
    assert wire.batch_body(BatchOperation.ACTIVATE, ["1"], None) == {"giccids": ["1"]}
    assert wire.sms_body("1", "hi") == {"toGiccid": "1", "content": "hi"}


def test_batch_job_with_partial_failure() -> None:
    job = wire.parse_batch_job(
        {
            "jobId": "j-1",
            "type": "deactivate",
            "status": "PARTIALLY_FAILED",
            "total": 2,
            "succeeded": 1,
            "failed": 1,
            "items": [
                {"giccid": "1", "result": "SUCCESS"},
                {"giccid": "2", "result": "FAILED", "code": "illegal_status"},
            ],
        }
    )
    assert job.job_id == "j-1"
    assert job.status is JobStatus.PARTIALLY_FAILED
    assert job.operation is BatchOperation.SUSPEND
    assert (job.total, job.succeeded, job.failed) == (2, 1, 1)
    assert job.items[0].ok and job.items[0].code is None
    assert not job.items[1].ok and job.items[1].code == "illegal_status"


def test_submitted_job_is_pending_with_its_total() -> None:
    job = wire.parse_submitted_job(
        {"jobId": "j-2", "status": "PENDING", "url": "/v1/batchJobs/j-2"},
        BatchOperation.ACTIVATE,
        7,
    )
    assert (job.job_id, job.status, job.operation, job.total) == (
        "j-2",
        JobStatus.PENDING,
        BatchOperation.ACTIVATE,
        7,
    )


def test_malformed_job_names_the_field() -> None:
    with pytest.raises(wire.MalformedResponse, match=r"items\[0\]: field 'result'"):
        wire.parse_batch_job(
            {"jobId": "j", "status": "COMPLETED", "items": [{"giccid": "1", "result": "OK"}]}
        )
    with pytest.raises(wire.MalformedResponse, match="unknown job status 'DONE'"):
        wire.parse_batch_job({"jobId": "j", "status": "DONE"})


def test_change_logs_service_packages_sms() -> None:
    [entry] = wire.parse_change_log_page(
        [
            {
                "giccid": "1",
                "changeType": "SERVICE_PACKAGE",
                "oldValue": "A",
                "newValue": "B",
                "changedTime": "2024-05-01T10:00:00+0000",
            }
        ]
    )
    [status_change] = wire.parse_change_log_page(
        [
            {
                "giccid": "1",
                "changeType": "STATUS",
                "oldValue": "ACTIVATED",
                "newValue": "DEACTIVATED",
                "changedTime": "2024-05-01T10:00:00Z",
            }
        ]
    )
    assert (status_change.old_value, status_change.new_value) == ("active", "suspended")
    assert entry.change_type == "service_package"
    assert (entry.old_value, entry.new_value) == ("A", "B")
    assert entry.changed_time == datetime(2024, 5, 1, 10, tzinfo=UTC)
    plans = wire.parse_service_packages(
        [
            {"name": "IoT-1GB", "type": "BASIC", "prepaid": False},
            {"name": "EU", "type": "SUPPLEMENTARY", "prepaid": True},
        ]
    )
    assert [(p.name, p.type, p.prepaid) for p in plans] == [
        ("IoT-1GB", RatePlanType.BASIC, False),
        ("EU", RatePlanType.SUPPLEMENTARY, True),
    ]
    assert wire.parse_sms_id({"smsMsgId": "s1"}) == "s1"
    assert wire.parse_sms_status({"status": "DELIVERED"}) is SmsStatus.DELIVERED
    params = wire.change_log_params(iccid="1", since=datetime(2024, 5, 1, tzinfo=UTC))
    assert params == {"size": 100, "giccid": "1", "since": "2024-05-01T00:00:00+0000"}


def test_problem_documents() -> None:
    title, detail, errors = wire.parse_problem(
        {
            "type": "about:blank",
            "title": "Validation Failed",
            "status": 422,
            "errors": [{"resource": "sim", "field": "status", "code": "illegal_status"}, "junk"],
        }
    )
    assert title == "Validation Failed"
    assert detail is None
    assert [(e.resource, e.field, e.code) for e in errors] == [("sim", "status", "illegal_status")]
    assert wire.parse_problem("<html>") == (None, None, [])


def test_rate_headers() -> None:
    headers = {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "12", "X-RateLimit-Reset": "3"}
    assert wire.parse_rate_headers(headers) == (5000, 12, 3.0)
    assert wire.parse_rate_headers({"X-RateLimit-Limit": "5000"}) is None
    assert wire.parse_rate_headers({**headers, "X-RateLimit-Reset": "soon"}) is None


# --- Link ---------------------------------------------------------------------------------------

VENDOR_SAMPLE = (
    '<https://xxx.smh.smarthing.com/points?page=2&size=20>;\nrel="next",'
    '<https://xxx.smh.smarthing.com/points?page=0&size=20>;\nrel="prev",'
    '<https://xxx.smh.smarthing.com/points?page=5&size=20>;\nrel="last",'
    '<https://xxx.smh.smarthing.com/points?page=0&size=20>;\nrel="first"'
)


def test_link_vendor_sample_with_line_breaks() -> None:
    assert wire.link_rel(VENDOR_SAMPLE, "next") == (
        "https://xxx.smh.smarthing.com/points?page=2&size=20"
    )
    assert wire.link_rel(VENDOR_SAMPLE, "first") == (
        "https://xxx.smh.smarthing.com/points?page=0&size=20"
    )
    assert len(wire.parse_link_header(VENDOR_SAMPLE)) == 4


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("<a>; rel=next", "a"),
        ('<a>;rel="next"', "a"),
        ('<a> ; rel = "next"', "a"),
        ('<a>; rel="prev next"', "a"),
        ('<b>; rel="prev", <a>; rel="NEXT"', "a"),
        ('<a?x=1,2>; title="p, q; r"; rel="next"', "a?x=1,2"),
        ('<a>; rel="next"; rel="prev"', "a"),  # first rel wins
        ('<a>; title="say \\"hi\\""; rel=next', "a"),
        ("<a>; rel=prev", None),
        ("", None),
        ("garbage, <a>; rel=next", "a"),
        ("<a>; rel=nextpage", None),
    ],
)
def test_link_parsing_is_robust(header: str, expected: str | None) -> None:
    assert wire.link_rel(header, "next") == expected


# --- tolerant reads of shapes the contract assumes (issue 12) -----------------------------------


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ({"accounts": [{"name": "acme", "url": "u"}]}, ["acme"]),
        ({"accounts": ["acme"]}, ["acme"]),
        ({"accounts": [{"accountName": "acme"}]}, ["acme"]),
        ({"accounts": ["b", {"name": "a"}, "b", 3, None, {"url": "x"}]}, ["a", "b"]),
        ({"accounts": None}, []),
        ({"accounts": "acme"}, []),
        ({}, []),
        ([], []),
    ],
)
def test_enterprise_accounts_as_objects_or_plain_names(raw: object, names: list[str]) -> None:
    assert wire.enterprise_account_names(raw) == names


@pytest.mark.parametrize(
    ("prepaid", "expected"),
    [(True, True), (False, False), ("false", False), ("true", True), (0, False), (None, False)],
)
def test_prepaid_as_a_string_is_read_as_meant(prepaid: object, expected: bool) -> None:
    plans = wire.parse_service_packages([{"name": "P", "type": "BASIC", "prepaid": prepaid}])
    assert plans[0].prepaid is expected


@pytest.mark.parametrize(("result", "ok"), [("SUCCEEDED", True), ("failure", False)])
def test_batch_item_results_in_other_spellings(result: str, ok: bool) -> None:
    job = wire.parse_batch_job(
        {"jobId": "j", "status": "COMPLETED", "items": [{"giccid": "1", "result": result}]}
    )
    assert job.items[0].ok is ok


def test_an_unknown_batch_item_result_is_still_an_error() -> None:
    with pytest.raises(wire.MalformedResponse, match="unknown result"):
        wire.parse_batch_job(
            {"jobId": "j", "status": "COMPLETED", "items": [{"giccid": "1", "result": "MAYBE"}]}
        )

"""The OpenAPI 3 document of what the simulator serves under ``/v1`` (``GET /v1/openapi.json``).

Built from small helpers so every operation lists the answers it can really give: the
problem documents (400/401/403/404/405/413/422/429/503) and the rate-limit headers.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from reconciler.simulator.fleet import STATUSES

JSON = "application/json"
PROBLEM = "application/problem+json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable_string(max_length: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "nullable": True}
    if max_length is not None:
        schema["maxLength"] = max_length
    return schema


_RATE_HEADERS = {
    name: {"$ref": f"#/components/headers/{name}"}
    for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
}
_PAGE_HEADERS = {
    "Link": {"$ref": "#/components/headers/Link"},
    "X-Total-Count": {"$ref": "#/components/headers/X-Total-Count"},
}


def _ok(schema: dict[str, Any], status: str = "200", paged: bool = False) -> dict[str, Any]:
    headers = dict(_RATE_HEADERS)
    if paged:
        headers.update(_PAGE_HEADERS)
    return {
        status: {
            "description": "Success",
            "headers": headers,
            "content": {JSON: {"schema": schema}},
        }
    }


def _problems(*statuses: int) -> dict[str, Any]:
    always = (401, 405, 413, 429, 503)
    return {
        str(status): {"$ref": f"#/components/responses/Problem{status}"}
        for status in sorted(set(statuses) | set(always))
    }


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": schema}}}


_GICCID = {"$ref": "#/components/parameters/giccid"}
_PAGE = [{"$ref": "#/components/parameters/page"}, {"$ref": "#/components/parameters/size"}]


def _op(
    summary: str,
    operation_id: str,
    responses: dict[str, Any],
    parameters: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "operationId": operation_id, "responses": responses}
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = body
    return op


def _paths() -> dict[str, Any]:
    sim_ok = _ok(_ref("Sim"))
    plan_body = _body(_ref("ServicePackageName"))
    paths: dict[str, Any] = {
        "/global-sims": {
            "get": _op(
                "List the caller's SIMs, paged",
                "listSims",
                {
                    **_ok({"type": "array", "items": _ref("Sim")}, paged=True),
                    **_problems(400, 403, 422),
                },
                [
                    *_PAGE,
                    {"name": "status", "in": "query", "schema": _ref("Status")},
                    {"name": "accountName", "in": "query", "schema": {"type": "string"}},
                ],
            )
        },
        "/global-sims/changeLogs": {
            "get": _op(
                "Change history (STATUS, SERVICE_PACKAGE, IMEI), oldest first",
                "listChangeLogs",
                {
                    **_ok({"type": "array", "items": _ref("ChangeLog")}, paged=True),
                    **_problems(400, 403, 404, 422),
                },
                [
                    *_PAGE,
                    {"name": "giccid", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "since",
                        "in": "query",
                        "description": "yyyy-MM-dd'T'HH:mm:ssZ; rows changed at or after it",
                        "schema": {"type": "string"},
                    },
                ],
            )
        },
        "/global-sims/statistics": {
            "get": _op(
                "SIM counts of the caller's account",
                "simStatistics",
                {**_ok({"type": "object"}), **_problems()},
            )
        },
        "/global-sims/{giccid}": {
            "parameters": [_GICCID],
            "get": _op("SIM detail", "getSim", {**sim_ok, **_problems(403, 404)}),
        },
        "/global-sims/{giccid}/custom-field": {
            "parameters": [_GICCID],
            "get": _op(
                "Custom fields",
                "getCustomFields",
                {**_ok(_ref("CustomFields")), **_problems(403, 404)},
            ),
            "put": _op(
                "Edit custom fields: an omitted field is left alone, null clears it",
                "putCustomFields",
                {**_ok(_ref("CustomFields")), **_problems(400, 403, 404, 422)},
                body=_body(_ref("CustomFields")),
            ),
        },
        "/global-sims/{giccid}/supplementaryServicePackages": {
            "parameters": [_GICCID],
            "post": _op(
                "Subscribe a supplementary plan (ACTIVATED SIMs only)",
                "subscribeSupplementary",
                {**sim_ok, **_problems(400, 403, 404, 422)},
                body=plan_body,
            ),
        },
        "/global-sims/{giccid}/servicePackage": {
            "parameters": [_GICCID],
            "put": _op(
                "Change the basic plan",
                "changeBasicPlan",
                {**sim_ok, **_problems(400, 403, 404, 422)},
                body=plan_body,
            ),
        },
        "/global-sims/{giccid}/apnStatus": {
            "parameters": [_GICCID],
            "put": _op(
                "Enable or disable an APN of the SIM",
                "changeApnStatus",
                {**sim_ok, **_problems(400, 403, 404, 422)},
                body=_body(_ref("ApnStatus")),
            ),
        },
        "/batchJobs/{jobId}": {
            "parameters": [
                {"name": "jobId", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "get": _op(
                "A batch job", "getBatchJob", {**_ok(_ref("BatchJob")), **_problems(403, 404)}
            ),
        },
        "/mt-sms": {
            "post": _op(
                "Send an SMS to a SIM",
                "sendSms",
                {
                    **_ok({"type": "object", "properties": {"smsMsgId": {"type": "string"}}}),
                    **_problems(400, 403, 404, 422),
                },
                body=_body(
                    {
                        "type": "object",
                        "required": ["toGiccid", "content"],
                        "properties": {
                            "toGiccid": {"type": "string"},
                            "content": {"type": "string", "minLength": 1, "maxLength": 1600},
                        },
                    }
                ),
            )
        },
        "/mt-sms/{smsMsgId}": {
            "parameters": [
                {"name": "smsMsgId", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "get": _op(
                "Delivery status of an SMS",
                "getSms",
                {**_ok(_ref("SmsStatus")), **_problems(403, 404)},
            ),
        },
        "/enterprise": {
            "get": _op(
                "The caller's enterprise",
                "getEnterprise",
                {**_ok({"type": "object"}), **_problems()},
            )
        },
        "/account/{name}": {
            "parameters": [
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "get": _op(
                "An account", "getAccount", {**_ok({"type": "object"}), **_problems(403, 404)}
            ),
        },
        "/sharePools": {
            "get": _op(
                "Share pools",
                "getSharePools",
                {**_ok({"type": "array", "items": {"type": "object"}}), **_problems()},
            )
        },
        "/{accountName}/servicePackages": {
            "parameters": [
                {
                    "name": "accountName",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                }
            ],
            "get": _op(
                "Rate plans of an account",
                "getServicePackages",
                {**_ok({"type": "array", "items": _ref("ServicePackage")}), **_problems(403, 404)},
            ),
        },
        "/openapi.json": {
            "get": {
                "summary": "This document (no key needed)",
                "operationId": "getOpenApi",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The OpenAPI document",
                        "content": {JSON: {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    }
    for operation in ("activate", "deactivate", "retire"):
        paths[f"/global-sims/{{giccid}}/{operation}"] = {
            "parameters": [_GICCID],
            "post": _op(
                f"{operation.capitalize()} the SIM (state machine; else 422 illegal_status)",
                f"{operation}Sim",
                {**sim_ok, **_problems(403, 404, 422)},
            ),
        }
    for operation in ("activate", "deactivate", "retire", "servicePackage"):
        required = (
            ["giccids", "servicePackageName"] if operation == "servicePackage" else ["giccids"]
        )
        properties: dict[str, Any] = {
            "giccids": {
                "type": "array",
                "minItems": 1,
                "maxItems": 1000,
                "uniqueItems": True,
                "items": {"type": "string"},
            }
        }
        if operation == "servicePackage":
            properties["servicePackageName"] = {"type": "string"}
        paths[f"/batchJobs/global-sims/{operation}"] = {
            "post": _op(
                f"Batch {operation}: validated, stored, answered 202; SIMs move later",
                f"batch{operation[0].upper()}{operation[1:]}",
                {**_ok(_ref("BatchJobCreated"), status="202"), **_problems(400, 422)},
                body=_body({"type": "object", "required": required, "properties": properties}),
            )
        }
    return paths


def _schemas() -> dict[str, Any]:
    custom = {f"custom{n}": _nullable_string(255) for n in range(1, 6)}
    return {
        "Status": {"type": "string", "enum": list(STATUSES)},
        "Apn": {
            "type": "object",
            "required": ["apn", "status"],
            "properties": {
                "apn": {"type": "string"},
                "status": {"type": "string", "enum": ["ENABLED", "DISABLED"]},
            },
        },
        "Sim": {
            "type": "object",
            "required": ["giccid", "iccid", "status", "accountName", "basicServicePackage"],
            "properties": {
                "giccid": {"type": "string"},
                "iccid": {"type": "string"},
                "imsi": {"type": "string"},
                "msisdn": {"type": "string"},
                "imei": {"type": "string"},
                "status": _ref("Status"),
                "accountName": {"type": "string"},
                "basicServicePackage": {"type": "string"},
                "supplementaryServicePackages": {"type": "array", "items": {"type": "string"}},
                "apns": {"type": "array", "items": _ref("Apn")},
                **custom,
                "activatedTime": _nullable_string(),
                "lastModifiedTime": {"type": "string"},
                "url": {"type": "string"},
            },
        },
        "CustomFields": {"type": "object", "additionalProperties": False, "properties": custom},
        "ServicePackageName": {
            "type": "object",
            "required": ["servicePackageName"],
            "properties": {"servicePackageName": {"type": "string"}},
        },
        "ApnStatus": {
            "type": "object",
            "required": ["apn", "status"],
            "properties": {
                "apn": {"type": "string"},
                "status": {"type": "string", "enum": ["ENABLED", "DISABLED"]},
            },
        },
        "ChangeLog": {
            "type": "object",
            "properties": {
                "giccid": {"type": "string"},
                "changeType": {"type": "string", "enum": ["STATUS", "SERVICE_PACKAGE", "IMEI"]},
                "oldValue": _nullable_string(),
                "newValue": _nullable_string(),
                "changedTime": {"type": "string"},
            },
        },
        "BatchJobCreated": {
            "type": "object",
            "required": ["jobId", "status", "url"],
            "properties": {
                "jobId": {"type": "string"},
                "status": {"type": "string", "enum": ["PENDING"]},
                "url": {"type": "string"},
            },
        },
        "BatchJob": {
            "type": "object",
            "required": ["jobId", "type", "status", "total", "succeeded", "failed", "items"],
            "properties": {
                "jobId": {"type": "string"},
                "type": {
                    "type": "string",
                    "enum": ["activate", "deactivate", "retire", "servicePackage"],
                },
                "status": {
                    "type": "string",
                    "enum": ["PENDING", "PROCESSING", "COMPLETED", "PARTIALLY_FAILED", "FAILED"],
                },
                "total": {"type": "integer"},
                "succeeded": {"type": "integer"},
                "failed": {"type": "integer"},
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["giccid", "result"],
                        "properties": {
                            "giccid": {"type": "string"},
                            "result": {"type": "string", "enum": ["SUCCESS", "FAILED"]},
                            "code": {"type": "string"},
                        },
                    },
                },
                "createdTime": {"type": "string"},
                "lastModifiedTime": {"type": "string"},
                "url": {"type": "string"},
            },
        },
        "SmsStatus": {
            "type": "object",
            "properties": {
                "smsMsgId": {"type": "string"},
                "toGiccid": {"type": "string"},
                "status": {"type": "string", "enum": ["PENDING", "DELIVERED", "FAILED"]},
            },
        },
        "ServicePackage": {
            "type": "object",
            "required": ["name", "type", "prepaid"],
            "properties": {
                "name": {"type": "string"},
                "type": {"type": "string", "enum": ["BASIC", "SUPPLEMENTARY"]},
                "prepaid": {"type": "boolean"},
            },
        },
        "Problem": {
            "type": "object",
            "required": ["type", "title", "status"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["resource", "field", "code"],
                        "properties": {
                            "resource": {"type": "string"},
                            "field": {"type": "string"},
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                        },
                    },
                },
            },
        },
    }


_PROBLEM_TITLES = {
    400: "Bad Request: invalid JSON, a wrong value type, a bad query parameter",
    401: "Invalid api key",
    403: "Access forbidden: a resource of another enterprise",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large (over 1 MiB)",
    422: "Validation Failed (codes missing, missing_field, invalid, already_exists, "
    "illegal_status)",
    429: "API rate limit exceeded",
    503: "Service Unavailable (injected fault)",
}


@cache
def _document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "SmartHub API (fleetform simulator)",
            "version": "1",
            "description": "The SmartHub contract as the simulator serves it. Admin endpoints "
            "live outside /v1 (see reconciler.simulator).",
        },
        "servers": [{"url": "/v1"}],
        "security": [{"ApiKeyAuth": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key"}
            },
            "schemas": _schemas(),
            "parameters": {
                "giccid": {
                    "name": "giccid",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                },
                "page": {
                    "name": "page",
                    "in": "query",
                    "schema": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 999_999_999,
                        "default": 1,
                    },
                },
                "size": {
                    "name": "size",
                    "in": "query",
                    "description": "Items per page; above 100 is served as 100",
                    "schema": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 999_999_999,
                        "default": 30,
                    },
                },
            },
            "headers": {
                "X-RateLimit-Limit": {"schema": {"type": "integer"}},
                "X-RateLimit-Remaining": {"schema": {"type": "integer"}},
                "X-RateLimit-Reset": {
                    "description": "Seconds until the window resets",
                    "schema": {"type": "integer"},
                },
                "Link": {"description": "next, prev, first, last", "schema": {"type": "string"}},
                "X-Total-Count": {"schema": {"type": "integer"}},
            },
            "responses": {
                f"Problem{status}": {
                    "description": title,
                    "headers": dict(_RATE_HEADERS),
                    "content": {PROBLEM: {"schema": _ref("Problem")}},
                }
                for status, title in _PROBLEM_TITLES.items()
            },
        },
    }


def openapi_document() -> dict[str, Any]:
    """A fresh copy (callers may change it)."""
    return copy.deepcopy(_document())

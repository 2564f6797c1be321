"""The document's paths: every operation with the answers it can really give."""

from __future__ import annotations

from typing import Any

from reconciler.simulator.openapi.parts import (
    GICCID,
    JSON,
    PAGE,
    ok,
    op,
    path_param,
    problems,
    ref,
    request_body,
)


def paths() -> dict[str, Any]:
    return {
        **_sim_reads(),
        **_sim_writes(),
        **_other_resources(),
        **_transitions(),
        **_batch_jobs(),
    }


def _sim_reads() -> dict[str, Any]:
    return {
        "/global-sims": {
            "get": op(
                "List the caller's SIMs, paged",
                "listSims",
                {
                    **ok({"type": "array", "items": ref("Sim")}, paged=True),
                    **problems(400, 403, 422),
                },
                [
                    *PAGE,
                    {"name": "status", "in": "query", "schema": ref("Status")},
                    {"name": "accountName", "in": "query", "schema": {"type": "string"}},
                ],
            )
        },
        "/global-sims/changeLogs": {
            "get": op(
                "Change history (STATUS, SERVICE_PACKAGE, IMEI), oldest first",
                "listChangeLogs",
                {
                    **ok({"type": "array", "items": ref("ChangeLog")}, paged=True),
                    **problems(400, 403, 404, 422),
                },
                [
                    *PAGE,
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
            "get": op(
                "SIM counts of the caller's account",
                "simStatistics",
                {**ok({"type": "object"}), **problems()},
            )
        },
        "/global-sims/{giccid}": {
            "parameters": [GICCID],
            "get": op("SIM detail", "getSim", {**ok(ref("Sim")), **problems(403, 404)}),
        },
    }


def _sim_writes() -> dict[str, Any]:
    sim_ok = ok(ref("Sim"))
    plan_body = request_body(ref("ServicePackageName"))
    return {
        "/global-sims/{giccid}/custom-field": {
            "parameters": [GICCID],
            "get": op(
                "Custom fields",
                "getCustomFields",
                {**ok(ref("CustomFields")), **problems(403, 404)},
            ),
            "put": op(
                "Edit custom fields: an omitted field is left alone, null clears it",
                "putCustomFields",
                {**ok(ref("CustomFields")), **problems(400, 403, 404, 422)},
                body=request_body(ref("CustomFields")),
            ),
        },
        "/global-sims/{giccid}/supplementaryServicePackages": {
            "parameters": [GICCID],
            "post": op(
                "Subscribe a supplementary plan (ACTIVATED SIMs only)",
                "subscribeSupplementary",
                {**sim_ok, **problems(400, 403, 404, 422)},
                body=plan_body,
            ),
        },
        "/global-sims/{giccid}/servicePackage": {
            "parameters": [GICCID],
            "put": op(
                "Change the basic plan",
                "changeBasicPlan",
                {**sim_ok, **problems(400, 403, 404, 422)},
                body=plan_body,
            ),
        },
        "/global-sims/{giccid}/apnStatus": {
            "parameters": [GICCID],
            "put": op(
                "Enable or disable an APN of the SIM",
                "changeApnStatus",
                {**sim_ok, **problems(400, 403, 404, 422)},
                body=request_body(ref("ApnStatus")),
            ),
        },
    }


def _other_resources() -> dict[str, Any]:
    return {
        "/batchJobs/{jobId}": {
            "parameters": [path_param("jobId")],
            "get": op("A batch job", "getBatchJob", {**ok(ref("BatchJob")), **problems(403, 404)}),
        },
        **_sms(),
        "/enterprise": {
            "get": op(
                "The caller's enterprise",
                "getEnterprise",
                {**ok({"type": "object"}), **problems()},
            )
        },
        "/account/{name}": {
            "parameters": [path_param("name")],
            "get": op("An account", "getAccount", {**ok({"type": "object"}), **problems(403, 404)}),
        },
        "/sharePools": {
            "get": op(
                "Share pools",
                "getSharePools",
                {**ok({"type": "array", "items": {"type": "object"}}), **problems()},
            )
        },
        "/{accountName}/servicePackages": {
            "parameters": [path_param("accountName")],
            "get": op(
                "Rate plans of an account",
                "getServicePackages",
                {**ok({"type": "array", "items": ref("ServicePackage")}), **problems(403, 404)},
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


def _sms() -> dict[str, Any]:
    return {
        "/mt-sms": {
            "post": op(
                "Send an SMS to a SIM",
                "sendSms",
                {
                    **ok({"type": "object", "properties": {"smsMsgId": {"type": "string"}}}),
                    **problems(400, 403, 404, 422),
                },
                body=request_body(
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
            "parameters": [path_param("smsMsgId")],
            "get": op(
                "Delivery status of an SMS",
                "getSms",
                {**ok(ref("SmsStatus")), **problems(403, 404)},
            ),
        },
    }


def _transitions() -> dict[str, Any]:
    return {
        f"/global-sims/{{giccid}}/{operation}": {
            "parameters": [GICCID],
            "post": op(
                f"{operation.capitalize()} the SIM (state machine; else 422 illegal_status)",
                f"{operation}Sim",
                {**ok(ref("Sim")), **problems(403, 404, 422)},
            ),
        }
        for operation in ("activate", "deactivate", "retire")
    }


def _batch_jobs() -> dict[str, Any]:
    paths: dict[str, Any] = {}
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
            "post": op(
                f"Batch {operation}: validated, stored, answered 202; SIMs move later",
                f"batch{operation[0].upper()}{operation[1:]}",
                {**ok(ref("BatchJobCreated"), status="202"), **problems(400, 422)},
                body=request_body(
                    {"type": "object", "required": required, "properties": properties}
                ),
            )
        }
    return paths

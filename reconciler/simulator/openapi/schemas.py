"""The document's schemas: SIMs, their parts, history, batch jobs, SMS, plans, problems."""

from __future__ import annotations

from typing import Any

from reconciler.simulator.fleet import STATUSES
from reconciler.simulator.openapi.parts import nullable_string, ref


def schemas() -> dict[str, Any]:
    return {**_sim_schemas(), **_record_schemas(), **_answer_schemas()}


def _sim_schemas() -> dict[str, Any]:
    custom = {f"custom{n}": nullable_string(255) for n in range(1, 6)}
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
                "status": ref("Status"),
                "accountName": {"type": "string"},
                "basicServicePackage": {"type": "string"},
                "supplementaryServicePackages": {"type": "array", "items": {"type": "string"}},
                "apns": {"type": "array", "items": ref("Apn")},
                **custom,
                "activatedTime": nullable_string(),
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
    }


def _record_schemas() -> dict[str, Any]:
    return {
        "ChangeLog": {
            "type": "object",
            "properties": {
                "giccid": {"type": "string"},
                "changeType": {"type": "string", "enum": ["STATUS", "SERVICE_PACKAGE", "IMEI"]},
                "oldValue": nullable_string(),
                "newValue": nullable_string(),
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
    }


def _answer_schemas() -> dict[str, Any]:
    return {
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

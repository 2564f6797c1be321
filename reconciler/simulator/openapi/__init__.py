"""The OpenAPI 3 document of what the simulator serves under ``/v1`` (``GET /v1/openapi.json``).

Built from small helpers (``parts``) so every operation (``paths``) lists the answers it can
really give: the problem documents (400/401/403/404/405/413/422/429/503) and the rate-limit
headers. ``schemas`` holds the bodies.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from reconciler.simulator.openapi.parts import PROBLEM, RATE_HEADERS, ref
from reconciler.simulator.openapi.paths import paths
from reconciler.simulator.openapi.schemas import schemas

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
        "paths": paths(),
        "components": {
            "securitySchemes": {
                "ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key"}
            },
            "schemas": schemas(),
            "parameters": _parameters(),
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
                    "headers": dict(RATE_HEADERS),
                    "content": {PROBLEM: {"schema": ref("Problem")}},
                }
                for status, title in _PROBLEM_TITLES.items()
            },
        },
    }


def _parameters() -> dict[str, Any]:
    return {
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
    }


def openapi_document() -> dict[str, Any]:
    """A fresh copy (callers may change it)."""
    return copy.deepcopy(_document())

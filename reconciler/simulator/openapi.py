"""The OpenAPI 3 document of what the simulator serves (``GET /v1/openapi.json``)."""

from __future__ import annotations

from typing import Any


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "SmartHub API (simulator)", "version": "1"},
        "paths": {},
    }

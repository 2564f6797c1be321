"""The building blocks of the OpenAPI document: references, answers, operations."""

from __future__ import annotations

from typing import Any

JSON = "application/json"
PROBLEM = "application/problem+json"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable_string(max_length: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "nullable": True}
    if max_length is not None:
        schema["maxLength"] = max_length
    return schema


RATE_HEADERS = {
    name: {"$ref": f"#/components/headers/{name}"}
    for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
}
PAGE_HEADERS = {
    "Link": {"$ref": "#/components/headers/Link"},
    "X-Total-Count": {"$ref": "#/components/headers/X-Total-Count"},
}


def ok(schema: dict[str, Any], status: str = "200", paged: bool = False) -> dict[str, Any]:
    headers = dict(RATE_HEADERS)
    if paged:
        headers.update(PAGE_HEADERS)
    return {
        status: {
            "description": "Success",
            "headers": headers,
            "content": {JSON: {"schema": schema}},
        }
    }


def problems(*statuses: int) -> dict[str, Any]:
    always = (401, 405, 413, 429, 503)
    return {
        str(status): {"$ref": f"#/components/responses/Problem{status}"}
        for status in sorted(set(statuses) | set(always))
    }


def request_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": schema}}}


GICCID = {"$ref": "#/components/parameters/giccid"}
PAGE = [{"$ref": "#/components/parameters/page"}, {"$ref": "#/components/parameters/size"}]


def op(
    summary: str,
    operation_id: str,
    responses: dict[str, Any],
    parameters: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "operationId": operation_id,
        "responses": responses,
    }
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = body
    return operation


def path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}

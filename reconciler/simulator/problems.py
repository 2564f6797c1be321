"""Problem documents: the simulator's own small exception tree, one class per wire answer.

Store and handlers raise these; the ASGI app turns each into the contract's problem document.
They are the simulator's own (it shares no code with the client, only the contract).
"""

from __future__ import annotations

from typing import Any


class Problem(Exception):
    """An answer other than success: status, title, and ``detail`` or ``errors``."""

    status = 500
    title = "Internal Server Error"

    def __init__(
        self,
        detail: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"type": "about:blank", "title": self.title, "status": self.status}
        if self.detail is not None:
            doc["detail"] = self.detail
        if self.errors is not None:
            doc["errors"] = self.errors
        return doc


class BadRequest(Problem):
    status = 400
    title = "Bad Request"


class InvalidApiKey(Problem):
    status = 401
    title = "Invalid api key"


class Forbidden(Problem):
    status = 403
    title = "Access forbidden"


class NotFound(Problem):
    status = 404
    title = "Not Found"


class MethodNotAllowed(Problem):
    status = 405
    title = "Method Not Allowed"


class PayloadTooLarge(Problem):
    status = 413
    title = "Payload Too Large"


class ValidationFailed(Problem):
    status = 422
    title = "Validation Failed"

    def __init__(self, resource: str, field: str, code: str, message: str | None = None) -> None:
        error = {"resource": resource, "field": field, "code": code}
        if message is not None:
            error["message"] = message
        super().__init__(errors=[error])


class RateLimited(Problem):
    status = 429
    title = "API rate limit exceeded"


class ServiceUnavailable(Problem):
    status = 503
    title = "Service Unavailable"


def illegal_status(resource: str, current: str, operation: str) -> ValidationFailed:
    return ValidationFailed(
        resource,
        "status",
        "illegal_status",
        f"cannot {operation} a SIM in status {current}",
    )

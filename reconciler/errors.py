"""fleetform's one exception tree.

::

    FleetformError                      root: the CLI prints "Error: <message>" and exits 1
    ├── ConfigError                     missing endpoint/key file, bad option combination
    ├── ManifestError                   invalid manifests; carries every problem found
    ├── PlanError                       a plan that cannot be made or applied
    │   ├── UnsafePlanError             a blocking guard (retire, max changes, mass disable)
    │   └── StalePlanError              a plan file that no longer matches manifests/endpoint
    ├── PlanFileError                   a plan file that is not fleetform.plan/v1
    ├── JournalError                    journal unreadable, or a resume that cannot continue
    ├── LockedError                     another apply of the same account holds the lock
    ├── BudgetExhausted                 --budget spent; the run stopped cleanly, recorded
    ├── CacheError                      the live-state cache is unusable: set aside, read live
    ├── PushRefused                     a push the receiver refuses: its 4xx status and reason
    ├── QueueFull                       the receiver's check queue is full: the push gets a 503
    ├── Cancelled                       the run was interrupted (Ctrl+C): no request more
    └── ApiError                        SmartHub answered with a problem document
        ├── AuthenticationError         401: bad or missing key
        ├── ForbiddenError              403: resource of another enterprise
        ├── NotFoundError               404: unknown giccid, job, path
        ├── ValidationFailed            422 (and 400): errors[] says which field
        │   └── IllegalStatus           422 with errors[0].code == "illegal_status"
        ├── RateLimited                 429 that outlived the retries
        ├── ServerError                 5xx that outlived the retries
        └── TransportError              no answer at all (connection refused/reset, timeout)

A subclass exists only where some code handles it differently. Foreign exceptions (httpx, yaml,
jsonschema, sqlite3) are translated where they enter, chained with ``raise ... from``, and never
carry the API key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class FleetformError(Exception):
    """Root of every error fleetform raises on purpose."""


class ConfigError(FleetformError):
    pass


@dataclass(frozen=True, slots=True)
class ManifestProblem:
    """One problem in the manifests, shown as ``file:line:column: message``."""

    file: str
    line: int
    column: int
    message: str
    field: str | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class ManifestError(FleetformError):
    def __init__(self, problems: Sequence[ManifestProblem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the manifests"
        super().__init__(head + "".join(f"\n  {p}" for p in self.problems))


class PlanError(FleetformError):
    pass


class UnsafePlanError(PlanError):
    pass


class StalePlanError(PlanError):
    pass


class PlanFileError(FleetformError):
    pass


class JournalError(FleetformError):
    pass


class LockedError(FleetformError):
    pass


class BudgetExhausted(FleetformError):
    pass


class FastPathUnsure(Exception):
    """Control flow inside `reconciler.manifest`, never shown: the fast manifest path (or its
    place scanner) cannot vouch for this input, so the marked path reads it instead."""


class ApplyCancelled(FleetformError):
    """The plan was shown and not approved at apply's prompt (nothing was sent)."""


class Cancelled(FleetformError):
    """The run was cancelled (Ctrl+C): raised instead of sending a request or going on
    waiting, so a worker thread stops at once and sends nothing more."""


@dataclass(frozen=True, slots=True)
class ApiFieldError:
    """One entry of a 422 problem document's ``errors[]``."""

    resource: str | None
    field: str | None
    code: str | None
    message: str | None = None


class ApiError(FleetformError):
    """SmartHub answered with a problem document (or no answer, for TransportError)."""

    def __init__(
        self,
        status: int,
        title: str,
        *,
        detail: str | None = None,
        errors: Sequence[ApiFieldError] = (),
        method: str | None = None,
        url: str | None = None,
        body: Any = None,
    ) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = tuple(errors)
        self.method = method
        self.url = url  # never carries the key: SmartHub keys travel in a header only
        self.body = body
        where = f" ({method} {url})" if method and url else ""
        text = f"{status} {title}{where}" if status else f"{title}{where}"
        if detail:
            text += f": {detail}"
        for err in self.errors:
            text += f"; {err.field or err.resource}: {err.code}"
            if err.message:
                text += f" ({err.message})"
        super().__init__(text)

    @property
    def code(self) -> str | None:
        """``errors[0].code`` when the server gave one."""
        return self.errors[0].code if self.errors else None


class AuthenticationError(ApiError):
    pass


class ForbiddenError(ApiError):
    pass


class NotFoundError(ApiError):
    pass


class ValidationFailed(ApiError):
    pass


class IllegalStatus(ValidationFailed):
    pass


class RateLimited(ApiError):
    pass


class ServerError(ApiError):
    pass


class TransportError(ApiError):
    """No answer. ``maybe_sent``: a non-repeatable request (POST) was sent and then the
    connection dropped or timed out, so whether it took effect is unknown: re-read, don't resend.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        url: str | None = None,
        maybe_sent: bool = False,
    ) -> None:
        super().__init__(0, message, method=method, url=url)
        self.maybe_sent = maybe_sent


class MalformedResponse(ApiError):
    """A 2xx answer whose body does not match the contract (names the offending field)."""

    def __init__(
        self, message: str, *, status: int = 200, method: str | None = None, url: str | None = None
    ) -> None:
        super().__init__(status, "Malformed response", detail=message, method=method, url=url)
        self.message = message


__all__ = [
    "ApiError",
    "ApiFieldError",
    "ApplyCancelled",
    "AuthenticationError",
    "BudgetExhausted",
    "ConfigError",
    "FastPathUnsure",
    "FleetformError",
    "ForbiddenError",
    "IllegalStatus",
    "JournalError",
    "LockedError",
    "MalformedResponse",
    "ManifestError",
    "ManifestProblem",
    "NotFoundError",
    "PlanError",
    "PlanFileError",
    "PushRefused",
    "QueueFull",
    "RateLimited",
    "ServerError",
    "StalePlanError",
    "TransportError",
    "UnsafePlanError",
    "ValidationFailed",
]


class CacheError(FleetformError):
    """The live-state cache cannot be read or written; the run reads live instead.

    ``corrupt``: the file itself is damaged (set it aside); otherwise it was busy or the disk
    failed, and the cache is left as it is."""

    def __init__(self, message: str, *, corrupt: bool = False) -> None:
        super().__init__(message)
        self.corrupt = corrupt


class PushRefused(FleetformError):
    """Why the receiver refuses a push: an HTTP 4xx ``status`` and a stable ``reason`` (the
    metric label), with a ``title`` and optional ``detail`` for the problem document.

    The message never holds the push key nor the expected signature.
    """

    def __init__(self, status: int, reason: str, title: str, detail: str | None = None) -> None:
        self.status = status
        self.reason = reason
        self.title = title
        self.detail = detail
        super().__init__(f"{reason}: {detail or title}")


class QueueFull(FleetformError):
    """More SIMs are waiting for a check than the receiver's queue holds; the push is answered
    503 and the sender retries."""

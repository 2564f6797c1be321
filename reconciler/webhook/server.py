"""The push receiver's HTTP side: one Starlette app, served by uvicorn.

Why starlette + uvicorn: uvicorn runs the app on asyncio with the h11 protocol, so thousands
of concurrent or slow connections cost a coroutine each rather than a thread each; h11 bounds
header sizes and rejects malformed HTTP before the app sees it. The app itself bounds what h11
does not: the body size (`max_body_bytes`, checked on Content-Length and again while reading)
and the time a client may take to send it (`body_timeout_seconds`, a slow-loris guard).

Routes: ``POST /push`` and ``POST /push/{eventType}`` (SmartHub sets one URL per event type;
a path naming a type must match the body's ``eventType``), ``GET /healthz``, ``GET /metrics``.
Every refusal is a 4xx problem document (``application/problem+json``) with a ``reason``;
the push key never appears in one, nor in a log line.

Answers to a push:

- 200 ``{"status": "accepted", "queued": true|false}``: verified and seen for the first time.
- 200 ``{"status": "duplicate", "duplicate": true}``: verified, its id was seen before: not
  processed again. (2xx so that the sender stops retrying.)
- 4xx problem: refused (see `verify.REFUSALS`). A push without ``eventId`` is 422
  ``invalid_event``: the id is what replays are dropped by, and the contract's body has one
  (`verify.PushEvent.dedupe_key` says why no key is derived from the other fields).
- 503 problem, ``Retry-After``: the check queue is full; the id is *not* recorded, so a retry
  is processed.

- 503 problem: the dedupe store failed (disk full, database locked); nothing recorded.

The Content-Type is not checked: the contract does not say what SmartHub sends, and the body
must parse as a JSON object either way. h11 gives no deadline for the request *head*, so a
public deployment belongs behind a reverse proxy that terminates TLS and times out slow
headers; uvicorn's keep-alive timeout (15 s) closes idle connections.

The eventId is recorded only after verification, and in the same event-loop step as the
enqueue (no ``await`` in between), so a crash cannot record an id whose check was never
queued by this process — though a check queued and not yet run when the process dies is lost:
the event was a hint, and the scheduled ``fleetform drift`` is the backstop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from reconciler.clock import Clock
from reconciler.errors import FleetformError, PushRefused
from reconciler.reporting import Reporter
from reconciler.webhook.dedupe import DedupeStore
from reconciler.webhook.metrics import Metrics
from reconciler.webhook.verify import DEFAULT_MAX_BODY_BYTES, PushVerifier, refuse
from reconciler.webhook.worker import CheckQueue

PROBLEM_TYPE = "application/problem+json"
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Receiver:
    """Everything the app needs, passed in (tests build it with a FakeClock and a tmp store)."""

    verifier: PushVerifier
    store: DedupeStore
    queue: CheckQueue
    metrics: Metrics
    reporter: Reporter
    clock: Clock
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    body_timeout_seconds: float = 10.0
    refusal_log_burst: int = 20  # refusal lines per minute; the rest are only counted
    worker_alive: Callable[[], bool] = field(default=lambda: True)


class RefusalLog:
    """Refusals go to the reporter, at most ``burst`` lines per ``window`` seconds: a flood of
    forged pushes must not flood the log. The rest are counted and summed up in one line when
    the next window opens (every refusal is counted in /metrics regardless)."""

    def __init__(
        self,
        reporter: Reporter,
        monotonic: Callable[[], float],
        *,
        burst: int = 20,
        window: float = 60.0,
    ) -> None:
        self._reporter = reporter
        self._monotonic = monotonic
        self.burst = burst
        self.window = window
        self._window_start = monotonic()
        self._logged = 0
        self._suppressed = 0

    def __call__(self, message: str) -> None:
        now = self._monotonic()
        if now - self._window_start >= self.window:
            if self._suppressed:
                self._reporter.warn(
                    f"webhook: {self._suppressed} more refused push(es) not logged in the last "
                    f"{self.window:g} s (counted in /metrics)"
                )
            self._window_start, self._logged, self._suppressed = now, 0, 0
        if self._logged < self.burst:
            self._logged += 1
            self._reporter.warn(message)
        else:
            self._suppressed += 1


def problem(status: int, title: str, detail: str | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_TYPE)


def _refusal_response(refusal: PushRefused) -> JSONResponse:
    return problem(refusal.status, refusal.title, refusal.detail, reason=refusal.reason)


async def _read_body(request: Request, limit: int, timeout: float) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise refuse("body_too_large", f"the body is {declared} bytes; at most {limit} accepted")
    chunks: list[bytes] = []
    size = 0
    try:
        with anyio.fail_after(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise refuse("body_too_large", f"the body exceeds {limit} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise refuse("body_timeout", f"the body took more than {timeout:g} s") from None
    return b"".join(chunks)


def build_app(receiver: Receiver) -> Starlette:
    """The receiver's ASGI app over plain collaborators."""
    r = receiver
    log_refusal = RefusalLog(r.reporter, r.clock.monotonic, burst=r.refusal_log_burst)

    async def push(request: Request) -> Response:
        r.metrics.received()
        path_type = request.path_params.get("event_type")
        try:
            body = await _read_body(request, r.max_body_bytes, r.body_timeout_seconds)
            event = r.verifier.verify(body, path_type)
        except PushRefused as refusal:
            r.metrics.refused(refusal.reason)
            peer = request.client.host if request.client else "?"
            log_refusal(f"webhook: refused a push from {peer}: {refusal}")
            return _refusal_response(refusal)

        giccid = event.giccid
        if (
            event.needs_recheck
            and giccid is not None
            and not r.queue.can_accept(giccid)
            and not r.store.seen(event.dedupe_key)  # a duplicate is still acknowledged below
        ):
            r.metrics.refused("queue_full")
            r.reporter.warn(f"webhook: check queue full; asked the sender to retry {giccid}")
            full = problem(503, "Check queue full", reason="queue_full")
            full.headers["Retry-After"] = "60"
            return full
        # From here to the enqueue there is no await: recording and queueing are one step.
        try:
            fresh = r.store.remember(event.dedupe_key, event.date_push, r.clock.now())
        except FleetformError as exc:
            r.metrics.refused("store_unavailable")
            r.reporter.warn(f"webhook: {exc}")
            return problem(503, "Dedupe store unavailable", reason="store_unavailable")
        if not fresh:
            r.metrics.duplicate()
            return JSONResponse(
                {"status": "duplicate", "duplicate": True, "eventId": event.event_id}
            )
        r.metrics.accepted(event.event_type)
        queued = False
        if event.needs_recheck and giccid is not None:
            r.metrics.queued(r.queue.put(giccid, event.event_type))
            queued = True
        return JSONResponse({"status": "accepted", "eventId": event.event_id, "queued": queued})

    async def healthz(request: Request) -> Response:
        alive = r.worker_alive()
        body = {"status": "ok" if alive else "worker stopped", "queue": len(r.queue)}
        return JSONResponse(body, status_code=200 if alive else 503)

    async def metrics(request: Request) -> Response:
        return PlainTextResponse(r.metrics.render(), media_type=METRICS_TYPE)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return problem(exc.status_code, str(exc.detail))

    async def crash(request: Request, exc: Exception) -> Response:
        # A bug, not a bad push: a problem document rather than Starlette's plain text, and
        # nothing of the exception in it (uvicorn logs the traceback).
        return problem(500, "Internal Server Error")

    return Starlette(
        routes=[
            Route("/push", push, methods=["POST"]),
            Route("/push/{event_type}", push, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        exception_handlers={HTTPException: http_error, Exception: crash},
    )

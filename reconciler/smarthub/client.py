"""`SmartHubClient`: the SmartHub API over HTTP (httpx), implementing `SmartHubApi`.

Wire details (paths, fields, headers) live in `reconciler.smarthub.wire`; the rate limiter in
`reconciler.smarthub.limiter`. This module does the HTTP: auth, redirects, retries, errors.

Decisions where the contract is silent (each one tested):

Redirects
    Followed by hand (httpx's ``follow_redirects`` is off), at most `MAX_REDIRECTS` hops. 307/308
    keep method and body. 301/302 keep the method and body too, also for non-GET requests: the
    vendor's page says "resend the resource request to" the Location, and silently turning a
    POST into a GET would lose the write. 303 becomes a GET without body. 301 and 308 are
    remembered for the rest of the session (that URL is rewritten before sending). The
    ``X-API-Key`` header is sent only to the endpoint's own origin (scheme, host and port);
    a redirect elsewhere is followed without it. Every hop is one request (stats, budget,
    rate limiter).
Retries
    Connection errors, timeouts, dropped connections and 5xx are retried with capped
    exponential backoff and full jitter (``uniform(0, min(cap, base * 2**(n-1)))``), up to
    ``max_retries`` times. GET and PUT are always safe to repeat. A POST is repeated only
    when it certainly did not act: the connection was never made (connect error/timeout, pool
    timeout), or the server answered 429 or 503 (both say "not taken"). Any other 5xx to a
    POST raises `ServerError` at once: a 500 may follow a stored write, a 502/504 may come from
    a gateway in front of a server that acted, so the caller re-reads instead. A POST whose
    connection dropped or timed out *after* it was sent raises
    `TransportError` at once with ``maybe_sent=True``: whether it took effect is unknown, and the
    caller (the applier) decides, e.g. by re-reading the SIM.
    A ``Retry-After`` (seconds) on a 5xx replaces the jittered delay (capped at
    ``backoff_cap``).
429
    The limiter is told the window is spent until ``X-RateLimit-Reset``; the next attempt waits
    for it (reported through ``on_wait``); without a usable Reset, ``Retry-After`` or the backoff
    delay stands in. At most ``max_retries`` 429s per call, then
    `RateLimited`.
Budget
    With ``budget=N`` request number N+1 is never sent: `BudgetExhausted` is raised before.
"""

from __future__ import annotations

import json
import random as _random
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import httpx

from reconciler.clock import Clock, SystemClock
from reconciler.errors import (
    ApiError,
    ApiFieldError,
    AuthenticationError,
    BudgetExhausted,
    Cancelled,
    ConfigError,
    ForbiddenError,
    IllegalStatus,
    NotFoundError,
    RateLimited,
    ServerError,
    TransportError,
    ValidationFailed,
)
from reconciler.model import (
    BATCH_MAX_SIMS,
    ApnStatus,
    BatchJob,
    BatchOperation,
    ChangeLogEntry,
    LiveSim,
    RateBudget,
    RatePlan,
    SmsStatus,
    Status,
)
from reconciler.smarthub import wire
from reconciler.smarthub.api import RequestStats, SimPage
from reconciler.smarthub.limiter import OnWait, RateLimiter

T = TypeVar("T")

MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})
# Failures where the request certainly never reached the server.
_NOT_SENT: tuple[type[httpx.HTTPError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)
# Failures worth another attempt (for a POST only when also in _NOT_SENT).
_RETRYABLE: tuple[type[httpx.HTTPError], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)
_ERROR_CLASSES: Mapping[int, type[ApiError]] = {
    400: ValidationFailed,
    401: AuthenticationError,
    403: ForbiddenError,
    404: NotFoundError,
    422: ValidationFailed,
    429: RateLimited,
}


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    port = url.port or {"http": 80, "https": 443}.get(url.scheme)
    return url.scheme, url.host, port


def _failed_url(exc: httpx.HTTPError, fallback: httpx.URL) -> str:
    """The URL of the hop that failed (after redirects), else the one we started with."""
    try:
        return str(exc.request.url)
    except RuntimeError:  # an exception raised without its request attached
        return str(fallback)


class SmartHubClient:
    """The SmartHub API over HTTP; safe to share between threads.

    ``endpoint`` is the base URL ending in ``/v1``. ``clock`` paces every wait (rate window,
    backoff). ``on_wait(seconds, reason)`` is called before each wait for the rate window
    (reason: the request that waits, e.g. ``"GET /v1/global-sims"``); backoff sleeps are only
    counted in `stats`. ``cancel``: once set (Ctrl+C), no request is sent any more and every
    wait ends at once with `Cancelled`. ``transport`` and
    ``random`` are for tests (httpx.MockTransport, a seeded Random).
    """

    def __init__(
        self,
        endpoint: str,
        api_key: str,
        *,
        clock: Clock | None = None,
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        budget: int | None = None,
        on_wait: Callable[[float, str], None] | None = None,
        transport: httpx.BaseTransport | None = None,
        random: _random.Random | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self._endpoint = endpoint.rstrip("/")
        base = httpx.URL(self._endpoint)
        if base.scheme not in ("http", "https") or not base.host:
            raise ValueError(f"not an http(s) endpoint: {self._endpoint!r}")
        self._origin = _origin(base)
        if not wire.sendable_api_key(api_key):
            # httpx would refuse it later with the raw key in its message: refuse it here, blind
            raise ConfigError(
                "the API key is empty or holds a space, control or non-ASCII character "
                "(the key is not shown)"
            )
        self._api_key = api_key
        self._clock: Clock = clock or SystemClock()
        self._max_retries = max(max_retries, 0)
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._budget = budget
        self._random = random or _random.Random()
        self._random_lock = threading.Lock()
        on_wait_cb: OnWait | None = on_wait
        self._limiter = RateLimiter(self._clock, on_wait=on_wait_cb, cancel=cancel)
        self._http = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "fleetform/0.1"},
        )
        self._lock = threading.Lock()
        self._requests = 0
        self._retries = 0
        self._rate_limited = 0
        self._moved: dict[str, str] = {}

    # --- SmartHubApi: bookkeeping -------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return self._endpoint

    def stats(self) -> RequestStats:
        with self._lock:
            return RequestStats(
                requests=self._requests,
                retries=self._retries,
                rate_limited=self._rate_limited,
                waited_seconds=self._limiter.waited_seconds,
                rate_waited_seconds=self._limiter.rate_waited_seconds,
            )

    def rate_budget(self) -> RateBudget | None:
        return self._limiter.budget()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SmartHubClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SmartHubClient({self._endpoint!r}, api_key=<redacted>)"

    # --- SmartHubApi: reads -------------------------------------------------------------------

    def iter_sims(
        self, *, account: str | None = None, status: Status | None = None
    ) -> Iterator[LiveSim]:
        return self._iter_pages(
            wire.SIMS_PATH,
            wire.list_params(account=account, status=status),
            wire.parse_sim_page,
            decode=wire.decode_sim_page,
        )

    def get_sim(self, iccid: str) -> LiveSim:
        return self._get(wire.sim_path(iccid), wire.parse_sim)

    def iter_sim_pages(
        self, *, account: str | None = None, start: str | None = None
    ) -> Iterator[SimPage]:
        """The SIM list one page at a time, each with the ``Link: rel=next`` URL as given.

        ``start`` is a next URL an earlier call handed out (the live-state cache's rotating
        cursor); None starts at the first page. Stops after a page without a next link or an
        empty page; a next link that points back to a page read in this call ends it too.
        """
        url = (
            httpx.URL(start)
            if start is not None
            else self._url(wire.SIMS_PATH, wire.list_params(account=account, status=None))
        )
        seen: set[str] = set()
        while True:
            seen.add(str(url))
            response = self._call("GET", url)
            sims = self._parse(response, wire.parse_sim_page)
            target = wire.link_rel(response.headers.get(wire.LINK_HEADER), "next")
            following: str | None = None
            if target is not None and sims:
                try:
                    joined = response.url.join(target)
                except httpx.InvalidURL:
                    joined = None
                if joined is not None and joined.scheme in ("http", "https"):
                    following = str(joined) if str(joined) not in seen else None
            yield SimPage(tuple(sims), following, str(url))
            if following is None:
                return
            url = httpx.URL(following)

    def iter_change_logs(
        self, *, iccid: str | None = None, since: datetime | None = None
    ) -> Iterator[ChangeLogEntry]:
        return self._iter_pages(
            wire.CHANGE_LOGS_PATH,
            wire.change_log_params(iccid=iccid, since=since),
            wire.parse_change_log_page,
        )

    def get_custom_fields(self, iccid: str) -> Mapping[str, str | None]:
        return self._get(wire.custom_fields_path(iccid), wire.parse_custom_fields)

    def service_packages(self, account: str) -> list[RatePlan]:
        return self._get(wire.service_packages_path(account), wire.parse_service_packages)

    def count_sims(self, *, account: str | None = None) -> int | None:
        response = self._call("GET", self._url(wire.SIMS_PATH, wire.count_params(account=account)))
        return wire.total_count(response.headers.get(wire.TOTAL_COUNT_HEADER))

    def enterprise(self) -> Mapping[str, Any]:
        return self._get(wire.ENTERPRISE_PATH, lambda raw: wire.parse_object(raw, "enterprise"))

    def account(self, name: str) -> Mapping[str, Any]:
        return self._get(wire.account_path(name), lambda raw: wire.parse_object(raw, "account"))

    # --- beyond SmartHubApi: the contract's "assumed" extras, raw JSON ----------------------

    def share_pools(self) -> Any:
        """``GET /sharePools`` as the server sent it (the contract leaves its shape open)."""
        return self._get(wire.SHARE_POOLS_PATH, lambda raw: raw)

    def statistics(self) -> Any:
        """``GET /global-sims/statistics`` as the server sent it."""
        return self._get(wire.STATISTICS_PATH, lambda raw: raw)

    # --- SmartHubApi: single writes -----------------------------------------------------------

    def set_custom_fields(self, iccid: str, values: Mapping[str, str | None]) -> None:
        self._call("PUT", wire.custom_fields_path(iccid), body=wire.custom_fields_body(values))

    def activate(self, iccid: str) -> LiveSim | None:
        return self._status_action(iccid, BatchOperation.ACTIVATE)

    def suspend(self, iccid: str) -> LiveSim | None:
        return self._status_action(iccid, BatchOperation.SUSPEND)

    def retire(self, iccid: str) -> LiveSim | None:
        return self._status_action(iccid, BatchOperation.RETIRE)

    def set_rate_plan(self, iccid: str, rate_plan: str) -> None:
        self._call("PUT", wire.basic_plan_path(iccid), body=wire.service_package_body(rate_plan))

    def subscribe_plan(self, iccid: str, plan: str) -> None:
        self._call(
            "POST", wire.supplementary_plan_path(iccid), body=wire.service_package_body(plan)
        )

    def set_apn_status(self, iccid: str, apn: str, status: ApnStatus) -> None:
        self._call("PUT", wire.apn_status_path(iccid), body=wire.apn_status_body(apn, status))

    # --- SmartHubApi: batch jobs --------------------------------------------------------------

    def submit_batch(
        self, operation: BatchOperation, iccids: Sequence[str], *, rate_plan: str | None = None
    ) -> BatchJob:
        if not iccids:
            raise ValueError("a batch job needs at least one SIM")
        if len(iccids) > BATCH_MAX_SIMS:
            raise ValueError(f"a batch job takes at most {BATCH_MAX_SIMS} SIMs")
        if len(set(iccids)) != len(iccids):
            raise ValueError("a batch job must not name a SIM twice")
        response = self._call(
            "POST", wire.batch_path(operation), body=wire.batch_body(operation, iccids, rate_plan)
        )
        return self._parse(
            response, lambda raw: wire.parse_submitted_job(raw, operation, len(iccids))
        )

    def get_batch_job(self, job_id: str) -> BatchJob:
        return self._get(wire.batch_job_path(job_id), wire.parse_batch_job)

    # --- SmartHubApi: SMS ---------------------------------------------------------------------

    def send_sms(self, iccid: str, content: str) -> str:
        response = self._call("POST", wire.SMS_PATH, body=wire.sms_body(iccid, content))
        return self._parse(response, wire.parse_sms_id)

    def sms_status(self, sms_id: str) -> SmsStatus:
        return self._get(wire.sms_status_path(sms_id), wire.parse_sms_status)

    # --- helpers over the HTTP exchange -------------------------------------------------------

    def _status_action(self, iccid: str, operation: BatchOperation) -> LiveSim | None:
        response = self._call("POST", wire.status_action_path(iccid, operation))
        if not response.content.strip():
            return None
        return self._parse(response, wire.parse_sim)

    def _get(self, path: str, parse: Callable[[Any], T]) -> T:
        return self._parse(self._call("GET", path), parse)

    def _iter_pages(
        self,
        path: str,
        params: Mapping[str, str | int],
        parse: Callable[[Any], list[T]],
        *,
        decode: Callable[[bytes], Any] | None = None,
    ) -> Iterator[T]:
        """Follow ``Link: rel=next`` exactly as given; stream page by page.

        Stops when a page has no next link, or is empty (a server that keeps linking past its
        last item must not keep us paging forever). A next link seen before is a loop: error.
        """
        url = self._url(path, params)
        seen: set[int] = set()  # hashes of the URLs read: a few bytes a page, not the URL
        while True:
            seen.add(hash(str(url)))
            response = self._call("GET", url)
            page = self._parse(response, parse, decode)
            yield from page
            target = wire.link_rel(response.headers.get(wire.LINK_HEADER), "next")
            if target is None or not page:
                return
            try:
                url = response.url.join(target)
            except httpx.InvalidURL:
                raise wire.MalformedResponse(
                    f"header 'Link': the next link is not a URL: {target!r}",
                    status=response.status_code,
                    method="GET",
                    url=str(response.url),
                ) from None
            if url.scheme not in ("http", "https"):
                raise wire.MalformedResponse(
                    f"header 'Link': the next link is not http(s): {target!r}",
                    status=response.status_code,
                    method="GET",
                    url=str(response.url),
                )
            if hash(str(url)) in seen:
                raise ApiError(
                    response.status_code,
                    "Pagination loop",
                    detail=f"the next link points back to a page already read: {url}",
                    method="GET",
                    url=str(response.url),
                )

    def _url(self, path: str, params: Mapping[str, str | int] | None = None) -> httpx.URL:
        url = httpx.URL(self._endpoint + path)
        if params:
            url = url.copy_merge_params(dict(params))
        return url

    def _parse(
        self,
        response: httpx.Response,
        parse: Callable[[Any], T],
        decode: Callable[[bytes], Any] | None = None,
    ) -> T:
        """``parse`` over the body's JSON; ``decode`` (bytes to what ``parse`` takes, ValueError
        if not JSON) where the wire module has a faster decoder than the standard library."""
        method, url = response.request.method, str(response.url)
        try:
            if decode is not None:
                raw = decode(response.content)
            else:
                raw = response.json() if response.content.strip() else None
        except ValueError:
            raise wire.MalformedResponse(
                "the body is not JSON", status=response.status_code, method=method, url=url
            ) from None
        try:
            return parse(raw)
        except wire.MalformedResponse as exc:
            raise wire.MalformedResponse(
                exc.message, status=response.status_code, method=method, url=url
            ) from None

    # --- the HTTP exchange --------------------------------------------------------------------

    def _call(
        self,
        method: str,
        target: str | httpx.URL,
        *,
        body: Any = None,
    ) -> httpx.Response:
        """One API call: redirects, retries, 429 waits; a 2xx response or an ApiError."""
        url = target if isinstance(target, httpx.URL) else self._url(target)
        content = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        repeatable = method in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS")
        attempts = 0
        limited = 0
        while True:
            try:
                response = self._exchange(method, url, content)
            except _RETRYABLE as exc:
                if not repeatable and not isinstance(exc, _NOT_SENT):
                    raise TransportError(
                        f"connection lost after the request was sent ({type(exc).__name__}); "
                        "it may or may not have taken effect",
                        method=method,
                        url=_failed_url(exc, url),
                        maybe_sent=True,
                    ) from exc
                if attempts >= self._max_retries:
                    raise TransportError(
                        f"no answer after {attempts + 1} attempts ({type(exc).__name__}: "
                        f"{self._redact(str(exc))})",
                        method=method,
                        url=_failed_url(exc, url),
                    ) from exc
                attempts += 1
                self._backoff(attempts, f"retrying {method} after {type(exc).__name__}")
                continue
            except httpx.HTTPError as exc:
                raise TransportError(
                    f"{type(exc).__name__}: {self._redact(str(exc))}",
                    method=method,
                    url=_failed_url(exc, url),
                ) from exc
            status = response.status_code
            if status == 429:
                with self._lock:
                    self._rate_limited += 1
                if limited >= self._max_retries:
                    raise self._error(response)
                limited += 1
                self._count_retry()
                headers = wire.parse_rate_headers(response.headers, self._clock.now())
                reset = headers[2] if headers is not None else 0.0
                if reset <= 0:
                    reset = wire.parse_retry_after(response.headers) or 0.0
                if reset <= 0:
                    reset = self._backoff_delay(limited)
                self._limiter.exhausted(reset)
                continue
            if status >= 500:
                # A POST is repeated only on 503 (Service Unavailable: the server says it did
                # not take the request); a 500 may come after the write was stored, a 502/504
                # from a gateway in front of a server that acted. Those raise ServerError at
                # once and the caller re-reads before doing the thing again.
                if attempts >= self._max_retries or (not repeatable and status != 503):
                    raise self._error(response)
                attempts += 1
                self._backoff(
                    attempts,
                    f"retrying {method} after HTTP {status}",
                    wire.parse_retry_after(response.headers),
                )
                continue
            if status >= 300:
                raise self._error(response)
            return response

    def _exchange(self, method: str, url: httpx.URL, content: bytes | None) -> httpx.Response:
        """Send and follow redirects by hand; the key goes to the endpoint's origin only."""
        url = self._rewrite(url)
        for hop in range(MAX_REDIRECTS + 1):
            response = self._send(method, url, content)
            location = response.headers.get("location")
            if response.status_code not in _REDIRECTS or not location:
                return response
            if hop == MAX_REDIRECTS:
                raise ApiError(
                    response.status_code,
                    "Too many redirects",
                    detail=f"more than {MAX_REDIRECTS} hops",
                    method=method,
                    url=str(url),
                )
            try:
                target = url.join(location)
            except httpx.InvalidURL as exc:
                raise ApiError(
                    response.status_code, "Bad redirect", detail=str(exc), method=method
                ) from exc
            if target.scheme not in ("http", "https"):
                raise ApiError(
                    response.status_code,
                    "Bad redirect",
                    detail=f"refusing to follow a redirect to {target.scheme!r}",
                    method=method,
                    url=str(url),
                )
            if response.status_code in _PERMANENT:
                with self._lock:
                    self._moved[str(url)] = str(target)
            if response.status_code == 303 and method not in ("GET", "HEAD"):
                method, content = "GET", None
            url = target
        raise AssertionError("unreachable")  # pragma: no cover

    def _rewrite(self, url: httpx.URL) -> httpx.URL:
        with self._lock:
            text = str(url)
            for _ in range(MAX_REDIRECTS):
                moved = self._moved.get(text)
                if moved is None:
                    break
                text = moved
        return httpx.URL(text)

    def _send(self, method: str, url: httpx.URL, content: bytes | None) -> httpx.Response:
        """One HTTP request: budget, rate limiter, the key only for our own origin."""
        with self._lock:
            if self._budget is not None and self._requests >= self._budget:
                raise BudgetExhausted(
                    f"the request budget of {self._budget} is spent "
                    f"(next: {method} {url.copy_with(query=None)})"
                )
            self._requests += 1
        headers: dict[str, str] = {}
        if _origin(url) == self._origin:
            headers[wire.API_KEY_HEADER] = self._api_key
        if content is not None:
            headers["Content-Type"] = "application/json"
        try:
            self._limiter.acquire(f"{method} {url.path}")
        except Cancelled:
            with self._lock:
                self._requests -= 1  # not sent: stats and --budget count only what was
            raise
        try:
            response = self._http.request(method, url, content=content, headers=headers)
        except BaseException:
            self._limiter.release(None, answered=False)
            raise
        self._limiter.release(wire.parse_rate_headers(response.headers, self._clock.now()))
        return response

    def _error(self, response: httpx.Response) -> ApiError:
        status = response.status_code
        method, url = response.request.method, str(response.url)
        body: Any = None
        try:
            body = self._redact_json(response.json())
        except ValueError:
            body = self._redact(response.text[:500]) if response.content else None
        title, detail, errors = wire.parse_problem(body)
        if title is None:
            title = response.reason_phrase or f"HTTP {status}"
            if isinstance(body, str) and body.strip():
                detail = body.strip()
        detail = self._redact(detail) if detail else detail
        cls: type[ApiError]
        if status == 422 and errors and errors[0].code == "illegal_status":
            cls = IllegalStatus
        elif status >= 500:
            cls = ServerError
        else:
            cls = _ERROR_CLASSES.get(status, ApiError)
        return cls(
            status,
            self._redact(title),
            detail=detail,
            errors=[
                ApiFieldError(e.resource, e.field, e.code, self._redact(e.message))
                if e.message
                else e
                for e in errors
            ],
            method=method,
            url=url,
            body=body,
        )

    def _redact_json(self, value: Any) -> Any:
        """The body kept on an error, with any echo of the key replaced."""
        if isinstance(value, str):
            return self._redact(value)
        if isinstance(value, list):
            return [self._redact_json(item) for item in value]
        if isinstance(value, dict):
            return {self._redact(str(k)): self._redact_json(v) for k, v in value.items()}
        return value

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "<redacted>") if self._api_key else text

    # --- waiting ------------------------------------------------------------------------------

    def _count_retry(self) -> None:
        with self._lock:
            self._retries += 1

    def _backoff_delay(self, attempt: int) -> float:
        ceiling = min(self._backoff_cap, self._backoff_base * (2 ** (attempt - 1)))
        with self._random_lock:
            return self._random.uniform(0, ceiling)

    def _backoff(self, attempt: int, reason: str, retry_after: float | None = None) -> None:
        """Sleep before retry ``attempt``: the server's Retry-After (capped) or jittered backoff."""
        self._count_retry()
        if retry_after is not None:
            delay = min(retry_after, self._backoff_cap)
        else:
            delay = self._backoff_delay(attempt)
        self._limiter.wait(delay, reason)

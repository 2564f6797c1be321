"""The ASGI app: the request pipeline and the routing over the handlers of each resource.

One request goes: latency → drop → injected 503 → redirect → (``/v1/openapi.json`` needs no
key) → key → rate limit → route. Request bodies above 1 MiB → 413. ``HEAD`` is answered like
``GET``, without the body.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from reconciler.simulator.faults import Counters, Faults
from reconciler.simulator.http.account import AccountHandlers
from reconciler.simulator.http.admin import AdminHandlers
from reconciler.simulator.http.batch import BatchHandlers
from reconciler.simulator.http.calls import (
    ADMIN_PREFIX,
    API_PREFIX,
    MAX_BODY,
    TRANSPORT_KEY,
    Call,
    Handler,
    Routes,
)
from reconciler.simulator.http.errors import Dropped, problem_response, rate_headers
from reconciler.simulator.http.sims import SimHandlers
from reconciler.simulator.problems import (
    InvalidApiKey,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Problem,
    RateLimited,
    ServiceUnavailable,
)
from reconciler.simulator.store import RateState, Store

RouteTable = list[tuple[str, re.Pattern[str], Handler]]


def compile_routes(routes: Routes) -> RouteTable:
    return [(method, re.compile(path), handler) for method, path, handler in routes]


def match(routes: RouteTable, method: str, path: str) -> tuple[Handler, dict[str, str]]:
    """The handler of the first route matching path and method; 405 or 404 otherwise."""
    allowed: list[str] = []
    wanted = "GET" if method == "HEAD" else method  # uvicorn leaves out a HEAD's body
    for route_method, pattern, handler in routes:
        found = pattern.fullmatch(path)
        if found is None:
            continue
        if route_method == wanted:
            return handler, found.groupdict()
        allowed.append(route_method)
    if allowed:
        raise MethodNotAllowed(
            f"{method} is not allowed here", headers={"Allow": ", ".join(allowed)}
        )
    raise NotFound(f"no resource at {path or '/'}")


class SimulatorApp:
    """The whole server as one ASGI callable."""

    def __init__(
        self,
        store: Store,
        faults: Faults,
        counters: Counters,
        keys: Mapping[str, str],
        rate_limit: int,
        rate_window: float,
        on_job_created: Callable[[], None],
        openapi: Callable[[], dict[str, Any]],
    ) -> None:
        self.store = store
        self.faults = faults
        self.counters = counters
        self.keys = dict(keys)  # api key -> account
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.openapi = openapi
        self.routes = compile_routes(
            SimHandlers(store).routes()
            + BatchHandlers(store, on_job_created).routes()
            + AccountHandlers(store, faults).routes()
        )
        self.admin_routes = compile_routes(AdminHandlers(store, faults, counters).routes())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        path: str = scope["path"]
        try:
            if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
                response = await self._admin(request, path[len(ADMIN_PREFIX) :])
            else:
                response = await self._api(request, scope, path)
        except Dropped:
            return
        if response is not None:
            self.counters.add(f"status{response.status_code}")
            await response(scope, receive, send)

    async def _read_body(self, request: Request) -> bytes:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            raise PayloadTooLarge(f"request bodies are limited to {MAX_BODY} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise PayloadTooLarge(f"request bodies are limited to {MAX_BODY} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def _drop(self, scope: Scope, request: Request) -> None:
        """Close the socket without an answer, then wait until the server noticed."""
        transport = scope.get(TRANSPORT_KEY)
        self.counters.add("dropped")
        if transport is None:  # not served by our protocol (in-process transport): best effort
            raise Dropped()
        transport.close()
        # only waiting for the server to see the disconnect; whatever receive() says is moot
        with contextlib.suppress(Exception):
            await asyncio.wait_for(request.receive(), timeout=1.0)
        raise Dropped()

    def _account_of(self, request: Request) -> str | None:
        key = request.headers.get("x-api-key")
        return self.keys.get(key) if key else None

    def _rate_headers(self, state: RateState | None) -> dict[str, str]:
        return rate_headers(state, self.rate_limit, self.rate_window)

    def _peek(self, account: str | None) -> RateState | None:
        if account is None:
            return None
        return self.store.rate(account, self.rate_limit, self.rate_window, consume=False)

    async def _api(self, request: Request, scope: Scope, path: str) -> Response:
        self.counters.add("requests")
        faults = self.faults
        if faults.latency > 0:
            await asyncio.sleep(faults.latency)
        if faults.roll(faults.drop_rate):
            await self._drop(scope, request)
        account = self._account_of(request)
        if faults.roll(faults.error_rate):
            self.counters.add("injectedErrors")
            return problem_response(
                ServiceUnavailable("injected fault"), self._rate_headers(self._peek(account))
            )
        redirect = faults.match_redirect(path)
        if redirect is not None:
            self.counters.add("redirects")
            target = redirect.target_base + path[len(redirect.path_prefix) :]
            if scope.get("query_string"):
                target += "?" + scope["query_string"].decode("latin-1")
            if target.startswith("/"):
                target = str(request.base_url).rstrip("/") + target
            headers = self._rate_headers(self._peek(account))
            headers["Location"] = target
            return Response(status_code=redirect.status, headers=headers)
        if path == API_PREFIX + "/openapi.json" and request.method == "GET":
            return JSONResponse(self.openapi(), headers=self._rate_headers(self._peek(account)))
        if account is None:
            return problem_response(InvalidApiKey(), self._rate_headers(None))
        state = self.store.rate(account, self.rate_limit, self.rate_window, consume=True)
        headers = self._rate_headers(state)
        if not state.allowed:
            self.counters.add("rateLimited")
            return problem_response(RateLimited(), headers)
        try:
            if not (path == API_PREFIX or path.startswith(API_PREFIX + "/")):
                raise NotFound(f"no resource at {path}")
            handler, params = match(self.routes, request.method, path[len(API_PREFIX) :])
            body = await self._read_body(request)
            base = str(request.base_url).rstrip("/") + API_PREFIX
            reply = handler(Call(request, account, params, body, base))
        except Problem as problem:
            return problem_response(problem, headers)
        headers.update(reply.headers)
        return JSONResponse(reply.body, status_code=reply.status, headers=headers)

    async def _admin(self, request: Request, path: str) -> Response:
        account = self._account_of(request)
        try:
            if account is None:
                raise InvalidApiKey()
            handler, params = match(self.admin_routes, request.method, path)
            body = await self._read_body(request)
            base = str(request.base_url).rstrip("/") + API_PREFIX
            reply = handler(Call(request, account, params, body, base))
        except Problem as problem:
            return problem_response(problem, {})
        return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)

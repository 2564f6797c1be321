"""Wiring and lifecycle: build store, workers and app; run uvicorn in a thread or in front
(on a socket bound by `reconciler.simulator.listen`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from reconciler.simulator.config import SimulatorConfig
from reconciler.simulator.faults import Counters, Faults
from reconciler.simulator.fleet import OTHER_ACCOUNT, PRIMARY_ACCOUNT
from reconciler.simulator.http import ADMIN_PREFIX, API_PREFIX, TRANSPORT_KEY, SimulatorApp
from reconciler.simulator.jobs import BatchWorker
from reconciler.simulator.listen import base_url, bind_socket, run_in_thread, uvicorn_config
from reconciler.simulator.openapi import openapi_document
from reconciler.simulator.push import Pusher
from reconciler.simulator.store import Store

log = logging.getLogger("reconciler.simulator")


class _DroppableH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, handing the app its transport so a fault can close the socket."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        inner = self.app

        async def app(scope: Any, receive: Any, send: Any) -> None:
            scope[TRANSPORT_KEY] = transport
            await inner(scope, receive, send)

        self.app = app


@dataclass
class _Parts:
    store: Store
    faults: Faults
    counters: Counters
    pusher: Pusher
    worker: BatchWorker
    app: SimulatorApp
    api_key: str
    other_api_key: str
    push_key: str

    def close(self) -> None:
        self.worker.stop()
        self.pusher.stop()
        self.store.close()


def _build(config: SimulatorConfig) -> _Parts:
    clock = config.clock or time.time
    faults = Faults(
        latency=config.latency,
        error_rate=config.error_rate,
        drop_rate=config.drop_rate,
        batch_failure_rate=config.batch_failure_rate,
        redirects=list(config.redirects),
        push_urls=dict(config.push_urls),
        enterprise_accounts=config.enterprise_accounts,
        seed=config.seed,
    )
    counters = Counters()
    pusher = Pusher(faults, counters, clock)
    store = Store(config.db_path, clock=clock, on_event=pusher.submit)
    try:
        store.ensure_seeded(config.sims, config.seed)
        api_key = store.key("api_key", config.api_key)
        other_api_key = store.key("other_api_key", config.other_api_key)
        if api_key == other_api_key:
            raise ValueError("api_key and other_api_key must differ")
        push_key = store.key("push_key", config.push_key)
    except BaseException:
        store.close()
        pusher.stop()
        raise
    faults.push_key = push_key
    worker = BatchWorker(store, faults, config.job_delay)
    app = SimulatorApp(
        store,
        faults,
        counters,
        keys={api_key: PRIMARY_ACCOUNT, other_api_key: OTHER_ACCOUNT},
        rate_limit=config.rate_limit,
        rate_window=config.rate_window,
        on_job_created=worker.wake,
        openapi=openapi_document,
    )
    return _Parts(store, faults, counters, pusher, worker, app, api_key, other_api_key, push_key)


def _uvicorn(app: SimulatorApp) -> uvicorn.Server:
    config = uvicorn_config(
        app, http=_DroppableH11Protocol, keep_alive_seconds=5, graceful_seconds=1
    )
    return uvicorn.Server(config)


@dataclass
class RunningSimulator:
    """A simulator serving on a loopback port in a background thread; ``stop()`` ends it."""

    url: str
    api_key: str
    other_api_key: str
    admin_url: str
    push_key: str
    port: int
    db_path: Path
    _parts: _Parts = field(repr=False)
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def __repr__(self) -> str:
        return f"RunningSimulator(url={self.url!r}, db_path={str(self.db_path)!r})"

    def stop(self) -> None:
        """Stop serving and release the database; safe to call twice."""
        if self._thread.is_alive():
            self._server.should_exit = True
            self._thread.join(1.0)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(5.0)
        self._parts.close()

    def __enter__(self) -> RunningSimulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # helpers for tests in this process (the admin endpoints do the same over HTTP)
    def drain_pushes(self, timeout: float = 5.0) -> None:
        """Wait until every push queued so far was attempted."""
        self._parts.pusher.drain(timeout)

    def counters(self) -> dict[str, int]:
        return self._parts.counters.snapshot()


def start_in_thread(
    config: SimulatorConfig, host: str = "127.0.0.1", port: int = 0
) -> RunningSimulator:
    """Serve in a daemon thread; returns once the server accepts connections."""
    parts = _build(config)
    try:
        sock = bind_socket(host, port)
        actual_port = sock.getsockname()[1]
        server = _uvicorn(parts.app)
        thread = run_in_thread(server, sock, name=f"sim-{actual_port}")
    except BaseException:
        parts.close()
        raise
    base = base_url(host, actual_port)
    return RunningSimulator(
        url=base + API_PREFIX,
        api_key=parts.api_key,
        other_api_key=parts.other_api_key,
        admin_url=base + ADMIN_PREFIX,
        push_key=parts.push_key,
        port=actual_port,
        db_path=Path(config.db_path),
        _parts=parts,
        _server=server,
        _thread=thread,
    )


def serve(
    config: SimulatorConfig,
    host: str,
    port: int,
    *,
    on_ready: Any = None,
) -> None:
    """Serve in the foreground until SIGINT/SIGTERM. ``on_ready(url, api_key, other_api_key)``
    is called once the socket is bound (the CLI prints the URL and key there)."""
    parts = _build(config)
    try:
        sock = bind_socket(host, port)
        base = base_url(host, sock.getsockname()[1])
        if on_ready is not None:
            on_ready(base + API_PREFIX, parts.api_key, parts.other_api_key)
        # uvicorn shuts down gracefully on SIGINT, then raises the signal again: that
        # KeyboardInterrupt is the normal way out of a foreground server, not an error.
        with contextlib.suppress(KeyboardInterrupt):
            _uvicorn(parts.app).run(sockets=[sock])
    finally:
        parts.close()

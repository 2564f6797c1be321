"""Serving the simulator on a socket of its own: bind, listen, run uvicorn in a thread.

The simulator's copy of ``reconciler/serving.py`` (the simulator shares no code with
fleetform proper): the same backlog, the same ``TCP_NODELAY``, the same errors, held together
by a test. Why each step is as it is, is said there; in short: the socket is bound here so
``port=0`` works and a port in use is a `SimulatorError`; ``IPPROTO_TCP`` so that asyncio sets
``TCP_NODELAY`` (else each keep-alive answer waits 40 ms for a delayed ACK); and it listens at
once, so a client that read the URL waits in the backlog instead of being refused.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

from reconciler.simulator.config import SimulatorError

LISTEN_BACKLOG = 2048
_READY_POLL_SECONDS = 0.002


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` and listening; `SimulatorError` when it cannot be."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SimulatorError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.listen(LISTEN_BACKLOG)
    return sock


def base_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def uvicorn_config(
    app: Any, *, http: Any = "h11", keep_alive_seconds: int, graceful_seconds: int
) -> uvicorn.Config:
    """uvicorn on asyncio without lifespan, websockets or access log, warnings only."""
    return uvicorn.Config(
        app,
        http=http,
        loop="asyncio",
        ws="none",
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_keep_alive=keep_alive_seconds,
        timeout_graceful_shutdown=graceful_seconds,
        backlog=LISTEN_BACKLOG,
    )


def run_in_thread(
    server: uvicorn.Server, sock: socket.socket, *, name: str, ready_timeout: float = 10.0
) -> threading.Thread:
    """Run ``server`` on ``sock`` in a daemon thread; returns once it accepts. When it does not
    start, the socket is closed and `SimulatorError` says so."""
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name)
    thread.daemon = True
    thread.start()
    deadline = time.monotonic() + ready_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            host, port = sock.getsockname()[:2]
            server.should_exit = True
            thread.join(2.0)
            sock.close()
            raise SimulatorError(f"the simulator did not start on {host}:{port}")
        time.sleep(_READY_POLL_SECONDS)
    return thread

"""Serving an ASGI app on a socket of our own: bind, listen, run uvicorn in a thread.

The one way fleetform serves (today the push receiver). The simulator keeps a copy of its own in
``reconciler/simulator/listen.py``, because it shares no code with fleetform proper; both bind
and listen alike (same backlog, same ``TCP_NODELAY``, same errors), and a test holds them to it.

- The socket is bound here, so ``port=0`` picks a free port and the URL says which, and a port
  in use is a `ConfigError` rather than a log line from a thread.
- ``IPPROTO_TCP``, not 0: asyncio sets ``TCP_NODELAY`` only on sockets whose proto says TCP,
  and without it every response (headers and body are two writes) waits ~40 ms for the peer's
  delayed ACK (measured: 44 ms per request, 0.5 ms with it).
- It listens at once, with a backlog of `LISTEN_BACKLOG`: a client that read the URL may connect
  before uvicorn accepts; it waits in the backlog instead of being refused, and a burst of
  connections (a load test, a sender catching up) is not dropped at 1024 pending handshakes.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import uvicorn

from reconciler.errors import ConfigError

LISTEN_BACKLOG = 2048
_READY_POLL_SECONDS = 0.002


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` and listening; `ConfigError` when it cannot be."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
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


@dataclass
class RunningServer:
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def run_in_thread(
    server: uvicorn.Server,
    sock: socket.socket,
    *,
    name: str,
    what: str = "the server",
    ready_timeout: float = 10.0,
) -> threading.Thread:
    """Run ``server`` on ``sock`` in a daemon thread; returns once it accepts. When it does not
    start, the socket is closed and `ConfigError` says so (``what`` names the server)."""
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
            raise ConfigError(f"{what} did not start on {host}:{port}")
        time.sleep(_READY_POLL_SECONDS)
    return thread


def start_server(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    keep_alive_seconds: int = 15,
    graceful_seconds: int = 5,
    ready_timeout: float = 10.0,
    name: str = "fleetform-http",
    what: str = "the server",
) -> RunningServer:
    """Serve ``app`` with uvicorn (h11, asyncio) in a daemon thread; returns once it accepts.

    ``name`` names the thread, ``what`` the server in the error when it does not start.
    """
    sock = bind_socket(host, port)
    config = uvicorn_config(
        app, keep_alive_seconds=keep_alive_seconds, graceful_seconds=graceful_seconds
    )
    server = uvicorn.Server(config)
    url = base_url(host, sock.getsockname()[1])
    thread = run_in_thread(server, sock, name=name, what=what, ready_timeout=ready_timeout)
    return RunningServer(url=url, server=server, thread=thread)

"""One way to serve on a socket, on each side: fleetform's `reconciler.serving` (the push
receiver) and the simulator's own copy, `reconciler.simulator.listen` (the simulator shares no
code with fleetform proper). Both must bind, listen and configure uvicorn alike."""

from __future__ import annotations

import socket
import struct
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from reconciler import serving
from reconciler.errors import ConfigError
from reconciler.simulator import SimulatorConfig, SimulatorError, listen, start_in_thread

SIDES = [
    pytest.param(serving, ConfigError, id="fleetform"),
    pytest.param(listen, SimulatorError, id="simulator"),
]


def listen_backlog(sock: socket.socket) -> int:
    """The kernel's accept-queue bound of a listening socket (Linux ``TCP_INFO``: for a
    listener, ``tcpi_sacked`` holds ``sk_max_ack_backlog``)."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    state, *_ = struct.unpack_from("8B", info)
    assert state == 10  # TCP_LISTEN
    return int(struct.unpack_from("8B6I", info)[-1])


def test_both_sides_listen_with_one_backlog() -> None:
    assert serving.LISTEN_BACKLOG == listen.LISTEN_BACKLOG == 2048


@pytest.mark.parametrize(("side", "error"), SIDES)
def test_the_socket_listens_with_that_backlog_before_a_server_runs(
    side: ModuleType, error: type[Exception]
) -> None:
    sock = side.bind_socket("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP  # so that asyncio sets TCP_NODELAY
        # a client that read the URL early waits in the backlog instead of being refused
        with socket.create_connection(sock.getsockname()[:2], timeout=2.0):
            pass
        if sys.platform == "linux":
            somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
            assert listen_backlog(sock) == min(side.LISTEN_BACKLOG, somaxconn)
    finally:
        sock.close()


@pytest.mark.parametrize(("side", "error"), SIDES)
def test_a_port_in_use_is_the_same_clear_error(side: ModuleType, error: type[Exception]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(error) as info:
            side.bind_socket("127.0.0.1", port)
    assert str(info.value) == f"cannot listen on 127.0.0.1:{port}: Address already in use"


@pytest.mark.parametrize(("side", "error"), SIDES)
def test_an_ipv6_host_is_bracketed_in_the_url(side: ModuleType, error: type[Exception]) -> None:
    assert side.base_url("::1", 8787) == "http://[::1]:8787"
    assert side.base_url("127.0.0.1", 8787) == "http://127.0.0.1:8787"


def test_both_sides_configure_uvicorn_alike() -> None:
    def settings(side: ModuleType) -> dict[str, Any]:
        config = side.uvicorn_config(object(), keep_alive_seconds=5, graceful_seconds=1)
        names = ("http", "loop", "ws", "lifespan", "log_level", "access_log", "backlog")
        return {name: getattr(config, name) for name in names}

    assert settings(serving) == settings(listen)
    assert settings(serving)["backlog"] == serving.LISTEN_BACKLOG


async def hello(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


def test_fleetform_serves_an_app_on_a_free_port_and_stops() -> None:
    running = serving.start_server(hello, name="test-serving")
    try:
        assert running.url.startswith("http://127.0.0.1:")
        assert httpx.get(running.url + "/").text == "hello"
    finally:
        running.stop()
    assert not running.thread.is_alive()


def test_the_simulator_serves_on_its_copy(tmp_path: Path) -> None:
    with start_in_thread(SimulatorConfig(db_path=tmp_path / "s.db", sims=5)) as sim:
        assert sim.url == f"http://127.0.0.1:{sim.port}/v1"
        answer = httpx.get(sim.url + "/enterprise", headers={"X-API-Key": sim.api_key})
        assert answer.status_code == 200

"""Redirects over real sockets: the key never reaches another origin (a second port here).

httpx strips only ``Authorization`` on cross-origin redirects, not custom headers such as
``X-API-Key``; the client follows redirects itself and must drop the key. Two tiny recording
HTTP servers on different loopback ports stand for SmartHub and some other host.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from reconciler.clock import FakeClock
from reconciler.errors import AuthenticationError
from reconciler.smarthub import SmartHubClient

KEY = "top-secret-key"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Recorder:
    """A loopback HTTP server that records every request and answers through ``route``."""

    route: Callable[[Seen], tuple[int, dict[str, str], bytes]]
    seen: list[Seen] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def servers() -> Iterator[
    Callable[[Callable[[Seen], tuple[int, dict[str, str], bytes]]], Recorder]
]:
    running: list[ThreadingHTTPServer] = []

    def start(route: Callable[[Seen], tuple[int, dict[str, str], bytes]]) -> Recorder:
        recorder = Recorder(route)

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                recorder.seen.append(seen)
                status, headers, body = recorder.route(seen)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _any

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
        running.append(server)
        recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
        return recorder

    yield start
    for server in running:
        server.shutdown()
        server.server_close()


JSON = {"Content-Type": "application/json"}


def answer(body: object, status: int = 200) -> tuple[int, dict[str, str], bytes]:
    return status, JSON, json.dumps(body).encode()


def test_cross_origin_redirect_does_not_leak_the_key(servers) -> None:  # type: ignore[no-untyped-def]
    other = servers(lambda seen: answer({"name": "elsewhere"}))
    home = servers(
        lambda seen: (
            (302, {"Location": f"{other.url}/v1/enterprise"}, b"")
            if seen.path == "/v1/enterprise"
            else answer({}, 404)
        )
    )
    with SmartHubClient(f"{home.url}/v1", KEY, clock=FakeClock()) as api:
        assert api.enterprise() == {"name": "elsewhere"}
        assert api.stats().requests == 2
    assert home.seen[0].headers["x-api-key"] == KEY
    [leaked] = other.seen
    assert "x-api-key" not in leaked.headers
    assert KEY.encode() not in repr(leaked).encode()


def test_307_post_to_another_origin_keeps_the_body_but_not_the_key(servers) -> None:  # type: ignore[no-untyped-def]
    other = servers(
        lambda seen: (401, JSON, b'{"type":"about:blank","title":"Invalid api key","status":401}')
    )
    home = servers(lambda seen: (307, {"Location": f"{other.url}/v1/mt-sms"}, b""))
    with (
        SmartHubClient(f"{home.url}/v1", KEY, clock=FakeClock()) as api,
        pytest.raises(AuthenticationError) as info,
    ):
        api.send_sms("8944500000000000018", "hi")
    [forwarded] = other.seen
    assert forwarded.method == "POST"
    assert json.loads(forwarded.body) == {"toGiccid": "8944500000000000018", "content": "hi"}
    assert "x-api-key" not in forwarded.headers
    assert KEY not in str(info.value)


def test_same_origin_permanent_redirect_keeps_the_key_and_is_remembered(servers) -> None:  # type: ignore[no-untyped-def]
    def route(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        if seen.path.startswith("/old/v1/"):
            return 301, {"Location": seen.path.replace("/old/v1/", "/v1/", 1)}, b""
        return answer({"name": "acme"})

    home = servers(route)
    with SmartHubClient(f"{home.url}/old/v1", KEY, clock=FakeClock()) as api:
        api.account("acme")
        api.account("acme")
    paths = [s.path for s in home.seen]
    assert paths == ["/old/v1/account/acme", "/v1/account/acme", "/v1/account/acme"]
    assert all(s.headers.get("x-api-key") == KEY for s in home.seen)

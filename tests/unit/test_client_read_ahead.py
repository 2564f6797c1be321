"""``iter_sims(read_ahead=True)``: pages fetched on a thread ahead of the caller, with every
behaviour of the plain paged read kept (order, errors, budget, waits, stopping)."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from reconciler.clock import FakeClock, SystemClock
from reconciler.errors import ApiError, BudgetExhausted, Cancelled, ForbiddenError
from reconciler.smarthub.client import READ_AHEAD, SmartHubClient
from reconciler.smarthub.wire import MalformedResponse
from tests.unit.test_client import BASE, KEY, RATE, Server, client, ok, problem, sim_json


def paged(server: Server, pages: int, *, last: httpx.Response | None = None) -> None:
    """``pages`` pages of two SIMs, page N linking to N+1; ``last`` replaces the final one."""

    def handler(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params.get("page", "1"))
        if number == pages and last is not None:
            return last
        body = [sim_json(f"{number}-a"), sim_json(f"{number}-b")]
        if number < pages:
            return ok(body, Link=f'<{BASE}/global-sims?page={number + 1}&size=100>; rel="next"')
        return ok(body)

    server.routes[("GET", "/v1/global-sims")] = handler


def readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "fleetform-read-ahead"]


def settle(count: Any, *, seconds: float = 2.0) -> int:
    """The value of ``count()`` once it stopped changing for 0.2 s."""
    deadline = time.monotonic() + seconds
    last = count()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = count()
        if now == last:
            return int(now)
        last = now
    return int(last)


def test_the_same_sims_and_the_same_requests_in_page_order() -> None:
    plain, ahead = Server(), Server()
    paged(plain, 7)
    paged(ahead, 7)
    expected = [s.iccid for s in client(plain).iter_sims(account="acme")]
    got = [s.iccid for s in client(ahead).iter_sims(account="acme", read_ahead=True)]
    assert got == expected and len(got) == 14
    assert [str(r.url) for r in ahead.requests] == [str(r.url) for r in plain.requests]
    assert readers() == []


def test_it_stays_at_most_two_pages_ahead_and_stopping_stops_it() -> None:
    server = Server()
    paged(server, 50)
    api = client(server)
    sims = api.iter_sims(read_ahead=True)
    assert next(sims).iccid == "1-a"
    assert settle(lambda: len(server.requests)) == 1 + READ_AHEAD == 3
    assert [next(sims).iccid for _ in range(3)] == ["1-b", "2-a", "2-b"]
    assert settle(lambda: len(server.requests)) == 4  # one page consumed, one more fetched
    sims.close()  # the caller stops
    assert readers() == []  # joined
    sent = len(server.requests)
    time.sleep(0.3)
    assert len(server.requests) == sent == api.stats().requests


@pytest.mark.parametrize(
    "last",
    [
        problem(403, "Access forbidden", detail="not your account"),
        ok([sim_json("x")], Link='<ftp://x/y>; rel="next"'),
        ok([sim_json("x")], Link=f'<{BASE}/global-sims?page=2&size=100>; rel="next"'),
        httpx.Response(200, content=b"{not json", headers=RATE),
    ],
    ids=["http-error", "bad-link", "loop", "malformed"],
)
def test_an_error_reaches_the_caller_after_the_pages_before_it(last: httpx.Response) -> None:
    def read(read_ahead: bool) -> tuple[list[str], BaseException, int]:
        server = Server()
        paged(server, 4, last=last)
        seen: list[str] = []
        with pytest.raises((ApiError, ForbiddenError, MalformedResponse)) as info:
            for sim in client(server).iter_sims(read_ahead=read_ahead):
                seen.append(sim.iccid)
        return seen, info.value, len(server.requests)

    plain_seen, plain_error, plain_requests = read(False)
    seen, error, requests = read(True)
    assert seen == plain_seen
    assert type(error) is type(plain_error) and str(error) == str(plain_error)
    assert requests == plain_requests
    assert readers() == []


def test_the_budget_is_spent_and_said_exactly_as_without() -> None:
    def read(read_ahead: bool) -> tuple[list[str], str, int]:
        server = Server()
        paged(server, 5)
        api = client(server, budget=2)
        seen: list[str] = []
        with pytest.raises(BudgetExhausted) as info:
            for sim in api.iter_sims(read_ahead=read_ahead):
                seen.append(sim.iccid)
        return seen, str(info.value), api.stats().requests

    assert read(True) == read(False) == (["1-a", "1-b", "2-a", "2-b"], read(False)[1], 2)


def test_rate_window_waits_are_the_same_waits() -> None:
    """The window spent after page 2: the read waits for its reset, once, as without."""

    def read(read_ahead: bool) -> tuple[list[float], list[tuple[float, str]], int]:
        server = Server()
        spent = {**RATE, "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "40"}

        def handler(request: httpx.Request) -> httpx.Response:
            number = int(request.url.params.get("page", "1"))
            link = f'<{BASE}/global-sims?page={number + 1}>; rel="next"' if number < 4 else None
            headers = {**(spent if number == 2 else RATE), **({"Link": link} if link else {})}
            return httpx.Response(200, json=[sim_json(str(number))], headers=headers)

        server.routes[("GET", "/v1/global-sims")] = handler
        clock = FakeClock()
        waits: list[tuple[float, str]] = []
        api = client(server, clock=clock, on_wait=lambda s, why: waits.append((s, why)))
        assert [s.iccid for s in api.iter_sims(read_ahead=read_ahead)] == ["1", "2", "3", "4"]
        return clock.sleeps, waits, api.stats().requests

    assert read(True) == read(False) == ([40.0], [(40.0, "GET /v1/global-sims")], 4)


def window_spent_after_page_1(server: Server) -> None:
    """Page 1 says the window is spent for an hour: the next page waits (a real clock)."""
    spent = {**RATE, "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "3600"}

    def handler(request: httpx.Request) -> httpx.Response:
        link = f'<{BASE}/global-sims?page=2>; rel="next"'
        return httpx.Response(200, json=[sim_json("1")], headers={**spent, "Link": link})

    server.routes[("GET", "/v1/global-sims")] = handler


def test_a_reader_waiting_an_hour_for_the_window_ends_when_the_caller_stops() -> None:
    server = Server()
    window_spent_after_page_1(server)
    api = SmartHubClient(
        BASE, KEY, clock=SystemClock(), transport=httpx.MockTransport(server), max_retries=0
    )
    sims = api.iter_sims(read_ahead=True)
    assert next(sims).iccid == "1"
    time.sleep(0.2)  # the reader is in its hour-long wait
    started = time.monotonic()
    sims.close()
    assert time.monotonic() - started < 1.0
    assert readers() == []
    assert len(server.requests) == api.stats().requests == 1  # nothing sent after


def test_cancel_ends_the_wait_of_a_caller_that_is_not_the_main_thread() -> None:
    """apply's Ctrl+C sets the cancel event; a worker reading the list must not wait on."""
    server = Server()
    window_spent_after_page_1(server)
    cancel = threading.Event()
    api = SmartHubClient(
        BASE, KEY, clock=SystemClock(), transport=httpx.MockTransport(server), cancel=cancel
    )
    outcome: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in api.iter_sims(read_ahead=True):
                pass
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    time.sleep(0.3)
    started = time.monotonic()
    cancel.set()
    thread.join(3)
    assert not thread.is_alive() and time.monotonic() - started < 1.5
    assert len(outcome) == 1 and isinstance(outcome[0], Cancelled)
    assert readers() == []
    assert len(server.requests) == 1

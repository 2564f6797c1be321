"""The header-driven rate limiter: maths on a FakeClock, and threads sharing the last tokens."""

from __future__ import annotations

import threading

from reconciler.clock import FakeClock
from reconciler.smarthub.limiter import RateLimiter


def make() -> tuple[RateLimiter, FakeClock, list[tuple[float, str]]]:
    clock = FakeClock()
    waits: list[tuple[float, str]] = []
    limiter = RateLimiter(clock, on_wait=lambda s, r: waits.append((s, r)))
    return limiter, clock, waits


def test_first_request_goes_through_to_learn() -> None:
    limiter, clock, waits = make()
    limiter.acquire()
    assert limiter.in_flight == 1
    limiter.release((100, 99, 60.0))
    assert limiter.in_flight == 0
    budget = limiter.budget()
    assert budget is not None
    assert (budget.limit, budget.remaining, budget.reset_seconds) == (100, 99, 60.0)
    assert clock.sleeps == []
    assert waits == []


def test_spends_the_known_budget_then_waits_for_the_reset() -> None:
    limiter, clock, waits = make()
    limiter.acquire()
    limiter.release((5, 2, 30.0))
    limiter.acquire()
    limiter.release((5, 1, 29.0))
    limiter.acquire()
    limiter.release((5, 0, 28.0))
    # spent: the next acquire sleeps until the reset instead of earning a 429
    limiter.acquire("GET /global-sims")
    assert clock.sleeps == [28.0]
    assert waits == [(28.0, "GET /global-sims")]
    assert limiter.waited_seconds == limiter.rate_waited_seconds == 28.0
    limiter.release((5, 4, 60.0))


def test_window_passed_means_full_budget_again() -> None:
    limiter, clock, _ = make()
    limiter.acquire()
    limiter.release((3, 0, 10.0))
    clock.advance(11.0)
    limiter.acquire()
    assert clock.sleeps == []


def test_in_flight_requests_count_against_the_budget() -> None:
    limiter, clock, _ = make()
    limiter.acquire()
    limiter.release((10, 2, 30.0))
    limiter.acquire()
    limiter.acquire()
    assert limiter.in_flight == 2
    # a third caller must not take a token that the two in flight are about to spend
    started = threading.Event()
    done = threading.Event()

    def third() -> None:
        started.set()
        limiter.acquire()
        done.set()

    thread = threading.Thread(target=third)
    thread.start()
    started.wait()
    assert not done.wait(0.05)
    limiter.release((10, 1, 29.0))  # one answered: remaining 1, one still in flight
    assert not done.wait(0.05)
    limiter.release((10, 0, 28.0))  # both answered: spent -> the third sleeps for the reset
    assert done.wait(5)
    thread.join()
    assert clock.sleeps == [28.0]


def test_stale_answers_do_not_raise_remaining_within_a_window() -> None:
    limiter, _, _ = make()
    limiter.acquire()
    limiter.release((10, 3, 30.0))
    limiter.acquire()
    limiter.release((10, 7, 31.0))  # an older answer arriving late
    budget = limiter.budget()
    assert budget is not None and budget.remaining == 3


def test_429_marks_the_window_spent_until_reset() -> None:
    limiter, clock, waits = make()
    limiter.acquire()
    limiter.release(None)
    limiter.exhausted(12.0)
    limiter.acquire()
    assert clock.sleeps == [12.0]
    assert waits == [(12.0, "request, after a 429")]


def test_unknown_budget_lets_one_request_learn_while_others_wait() -> None:
    limiter, _, _ = make()
    limiter.acquire()
    acquired = threading.Event()

    def second() -> None:
        limiter.acquire()
        acquired.set()

    thread = threading.Thread(target=second)
    thread.start()
    assert not acquired.wait(0.05)
    limiter.release((100, 99, 60.0))
    assert acquired.wait(5)
    thread.join()


def test_many_threads_never_overspend_and_sleep_once_per_window() -> None:
    """20 threads, 200 requests, limit 50 per 60 s window: never more than 50 in a window."""
    limiter, clock, waits = make()
    lock = threading.Lock()
    server = {"remaining": 50, "window_end": 60.0, "overspent": 0, "sent": 0}

    def request() -> None:
        limiter.acquire()
        with lock:
            now = clock.monotonic()
            if now >= server["window_end"]:
                server["remaining"] = 50
                server["window_end"] = now + 60.0
            if server["remaining"] <= 0:
                server["overspent"] += 1
            else:
                server["remaining"] -= 1
            server["sent"] += 1
            headers = (50, int(server["remaining"]), server["window_end"] - now)
        limiter.release(headers)

    def worker() -> None:
        for _ in range(10):
            request()

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert server["sent"] == 200
    assert server["overspent"] == 0
    # 200 requests at 50 per window: three waits for the reset, and no thread slept twice
    assert len(clock.sleeps) == 3
    assert len(waits) == 3
    assert limiter.in_flight == 0


def test_a_server_without_headers_is_not_serialised() -> None:
    limiter, clock, _ = make()
    limiter.acquire()
    limiter.release(None)  # answered, but no X-RateLimit-*
    limiter.acquire()
    limiter.acquire()  # would block if every request still had to learn first
    assert limiter.in_flight == 2
    assert clock.sleeps == []


def test_a_failed_request_teaches_nothing() -> None:
    limiter, _, _ = make()
    limiter.acquire()
    limiter.release(None, answered=False)
    limiter.acquire()
    assert limiter.in_flight == 1
    assert limiter.budget() is None


def test_the_window_length_is_learnt_from_the_first_answer_of_a_fresh_window() -> None:
    limiter, _, _ = make()
    limiter.acquire()
    limiter.release((100, 99, 60.0))  # remaining at the top: Reset is the whole window
    limiter.acquire()
    limiter.release((100, 98, 59.0))
    budget = limiter.budget()
    assert budget is not None
    assert (budget.window_seconds, budget.longest_reset) == (60.0, 60.0)


def test_mid_window_the_length_is_unknown_and_reset_only_a_lower_bound() -> None:
    limiter, _, _ = make()
    limiter.acquire()
    limiter.release((5000, 2000, 1800.0))
    budget = limiter.budget()
    assert budget is not None
    assert budget.window_seconds is None
    assert budget.longest_reset == 1800.0


def test_a_window_seen_rolling_over_is_learnt() -> None:
    limiter, clock, _ = make()
    limiter.acquire()
    limiter.release((3, 1, 5.0))  # mid-window
    limiter.acquire()
    limiter.release((3, 0, 4.0))
    limiter.acquire()  # spent: sleeps until the reset
    limiter.release((3, 2, 10.0))  # the first answer of the next window
    budget = limiter.budget()
    assert budget is not None and budget.window_seconds == 10.0
    assert clock.sleeps


def test_a_cancelled_limiter_grants_no_slot() -> None:
    import pytest

    from reconciler.errors import Cancelled

    cancel = threading.Event()
    limiter = RateLimiter(FakeClock(), cancel=cancel)
    limiter.acquire()
    limiter.release((5, 4, 30.0))
    cancel.set()
    with pytest.raises(Cancelled):
        limiter.acquire()
    assert limiter.in_flight == 0


def test_cancel_ends_the_window_wait_and_sends_nothing_after_it() -> None:
    import pytest

    from reconciler.errors import Cancelled

    cancel = threading.Event()
    clock = FakeClock()
    # Ctrl+C arrives as the wait starts: the sleep ends at once, no slot is granted
    limiter = RateLimiter(clock, on_wait=lambda s, r: cancel.set(), cancel=cancel)
    limiter.acquire()
    limiter.release((1, 0, 3600.0))
    with pytest.raises(Cancelled, match="interrupted while waiting"):
        limiter.acquire("PUT /v1/global-sims/x/customFields")
    assert clock.sleeps == [] and limiter.in_flight == 0


def test_a_real_window_wait_wakes_within_a_moment_of_the_cancel() -> None:
    import time

    import pytest

    from reconciler.clock import SystemClock
    from reconciler.errors import Cancelled

    cancel = threading.Event()
    limiter = RateLimiter(SystemClock(), cancel=cancel)
    limiter.acquire()
    limiter.release((1, 0, 3600.0))
    threading.Timer(0.05, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        limiter.acquire()
    assert time.monotonic() - started < 1.0

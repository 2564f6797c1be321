"""Dedupe store retention, the coalescing queue and the worker's error handling."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.clock import FakeClock
from reconciler.errors import FleetformError, QueueFull, ServerError, TransportError
from reconciler.reporting import RecordingReporter
from reconciler.webhook.check import DriftRecord
from reconciler.webhook.dedupe import DedupeStore
from reconciler.webhook.metrics import Metrics
from reconciler.webhook.worker import CheckQueue, CheckWorker, ReadPacer

A = "8944500000000000017"
B = "8944500000000000025"


def record(giccid: str) -> DriftRecord:
    return DriftRecord(iccid=giccid, kind="drift", detected_at=1.0, fleet="f", account="acme")


# --- dedupe -------------------------------------------------------------------------------


def test_remember_is_true_once(tmp_path: Path) -> None:
    store = DedupeStore(tmp_path / "w.db", retention_seconds=600)
    assert store.remember("id:a", 1000, 1000.0)
    assert not store.remember("id:a", 1000, 1001.0)
    assert store.remember("id:b", 1000, 1001.0)
    assert len(store) == 2
    store.close()


def test_prune_forgets_only_what_the_skew_bound_would_refuse(tmp_path: Path) -> None:
    store = DedupeStore(tmp_path / "w.db", retention_seconds=600)
    store.remember("old", 1000, 1000.0)
    store.remember("recent", 1500, 1500.0)
    assert store.prune(now=1601.0) == 1
    assert not store.remember("recent", 1500, 1601.0)
    assert store.remember("old", 1000, 1601.0)  # would be refused as stale before reaching here
    store.close()


def test_pruning_runs_by_itself_every_n_inserts(tmp_path: Path) -> None:
    store = DedupeStore(tmp_path / "w.db", retention_seconds=10, prune_every=5)
    for i in range(5):
        store.remember(f"old{i}", 0, 0.0)
    for i in range(5):
        store.remember(f"new{i}", 100, 100.0)
    assert len(store) == 5
    store.close()


def test_an_unusable_store_path_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(FleetformError, match="webhook dedupe store"):
        DedupeStore(blocker / "w.db", retention_seconds=10)


# --- queue --------------------------------------------------------------------------------


def test_queue_coalesces_and_waits_for_the_debounce() -> None:
    clock = FakeClock()
    queue = CheckQueue(debounce_seconds=0.5, monotonic=clock.monotonic, wall=clock.now)
    assert queue.put(A, "SIM_STATUS_CHANGE")
    assert not queue.put(A, "SIM_APN_STATUS_CHANGE")
    assert queue.put(B, "SIM_STATUS_CHANGE")
    assert queue.take(timeout=0) is None  # not due yet
    clock.advance(0.5)
    first = queue.take(timeout=0)
    assert first is not None
    assert (first.giccid, first.events) == (A, 2)
    assert first.event_types == {"SIM_STATUS_CHANGE", "SIM_APN_STATUS_CHANGE"}
    # an event while A is being checked queues A again: the read may predate the change
    assert queue.put(A, "SIM_STATUS_CHANGE")
    assert [c.giccid for c in queue.take_all()] == [B, A]


def test_queue_is_bounded() -> None:
    queue = CheckQueue(max_pending=1)
    queue.put(A)
    assert queue.can_accept(A)
    assert not queue.can_accept(B)
    with pytest.raises(QueueFull):
        queue.put(B)


def test_close_wakes_a_waiting_taker() -> None:
    queue = CheckQueue()
    got: list[object] = []
    taker = threading.Thread(target=lambda: got.append(queue.take()))
    taker.start()
    queue.close()
    taker.join(5)
    assert got == [None]


# --- worker -------------------------------------------------------------------------------


def make_worker(check: object, clock: FakeClock) -> tuple[CheckWorker, list[DriftRecord]]:
    found: list[DriftRecord] = []
    queue = CheckQueue(debounce_seconds=0.5, monotonic=clock.monotonic, wall=clock.now)
    worker = CheckWorker(
        queue,
        check,  # type: ignore[arg-type]
        found.append,
        metrics=Metrics(),
        reporter=RecordingReporter(),
        retry_delay_seconds=30,
        max_attempts=2,
    )
    return worker, found


def test_worker_hands_drift_on_with_the_events_it_folded() -> None:
    clock = FakeClock(start=5000.0)
    worker, found = make_worker(record, clock)
    worker.queue.put(A, "SIM_STATUS_CHANGE")
    worker.queue.put(A, "SIM_STATUS_CHANGE")
    assert worker.run_pending() == 1
    assert len(found) == 1
    assert (found[0].events, found[0].event_types, found[0].first_event_at) == (
        2,
        ("SIM_STATUS_CHANGE",),
        5000.0,
    )


def test_transient_errors_are_retried_then_given_up() -> None:
    clock = FakeClock()
    calls: list[str] = []

    def flaky(giccid: str) -> DriftRecord | None:
        calls.append(giccid)
        raise TransportError("connection refused")

    worker, found = make_worker(flaky, clock)
    worker.queue.put(A)
    worker.run_pending()
    retry = worker.queue.take(timeout=0)
    assert retry is None  # due in 30 s, not now
    clock.advance(30)
    retry = worker.queue.take(timeout=0)
    assert retry is not None
    assert retry.attempt == 2
    worker.process(retry)
    assert len(worker.queue) == 0  # max_attempts reached
    assert calls == [A, A]
    assert found == []


def test_a_failing_check_does_not_stop_the_worker_thread() -> None:
    clock = FakeClock()
    done = threading.Event()
    seen: list[str] = []

    def check(giccid: str) -> DriftRecord | None:
        seen.append(giccid)
        if giccid == A:
            raise RuntimeError("bug")
        if giccid == B:
            raise ServerError(500, "Internal")
        done.set()
        return None

    worker, _ = make_worker(check, clock)
    worker.queue.debounce_seconds = 0
    worker.start()
    try:
        worker.queue.put(A)
        worker.queue.put(B)
        worker.queue.put("8944500000000000033")
        assert done.wait(5)
        assert worker.alive
    finally:
        worker.stop()
    assert seen == [A, B, "8944500000000000033"]
    assert worker._metrics.snapshot().check_errors == 2


ops = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.sampled_from([A, B, "8944500000000000033"])),
        st.tuples(st.just("take"), st.just("")),
        st.tuples(st.just("advance"), st.just("")),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(ops=ops)
def test_queue_loses_no_event_and_never_holds_a_sim_twice(ops: list[tuple[str, str]]) -> None:
    clock = FakeClock()
    queue = CheckQueue(debounce_seconds=1.0, monotonic=clock.monotonic, wall=clock.now)
    puts = 0
    taken_events = 0
    since_take: dict[str, int] = {}
    for op, giccid in ops:
        if op == "put":
            queue.put(giccid, "SIM_STATUS_CHANGE")
            puts += 1
            since_take[giccid] = since_take.get(giccid, 0) + 1
            assert len(queue) == len(since_take)
        elif op == "advance":
            clock.advance(1.0)
        else:
            item = queue.take(timeout=0)
            if item is not None:
                assert clock.monotonic() >= item.due
                assert item.events == since_take.pop(item.giccid)
                taken_events += item.events
    rest = queue.take_all()
    assert len({c.giccid for c in rest}) == len(rest)
    assert taken_events + sum(c.events for c in rest) == puts


def test_pacer_allows_a_burst_then_one_read_per_interval() -> None:
    clock = FakeClock()
    pacer = ReadPacer(3600, clock, burst=3)  # one read a second after a burst of three
    assert [pacer.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert clock.sleeps == []
    assert pacer.acquire() == pytest.approx(1.0)
    assert pacer.acquire() == pytest.approx(1.0)
    assert clock.sleeps == pytest.approx([1.0, 1.0])
    clock.advance(10)  # idle time refills up to the burst, not beyond
    assert [pacer.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert pacer.acquire() == pytest.approx(1.0)


def test_no_pacing_without_a_cap() -> None:
    clock = FakeClock()
    pacer = ReadPacer(None, clock)
    assert sum(pacer.acquire() for _ in range(1000)) == 0
    assert clock.sleeps == []
    with pytest.raises(ValueError):
        ReadPacer(0, clock)


def test_the_worker_pays_for_a_read_before_taking_the_sim() -> None:
    clock = FakeClock()
    calls: list[str] = []
    done = threading.Event()

    def check(giccid: str) -> DriftRecord | None:
        calls.append(giccid)
        if len(calls) == 3:
            done.set()
        return None

    queue = CheckQueue(debounce_seconds=0, monotonic=clock.monotonic, wall=clock.now)
    worker = CheckWorker(
        queue,
        check,
        lambda record: None,
        metrics=Metrics(),
        reporter=RecordingReporter(),
        pacer=ReadPacer(1800, clock, burst=1),  # after one read, one every 2 s
    )
    for giccid in (A, B, "8944500000000000033"):
        queue.put(giccid)
    worker.start()
    try:
        assert done.wait(5)
    finally:
        worker.stop()
    assert calls == [A, B, "8944500000000000033"]
    assert clock.sleeps[:2] == pytest.approx([2.0, 2.0])

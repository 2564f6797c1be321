"""The simulator's store without HTTP: the state machine as a property, rate windows, keys."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.simulator.problems import Forbidden, NotFound, ValidationFailed
from reconciler.simulator.store import Event, Store

STATUSES = ["TEST_READY", "INVENTORY", "ACTIVATION_READY", "ACTIVATED", "DEACTIVATED", "RETIRED"]
# the contract's table again, on purpose not imported from the simulator
ALLOWED = {
    "activate": ({"TEST_READY", "INVENTORY", "ACTIVATION_READY", "DEACTIVATED"}, "ACTIVATED"),
    "deactivate": ({"ACTIVATED", "TEST_READY", "INVENTORY", "ACTIVATION_READY"}, "DEACTIVATED"),
    "retire": ({"DEACTIVATED"}, "RETIRED"),
}


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "s.db", clock=Clock())
    s.ensure_seeded(20, 1)
    yield s
    s.close()


@pytest.fixture(scope="module")
def shared_db() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "seeded.db"
        s = Store(path, clock=Clock())
        s.ensure_seeded(20, 1)
        s.close()
        yield path


@settings(max_examples=40, deadline=None)
@given(
    start=st.sampled_from(STATUSES),
    operations=st.lists(st.sampled_from(sorted(ALLOWED)), min_size=1, max_size=8),
)
def test_any_sequence_of_operations_follows_the_contract(
    shared_db: Path, start: str, operations: list[str]
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        copy = Path(directory) / "s.db"
        copy.write_bytes(shared_db.read_bytes())
        events: list[Event] = []
        store = Store(copy, clock=Clock(), on_event=events.append)
        try:
            giccid = store.list_sims("acme", None, 1, 1)[0][0].giccid
            store.admin_patch(giccid, {"status": start})
            events.clear()
            expected = start
            moves = 0
            for operation in operations:
                allowed, result = ALLOWED[operation]
                if expected in allowed:
                    assert store.transition(giccid, "acme", operation).status == result
                    expected = result
                    moves += 1
                else:
                    with pytest.raises(ValidationFailed) as refused:
                        store.transition(giccid, "acme", operation)
                    assert refused.value.errors is not None
                    assert refused.value.errors[0]["code"] == "illegal_status"
                sim = store.get_sim(giccid)
                assert sim is not None
                assert sim.status == expected
            history, total = store.change_logs("acme", giccid, None, 1, 100)
            # the admin edit wrote the first row (unless it changed nothing); then one per move
            status_rows = [row for row in history if row.change_type == "STATUS"]
            assert len(status_rows) - (1 if start != "ACTIVATED" else 0) == moves
            assert len([e for e in events if e.event_type == "SIM_STATUS_CHANGE"]) == moves
            assert total == len(history)
        finally:
            store.close()


def test_writes_check_ownership(store: Store) -> None:
    acme = store.list_sims("acme", None, 1, 1)[0][0].giccid
    with pytest.raises(Forbidden):
        store.transition(acme, "globex", "deactivate")
    with pytest.raises(NotFound):
        store.transition("8944500000000999999", "acme", "deactivate")


def test_a_noop_write_records_nothing(store: Store) -> None:
    sim = store.list_sims("acme", "ACTIVATED", 1, 1)[0][0]
    events: list[Event] = []
    store.on_event = events.append
    store.set_basic_plan(sim.giccid, "acme", sim.basic)
    store.set_custom_fields(sim.giccid, "acme", {})
    assert store.change_logs("acme", None, None, 1, 10) == ([], 0)
    assert events == []
    assert store.get_sim(sim.giccid) == sim  # not even lastModifiedTime moved


def test_the_rate_window(tmp_path: Path) -> None:
    clock = Clock()
    store = Store(tmp_path / "r.db", clock=clock)
    try:
        states = [store.rate("acme", 2, 100.0, consume=True) for _ in range(3)]
        peek = store.rate("acme", 2, 100.0, consume=False)
        clock.now += 99.5
        almost = store.rate("acme", 2, 100.0, consume=True)
        clock.now += 0.5
        fresh = store.rate("acme", 2, 100.0, consume=True)
        other = store.rate("globex", 2, 100.0, consume=False)
    finally:
        store.close()
    assert [(s.allowed, s.remaining, s.reset) for s in states] == [
        (True, 1, 100),
        (True, 0, 100),
        (False, 0, 100),
    ]
    assert (peek.allowed, peek.remaining) == (False, 0)
    assert (almost.allowed, almost.reset) == (False, 1)  # rounded up, never 0 while closed
    assert (fresh.allowed, fresh.remaining, fresh.reset) == (True, 1, 100)
    assert other.remaining == 2


def test_keys_are_generated_once_and_kept(tmp_path: Path) -> None:
    store = Store(tmp_path / "k.db", clock=Clock())
    try:
        first = store.key("api_key", None)
        again = store.key("api_key", None)
        given_key = store.key("api_key", "mine")
        after = store.key("api_key", None)
    finally:
        store.close()
    assert first == again
    assert len(first) >= 24
    assert (given_key, after) == ("mine", "mine")


def test_seeding_happens_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "k.db", clock=Clock())
    try:
        assert store.ensure_seeded(10, 1) is True
        assert store.ensure_seeded(500, 2) is False
        assert store.list_sims("acme", None, 1, 100)[1] == 10
    finally:
        store.close()

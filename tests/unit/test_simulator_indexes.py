"""The simulator's store at scale, on small fleets: pages, counts and history without scans.

The fleet here crosses the store's count buckets (2**BUCKET_BITS positions), so a page that
starts in one bucket and ends in the next, and a status that moves SIMs between buckets' counts,
are both exercised. "No scan" is pinned by counting SQLite's virtual-machine steps: the last page
must cost about what the first does, where an OFFSET would cost the whole account.
"""

from __future__ import annotations

import hashlib
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import astuple
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.simulator.fleet import (
    giccid_for,
    iter_fleet,
    luhn_check_digit,
    seed_fleet,
    with_check_digit,
)
from reconciler.simulator.store import ChangeLogRow, SimRow, Store, schema
from reconciler.simulator.store.schema import BUCKET_BITS

STATUSES = ["TEST_READY", "INVENTORY", "ACTIVATION_READY", "ACTIVATED", "DEACTIVATED", "RETIRED"]
SIMS = 2600  # acme positions 1..2600: three buckets of 1024


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def seeded_db() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "seeded.db"
        store = Store(path, clock=Clock())
        assert store.ensure_seeded(SIMS, 1)
        store.close()
        yield path


@pytest.fixture
def store(seeded_db: Path, tmp_path: Path) -> Iterator[Store]:
    copy = tmp_path / "s.db"
    copy.write_bytes(seeded_db.read_bytes())
    s = Store(copy, clock=Clock())
    yield s
    s.close()


def all_sims(store: Store, account: str = "acme") -> list[SimRow]:
    return store.list_sims(account, None, 1, 10**6)[0]


def read_pages(store: Store, status: str | None, size: int) -> tuple[list[str], set[int]]:
    """Every page until an empty one: the giccids in order and the totals each page gave."""
    giccids: list[str] = []
    totals: set[int] = set()
    page = 1
    while True:
        rows, total = store.list_sims("acme", status, page, size)
        totals.add(total)
        if not rows:
            return giccids, totals
        giccids += [row.giccid for row in rows]
        page += 1


def test_the_fleet_crosses_the_count_buckets() -> None:
    assert SIMS >> BUCKET_BITS >= 2


@pytest.mark.parametrize("size", [100, 37])
def test_status_pages_are_the_filtered_fleet_in_order(store: Store, size: int) -> None:
    fleet = all_sims(store)
    assert len(fleet) == SIMS
    for status in STATUSES:
        expected = [sim.giccid for sim in fleet if sim.status == status]
        giccids, totals = read_pages(store, status, size)
        assert giccids == expected, status
        assert totals == {len(expected)}


def test_a_page_past_the_end_is_empty_with_the_total(store: Store) -> None:
    retired = sum(1 for sim in all_sims(store) if sim.status == "RETIRED")
    assert store.list_sims("acme", "RETIRED", 10_000, 100) == ([], retired)
    assert store.list_sims("acme", None, 10_000, 100) == ([], SIMS)


def test_pages_and_counts_follow_status_changes(store: Store) -> None:
    fleet = all_sims(store)
    # move SIMs of every bucket both ways, by the state machine and behind its back
    for sim in fleet[::97]:
        if sim.status == "ACTIVATED":
            store.transition(sim.giccid, "acme", "deactivate")
        else:
            store.admin_patch(sim.giccid, {"status": "ACTIVATED"})
    store.admin_patch(fleet[-1].giccid, {"status": "RETIRED"})
    store.admin_patch(fleet[0].giccid, {"status": "INVENTORY"})
    after = all_sims(store)
    for status in STATUSES:
        expected = [sim.giccid for sim in after if sim.status == status]
        giccids, totals = read_pages(store, status, 100)
        assert giccids == expected, status
        assert totals == {len(expected)}
    counts = {status: sum(1 for sim in after if sim.status == status) for status in STATUSES}
    assert store.statistics("acme") == counts
    assert store.list_sims("acme", None, 1, 1)[1] == SIMS


def test_the_other_account_is_counted_apart(store: Store) -> None:
    globex = all_sims(store, "globex")
    assert len(globex) == len([s for s in iter_fleet(SIMS, 1) if s.account == "globex"])
    assert sum(store.statistics("globex").values()) == len(globex)
    store.admin_patch(globex[0].giccid, {"status": "RETIRED"})
    retired = [s.giccid for s in all_sims(store, "globex") if s.status == "RETIRED"]
    assert [s.giccid for s in store.list_sims("globex", "RETIRED", 1, 100)[0]] == retired
    assert store.list_sims("acme", "RETIRED", 1, 1)[1] == store.statistics("acme")["RETIRED"]


# ---- cost: page N as cheap as page 1 ----------------------------------------------------


@pytest.fixture
def small_buckets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """A store whose count buckets are 32 positions: what is left to step over inside a bucket
    is then small beside a page, so a scan shows (with 1024, this fleet is one scan)."""
    monkeypatch.setattr(schema, "BUCKET_BITS", 5)
    s = Store(tmp_path / "small.db", clock=Clock())
    s.ensure_seeded(SIMS, 1)
    yield s
    s.close()


def vm_steps(store: Store, call: Callable[[], Any]) -> int:
    """SQLite virtual-machine steps (in tens) that ``call`` costs."""
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    db: sqlite3.Connection = store._db
    db.set_progress_handler(count, 10)
    try:
        call()
    finally:
        db.set_progress_handler(None, 10)
    return steps[0]


def test_small_buckets_still_page_right(small_buckets: Store) -> None:
    fleet = all_sims(small_buckets)
    for sim in fleet[::41]:
        small_buckets.admin_patch(sim.giccid, {"status": "RETIRED"})
    for status in ("ACTIVATED", "RETIRED"):
        expected = [sim.giccid for sim in all_sims(small_buckets) if sim.status == status]
        assert read_pages(small_buckets, status, 30) == (expected, {len(expected)})


@pytest.mark.parametrize("status", [None, "ACTIVATED", "DEACTIVATED"])
def test_the_last_page_costs_what_the_first_does(small_buckets: Store, status: str | None) -> None:
    store = small_buckets
    total = store.list_sims("acme", status, 1, 1)[1]
    last = -(-total // 20)
    assert last > 10
    first_cost = vm_steps(store, lambda: store.list_sims("acme", status, 1, 20))
    last_cost = vm_steps(store, lambda: store.list_sims("acme", status, last, 20))
    # an OFFSET would step over every SIM before the page (and a COUNT over all of them)
    assert last_cost <= first_cost * 1.3 + 20, (first_cost, last_cost)


def test_a_deep_history_page_and_since_cost_what_the_first_does(store: Store) -> None:
    clock = store.clock
    assert isinstance(clock, Clock)
    for sim in all_sims(store)[:800]:
        clock.now += 1
        store.admin_patch(sim.giccid, {"imei": "350000000000009"})
    first = vm_steps(store, lambda: store.change_logs("acme", None, None, 1, 20))
    deep = vm_steps(store, lambda: store.change_logs("acme", None, None, 39, 20))
    since = vm_steps(store, lambda: store.change_logs("acme", None, clock.now - 50, 2, 20))
    assert deep <= first * 1.3 + 20, (first, deep)
    assert since <= first * 1.3 + 20, (first, since)


# ---- history ---------------------------------------------------------------------------


def test_history_pages_and_since_match_a_plain_reading(store: Store) -> None:
    clock = store.clock
    assert isinstance(clock, Clock)
    fleet = all_sims(store)
    written: list[tuple[str, str, int]] = []
    for number, sim in enumerate(fleet[:60]):
        clock.now += number % 3  # several changes share a second
        if sim.status == "ACTIVATED":
            store.transition(sim.giccid, "acme", "deactivate")
            written.append((sim.giccid, "STATUS", int(clock.now)))
        elif sim.status != "RETIRED":
            plan = "IoT-Unlimited" if sim.basic != "IoT-Unlimited" else "IoT-1GB"
            store.set_basic_plan(sim.giccid, "acme", plan)
            written.append((sim.giccid, "SERVICE_PACKAGE", int(clock.now)))
    globex = all_sims(store, "globex")[0]
    store.admin_patch(globex.giccid, {"status": "RETIRED"})  # another account's history
    for since in (None, written[0][2], written[25][2] - 0.5, written[-1][2], clock.now + 1):
        expected = [w for w in written if since is None or w[2] >= since]
        for size in (7, 100):
            read: list[ChangeLogRow] = []
            page = 1
            while True:
                rows, total = store.change_logs("acme", None, since, page, size)
                assert total == len(expected)
                if not rows:
                    break
                read += rows
                page += 1
            assert [(r.giccid, r.change_type, r.changed_time) for r in read] == expected
    one = written[10][0]
    rows, total = store.change_logs("acme", one, None, 1, 100)
    assert total == 1 and rows[0].giccid == one
    assert store.change_logs("globex", None, None, 1, 100)[1] == 1


def test_history_times_never_go_back_when_the_clock_does(store: Store) -> None:
    clock = store.clock
    assert isinstance(clock, Clock)
    first, second = [sim for sim in all_sims(store) if sim.status == "ACTIVATED"][:2]
    store.transition(first.giccid, "acme", "deactivate")
    clock.now -= 3600
    store.transition(second.giccid, "acme", "deactivate")
    rows, total = store.change_logs("acme", None, None, 1, 100)
    assert total == 2
    assert rows[0].changed_time == rows[1].changed_time == 1_800_000_000
    # `since` the first change still finds both
    assert store.change_logs("acme", None, 1_800_000_000, 1, 100)[1] == 2


# ---- an earlier schema -----------------------------------------------------------------


def test_a_database_of_schema_1_is_brought_up_to_date(store: Store, tmp_path: Path) -> None:
    clock = store.clock
    assert isinstance(clock, Clock)
    fleet = all_sims(store)
    for sim in fleet[:5]:
        clock.now += 10
        store.admin_patch(sim.giccid, {"status": "RETIRED"})
    path = Path(store.path)
    store.close()
    # what schema 1 looked like: no history numbering, no status counts
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(
        "DROP INDEX change_logs_seq; DROP INDEX change_logs_time;"
        "ALTER TABLE change_logs DROP COLUMN seq; DELETE FROM status_counts;"
        "CREATE INDEX change_logs_account ON change_logs (account, changed_time, id);"
        "UPDATE meta SET value = '1' WHERE key = 'schema';"
    )
    db.close()
    reopened = Store(path, clock=clock)
    try:
        rows, total = reopened.change_logs("acme", None, 1_800_000_030, 1, 100)
        assert total == 3
        assert [row.giccid for row in rows] == [sim.giccid for sim in fleet[2:5]]
        retired = [s.giccid for s in all_sims(reopened) if s.status == "RETIRED"]
        assert read_pages(reopened, "RETIRED", 100) == (retired, {len(retired)})
        reopened.admin_patch(fleet[5].giccid, {"status": "RETIRED"})
        assert reopened.change_logs("acme", None, None, 1, 100)[1] == 6
    finally:
        reopened.close()
    check = sqlite3.connect(path)
    try:
        assert check.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == ("2",)
    finally:
        check.close()


def test_an_unknown_schema_is_refused(tmp_path: Path) -> None:
    from reconciler.simulator.config import SimulatorError

    path = tmp_path / "future.db"
    Store(path, clock=Clock()).close()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("INSERT INTO meta (key, value) VALUES ('schema', '99')")
    db.close()
    with pytest.raises(SimulatorError, match="schema '99'"):
        Store(path, clock=Clock())


# ---- seeding ---------------------------------------------------------------------------


def test_the_seeded_fleet_is_the_one_examples_depend_on() -> None:
    # the digest of every value of two fleets, as seeded before seeding was made fast
    digest = hashlib.sha256()
    for sims, seed in ((250, 1), (3000, 7)):
        for sim in seed_fleet(sims, seed):
            digest.update(repr(astuple(sim)).encode())
    assert digest.hexdigest() == PINNED_FLEET


def test_the_seeded_database_holds_the_fleet(store: Store) -> None:
    stored = {sim.giccid: sim for sim in all_sims(store) + all_sims(store, "globex")}
    fleet = list(iter_fleet(SIMS, 1))
    assert len(stored) == len(fleet)
    for sim in fleet[:: len(fleet) // 50]:
        row = stored[sim.giccid]
        assert (row.account, row.status, row.basic, row.supplementary, row.apns) == (
            sim.account,
            sim.status,
            sim.basic_plan,
            sim.supplementary,
            sim.apns,
        )
        assert (row.custom, row.imei, row.activated_time) == (
            sim.custom,
            sim.imei,
            sim.activated_time,
        )


def test_seeding_leaves_the_database_in_wal_and_seeds_once(store: Store) -> None:
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.ensure_seeded(SIMS, 1) is False


@given(st.integers(min_value=0, max_value=10**12 - 1), st.sampled_from(["894450", "35", ""]))
def test_the_fast_check_digit_is_the_luhn_digit(number: int, prefix: str) -> None:
    body = f"{prefix}{number:012d}"
    assert with_check_digit(prefix, number) == body + luhn_check_digit(body)


def test_luhn_refuses_what_is_not_digits() -> None:
    assert luhn_check_digit("") == "0"
    for bad in ("12a4", "1 2", "١٢", "-5"):
        with pytest.raises(ValueError):
            luhn_check_digit(bad)
    assert giccid_for(10**12) == with_check_digit("894450", 10**12)  # past 12 digits: plain path


PINNED_FLEET = "a1b11e5f9dcd897ab9923ac19d5d03dbe875665655c0c96a80d60d73af9fc82d"

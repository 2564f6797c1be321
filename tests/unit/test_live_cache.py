"""The live-state cache on its own: encoding, setting aside, transactions, kill -9, no lost
update between two writers."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.errors import ValidationFailed
from reconciler.live.cache import (
    SKEW_SECONDS,
    LiveCache,
    Via,
    cache_path,
    decode_sim,
    encode_rest,
)
from reconciler.model import ApnStatus, ChangeLogEntry, LiveSim, Status
from reconciler.reporting import RecordingReporter

ROOT = Path(__file__).resolve().parents[2]
EP = "http://127.0.0.1:9/v1"


def sim(i: int, **kw: object) -> LiveSim:
    values: dict[str, object] = {
        "iccid": f"89445000000{i:08d}",
        "status": Status.ACTIVE,
        "account": "acme",
        "rate_plan": "IoT-1GB",
        "apns": {"iot.acme": ApnStatus.ENABLED},
        "custom_fields": {
            "custom1": "berlin",
            "custom2": None,
            "custom3": None,
            "custom4": None,
            "custom5": None,
        },
    }
    values.update(kw)
    return LiveSim(**values)  # type: ignore[arg-type]


def opened(state: Path, reporter: RecordingReporter | None = None, **kw: object) -> LiveCache:
    return LiveCache.open(
        state,
        endpoint=str(kw.get("endpoint", EP)),
        account=str(kw.get("account", "acme")),
        reporter=reporter or RecordingReporter(),
        clock=lambda: float(kw.get("now", 1_800_000_000.0)),  # type: ignore[arg-type]
    )


def test_a_sim_survives_the_compact_encoding() -> None:
    original = sim(
        1,
        status=Status.SUSPENDED,
        supplementary_plans=("EU-Roaming-500MB",),
        apns={"iot.acme": ApnStatus.DISABLED, "backup.acme": ApnStatus.ENABLED},
        custom_fields={
            "custom1": None,
            "custom2": "ASSET-1",
            "custom3": None,
            "custom4": None,
            "custom5": None,
        },
        last_modified_time=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    rest = encode_rest(original)
    assert rest == '[["EU-Roaming-500MB"],[["iot.acme",0],["backup.acme",1]],[null,"ASSET-1"]]'
    row = (original.iccid, 4, "IoT-1GB", rest, int(original.last_modified_time.timestamp()))  # type: ignore[union-attr]
    back = decode_sim(row, "acme")
    for name in (
        "status",
        "rate_plan",
        "supplementary_plans",
        "apns",
        "custom_fields",
        "last_modified_time",
    ):
        assert getattr(back, name) == getattr(original, name), name
    bare = sim(2, apns={}, custom_fields={})
    assert encode_rest(bare) is None
    assert decode_sim((bare.iccid, 3, None, None, None), "acme").custom_fields["custom5"] is None


def test_the_compact_encoding_keeps_its_format_for_every_shape() -> None:
    """The rows a cache already holds stay readable: the encoder's output is exactly the JSON
    the first one wrote (no spaces, UTF-8, trailing empties left out)."""
    plans_only = sim(3, supplementary_plans=("EU-Roaming-500MB",), apns={}, custom_fields={})
    assert encode_rest(plans_only) == '[["EU-Roaming-500MB"]]'
    apns_only = sim(4, apns={"iot.acme": ApnStatus.ENABLED}, custom_fields={"custom1": ""})
    assert encode_rest(apns_only) == '[[],[["iot.acme",1]]]'
    other = sim(5, apns={}, custom_fields={"custom1": "Köln", "label": "x"})
    assert encode_rest(other) == '[[],[],{"custom1":"Köln","label":"x"}]'
    back = decode_sim((other.iccid, 3, None, encode_rest(other), None), "acme")
    assert back.custom_fields == {"custom1": "Köln", "label": "x"} and back.apns == {}
    last = sim(6, apns={}, custom_fields={"custom5": "z"})
    assert encode_rest(last) == '[[],[],[null,null,null,null,"z"]]'
    assert decode_sim((last.iccid, 3, None, encode_rest(last), None), "acme").custom_fields == {
        "custom1": None,
        "custom2": None,
        "custom3": None,
        "custom4": None,
        "custom5": "z",
    }


def test_a_full_read_reads_the_clock_once_a_batch_not_once_a_sim(tmp_path: Path) -> None:
    """Each batch is stamped with the time its first SIM passed: never later than any of its
    SIMs was read, and one clock reading per transaction instead of one per SIM."""
    readings: list[float] = []

    def clock() -> float:
        readings.append(1_000.0 + len(readings))
        return readings[-1]

    cache = LiveCache.open(
        tmp_path, endpoint=EP, account="acme", reporter=RecordingReporter(), clock=clock
    )
    refresh = cache.full_refresh(started_at=900)
    refresh.batch = 2000
    assert sum(1 for _ in refresh.tap(sim(i) for i in range(4500))) == 4500
    assert refresh.commit()
    assert len(readings) == 3  # batches of 2000, 2000 and 500
    stamps = cache.stamps([sim(0).iccid, sim(1999).iccid, sim(2000).iccid, sim(4499).iccid])
    assert [stamps[sim(i).iccid][0] for i in (0, 1999, 2000, 4499)] == [1000, 1000, 1001, 1002]
    assert cache.coverage().sims == 4500
    cache.close()


def test_junk_bytes_are_set_aside_with_one_warning(tmp_path: Path) -> None:
    path = cache_path(tmp_path, "acme")
    path.parent.mkdir(parents=True)
    path.write_bytes(os.urandom(3000))
    reporter = RecordingReporter()
    cache = opened(tmp_path, reporter)
    (warning,) = reporter.warnings
    assert "unreadable" in warning and "set aside as acme.sqlite.set-aside" in warning
    assert not cache.state().complete
    cache.record([sim(1)], via=Via.LIST)
    assert cache.coverage().sims == 1
    cache.close()


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"endpoint": "http://other:1/v1"}, "of another endpoint (http://127.0.0.1:9/v1)"),
        ({"account": "globex"}, None),  # a cache per account: another file, nothing set aside
    ],
)
def test_a_cache_of_another_endpoint_is_set_aside(
    tmp_path: Path, change: dict[str, str], said: str | None
) -> None:
    opened(tmp_path).close()
    reporter = RecordingReporter()
    opened(tmp_path, reporter, **change).close()
    if said is None:
        assert reporter.warnings == []
    else:
        (warning,) = reporter.warnings
        assert said in warning


def test_an_unknown_schema_version_is_set_aside(tmp_path: Path) -> None:
    opened(tmp_path).close()
    with sqlite3.connect(cache_path(tmp_path, "acme")) as db:
        db.execute("PRAGMA user_version = 99")
    reporter = RecordingReporter()
    opened(tmp_path, reporter).close()
    (warning,) = reporter.warnings
    assert "unknown schema version (99; this fleetform reads 1)" in warning


def test_an_older_record_never_replaces_a_newer_one(tmp_path: Path) -> None:
    cache = opened(tmp_path)
    cache.record([sim(1, status=Status.SUSPENDED)], via=Via.PUSH, at=2000)
    cache.record([sim(1, status=Status.ACTIVE)], via=Via.LIST, at=1000)  # read before the push
    assert cache.get([sim(1).iccid])[sim(1).iccid].status is Status.SUSPENDED
    assert cache.state().last_push_at == 2000
    cache.record([sim(1, account="globex")], via=Via.GET, at=3000)  # it left the account
    assert cache.get([sim(1).iccid]) == {}
    cache.close()


def entry(i: int, kind: str, new: str | None, at: int, old: str | None = "x") -> ChangeLogEntry:
    return ChangeLogEntry(sim(i).iccid, kind, old, new, datetime.fromtimestamp(at, UTC))


def test_history_entries_change_only_what_was_not_verified_after_them(tmp_path: Path) -> None:
    cache = opened(tmp_path)
    cache.record([sim(1), sim(2), sim(3)], via=Via.LIST, at=10_000)
    changed, unknown = cache.take_history(
        [
            entry(1, "status", "suspended", 10_000 - SKEW_SECONDS - 1),  # before the list read
            entry(2, "status", "suspended", 10_500),
            entry(2, "service_package", "IoT-5GB", 10_600),
            entry(3, "service_package", "EU-Roaming-500MB", 10_700, old=None),
            entry(3, "imei", "123", 10_800),
            entry(9, "status", "active", 10_900),
        ],
        read_at=11_000,
        watermark=10_700,
        anchor=None,
    )
    assert (changed, unknown) == (3, {sim(9).iccid})
    got = cache.get(s.iccid for s in (sim(1), sim(2), sim(3)))
    assert got[sim(1).iccid].status is Status.ACTIVE
    assert (got[sim(2).iccid].status, got[sim(2).iccid].rate_plan) == (Status.SUSPENDED, "IoT-5GB")
    assert got[sim(3).iccid].supplementary_plans == ("EU-Roaming-500MB",)
    assert cache.stamps([sim(2).iccid])[sim(2).iccid] == (10_000, 10_600, Via.HISTORY)
    state = cache.state()
    assert (state.watermark, state.history_until) == (10_700, 11_000)
    cache.close()


def test_a_full_read_marks_the_cache_complete_only_when_it_reached_its_end(
    tmp_path: Path,
) -> None:
    cache = opened(tmp_path)
    cache.record([sim(i) for i in range(5)], via=Via.LIST, at=100)
    refresh = cache.full_refresh(started_at=200)
    stream = refresh.tap(iter([sim(0), sim(1)]))
    next(stream)
    assert not refresh.commit()  # stopped half-way: nothing marked
    assert not cache.state().complete and cache.coverage().sims == 5
    refresh = cache.full_refresh(started_at=200)
    assert [s.iccid for s in refresh.tap(iter([sim(0), sim(1)]))] == [sim(0).iccid, sim(1).iccid]
    assert refresh.commit()
    state = cache.state()
    assert state.complete and state.full_at == 200 and state.watermark == 200 - SKEW_SECONDS
    assert cache.coverage().sims == 2  # the SIMs the read did not see left the account
    cache.close()


KILLED_REFRESH = """
import sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from reconciler.live.cache import LiveCache, Via
import reconciler.live.cache as module
from reconciler.reporting import RecordingReporter
from tests.unit.test_live_cache import sim
from reconciler.model import Status
module.BATCH = 500
cache = LiveCache.open(Path({state!r}), endpoint={ep!r}, account="acme",
                       reporter=RecordingReporter(), clock=time.time)
refresh = cache.full_refresh()
def slow():
    for i in range(4000):
        if i and i % 500 == 0:
            print("flushed", i, flush=True)
            time.sleep(0.05)
        yield sim(i, status=Status.SUSPENDED, rate_plan="IoT-5GB")
for _ in refresh.tap(slow()):
    pass
print("streamed", flush=True)
time.sleep(60)  # killed here, before the commit
"""

KILLED_TRANSACTION = """
import sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from reconciler.live.cache import LiveCache, Via
from reconciler.reporting import RecordingReporter
from tests.unit.test_live_cache import sim
from reconciler.model import Status
cache = LiveCache.open(Path({state!r}), endpoint={ep!r}, account="acme",
                       reporter=RecordingReporter(), clock=time.time)
for round in range(1000):
    print("round", round, flush=True)
    cache.record([sim(i, rate_plan=f"P{{round}}") for i in range(10000)], via=Via.LIST,
                 at=10_000 + round)
"""


def _run_until(script: str, marker: str) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert process.stdout is not None
    try:
        for line in process.stdout:
            if line.startswith(marker):
                break
        else:
            raise AssertionError(f"the child ended before {marker!r}")
    finally:
        process.kill()  # SIGKILL: no cleanup, no atexit, no rollback
        process.wait(10)
        process.stdout.close()


def test_a_full_read_killed_half_way_leaves_the_old_complete_cache_believed(
    tmp_path: Path,
) -> None:
    cache = opened(tmp_path, now=1_000)  # long before the child's clock
    refresh = cache.full_refresh(started_at=1_000)
    for _ in refresh.tap(iter([sim(i) for i in range(4000)])):
        pass
    assert refresh.commit()
    cache.close()

    script = KILLED_REFRESH.format(root=str(ROOT), state=str(tmp_path), ep=EP)
    _run_until(script, "flushed 2000")

    reporter = RecordingReporter()
    cache = opened(tmp_path, reporter)
    assert reporter.warnings == []
    with sqlite3.connect(cache_path(tmp_path, "acme")) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    state = cache.state()
    assert state.complete and state.full_at == 1_000  # the killed read was never committed
    assert cache.coverage().sims == 4000  # nothing deleted
    live = list(cache.iter_live())
    new = [s for s in live if s.rate_plan == "IoT-5GB"]
    old = [s for s in live if s.rate_plan == "IoT-1GB"]
    assert len(new) + len(old) == 4000 and len(new) >= 1500  # each row whole, old or new
    assert all(s.status is Status.SUSPENDED for s in new)
    assert all(s.status is Status.ACTIVE for s in old)
    cache.close()


def test_a_transaction_killed_half_way_is_all_or_nothing(tmp_path: Path) -> None:
    opened(tmp_path).close()
    script = KILLED_TRANSACTION.format(root=str(ROOT), state=str(tmp_path), ep=EP)
    _run_until(script, "round 2")
    cache = opened(tmp_path)
    plans = {s.rate_plan for s in cache.iter_live()}
    assert cache.coverage().sims == 10_000
    assert len(plans) == 1, plans  # every row from the same committed round
    cache.close()


def test_two_writers_share_one_cache_and_lose_no_update(tmp_path: Path) -> None:
    """What ``fleetform webhook serve`` and ``fleetform drift`` do at once."""
    drift = opened(tmp_path)
    drift.record([sim(i) for i in range(3000)], via=Via.LIST, at=1_000)
    webhook = opened(tmp_path)
    errors: list[BaseException] = []

    def pushes() -> None:
        try:
            for i in range(300):
                webhook.record(
                    [sim(i, apns={"iot.acme": ApnStatus.DISABLED})], via=Via.PUSH, at=5_000
                )
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=pushes)
    thread.start()
    for round in range(5):  # list pages read before the pushes, written while they land
        drift.record([sim(i) for i in range(3000)], via=Via.LIST, at=2_000 + round)
        drift.take_history(
            [entry(i, "status", "suspended", 1_500) for i in range(0, 3000, 7)],
            read_at=2_000,
            watermark=1_500,
            anchor=None,
        )
    thread.join()
    assert errors == []
    got = drift.get(sim(i).iccid for i in range(300))
    assert all(s.apns["iot.acme"] is ApnStatus.DISABLED for s in got.values())
    drift.close()
    webhook.close()


def test_history_refused_means_a_full_read(tmp_path: Path) -> None:
    """A 4xx on ``since`` (a server whose history does not reach back that far)."""
    from reconciler.clock import FakeClock
    from reconciler.live.incremental import read_incremental
    from reconciler.manifest import load_fleet
    from tests.fakes import FakeSmartHub, write_fleet

    class Refusing(FakeSmartHub):
        def iter_change_logs(self, *, iccid=None, since=None):  # type: ignore[no-untyped-def]
            raise ValidationFailed(422, "Validation Failed", detail="since is too old")

    api = Refusing.seeded(5)
    desired = load_fleet([write_fleet(tmp_path / "m", {"g": {"sims": sorted(api.sims)[:2]}})])
    cache = opened(tmp_path)
    refresh = cache.full_refresh(started_at=1_799_999_000)
    for _ in refresh.tap(api.iter_sims(account="acme")):
        pass
    refresh.commit()
    outcome = read_incremental(
        api, cache, desired, RecordingReporter(), clock=FakeClock(1_800_000_000.0)
    )
    assert isinstance(outcome, str) and outcome.startswith("the change history refused since=")
    cache.close()


def test_record_read_is_what_a_targeted_read_calls(tmp_path: Path) -> None:
    from reconciler.live import record_read

    reporter = RecordingReporter()
    taken = record_read(
        tmp_path,
        [sim(1), sim(2, account="globex")],
        via=Via.GET,
        endpoint=EP,
        account="acme",
        reporter=reporter,
        clock=lambda: 5_000.0,
        at=4_000.0,
    )
    assert taken == 1 and reporter.warnings == []
    cache = opened(tmp_path)
    assert cache.stamps([sim(1).iccid]) == {sim(1).iccid: (4_000, 4_000, Via.GET)}
    cache.close()
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    taken = record_read(
        blocked,
        [sim(1)],
        via=Via.GET,
        endpoint=EP,
        account="acme",
        reporter=reporter,
        clock=lambda: 5_000.0,
    )
    assert taken == 0
    (warning,) = reporter.warnings
    assert warning.startswith("no live-state cache this run: cannot create")


def test_a_busy_cache_is_read_around_never_set_aside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer holding the cache past the busy timeout: drift reads live and says so,
    and the cache (someone's good data) stays where it is."""
    import reconciler.live.cache as module
    from reconciler.clock import FakeClock
    from reconciler.commands.drift import read_drift
    from reconciler.manifest import load_fleet
    from tests.fakes import FakeSmartHub, write_fleet

    api = FakeSmartHub.seeded(5)
    desired = load_fleet([write_fleet(tmp_path / "m", {"g": {"sims": sorted(api.sims)[:2]}})])
    clock = FakeClock(1_800_000_000.0)
    read_drift(api, desired, RecordingReporter(), clock=clock, state=tmp_path / "s", full=True)
    monkeypatch.setattr(module, "BUSY_TIMEOUT_SECONDS", 0.2)
    holder = sqlite3.connect(cache_path(tmp_path / "s", "acme"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        reporter = RecordingReporter()
        report = read_drift(api, desired, reporter, clock=clock, state=tmp_path / "s")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert report.basis is not None and report.basis.mode == "full"
    assert "could not be used" in (report.basis.reason or "")
    assert "database is locked" in (report.basis.reason or "")
    assert not any("set aside" in w for w in reporter.warnings)
    assert cache_path(tmp_path / "s", "acme").exists()
    assert not Path(str(cache_path(tmp_path / "s", "acme")) + ".set-aside").exists()

"""The simulator's state in SQLite: SIMs, change history, batch jobs, SMS, rate windows, keys.

Why SQLite from the standard library: state must survive a restart and be shared with a later
process that opens the same file (``apply --resume`` after ``kill -9``), and a list page must be
one indexed query even at 1,000,000 SIMs. WAL mode lets a second process read while this one
writes; ``busy_timeout`` makes writers wait for each other instead of failing.

Nothing scans the fleet per request: list pages (filtered or not) and history pages are index
seeks however deep the page (see ``list_sims`` and ``change_logs``), totals come from counts kept
as SIMs change status (``status_counts``) and from the history's per-account numbering.

Concurrency: one connection, guarded by one lock. The HTTP handlers (event-loop thread) and the
batch worker (its own thread) both go through it, so every operation is atomic and the rate
counter is exact. Every write runs in ``BEGIN IMMEDIATE`` ... ``COMMIT``.

Choices where the contract is silent (also in the OpenAPI document):
- a no-op write (same plan, same APN status, same custom value) succeeds and records nothing;
- subscribing a plan the SIM already has → 422 ``already_exists``;
- the change history starts empty for the seeded fleet; rows are written for STATUS,
  SERVICE_PACKAGE and IMEI changes, whatever caused them (single call, batch job, admin edit);
  it is listed oldest first, and its times never decrease along it (should the clock step back,
  a change is dated with the latest time already recorded).
"""

from __future__ import annotations

import json
import random
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from reconciler.simulator.config import SimulatorError
from reconciler.simulator.fleet import (
    CATALOGUE,
    STATUSES,
    iter_fleet,
)
from reconciler.simulator.problems import (
    Forbidden,
    NotFound,
    ValidationFailed,
    illegal_status,
)

SCHEMA_VERSION = "2"
# SIMs are counted per status in buckets of 2**BUCKET_BITS positions (status_counts): a
# status-filtered page finds its first key from those counts and an index seek, never by an
# OFFSET over the whole account
BUCKET_BITS = 10
CUSTOM_FIELDS = ("custom1", "custom2", "custom3", "custom4", "custom5")
CUSTOM_MAX = 255
APN_STATUSES = ("ENABLED", "DISABLED")

# operation (path word) -> (statuses it is allowed from, resulting status); contract table
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "activate": (
        frozenset({"TEST_READY", "INVENTORY", "ACTIVATION_READY", "DEACTIVATED"}),
        "ACTIVATED",
    ),
    "deactivate": (
        frozenset({"ACTIVATED", "TEST_READY", "INVENTORY", "ACTIVATION_READY"}),
        "DEACTIVATED",
    ),
    "retire": (frozenset({"DEACTIVATED"}), "RETIRED"),
}
BATCH_TYPES = ("activate", "deactivate", "retire", "servicePackage")
JOB_OPEN = ("PENDING", "PROCESSING")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sims (
    idx INTEGER PRIMARY KEY,
    giccid TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    pos INTEGER NOT NULL,
    status TEXT NOT NULL,
    basic TEXT NOT NULL,
    supplementary TEXT NOT NULL,
    apns TEXT NOT NULL,
    custom1 TEXT, custom2 TEXT, custom3 TEXT, custom4 TEXT, custom5 TEXT,
    imsi TEXT NOT NULL, msisdn TEXT NOT NULL, imei TEXT NOT NULL,
    activated_time INTEGER,
    last_modified_time INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS status_counts (
    account TEXT NOT NULL,
    status TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (account, status, bucket)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS change_logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    giccid TEXT NOT NULL,
    account TEXT NOT NULL,
    change_type TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT,
    changed_time INTEGER NOT NULL,
    seq INTEGER
);
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    params TEXT NOT NULL,
    giccids TEXT NOT NULL,
    items TEXT NOT NULL,
    created_time REAL NOT NULL,
    updated_time REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sms (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    sms_id TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    giccid TEXT NOT NULL,
    content TEXT NOT NULL,
    deliverable INTEGER NOT NULL,
    created_time REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS rate_windows (
    account TEXT PRIMARY KEY,
    window_start REAL NOT NULL,
    used INTEGER NOT NULL
);
"""
# built after the insert when seeding: one sort is cheaper than a million index inserts
_SIM_INDEXES = (
    "CREATE UNIQUE INDEX IF NOT EXISTS sims_account_pos ON sims (account, pos)",
    "CREATE INDEX IF NOT EXISTS sims_account_status ON sims (account, status, pos)",
)
# after the tables and their migration (an index may name a column a migration adds)
_INDEXES = (
    ";\n".join(_SIM_INDEXES)
    + """;
DROP INDEX IF EXISTS change_logs_account;
CREATE UNIQUE INDEX IF NOT EXISTS change_logs_seq ON change_logs (account, seq);
CREATE INDEX IF NOT EXISTS change_logs_time ON change_logs (account, changed_time, seq);
CREATE INDEX IF NOT EXISTS change_logs_giccid ON change_logs (giccid, id);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, seq);
"""
)


def format_time(epoch: float | None) -> str | None:
    """ISO 8601 as the contract writes it: ``2026-11-25T13:11:37+0000`` (UTC)."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def parse_time(text: str) -> float:
    """Parse the contract's time format, also accepting ``Z`` and ``+00:00``; ValueError if bad."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value) if "T" in value or "-" in value else None
    if parsed is None:
        raise ValueError(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


@dataclass(frozen=True, slots=True)
class SimRow:
    """A SIM as stored (times as epoch seconds)."""

    giccid: str
    account: str
    status: str
    basic: str
    supplementary: tuple[str, ...]
    apns: tuple[tuple[str, str], ...]
    custom: tuple[str | None, ...]
    imsi: str
    msisdn: str
    imei: str
    activated_time: int | None
    last_modified_time: int

    def custom_fields(self) -> dict[str, str | None]:
        return dict(zip(CUSTOM_FIELDS, self.custom, strict=True))


@dataclass(frozen=True, slots=True)
class Event:
    """Something a push subscriber hears about (sent after the write committed)."""

    event_type: str
    giccid: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class JobRow:
    job_id: str
    account: str
    type: str
    status: str
    params: dict[str, Any]
    giccids: tuple[str, ...]
    items: tuple[dict[str, str], ...]
    created_time: float
    updated_time: float


@dataclass(frozen=True, slots=True)
class ChangeLogRow:
    giccid: str
    change_type: str
    old_value: str | None
    new_value: str | None
    changed_time: int


@dataclass(frozen=True, slots=True)
class RateState:
    limit: int
    remaining: int
    reset: int  # seconds until the window resets
    allowed: bool


_SIM_COLUMNS = (
    "giccid, account, status, basic, supplementary, apns, custom1, custom2, custom3, custom4, "
    "custom5, imsi, msisdn, imei, activated_time, last_modified_time"
)


# A fleet holds a handful of distinct plan lists and APN lists: decode each once (the results
# are tuples, safe to share), not twice per SIM of every page.
@lru_cache(maxsize=4096)
def _decode_plans(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))


@lru_cache(maxsize=4096)
def _decode_apns(text: str) -> tuple[tuple[str, str], ...]:
    return tuple((a["apn"], a["status"]) for a in json.loads(text))


def _row_to_sim(row: Sequence[Any]) -> SimRow:
    return SimRow(
        giccid=row[0],
        account=row[1],
        status=row[2],
        basic=row[3],
        supplementary=_decode_plans(row[4]),
        apns=_decode_apns(row[5]),
        custom=tuple(row[6:11]),
        imsi=row[11],
        msisdn=row[12],
        imei=row[13],
        activated_time=row[14],
        last_modified_time=row[15],
    )


def _row_to_job(row: Sequence[Any]) -> JobRow:
    return JobRow(
        job_id=row[0],
        account=row[1],
        type=row[2],
        status=row[3],
        params=json.loads(row[4]),
        giccids=tuple(json.loads(row[5])),
        items=tuple(json.loads(row[6])),
        created_time=row[7],
        updated_time=row[8],
    )


def _apns_json(apns: Sequence[tuple[str, str]]) -> str:
    return json.dumps([{"apn": apn, "status": status} for apn, status in apns])


_JOB_COLUMNS = "job_id, account, type, status, params, giccids, items, created_time, updated_time"


class Store:
    """All state, behind one lock. ``on_event`` hears every committed SIM/APN status change."""

    def __init__(
        self,
        path: Path | str,
        *,
        clock: Callable[[], float],
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        self.path = str(path)
        self.clock = clock
        self.on_event = on_event or (lambda event: None)
        self._lock = threading.RLock()
        self._totals: dict[str, int] = {}
        try:
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=10.0
            )
        except sqlite3.Error as exc:
            raise SimulatorError(f"cannot open the simulator database {self.path}: {exc}") from exc
        try:
            self._db.execute("PRAGMA busy_timeout = 10000")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            with self._lock:
                self._db.executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")
                with self._write() as db:
                    self._migrate(db)
                self._db.executescript("BEGIN IMMEDIATE;" + _INDEXES + "COMMIT;")
        except sqlite3.Error as exc:
            self._db.close()
            raise SimulatorError(f"cannot open the simulator database {self.path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ---- plumbing ----------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One immediate transaction under the lock; events are published after commit."""
        with self._lock:
            self._pending_events: list[Event] = []
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                self._pending_events = []
                raise
            self._db.execute("COMMIT")
            events, self._pending_events = self._pending_events, []
        for event in events:
            self.on_event(event)

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _meta(self, key: str) -> str | None:
        rows = self._read("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    # ---- setup -------------------------------------------------------------------------

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        """Bring a database of an earlier schema up to this one (in the caller's transaction).

        Schema 1 had no per-account history sequence and no per-status bucket counts: number
        each account's history in the order it was written (its times made non-decreasing, as
        this version records them), and count the SIMs.
        """
        columns = {row[1] for row in db.execute("PRAGMA table_info(change_logs)")}
        if "seq" not in columns:
            db.execute("ALTER TABLE change_logs ADD COLUMN seq INTEGER")
        row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is None or row[0] == SCHEMA_VERSION:
            return
        if row[0] != "1":
            raise SimulatorError(
                f"the simulator database has schema {row[0]!r}, which this version does not know"
            )
        db.execute(
            "UPDATE change_logs SET seq = numbered.n, changed_time = numbered.t FROM ("
            "SELECT id, ROW_NUMBER() OVER (PARTITION BY account ORDER BY id) AS n, "
            "MAX(changed_time) OVER (PARTITION BY account ORDER BY id) AS t FROM change_logs"
            ") AS numbered WHERE change_logs.id = numbered.id"
        )
        db.execute("DELETE FROM status_counts")
        db.execute(
            "INSERT INTO status_counts (account, status, bucket, n) "
            f"SELECT account, status, pos >> {BUCKET_BITS}, COUNT(*) FROM sims "
            "GROUP BY 1, 2, 3"
        )
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (SCHEMA_VERSION,))

    def ensure_seeded(self, sims: int, seed: int) -> bool:
        """Seed the fleet if the database holds none; True when it seeded now.

        One transaction of ``executemany`` over a generator: the fleet is never held in memory
        and a crash leaves the database unseeded, never half-seeded. For speed (1,000,000 SIMs
        in about 20 s of CPU):

        - a rollback journal instead of WAL for that transaction: the pages a transaction appends
          to a database are not journaled, so each page is written once, where WAL writes it
          twice (log, then checkpoint). Switching needs the database to itself; when another
          connection holds it open, the seeding runs in WAL;
        - the SIM indexes are dropped and built after the insert (one sort), and the page cache
          is raised meanwhile so the B-trees are built in memory.
        """
        with self._lock:
            if self._read("SELECT 1 FROM sims LIMIT 1"):
                return False
            journal = self._journal_mode("DELETE")
            try:
                return self._seed(sims, seed)
            finally:
                if journal != "wal":
                    self._journal_mode("WAL")

    def _journal_mode(self, mode: str) -> str:
        """Switch the journal mode; the mode in force after (unchanged when the switch fails)."""
        try:
            return str(self._db.execute(f"PRAGMA journal_mode = {mode}").fetchone()[0]).lower()
        except sqlite3.OperationalError:  # another connection holds the database
            return str(self._db.execute("PRAGMA journal_mode").fetchone()[0]).lower()

    def _seed(self, sims: int, seed: int) -> bool:
        with self._write() as db:
            if db.execute("SELECT 1 FROM sims LIMIT 1").fetchone() is not None:
                return False
            cache = db.execute("PRAGMA cache_size").fetchone()[0]
            db.execute("PRAGMA cache_size = -262144")  # KiB: 256 MiB while seeding
            try:
                db.execute("DROP INDEX IF EXISTS sims_account_pos")
                db.execute("DROP INDEX IF EXISTS sims_account_status")
                counts = self._insert_fleet(db, sims, seed)
                for statement in _SIM_INDEXES:
                    db.execute(statement)
            finally:
                db.execute(f"PRAGMA cache_size = {int(cache)}")
            db.executemany(
                "INSERT INTO status_counts (account, status, bucket, n) VALUES (?, ?, ?, ?)",
                [(*key, n) for key, n in counts.items()],
            )
            db.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [("schema", SCHEMA_VERSION), ("sims", str(sims)), ("seed", str(seed))],
            )
            return True

    @staticmethod
    def _insert_fleet(
        db: sqlite3.Connection, sims: int, seed: int
    ) -> dict[tuple[str, str, int], int]:
        """Insert the seeded fleet; the SIM counts per (account, status, bucket)."""
        positions: dict[str, int] = {}
        counts: dict[tuple[str, str, int], int] = {}
        # a few distinct plan lists and APN lists recur a million times: encode each once
        plans_json: dict[tuple[str, ...], str] = {}
        apns_json: dict[tuple[tuple[str, str], ...], str] = {}

        def rows() -> Iterator[tuple[Any, ...]]:
            for sim in iter_fleet(sims, seed):
                pos = positions[sim.account] = positions.get(sim.account, 0) + 1
                key = (sim.account, sim.status, pos >> BUCKET_BITS)
                counts[key] = counts.get(key, 0) + 1
                supplementary = plans_json.get(sim.supplementary)
                if supplementary is None:
                    supplementary = plans_json[sim.supplementary] = json.dumps(
                        list(sim.supplementary)
                    )
                apns = apns_json.get(sim.apns)
                if apns is None:
                    apns = apns_json[sim.apns] = _apns_json(sim.apns)
                yield (
                    sim.index,
                    sim.giccid,
                    sim.account,
                    pos,
                    sim.status,
                    sim.basic_plan,
                    supplementary,
                    apns,
                    *sim.custom,
                    sim.imsi,
                    sim.msisdn,
                    sim.imei,
                    sim.activated_time,
                    sim.last_modified_time,
                )

        db.executemany(
            "INSERT INTO sims (idx, giccid, account, pos, status, basic, supplementary, "
            "apns, custom1, custom2, custom3, custom4, custom5, imsi, msisdn, imei, "
            "activated_time, last_modified_time) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows(),
        )
        return counts

    def key(self, name: str, given: str | None) -> str:
        """The key stored under ``name``: ``given`` replaces it; none stored → generate one."""
        with self._write() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (name,)).fetchone()
            if given is not None:
                value = given
            elif row is not None:
                value = str(row[0])
            else:
                value = secrets.token_urlsafe(24)
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (name, value))
            return value

    # ---- SIM reads ---------------------------------------------------------------------

    def get_sim(self, giccid: str) -> SimRow | None:
        rows = self._read(f"SELECT {_SIM_COLUMNS} FROM sims WHERE giccid = ?", (giccid,))
        return _row_to_sim(rows[0]) if rows else None

    def owned_sim(self, giccid: str, account: str) -> SimRow:
        """The SIM, or 404 when unknown, 403 when it belongs to another enterprise."""
        sim = self.get_sim(giccid)
        if sim is None:
            raise NotFound(f"no SIM with giccid {giccid}")
        if sim.account != account:
            raise Forbidden()
        return sim

    def list_sims(
        self, account: str, status: str | None, page: int, size: int
    ) -> tuple[list[SimRow], int]:
        """One page (1-based) of the account's SIMs in index order, and the total count.

        Page N costs what page 1 does. Unfiltered: `pos` is the contiguous 1-based position
        within the account, so a page is a range on the (account, pos) index. By status: the
        bucket counts say in which bucket of positions the page starts and how many of that
        status come before it there (fewer than 2**BUCKET_BITS), then the (account, status,
        pos) index is entered at that bucket.
        """
        offset = (page - 1) * size
        if status is None:
            rows = self._read(
                f"SELECT {_SIM_COLUMNS} FROM sims WHERE account = ? AND pos > ? "
                "ORDER BY pos LIMIT ?",
                (account, offset, size),
            )
            return [_row_to_sim(row) for row in rows], self._account_total(account)
        with self._lock:
            buckets = self._db.execute(
                "SELECT bucket, n FROM status_counts WHERE account = ? AND status = ? AND n > 0 "
                "ORDER BY bucket",
                (account, status),
            ).fetchall()
            total = sum(n for _, n in buckets)
            if offset >= total:
                return [], total
            before = 0
            start = 0
            for bucket, n in buckets:
                if before + n > offset:
                    start = bucket << BUCKET_BITS
                    break
                before += n
            rows = self._db.execute(
                f"SELECT {_SIM_COLUMNS} FROM sims WHERE account = ? AND status = ? AND pos >= ? "
                "ORDER BY pos LIMIT ? OFFSET ?",
                (account, status, start, size, offset - before),
            ).fetchall()
        return [_row_to_sim(row) for row in rows], total

    def _account_total(self, account: str) -> int:
        """SIMs never move between accounts and are never added: count once, then remember."""
        with self._lock:
            if account not in self._totals:
                row = self._db.execute(
                    "SELECT SUM(n) FROM status_counts WHERE account = ?", (account,)
                ).fetchone()
                self._totals[account] = int(row[0] or 0)
            return self._totals[account]

    def statistics(self, account: str) -> dict[str, int]:
        rows = self._read(
            "SELECT status, SUM(n) FROM status_counts WHERE account = ? GROUP BY status",
            (account,),
        )
        counts = {status: 0 for status in STATUSES}
        counts.update({status: int(count) for status, count in rows})
        return counts

    def change_logs(
        self, account: str, giccid: str | None, since: float | None, page: int, size: int
    ) -> tuple[list[ChangeLogRow], int]:
        """One page of the account's history in the order it was written, and the total.

        The account's rows are numbered 1, 2, 3 ... (``seq``) and their times never decrease
        along that numbering, so the rows since a time are the numbers from the first one at
        or after it to the last: one index seek finds it, a page is a range of numbers, and
        the total is a subtraction. One SIM's history (``giccid``) is read by its own index.
        """
        offset = (page - 1) * size
        columns = "giccid, change_type, old_value, new_value, changed_time"
        earliest = None
        if since is not None:
            earliest = int(since) if since == int(since) else int(since) + 1
        with self._lock:
            if giccid is not None:
                where = "giccid = ? AND account = ?"
                args: list[Any] = [giccid, account]
                if earliest is not None:
                    where += " AND changed_time >= ?"
                    args.append(earliest)
                rows = self._db.execute(
                    f"SELECT {columns} FROM change_logs WHERE {where} ORDER BY id LIMIT ? OFFSET ?",
                    [*args, size, offset],
                ).fetchall()
                total = self._db.execute(
                    f"SELECT COUNT(*) FROM change_logs WHERE {where}", args
                ).fetchone()[0]
                return [ChangeLogRow(*row) for row in rows], int(total)
            last = self._last_change(self._db, account)[0]
            first = 1
            if earliest is not None:
                found = self._db.execute(
                    "SELECT seq FROM change_logs WHERE account = ? AND changed_time >= ? "
                    "ORDER BY changed_time, seq LIMIT 1",
                    (account, earliest),
                ).fetchone()
                first = int(found[0]) if found is not None else last + 1
            rows = self._db.execute(
                f"SELECT {columns} FROM change_logs WHERE account = ? AND seq >= ? "
                "ORDER BY seq LIMIT ?",
                (account, first + offset, size),
            ).fetchall()
        return [ChangeLogRow(*row) for row in rows], last - first + 1

    @staticmethod
    def _last_change(db: sqlite3.Connection, account: str) -> tuple[int, int]:
        """The account's last history number and time; (0, 0) before its first change."""
        row = db.execute(
            "SELECT seq, changed_time FROM change_logs WHERE account = ? ORDER BY seq DESC LIMIT 1",
            (account,),
        ).fetchone()
        return (int(row[0]), int(row[1])) if row is not None else (0, 0)

    # ---- SIM writes --------------------------------------------------------------------

    def _save(self, db: sqlite3.Connection, before: SimRow, after: SimRow) -> None:
        """Write ``after`` and record history rows and events for what changed."""
        if after == before:
            return
        now = int(self.clock())
        after = replace(after, last_modified_time=now)
        if after.status == "ACTIVATED" and before.status != "ACTIVATED":
            after = replace(after, activated_time=now)
        db.execute(
            "UPDATE sims SET status = ?, basic = ?, supplementary = ?, apns = ?, custom1 = ?, "
            "custom2 = ?, custom3 = ?, custom4 = ?, custom5 = ?, imsi = ?, msisdn = ?, imei = ?, "
            "activated_time = ?, last_modified_time = ? WHERE giccid = ?",
            (
                after.status,
                after.basic,
                json.dumps(list(after.supplementary)),
                _apns_json(after.apns),
                *after.custom,
                after.imsi,
                after.msisdn,
                after.imei,
                after.activated_time,
                after.last_modified_time,
                after.giccid,
            ),
        )
        if before.status != after.status:
            self._count_status(db, after.account, before.status, after.status, after.giccid)
        history = [
            (change_type, old, new)
            for change_type, old, new in (
                ("STATUS", before.status, after.status),
                ("SERVICE_PACKAGE", before.basic, after.basic),
                ("IMEI", before.imei, after.imei),
            )
            if old != new
        ]
        if history:
            seq, latest = self._last_change(db, after.account)
            # a clock that steps back must not reorder the history: `since` relies on it
            changed = max(now, latest)
            db.executemany(
                "INSERT INTO change_logs (giccid, account, change_type, old_value, "
                "new_value, changed_time, seq) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (after.giccid, after.account, change_type, old, new, changed, seq + number)
                    for number, (change_type, old, new) in enumerate(history, 1)
                ],
            )
        when = format_time(now)
        if before.status != after.status:
            self._pending_events.append(
                Event(
                    "SIM_STATUS_CHANGE",
                    after.giccid,
                    {"oldStatus": before.status, "newStatus": after.status, "changedTime": when},
                )
            )
        old_apns = dict(before.apns)
        for apn, status in after.apns:
            if old_apns.get(apn) != status:
                self._pending_events.append(
                    Event(
                        "SIM_APN_STATUS_CHANGE",
                        after.giccid,
                        {
                            "apn": apn,
                            "oldStatus": old_apns.get(apn),
                            "newStatus": status,
                            "changedTime": when,
                        },
                    )
                )
        if before.imei != after.imei:
            self._pending_events.append(
                Event(
                    "IMEI_CHANGE",
                    after.giccid,
                    {"oldImei": before.imei, "newImei": after.imei, "changedTime": when},
                )
            )

    @staticmethod
    def _count_status(
        db: sqlite3.Connection, account: str, old: str, new: str, giccid: str
    ) -> None:
        """Move one SIM from ``old`` to ``new`` in the bucket counts."""
        pos = db.execute("SELECT pos FROM sims WHERE giccid = ?", (giccid,)).fetchone()[0]
        bucket = int(pos) >> BUCKET_BITS
        db.execute(
            "UPDATE status_counts SET n = n - 1 WHERE account = ? AND status = ? AND bucket = ?",
            (account, old, bucket),
        )
        db.execute(
            "INSERT INTO status_counts (account, status, bucket, n) VALUES (?, ?, ?, 1) "
            "ON CONFLICT (account, status, bucket) DO UPDATE SET n = n + 1",
            (account, new, bucket),
        )

    def _locked_sim(self, db: sqlite3.Connection, giccid: str, account: str) -> SimRow:
        row = db.execute(f"SELECT {_SIM_COLUMNS} FROM sims WHERE giccid = ?", (giccid,)).fetchone()
        if row is None:
            raise NotFound(f"no SIM with giccid {giccid}")
        sim = _row_to_sim(row)
        if sim.account != account:
            raise Forbidden()
        return sim

    @staticmethod
    def _transitioned(sim: SimRow, operation: str) -> SimRow:
        allowed, result = TRANSITIONS[operation]
        if sim.status not in allowed:
            raise illegal_status("globalSim", sim.status, operation)
        return replace(sim, status=result)

    @staticmethod
    def _with_basic_plan(sim: SimRow, plan: str) -> SimRow:
        if sim.status == "RETIRED":
            raise illegal_status("globalSim", sim.status, "change the basic plan of")
        if plan not in plan_names(sim.account, "BASIC"):
            raise ValidationFailed(
                "servicePackage",
                "servicePackageName",
                "invalid",
                f"{plan!r} is not a basic service package of account {sim.account}",
            )
        return replace(sim, basic=plan)

    def transition(self, giccid: str, account: str, operation: str) -> SimRow:
        with self._write() as db:
            before = self._locked_sim(db, giccid, account)
            after = self._transitioned(before, operation)
            self._save(db, before, after)
        return self._must(giccid)

    def set_basic_plan(self, giccid: str, account: str, plan: str) -> SimRow:
        with self._write() as db:
            before = self._locked_sim(db, giccid, account)
            self._save(db, before, self._with_basic_plan(before, plan))
        return self._must(giccid)

    def add_supplementary(self, giccid: str, account: str, plan: str) -> SimRow:
        with self._write() as db:
            before = self._locked_sim(db, giccid, account)
            if before.status != "ACTIVATED":
                raise illegal_status("globalSim", before.status, "subscribe a plan for")
            if plan not in plan_names(before.account, "SUPPLEMENTARY"):
                raise ValidationFailed(
                    "servicePackage",
                    "servicePackageName",
                    "invalid",
                    f"{plan!r} is not a supplementary service package of account {before.account}",
                )
            if plan in before.supplementary:
                raise ValidationFailed(
                    "servicePackage",
                    "servicePackageName",
                    "already_exists",
                    f"the SIM already subscribes {plan!r}",
                )
            self._save(db, before, replace(before, supplementary=(*before.supplementary, plan)))
        return self._must(giccid)

    def set_apn_status(self, giccid: str, account: str, apn: str, status: str) -> SimRow:
        with self._write() as db:
            before = self._locked_sim(db, giccid, account)
            if before.status == "RETIRED":
                raise illegal_status("globalSim", before.status, "change the APN status of")
            if apn not in dict(before.apns):
                raise ValidationFailed("apnStatus", "apn", "invalid", f"the SIM has no APN {apn!r}")
            apns = tuple((name, status if name == apn else old) for name, old in before.apns)
            self._save(db, before, replace(before, apns=apns))
        return self._must(giccid)

    def set_custom_fields(
        self, giccid: str, account: str, values: Mapping[str, str | None]
    ) -> SimRow:
        with self._write() as db:
            before = self._locked_sim(db, giccid, account)
            if before.status == "RETIRED":
                raise illegal_status("customFieldVO", before.status, "edit the custom fields of")
            current = before.custom_fields()
            current.update(values)
            custom = tuple(current[name] for name in CUSTOM_FIELDS)
            self._save(db, before, replace(before, custom=custom))
        return self._must(giccid)

    def admin_patch(self, giccid: str, changes: Mapping[str, Any]) -> SimRow:
        """Change a SIM behind fleetform's back: no state machine, no catalogue check."""
        with self._write() as db:
            row = db.execute(
                f"SELECT {_SIM_COLUMNS} FROM sims WHERE giccid = ?", (giccid,)
            ).fetchone()
            if row is None:
                raise NotFound(f"no SIM with giccid {giccid}")
            before = _row_to_sim(row)
            after = before
            for field, value in changes.items():
                if field == "status":
                    after = replace(after, status=value)
                elif field == "basicServicePackage":
                    after = replace(after, basic=value)
                elif field == "supplementaryServicePackages":
                    after = replace(after, supplementary=tuple(value))
                elif field == "apns":
                    after = replace(after, apns=tuple((a["apn"], a["status"]) for a in value))
                elif field in CUSTOM_FIELDS:
                    custom = list(after.custom)
                    custom[CUSTOM_FIELDS.index(field)] = value
                    after = replace(after, custom=tuple(custom))
                elif field in ("imei", "imsi", "msisdn"):
                    after = replace(after, **{field: value})
            self._save(db, before, after)
        return self._must(giccid)

    def _must(self, giccid: str) -> SimRow:
        sim = self.get_sim(giccid)
        assert sim is not None
        return sim

    # ---- batch jobs --------------------------------------------------------------------

    def create_job(
        self, account: str, job_type: str, giccids: Sequence[str], params: Mapping[str, Any]
    ) -> JobRow:
        job_id = secrets.token_hex(8)
        now = self.clock()
        with self._write() as db:
            db.execute(
                "INSERT INTO jobs (job_id, account, type, status, params, giccids, items, "
                "created_time, updated_time) VALUES (?, ?, ?, 'PENDING', ?, ?, '[]', ?, ?)",
                (
                    job_id,
                    account,
                    job_type,
                    json.dumps(dict(params)),
                    json.dumps(list(giccids)),
                    now,
                    now,
                ),
            )
        job = self.get_job(job_id)
        assert job is not None
        return job

    def get_job(self, job_id: str) -> JobRow | None:
        rows = self._read(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE job_id = ?", (job_id,))
        return _row_to_job(rows[0]) if rows else None

    def all_jobs(self) -> list[JobRow]:
        return [_row_to_job(r) for r in self._read(f"SELECT {_JOB_COLUMNS} FROM jobs ORDER BY seq")]

    def open_jobs(self) -> list[JobRow]:
        rows = self._read(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status IN ('PENDING', 'PROCESSING') "
            "ORDER BY seq"
        )
        return [_row_to_job(r) for r in rows]

    def start_job(self, job_id: str) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE jobs SET status = 'PROCESSING', updated_time = ? "
                "WHERE job_id = ? AND status = 'PENDING'",
                (self.clock(), job_id),
            )

    def run_job(self, job_id: str, failure_rate: float) -> JobRow:
        """Apply every SIM of the job in one transaction: a crash leaves all or nothing done."""
        with self._write() as db:
            row = db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE job_id = ?", (job_id,))
            job = _row_to_job(row.fetchone())
            if job.status not in JOB_OPEN:
                return job
            rng = random.Random(job_id)
            items: list[dict[str, str]] = []
            for giccid in job.giccids:
                code = self._run_item(db, job, giccid, failure_rate, rng)
                item = {"giccid": giccid, "result": "SUCCESS" if code is None else "FAILED"}
                if code is not None:
                    item["code"] = code
                items.append(item)
            failed = sum(1 for item in items if item["result"] == "FAILED")
            status = (
                "COMPLETED"
                if failed == 0
                else "FAILED"
                if failed == len(items)
                else "PARTIALLY_FAILED"
            )
            db.execute(
                "UPDATE jobs SET status = ?, items = ?, updated_time = ? WHERE job_id = ?",
                (status, json.dumps(items), self.clock(), job_id),
            )
        done = self.get_job(job_id)
        assert done is not None
        return done

    def _run_item(
        self,
        db: sqlite3.Connection,
        job: JobRow,
        giccid: str,
        failure_rate: float,
        rng: random.Random,
    ) -> str | None:
        """Apply one SIM of a job; None on success, else the failure code."""
        fail_roll = rng.random()
        row = db.execute(f"SELECT {_SIM_COLUMNS} FROM sims WHERE giccid = ?", (giccid,)).fetchone()
        if row is None:
            return "missing"
        before = _row_to_sim(row)
        if before.account != job.account:
            return "forbidden"
        if fail_roll < failure_rate:
            return "internal_error"
        try:
            if job.type == "servicePackage":
                after = self._with_basic_plan(before, str(job.params["servicePackageName"]))
            else:
                after = self._transitioned(before, job.type)
        except ValidationFailed as exc:
            return (exc.errors or [{"code": "invalid"}])[0]["code"]
        self._save(db, before, after)
        return None

    # ---- SMS ---------------------------------------------------------------------------

    def create_sms(self, account: str, giccid: str, content: str) -> str:
        sim = self.owned_sim(giccid, account)
        sms_id = secrets.token_hex(8)
        with self._write() as db:
            db.execute(
                "INSERT INTO sms (sms_id, account, giccid, content, deliverable, created_time) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (sms_id, account, giccid, content, int(sim.status == "ACTIVATED"), self.clock()),
            )
        return sms_id

    def get_sms(self, sms_id: str) -> tuple[str, str, bool, float] | None:
        rows = self._read(
            "SELECT account, giccid, deliverable, created_time FROM sms WHERE sms_id = ?",
            (sms_id,),
        )
        if not rows:
            return None
        account, giccid, deliverable, created = rows[0]
        return account, giccid, bool(deliverable), float(created)

    # ---- rate limit --------------------------------------------------------------------

    def rate(self, account: str, limit: int, window: float, *, consume: bool) -> RateState:
        """Fixed window per account, starting at the first request after the last one ended.

        ``consume`` spends one request when some are left; without it, just reports.
        """
        now = self.clock()
        with self._write() as db:
            row = db.execute(
                "SELECT window_start, used FROM rate_windows WHERE account = ?", (account,)
            ).fetchone()
            start, used = (float(row[0]), int(row[1])) if row else (now, 0)
            if now >= start + window or now < start - window:
                start, used = now, 0
            allowed = used < limit
            if consume and allowed:
                used += 1
            db.execute(
                "INSERT OR REPLACE INTO rate_windows (account, window_start, used) "
                "VALUES (?, ?, ?)",
                (account, start, used),
            )
        reset = max(0, int(-(-(start + window - now) // 1)))
        return RateState(limit, max(0, limit - used), reset, allowed)

    def reset_rate_windows(self) -> None:
        with self._write() as db:
            db.execute("DELETE FROM rate_windows")


def plan_names(account: str, plan_type: str) -> tuple[str, ...]:
    return tuple(name for name, kind, _ in CATALOGUE.get(account, ()) if kind == plan_type)

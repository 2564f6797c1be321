"""The live-state cache: the last live record of each SIM of one account, in SQLite.

One file per account, ``<state dir>/cache/<account>.sqlite``. It is a memory of what was read,
never the truth for a write (apply always re-checks live state before it writes). What it holds:

- per SIM (table ``sims``, one compact row): state, basic rate plan, supplementary plans, APN
  statuses, custom fields and ``lastModifiedTime``, nothing else; ``full_at``: when the whole
  record was last verified (list page, single GET, the GET a push triggers); ``seen_at`` and
  ``via``: when and how state or rate plan were last verified (the same, or the change history,
  or apply's own write).
- in ``meta``: the schema version, the endpoint and account it belongs to, whether a full read
  has completed (``complete``, ``full_at``), the change-history watermark (``watermark``, and
  ``anchor``: the last history entry taken in, see `reconciler.live.incremental`), the verify
  rotation's cursor (the list's ``Link: rel=next`` URL where the next slice starts), and when
  the webhook receiver last recorded a push.

Transactions and crashes. Every update is one SQLite transaction (``BEGIN IMMEDIATE``), in WAL
mode: a kill -9 leaves either the state before or after each transaction. A full read writes its
SIMs in batches, each a transaction, stamped with the time they were read; only the last
transaction, once the list was read to its end, deletes the SIMs the read did not see and marks
the cache complete with a new watermark. A killed full read therefore leaves rows that are each
true as of their own stamp and the old watermark, which still covers them (the change history
since the watermark holds every later change of state and rate plan): nothing half-written is
believed. A first full read that never finished leaves ``complete`` unset, and the cache is not
used. This keeps one copy of the fleet on disk (a second generation would double the file at a
million SIMs).

Several writers (``fleetform webhook serve`` and ``fleetform drift`` at once). WAL lets readers
go on while one writes; writers wait up to `BUSY_TIMEOUT_SECONDS`. No update is lost: a record
replaces a row only when it was verified later than the row (``full_at``), and a change-history
entry only changes a row whose state or rate plan was not verified after it (`SKEW_SECONDS` of
slack for the two clocks); a record read before a field of the row was written or taken from
the history (``seen_at``) does not replace it either. Records are stamped with the time they
were read, never the (later) time they are written.

A file that is not an SQLite database (junk bytes), of another schema version, endpoint or
account, is renamed to ``<name>.set-aside`` with one warning line and a new cache is begun.

Rooms: this module is the cache (opening, reads, updates); `reconciler.live.store` its file
(schema, the compact row of one SIM, connections, setting aside); `reconciler.live.refresh`
the stream of a full read into it.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.errors import CacheError
from reconciler.live.refresh import FullRefresh
from reconciler.live.store import (
    CACHE_FOLDER,
    SCHEMA_VERSION,
    SKEW_SECONDS,
    STATUS_CODE,
    UPSERT,
    Via,
    cache_path,
    connect,
    corrupt,
    create,
    decode_sim,
    encode_rest,
    ms,
    set_aside,
    set_meta,
    sim_row,
    unusable,
)
from reconciler.model import ChangeLogEntry, LiveSim, Status
from reconciler.reporting import Reporter

__all__ = [
    "BATCH",
    "BUSY_TIMEOUT_SECONDS",
    "CACHE_FOLDER",
    "SCHEMA_VERSION",
    "SKEW_SECONDS",
    "Anchor",
    "CacheState",
    "Coverage",
    "FullRefresh",
    "LiveCache",
    "Via",
    "cache_path",
    "decode_sim",
    "encode_rest",
]

BUSY_TIMEOUT_SECONDS = 30.0
BATCH = 2000  # SIMs per transaction of a full read


# --- the cache --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Anchor:
    """The last change-history entry taken in; the next history read must still hold it."""

    iccid: str
    change_type: str
    new_value: str | None
    at: int  # epoch seconds

    def matches(self, entry: ChangeLogEntry) -> bool:
        return (
            entry.iccid == self.iccid
            and entry.change_type == self.change_type
            and entry.new_value == self.new_value
            and int(entry.changed_time.timestamp()) == self.at
        )

    def describe(self) -> str:
        when = datetime.fromtimestamp(self.at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{self.change_type} of {self.iccid} at {when}"


@dataclass(frozen=True, slots=True)
class CacheState:
    complete: bool  # a full read has completed into this cache
    full_at: int | None  # when the last complete full read began
    watermark: int | None  # the change history is taken in up to here (epoch seconds)
    anchor: Anchor | None
    history_until: int | None  # when the history was last read (or the full read began)
    cursor: str | None  # where the verify rotation goes on (a list URL as the server gave it)
    last_push_at: int | None  # the last record the webhook receiver made from a push


@dataclass(frozen=True, slots=True)
class Coverage:
    sims: int
    oldest_full_at: int | None  # the whole record verified longest ago
    newest_full_at: int | None


class LiveCache:
    """The cache of one account at one endpoint; safe to share between threads."""

    def __init__(
        self,
        path: Path,
        connection: sqlite3.Connection,
        *,
        endpoint: str,
        account: str,
        clock: Callable[[], float],
    ) -> None:
        self.path = path
        self.endpoint = endpoint
        self.account = account
        self._db = connection
        self._clock = clock
        self._lock = threading.RLock()

    # --- opening ---------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        state: Path,
        *,
        endpoint: str,
        account: str,
        reporter: Reporter,
        clock: Callable[[], float],
    ) -> LiveCache:
        """Open (or begin) the cache of ``account`` at ``endpoint`` under ``state``.

        An unusable file is set aside with one warning and a new cache begun; `CacheError` only
        when no cache can be kept there at all (a read-only folder, say).
        """
        path = cache_path(state, account)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(f"cannot create {path.parent}: {exc.strerror}") from None
        reason: str | None = None
        connection: sqlite3.Connection | None = None
        if path.exists():
            try:
                connection = connect(path, BUSY_TIMEOUT_SECONDS)
                reason = unusable(connection, endpoint, account)
            except sqlite3.DatabaseError as exc:
                reason = f"unreadable ({exc})"
            if reason is not None:
                if connection is not None:
                    connection.close()
                    connection = None
                aside = set_aside(path)
                reporter.warn(
                    f"the live-state cache {path} is {reason}: set aside as {aside.name}, "
                    "starting a new one"
                )
        try:
            if connection is None:
                connection = connect(path, BUSY_TIMEOUT_SECONDS)
                create(connection, endpoint, account)
        except (sqlite3.Error, OSError) as exc:
            raise CacheError(f"cannot keep the live-state cache in {path}: {exc}") from None
        return cls(path, connection, endpoint=endpoint, account=account, clock=clock)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def set_aside(self, reason: str, reporter: Reporter) -> None:
        """Give up a cache found broken in use (for instance a malformed page): the next
        `open` begins a new one."""
        with self._lock:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            aside = set_aside(self.path)
        reporter.warn(
            f"the live-state cache {self.path} is {reason}: set aside as {aside.name}; "
            "the next run starts a new one"
        )

    # --- reads -----------------------------------------------------------------------------

    def state(self) -> CacheState:
        meta = self._meta()
        anchor = None
        if meta.get("anchor"):
            raw = json.loads(meta["anchor"])
            anchor = Anchor(raw[0], raw[1], raw[2], int(raw[3]))

        def number(key: str) -> int | None:
            value = meta.get(key)
            return int(value) if value else None

        return CacheState(
            complete=meta.get("complete") == "1",
            full_at=number("full_at"),
            watermark=number("watermark"),
            anchor=anchor,
            history_until=number("history_until"),
            cursor=meta.get("cursor") or None,
            last_push_at=number("last_push_at"),
        )

    def coverage(self) -> Coverage:
        ((count, oldest, newest),) = self._query(
            "SELECT COUNT(*), MIN(full_at) / 1000, MAX(full_at) / 1000 FROM sims"
        )
        return Coverage(int(count), oldest, newest)

    def get(self, iccids: Iterable[str]) -> dict[str, LiveSim]:
        found: dict[str, LiveSim] = {}
        wanted = list(iccids)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._query(
                f"SELECT iccid, st, plan, rest, modified FROM sims WHERE iccid IN ({marks})",
                chunk,
            ):
                found[row[0]] = decode_sim(row, self.account)
        return found

    def absent(self, iccids: Iterable[str]) -> list[str]:
        """The given SIMs the cache holds no record of, in the order given."""
        wanted = list(iccids)
        held: set[str] = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            held.update(
                row[0]
                for row in self._query(f"SELECT iccid FROM sims WHERE iccid IN ({marks})", chunk)
            )
        return [iccid for iccid in wanted if iccid not in held]

    def iter_live(self) -> Iterator[LiveSim]:
        """Every cached SIM as a `LiveSim`, by ICCID, through a connection of its own (so the
        webhook may record meanwhile)."""
        try:
            reader = connect(self.path, BUSY_TIMEOUT_SECONDS)
            try:
                cursor = reader.execute(
                    "SELECT iccid, st, plan, rest, modified FROM sims ORDER BY iccid"
                )
                while rows := cursor.fetchmany(1000):
                    for row in rows:
                        yield decode_sim(row, self.account)
            finally:
                reader.close()
        except sqlite3.DatabaseError as exc:
            raise CacheError(
                f"the live-state cache {self.path} is unreadable: {exc}", corrupt=corrupt(exc)
            ) from exc

    def stamps(self, iccids: Iterable[str]) -> dict[str, tuple[int, int, Via]]:
        """(full_at, seen_at, via) of the given SIMs that the cache holds (epoch seconds)."""
        wanted = list(iccids)
        out: dict[str, tuple[int, int, Via]] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for iccid, full_at, seen_at, via in self._query(
                f"SELECT iccid, full_at, seen_at, via FROM sims WHERE iccid IN ({marks})", chunk
            ):
                out[iccid] = (full_at // 1000, seen_at // 1000, Via(via))
        return out

    # --- writes ----------------------------------------------------------------------------

    def record(self, sims: Iterable[LiveSim], *, via: Via, at: float | None = None) -> int:
        """Take in SIMs read live (a list page, single GETs, a push's GET), verified at ``at``
        (default: now). One transaction. A SIM of another account is dropped from the cache
        (it left this account); a row verified later than ``at`` is kept. Returns the SIMs
        taken in."""
        stamp = ms(self._clock() if at is None else at)
        rows: list[tuple[Any, ...]] = []
        gone: list[tuple[str]] = []
        for sim in sims:
            if sim.account == self.account:
                rows.append(sim_row(sim, stamp, via))
            else:
                gone.append((sim.iccid,))
        with self._write() as db:
            db.executemany(UPSERT, rows)
            if gone:
                db.executemany(
                    "DELETE FROM sims WHERE iccid = ? AND full_at <= ?",
                    [(iccid, stamp) for (iccid,) in gone],
                )
            if via is Via.PUSH and rows:
                set_meta(db, "last_push_at", str(stamp // 1000))
        return len(rows)

    def record_page(self, sims: Sequence[LiveSim], next_url: str | None, *, at: float) -> None:
        """A page of the verify rotation and where the rotation goes on, in one transaction."""
        stamp = ms(at)
        with self._write() as db:
            rows = [sim_row(sim, stamp, Via.LIST) for sim in sims if sim.account == self.account]
            db.executemany(UPSERT, rows)
            set_meta(db, "cursor", next_url or "")

    def patch(
        self,
        iccid: str,
        *,
        via: Via,
        at: float,
        status: Status | None = None,
        rate_plan: str | None = None,
        written: Callable[[LiveSim], LiveSim] | None = None,
    ) -> bool:
        """Change single fields of a cached SIM (apply's own writes: a batch job's ``status``
        or ``rate_plan``, or a field kind's ``written``, `reconciler.fields`); False when the
        cache holds no record of it. The whole-record stamp ``full_at`` is left as it was."""
        stamp = ms(at)
        with self._write() as db:
            row = db.execute(
                "SELECT iccid, st, plan, rest, modified FROM sims WHERE iccid = ?", (iccid,)
            ).fetchone()
            if row is None:
                return False
            sim = decode_sim(row, self.account)
            if status is not None:
                sim = replace(sim, status=status)
            if rate_plan is not None:
                sim = replace(sim, rate_plan=rate_plan)
            if written is not None:
                sim = written(sim)
            db.execute(
                "UPDATE sims SET st = ?, plan = ?, rest = ?, seen_at = max(seen_at, ?), via = ? "
                "WHERE iccid = ?",
                (STATUS_CODE[sim.status], sim.rate_plan, encode_rest(sim), stamp, int(via), iccid),
            )
        return True

    def take_history(
        self,
        entries: Sequence[ChangeLogEntry],
        *,
        read_at: float,
        watermark: int,
        anchor: Anchor | None,
    ) -> tuple[int, set[str]]:
        """Apply STATUS and SERVICE_PACKAGE entries (oldest first) and move the watermark, in
        one transaction. Returns (rows changed, ICCIDs the cache holds no record of).

        A SERVICE_PACKAGE entry is the basic rate plan (exactly one, replaced: old and new
        value); one without an old value is read as a supplementary plan subscribed. An entry
        changes a row only if the row's state and rate plan were not verified after it.
        """
        changed = 0
        unknown: set[str] = set()
        with self._write() as db:
            for entry in sorted(entries, key=lambda e: e.changed_time):
                if entry.change_type not in ("status", "service_package"):
                    continue
                row = db.execute(
                    "SELECT iccid, st, plan, rest, modified, seen_at FROM sims WHERE iccid = ?",
                    (entry.iccid,),
                ).fetchone()
                if row is None:
                    unknown.add(entry.iccid)
                    continue
                when = int(entry.changed_time.timestamp())
                if when * 1000 < row[5] - SKEW_SECONDS * 1000:
                    continue  # verified after this change: the row already says it or later
                sim = decode_sim(row, self.account)
                if entry.change_type == "status":
                    try:
                        sim = replace(sim, status=Status(entry.new_value or ""))
                    except ValueError:
                        unknown.add(entry.iccid)  # a state fleetform does not know: re-read
                        continue
                elif entry.old_value is None and entry.new_value:
                    if entry.new_value not in sim.supplementary_plans:
                        sim = replace(
                            sim, supplementary_plans=(*sim.supplementary_plans, entry.new_value)
                        )
                else:
                    sim = replace(sim, rate_plan=entry.new_value)
                db.execute(
                    "UPDATE sims SET st = ?, plan = ?, rest = ?, modified = max(coalesce("
                    "modified, 0), ?), seen_at = max(seen_at, ?), via = ? WHERE iccid = ?",
                    (
                        STATUS_CODE[sim.status],
                        sim.rate_plan,
                        encode_rest(sim),
                        when,
                        when * 1000,
                        int(Via.HISTORY),
                        entry.iccid,
                    ),
                )
                changed += 1
            set_meta(db, "watermark", str(watermark))
            set_meta(db, "history_until", str(int(read_at)))
            set_meta(
                db,
                "anchor",
                json.dumps([anchor.iccid, anchor.change_type, anchor.new_value, anchor.at])
                if anchor
                else "",
            )
        return changed, unknown

    def full_refresh(self, *, started_at: float | None = None) -> FullRefresh:
        """A full read about to stream the whole account: see `FullRefresh`."""
        return FullRefresh(
            self, int(self._clock() if started_at is None else started_at), batch=BATCH
        )

    # --- internals -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                raise CacheError(
                    f"the live-state cache {self.path} could not be updated: {exc}",
                    corrupt=corrupt(exc),
                ) from exc

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.DatabaseError as exc:
                raise CacheError(
                    f"the live-state cache {self.path} is unreadable: {exc}", corrupt=corrupt(exc)
                ) from exc

    def _meta(self) -> dict[str, str]:
        return {key: value for key, value in self._query("SELECT key, value FROM meta")}

    def _finish_full(self, started_at: int) -> int:
        with self._write() as db:
            gone = db.execute(
                "DELETE FROM sims WHERE full_at < ? AND seen_at < ?",
                (started_at * 1000, started_at * 1000),
            ).rowcount
            for key, value in (
                ("complete", "1"),
                ("full_at", str(started_at)),
                ("watermark", str(started_at - SKEW_SECONDS)),
                ("history_until", str(started_at)),
                ("anchor", ""),
                ("cursor", ""),
            ):
                set_meta(db, key, value)
        return int(gone)

"""The store's connection: one SQLite connection behind one lock, and its transactions.

The HTTP handlers (event-loop thread) and the batch worker (its own thread) both go through the
lock, so every operation is atomic and the rate counter is exact. Every write runs in
``BEGIN IMMEDIATE`` ... ``COMMIT``; the events a write queues are published after the commit.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from reconciler.simulator.config import SimulatorError
from reconciler.simulator.store import schema
from reconciler.simulator.store.rows import Event


class StoreBase:
    """Opens (creating or migrating) the database; the rooms of `Store` build on it."""

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
        self._pending_events: list[Event] = []
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
                self._db.executescript("BEGIN IMMEDIATE;" + schema.TABLES + "COMMIT;")
                with self._write() as db:
                    schema.migrate(db)
                self._db.executescript("BEGIN IMMEDIATE;" + schema.INDEXES + "COMMIT;")
        except sqlite3.Error as exc:
            self._db.close()
            raise SimulatorError(f"cannot open the simulator database {self.path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One immediate transaction under the lock; events are published after commit."""
        with self._lock:
            self._pending_events = []
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

"""The set of push events already seen, in SQLite so that it survives a restart.

One row per event key (`PushEvent.dedupe_key`) with its ``datePush``. Retention is bounded:
a row whose ``datePush`` is older than twice the skew window can go, because a replay of that
event would now be refused as stale by the verifier before the store is asked. Pruning runs
every `prune_every` inserts.

The store is called from the server's event loop: one indexed INSERT in WAL mode with
``synchronous=NORMAL`` takes tens of microseconds, cheaper than a hop to a thread. WAL with
NORMAL survives a crash of the process (the case that matters: a restarted receiver must not
process an old event again); a power cut may lose the last few ids, which the skew bound and
the idempotent re-read make harmless.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from reconciler.errors import ConfigError, FleetformError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen_events (
    key TEXT PRIMARY KEY,
    date_push INTEGER NOT NULL,
    received_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_events_date ON seen_events (date_push);
"""


class DedupeStore:
    """``remember(key)`` is True the first time a key is seen, False ever after (until pruned)."""

    def __init__(self, path: Path, *, retention_seconds: float, prune_every: int = 1000) -> None:
        self.path = path
        self.retention_seconds = retention_seconds
        self._prune_every = prune_every
        self._since_prune = 0
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the webhook dedupe store {path}: {exc}") from exc

    def remember(self, key: str, date_push: int, now: float) -> bool:
        """Record ``key``; True when it is new, False when it was seen before."""
        with self._lock:
            try:
                cursor = self._db.execute(
                    "INSERT OR IGNORE INTO seen_events (key, date_push, received_at) "
                    "VALUES (?, ?, ?)",
                    (key, date_push, now),
                )
            except sqlite3.Error as exc:
                raise FleetformError(f"the webhook dedupe store {self.path} failed: {exc}") from exc
            fresh = cursor.rowcount == 1
            if fresh:
                self._since_prune += 1
                if self._since_prune >= self._prune_every:
                    self._prune_locked(now)
            return fresh

    def seen(self, key: str) -> bool:
        """Was ``key`` recorded (and not pruned)? Does not record it."""
        with self._lock:
            try:
                row = self._db.execute("SELECT 1 FROM seen_events WHERE key = ?", (key,)).fetchone()
            except sqlite3.Error as exc:
                raise FleetformError(f"the webhook dedupe store {self.path} failed: {exc}") from exc
            return row is not None

    def prune(self, now: float) -> int:
        """Forget events whose datePush is older than the retention; returns how many."""
        with self._lock:
            return self._prune_locked(now)

    def _prune_locked(self, now: float) -> int:
        self._since_prune = 0
        cutoff = int(now - self.retention_seconds)
        try:
            cursor = self._db.execute("DELETE FROM seen_events WHERE date_push < ?", (cutoff,))
        except sqlite3.Error as exc:
            raise FleetformError(f"the webhook dedupe store {self.path} failed: {exc}") from exc
        return cursor.rowcount

    def __len__(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT COUNT(*) FROM seen_events").fetchone()
            return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

"""The change history: rows written for STATUS, SERVICE_PACKAGE and IMEI changes, and its pages.

It is listed oldest first, and its times never decrease along it (should the clock step back,
a change is dated with the latest time already recorded): ``since`` relies on that.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from reconciler.simulator.store.base import StoreBase
from reconciler.simulator.store.rows import ChangeLogRow, SimRow

_COLUMNS = "giccid, change_type, old_value, new_value, changed_time"


def last_change(db: sqlite3.Connection, account: str) -> tuple[int, int]:
    """The account's last history number and time; (0, 0) before its first change."""
    row = db.execute(
        "SELECT seq, changed_time FROM change_logs WHERE account = ? ORDER BY seq DESC LIMIT 1",
        (account,),
    ).fetchone()
    return (int(row[0]), int(row[1])) if row is not None else (0, 0)


def record_changes(db: sqlite3.Connection, before: SimRow, after: SimRow, now: int) -> None:
    """Write a history row for each recorded field that differs between the two."""
    history = [
        (change_type, old, new)
        for change_type, old, new in (
            ("STATUS", before.status, after.status),
            ("SERVICE_PACKAGE", before.basic, after.basic),
            ("IMEI", before.imei, after.imei),
        )
        if old != new
    ]
    if not history:
        return
    seq, latest = last_change(db, after.account)
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


class History(StoreBase):
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
        earliest = None
        if since is not None:
            earliest = int(since) if since == int(since) else int(since) + 1
        with self._lock:
            if giccid is not None:
                return self._sim_changes(account, giccid, earliest, offset, size)
            last = last_change(self._db, account)[0]
            first = 1
            if earliest is not None:
                found = self._db.execute(
                    "SELECT seq FROM change_logs WHERE account = ? AND changed_time >= ? "
                    "ORDER BY changed_time, seq LIMIT 1",
                    (account, earliest),
                ).fetchone()
                first = int(found[0]) if found is not None else last + 1
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM change_logs WHERE account = ? AND seq >= ? "
                "ORDER BY seq LIMIT ?",
                (account, first + offset, size),
            ).fetchall()
        return [ChangeLogRow(*row) for row in rows], last - first + 1

    def _sim_changes(
        self, account: str, giccid: str, earliest: int | None, offset: int, size: int
    ) -> tuple[list[ChangeLogRow], int]:
        """One page of one SIM's history (the caller holds the lock)."""
        where = "giccid = ? AND account = ?"
        args: list[Any] = [giccid, account]
        if earliest is not None:
            where += " AND changed_time >= ?"
            args.append(earliest)
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM change_logs WHERE {where} ORDER BY id LIMIT ? OFFSET ?",
            [*args, size, offset],
        ).fetchall()
        total = self._db.execute(
            f"SELECT COUNT(*) FROM change_logs WHERE {where}", args
        ).fetchone()[0]
        return [ChangeLogRow(*row) for row in rows], int(total)

"""SIM reads: one SIM, list pages (filtered or not) as index seeks, and counts per status.

Nothing scans the fleet per request: a page is a range on an index however deep it is, and
totals come from counts kept as SIMs change status (``status_counts``).
"""

from __future__ import annotations

from reconciler.simulator.fleet import STATUSES
from reconciler.simulator.problems import Forbidden, NotFound
from reconciler.simulator.store import schema
from reconciler.simulator.store.base import StoreBase
from reconciler.simulator.store.rows import SIM_COLUMNS, SimRow, row_to_sim


class SimReads(StoreBase):
    def get_sim(self, giccid: str) -> SimRow | None:
        rows = self._read(f"SELECT {SIM_COLUMNS} FROM sims WHERE giccid = ?", (giccid,))
        return row_to_sim(rows[0]) if rows else None

    def owned_sim(self, giccid: str, account: str) -> SimRow:
        """The SIM, or 404 when unknown, 403 when it belongs to another enterprise."""
        sim = self.get_sim(giccid)
        if sim is None:
            raise NotFound(f"no SIM with giccid {giccid}")
        if sim.account != account:
            raise Forbidden()
        return sim

    def _must(self, giccid: str) -> SimRow:
        sim = self.get_sim(giccid)
        assert sim is not None
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
                f"SELECT {SIM_COLUMNS} FROM sims WHERE account = ? AND pos > ? "
                "ORDER BY pos LIMIT ?",
                (account, offset, size),
            )
            return [row_to_sim(row) for row in rows], self._account_total(account)
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
                    start = bucket << schema.BUCKET_BITS
                    break
                before += n
            rows = self._db.execute(
                f"SELECT {SIM_COLUMNS} FROM sims WHERE account = ? AND status = ? AND pos >= ? "
                "ORDER BY pos LIMIT ? OFFSET ?",
                (account, status, start, size, offset - before),
            ).fetchall()
        return [row_to_sim(row) for row in rows], total

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

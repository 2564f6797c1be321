"""Per-account odds and ends: sent SMS and the rate-limit windows."""

from __future__ import annotations

import secrets

from reconciler.simulator.store.base import StoreBase
from reconciler.simulator.store.reads import SimReads
from reconciler.simulator.store.rows import RateState


class Sms(SimReads):
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


class RateWindows(StoreBase):
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

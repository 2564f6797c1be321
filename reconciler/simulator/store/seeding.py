"""Seeding the fleet into an empty database, fast enough for 1,000,000 SIMs."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

from reconciler.simulator.fleet import iter_fleet
from reconciler.simulator.store import schema
from reconciler.simulator.store.base import StoreBase
from reconciler.simulator.store.rows import apns_json


class Seeding(StoreBase):
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
                counts = insert_fleet(db, sims, seed)
                for statement in schema.SIM_INDEXES:
                    db.execute(statement)
            finally:
                db.execute(f"PRAGMA cache_size = {int(cache)}")
            db.executemany(
                "INSERT INTO status_counts (account, status, bucket, n) VALUES (?, ?, ?, ?)",
                [(*key, n) for key, n in counts.items()],
            )
            db.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [("schema", schema.SCHEMA_VERSION), ("sims", str(sims)), ("seed", str(seed))],
            )
            return True


def insert_fleet(db: sqlite3.Connection, sims: int, seed: int) -> dict[tuple[str, str, int], int]:
    """Insert the seeded fleet; the SIM counts per (account, status, bucket)."""
    positions: dict[str, int] = {}
    counts: dict[tuple[str, str, int], int] = {}
    # a few distinct plan lists and APN lists recur a million times: encode each once
    plans_json: dict[tuple[str, ...], str] = {}
    apns_texts: dict[tuple[tuple[str, str], ...], str] = {}
    bucket_bits = schema.BUCKET_BITS

    def rows() -> Iterator[tuple[Any, ...]]:
        for sim in iter_fleet(sims, seed):
            pos = positions[sim.account] = positions.get(sim.account, 0) + 1
            key = (sim.account, sim.status, pos >> bucket_bits)
            counts[key] = counts.get(key, 0) + 1
            supplementary = plans_json.get(sim.supplementary)
            if supplementary is None:
                supplementary = plans_json[sim.supplementary] = json.dumps(list(sim.supplementary))
            apns = apns_texts.get(sim.apns)
            if apns is None:
                apns = apns_texts[sim.apns] = apns_json(sim.apns)
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

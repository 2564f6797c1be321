"""The simulator database's schema: tables, indexes, and the migration from schema 1.

SIMs are counted per status in buckets of ``2**BUCKET_BITS`` positions (``status_counts``): a
status-filtered page finds its first key from those counts and an index seek, never by an
OFFSET over the whole account. Code that depends on the bucket size reads ``schema.BUCKET_BITS``
when it runs (a test shrinks it to make a scan show).
"""

from __future__ import annotations

import sqlite3

from reconciler.simulator.config import SimulatorError

SCHEMA_VERSION = "2"
BUCKET_BITS = 10

TABLES = """
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
SIM_INDEXES = (
    "CREATE UNIQUE INDEX IF NOT EXISTS sims_account_pos ON sims (account, pos)",
    "CREATE INDEX IF NOT EXISTS sims_account_status ON sims (account, status, pos)",
)
# after the tables and their migration (an index may name a column a migration adds)
INDEXES = (
    ";\n".join(SIM_INDEXES)
    + """;
DROP INDEX IF EXISTS change_logs_account;
CREATE UNIQUE INDEX IF NOT EXISTS change_logs_seq ON change_logs (account, seq);
CREATE INDEX IF NOT EXISTS change_logs_time ON change_logs (account, changed_time, seq);
CREATE INDEX IF NOT EXISTS change_logs_giccid ON change_logs (giccid, id);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, seq);
"""
)


def migrate(db: sqlite3.Connection) -> None:
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

"""The live-state cache's file: its schema, the compact encoding of one SIM as a row, and the
connection helpers (WAL, busy timeout, setting a file aside). `reconciler.live.cache` is the
cache itself (reads and updates), `reconciler.live.refresh` the stream of a full read into it.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import Any

import msgspec

from reconciler.model import CUSTOM_FIELD_NAMES, NO_EXTRA, ApnStatus, LiveSim, Status

SCHEMA_VERSION = 1
SKEW_SECONDS = 120  # slack between SmartHub's clock (history times) and ours (read stamps)
CACHE_FOLDER = "cache"

_STATUSES: tuple[Status, ...] = tuple(Status)
STATUS_CODE = {status: code for code, status in enumerate(_STATUSES)}
_CUSTOM_NAMES = frozenset(CUSTOM_FIELD_NAMES)
_ENABLED, _DISABLED = ApnStatus.ENABLED, ApnStatus.DISABLED
_NO_CUSTOMS: tuple[None, ...] = (None,) * len(CUSTOM_FIELD_NAMES)
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode
_from_epoch = datetime.fromtimestamp

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sims (
    iccid TEXT PRIMARY KEY,
    st INTEGER NOT NULL,
    plan TEXT,
    rest TEXT,
    modified INTEGER,
    full_at INTEGER NOT NULL, -- epoch milliseconds
    seen_at INTEGER NOT NULL, -- epoch milliseconds
    via INTEGER NOT NULL
) WITHOUT ROWID;
"""

UPSERT = (
    "INSERT INTO sims (iccid, st, plan, rest, modified, full_at, seen_at, via) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (iccid) DO UPDATE SET st = excluded.st, "
    "plan = excluded.plan, rest = excluded.rest, modified = excluded.modified, "
    "full_at = excluded.full_at, seen_at = max(sims.seen_at, excluded.seen_at), "
    "via = excluded.via WHERE excluded.full_at >= sims.full_at "
    "AND excluded.full_at >= sims.seen_at"
)


class Via(IntEnum):
    """How a SIM's record was last verified."""

    LIST = 1  # a page of the SIM list
    GET = 2  # a single GET
    HISTORY = 3  # the change history (state and rate plan only)
    PUSH = 4  # the GET a push made the webhook receiver do
    APPLY = 5  # apply's own write (the field it wrote only)

    @property
    def label(self) -> str:
        return {1: "list", 2: "single GET", 3: "change history", 4: "push", 5: "apply"}[self]


def cache_path(state: Path, account: str) -> Path:
    """``<state>/cache/<account>.sqlite``; an account name with other characters than letters,
    digits, ``.``, ``_`` and ``-`` is spelt with those replaced and a short digest added."""
    slug = re.sub(r"[^A-Za-z0-9._-]", "_", account)
    if slug != account or not slug or slug.startswith("."):
        import hashlib

        slug = f"{slug.lstrip('.')}-{hashlib.sha256(account.encode()).hexdigest()[:8]}"
    return state / CACHE_FOLDER / f"{slug}.sqlite"


# --- compact encoding of one SIM --------------------------------------------------------------


def encode_rest(sim: LiveSim) -> str | None:
    """Supplementary plans, APN statuses and custom fields as short JSON, None when all empty:
    ``[["EU-Roaming-500MB"],[["iot.acme",1]],["berlin","ASSET-1"]]`` (custom fields by
    position, trailing empties left out; a name outside custom1..5 keeps the object form),
    then the values of field kinds added later (``LiveSim.extra``) as an object, when any.

    Called once per SIM of a full read (a million at a time): msgspec's encoder, and no
    intermediate lists beyond the JSON's own."""
    fields = sim.custom_fields
    customs: list[str | None] | dict[str, str | None]
    if fields.keys() <= _CUSTOM_NAMES:
        get = fields.get
        customs = [get(name) or None for name in CUSTOM_FIELD_NAMES]
        while customs and customs[-1] is None:
            customs.pop()
    else:
        customs = dict(fields)
    apns = sim.apns
    if sim.extra:
        parts: list[Any] = [sim.supplementary_plans, _apn_pairs(apns), customs, dict(sim.extra)]
    elif customs:
        parts = [sim.supplementary_plans, _apn_pairs(apns), customs]
    elif apns:
        parts = [sim.supplementary_plans, _apn_pairs(apns)]
    elif sim.supplementary_plans:
        parts = [sim.supplementary_plans]
    else:
        return None
    return _encode(parts).decode()


def _apn_pairs(apns: Mapping[str, ApnStatus]) -> list[list[Any]]:
    return [[name, 1 if status is _ENABLED else 0] for name, status in apns.items()]


def decode_sim(row: Sequence[Any], account: str) -> LiveSim:
    iccid, st, plan, rest, modified = row[:5]
    parts: list[Any] = _decode(rest) if rest else []
    supplementary = parts[0] if parts else ()
    apns = parts[1] if len(parts) > 1 else ()
    customs = parts[2] if len(parts) > 2 else ()
    extra = parts[3] if len(parts) > 3 else NO_EXTRA
    if isinstance(customs, dict):
        custom_fields: dict[str, str | None] = dict(customs)
    else:
        padded = (*customs, *_NO_CUSTOMS)  # trailing empties were left out
        custom_fields = dict(zip(CUSTOM_FIELD_NAMES, padded, strict=False))
    # positional, in LiveSim's field order (incremental drift reads a million of these back;
    # keywords cost ~1 us a SIM more): the wire identifiers and activation time are not kept
    return LiveSim(
        iccid,
        _STATUSES[st],
        account,
        plan,
        tuple(supplementary),
        {name: _ENABLED if on else _DISABLED for name, on in apns} if apns else {},
        custom_fields,
        None,
        None,
        None,
        None,
        None,
        _from_epoch(modified, UTC) if modified is not None else None,
        None,
        extra,
    )


def sim_row(sim: LiveSim, at: int, via: Via) -> tuple[Any, ...]:
    return sim_rows((sim,), at, via)[0]


def sim_rows(sims: Iterable[LiveSim], at: int, via: Via) -> list[tuple[Any, ...]]:
    """The rows of many SIMs verified at ``at`` (epoch milliseconds), in one pass."""
    code = STATUS_CODE
    how = int(via)
    return [
        (
            sim.iccid,
            code[sim.status],
            sim.rate_plan,
            encode_rest(sim),
            int(sim.last_modified_time.timestamp()) if sim.last_modified_time is not None else None,
            at,
            at,
            how,
        )
        for sim in sims
    ]


# --- the file -------------------------------------------------------------------------------


def corrupt(exc: sqlite3.DatabaseError) -> bool:
    """A damaged file (not a database, malformed), rather than a lock or an I/O failure."""
    return not isinstance(exc, sqlite3.OperationalError)


def ms(epoch: float) -> int:
    return int(epoch * 1000)


def connect(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, waiting up to
    ``busy_timeout`` seconds for another writer."""
    connection = sqlite3.connect(
        path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
    )
    connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = NORMAL")
    return connection


def unusable(connection: sqlite3.Connection, endpoint: str, account: str) -> str | None:
    """Why an existing cache cannot be used, or None."""
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    tables = {
        row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
    }
    if version == 0 and not tables:
        return None  # an empty file: begun and never written
    if version != SCHEMA_VERSION or not {"meta", "sims"} <= tables:
        return f"of an unknown schema version ({version}; this fleetform reads {SCHEMA_VERSION})"
    meta = dict(connection.execute("SELECT key, value FROM meta").fetchall())
    if meta.get("endpoint") != endpoint:
        return f"of another endpoint ({meta.get('endpoint')})"
    if meta.get("account") != account:
        return f"of another account ({meta.get('account')})"
    return None


def create(connection: sqlite3.Connection, endpoint: str, account: str) -> None:
    connection.execute("BEGIN IMMEDIATE")
    try:
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                connection.execute(statement)
        existing = dict(connection.execute("SELECT key, value FROM meta").fetchall())
        if not existing:
            for key, value in (
                ("schema", str(SCHEMA_VERSION)),
                ("endpoint", endpoint),
                ("account", account),
                ("complete", "0"),
            ):
                set_meta(connection, key, value)
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        connection.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            connection.execute("ROLLBACK")
        raise


def set_meta(db: sqlite3.Connection, key: str, value: str) -> None:
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


def set_aside(path: Path) -> Path:
    aside = path.with_name(path.name + ".set-aside")
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(OSError):
            Path(str(path) + suffix).unlink()
    try:
        path.replace(aside)
    except OSError:
        with contextlib.suppress(OSError):
            path.unlink()
    return aside

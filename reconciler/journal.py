"""The apply journal: a crash-safe, append-only record of what an apply did, one file per plan.

Layout under the state directory (``.fleetform/`` or ``FLEETFORM_STATE_DIR``)::

    journal/<checksum>.jsonl       the records, one JSON object a line
    journal/<checksum>.plan.json   the plan itself, so ``apply --resume`` needs no plan file
    apply-<account>.lock           held while an apply of that account runs

Every write is one or more whole lines, flushed and ``fsync``'d before the call returns, so
after ``kill -9`` the file holds everything the applier claimed to have done, plus at most one
torn last line (tolerated when read, cut off before the next append).

Records (``kind``):

==============  ==========================================================================
``plan``        header: checksum, endpoint, account (first line of the file)
``run``         a run starts; ``resume: false`` starts over, earlier records are history
``intent``      a step is about to send requests for ``iccids`` (written before sending)
``job``         a batch job was accepted: ``job_id`` and the ``iccids`` it holds (right after
                the 202, before the first poll)
``sim``         one SIM's outcome in one step (later records win)
``step_done``   every SIM of the step has its final outcome
``aborted``     the run stopped early (``--budget``): resume continues from here
``finished``    the run reached the end of the plan
``soak``        a rollout step's writes are done and its soak began (``stage``, ``started``
                epoch seconds): a resumed run waits only what is left of it
``stage_passed`` the rollout step's re-check and gate passed: later runs do not repeat them
``stage_stopped`` the re-check or gate stopped the rollout at ``stage`` (``reason``)
==============  ==========================================================================
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.errors import JournalError, LockedError
from reconciler.model import FieldChange, Outcome, SimOutcome

JOURNAL_DIR = "journal"
FINAL_OUTCOMES = frozenset({Outcome.DONE, Outcome.FAILED, Outcome.STALE})


def _safe_name(text: str) -> str:
    """A checksum or account name made safe for a file name."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", text)
    return cleaned or "_"


@dataclass(frozen=True, slots=True)
class JobRecord:
    step_id: str
    job_id: str
    iccids: tuple[str, ...]


@dataclass
class JournalState:
    """What the journal says about the current run and the runs it resumed (replayed)."""

    checksum: str = ""
    endpoint: str = ""
    account: str = ""
    runs: int = 0
    finished: bool = False
    aborted: str | None = None
    intents: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    jobs: dict[str, list[JobRecord]] = field(default_factory=dict)
    results: dict[str, dict[str, SimOutcome]] = field(default_factory=dict)
    steps_done: set[str] = field(default_factory=set)
    soaks: dict[str, float] = field(default_factory=dict)  # rollout step id -> soak start
    stages_passed: set[str] = field(default_factory=set)
    stage_stops: dict[str, str] = field(default_factory=dict)  # rollout step id -> why

    def open_iccids(self) -> set[str]:
        """SIMs a request was sent (or about to be sent) for, with no final outcome yet: a batch
        job holding them may still be pending on the server."""
        sent = {
            (step_id, iccid)
            for step_id, groups in self.intents.items()
            for iccids in groups
            for iccid in iccids
        }
        sent.update((j.step_id, i) for jobs in self.jobs.values() for j in jobs for i in j.iccids)
        return {i for step_id, i in sent if i not in self.final_results(step_id)}

    def final_results(self, step_id: str) -> dict[str, SimOutcome]:
        """Outcomes a resumed run keeps: done, failed and stale are decisions already made;
        skipped and not-run SIMs are tried again."""
        return {
            iccid: outcome
            for iccid, outcome in self.results.get(step_id, {}).items()
            if outcome.outcome in FINAL_OUTCOMES
        }


def _outcome_record(step_id: str, outcome: SimOutcome) -> dict[str, Any]:
    record: dict[str, Any] = {
        "kind": "sim",
        "step": step_id,
        "iccid": outcome.iccid,
        "outcome": outcome.outcome.value,
    }
    if outcome.reason is not None:
        record["reason"] = outcome.reason
    if outcome.moved:
        record["moved"] = [[m.field, m.before, m.after] for m in outcome.moved]
    return record


def _outcome_from(record: Mapping[str, Any]) -> SimOutcome:
    return SimOutcome(
        iccid=str(record["iccid"]),
        outcome=Outcome(record["outcome"]),
        reason=record.get("reason"),
        moved=tuple(FieldChange(str(f), b, a) for f, b, a in record.get("moved", ())),
    )


def complete_lines(text: str) -> list[str]:
    """The newline-terminated lines of a journal's text. What follows the last newline is a
    write torn by a crash (even when it parses: its writer never saw it on disk); it is not
    counted, and `Journal.begin_run` cuts exactly that before appending."""
    return text.split("\n")[:-1]


# How to go on from a damaged journal (every apply reads the journals, so it blocks them all).
_DAMAGED = (
    ". The journal was edited or damaged: move that file out of the journal folder to go on "
    "(first check the account for batch jobs it may have recorded as pending), then plan again"
)


def replay(lines: Sequence[str], path: Path) -> JournalState:
    """Rebuild the state from the journal's complete lines (see `complete_lines`)."""
    records: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise JournalError(f"{path}:{number}: not a journal record{_DAMAGED}") from None
        if not isinstance(record, dict) or "kind" not in record:
            raise JournalError(f"{path}:{number}: not a journal record{_DAMAGED}")
        records.append(record)
    state = JournalState()
    try:
        for record in records:
            kind = record["kind"]
            if kind == "plan":
                state.checksum = record["checksum"]
                state.endpoint = record["endpoint"]
                state.account = record["account"]
            elif kind == "run":
                if not record.get("resume", False):
                    # a fresh run of the same plan: what earlier runs did is history
                    checksum, endpoint, account = state.checksum, state.endpoint, state.account
                    state = JournalState(checksum=checksum, endpoint=endpoint, account=account)
                state.runs += 1
                state.finished = False
                state.aborted = None
            elif kind == "intent":
                state.intents.setdefault(record["step"], []).append(tuple(record["iccids"]))
            elif kind == "job":
                job = JobRecord(record["step"], record["job_id"], tuple(record["iccids"]))
                state.jobs.setdefault(job.step_id, []).append(job)
            elif kind == "sim":
                state.results.setdefault(record["step"], {})[record["iccid"]] = _outcome_from(
                    record
                )
            elif kind == "step_done":
                state.steps_done.add(record["step"])
            elif kind == "aborted":
                state.aborted = record.get("reason", "aborted")
            elif kind == "finished":
                state.finished = True
            elif kind == "soak":
                state.soaks[record["stage"]] = float(record["started"])
            elif kind == "stage_passed":
                state.stages_passed.add(record["stage"])
                state.stage_stops.pop(record["stage"], None)
            elif kind == "stage_stopped":
                state.stage_stops[record["stage"]] = str(record.get("reason", ""))
    except (KeyError, TypeError, ValueError) as exc:
        raise JournalError(f"{path}: malformed journal record: {exc}{_DAMAGED}") from exc
    return state


class Journal:
    """One plan's journal file. Thread-safe: every write is whole lines, fsync'd."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()  # held while writing to the file
        self._queue_lock = threading.Lock()  # guards the queue of lines not yet written
        self._queued: list[bytes] = []
        self._queued_seq = 0
        self._written_seq = 0
        self._broken: str | None = None  # set once a write failed: later writes refuse

    # -- reading ---------------------------------------------------------------------------

    def state(self) -> JournalState:
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return JournalState()
        except OSError as exc:
            raise JournalError(f"cannot read the journal {self.path}: {exc.strerror}") from exc
        return replay(complete_lines(text), self.path)

    # -- writing ---------------------------------------------------------------------------

    def _write(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Append whole lines and return once they are on disk.

        Group commit: writers queue their lines; whichever holds the I/O lock writes every
        queued line with one ``fsync``, and a writer whose lines went out in someone else's
        batch returns without a disk round of its own. Concurrent single calls then cost one
        fsync per batch, not one each, and no call returns before its record is durable.
        """
        if not records:
            return
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        data = "".join(
            json.dumps({**r, "at": now}, separators=(",", ":"), sort_keys=True) + "\n"
            for r in records
        ).encode("utf-8")
        with self._queue_lock:
            self._queued.append(data)
            self._queued_seq += 1
            mine = self._queued_seq
        with self._lock:
            if self._broken is not None:
                # an earlier batch failed, maybe with our lines in it: nothing is durable now
                raise JournalError(self._broken)
            if self._written_seq >= mine:
                return  # an earlier holder wrote and fsync'd our lines
            with self._queue_lock:
                batch = b"".join(self._queued)
                self._queued.clear()
                upto = self._queued_seq
            try:
                self._append(batch)
            except OSError as exc:
                # every writer whose lines were in this batch (or queued behind it) must hear
                # it, not return as if its record were on disk
                self._broken = f"cannot write the journal {self.path}: {exc.strerror or exc}"
                raise JournalError(self._broken) from exc
            self._written_seq = upto

    def _append(self, data: bytes) -> None:
        """Append ``data`` (whole lines) and fsync; on failure, cut the file back to where it
        was, so no part of a line stays for later records to follow (a broken line in the
        middle makes the whole journal unreadable)."""
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            start = os.fstat(fd).st_size
            try:
                self._write_all(fd, data)
                os.fsync(fd)
            except OSError:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start)
                    os.fsync(fd)
                raise
        finally:
            os.close(fd)

    @staticmethod
    def _write_all(fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]

    def _cut_torn_tail(self) -> None:
        """Drop a torn last line (a crash mid-write) so the next record starts on its own line."""
        try:
            with open(self.path, "rb+") as fh:
                data = fh.read()
                if data and not data.endswith(b"\n"):
                    fh.truncate(data.rfind(b"\n") + 1)
                    fh.flush()
                    os.fsync(fh.fileno())
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise JournalError(f"cannot repair the journal {self.path}: {exc.strerror}") from exc

    def header(self, checksum: str, endpoint: str, account: str) -> None:
        self._write(
            [{"kind": "plan", "checksum": checksum, "endpoint": endpoint, "account": account}]
        )

    def begin_run(self, *, resume: bool) -> None:
        self._cut_torn_tail()
        self._write([{"kind": "run", "resume": resume, "pid": os.getpid()}])

    def intent(self, step_id: str, iccids: Sequence[str]) -> None:
        self._write([{"kind": "intent", "step": step_id, "iccids": list(iccids)}])

    def job_submitted(self, step_id: str, job_id: str, iccids: Sequence[str]) -> None:
        self._write([{"kind": "job", "step": step_id, "job_id": job_id, "iccids": list(iccids)}])

    def results(self, step_id: str, outcomes: Sequence[SimOutcome]) -> None:
        """Record outcomes of one step (one fsync for all of them)."""
        self._write([_outcome_record(step_id, o) for o in outcomes])

    def step_done(self, step_id: str) -> None:
        self._write([{"kind": "step_done", "step": step_id}])

    def aborted(self, reason: str) -> None:
        self._write([{"kind": "aborted", "reason": reason}])

    def soak_started(self, stage_id: str, started: float) -> None:
        self._write([{"kind": "soak", "stage": stage_id, "started": started}])

    def stage_passed(self, stage_id: str) -> None:
        self._write([{"kind": "stage_passed", "stage": stage_id}])

    def stage_stopped(self, stage_id: str, reason: str) -> None:
        self._write([{"kind": "stage_stopped", "stage": stage_id, "reason": reason}])

    def finished(self, *, complete: bool) -> None:
        self._write([{"kind": "finished", "complete": complete}])


class JournalStore:
    """The journal directory: finds, creates and opens one journal per plan checksum."""

    def __init__(self, state_dir: Path) -> None:
        self.directory = state_dir / JOURNAL_DIR

    def _journal_path(self, checksum: str) -> Path:
        return self.directory / f"{_safe_name(checksum)}.jsonl"

    def _plan_path(self, checksum: str) -> Path:
        return self.directory / f"{_safe_name(checksum)}.plan.json"

    def exists(self, checksum: str) -> bool:
        return self._journal_path(checksum).exists()

    def create(self, checksum: str, endpoint: str, account: str, plan_json: str) -> Journal:
        """The journal for a plan about to run; an existing one is appended to (history)."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            plan_path = self._plan_path(checksum)
            if not plan_path.exists():
                tmp = plan_path.with_suffix(".tmp")
                tmp.write_text(plan_json, encoding="utf-8")
                os.replace(tmp, plan_path)
        except OSError as exc:
            raise JournalError(
                f"cannot write to the journal directory {self.directory}: {exc.strerror}"
            ) from exc
        journal = Journal(self._journal_path(checksum))
        if not journal.path.exists():
            journal.header(checksum, endpoint, account)
        return journal

    def open(self, checksum: str) -> Journal:
        """An existing journal, for ``--resume``."""
        path = self._journal_path(checksum)
        if not path.exists():
            raise JournalError(
                f"no journal for plan {checksum} in {self.directory}: nothing to resume"
            )
        return Journal(path)

    def plan_text(self, checksum: str) -> str:
        try:
            return self._plan_path(checksum).read_text(encoding="utf-8")
        except OSError as exc:
            raise JournalError(
                f"the journal's plan {self._plan_path(checksum)} cannot be read: {exc.strerror}"
            ) from exc

    def unfinished(self, account: str) -> list[JournalState]:
        """The journals of ``account`` whose last run did not finish (newest first)."""
        if not self.directory.is_dir():
            return []
        paths = sorted(
            self.directory.glob("*.jsonl"), key=lambda p: p.stat().st_mtime, reverse=True
        )
        states = (Journal(path).state() for path in paths)
        return [s for s in states if s.account == account and s.runs and not s.finished]

    def latest_unfinished(self) -> str | None:
        """The checksum of the most recently written journal whose last run did not finish."""
        if not self.directory.is_dir():
            return None
        paths = sorted(
            self.directory.glob("*.jsonl"), key=lambda p: p.stat().st_mtime, reverse=True
        )
        for path in paths:
            state = Journal(path).state()
            if state.runs and not state.finished and state.checksum:
                return state.checksum
        return None


class ApplyLock:
    """``apply-<account>.lock`` in the state directory: one apply per account at a time.

    Held as an exclusive ``flock`` on the file: the kernel grants it to one open file at a time
    and drops it when the holder exits, however it dies, so a crashed apply leaves no stale
    lock to take over (reading a pid and deciding it is dead was a race between two takers).
    The holder writes its pid into the file for the message to a second apply. On release the
    file is removed while still locked; a taker that locked a file already removed (or
    replaced) by then retries on the current one.
    """

    def __init__(self, state_dir: Path, account: str) -> None:
        self.path = state_dir / f"apply-{_safe_name(account)}.lock"
        self.account = account
        self._fd: int | None = None

    def _holder(self) -> str:
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except OSError:
            text = ""
        return f"pid {text}" if text.isdigit() else "pid unknown"

    def acquire(self) -> None:
        if self._fd is not None:
            raise LockedError(f"the lock {self.path} is already held by this apply")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            hint = (
                f": {self.path.parent} is a file, not a folder (set FLEETFORM_STATE_DIR to a "
                "folder, or run from another directory)"
                if self.path.parent.exists() and not self.path.parent.is_dir()
                else f": {exc.strerror}"
            )
            raise JournalError(f"cannot write the lock {self.path}{hint}") from exc
        for _ in range(100):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise JournalError(f"cannot write the lock {self.path}: {exc.strerror}") from exc
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise LockedError(
                        f"another apply of account {self.account!r} is running "
                        f"({self._holder()}); wait for it to finish (lock: {self.path})"
                    ) from None
                try:
                    current = os.stat(self.path).st_ino
                except FileNotFoundError:
                    current = None
                if current != os.fstat(fd).st_ino:
                    os.close(fd)  # released and removed meanwhile: lock the current file
                    continue
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
            except OSError as exc:
                os.close(fd)
                raise JournalError(f"cannot write the lock {self.path}: {exc.strerror}") from exc
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
            return
        raise LockedError(f"could not take the lock {self.path}: it keeps being replaced")

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()  # still locked: nobody else holds this file
        finally:
            os.close(fd)

    def __enter__(self) -> ApplyLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def iter_journal_lines(path: Path) -> Iterator[dict[str, Any]]:
    """The parsed records of a journal file (a torn tail skipped): for tests and tools."""
    text = path.read_text(encoding="utf-8", errors="replace")
    for number, line in enumerate(complete_lines(text), start=1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError:
            raise JournalError(f"{path}:{number}: not a journal record") from None

"""The journal: append-only, fsync'd lines; replay tolerates a torn last line; the lock."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.errors import JournalError, LockedError
from reconciler.journal import ApplyLock, Journal, JournalStore, iter_journal_lines
from reconciler.model import FieldChange, Outcome, SimOutcome


def test_replay_rebuilds_intents_jobs_results_and_done_steps(tmp_path: Path) -> None:
    store = JournalStore(tmp_path)
    journal = store.create("abc", "http://x/v1", "acme", "{}")
    journal.begin_run(resume=False)
    journal.intent("w1-s001", ["1", "2"])
    journal.job_submitted("w1-s001", "job-7", ["1", "2"])
    journal.results(
        "w1-s001",
        [
            SimOutcome("1", Outcome.DONE),
            SimOutcome("2", Outcome.STALE, "moved", (FieldChange("state", "active", "suspended"),)),
        ],
    )
    journal.step_done("w1-s001")
    state = journal.state()
    assert (state.checksum, state.endpoint, state.account) == ("abc", "http://x/v1", "acme")
    assert state.intents == {"w1-s001": [("1", "2")]}
    assert [j.job_id for j in state.jobs["w1-s001"]] == ["job-7"]
    assert state.results["w1-s001"]["2"].moved == (FieldChange("state", "active", "suspended"),)
    assert state.steps_done == {"w1-s001"}
    assert not state.finished


def test_a_torn_last_line_is_ignored_and_cut_before_the_next_run(tmp_path: Path) -> None:
    journal = JournalStore(tmp_path).create("abc", "e", "acme", "{}")
    journal.begin_run(resume=False)
    journal.intent("w1-s001", ["1"])
    with open(journal.path, "a", encoding="utf-8") as fh:
        fh.write('{"kind":"job","step":"w1-s001","jo')  # kill -9 mid-write
    assert journal.state().jobs == {}
    journal.begin_run(resume=True)
    journal.step_done("w1-s001")
    kinds = [r["kind"] for r in iter_journal_lines(journal.path)]
    assert kinds == ["plan", "run", "intent", "run", "step_done"]


def test_a_garbled_line_in_the_middle_is_an_error_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(
        '{"kind":"plan","checksum":"a","endpoint":"e","account":"a"}\nnope\n{"kind":"run"}\n'
    )
    with pytest.raises(JournalError, match=r"x.jsonl:2") as caught:
        Journal(path).state()
    # every apply reads the journals, so the message says how to go on
    assert "move that file out of the journal folder to go on" in str(caught.value)


def test_a_state_folder_that_is_a_file_is_named_as_such(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.write_text("not a folder")
    with pytest.raises(JournalError, match=r"is a file, not a folder .*FLEETFORM_STATE_DIR"):
        ApplyLock(state, "acme").acquire()


def test_a_fresh_run_makes_earlier_records_history(tmp_path: Path) -> None:
    journal = JournalStore(tmp_path).create("abc", "e", "acme", "{}")
    journal.begin_run(resume=False)
    journal.results("s", [SimOutcome("1", Outcome.DONE)])
    journal.finished(complete=True)
    journal.begin_run(resume=False)
    state = journal.state()
    assert state.results == {} and not state.finished and state.runs == 1


def test_final_results_keep_decisions_and_retry_the_rest(tmp_path: Path) -> None:
    journal = JournalStore(tmp_path).create("abc", "e", "acme", "{}")
    journal.begin_run(resume=False)
    journal.results(
        "s",
        [
            SimOutcome("1", Outcome.DONE),
            SimOutcome("2", Outcome.FAILED, "x"),
            SimOutcome("3", Outcome.NOT_RUN),
            SimOutcome("4", Outcome.SKIPPED),
        ],
    )
    assert sorted(journal.state().final_results("s")) == ["1", "2"]


def test_latest_unfinished_finds_the_plan_to_resume(tmp_path: Path) -> None:
    store = JournalStore(tmp_path)
    done = store.create("done", "e", "acme", '{"a": 1}')
    done.begin_run(resume=False)
    done.finished(complete=True)
    assert store.latest_unfinished() is None
    open_ = store.create("open", "e", "acme", '{"b": 2}')
    open_.begin_run(resume=False)
    open_.aborted("budget")
    assert store.latest_unfinished() == "open"
    assert store.plan_text("open") == '{"b": 2}'
    with pytest.raises(JournalError, match="nothing to resume"):
        store.open("never")


def test_a_second_lock_of_the_same_account_is_refused_naming_the_pid(tmp_path: Path) -> None:
    with ApplyLock(tmp_path, "acme") as lock:
        assert lock.path.read_text().strip() == str(os.getpid())
        with pytest.raises(LockedError, match=rf"pid {os.getpid()}"):
            ApplyLock(tmp_path, "acme").acquire()
        with ApplyLock(tmp_path, "globex"):
            pass
    assert not lock.path.exists()


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    (tmp_path / "apply-acme.lock").write_text(dead.stdout)
    with ApplyLock(tmp_path, "acme") as lock:
        assert lock.path.read_text().strip() == str(os.getpid())


HOLD = (
    "import sys; from pathlib import Path; from reconciler.journal import ApplyLock;"
    "lock = ApplyLock(Path(sys.argv[1]), 'acme'); lock.acquire(); print('held', flush=True);"
    "sys.stdin.read()"
)


def test_the_lock_is_held_by_one_process_until_it_dies_whatever_the_file_says(
    tmp_path: Path,
) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    ) as holder:
        hold(holder, tmp_path)
    with ApplyLock(tmp_path, "acme") as lock:
        assert lock.path.read_text().strip() == str(os.getpid())


def hold(holder: subprocess.Popen[str], tmp_path: Path) -> None:
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(LockedError, match=rf"\(pid {holder.pid}\)"):
            ApplyLock(tmp_path, "acme").acquire()
        # the file names a dead process (another taker's stale read, a leftover): no matter,
        # the holder is whoever holds the kernel lock
        dead = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        )
        (tmp_path / "apply-acme.lock").write_text(dead.stdout)
        with pytest.raises(LockedError, match="another apply of account 'acme' is running"):
            ApplyLock(tmp_path, "acme").acquire()
    finally:
        holder.kill()  # kill -9: the kernel drops its lock
        holder.wait()


def test_release_by_a_lock_that_lost_the_race_leaves_the_holders_file(tmp_path: Path) -> None:
    holder = ApplyLock(tmp_path, "acme")
    holder.acquire()
    loser = ApplyLock(tmp_path, "acme")
    with pytest.raises(LockedError):
        loser.acquire()
    loser.release()
    assert holder.path.read_text().strip() == str(os.getpid())
    with pytest.raises(LockedError):
        ApplyLock(tmp_path, "acme").acquire()
    holder.release()
    ApplyLock(tmp_path, "acme").acquire()


def test_concurrent_writers_lose_no_record_and_share_fsyncs(tmp_path: Path) -> None:
    import threading

    journal = JournalStore(tmp_path).create("abc", "e", "acme", "{}")
    journal.begin_run(resume=False)

    def writer(n: int) -> None:
        for i in range(50):
            journal.results("s", [SimOutcome(f"{n}-{i}", Outcome.DONE)])

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(journal.state().results["s"]) == 400
    assert all(line.endswith("}") for line in journal.path.read_text().splitlines())


def test_a_complete_last_line_without_newline_is_torn_for_replay_and_cut_alike(
    tmp_path: Path,
) -> None:
    journal = JournalStore(tmp_path).create("abc", "e", "acme", "{}")
    journal.begin_run(resume=False)
    with open(journal.path, "a", encoding="utf-8") as fh:
        fh.write('{"kind":"job","step":"s","job_id":"job-1","iccids":["1"]}')  # no "\n" yet
    assert journal.state().jobs == {}  # the writer never saw it on disk: not counted ...
    journal.begin_run(resume=True)
    assert journal.state().jobs == {}  # ... and cut, not suddenly counted after the append
    assert [r["kind"] for r in iter_journal_lines(journal.path)] == ["plan", "run", "run"]


class FullDisk(Journal):
    """A journal whose next write, once ``fail`` is set, stores half its bytes and fails."""

    fail = False

    def _write_all(self, fd: int, data: bytes) -> None:
        if self.fail:
            self.fail = False
            os.write(fd, data[: len(data) // 2])
            raise OSError(28, "No space left on device")
        super()._write_all(fd, data)


def test_a_failed_write_leaves_no_broken_line_and_every_later_write_refuses(
    tmp_path: Path,
) -> None:
    JournalStore(tmp_path).create("abc", "e", "acme", "{}")
    journal = FullDisk(tmp_path / "journal" / "abc.jsonl")
    journal.begin_run(resume=False)
    journal.fail = True
    with pytest.raises(JournalError, match="No space left"):
        journal.results("s", [SimOutcome("1", Outcome.DONE), SimOutcome("2", Outcome.DONE)])
    with pytest.raises(JournalError, match="No space left"):
        journal.aborted("error")  # what the applier writes on its way out
    state = journal.state()  # still readable: the half line was cut
    assert state.runs == 1 and state.results == {}


def test_writers_whose_lines_were_in_a_failed_batch_hear_of_it(tmp_path: Path) -> None:
    import threading

    JournalStore(tmp_path).create("abc", "e", "acme", "{}")
    journal = FullDisk(tmp_path / "journal" / "abc.jsonl")
    journal.fail = True
    errors: list[BaseException] = []

    def writer(iccid: str) -> None:
        try:
            journal.results("s", [SimOutcome(iccid, Outcome.DONE)])
        except JournalError as exc:
            errors.append(exc)

    with journal._lock:  # a writer is busy on the disk: both lines queue behind it
        threads = [threading.Thread(target=writer, args=(i,)) for i in ("1", "2")]
        for t in threads:
            t.start()
        while journal._queued_seq < 2:
            threading.Event().wait(0.001)
    for t in threads:
        t.join()
    # one of them wrote both lines in one batch, which failed: neither may count as durable
    assert len(errors) == 2
    assert journal.state().results == {}

"""The batch worker: moves jobs PENDING → PROCESSING → COMPLETED | PARTIALLY_FAILED | FAILED.

A job waits ``job_delay`` seconds (real, monotonic time: the injected wall clock may be frozen in
a test) in each of PENDING and PROCESSING, then all its SIMs are applied in one transaction.
On start the worker picks up every job left PENDING or PROCESSING in the database (a restart,
or another process that died), so a job is never lost and never applied twice.
"""

from __future__ import annotations

import logging
import threading
import time

from reconciler.simulator.faults import Faults
from reconciler.simulator.store import Store

log = logging.getLogger("reconciler.simulator.jobs")


class BatchWorker:
    def __init__(self, store: Store, faults: Faults, job_delay: float) -> None:
        self.store = store
        self.faults = faults
        self.job_delay = max(0.0, job_delay)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._due: dict[str, float] = {}  # job id -> monotonic time of its next move
        self._thread = threading.Thread(target=self._run, name="sim-batch", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                wait = self._tick()
            except Exception:  # a worker that dies silently would hang every job; keep going
                log.exception("batch worker tick failed")
                wait = 0.5
            self._wake.wait(wait)
            self._wake.clear()

    def _tick(self) -> float:
        """Move every due job one step; return how long to sleep before the next is due."""
        now = time.monotonic()
        next_due = 1.0
        for job in self.store.open_jobs():
            due = self._due.setdefault(job.job_id, now + self.job_delay)
            if due > now:
                next_due = min(next_due, due - now)
                continue
            if self._stopping.is_set():
                break
            if job.status == "PENDING":
                self.store.start_job(job.job_id)
                self._due[job.job_id] = now + self.job_delay
                next_due = min(next_due, self.job_delay)
            else:
                self.store.run_job(job.job_id, self.faults.batch_failure_rate)
                self._due.pop(job.job_id, None)
        return max(0.001, next_due)

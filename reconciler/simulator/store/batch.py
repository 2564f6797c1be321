"""Batch jobs: created PENDING, started by the worker, run in one transaction each."""

from __future__ import annotations

import json
import random
import secrets
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.simulator.problems import ValidationFailed
from reconciler.simulator.store.rows import JOB_COLUMNS, SIM_COLUMNS, JobRow, row_to_job, row_to_sim
from reconciler.simulator.store.writes import SimWrites, transitioned, with_basic_plan

BATCH_TYPES = ("activate", "deactivate", "retire", "servicePackage")
JOB_OPEN = ("PENDING", "PROCESSING")


class BatchJobs(SimWrites):
    def create_job(
        self, account: str, job_type: str, giccids: Sequence[str], params: Mapping[str, Any]
    ) -> JobRow:
        job_id = secrets.token_hex(8)
        now = self.clock()
        with self._write() as db:
            db.execute(
                "INSERT INTO jobs (job_id, account, type, status, params, giccids, items, "
                "created_time, updated_time) VALUES (?, ?, ?, 'PENDING', ?, ?, '[]', ?, ?)",
                (
                    job_id,
                    account,
                    job_type,
                    json.dumps(dict(params)),
                    json.dumps(list(giccids)),
                    now,
                    now,
                ),
            )
        job = self.get_job(job_id)
        assert job is not None
        return job

    def get_job(self, job_id: str) -> JobRow | None:
        rows = self._read(f"SELECT {JOB_COLUMNS} FROM jobs WHERE job_id = ?", (job_id,))
        return row_to_job(rows[0]) if rows else None

    def all_jobs(self) -> list[JobRow]:
        return [row_to_job(r) for r in self._read(f"SELECT {JOB_COLUMNS} FROM jobs ORDER BY seq")]

    def open_jobs(self) -> list[JobRow]:
        rows = self._read(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE status IN ('PENDING', 'PROCESSING') ORDER BY seq"
        )
        return [row_to_job(r) for r in rows]

    def start_job(self, job_id: str) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE jobs SET status = 'PROCESSING', updated_time = ? "
                "WHERE job_id = ? AND status = 'PENDING'",
                (self.clock(), job_id),
            )

    def run_job(self, job_id: str, failure_rate: float) -> JobRow:
        """Apply every SIM of the job in one transaction: a crash leaves all or nothing done."""
        with self._write() as db:
            row = db.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE job_id = ?", (job_id,))
            job = row_to_job(row.fetchone())
            if job.status not in JOB_OPEN:
                return job
            rng = random.Random(job_id)
            items: list[dict[str, str]] = []
            for giccid in job.giccids:
                code = self._run_item(db, job, giccid, failure_rate, rng)
                item = {"giccid": giccid, "result": "SUCCESS" if code is None else "FAILED"}
                if code is not None:
                    item["code"] = code
                items.append(item)
            failed = sum(1 for item in items if item["result"] == "FAILED")
            status = (
                "COMPLETED"
                if failed == 0
                else "FAILED"
                if failed == len(items)
                else "PARTIALLY_FAILED"
            )
            db.execute(
                "UPDATE jobs SET status = ?, items = ?, updated_time = ? WHERE job_id = ?",
                (status, json.dumps(items), self.clock(), job_id),
            )
        done = self.get_job(job_id)
        assert done is not None
        return done

    def _run_item(
        self,
        db: sqlite3.Connection,
        job: JobRow,
        giccid: str,
        failure_rate: float,
        rng: random.Random,
    ) -> str | None:
        """Apply one SIM of a job; None on success, else the failure code."""
        fail_roll = rng.random()
        row = db.execute(f"SELECT {SIM_COLUMNS} FROM sims WHERE giccid = ?", (giccid,)).fetchone()
        if row is None:
            return "missing"
        before = row_to_sim(row)
        if before.account != job.account:
            return "forbidden"
        if fail_roll < failure_rate:
            return "internal_error"
        try:
            if job.type == "servicePackage":
                after = with_basic_plan(before, str(job.params["servicePackageName"]))
            else:
                after = transitioned(before, job.type)
        except ValidationFailed as exc:
            return (exc.errors or [{"code": "invalid"}])[0]["code"]
        self._save(db, before, after)
        return None

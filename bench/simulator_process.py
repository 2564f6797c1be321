"""``fleetform sim serve`` in a child process on a free loopback port, for the bench scripts
that measure against a simulator in its own process (`scale_1m.py`, `sim_scale.py`).

The rate limit is lifted (10^9 an hour) and batch jobs start after 0.05 s; two keys, one per
enterprise. ``ready`` is the wall time until the first answer, ``cpu()`` the server's own CPU
seconds: on a shared machine the figure that does not depend on the other processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "bench-key-acme"
OTHER_KEY = "bench-key-globex"


class SimulatorProcess:
    """The simulator seeded with ``sims`` SIMs in ``db`` (reused when already seeded); its
    stderr goes to ``log`` when given."""

    def __init__(self, db: Path, sims: int, log: Path | None = None) -> None:
        started = time.perf_counter()
        self.log: IO[str] | None = log.open("w") if log is not None else None
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reconciler",
                "sim",
                "serve",
                "--port",
                "0",
                "--db",
                str(db),
                "--sims",
                str(sims),
                "--rate-limit",
                "1000000000/3600",
                "--job-delay",
                "0.05",
                "--api-key",
                API_KEY,
                "--other-api-key",
                OTHER_KEY,
            ],
            stdout=subprocess.PIPE,
            stderr=self.log,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("SmartHub simulator at "):
            self.process.kill()
            where = f" (see {log})" if log is not None else ""
            raise SystemExit(f"the simulator did not start: {line!r}{where}")
        self.url = line.split()[3]
        with httpx.Client(headers={"X-API-Key": API_KEY}) as client:
            client.get(self.url + "/enterprise").raise_for_status()
        self.ready = time.perf_counter() - started

    def cpu(self) -> float:
        """CPU seconds the server process has used so far (Linux /proc; nan elsewhere)."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> float:
        """Stop the server with Ctrl+C; its peak RSS in MB (nan when it cannot be had)."""
        self.process.send_signal(signal.SIGINT)
        try:
            _, _, usage = os.wait4(self.process.pid, 0)
        except ChildProcessError:
            return float("nan")
        finally:
            if self.log is not None:
                self.log.close()
        return usage.ru_maxrss / 1024

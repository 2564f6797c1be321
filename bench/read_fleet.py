"""Benchmark: read a whole fleet through SmartHubClient, page by page.

Starts the simulator (``start_in_thread``) in a child process, so that the memory measured in
this process is the client's alone, seeds it with ``--sims`` acme SIMs (default 100,000) and
a rate limit too high to matter, then streams ``iter_sims()`` and prints:

- requests the client sent (must be ceil(sims / 100) + a small constant),
- wall time and SIMs per second,
- the client's peak traced memory (tracemalloc around the read loop) and the process RSS.

Usage: ``PYTHONPATH=. python bench/read_fleet.py [--sims N] [--db FILE]`` (a kept ``--db`` is
reused, which skips seeding on later runs).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import resource
import sys
import tempfile
import time
import tracemalloc
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reconciler.model import RateBudget
    from reconciler.smarthub import RequestStats


def _rss_mib() -> float:
    """Current resident set size of this process (Linux /proc), MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _serve(db: str, sims: int, conn: Connection) -> None:
    from reconciler.simulator import SimulatorConfig, start_in_thread

    started = time.perf_counter()
    sim = start_in_thread(SimulatorConfig(db_path=db, sims=sims, rate_limit=10**9, job_delay=0.1))
    conn.send((sim.url, sim.api_key, time.perf_counter() - started))
    conn.recv()  # wait until the parent is done
    sim.stop()


def _read(
    url: str, key: str, *, trace: bool
) -> tuple[int, str, float, int, RequestStats, RateBudget | None]:
    """Stream the fleet once; (count, last iccid, seconds, peak traced bytes, stats, budget)."""
    from reconciler.clock import SystemClock
    from reconciler.smarthub import SmartHubClient

    with SmartHubClient(url, key, clock=SystemClock()) as api:
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        count = 0
        last = ""
        for sim in api.iter_sims():  # streamed: nothing is kept but the count
            count += 1
            last = sim.iccid
        elapsed = time.perf_counter() - started
        peak = 0
        if trace:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        return count, last, elapsed, peak, api.stats(), api.rate_budget()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=100_000)
    parser.add_argument("--db", type=Path, default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        db = str(args.db or Path(tmp) / "bench.db")
        parent, child = multiprocessing.Pipe()
        process = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(db, args.sims, child), daemon=True
        )
        process.start()
        url, key, startup = parent.recv()
        print(f"simulator: {url} ready in {startup:.1f} s (seeding included), {args.sims} SIMs")
        try:
            import reconciler.smarthub  # noqa: F401 - imported before the "before" RSS

            rss_before = _rss_mib()
            # pass 1: timed, untraced (tracemalloc slows every allocation several times)
            count, last, elapsed, _, stats, budget = _read(url, key, trace=False)
            # pass 2: the same read under tracemalloc, for the client's peak memory
            count2, _, elapsed2, peak, stats2, _ = _read(url, key, trace=True)
        finally:
            parent.send("stop")
            process.join(30)
    pages = math.ceil(args.sims / 100)
    print(f"SIMs read:        {count} (last {last})")
    print(f"requests:         {stats.requests} (pages {pages}, extra {stats.requests - pages})")
    print(f"retries / 429s:   {stats.retries} / {stats.rate_limited}")
    print(f"wall time:        {elapsed:.2f} s ({count / elapsed:,.0f} SIMs/s)")
    print(
        f"peak traced:      {peak / 2**20:.2f} MiB (tracemalloc over a second read of "
        f"{count2} SIMs, {stats2.requests} requests, {elapsed2:.2f} s traced)"
    )
    print(
        f"RSS:              {rss_before:.1f} MiB before, {_rss_mib():.1f} MiB after, "
        f"peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB"
    )
    if budget is not None:
        print(f"rate budget:      {budget.remaining}/{budget.limit} left")
    ok = count == count2 == args.sims and stats.requests <= pages + 5
    if not ok:
        print("FAILED: wrong count or too many requests", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: the simulator holding a million SIMs, read and written by a bare httpx loop.

Run from the repository root::

    PYTHONPATH=. .venv/bin/python bench/sim_scale.py [--sims 1000000] [--db FILE]

Starts ``fleetform sim serve --sims N`` (the real command, in a child process) on a new
database with the rate limit lifted (``--rate-limit 1000000000/3600``: the default 5,000 an hour
would stop the full read after half its pages), then prints:

- seeding: the time until the server answered on a new database, the same on the seeded
  database after a restart, and their difference (the seeding itself); the database's size;
- list pages (size 100): page 1 against page 9,000 (the last page when the fleet is smaller),
  and the same for a status-filtered list (``status=ACTIVATED``): median of 5 each;
- 100 single GETs of SIMs spread over the fleet;
- writes: one batch job suspending 1,000 SIMs (POST to COMPLETED) and 100 single basic-plan
  changes; then the change history ``since`` just before them, read page by page through
  ``Link`` (it must hold exactly those 1,100 entries), and a deep page of it;
- the whole fleet read page by page through ``Link`` (10,000 requests at 1,000,000 SIMs).

``--db FILE`` keeps the database (a later run on it skips seeding: its "seeding" is then 0).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from simulator_process import API_KEY, SimulatorProcess

from reconciler.simulator import giccid_for


class Server(SimulatorProcess):
    def __init__(self, db: Path, sims: int) -> None:
        super().__init__(db, sims)
        self.ready_cpu = self.cpu()


def timed(call: Callable[[], Any], repeat: int = 5) -> float:
    """Median milliseconds of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def get_ok(client: httpx.Client, url: str, **params: Any) -> httpx.Response:
    response = client.get(url, params=params or None)
    response.raise_for_status()
    return response


def read_all(client: httpx.Client, url: str, **params: Any) -> tuple[int, int, float]:
    """Follow ``Link: next`` from the first page: (items, requests, seconds)."""
    started = time.perf_counter()
    response = get_ok(client, url, **params)
    items, requests = len(response.json()), 1
    while "next" in response.links:
        response = get_ok(client, response.links["next"]["url"])
        items += len(response.json())
        requests += 1
    return items, requests, time.perf_counter() - started


def wait_for_job(client: httpx.Client, url: str) -> dict[str, Any]:
    while True:
        job: dict[str, Any] = get_ok(client, url).json()
        if job["status"] not in ("PENDING", "PROCESSING"):
            return job
        time.sleep(0.02)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=1_000_000, help="acme SIMs to seed")
    parser.add_argument("--db", type=Path, help="keep the database here (reused when present)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sim-scale-") as directory:
        db = args.db or Path(directory) / "sim.db"
        return run(db, args.sims)


def run(db: Path, sims: int) -> int:
    print(f"simulator with --sims {sims:,} on {db}")
    server = Server(db, sims)
    cold, cold_cpu = server.ready, server.ready_cpu
    server.stop()
    server = Server(db, sims)
    warm, warm_cpu = server.ready, server.ready_cpu
    size = sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))
    print(f"load average before: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(
        f"ready on a new database: {cold:.1f} s ({cold_cpu:.1f} s CPU); "
        f"on the seeded one: {warm:.1f} s ({warm_cpu:.1f} s CPU)"
    )
    print(
        f"seeding {sims:,} SIMs: {cold - warm:.1f} s ({cold_cpu - warm_cpu:.1f} s CPU); "
        f"database {size / 2**20:,.0f} MiB"
    )
    try:
        measure(server, sims)
    finally:
        server.stop()
    return 0


def measure(server: Server, sims: int) -> None:
    url = server.url
    headers = {"X-API-Key": API_KEY}
    with httpx.Client(base_url=url + "/", headers=headers, timeout=60, verify=False) as client:
        first = get_ok(client, "global-sims", size=100)
        total = int(first.headers["X-Total-Count"])
        deep = min(9000, -(-total // 100))
        page1 = timed(lambda: get_ok(client, "global-sims", page=1, size=100))
        page_deep = timed(lambda: get_ok(client, "global-sims", page=deep, size=100))
        print(f"list page 1: {page1:.1f} ms; page {deep:,}: {page_deep:.1f} ms (median of 5)")

        activated = int(
            get_ok(client, "global-sims", status="ACTIVATED", size=1).headers["X-Total-Count"]
        )
        last = -(-activated // 100)
        status1 = timed(lambda: get_ok(client, "global-sims", status="ACTIVATED", size=100))
        status_deep = timed(
            lambda: get_ok(client, "global-sims", status="ACTIVATED", page=last, size=100)
        )
        print(
            f"status=ACTIVATED ({activated:,} SIMs) page 1: {status1:.1f} ms; "
            f"page {last:,} (the last): {status_deep:.1f} ms"
        )
        stats = timed(lambda: get_ok(client, "global-sims/statistics"))
        print(f"statistics: {stats:.1f} ms")

        rng = random.Random(7)
        acme = [i for i in rng.sample(range(total + total // 9), 120) if i % 10 != 9][:100]
        giccids = [giccid_for(i) for i in acme]
        started = time.perf_counter()
        for giccid in giccids:
            get_ok(client, f"global-sims/{giccid}")
        gets = time.perf_counter() - started
        print(f"100 single GETs: {gets * 1000:.0f} ms ({gets * 10:.1f} ms each)")

        since = time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(time.time() - 1))
        targets: list[str] = []
        page = max(1, last // 2)
        while len(targets) < 1000:  # ten pages of ACTIVATED SIMs from the middle of the list
            found = get_ok(client, "global-sims", status="ACTIVATED", page=page, size=100)
            targets += [sim["giccid"] for sim in found.json()]
            page += 1
        started = time.perf_counter()
        posted = client.post("batchJobs/global-sims/deactivate", json={"giccids": targets[:1000]})
        posted.raise_for_status()
        job = wait_for_job(client, posted.json()["url"])
        job_time = time.perf_counter() - started
        print(
            f"batch job suspending 1,000 SIMs: {job['status']}, {job['succeeded']} succeeded, "
            f"{job_time:.2f} s from POST to done (0.1 s of it the simulated job delay)"
        )
        writes = get_ok(client, "global-sims", page=max(1, deep // 2), size=100).json()
        started = time.perf_counter()
        changed = 0
        for sim in writes:
            if sim["status"] == "RETIRED":
                continue
            plan = "IoT-Unlimited" if sim["basicServicePackage"] != "IoT-Unlimited" else "IoT-1GB"
            client.put(
                f"global-sims/{sim['giccid']}/servicePackage", json={"servicePackageName": plan}
            ).raise_for_status()
            changed += 1
        put_time = time.perf_counter() - started
        print(
            f"{changed} single basic-plan changes: {put_time * 1000:.0f} ms "
            f"({put_time * 1000 / max(changed, 1):.1f} ms each)"
        )

        entries, requests, seconds = read_all(
            client, "global-sims/changeLogs", since=since, size=100
        )
        expected = job["succeeded"] + changed
        verdict = "as expected" if entries == expected else f"EXPECTED {expected}"
        print(
            f"changeLogs since {since}: {entries:,} entries ({verdict}) in {requests} requests, "
            f"{seconds * 1000:.0f} ms"
        )
        history_last = -(-entries // 100)
        first_history = timed(
            lambda: get_ok(client, "global-sims/changeLogs", since=since, size=100)
        )
        deep_history = timed(
            lambda: get_ok(
                client, "global-sims/changeLogs", since=since, page=history_last, size=100
            )
        )
        print(
            f"changeLogs page 1: {first_history:.1f} ms; page {history_last}: {deep_history:.1f} ms"
        )

        cpu = server.cpu()
        items, requests, seconds = read_all(client, "global-sims", size=100)
        server_ms = (server.cpu() - cpu) * 1000 / requests
        verdict = "every SIM" if items == total else f"EXPECTED {total:,}"
        print(
            f"full paged read: {items:,} SIMs ({verdict}) in {requests:,} requests, "
            f"{seconds:.1f} s ({requests / seconds:.0f} requests/s, "
            f"{seconds * 1000 / requests:.1f} ms each; server CPU {server_ms:.1f} ms a page)"
        )
        print(f"load average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    sys.exit(main())

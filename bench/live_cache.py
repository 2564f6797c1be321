"""Benchmark: the live-state cache at a million SIMs (size on disk, time, peak RSS).

Run from the repository root::

    PYTHONPATH=. .venv/bin/python bench/live_cache.py [--sims 1000000] [--changes 1000]

No API is involved: SIMs drawn like the simulator's seeded fleet (statuses, three basic plans,
~25% with a supplementary plan, one or two APNs, custom1 on ~60%, custom2 an asset tag on ~40%)
are streamed through `FullRefresh.tap` as a full read would, then what an incremental drift
does to the cache is timed: ``--changes`` history entries taken in, a verify slice of 5% of a
full read (500 pages of 100 at a million) recorded, the coverage queried, and every SIM read
back as a `LiveSim` for the diff. Then a second full read over the first (the refresh of a
cache that exists), and the file size again.

Printed: the cache file's size (with its WAL), bytes per SIM, each step's time and the peak RSS.

Measured (2026-12-04, 2 cores shared with five other busy processes, Python 3.11, default
arguments): full read of 1,000,000 SIMs into the cache 143 s (the SIMs' generation included;
a real full read takes two hours of rate budget); cache 110.9 MB (111 bytes per SIM); 1,000
history entries taken in 0.3 s; a 500-page verify slice recorded 9 s; coverage 0.5 s; all
1,000,000 SIMs read back for the diff 40 s; 100,000 declared SIMs checked against it 1.9 s;
a second full read over the first 57 s, cache 113.9 MB; peak RSS 75 MB. One copy of the fleet
only: a full read refreshes rows in place, no second generation.
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from reconciler.live.cache import LiveCache, Via, cache_path
from reconciler.model import ApnStatus, ChangeLogEntry, LiveSim, Status
from reconciler.reporting import RecordingReporter

SITES = ("berlin", "hamburg", "munich", "cologne", "frankfurt", "stuttgart", "leipzig")
PLANS = ("IoT-1GB", "IoT-5GB", "IoT-10GB")


def giccid(i: int) -> str:
    digits = f"894450{i:012d}"
    total = 0
    for n, ch in enumerate(reversed(digits)):
        d = int(ch)
        if n % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return digits + str((10 - total % 10) % 10)


def fleet(count: int, seed: int = 1) -> Iterator[LiveSim]:
    rnd = random.Random(seed)
    for i in range(count):
        roll = rnd.random()
        status = (
            Status.ACTIVE if roll < 0.7 else Status.SUSPENDED if roll < 0.85 else Status.INVENTORY
        )
        supplementary: tuple[str, ...] = ()
        if rnd.random() < 0.15:
            supplementary += ("EU-Roaming-500MB",)
        if rnd.random() < 0.10:
            supplementary += ("US-Roaming-1GB",)
        apns = {"iot.acme": ApnStatus.ENABLED if rnd.random() < 0.9 else ApnStatus.DISABLED}
        if rnd.random() < 0.2:
            apns["backup.acme"] = ApnStatus.ENABLED
        yield LiveSim(
            iccid=giccid(i),
            status=status,
            account="acme",
            rate_plan=rnd.choice(PLANS),
            supplementary_plans=supplementary,
            apns=apns,
            custom_fields={
                "custom1": rnd.choice(SITES) if rnd.random() < 0.6 else None,
                "custom2": f"ASSET-{i:05d}" if rnd.random() < 0.4 else None,
                "custom3": "spare" if rnd.random() < 0.05 else None,
                "custom4": None,
                "custom5": None,
            },
            last_modified_time=datetime.fromtimestamp(1_760_000_000 + i, UTC),
        )


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def full_read(cache: LiveCache, count: int, seed: int) -> float:
    started = time.perf_counter()
    refresh = cache.full_refresh()
    for _ in refresh.tap(fleet(count, seed)):
        pass
    assert refresh.commit()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sims", type=int, default=1_000_000)
    parser.add_argument("--changes", type=int, default=1_000)
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="fleetform-cache-bench-"))
    cache = LiveCache.open(
        state,
        endpoint="http://127.0.0.1:1/v1",
        account="acme",
        reporter=RecordingReporter(),
        clock=time.time,
    )
    path = cache_path(state, "acme")
    took = full_read(cache, args.sims, 1)
    first = size(path)
    print(f"full read of {args.sims:,} SIMs into the cache: {took:.1f} s")
    print(f"cache size: {first / 1e6:.1f} MB ({first / args.sims:.0f} bytes per SIM)")

    rnd = random.Random(2)
    now = time.time()
    entries = [
        ChangeLogEntry(
            giccid(rnd.randrange(args.sims)),
            "status" if n % 3 else "service_package",
            "x",
            "suspended" if n % 3 else "IoT-5GB",
            datetime.fromtimestamp(now + 1 + n / 1000, UTC),
        )
        for n in range(args.changes)
    ]
    started = time.perf_counter()
    cache.take_history(entries, read_at=now + 2, watermark=int(now + 2), anchor=None)
    print(f"{args.changes:,} history entries taken in: {time.perf_counter() - started:.2f} s")

    pages = max(1, args.sims // 100 // 20)
    slice_sims = list(fleet(pages * 100, 3))
    started = time.perf_counter()
    for page in range(pages):
        cache.record_page(slice_sims[page * 100 : (page + 1) * 100], f"page-{page + 2}", at=now + 5)
    print(f"verify slice of {pages:,} pages recorded: {time.perf_counter() - started:.2f} s")

    started = time.perf_counter()
    coverage = cache.coverage()
    print(f"coverage ({coverage.sims:,} SIMs): {time.perf_counter() - started:.2f} s")
    started = time.perf_counter()
    count = sum(1 for _ in cache.iter_live())
    print(f"{count:,} SIMs read back for the diff: {time.perf_counter() - started:.1f} s")
    absent_started = time.perf_counter()
    missing = cache.absent(giccid(i) for i in range(0, args.sims, 10))
    print(
        f"{args.sims // 10:,} declared SIMs checked against the cache: "
        f"{time.perf_counter() - absent_started:.1f} s ({len(missing)} absent)"
    )
    cache.record([next(fleet(1, 4))], via=Via.PUSH)

    took = full_read(cache, args.sims, 5)
    second = size(path)
    print(f"second full read over the first: {took:.1f} s; cache size {second / 1e6:.1f} MB")
    cache.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:.0f} MB")
    print(f"cache under 300 MB: {max(first, second) < 300e6}")


if __name__ == "__main__":
    main()

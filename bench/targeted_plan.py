"""Benchmark: a targeted plan (``--changed-from``) against a full plan of the same fleet.

Starts a simulator seeded with ``--sims`` acme SIMs (loopback socket, in a thread), writes
manifests declaring every SIM into a git repository in a temporary folder (files of 1,000 SIMs,
as one group each), commits, moves ``--changed`` SIMs into a new group with another custom
field, commits again, then measures with the real client:

- the targeted plan: the manifests at HEAD~1 read from git and loaded, the SIMs whose
  declaration changed found, only those read (requests counted by the client), planned;
  wall time of each part;
- the full plan of the same manifests: requests and wall time, for comparison.

Exits 1 when the targeted plan spends more than ``--changed`` + 5 requests (the issue's bound:
1,000 changed SIMs of a million in at most 1,005), or plans other SIMs than those changed.

    python bench/targeted_plan.py [--sims 50000] [--changed 100]
    python bench/targeted_plan.py --sims 1000000 --changed 1000
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from reconciler.live.read import run_plan  # noqa: E402
from reconciler.live.targeted import target  # noqa: E402
from reconciler.manifest import load_fleet  # noqa: E402
from reconciler.model import Status  # noqa: E402
from reconciler.reporting import NullReporter  # noqa: E402
from reconciler.simulator import SimulatorConfig, start_in_thread  # noqa: E402
from reconciler.smarthub.client import SmartHubClient  # noqa: E402

FILE_SIMS = 1000
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, env={**os.environ, **GIT_ENV}, check=True)


def group(name: str, custom4: str, iccids: list[str]) -> str:
    return (
        f"apiVersion: fleetform/v1\nkind: SimGroup\nmetadata: {{name: {name}}}\nspec:\n"
        f"  customFields: {{custom4: {custom4}}}\n  sims:\n"
        + "".join(f'    - "{i}"\n' for i in iccids)
    )


def write(manifests: Path, iccids: list[str], changed: set[str]) -> None:
    for old in manifests.glob("*.yaml"):
        old.unlink()
    (manifests / "fleet.yaml").write_text(
        "apiVersion: fleetform/v1\nkind: Fleet\nmetadata: {name: bench}\n"
        "spec: {account: acme, unmanaged: ignore}\n"
    )
    rest = [i for i in iccids if i not in changed]
    for n in range(0, len(rest), FILE_SIMS):
        name = f"part-{n // FILE_SIMS:04d}"
        (manifests / f"{name}.yaml").write_text(group(name, "bench", rest[n : n + FILE_SIMS]))
    if changed:
        (manifests / "pilot.yaml").write_text(group("pilot", "pilot", sorted(changed)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=50_000)
    parser.add_argument("--changed", type=int, default=100)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        sim = start_in_thread(
            SimulatorConfig(db_path=folder / "sim.db", sims=args.sims, rate_limit=10**9)
        )
        print(f"simulator seeded with {args.sims:,} SIMs in {time.perf_counter() - started:.1f} s")
        try:
            with SmartHubClient(sim.url, sim.api_key) as api:
                live = sorted(api.iter_sims(account="acme"), key=lambda s: s.iccid)
            iccids = [s.iccid for s in live]
            # SIMs that can change (a retired one's change would be a problem, not a step)
            active = [s.iccid for s in live if s.status is Status.ACTIVE]
            step = max(1, len(active) // args.changed)
            changed = set(active[::step][: args.changed])
            del live
            repo = folder / "fleet"
            manifests = repo / "manifests"
            manifests.mkdir(parents=True)
            git(repo, "init", "-q")
            write(manifests, iccids, set())
            git(repo, "add", "-A")
            git(repo, "commit", "-q", "-m", "fleet")
            write(manifests, iccids, changed)
            git(repo, "add", "-A")
            git(repo, "commit", "-q", "-m", "pilot")

            reporter = NullReporter()
            with SmartHubClient(sim.url, sim.api_key) as api:
                t0 = time.perf_counter()
                desired = load_fleet([manifests])
                t1 = time.perf_counter()
                found = target("HEAD~1", [manifests], desired, reporter)
                t2 = time.perf_counter()
                plan = run_plan(api, desired, reporter, created_at="bench", target=found)
                t3 = time.perf_counter()
                targeted_requests = api.stats().requests
            planned = {s.iccid for step in plan.steps for s in step.sims}
            print(
                f"targeted plan: {len(found.iccids):,} SIMs changed of {len(desired.sims):,}, "
                f"{targeted_requests:,} requests ({plan.targeted.read_by if plan.targeted else '?'}"
                f" reads), {t3 - t0:.1f} s: load {t1 - t0:.1f} s, git + load at HEAD~1 + "
                f"compare {t2 - t1:.1f} s, read + plan {t3 - t2:.1f} s"
            )
            with SmartHubClient(sim.url, sim.api_key) as api:
                t4 = time.perf_counter()
                full = run_plan(api, desired, reporter, created_at="bench")
                t5 = time.perf_counter()
                full_requests = api.stats().requests
            print(
                f"full plan:     {full.summary.sims_read:,} SIMs read, {full_requests:,} "
                f"requests, {t5 - t4:.1f} s (read + plan, the manifests already loaded)"
            )
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"peak RSS of the whole run (simulator included): {rss:,.0f} MB")
        finally:
            sim.stop()
    ok = targeted_requests <= args.changed + 5 and planned == changed
    if not ok:
        print(
            f"FAIL: {targeted_requests} requests (at most {args.changed + 5}), planned SIMs "
            f"{'match' if planned == changed else 'differ from those changed'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

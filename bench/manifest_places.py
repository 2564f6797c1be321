"""Benchmark: load a manifest set the fast way, then ask the places of a share of its SIMs.

What ``plan`` does with the manifests apart from the network: load them (`load_manifests`),
then, for every changed SIM, read where each changed field was declared (the plan shows it
beside the change and stores it). Both forms: one mapping per SIM (what ``export`` writes once
SIMs differ) and bare ICCID lists under groups. Each run is a fresh interpreter, so the figures
are the loader's alone: load CPU and wall seconds, places CPU seconds, the resident memory the
loaded fleet holds (RSS after the load minus before), and the peak (``ru_maxrss``).

    python bench/manifest_places.py [--sims 100000] [--share 0.1] [--forms mappings,lists]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from reconciler.manifest.iccid import with_check_digit  # noqa: E402

FILE_SIMS = 1000
PLANS = ("IoT-1GB", "IoT-5GB", "IoT-10GB")
FLEET = """\
apiVersion: fleetform/v1
kind: Fleet
metadata: {name: bench}
spec:
  account: acme
  defaults:
    state: active
  guards: {maxChanges: "15%", allowRetire: true}
"""


def _iccid(n: int) -> str:
    return with_check_digit(f"894450{n:012d}")


def write_mappings(directory: Path, sims: int, seed: int = 7) -> None:
    """One mapping per SIM, every field declared (as `bench/plan_scale.py` writes them)."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "fleet.yaml").write_text(FLEET, encoding="utf-8")
    for number, start in enumerate(range(0, sims, FILE_SIMS)):
        lines = [
            "apiVersion: fleetform/v1\nkind: SimGroup\n",
            f"metadata: {{name: group-{number:04d}}}\n",
            "spec:\n  sims:\n",
        ]
        for n in range(start, min(start + FILE_SIMS, sims)):
            plans = ", ".join(rng.sample(["EU-Roaming-500MB", "US-Roaming-1GB"], rng.randrange(3)))
            custom = f'"site-{rng.randrange(10_000)}"' if rng.random() < 0.7 else "null"
            lines.append(
                f'    - {{iccid: "{_iccid(n)}", state: {rng.choice(("active", "suspended"))}, '
                f"ratePlan: {rng.choice(PLANS)}"
                + (f", supplementaryPlans: [{plans}]" if plans else "")
                + f", apns: {{iot.acme: {rng.choice(('enabled', 'disabled'))}}}, "
                f"customFields: {{custom1: {custom}}}}}\n"
            )
        (directory / f"group-{number:04d}.yaml").write_text("".join(lines), encoding="utf-8")


def write_lists(directory: Path, sims: int, seed: int = 7) -> None:
    """Bare ICCIDs under groups that declare the values, two groups per file."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "fleet.yaml").write_text(FLEET, encoding="utf-8")
    half = FILE_SIMS // 2
    for number, start in enumerate(range(0, sims, FILE_SIMS)):
        docs = []
        for part, first in enumerate(range(start, min(start + FILE_SIMS, sims), half)):
            lines = [
                "apiVersion: fleetform/v1\nkind: SimGroup\n",
                f"metadata: {{name: group-{number:04d}-{part}}}\n",
                f"spec:\n  ratePlan: {rng.choice(PLANS)}\n",
                "  apns: {iot.acme: enabled}\n",
                f"  customFields: {{custom1: site-{number}}}\n  sims:\n",
            ]
            lines.extend(f'    - "{_iccid(n)}"\n' for n in range(first, min(first + half, sims)))
            docs.append("".join(lines))
        (directory / f"groups-{number:04d}.yaml").write_text("---\n".join(docs), encoding="utf-8")


_CHILD = """
import json, random, resource, sys, time, os
sys.path.insert(0, sys.argv[3])
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1048576
from reconciler.manifest import load_manifests
from reconciler.manifest.loader import default_validator
default_validator()
before = rss()
c0, w0 = time.process_time(), time.perf_counter()
manifests = load_manifests([sys.argv[1]])
c1, w1 = time.process_time(), time.perf_counter()
held = rss() - before
sims = manifests.fleet.sims
rng = random.Random(1)
chosen = rng.sample(sorted(sims), int(len(sims) * float(sys.argv[2])))
texts = 0
c2 = time.process_time()
for iccid in chosen:
    sim = sims[iccid]
    texts += len(str(sim.source))
    texts += sum(len(str(ref)) for ref in sim.field_sources.values())
c3 = time.process_time()
print(json.dumps({"load_cpu": c1 - c0, "load_wall": w1 - w0, "places_cpu": c3 - c2,
                  "held_mb": held,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "sims": len(sims), "asked": len(chosen)}))
"""


def measure(directory: Path, share: float) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(directory), str(share), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if result.returncode != 0:
        raise SystemExit(f"the load failed:\n{result.stderr}")
    figures: dict[str, float] = json.loads(result.stdout)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sims", type=int, default=100_000)
    parser.add_argument("--share", type=float, default=0.1)
    parser.add_argument("--forms", default="mappings,lists")
    args = parser.parse_args(argv)
    for form in args.forms.split(","):
        with tempfile.TemporaryDirectory() as scratch:
            directory = Path(scratch) / "fleet"
            (write_mappings if form == "mappings" else write_lists)(directory, args.sims)
            f = measure(directory, args.share)
        print(
            f"{form}: {f['sims']:,} SIMs: load {f['load_cpu']:.2f} s CPU ({f['load_wall']:.2f} s "
            f"wall); places of {f['asked']:,} SIMs {f['places_cpu']:.2f} s CPU; fleet holds "
            f"{f['held_mb']:.0f} MB; peak RSS {f['peak_mb']:.0f} MB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

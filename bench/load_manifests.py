"""Benchmark: load and validate 100,000 SIMs across 200 manifest files.

Writes a deterministic manifest set into a temporary directory (or ``--dir``), then loads it
with `reconciler.manifest.load_manifests` in a fresh child process, so the figures are the
loader's alone: wall time of the load, and the child's peak resident memory (``ru_maxrss``,
the interpreter's own ~30 MB included). Prints both; exits 1 when over the limits
(10 s, 500 MB) so CI can run it as a check.

    python bench/load_manifests.py [--sims 100000] [--files 200] [--dir DIR]
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

LIMIT_SECONDS = 10.0
LIMIT_MB = 500.0
SITES = ("berlin", "hamburg", "munich", "cologne", "frankfurt", "stuttgart")
PLANS = ("IoT-1GB", "IoT-5GB", "IoT-10GB")

FLEET = """\
# yaml-language-server: $schema=../schemas/fleet.schema.json
apiVersion: fleetform/v1
kind: Fleet
metadata: {name: bench}
spec:
  account: acme
  defaults:
    state: active
    apns: {iot.acme: enabled}
  guards: {maxChanges: "10%"}
"""


def _entry(rng: random.Random, iccid: str) -> str:
    """Four in five SIMs are a plain ICCID; the rest override one to three settings."""
    if rng.random() < 0.8:
        return f'    - "{iccid}"\n'
    fields: list[str] = []
    if rng.random() < 0.5:
        fields.append(f"state: {rng.choice(('suspended', 'active'))}")
    if rng.random() < 0.3:
        fields.append(f"ratePlan: {rng.choice(PLANS)}")
    if rng.random() < 0.3:
        fields.append("supplementaryPlans: [EU-Roaming-500MB]")
    if rng.random() < 0.3:
        fields.append(f"apns: {{backup.acme: {rng.choice(('enabled', 'disabled'))}}}")
    if not fields or rng.random() < 0.4:
        fields.append(f'customFields: {{custom2: "ASSET-{rng.randrange(100000):05d}"}}')
    return f'    - {{iccid: "{iccid}", {", ".join(fields)}}}\n'


def write_manifests(directory: Path, sims: int, files: int, seed: int = 7) -> None:
    """``files`` SimGroup files (two groups per file, every other file) plus one Fleet file."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "fleet.yaml").write_text(FLEET, encoding="utf-8")
    index = 0
    for number in range(files):
        count = sims // files + (1 if number < sims % files else 0)
        groups = 2 if number % 2 else 1
        parts: list[str] = []
        for part in range(groups):
            size = count // groups + (count % groups if part == groups - 1 else 0)
            site = SITES[number % len(SITES)]
            lines = [
                "apiVersion: fleetform/v1\nkind: SimGroup\n",
                f"metadata: {{name: {site}-{number:03d}-{part}}}\n",
                f"spec:\n  ratePlan: {PLANS[number % len(PLANS)]}\n",
                f"  customFields: {{custom1: {site}}}\n  sims:\n",
            ]
            for _ in range(size):
                lines.append(_entry(rng, with_check_digit(f"894450{index:012d}")))
                index += 1
            parts.append("".join(lines))
        (directory / f"group-{number:03d}.yaml").write_text("---\n".join(parts), encoding="utf-8")


_CHILD = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[2])
from reconciler.manifest import load_manifests
started = time.perf_counter()
manifests = load_manifests([sys.argv[1]])
seconds = time.perf_counter() - started
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_mb": peak_kb / 1024,
                  "sims": len(manifests.fleet.sims), "groups": len(manifests.groups),
                  "files": len(manifests.fleet.files)}))
"""


def measure(directory: Path) -> dict[str, float]:
    """Load ``directory`` in a fresh interpreter; its time and peak memory."""
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(directory), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if result.returncode != 0:
        raise SystemExit(f"the load failed:\n{result.stderr}")
    figures: dict[str, float] = json.loads(result.stdout)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sims", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--dir", type=Path, help="write the manifests here (kept)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        directory = args.dir or Path(scratch) / "fleet"
        write_manifests(directory, args.sims, args.files)
        figures = measure(directory)
    print(
        f"loaded {figures['sims']:,.0f} SIMs in {figures['groups']:,.0f} groups across "
        f"{figures['files']:,.0f} files"
    )
    print(f"load + validate: {figures['seconds']:.2f} s (limit {LIMIT_SECONDS:.0f} s)")
    print(f"peak memory:     {figures['peak_mb']:.0f} MB (limit {LIMIT_MB:.0f} MB)")
    ok = figures["seconds"] < LIMIT_SECONDS and figures["peak_mb"] < LIMIT_MB
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

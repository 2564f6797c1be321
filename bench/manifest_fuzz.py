"""Manifest fuzz, full run: 305 damaged manifest sets through the real CLI, each command in its
own process, against a simulator that counts every request.

Run from the repository root::

    PYTHONPATH=. .venv/bin/python bench/manifest_fuzz.py [--count 305] [--seed 12]
        [--timeout 60] [--no-heavy]

The sets come from `tests.manifest_fuzz.make_cases` (copies of ``examples/fleet``, each damaged
one way: symlink loops, broken links, a FIFO, ``/dev/zero``, files over and just under the
20 MiB limit, nesting 10,000 deep, binary junk, NUL bytes, anchors, tabs, and random damage of
the YAML). For each set ``fleetform validate DIR`` runs, then ``fleetform plan DIR``.

Checked and printed: tracebacks (any ``Traceback`` in the output), hangs (a command still
running after ``--timeout`` seconds), wrong exit codes (validate: the case's expectation, or 0/1
for random damage; a problem placed at ``file:line:column``; plan: 1 when validate said invalid,
0/1/2 otherwise) and requests sent for an invalid set (the simulator's counter before and after
its plan). Exit status 0 when all four are zero.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reconciler.simulator import SimulatorConfig, start_in_thread  # noqa: E402
from tests.manifest_fuzz import make_cases  # noqa: E402

PROBLEM_LINE = re.compile(r"^\S.*:\d+:\d+: \S", re.M)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=305)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--no-heavy", action="store_true", help="skip the 20 MiB files")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        started = time.perf_counter()
        cases = make_cases(
            ROOT / "examples" / "fleet",
            work / "sets",
            args.count,
            args.seed,
            heavy=not args.no_heavy,
        )
        print(f"{len(cases)} manifest sets made in {time.perf_counter() - started:.1f} s")
        config = SimulatorConfig(db_path=work / "sim.db", sims=1000, job_delay=0.05)
        with start_in_thread(config) as sim:
            env = {
                k: v for k, v in os.environ.items() if not k.startswith(("SMARTHUB_", "FLEETFORM_"))
            }
            env.update(
                PYTHONPATH=str(ROOT),
                NO_COLOR="1",
                SMARTHUB_ENDPOINT=sim.url,
                SMARTHUB_API_KEY=sim.api_key,
                FLEETFORM_STATE_DIR=str(work / "state"),
            )
            failures: dict[str, list[str]] = {
                "traceback": [],
                "hang": [],
                "exit code": [],
                "request for an invalid set": [],
            }
            verdicts = {0: 0, 1: 0}
            slowest = (0.0, "")

            def run(*command: str) -> tuple[int | None, str, float]:
                began = time.perf_counter()
                try:
                    done = subprocess.run(
                        [sys.executable, "-m", "reconciler", *command],
                        env=env,
                        cwd=work,
                        capture_output=True,
                        text=True,
                        errors="replace",
                        timeout=args.timeout,
                    )
                except subprocess.TimeoutExpired:
                    return None, "", time.perf_counter() - began
                return done.returncode, done.stdout + done.stderr, time.perf_counter() - began

            for case in cases:
                label = case.path.name
                code, output, took = run("validate", str(case.path))
                slowest = max(slowest, (took, f"validate {label}"))
                if code is None:
                    failures["hang"].append(f"validate {label}")
                    continue
                if "Traceback" in output:
                    failures["traceback"].append(f"validate {label}")
                expected = {"valid": (0,), "invalid": (1,)}.get(case.expect, (0, 1))
                if code not in expected or (code == 1 and not PROBLEM_LINE.search(output)):
                    failures["exit code"].append(f"validate {label}: {code}")
                    continue
                verdicts[code] += 1
                before = sim.counters().get("requests", 0)
                plan_code, plan_output, took = run("plan", str(case.path))
                slowest = max(slowest, (took, f"plan {label}"))
                if plan_code is None:
                    failures["hang"].append(f"plan {label}")
                    continue
                if "Traceback" in plan_output:
                    failures["traceback"].append(f"plan {label}")
                if code == 1:
                    if plan_code != 1:
                        failures["exit code"].append(f"plan {label}: {plan_code}")
                    if sim.counters().get("requests", 0) != before:
                        failures["request for an invalid set"].append(label)
                elif plan_code not in (0, 1, 2):
                    failures["exit code"].append(f"plan {label}: {plan_code}")

    print(
        f"{len(cases)} sets: {verdicts[1]} invalid, {verdicts[0]} valid "
        f"(validate and plan each in its own process) in {time.perf_counter() - started:.0f} s"
    )
    print(f"slowest command: {slowest[1]} {slowest[0]:.1f} s")
    for what, cases_failed in failures.items():
        print(
            f"{what}: {len(cases_failed)}"
            + (f" ({', '.join(cases_failed[:5])})" if cases_failed else "")
        )
    return 0 if not any(failures.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

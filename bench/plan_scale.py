"""Benchmark: plan 100,000 SIMs against the simulator, 10% of them differing in mixed ways.

Starts a simulator seeded with ``--sims`` acme SIMs (on a loopback socket, in a thread), reads
the account once to write manifests declaring every SIM (files of 1,000 SIMs), changes 10% of
them in the manifests (state moves, basic plans, custom fields, APNs, supplementary plans, a few
retirements, some SIMs with two changes), then measures:

- the read: requests spent by `run_plan` reading the account (ceil(N/100) pages + 1 catalogue);
- planning CPU apart from the network: `diff_fleet` + `make_plan` + `seal` over the live SIMs
  already in memory (``time.process_time``; the simulator is idle meanwhile);
- peak memory of that planning (tracemalloc, a second run) and the process's max RSS (which
  also holds the simulator and its SQLite cache, so it is an upper bound);
- the plan's write requests against the naive count (one call per changed field);
- the markdown size (must stay under 65,000) and the JSON plan size.

Exits 1 when planning CPU is over 5 s or peak planning memory over 1 GB.

    python bench/plan_scale.py [--sims 100000] [--share 0.1] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from reconciler.commands.plan import run_plan  # noqa: E402
from reconciler.diff import diff_fleet  # noqa: E402
from reconciler.manifest import load_fleet  # noqa: E402
from reconciler.model import LiveSim, Status  # noqa: E402
from reconciler.planfile import plan_to_json, seal  # noqa: E402
from reconciler.planner import make_plan  # noqa: E402
from reconciler.render.plan_markdown import render_plan_markdown  # noqa: E402
from reconciler.render.plan_summary import summary_line  # noqa: E402
from reconciler.reporting import NullReporter  # noqa: E402
from reconciler.simulator import SimulatorConfig, start_in_thread  # noqa: E402
from reconciler.smarthub.client import SmartHubClient  # noqa: E402

LIMIT_CPU_SECONDS = 5.0
LIMIT_MEMORY_BYTES = 1 << 30
BASIC = ("IoT-1GB", "IoT-5GB", "IoT-10GB", "IoT-Unlimited")
SUPPLEMENTARY = ("EU-Roaming-500MB", "US-Roaming-1GB")
SITES = ("berlin", "hamburg", "munich", "cologne", "frankfurt", "stuttgart")
FILE_SIMS = 1000

FLEET = """\
apiVersion: fleetform/v1
kind: Fleet
metadata: {name: bench}
spec:
  account: acme
  unmanaged: report
  guards: {maxChanges: "15%", allowRetire: true}
"""


def _q(value: str | None) -> str:
    return "null" if value is None else '"' + value.replace('"', '\\"') + '"'


def _entry(sim: LiveSim, fields: dict[str, object]) -> str:
    parts = [f'iccid: "{sim.iccid}"']
    if "state" in fields:
        parts.append(f"state: {fields['state']}")
    parts.append(f"ratePlan: {fields['ratePlan']}")
    plans = fields["supplementaryPlans"]
    assert isinstance(plans, tuple)
    if plans:
        parts.append(f"supplementaryPlans: [{', '.join(plans)}]")
    parts.append(f"apns: {{iot.acme: {fields['apn']}}}")
    custom1 = fields["custom1"]
    assert custom1 is None or isinstance(custom1, str)
    parts.append(f"customFields: {{custom1: {_q(custom1)}}}")
    return "    - {" + ", ".join(parts) + "}\n"


def _declared(sim: LiveSim) -> dict[str, object]:
    """The manifest entry that matches the live SIM exactly."""
    fields: dict[str, object] = {
        "ratePlan": sim.rate_plan,
        "supplementaryPlans": tuple(sorted(sim.supplementary_plans)),
        "apn": (sim.apns.get("iot.acme") or "enabled"),
        "custom1": sim.custom_fields.get("custom1") or None,
    }
    if sim.status in (Status.ACTIVE, Status.SUSPENDED, Status.RETIRED):
        fields["state"] = sim.status.value
    if "iot.acme" not in sim.apns:
        fields["apn"] = "enabled"
    return fields


def _mutate(rng: random.Random, sim: LiveSim, fields: dict[str, object]) -> int:
    """Change one or two managed fields in a way the state machine allows; returns how many."""
    kinds = ["state", "ratePlan", "custom1", "apn", "subscribe"]
    count = 2 if rng.random() < 0.3 else 1
    changed = 0
    for kind in rng.sample(kinds, count):
        if kind == "state":
            if sim.status is Status.ACTIVE:
                fields["state"] = "retired" if rng.random() < 0.15 else "suspended"
            elif sim.status is Status.SUSPENDED:
                fields["state"] = "active"
            else:  # pre-service
                fields["state"] = "active"
        elif kind == "ratePlan":
            fields["ratePlan"] = rng.choice([p for p in BASIC if p != sim.rate_plan])
        elif kind == "custom1":
            fields["custom1"] = f"site-{rng.randrange(10_000)}"
        elif kind == "apn":
            fields["apn"] = "disabled" if fields["apn"] == "enabled" else "enabled"
        else:
            missing = [p for p in SUPPLEMENTARY if p not in sim.supplementary_plans]
            if sim.status is not Status.ACTIVE or not missing:
                continue
            plans = fields["supplementaryPlans"]
            assert isinstance(plans, tuple)
            fields["supplementaryPlans"] = tuple(sorted((*plans, missing[0])))
        changed += 1
    if not changed:  # a subscribe that was not possible: change a custom field instead
        fields["custom1"] = f"site-{rng.randrange(10_000)}"
        changed = 1
    return changed


def write_manifests(
    directory: Path, sims: list[LiveSim], share: float, seed: int
) -> tuple[int, int]:
    """Manifests for every SIM; ``share`` of the non-retired ones changed. Returns (SIMs
    changed, fields changed)."""
    rng = random.Random(seed)
    candidates = [i for i, s in enumerate(sims) if s.status is not Status.RETIRED]
    chosen = set(rng.sample(candidates, int(len(sims) * share)))
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "fleet.yaml").write_text(FLEET, encoding="utf-8")
    changed_sims = changed_fields = 0
    for number, start in enumerate(range(0, len(sims), FILE_SIMS)):
        site = SITES[number % len(SITES)]
        lines = [
            "apiVersion: fleetform/v1\nkind: SimGroup\n",
            f"metadata: {{name: {site}-{number:03d}}}\n",
            "spec:\n  sims:\n",
        ]
        for index in range(start, min(start + FILE_SIMS, len(sims))):
            sim = sims[index]
            fields = _declared(sim)
            if index in chosen:
                n = _mutate(rng, sim, fields)
                changed_sims += n > 0
                changed_fields += n
            lines.append(_entry(sim, fields))
        (directory / f"group-{number:03d}.yaml").write_text("".join(lines), encoding="utf-8")
    return changed_sims, changed_fields


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=100_000)
    parser.add_argument("--share", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        config = SimulatorConfig(db_path=Path(tmp) / "sim.db", sims=args.sims, job_delay=0.05)
        t0 = time.perf_counter()
        sim = start_in_thread(config)
        print(f"simulator seeded with {args.sims:,} acme SIMs in {time.perf_counter() - t0:.1f} s")
        try:
            with SmartHubClient(sim.url, sim.api_key) as api:
                live = list(api.iter_sims(account="acme"))
                manifests = Path(tmp) / "fleet"
                changed_sims, changed_fields = write_manifests(
                    manifests, live, args.share, args.seed
                )
                t0 = time.perf_counter()
                desired = load_fleet([manifests])
                load_seconds = time.perf_counter() - t0
                print(
                    f"manifests: {len(desired.sims):,} SIMs declared in "
                    f"{len(list(manifests.iterdir()))} files, loaded in {load_seconds:.2f} s "
                    f"(the loader's, not planning); {changed_sims:,} SIMs changed in "
                    f"{changed_fields:,} fields"
                )

                t0 = time.perf_counter()
                plan = run_plan(api, desired, NullReporter(), created_at="bench")
                wall = time.perf_counter() - t0
                pages = -(-args.sims // 100)
                print(
                    f"read: {plan.summary.requests_read:,} requests "
                    f"({pages:,} pages of 100 + {plan.summary.requests_read - pages} catalogue), "
                    f"whole plan over the network {wall:.2f} s wall"
                )
                catalogue = api.service_packages("acme")
                budget = api.rate_budget()
        finally:
            sim.stop()

    def plan_once() -> object:
        diff = diff_fleet(desired, live)
        return seal(
            make_plan(
                desired,
                diff,
                catalogue,
                endpoint="http://bench/v1",
                account="acme",
                requests_read=plan.summary.requests_read,
                rate_budget=budget,
                created_at="bench",
            )
        )

    cpu0 = time.process_time()
    plan_once()
    cpu = time.process_time() - cpu0
    tracemalloc.start()
    plan_once()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    naive = sum(len(d.changes) for d in diff_fleet(desired, live).changed)
    batches = sum(1 for s in plan.steps if s.batch)
    markdown = render_plan_markdown(plan)
    print(
        f"planning CPU apart from the network (diff + plan + checksum): {cpu:.2f} s "
        f"(limit {LIMIT_CPU_SECONDS:.0f} s)"
    )
    print(
        f"peak memory of planning (tracemalloc): {peak / 2**20:.0f} MB "
        f"(limit 1 GB); process max RSS incl. simulator and live list: {rss / 2**20:.0f} MB"
    )
    print(
        f"plan: {plan.summary.to_change:,} SIMs to change, {len(plan.steps):,} steps "
        f"({batches} batch jobs) in {len(plan.waves)} waves; {summary_line(plan)}"
    )
    writes = sum(step.requests for step in plan.steps)
    print(
        f"write requests: {writes:,} planned vs {naive:,} naive (one call per changed field); "
        f"{plan.summary.requests_estimated:,} with apply's live re-check of each wave"
    )
    json_mb = len(plan_to_json(plan)) / 2**20
    print(
        f"markdown: {len(markdown):,} characters; JSON plan: {json_mb:.1f} MB; "
        f"problems: {len(plan.problems)}"
    )
    ok = cpu <= LIMIT_CPU_SECONDS and peak <= LIMIT_MEMORY_BYTES and len(markdown) < 65_000
    print("OK" if ok else "OVER THE LIMITS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

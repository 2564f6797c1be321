"""Benchmark: ``fleetform plan`` of 100,000 SIMs, 10% changed, against a bare HTTP client.

Starts the simulator in its own process (``fleetform sim serve`` on a loopback port, seeded with
``--sims`` acme SIMs), reads the account once to write two manifest sets declaring every SIM,
10% of them changed in mixed ways (state moves, basic plans, custom fields, APNs, supplementary
plans, a few retirements, some SIMs with two changes):

- ``mappings``: one mapping per SIM (the form ``export`` writes once SIMs differ), 1,000 a file;
- ``lists``: SimGroups of bare ICCID lists, one group per combination of declared values.

Then, for each form, ``--repeat`` times, one after the other against the same simulator:

- a bare httpx loop reading the same pages (``GET /global-sims?size=100``, following ``Link``,
  reading each body, decoding nothing), in a child process of its own (a fresh heap, like the
  commands'): the floor for the read; its wall and CPU time of the loop alone (interpreter
  start-up and imports not counted, which makes the ratio below stricter, not looser);
- ``fleetform plan DIR --out plan.json`` as a child process: its wall time (start-up, loading,
  reading, planning, rendering, writing: the whole command), its CPU time (user + system: what
  it spends apart from waiting for the network) and its peak RSS;
- ``fleetform drift DIR --full`` the same way (a full read and diff; the live-state cache is
  refreshed as by plan), and ``fleetform export`` of the account (first form only);
- ``fleetform validate DIR``: wall and CPU time;

and, once, in this process: the CPU of loading the manifests, and of the planning pass alone
(diff + plan + checksum over the SIMs already in memory, no network).

It prints each run and the medians: the ratio command / bare for plan, drift and export, their
CPU, and their CPU less the bare loop's (the HTTP client's own share of reading those pages,
so the rest is fleetform's work). The machine's other load shows in wall times: quote medians,
and read the CPU times beside them. Exits 1 when, for the mappings form, the median plan ratio
is over 1.5 at 100,000 SIMs or fewer, or a peak RSS is over 1 GB, or at 1,000,000 SIMs or more
the plan's CPU is over 30 s.

    python bench/plan_scale.py [--sims 100000] [--share 0.1] [--seed 7] [--repeat 3]
                               [--forms mappings,lists]
    python bench/plan_scale.py --sims 1000000 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from reconciler.diff import diff_fleet  # noqa: E402
from reconciler.manifest import load_fleet  # noqa: E402
from reconciler.model import LiveSim, Status  # noqa: E402
from reconciler.planfile import seal  # noqa: E402
from reconciler.planner.make import make_plan  # noqa: E402
from reconciler.smarthub.client import SmartHubClient  # noqa: E402

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


def _mutate(
    rng: random.Random, sim: LiveSim, fields: dict[str, object], *, sites_only: bool = False
) -> int:
    """Change one or two managed fields in a way the state machine allows; returns how many.
    ``sites_only``: custom1 takes another site's name (so SIMs still fall into few groups)."""
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
            fields["custom1"] = (
                rng.choice([s for s in SITES if s != fields["custom1"]])
                if sites_only
                else f"site-{rng.randrange(10_000)}"
            )
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
        fields["custom1"] = (
            rng.choice([s for s in SITES if s != fields["custom1"]])
            if sites_only
            else f"site-{rng.randrange(10_000)}"
        )
        changed = 1
    return changed


def write_manifests(
    directory: Path, sims: list[LiveSim], share: float, seed: int
) -> tuple[int, int]:
    """Manifests declaring every SIM as its own mapping (the form ``export`` writes once SIMs
    differ); ``share`` of the non-retired ones changed. Returns (SIMs changed, fields
    changed)."""
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


def _group_key(fields: dict[str, object]) -> tuple[object, ...]:
    plans = fields["supplementaryPlans"]
    assert isinstance(plans, tuple)
    return (fields.get("state"), fields["ratePlan"], plans, fields["apn"], fields["custom1"])


def write_list_manifests(
    directory: Path, sims: list[LiveSim], share: float, seed: int
) -> tuple[int, int]:
    """Manifests declaring SIMs as bare ICCIDs in SimGroups, one group per combination of
    values (split at 1,000 SIMs); ``share`` of the non-retired SIMs changed (they move to the
    group of their new values). Returns (SIMs changed, fields changed)."""
    rng = random.Random(seed)
    candidates = [i for i, s in enumerate(sims) if s.status is not Status.RETIRED]
    chosen = set(rng.sample(candidates, int(len(sims) * share)))
    groups: dict[tuple[object, ...], list[str]] = {}
    changed_sims = changed_fields = 0
    for index, sim in enumerate(sims):
        fields = _declared(sim)
        if index in chosen:
            n = _mutate(rng, sim, fields, sites_only=True)
            changed_sims += n > 0
            changed_fields += n
        groups.setdefault(_group_key(fields), []).append(sim.iccid)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "fleet.yaml").write_text(FLEET, encoding="utf-8")
    pending: list[str] = []  # documents of the file being filled
    size = names = files = 0
    for key in sorted(groups, key=repr):
        state, rate_plan, plans, apn, custom1 = key
        assert isinstance(plans, tuple)
        assert custom1 is None or isinstance(custom1, str)
        iccids = groups[key]
        for start in range(0, len(iccids), FILE_SIMS):
            part = iccids[start : start + FILE_SIMS]
            lines = [
                "apiVersion: fleetform/v1\nkind: SimGroup\n",
                f"metadata: {{name: group-{names:04d}}}\n",
                "spec:\n",
            ]
            names += 1
            if state is not None:
                lines.append(f"  state: {state}\n")
            lines.append(f"  ratePlan: {rate_plan}\n")
            if plans:
                lines.append(f"  supplementaryPlans: [{', '.join(plans)}]\n")
            lines.append(f"  apns: {{iot.acme: {apn}}}\n")
            lines.append(f"  customFields: {{custom1: {_q(custom1)}}}\n")
            lines.append("  sims:\n")
            lines.extend(f'    - "{iccid}"\n' for iccid in part)
            pending.append("".join(lines))
            size += len(part)
            if size >= FILE_SIMS:
                (directory / f"groups-{files:03d}.yaml").write_text(
                    "---\n".join(pending), encoding="utf-8"
                )
                pending, size, files = [], 0, files + 1
    if pending:
        (directory / f"groups-{files:03d}.yaml").write_text("---\n".join(pending), encoding="utf-8")
    return changed_sims, changed_fields


# --- the runs ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_simulator(
    db: Path, sims: int, key: str, log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    command = [
        sys.executable, "-m", "reconciler", "sim", "serve", "--port", str(port),
        "--db", str(db), "--sims", str(sims), "--api-key", key,
        "--rate-limit", "1000000000/3600", "--job-delay", "0.05",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the simulator stopped: see {log}")
        try:
            if httpx.get(url + "/enterprise", headers={"X-API-Key": key}).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit("the simulator did not start in 30 minutes")


BARE_LOOP = """
import sys, time
import httpx
url, key = sys.argv[1], sys.argv[2]
pages = 0
t0, c0 = time.perf_counter(), time.process_time()
with httpx.Client(headers={"X-API-Key": key}) as client:
    next_url = f"{url}/global-sims?size=100&accountName=acme"
    while next_url:
        response = client.get(next_url)
        response.raise_for_status()
        _ = response.content
        pages += 1
        next_url = response.links.get("next", {}).get("url")
print(time.perf_counter() - t0, time.process_time() - c0, pages)
"""


@dataclass(frozen=True)
class Bare:
    wall: float
    cpu: float
    pages: int


def bare_read(url: str, key: str) -> Bare:
    """The floor: page through the account with httpx in a child process, reading each body."""
    out = subprocess.run(
        [sys.executable, "-c", BARE_LOOP, url, key], capture_output=True, text=True, check=True
    ).stdout.split()
    return Bare(float(out[0]), float(out[1]), int(out[2]))


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float
    rss_mb: float
    code: int


# The command reports its own peak RSS (VmHWM of its own address space) as it exits: the
# ru_maxrss that wait4 gives a child of this process is at least this process's own peak
# (Linux folds the forked address space's high-water mark in at exec), and this process holds
# every SIM it read to write the manifests, so it would report this process, not the command.
FLEETFORM_WITH_PEAK = """
import atexit, sys
where = sys.argv[1]

def peak():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                with open(where, "w") as out:
                    out.write(line.split()[1])

atexit.register(peak)
sys.argv = ["fleetform", *sys.argv[2:]]
from reconciler.cli import main
main()
"""


def run_command(args: list[str], env: dict[str, str], cwd: Path) -> Run:
    """Run ``fleetform ARGS`` as a child; its wall time, CPU time and peak RSS."""
    out = cwd / "last-command.log"
    peak = cwd / "last-command.peak"
    peak.unlink(missing_ok=True)
    t0 = time.perf_counter()
    with out.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", FLEETFORM_WITH_PEAK, str(peak), *args],
            env={**env, "PYTHONPATH": str(ROOT)},
            cwd=cwd,
            stdout=log,
            stderr=log,
        )
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - t0
    process.returncode = os.waitstatus_to_exitcode(status)
    rss_mb = int(peak.read_text()) / 1024 if peak.exists() else float("nan")
    return Run(wall, usage.ru_utime + usage.ru_stime, rss_mb, process.returncode)


def _planning_cpu(manifests: Path, live: list[LiveSim], url: str, key: str) -> tuple[float, float]:
    """CPU seconds of loading the manifests, and of diff + plan + checksum over the live SIMs
    already in memory (no network): the planning pass on its own."""
    t0 = time.process_time()
    desired = load_fleet([manifests])
    load = time.process_time() - t0
    with SmartHubClient(url, key) as api:
        catalogue = api.service_packages("acme")
    t0 = time.process_time()
    seal(
        make_plan(
            desired,
            diff_fleet(desired, live),
            catalogue,
            endpoint=url,
            account="acme",
            requests_read=0,
            rate_budget=None,
            created_at="bench",
        )
    )
    return load, time.process_time() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=100_000)
    parser.add_argument("--share", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--forms", default="mappings,lists")
    args = parser.parse_args()
    forms = [f for f in args.forms.split(",") if f]
    key = "bench-" + os.urandom(8).hex()
    ok = True
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        t0 = time.perf_counter()
        sim, url = start_simulator(tmp / "sim.db", args.sims, key, tmp / "sim.log")
        try:
            print(f"simulator: {args.sims:,} acme SIMs, ready in {time.perf_counter() - t0:.1f} s")
            with SmartHubClient(url, key) as api:
                live = list(api.iter_sims(account="acme"))
            env = {
                **os.environ,
                "SMARTHUB_ENDPOINT": url,
                "SMARTHUB_API_KEY": key,
                "FLEETFORM_STATE_DIR": str(tmp / "state"),
                "NO_COLOR": "1",
            }
            for form in forms:
                manifests = tmp / form
                writer = write_manifests if form == "mappings" else write_list_manifests
                changed, fields = writer(manifests, live, args.share, args.seed)
                megabytes = sum(f.stat().st_size for f in manifests.iterdir()) / 2**20
                print(
                    f"\n[{form}] {len(live):,} SIMs in {len(list(manifests.iterdir()))} files "
                    f"({megabytes:.1f} MB); {changed:,} SIMs changed in {fields:,} fields"
                )
                bares: list[Bare] = []
                runs: dict[str, list[Run]] = {"plan": [], "drift": [], "export": []}
                validates: list[Run] = []
                for round_ in range(args.repeat):
                    bare = bare_read(url, key)
                    commands = {
                        "plan": ["plan", str(manifests), "--out", str(tmp / "plan.json")],
                        "drift": ["drift", str(manifests), "--full", "--format", "json"],
                    }
                    if form == forms[0]:
                        out = tmp / f"export-{round_}"
                        commands["export"] = ["export", "--account", "acme", "--out", str(out)]
                    line = [
                        f"  run {round_ + 1}: bare httpx {bare.wall:.2f} s wall, {bare.cpu:.2f} s "
                        f"CPU ({bare.pages:,} pages)"
                    ]
                    for name, command in commands.items():
                        run = run_command(command, env, tmp)
                        if run.code not in (0, 2):  # drift exits 2 when it finds drift
                            print((tmp / "last-command.log").read_text()[-2000:])
                            raise SystemExit(f"{name} exited {run.code}")
                        runs[name].append(run)
                        line.append(
                            f"{name} {run.wall:.2f} s wall, {run.cpu:.2f} s CPU, "
                            f"{run.rss_mb:.0f} MB"
                        )
                    check = run_command(["validate", str(manifests)], env, tmp)
                    if check.code != 0:
                        print((tmp / "last-command.log").read_text()[-2000:])
                        raise SystemExit(f"validate exited {check.code}")
                    bares.append(bare)
                    validates.append(check)
                    line.append(f"validate {check.wall:.2f} s wall, {check.cpu:.2f} s CPU")
                    print(" | ".join(line))
                bare_m = statistics.median(b.wall for b in bares)
                bare_cpu = statistics.median(b.cpu for b in bares)
                print(f"  median: bare httpx {bare_m:.2f} s wall, {bare_cpu:.2f} s CPU")
                ratio = rss = plan_cpu = 0.0
                for name, done in runs.items():
                    if not done:
                        continue
                    wall_m = statistics.median(r.wall for r in done)
                    cpu_m = statistics.median(r.cpu for r in done)
                    ratio_m = statistics.median(
                        r.wall / b.wall for r, b in zip(done, bares, strict=False)
                    )
                    rss_m = max(r.rss_mb for r in done)
                    print(
                        f"  median: {name} {wall_m:.2f} s = {ratio_m:.2f}x bare"
                        + (" (limit 1.5x)" if name == "plan" else "")
                        + f" | CPU {cpu_m:.2f} s, {cpu_m - bare_cpu:.2f} s beyond the bare "
                        f"loop's | peak RSS {rss_m:.0f} MB (limit 1024)"
                    )
                    rss = max(rss, rss_m)
                    if name == "plan":
                        ratio, plan_cpu = ratio_m, cpu_m
                print(
                    f"  median: validate {statistics.median(r.wall for r in validates):.2f} s "
                    f"wall, {statistics.median(r.cpu for r in validates):.2f} s CPU"
                )
                saved = json.loads((tmp / "plan.json").read_text(encoding="utf-8"))
                summary = saved["summary"]
                writes = sum(step["requests"] for step in saved["steps"])
                print(
                    f"  plan: {summary['requests_read']:,} read requests, "
                    f"{summary['to_change']:,} SIMs to change in {len(saved['steps']):,} steps, "
                    f"{writes:,} write requests"
                )
                cpu = _planning_cpu(manifests, live, url, key)
                print(
                    "  in this process: load "
                    f"{cpu[0]:.2f} s CPU, diff + plan + checksum over the SIMs in memory "
                    f"{cpu[1]:.2f} s CPU"
                )
                if form == "mappings":
                    ok = ok and rss <= 1024
                    if args.sims <= 100_000:
                        ok = ok and ratio <= 1.5
                    if args.sims >= 1_000_000:
                        ok = ok and plan_cpu <= 30
        finally:
            sim.terminate()
            sim.wait(timeout=60)
    print("OK" if ok else "OVER THE LIMITS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

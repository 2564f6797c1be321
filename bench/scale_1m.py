"""Benchmark: fleetform against a simulator holding a million SIMs, through the real CLI.

Run from the repository root::

    PYTHONPATH=. .venv/bin/python bench/scale_1m.py [--sims 1000000]

Every fleetform step is the real command line (``python -m reconciler ...``, i.e. ``fleetform``)
in its own child process, as a user would run it, against ``fleetform sim serve`` (also a child
process) on a loopback socket with the rate limit lifted (``--rate-limit 1000000000/3600``).
Requests are counted by the simulator (``GET /admin/counters``, reset before each step), wall
time by the clock, peak RSS per process by ``os.wait4``. The state folder
(``FLEETFORM_STATE_DIR``) is a temporary one, so the live-state cache starts empty.

1. the simulator seeded with ``--sims`` SIMs (time until it answered, and its CPU seconds);
2. ``fleetform export --out fleet/manifests`` into a new git repository, committed;
3. a full ``fleetform plan`` of those manifests: it must show no change (exit 0);
4. a 0.1% change (``--sims`` / 1000 SIMs, spread over the active SIMs' files): every other one
   declared ``state: suspended``, the rest given ``custom4: pilot-0.1pct``; committed; then
   ``fleetform plan fleet/manifests --changed-from HEAD~1 --out plan.json --detailed-exitcode``
   (exit 2, exactly those SIMs planned) and ``fleetform apply plan.json --auto-approve``
   (exit 0; every changed SIM checked afterwards through the simulator's admin endpoint);
5. another 0.1% changed behind fleetform's back through the API (the SmartHub client, batch
   jobs: two thirds suspended, one third moved to the IoT-Unlimited plan), then
   ``fleetform drift fleet/manifests --format json`` (incremental, with the cache the earlier
   commands left): exit 2, every one of those SIMs named;
6. the cache's size on disk (the SQLite file with its WAL).

Bounds of issue 10, each printed PASS or FAIL: the targeted plan spends at most changed + 5
requests (1,005 at a million); incremental drift at most ceil(history entries / 100) + verify
budget + 5; the cache under 300 MB; every fleetform process's peak RSS under 1 GB. Exit 1 when
a bound or an expected exit code fails.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from simulator_process import API_KEY, SimulatorProcess  # noqa: E402

from reconciler.model import BatchOperation  # noqa: E402
from reconciler.smarthub.client import SmartHubClient  # noqa: E402

GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}
MB = 1024 * 1024
RSS_BOUND_MB = 1024
CACHE_BOUND_MB = 300
# one SIM entry of an exported group: `    - "ICCID"` or `    - {iccid: "ICCID", ...}`
ENTRY = re.compile(r'^    - (?:"(\d+)"|\{iccid: "(\d+)"(.*)\})$')


class Simulator(SimulatorProcess):
    """``fleetform sim serve`` in a child process."""

    def __init__(self, db: Path, sims: int, log: Path) -> None:
        super().__init__(db, sims, log)
        self.admin = self.url.rsplit("/v1", 1)[0] + "/admin"
        self.http = httpx.Client(headers={"X-API-Key": API_KEY}, timeout=120)

    def reset_counters(self) -> None:
        self.http.post(self.admin + "/counters/reset").raise_for_status()

    def requests(self) -> int:
        response = self.http.get(self.admin + "/counters")
        response.raise_for_status()
        return int(response.json()["requests"])

    def sim(self, giccid: str) -> dict[str, Any]:
        response = self.http.get(f"{self.admin}/sims/{giccid}")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def stop(self) -> float:
        """Stop the server; its peak RSS in MB."""
        self.http.close()
        return super().stop()


@dataclass
class Run:
    name: str
    code: int
    seconds: float
    requests: int
    rss_mb: float
    stdout: str
    stderr: str


class Bench:
    def __init__(self, folder: Path, sim: Simulator) -> None:
        self.folder = folder
        self.sim = sim
        self.state = folder / "state"
        self.runs: list[Run] = []
        self.checks: list[tuple[str, bool]] = []

    def fleetform(self, name: str, *args: str, cwd: Path, expect: int) -> Run:
        """One fleetform command in a child process: exit code, wall time, requests, peak RSS."""
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "SMARTHUB_ENDPOINT": self.sim.url,
            "SMARTHUB_API_KEY": API_KEY,
            "FLEETFORM_STATE_DIR": str(self.state),
            "NO_COLOR": "1",
        }
        out_path = self.folder / f"{name}.stdout"
        err_path = self.folder / f"{name}.stderr"
        self.sim.reset_counters()
        started = time.perf_counter()
        with out_path.open("w") as out, err_path.open("w") as err:
            process = subprocess.Popen(
                [sys.executable, "-m", "reconciler", *args],
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
            )
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        run = Run(
            name,
            process.returncode,
            seconds,
            self.sim.requests(),
            usage.ru_maxrss / 1024,
            out_path.read_text(),
            err_path.read_text(),
        )
        self.runs.append(run)
        print(
            f"{name}: exit {run.code} (expected {expect}), {run.requests:,} requests, "
            f"{run.seconds:.1f} s, peak RSS {run.rss_mb:,.0f} MB",
            flush=True,
        )
        self.check(f"{name} exits {expect}", run.code == expect)
        if run.code != expect:
            print(f"  stderr (last lines): {run.stderr[-1500:]}")
        return run

    def check(self, what: str, ok: bool) -> bool:
        self.checks.append((what, ok))
        print(f"  {'PASS' if ok else 'FAIL'}: {what}", flush=True)
        return ok


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=repo,
        env={**os.environ, **GIT_ENV},
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def active_entries(manifests: Path) -> list[tuple[Path, int, str]]:
    """(file, line index, iccid) of every SIM entry in the exported active SIMs' groups."""
    found: list[tuple[Path, int, str]] = []
    for path in sorted(manifests.glob("status-active*.yaml")):
        for index, line in enumerate(path.read_text().splitlines()):
            match = ENTRY.match(line)
            if match:
                found.append((path, index, match.group(1) or match.group(2)))
    return found


def change_entry(line: str, suspend: bool) -> str:
    """The entry declaring its SIM suspended, or with custom4 ``pilot-0.1pct``."""
    match = ENTRY.match(line)
    assert match is not None, line
    iccid = match.group(1) or match.group(2)
    rest = match.group(3) or ""
    if suspend:
        return f'    - {{iccid: "{iccid}", state: suspended{rest}}}'
    if "customFields: {" in rest:
        rest = rest.replace("customFields: {", "customFields: {custom4: pilot-0.1pct, ", 1)
        return f'    - {{iccid: "{iccid}"{rest}}}'
    return f'    - {{iccid: "{iccid}"{rest}, customFields: {{custom4: pilot-0.1pct}}}}'


def edit(entries: list[tuple[Path, int, str]]) -> dict[str, bool]:
    """Change the given entries in place; {iccid: suspended?}."""
    by_file: dict[Path, list[tuple[int, str, bool]]] = {}
    changed: dict[str, bool] = {}
    for n, (path, index, iccid) in enumerate(entries):
        suspend = n % 2 == 0
        by_file.setdefault(path, []).append((index, iccid, suspend))
        changed[iccid] = suspend
    for path, edits in by_file.items():
        lines = path.read_text().splitlines()
        for index, _, suspend in edits:
            lines[index] = change_entry(lines[index], suspend)
        path.write_text("\n".join(lines) + "\n")
    return changed


def spread(items: list[Any], count: int) -> list[Any]:
    step = max(1, len(items) // max(count, 1))
    return items[::step][:count]


def wait_job(api: SmartHubClient, job_id: str) -> None:
    for _ in range(6000):
        job = api.get_batch_job(job_id)
        if job.status.finished:
            if job.failed:
                raise SystemExit(f"batch job {job_id}: {job.failed} SIMs failed")
            return
        time.sleep(0.05)
    raise SystemExit(f"batch job {job_id} did not finish")


def directory_mb(path: Path) -> tuple[float, list[str]]:
    files = sorted(p for p in path.rglob("*") if p.is_file())
    return sum(p.stat().st_size for p in files) / MB, [
        f"{p.name} {p.stat().st_size / MB:.1f} MB" for p in files
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    changes = max(1, args.sims // 1000)  # 0.1%
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=False)
        folder = args.keep
    else:
        folder = Path(tempfile.mkdtemp(prefix="fleetform-scale-"))
    print(
        f"scale bench: {args.sims:,} SIMs, 0.1% = {changes:,} SIMs; work folder {folder}; "
        f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
        f"on {os.cpu_count()} CPUs",
        flush=True,
    )
    sim = Simulator(folder / "sim.db", args.sims, folder / "sim.log")
    print(
        f"simulator seeded with {args.sims:,} SIMs: answered after {sim.ready:.1f} s "
        f"({sim.cpu():.1f} CPU s), database {(folder / 'sim.db').stat().st_size / MB:,.0f} MB",
        flush=True,
    )
    bench = Bench(folder, sim)
    try:
        return _steps(bench, folder, args.sims, changes)
    finally:
        rss = sim.stop()
        print(f"simulator peak RSS {rss:,.0f} MB (not a fleetform process)")
        print(f"load average at the end {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        if args.keep is None:
            subprocess.run(["rm", "-rf", str(folder)], check=False)


def _steps(bench: Bench, folder: Path, sims: int, changes: int) -> int:
    sim = bench.sim
    repo = folder / "fleet"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")

    # -- export, committed ------------------------------------------------------------------
    export = bench.fleetform("export", "export", "--out", "manifests", cwd=repo, expect=0)
    print(f"  {export.stderr.strip().splitlines()[-1] if export.stderr.strip() else ''}")
    manifests = repo / "manifests"
    size, _ = directory_mb(manifests)
    print(f"  manifests: {len(list(manifests.glob('*.yaml')))} files, {size:,.1f} MB")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "fleet as exported")

    # -- (a) full plan ---------------------------------------------------------------------
    full = bench.fleetform(
        "full plan",
        "plan",
        "manifests",
        "--detailed-exitcode",
        "--format",
        "json",
        cwd=repo,
        expect=0,
    )
    summary = json.loads(full.stdout)["summary"] if full.code in (0, 2) else {}
    print(
        f"  read {summary.get('sims_read', 0):,} SIMs, {summary.get('to_change', '?')} to change, "
        f"requests_read {summary.get('requests_read', 0):,}"
    )

    # -- (b) targeted plan and apply of a 0.1% change --------------------------------------
    entries = active_entries(manifests)
    chosen = spread(entries, changes)
    changed = edit(chosen)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"0.1%: {len(changed):,} SIMs suspended or re-tagged")
    suspended = sum(changed.values())
    print(
        f"commit HEAD: {len(changed):,} SIMs declared differently ({suspended:,} suspended, "
        f"{len(changed) - suspended:,} custom4), in {len({p for p, _, _ in chosen})} files",
        flush=True,
    )
    targeted = bench.fleetform(
        "targeted plan",
        "plan",
        "manifests",
        "--changed-from",
        "HEAD~1",
        "--out",
        "plan.json",
        "--detailed-exitcode",
        cwd=repo,
        expect=2,
    )
    planned: set[str] = set()
    if (repo / "plan.json").exists():
        plan = json.loads((repo / "plan.json").read_text())
        planned = {s["iccid"] for step in plan["steps"] for s in step["sims"]}
        info = plan.get("targeted") or {}
        print(
            f"  plan.json: targeted {info.get('sims', 0):,} SIMs read by {info.get('read_by')}, "
            f"{info.get('not_read', 0):,} not read; {len(planned):,} SIMs planned in "
            f"{len(plan['steps'])} steps; estimate {plan['summary']['requests_estimated']:,} "
            "requests"
        )
    bench.check(
        f"targeted plan: exactly the {len(changed):,} SIMs changed are planned",
        planned == set(changed),
    )
    bench.check(
        f"targeted plan of {len(changed):,} changed SIMs: {targeted.requests:,} requests "
        f"<= {len(changed) + 5:,}",
        targeted.requests <= len(changed) + 5,
    )
    apply = bench.fleetform("apply", "apply", "plan.json", "--auto-approve", cwd=repo, expect=0)
    del apply
    wrong = []
    for iccid, suspend in changed.items():
        row = sim.sim(iccid)
        # wire fields: custom fields are top-level keys of the SIM
        ok = row["status"] == "DEACTIVATED" if suspend else row.get("custom4") == "pilot-0.1pct"
        if not ok:
            wrong.append(iccid)
    bench.check(
        f"after apply every one of the {len(changed):,} SIMs is as declared "
        f"(checked through /admin; {len(wrong)} not)",
        not wrong,
    )

    # -- (c) incremental drift after 0.1% changed behind fleetform's back ------------------
    others = [iccid for _, _, iccid in entries if iccid not in changed]
    behind = spread(others, changes)
    cut = len(behind) * 2 // 3
    started = time.perf_counter()
    with SmartHubClient(sim.url, API_KEY) as api:
        jobs = []
        for n in range(0, cut, 1000):
            jobs.append(api.submit_batch(BatchOperation.SUSPEND, behind[n : min(n + 1000, cut)]))
        for n in range(cut, len(behind), 1000):
            part = behind[n : n + 1000]
            jobs.append(
                api.submit_batch(BatchOperation.SET_RATE_PLAN, part, rate_plan="IoT-Unlimited")
            )
        for job in jobs:
            wait_job(api, job.job_id)
        spent = api.stats().requests
    print(
        f"behind fleetform's back: {cut:,} SIMs suspended and {len(behind) - cut:,} moved to "
        f"IoT-Unlimited through the API ({len(jobs)} batch jobs, {spent} requests, "
        f"{time.perf_counter() - started:.1f} s)",
        flush=True,
    )
    drift = bench.fleetform(
        "incremental drift",
        "drift",
        "manifests",
        "--format",
        "json",
        cwd=repo,
        expect=2,
    )
    if drift.code in (0, 2):
        report = json.loads(drift.stdout)
        basis = report["basis"]
        named = {s["iccid"] for s in report["sims"]}
        entries_read = int(basis.get("history_entries") or 0)
        rotation = basis.get("custom_fields_and_supplementary_plans") or {}
        budget = int(rotation.get("verify_budget") or 0)
        print(
            f"  basis: {basis.get('mode')}, {entries_read:,} history entries, "
            f"{rotation.get('verified_pages', 0):,} of {budget:,} verify pages, "
            f"a full read costs "
            f"{basis.get('full_read_requests', 0):,}; {len(named):,} SIMs named"
        )
        bench.check("drift was incremental", basis.get("mode") == "incremental")
        missed = set(behind) - named
        bench.check(
            f"drift names all {len(behind):,} SIMs changed behind its back ({len(missed)} missed)",
            not missed,
        )
        bound = math.ceil(entries_read / 100) + budget + 5
        bench.check(
            f"incremental drift: {drift.requests:,} requests <= ceil({entries_read:,} / 100) + "
            f"{budget:,} + 5 = {bound:,}",
            drift.requests <= bound,
        )

    # -- (d) cache size ---------------------------------------------------------------------
    cache_mb, files = directory_mb(bench.state / "cache")
    print(f"cache on disk: {cache_mb:,.1f} MB ({', '.join(files)})")
    bench.check(f"cache {cache_mb:,.1f} MB < {CACHE_BOUND_MB} MB", cache_mb < CACHE_BOUND_MB)

    # -- (e) peak RSS -----------------------------------------------------------------------
    for run in bench.runs:
        bench.check(
            f"peak RSS of fleetform {run.name}: {run.rss_mb:,.0f} MB < {RSS_BOUND_MB:,} MB",
            run.rss_mb < RSS_BOUND_MB,
        )

    failed = [what for what, ok in bench.checks if not ok]
    print(
        f"{len(bench.checks) - len(failed)} of {len(bench.checks)} checks passed"
        + (f"; FAILED: {'; '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

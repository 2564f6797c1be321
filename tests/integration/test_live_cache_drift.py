"""Incremental drift over the live-state cache, against the simulator over a socket.

The issue's "done when": after 50 state and 20 rate-plan changes made through the API behind
fleetform's back, ``drift`` (with the cache an earlier full ``plan`` left) exits 2, names all
70 SIMs and spends at most 15% of a full read; ``drift --full`` also finds custom-field
changes; with the cache overwritten by junk, ``drift`` still exits 2 with all 70 named, no
traceback.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.app import Connection
from reconciler.clock import SystemClock
from reconciler.commands.drift import DriftOptions, run_drift
from reconciler.commands.plan import PlanOptions, run_plan
from reconciler.live.cache import LiveCache, cache_path
from reconciler.model import Status
from reconciler.reporting import RecordingReporter
from reconciler.simulator import RunningSimulator
from reconciler.smarthub.client import SmartHubClient
from tests.fakes import write_fleet

ROOT = Path(__file__).resolve().parents[2]
FLEET = 5_000  # 50 list pages: 15% is 7.5 requests
PAGES = FLEET // 100


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path / "state"
    monkeypatch.setenv("FLEETFORM_STATE_DIR", str(state))
    return state


def declare_as_live(sim: RunningSimulator, directory: Path) -> tuple[Path, dict[str, Any]]:
    """Manifests that declare every active or suspended SIM as it is live (state, rate plan,
    custom4 empty): git and live agree."""
    with SmartHubClient(sim.url, sim.api_key) as api:
        live = {s.iccid: s for s in api.iter_sims(account="acme")}
    groups: dict[str, dict[str, Any]] = {}
    for iccid, s in sorted(live.items()):
        if s.status not in (Status.ACTIVE, Status.SUSPENDED):
            continue
        key = f"{s.status.value}-{s.rate_plan}"
        group = groups.setdefault(
            key,
            {
                "state": s.status.value,
                "ratePlan": s.rate_plan,
                "customFields": {"custom4": None},
                "sims": [],
            },
        )
        group["sims"].append(iccid)
    return write_fleet(directory, groups, unmanaged="ignore"), live


def drift_json(
    sim: RunningSimulator, manifests: Path, *, full: bool = False, **kwargs: Any
) -> tuple[int, dict[str, Any], RecordingReporter]:
    out: list[str] = []
    reporter = RecordingReporter()
    code = run_drift(
        DriftOptions([manifests], "json", full=full, **kwargs),
        connection=Connection(endpoint=sim.url, api_key=sim.api_key),
        reporter=reporter,
        write=out.append,
        clock=SystemClock(),
    )
    return code, json.loads("".join(out)), reporter


def full_plan(sim: RunningSimulator, manifests: Path) -> None:
    out: list[str] = []
    code = run_plan(
        PlanOptions(paths=[manifests], fmt="json", detailed_exitcode=True),
        connection=Connection(endpoint=sim.url, api_key=sim.api_key),
        reporter=RecordingReporter(),
        write=out.append,
    )
    assert code == 0, "".join(out)[:2000]


def change_behind_our_back(
    sim: RunningSimulator, live: dict[str, Any], declared: set[str]
) -> tuple[list[str], list[str]]:
    """50 state changes and 20 rate-plan changes through the API, not through fleetform."""
    active = [i for i in sorted(declared) if live[i].status is Status.ACTIVE]
    states, plans = active[:50], active[50:70]
    with SmartHubClient(sim.url, sim.api_key) as api:
        for iccid in states:
            api.suspend(iccid)
        for iccid in plans:
            api.set_rate_plan(iccid, "IoT-Unlimited")
    return states, plans


@pytest.fixture
def big_sim(sim_factory: Callable[..., RunningSimulator]) -> RunningSimulator:
    return sim_factory(sims=FLEET, job_delay=0.05)


def declared_of(manifests: Path) -> set[str]:
    from reconciler.manifest import load_fleet

    return set(load_fleet([manifests]).sims)


def test_incremental_drift_names_all_70_for_under_15_percent_of_a_full_read(
    big_sim: RunningSimulator, tmp_path: Path, state: Path
) -> None:
    manifests, live = declare_as_live(big_sim, tmp_path / "m")
    full_plan(big_sim, manifests)  # leaves the cache
    assert cache_path(state, "acme").exists()
    declared = declared_of(manifests)
    states, plans = change_behind_our_back(big_sim, live, declared)
    custom = sorted(declared - set(states) - set(plans))[-3:]
    with SmartHubClient(big_sim.url, big_sim.api_key) as api:
        for iccid in custom:  # the last page: outside the first verify slice
            api.set_custom_fields(iccid, {"custom4": "changed"})

    code, report, reporter = drift_json(big_sim, manifests)
    assert code == 2
    named = {s["iccid"] for s in report["sims"]}
    assert set(states) | set(plans) <= named
    assert report["basis"]["mode"] == "incremental", reporter.infos
    assert report["requests_spent"] <= 0.15 * PAGES, report["requests_spent"]
    by_iccid = {s["iccid"]: s for s in report["sims"]}
    assert by_iccid[states[0]]["fields"][0]["live"] == "suspended"
    assert by_iccid[plans[0]]["fields"][0]["live"] == "IoT-Unlimited"
    assert by_iccid[plans[0]]["fields"][0]["last_changed"] is not None  # dated by the history
    assert report["basis"]["custom_fields_and_supplementary_plans"]["verified_pages"] == 3

    code, full, _ = drift_json(big_sim, manifests, full=True)
    assert code == 2
    assert full["basis"]["mode"] == "full"
    full_named = {s["iccid"] for s in full["sims"]}
    assert full_named == set(states) | set(plans) | set(custom)
    assert full["requests_spent"] >= PAGES

    cache = cache_path(state, "acme")
    cache.write_bytes(os.urandom(4096) + b"junk" * 1000)
    for suffix in ("-wal", "-shm"):
        Path(str(cache) + suffix).unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "drift", str(manifests), "--format", "json"],
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "SMARTHUB_ENDPOINT": big_sim.url,
            "SMARTHUB_API_KEY": big_sim.api_key,
            "FLEETFORM_STATE_DIR": str(state),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    junk_report = json.loads(done.stdout)
    assert set(states) | set(plans) <= {s["iccid"] for s in junk_report["sims"]}
    assert junk_report["basis"]["mode"] == "full"
    assert done.stderr.count("set aside") == 1, done.stderr
    assert Path(str(cache) + ".set-aside").exists()

    code, again, _ = drift_json(big_sim, manifests)  # the rebuilt cache is used again
    assert code == 2 and again["basis"]["mode"] == "incremental"


@pytest.fixture
def small(sim_factory: Callable[..., RunningSimulator], tmp_path: Path) -> Iterator[Any]:
    sim = sim_factory(sims=1000, job_delay=0.05)
    manifests, live = declare_as_live(sim, tmp_path / "m")
    yield sim, manifests, live


def test_a_history_gap_forces_a_full_read_and_says_why(
    small: Any, tmp_path: Path, state: Path
) -> None:
    sim, manifests, live = small
    full_plan(sim, manifests)
    declared = sorted(declared_of(manifests))
    active = [i for i in declared if live[i].status is Status.ACTIVE]
    with SmartHubClient(sim.url, sim.api_key) as api:
        api.suspend(active[0])
    code, first, _ = drift_json(sim, manifests)
    assert code == 2 and first["basis"]["mode"] == "incremental"
    with SmartHubClient(sim.url, sim.api_key) as api:
        api.suspend(active[1])
    # the vendor's retention drops the history older than now (the entry the cache last took
    # in among it)
    with sqlite3.connect(tmp_path / "sim0.db") as db:
        db.execute("DELETE FROM change_logs WHERE giccid = ?", (active[0],))
    code, report, reporter = drift_json(sim, manifests)
    assert code == 2
    assert {s["iccid"] for s in report["sims"]} == {active[0], active[1]}
    assert report["basis"]["mode"] == "full"
    assert "no longer holds the last entry" in report["basis"]["full_read_reason"]
    assert any("reading the whole account" in line for line in reporter.infos)
    code, after, _ = drift_json(sim, manifests)  # the full read refreshed the cache
    assert after["basis"]["mode"] == "incremental"
    assert {s["iccid"] for s in after["sims"]} == {active[0], active[1]}


def test_a_cache_of_another_endpoint_is_set_aside_with_one_warning(small: Any, state: Path) -> None:
    sim, manifests, _ = small
    reporter = RecordingReporter()
    other = LiveCache.open(
        state,
        endpoint="http://127.0.0.1:1/v1",
        account="acme",
        reporter=reporter,
        clock=lambda: 1.0,
    )
    other.close()
    code, report, reporter = drift_json(sim, manifests)
    assert code == 0
    assert report["basis"]["mode"] == "full"
    (warning,) = reporter.warnings
    assert "of another endpoint (http://127.0.0.1:1/v1)" in warning and "set aside" in warning
    code, again, reporter = drift_json(sim, manifests)
    assert again["basis"]["mode"] == "incremental" and reporter.warnings == []


def test_the_report_says_how_fresh_each_verdict_is_in_every_format(small: Any, state: Path) -> None:
    sim, manifests, _live = small
    full_plan(sim, manifests)
    for fmt in ("text", "markdown", "github"):
        out: list[str] = []
        code = run_drift(
            DriftOptions([manifests], fmt, verify_budget=2),
            connection=Connection(endpoint=sim.url, api_key=sim.api_key),
            reporter=RecordingReporter(),
            write=out.append,
            clock=SystemClock(),
        )
        text = "".join(out)
        assert code == 0
        assert "state and rate plan: change history up to" in text, text
        assert "APN status: no push recorded" in text
        assert "custom fields and supplementary plans: every SIM verified within the last" in text
        assert "(2 of 2 verify pages read this run)" in text


def test_the_verify_rotation_goes_round_the_whole_fleet(small: Any, state: Path) -> None:
    """10 pages, 4 a run: the cursor moves on and wraps; every SIM gets re-verified."""
    sim, manifests, _live = small
    full_plan(sim, manifests)
    declared = sorted(declared_of(manifests))
    target = declared[-1]  # on the last page
    with SmartHubClient(sim.url, sim.api_key) as api:
        api.set_custom_fields(target, {"custom4": "moved"})
    found_in: list[int] = []
    for run in range(3):
        code, report, _ = drift_json(sim, manifests, verify_budget=4)
        if code == 2:
            found_in.append(run)
            assert [s["iccid"] for s in report["sims"]] == [target]
        assert report["requests_spent"] == 1 + 4  # one page of history + the slice
    assert found_in == [2]  # pages 1-4, 5-8, then 9-10 and 1-2


def test_apply_keeps_the_cache_up_to_date_with_its_own_writes(
    small: Any, tmp_path: Path, state: Path
) -> None:
    """After apply, incremental drift (no verify slice) finds no drift: the cache holds what
    apply re-checked and wrote, not what the earlier plan saw."""
    from reconciler.commands.apply import ApplyOptions, apply_plan
    from reconciler.live.cache import Via

    sim, manifests, _live = small
    full_plan(sim, manifests)
    text = (manifests / "fleet.yaml").read_text()
    first_group = text.index("custom4: null")
    changed = text[:first_group] + "custom4: applied" + text[first_group + len("custom4: null") :]
    (manifests / "fleet.yaml").write_text(changed)
    with SmartHubClient(sim.url, sim.api_key) as api:
        report = apply_plan(
            api,
            ApplyOptions(paths=(manifests,), auto_approve=True, force=True, poll_initial=0.05),
            RecordingReporter(),
            state_dir=state,
            clock=SystemClock(),
        )
    touched = {s.iccid for step in report.steps for s in step.sims}
    assert touched
    cache = LiveCache.open(
        state,
        endpoint=sim.url,
        account="acme",
        reporter=RecordingReporter(),
        clock=SystemClock().now,
    )
    stamps = cache.stamps(touched)
    assert len(stamps) == len(touched)
    assert Via.APPLY in {via for _, _, via in stamps.values()}  # some re-read after, by list
    assert {s.custom_fields["custom4"] for s in cache.get(touched).values()} == {"applied"}
    cache.close()
    code, after, _ = drift_json(sim, manifests, verify_budget=0)
    assert code == 0 and after["basis"]["mode"] == "incremental", after


def test_the_cli_takes_full_and_verify_budget(
    small: Any, state: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from reconciler.cli import main

    sim, manifests, _live = small
    full_plan(sim, manifests)
    monkeypatch.setenv("SMARTHUB_ENDPOINT", sim.url)
    monkeypatch.setenv("SMARTHUB_API_KEY", sim.api_key)
    for args, mode, pages in (
        (["--verify-budget", "2"], "incremental", 2),
        (["--full"], "full", 0),
    ):
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            main(["drift", str(manifests), "--format", "json", *args])
        assert exit_info.value.code == 0
        basis = json.loads(capsys.readouterr().out)["basis"]
        assert basis["mode"] == mode
        assert basis["custom_fields_and_supplementary_plans"]["verified_pages"] == pages
    with pytest.raises(SystemExit) as exit_info:
        main(["drift", str(manifests), "--verify-budget", "-1"])
    assert exit_info.value.code == 1  # a usage error, said plainly
    assert "--verify-budget" in capsys.readouterr().err

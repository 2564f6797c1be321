"""Apply against the real simulator over a socket: convergence, batch jobs, stale SIMs,
partial batch failure, the rate limit, the budget, resume, guards and the lock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.clock import SystemClock
from reconciler.commands.apply import ApplyOptions, apply_exit_code, apply_plan
from reconciler.errors import LockedError, StalePlanError, UnsafePlanError
from reconciler.journal import ApplyLock
from reconciler.live.read import run_plan
from reconciler.manifest import load_fleet
from reconciler.model import Outcome, Status
from reconciler.planfile import write_plan
from reconciler.reporting import RecordingReporter
from reconciler.simulator import RunningSimulator, giccid_for
from reconciler.smarthub.client import SmartHubClient
from tests.fakes import Admin, write_fleet

ACME = [giccid_for(i) for i in range(200) if i % 10 != 9]
FAST = {"poll_initial": 0.05, "poll_max": 0.2, "orphan_grace": 0.5}

# SIMs 0..23 of acme: 12 to be active with a custom field and a basic plan, 12 suspended.
GROUPS: dict[str, dict[str, Any]] = {
    "trackers": {
        "state": "active",
        "ratePlan": "IoT-5GB",
        "customFields": {"custom4": "fleetform"},
        "sims": ACME[:12],
    },
    "spares": {"state": "suspended", "customFields": {"custom4": "spare"}, "sims": ACME[12:24]},
}


@pytest.fixture
def client_for() -> Iterator[Callable[..., SmartHubClient]]:
    clients: list[SmartHubClient] = []

    def make(sim: RunningSimulator, **kwargs: Any) -> SmartHubClient:
        client = SmartHubClient(sim.url, sim.api_key, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def apply(api: SmartHubClient, tmp_path: Path, **options: Any) -> Any:
    return apply_plan(
        api,
        ApplyOptions(**{"auto_approve": True, **FAST, **options}),
        RecordingReporter(),
        state_dir=tmp_path / "state",
        clock=SystemClock(),
    )


def replan(api: SmartHubClient, manifests: Path) -> Any:
    return run_plan(api, load_fleet([manifests]), RecordingReporter(), created_at="now")


def test_apply_converges_and_a_second_plan_shows_nothing(
    sim: RunningSimulator, client_for: Callable[..., SmartHubClient], tmp_path: Path
) -> None:
    manifests = write_fleet(tmp_path / "m", GROUPS)
    api = client_for(sim)
    report = apply(api, tmp_path, paths=(manifests,))
    assert report.complete and apply_exit_code(report) == 0
    assert report.count(Outcome.DONE) >= 12
    assert any(step.batch and step.job_ids for step in report.steps)
    assert not replan(api, manifests).has_changes
    admin = Admin(sim)
    try:
        assert admin.sim(ACME[12])["status"] == "DEACTIVATED"
        assert admin.sim(ACME[0])["custom4"] == "fleetform"
    finally:
        admin.close()
    # nothing to do the second time: exit 0, no request beyond the plan's reads
    again = apply(api, tmp_path, paths=(manifests,))
    assert again.complete and again.steps == ()


def test_a_sim_changed_behind_our_back_after_the_plan_is_left_alone_and_reported_stale(
    sim: RunningSimulator, client_for: Callable[..., SmartHubClient], tmp_path: Path
) -> None:
    manifests = write_fleet(tmp_path / "m", GROUPS)
    api = client_for(sim)
    plan = replan(api, manifests)
    plan_file = tmp_path / "plan.json"
    write_plan(plan, plan_file)
    moved = ACME[0]
    admin = Admin(sim)
    try:
        admin.patch_sim(moved, custom4="hand-edited", status="DEACTIVATED")
        report = apply(api, tmp_path, plan_file=plan_file)
        assert apply_exit_code(report) == 3
        stale = [s for step in report.steps for s in step.sims if s.outcome is Outcome.STALE]
        assert {s.iccid for s in stale} == {moved}
        assert {m.field for m in stale[0].moved} >= {"state"}
        after = admin.sim(moved)
        assert (after["status"], after["custom4"]) == ("DEACTIVATED", "hand-edited")
        # the rest went on
        assert admin.sim(ACME[1])["custom4"] == "fleetform"
    finally:
        admin.close()


def test_partial_batch_failure_is_reported_per_sim_with_the_reason(
    sim_factory: Callable[..., RunningSimulator],
    client_for: Callable[..., SmartHubClient],
    tmp_path: Path,
) -> None:
    sim = sim_factory(sims=250, job_delay=0.05, batch_failure_rate=0.5)
    groups = {"off": {"state": "suspended", "sims": ACME[:40]}}
    manifests = write_fleet(tmp_path / "m", groups)
    api = client_for(sim)
    # suspending all 40 managed SIMs is a mass disable: forced, as the test means it
    report = apply(api, tmp_path, paths=(manifests,), force=True)
    suspend = [s for s in report.steps if s.batch]
    assert suspend, "the planner should batch 40 suspends"
    failed = [s for step in suspend for s in step.sims if s.outcome is Outcome.FAILED]
    done = [s for step in suspend for s in step.sims if s.outcome is Outcome.DONE]
    assert failed and done and all(s.reason for s in failed)
    assert apply_exit_code(report) == 3
    live = {s.iccid: s.status for s in api.iter_sims(account="acme")}
    assert all(live[s.iccid] is Status.SUSPENDED for s in done)


def test_a_plan_file_from_another_endpoint_is_refused(
    sim: RunningSimulator, client_for: Callable[..., SmartHubClient], tmp_path: Path
) -> None:
    import dataclasses

    from reconciler.planfile import seal

    api = client_for(sim)
    plan = replan(api, write_fleet(tmp_path / "m", GROUPS))
    other = seal(dataclasses.replace(plan, endpoint="https://other.example/v1"))
    write_plan(other, tmp_path / "plan.json")
    with pytest.raises(StalePlanError, match=r"other\.example"):
        apply(api, tmp_path, plan_file=tmp_path / "plan.json")


def test_the_guards_refuse_before_any_write(
    sim: RunningSimulator, client_for: Callable[..., SmartHubClient], tmp_path: Path
) -> None:
    groups = {"gone": {"state": "retired", "sims": ACME[:3]}}
    manifests = write_fleet(tmp_path / "m", groups)
    api = client_for(sim)
    with pytest.raises(UnsafePlanError, match="allow-retire"):
        apply(api, tmp_path, paths=(manifests,))
    with pytest.raises(UnsafePlanError, match="max-changes"):
        apply(api, tmp_path, paths=(manifests,), allow_retire=True, max_changes=1)
    admin = Admin(sim)
    try:
        assert admin.jobs() == []
        assert admin.counters().get("status202", 0) == 0
    finally:
        admin.close()
    assert api.stats().requests > 0  # the account was read, nothing written
    report = apply(api, tmp_path, paths=(manifests,), allow_retire=True)
    assert report.complete


def test_a_second_apply_of_the_same_account_is_refused(
    sim: RunningSimulator, client_for: Callable[..., SmartHubClient], tmp_path: Path
) -> None:
    manifests = write_fleet(tmp_path / "m", GROUPS)
    api = client_for(sim)
    with ApplyLock(tmp_path / "state", "acme"), pytest.raises(LockedError, match="pid"):
        apply(api, tmp_path, paths=(manifests,))
    assert api.stats().requests == 0  # refused before spending a request


def test_budget_stops_cleanly_and_resume_finishes(
    sim: RunningSimulator, client_for: Callable[..., SmartHubClient], tmp_path: Path
) -> None:
    manifests = write_fleet(tmp_path / "m", GROUPS)
    capped = client_for(sim, budget=12)
    report = apply(capped, tmp_path, paths=(manifests,))
    assert report.stopped and "--resume" in report.stopped
    assert capped.stats().requests <= 12
    assert apply_exit_code(report) == 3
    resumed = apply(client_for(sim), tmp_path, resume=True)
    assert resumed.complete and resumed.resumed
    assert not replan(client_for(sim), manifests).has_changes
    admin = Admin(sim)
    try:
        held: dict[tuple[str, str], int] = {}
        for job in admin.jobs():
            for giccid in job["giccids"]:
                held[(job["type"], giccid)] = held.get((job["type"], giccid), 0) + 1
        assert held and max(held.values()) == 1
    finally:
        admin.close()


@pytest.mark.slow
def test_a_tiny_rate_window_is_respected_without_429s(
    sim_factory: Callable[..., RunningSimulator],
    client_for: Callable[..., SmartHubClient],
    tmp_path: Path,
) -> None:
    """40 requests per 10 s, an apply of about 100 requests: at most one 429."""
    sim = sim_factory(sims=250, job_delay=0.05, rate_limit=40, rate_window=10.0)
    admin = Admin(sim)  # the admin endpoint is not rate-limited
    live = [g for g in ACME[:120] if admin.sim(g)["status"] != "RETIRED"][:90]
    groups = {"tagged": {"customFields": {"custom5": "tiny-window"}, "sims": live}}
    manifests = write_fleet(tmp_path / "m", groups)
    waits: list[tuple[float, str]] = []
    api = client_for(sim, on_wait=lambda s, r: waits.append((s, r)))
    report = apply(api, tmp_path, paths=(manifests,))
    assert report.complete
    spent = api.stats().requests
    assert 90 <= spent <= 110
    try:
        counters = admin.counters()
        assert counters["requests"] > 0 and counters.get("rateLimited", 0) <= 1
    finally:
        admin.close()
    assert waits, "the limiter should have waited for the window to reset"


def test_the_api_key_is_in_no_journal_or_plan_file(sim: RunningSimulator, tmp_path: Path) -> None:
    manifests = write_fleet(tmp_path / "m", GROUPS)
    with SmartHubClient(sim.url, sim.api_key) as api:
        report = apply(api, tmp_path, paths=(manifests,))
    assert report.steps
    files = list((tmp_path / "state").rglob("*"))
    assert any(f.suffix == ".jsonl" for f in files)
    for f in files:
        if f.is_file():
            assert sim.api_key not in f.read_text(errors="replace")

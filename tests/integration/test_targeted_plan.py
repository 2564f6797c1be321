"""``--changed-from GITREF``: targeted plans against the simulator on a socket, through the real
client, over real git repositories in temporary folders (git init, commit, change, commit).

The fleet: 40 active SIMs of the simulator's seeded account, group ``a`` (20 SIMs) taking the
Fleet default ``custom4``, group ``b`` (20 SIMs) overriding it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.errors import ConfigError
from reconciler.live.read import run_plan
from reconciler.live.targeted import target
from reconciler.manifest import load_fleet
from reconciler.model import Operation, Plan, Status
from reconciler.reporting import RecordingReporter
from reconciler.simulator import RunningSimulator
from reconciler.smarthub.client import SmartHubClient
from tests.fakes import Admin

GIT_ENV = {
    "GIT_AUTHOR_NAME": "fleet",
    "GIT_AUTHOR_EMAIL": "fleet@example.com",
    "GIT_COMMITTER_NAME": "fleet",
    "GIT_COMMITTER_EMAIL": "fleet@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
}


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=repo,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


class Fleet:
    """Manifests as plain values, written to ``repo/manifests`` as YAML."""

    def __init__(self, repo: Path, a: list[str], b: list[str]) -> None:
        self.repo = repo
        self.defaults: dict[str, Any] = {"customFields": {"custom4": "v1"}}
        self.guards: dict[str, Any] = {}
        self.groups: dict[str, dict[str, Any]] = {
            "a": {"state": "active", "sims": list(a)},
            "b": {"state": "active", "customFields": {"custom4": "b"}, "sims": list(b)},
        }

    @property
    def path(self) -> Path:
        return self.repo / "manifests"

    def write(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        fleet = {
            "apiVersion": "fleetform/v1",
            "kind": "Fleet",
            "metadata": {"name": "trackers"},
            "spec": {"account": "acme", "defaults": self.defaults, "guards": self.guards},
        }
        (self.path / "fleet.yaml").write_text(yaml.safe_dump(fleet, sort_keys=False))
        docs = [
            {
                "apiVersion": "fleetform/v1",
                "kind": "SimGroup",
                "metadata": {"name": name},
                "spec": spec,
            }
            for name, spec in self.groups.items()
        ]
        (self.path / "groups.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSimulator]:
    from reconciler.simulator import SimulatorConfig, start_in_thread

    db = tmp_path_factory.mktemp("sim") / "sim.db"
    running = start_in_thread(SimulatorConfig(db_path=db, sims=250, seed=1, job_delay=0.05))
    yield running
    running.stop()


@pytest.fixture
def api(simulator: RunningSimulator) -> Iterator[SmartHubClient]:
    with SmartHubClient(simulator.url, simulator.api_key) as client:
        yield client


@pytest.fixture(scope="module")
def active(simulator: RunningSimulator) -> list[str]:
    with SmartHubClient(simulator.url, simulator.api_key) as client:
        sims = [s.iccid for s in client.iter_sims(account="acme") if s.status is Status.ACTIVE]
    assert len(sims) >= 45
    return sims


@pytest.fixture
def fleet(tmp_path: Path, active: list[str]) -> Fleet:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    manifests = Fleet(repo, active[:20], active[20:40])
    manifests.write()
    commit(repo, "the fleet")
    return manifests


def plan_since(api: SmartHubClient, fleet: Fleet, ref: str = "HEAD~1") -> tuple[Plan, int]:
    desired = load_fleet([fleet.path])
    reporter = RecordingReporter()
    found = target(ref, [fleet.path], desired, reporter)
    before = api.stats().requests
    plan = run_plan(api, desired, reporter, created_at="2026-12-04T05:00:00Z", target=found)
    return plan, api.stats().requests - before


def touched(plan: Plan) -> dict[str, Mapping[str, str | None]]:
    return {sim.iccid: sim.after for step in plan.steps for sim in step.sims}


def test_a_sim_level_change_reads_and_plans_that_sim_only(
    api: SmartHubClient, fleet: Fleet, active: list[str]
) -> None:
    one = active[3]
    sims = fleet.groups["a"]["sims"]
    sims[3] = {"iccid": one, "customFields": {"custom3": "moved-desk"}}
    fleet.write()
    commit(fleet.repo, "one SIM")

    plan, spent = plan_since(api, fleet)

    # the SIM's whole declaration is planned: its custom4 drift too (that SIM was read)
    assert touched(plan) == {
        one: {"customFields.custom3": "moved-desk", "customFields.custom4": "v1"}
    }
    assert plan.summary.sims_read == 1 and spent == 2  # the catalogue and one GET
    assert plan.summary.requests_read == 2
    assert plan.targeted is not None
    assert plan.targeted.sims == 1 and plan.targeted.not_read == 39
    assert plan.targeted.ref == "HEAD~1" and plan.targeted.read_by == "get"
    assert plan.targeted.commit == git(fleet.repo, "rev-parse", "HEAD~1")


def test_a_group_change_reaches_every_sim_of_the_group(
    api: SmartHubClient, fleet: Fleet, active: list[str]
) -> None:
    fleet.groups["b"]["customFields"] = {"custom4": "b2"}
    fleet.write()
    commit(fleet.repo, "group b")

    plan, spent = plan_since(api, fleet)

    assert set(touched(plan)) == set(active[20:40])
    assert all(after == {"customFields.custom4": "b2"} for after in touched(plan).values())
    # 20 SIMs, and the declared fleet fills one page: the account's count decides (one
    # request), and the list of 3 pages is cheaper than 20 GETs
    assert plan.targeted is not None and plan.targeted.read_by == "list"
    assert plan.targeted.account_size is not None and plan.targeted.account_size >= 200
    assert spent <= 1 + 1 + 3


def test_a_fleet_default_reaches_the_sims_that_take_it_and_no_others(
    api: SmartHubClient, fleet: Fleet, active: list[str]
) -> None:
    fleet.defaults = {"customFields": {"custom4": "v2"}}
    fleet.guards = {"maxChanges": 500}  # not a per-SIM setting: reaches no SIM
    fleet.write()
    commit(fleet.repo, "fleet default")

    plan, _ = plan_since(api, fleet)

    assert set(touched(plan)) == set(active[:20])  # group b overrides custom4
    assert plan.targeted is not None and plan.targeted.sims == 20


def test_a_guard_or_a_reordering_changes_no_sim(api: SmartHubClient, fleet: Fleet) -> None:
    fleet.guards = {"maxChanges": 3, "allowRetire": True}
    fleet.groups["a"]["sims"].reverse()
    fleet.groups = {"b": fleet.groups["b"], "a": fleet.groups["a"]}
    fleet.write()
    commit(fleet.repo, "guards and order")

    plan, spent = plan_since(api, fleet)

    assert plan.steps == () and plan.summary.sims_read == 0
    assert spent == 1  # the catalogue only
    assert plan.targeted is not None and plan.targeted.sims == 0


def test_an_added_sim_is_planned_and_a_removed_one_left_alone(
    api: SmartHubClient, fleet: Fleet, active: list[str]
) -> None:
    removed = fleet.groups["a"]["sims"].pop(0)
    fleet.groups["a"]["sims"].append(active[41])
    fleet.write()
    commit(fleet.repo, "swap a SIM")

    plan, _ = plan_since(api, fleet)

    assert set(touched(plan)) == {active[41]}  # the added SIM takes custom4 from the default
    assert removed not in touched(plan)
    assert plan.targeted is not None
    assert plan.targeted.removed == 1 and plan.targeted.sims == 1
    assert plan.summary.unmanaged == 0 and plan.unmanaged == ()


def test_the_live_value_wins_for_a_sim_changed_behind_our_back(
    api: SmartHubClient, simulator: RunningSimulator, fleet: Fleet, active: list[str]
) -> None:
    sneaky = active[5]
    admin = Admin(simulator)
    try:
        admin.patch_sim(sneaky, custom4="changed-by-hand", status="DEACTIVATED")
    finally:
        admin.close()
    fleet.groups["a"]["sims"][5] = {"iccid": sneaky, "customFields": {"custom4": "mine"}}
    fleet.write()
    commit(fleet.repo, "the PR touches the same SIM")

    plan, _ = plan_since(api, fleet)

    steps = {s.operation: s for s in plan.steps}
    fields = steps[Operation.SET_CUSTOM_FIELDS].sims[0]
    assert fields.iccid == sneaky
    assert fields.before["customFields.custom4"] == "changed-by-hand"
    assert fields.after == {"customFields.custom4": "mine"}
    activate = steps[Operation.ACTIVATE].sims[0]  # state is declared active: set it back
    assert activate.before["state"] == "suspended"


def test_manifests_that_did_not_exist_at_the_ref_count_as_added(
    api: SmartHubClient, fleet: Fleet
) -> None:
    (fleet.repo / "README.md").write_text("nothing yet\n")
    git(fleet.repo, "rm", "-q", "-r", "manifests")
    commit(fleet.repo, "no manifests")
    fleet.write()
    commit(fleet.repo, "manifests again")

    plan, _ = plan_since(api, fleet)

    assert plan.targeted is not None and plan.targeted.sims == 40 and plan.targeted.not_read == 0


def test_paths_relative_to_a_subfolder(
    api: SmartHubClient, fleet: Fleet, monkeypatch: pytest.MonkeyPatch, active: list[str]
) -> None:
    fleet.groups["a"]["sims"][0] = {"iccid": active[0], "customFields": {"custom5": "x"}}
    fleet.write()
    commit(fleet.repo, "one SIM")
    monkeypatch.chdir(fleet.path)
    desired = load_fleet(["."])
    found = target("HEAD~1", ["."], desired, RecordingReporter())
    assert found.iccids == (active[0],)


def test_a_ref_that_names_no_commit_is_an_error_before_any_request(
    api: SmartHubClient, fleet: Fleet
) -> None:
    desired = load_fleet([fleet.path])
    with pytest.raises(ConfigError, match="no such commit") as caught:
        target("origin/main", [fleet.path], desired, RecordingReporter())
    assert "git fetch origin main" in str(caught.value)
    with pytest.raises(ConfigError, match="no such commit"):
        target("--output=/tmp/x", [fleet.path], desired, RecordingReporter())
    assert api.stats().requests == 0


def test_a_shallow_clone_that_lacks_the_ref_says_fetch_depth_0(
    fleet: Fleet, tmp_path: Path
) -> None:
    fleet.defaults = {}
    fleet.write()
    commit(fleet.repo, "second")
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{fleet.repo}", str(clone))
    desired = load_fleet([clone / "manifests"])
    with pytest.raises(ConfigError, match="shallow") as caught:
        target("HEAD~1", [clone / "manifests"], desired, RecordingReporter())
    assert "fetch-depth: 0" in str(caught.value)


def test_manifests_that_do_not_load_at_the_ref_are_named_by_file_and_line(
    fleet: Fleet, active: list[str]
) -> None:
    bad = active[0][:-1] + str((int(active[0][-1]) + 1) % 10)  # wrong check digit
    fleet.groups["a"]["sims"][0] = bad
    fleet.write()
    commit(fleet.repo, "a typo")
    fleet.groups["a"]["sims"][0] = active[0]
    fleet.write()
    commit(fleet.repo, "the fix")
    desired = load_fleet([fleet.path])
    with pytest.raises(ConfigError) as caught:
        target("HEAD~1", [fleet.path], desired, RecordingReporter())
    message = str(caught.value)
    assert "the manifests there do not load" in message
    line = next(
        n
        for n, text in enumerate(
            git(fleet.repo, "show", "HEAD~1:manifests/groups.yaml").splitlines(), 1
        )
        if bad in text
    )
    assert f"manifests/groups.yaml:{line}:" in message and "bad check digit" in message
    assert "without --changed-from" in message


def test_a_folder_outside_any_git_work_tree(
    tmp_path: Path, fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    for name in ("fleet.yaml", "groups.yaml"):
        (outside / name).write_text((fleet.path / name).read_text())
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    desired = load_fleet([outside])
    with pytest.raises(ConfigError, match="not in a git work tree"):
        target("HEAD~1", [outside], desired, RecordingReporter())


def test_the_plan_command_records_the_sims_a_targeted_read_saw_in_the_cache(
    simulator: RunningSimulator, fleet: Fleet, active: list[str]
) -> None:
    """Targeted reads update the live-state cache for the SIMs they touch (and only those),
    stamped as single GETs; the cache is not marked complete by them."""
    from reconciler.app import Connection
    from reconciler.clock import SystemClock
    from reconciler.commands import plan as plan_command
    from reconciler.live.cache import LiveCache, Via

    state = Path(os.environ["FLEETFORM_STATE_DIR"])  # the autouse fixture's folder per test
    one, two = active[5], active[6]
    sims = fleet.groups["a"]["sims"]
    sims[5] = {"iccid": one, "customFields": {"custom3": "desk-5"}}
    sims[6] = {"iccid": two, "customFields": {"custom3": "desk-6"}}
    fleet.write()
    commit(fleet.repo, "two SIMs")

    code = plan_command.run_plan(
        plan_command.PlanOptions(paths=[fleet.path], changed_from="HEAD~1", detailed_exitcode=True),
        connection=Connection(endpoint=simulator.url, api_key=simulator.api_key),
        reporter=RecordingReporter(),
        write=lambda text: None,
    )

    assert code == 2
    cache = LiveCache.open(
        state,
        endpoint=simulator.url,
        account="acme",
        reporter=RecordingReporter(),
        clock=SystemClock().now,
    )
    try:
        stamps = cache.stamps(active[:40])
        assert set(stamps) == {one, two}
        assert {via for _, _, via in stamps.values()} == {Via.GET}
        with SmartHubClient(simulator.url, simulator.api_key) as client:
            assert cache.get([one])[one].status is client.get_sim(one).status
        assert not cache.state().complete
    finally:
        cache.close()

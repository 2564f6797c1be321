"""Targeted plans (``--changed-from``) without a server: which SIMs a change reaches, how they
are read, what the plan says and records, the git reading's corner cases."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from pathlib import Path

import pytest

from reconciler.clock import SystemClock
from reconciler.commands.apply import ApplyOptions, apply_plan
from reconciler.errors import ConfigError, PlanFileError
from reconciler.live.targeted import (
    GET,
    LIST,
    Target,
    choose_reads,
    read_before,
    read_targeted,
    target,
)
from reconciler.manifest import load_fleet
from reconciler.manifest.delta import declarations, declared_changes
from reconciler.manifest.gitref import DeclarationsAtRef, Revision, declarations_at, read_at
from reconciler.model import (
    ApnStatus,
    DesiredFleet,
    DesiredSim,
    DesiredState,
    FleetSpec,
    Plan,
    SourceRef,
)
from reconciler.planfile import plan_from_json, plan_to_dict, plan_to_json, seal
from reconciler.planner.make import make_plan
from reconciler.render import render_plan
from reconciler.render.github import plan_annotations
from reconciler.reporting import RecordingReporter
from tests.fakes import FakeSmartHub, giccid

SRC = SourceRef("manifests/groups.yaml", 3)
REVISION = Revision("origin/main", "3f2a1c9" + "0" * 33)


def sim(i: int, **kw: object) -> DesiredSim:
    return DesiredSim(iccid=giccid(i), group="g", source=SRC, **kw)  # type: ignore[arg-type]


def fleet(sims: list[DesiredSim], account: str = "acme", **spec: object) -> DesiredFleet:
    fs = FleetSpec("trackers", account, SourceRef("manifests/fleet.yaml", 1), **spec)  # type: ignore[arg-type]
    return DesiredFleet(fs, {s.iccid: s for s in sims}, digest="sha256:d")


# --- which SIMs a change reaches -----------------------------------------------------------


def test_only_effective_differences_count() -> None:
    before = fleet(
        [
            sim(1, rate_plan="IoT-1GB"),
            sim(2, supplementary_plans=("A", "B"), custom_fields={"custom1": ""}),
            sim(3, apns={"iot": ApnStatus.ENABLED}),
            sim(4, state=DesiredState.ACTIVE),
            sim(5),
        ]
    )
    after = fleet(
        [
            dataclasses.replace(sim(1, rate_plan="IoT-5GB"), group="moved"),  # changed
            # same plans in another order, "" and null both mean empty, another place: same
            dataclasses.replace(
                sim(2, supplementary_plans=("B", "A"), custom_fields={"custom1": None}),
                source=SourceRef("elsewhere.yaml", 99),
                group="other",
            ),
            sim(3, apns={"iot": ApnStatus.DISABLED}),  # changed
            sim(4, state=DesiredState.ACTIVE, custom_fields={"custom2": None}),  # newly managed
            sim(6),  # added; 5 removed
        ],
        max_changes=3,  # a guard: no SIM's declaration
        unmanaged="ignore",
    )
    changes = declared_changes(before, after)
    assert changes.changed == (giccid(1), giccid(3), giccid(4))
    assert changes.added == (giccid(6),)
    assert changes.removed == (giccid(5),)
    assert changes.targets == (giccid(1), giccid(3), giccid(4), giccid(6))


def test_a_fleet_moved_to_another_account_reaches_every_sim() -> None:
    sims = [sim(i, rate_plan="IoT-1GB") for i in range(3)]
    changes = declared_changes(fleet(sims), fleet(sims, account="globex"))
    assert len(changes.changed) == 3


def test_nothing_declared_before_makes_every_sim_added() -> None:
    changes = declared_changes(None, fleet([sim(1), sim(2)]))
    assert changes.added == (giccid(1), giccid(2)) and changes.changed == ()


# --- how they are read -----------------------------------------------------------------------


def test_gets_when_no_more_than_the_declared_pages_without_asking() -> None:
    asked: list[int] = []

    def count() -> int:
        asked.append(1)
        return 10**6

    assert choose_reads(100, 50_000, count) == (GET, None)
    assert choose_reads(500, 50_000, count) == (GET, None)  # equal: no dearer than the list
    assert asked == []


def test_the_account_count_decides_past_the_declared_pages() -> None:
    assert choose_reads(20, 40, lambda: 250) == (LIST, 250)  # 3 pages beat 20 GETs
    assert choose_reads(20, 40, lambda: 10_000) == (GET, 10_000)  # 20 GETs beat 100 pages
    assert choose_reads(600, 50_000, lambda: 50_000) == (LIST, 50_000)
    assert choose_reads(20, 40, lambda: None) == (LIST, None)  # no count: the list


def target_of(desired: DesiredFleet, iccids: list[str]) -> Target:
    from reconciler.manifest.delta import DeclaredChanges

    return Target(REVISION, DeclaredChanges(tuple(iccids), (), ()), len(desired.sims))


def test_a_targeted_read_by_gets_counts_a_missing_sim_as_missing() -> None:
    api = FakeSmartHub.seeded(5)
    desired = fleet([sim(i, rate_plan="IoT-5GB") for i in range(300)])  # 3 pages declared
    read = read_targeted(
        api, desired, target_of(desired, [giccid(1), giccid(6)]), RecordingReporter()
    )
    assert api.calls_named("get_sim") == [giccid(1), giccid(6)]
    assert api.calls_named("list") == [] and api.calls_named("count") == []
    assert [d.iccid for d in read.diff.changed] == [giccid(1)]
    assert read.diff.missing == (giccid(6),) and read.diff.unmanaged == ()
    assert read.sims_read == 1 and read.requests == 3  # catalogue + 2 GETs
    assert read.targeting.read_by == GET and read.targeting.not_read == 298


def test_a_targeted_read_by_the_list_stops_when_every_sim_was_seen() -> None:
    api = FakeSmartHub.seeded(1000)
    desired = fleet([sim(i, rate_plan="IoT-5GB") for i in range(1000)][:150])
    wanted = [giccid(i) for i in range(150)]  # 150 > 2 declared pages; the account: 10 pages
    read = read_targeted(api, desired, target_of(desired, wanted), RecordingReporter())
    assert read.targeting.read_by == LIST and read.targeting.account_size == 1000
    assert len(api.calls_named("list")) == 2  # the targeted SIMs are on the first two pages
    assert len(read.diff.changed) == 150


# --- what the plan says and records ----------------------------------------------------------


def targeted_plan(declared: int = 50_000, suspend: int = 100) -> Plan:
    api = FakeSmartHub.seeded(suspend)
    sims = [sim(i, state=DesiredState.SUSPENDED) for i in range(suspend)]
    sims += [sim(i) for i in range(suspend, declared)]
    desired = fleet(sims)
    read = read_targeted(
        api, desired, target_of(desired, [giccid(i) for i in range(suspend)]), RecordingReporter()
    )
    return make_plan(
        desired,
        read.diff,
        read.catalogue,
        endpoint="http://fake.test/v1",
        account="acme",
        requests_read=read.requests,
        rate_budget=None,
        created_at="2026-12-04T05:00:00Z",
        targeted=read.targeting,
    )


def test_the_guards_and_the_recheck_weigh_the_whole_declared_fleet() -> None:
    plan = targeted_plan()
    guard = next(g for g in plan.guards if g.name == "massDisable")
    assert not guard.blocking and "100 of 50,000 managed SIMs" in guard.message
    assert plan.account_size == 50_000
    # 100 re-check GETs beat 500 pages; plus one suspend batch job and its polls
    writes = sum(s.requests for s in plan.steps)
    assert plan.summary.requests_estimated == writes + 100


def test_every_format_says_the_plan_is_targeted() -> None:
    plan = targeted_plan()
    line = (
        "Targeted: 100 SIMs whose declaration changed since origin/main (3f2a1c9); the other "
        "49,900 were not read: the scheduled drift check covers them."
    )
    text = render_plan(plan, "text", width=400)
    assert line in text and "Unmanaged SIMs are not looked for" in text
    assert "unmanaged" not in text.split("\n")[1]  # the read line counts none
    assert line.replace(".", "\\.") in render_plan(plan, "markdown") or line in render_plan(
        plan, "markdown"
    )
    notices = [a.message for a in plan_annotations(plan)]
    assert any(m.startswith(line) for m in notices)
    data = json.loads(render_plan(plan, "json"))
    assert data["targeted"] == {
        "ref": "origin/main",
        "commit": REVISION.commit,
        "sims": 100,
        "not_read": 49_900,
        "removed": 0,
        "read_by": "get",
        "account_size": None,
    }


def test_the_plan_file_keeps_the_targeting_and_a_full_plan_has_none() -> None:
    plan = seal(targeted_plan(declared=300, suspend=3))
    text = plan_to_json(plan)
    assert plan_from_json(text) == plan
    edited = json.loads(text)
    edited["targeted"]["not_read"] = 0
    with pytest.raises(PlanFileError, match="edited"):
        plan_from_json(json.dumps(edited))
    full = dataclasses.replace(plan, targeted=None)
    assert "targeted" not in plan_to_dict(full)


def test_apply_refuses_changed_from_with_a_plan_file_or_resume(tmp_path: Path) -> None:
    for options in (
        ApplyOptions(plan_file=tmp_path / "plan.json", changed_from="HEAD~1"),
        ApplyOptions(resume=True, changed_from="HEAD~1"),
    ):
        with pytest.raises(ConfigError, match="leave --changed-from out"):
            apply_plan(
                FakeSmartHub(),
                options,
                RecordingReporter(),
                state_dir=tmp_path,
                clock=SystemClock(),  # refused before any time is taken
            )


# --- reading git -----------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


FLEET = "apiVersion: fleetform/v1\nkind: Fleet\nmetadata: {name: f}\nspec: {account: acme}\n"


def group(name: str, *iccids: str, plan: str = "IoT-1GB") -> str:
    sims = "".join(f'    - "{i}"\n' for i in iccids)
    return (
        f"apiVersion: fleetform/v1\nkind: SimGroup\nmetadata: {{name: {name}}}\n"
        f"spec:\n  ratePlan: {plan}\n  sims:\n{sims}"
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "fleet" / "groups").mkdir(parents=True)
    git(root, "init", "-q")
    (root / "fleet" / "fleet.yaml").write_text(FLEET)
    (root / "fleet" / "groups" / "a.yaml").write_text(group("a", giccid(1)))
    (root / "fleet" / ".hidden").mkdir()
    (root / "fleet" / ".hidden" / "junk.yaml").write_text("not: [valid")
    (root / "fleet" / "notes.txt").write_text("not a manifest")
    os.symlink("groups/a.yaml", root / "fleet" / "link.yml")  # the same file: read once
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "one")
    return root


def test_a_commit_is_read_as_the_working_tree_would_be(repo: Path) -> None:
    found = read_at("HEAD", [repo / "fleet"])
    assert found.manifests is not None
    assert list(found.manifests.fleet.sims) == [giccid(1)]
    assert found.manifests.fleet.files == ("fleet/fleet.yaml", "fleet/groups/a.yaml")
    assert found.revision.commit == git(repo, "rev-parse", "HEAD")
    single = read_at("HEAD", [repo / "fleet" / "fleet.yaml", repo / "fleet" / "groups" / "a.yaml"])
    assert single.manifests is not None and len(single.manifests.fleet.sims) == 1


def test_a_symlink_loop_or_one_out_of_the_repository_is_a_problem(repo: Path) -> None:
    os.symlink("loop2.yaml", repo / "fleet" / "loop1.yaml")
    os.symlink("loop1.yaml", repo / "fleet" / "loop2.yaml")
    os.symlink("../../outside.yaml", repo / "fleet" / "out.yaml")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "links")
    with pytest.raises(ConfigError) as caught:
        read_at("HEAD", [repo / "fleet"])
    message = str(caught.value)
    assert "fleet/loop1.yaml:1:1: cannot be read: symlink loop" in message
    assert "fleet/out.yaml:1:1: a symlink out of the repository" in message


def test_paths_absent_at_the_commit_mean_nothing_was_declared(repo: Path) -> None:
    (repo / "new").mkdir()
    (repo / "new" / "fleet.yaml").write_text(FLEET)
    found = read_at("HEAD", [repo / "new"])
    assert found.manifests is None


@pytest.mark.parametrize("plain", [True, False])
def test_the_declarations_at_a_commit_are_the_fleet_there_reduced(repo: Path, plain: bool) -> None:
    """``--changed-from`` keeps each SIM's fingerprint of the set at the commit, read file by
    file (the fast path) or, for YAML it does not vouch for, the marked way: the same answer."""
    text = group("b", giccid(2), giccid(3), plan="IoT-5GB")
    if not plain:
        text = text.replace("ratePlan: IoT-5GB", "ratePlan: &p IoT-5GB")  # an unused anchor
    text += "  apns: {iot: enabled}\n  customFields: {custom1: '', custom2: x}\n"
    (repo / "fleet" / "groups" / "b.yaml").write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "two")
    found = declarations_at("HEAD", [repo / "fleet"])
    full = read_at("HEAD", [repo / "fleet"]).manifests
    assert found.declarations is not None and full is not None
    assert found.declarations == declarations(full.fleet)
    assert list(found.declarations.sims) == list(full.fleet.sims)
    # ``""`` and null both mean empty; plans compare as a set
    after = full.fleet
    assert declared_changes(found.declarations, after).changed == ()
    same = dataclasses.replace(
        after.sims[giccid(2)], custom_fields={"custom1": None, "custom2": "x"}
    )
    moved = dataclasses.replace(after, sims={**after.sims, giccid(2): same})
    assert declared_changes(found.declarations, moved).changed == ()
    other = dataclasses.replace(same, custom_fields={"custom1": None, "custom2": "y"})
    edited = dataclasses.replace(after, sims={**after.sims, giccid(2): other})
    assert declared_changes(found.declarations, edited).changed == (giccid(2),)


def test_the_ref_is_read_first_and_its_error_raised_only_when_asked(repo: Path) -> None:
    """plan/apply read the ref's declarations before loading the working tree (one fleet in
    memory at a time); a ref that does not resolve is raised by `target`, after the working
    tree's own problems would have been."""
    assert read_before(None, [repo / "fleet"]) is None
    bad = read_before("no-such-ref", [repo / "fleet"])
    assert isinstance(bad, ConfigError)
    desired = load_fleet([repo / "fleet"])
    with pytest.raises(ConfigError) as caught:
        target("no-such-ref", [repo / "fleet"], desired, RecordingReporter(), bad)
    assert caught.value is bad
    good = read_before("HEAD", [repo / "fleet"])
    assert isinstance(good, DeclarationsAtRef)
    assert target("HEAD", [repo / "fleet"], desired, RecordingReporter(), good).iccids == ()

"""``--format github`` (`reconciler.render.github`): annotations on manifest lines, job summary."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.diff import diff_fleet
from reconciler.drift import build_drift
from reconciler.errors import ConfigError, ManifestError, ManifestProblem
from reconciler.export import ExportSettings, export_fleet
from reconciler.manifest import load_fleet
from reconciler.model import (
    CUSTOM_FIELD_NAMES,
    ApnStatus,
    ApplyReport,
    DesiredFleet,
    FieldChange,
    LiveSim,
    Operation,
    Outcome,
    RateBudget,
    RatePlan,
    RatePlanType,
    SimOutcome,
    Status,
    StepReport,
)
from reconciler.planner.make import make_plan
from reconciler.render.github import (
    MAX_ANNOTATIONS,
    Annotation,
    append_step_summary,
    apply_github,
    cap,
    drift_annotations,
    drift_github,
    escape_data,
    escape_property,
    manifest_error_github,
    plan_annotations,
    plan_github,
    repo_path,
)
from reconciler.simulator import giccid_for

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CATALOGUE = [
    RatePlan("IoT-1GB", RatePlanType.BASIC),
    RatePlan("IoT-5GB", RatePlanType.BASIC),
    RatePlan("EU-Roaming-500MB", RatePlanType.SUPPLEMENTARY, prepaid=True),
]


def live(i: int, rate_plan: str = "IoT-1GB", status: Status = Status.ACTIVE) -> LiveSim:
    return LiveSim(
        iccid=giccid_for(i),
        status=status,
        account="acme",
        rate_plan=rate_plan,
        apns={"iot.acme": ApnStatus.ENABLED},
        custom_fields=dict.fromkeys(CUSTOM_FIELD_NAMES),
    )


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[DesiredFleet, list[LiveSim]]:
    """Ten active SIMs on IoT-1GB (one on IoT-5GB), exported to ``m/`` under the cwd."""
    sims = [live(i) for i in range(10)] + [live(10, "IoT-5GB")]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m").mkdir()
    for file in export_fleet(sims, ExportSettings("acme", "acme")):
        (tmp_path / "m" / file.name).write_text(file.text, encoding="utf-8")
    return load_fleet([Path("m")]), sims


def _line_of(path: Path, text: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, start=1) if text in line)


def test_escaping_follows_the_workflow_command_rules() -> None:
    assert escape_data("50% done\nnext\r") == "50%25 done%0Anext%0D"
    assert escape_property("a:b,c%") == "a%3Ab%2Cc%25"
    annotation = Annotation("error", "x: 1,\n2", "t:1", "m/a b.yaml", 3, 5)
    assert str(annotation) == "::error file=m/a b.yaml,line=3,col=5,title=t%3A1::x: 1,%0A2"
    assert str(Annotation("notice", "plain")) == "::notice::plain"


def test_paths_are_made_relative_to_the_workspace() -> None:
    assert repo_path("/work/repo/m/a.yaml", "/work/repo") == "m/a.yaml"
    assert repo_path("./m/a.yaml", "/work/repo") == "m/a.yaml"
    assert repo_path("/elsewhere/a.yaml", "/work/repo") == "/elsewhere/a.yaml"


def test_drift_is_folded_onto_the_group_line_it_differs_from(
    fleet: tuple[DesiredFleet, list[LiveSim]], tmp_path: Path
) -> None:
    desired, sims = fleet
    moved = [
        dataclasses.replace(s, rate_plan="IoT-5GB") if i < 3 else s for i, s in enumerate(sims)
    ]
    moved[10] = dataclasses.replace(moved[10], rate_plan="IoT-1GB")  # its own entry's value
    report = build_drift(
        desired, diff_fleet(desired, moved), endpoint="http://x/v1", checked_at=NOW
    )
    annotations = drift_annotations(report)
    group_file = tmp_path / "m" / "status-active.yaml"
    group_line = _line_of(group_file, "  ratePlan: IoT-1GB")
    own_line = _line_of(group_file, giccid_for(10))
    by_line = {a.line: a for a in annotations}
    assert set(by_line) == {group_line, own_line}
    folded = by_line[group_line]
    assert (folded.level, folded.file) == ("error", "m/status-active.yaml")
    assert folded.message.startswith("drift in ratePlan: git says IoT-1GB; 3 SIMs (")
    assert giccid_for(0) in folded.message and "live IoT-5GB" in folded.message
    assert by_line[own_line].message == (
        f"drift in ratePlan: git says IoT-5GB; SIM {giccid_for(10)}: live IoT-1GB"
    )

    output = drift_github(report)
    first = output.stdout.splitlines()[0]
    assert first.startswith(f"::error file=m/status-active.yaml,line={group_line},col=")
    assert "Drift of fleet 'acme'" in output.stdout  # the text rendering follows
    assert output.summary.startswith("### fleetform drift")


def test_no_drift_no_annotation(fleet: tuple[DesiredFleet, list[LiveSim]]) -> None:
    desired, sims = fleet
    report = build_drift(desired, diff_fleet(desired, sims), endpoint="http://x/v1", checked_at=NOW)
    assert drift_annotations(report) == []


def _plan(desired: DesiredFleet, sims: list[LiveSim], catalogue: list[RatePlan]):  # type: ignore[no-untyped-def]
    return make_plan(
        desired,
        diff_fleet(desired, sims),
        catalogue,
        endpoint="http://x/v1",
        account="acme",
        requests_read=1,
        rate_budget=RateBudget(limit=5000, remaining=4000, reset_seconds=600, observed_at=0.0),
        created_at="2026-11-25T12:00:00Z",
    )


def test_plan_problems_point_at_the_manifest_line(
    fleet: tuple[DesiredFleet, list[LiveSim]], tmp_path: Path
) -> None:
    desired, sims = fleet
    moved = [dataclasses.replace(s, rate_plan="IoT-5GB") for s in sims]
    plan = _plan(desired, moved, [p for p in CATALOGUE if p.name != "IoT-1GB"])
    assert plan.problems
    annotations = plan_annotations(plan)
    errors = [a for a in annotations if a.level == "error"]
    line = _line_of(tmp_path / "m" / "status-active.yaml", "  ratePlan: IoT-1GB")
    assert any(a.file == "m/status-active.yaml" and a.line == line for a in errors), errors
    assert len(errors) < len(plan.problems) or len(plan.problems) == 1  # folded by place
    assert annotations[-1].level == "notice" and "SIMs to change" in annotations[-1].message


def test_plan_output_has_annotations_text_and_markdown(
    fleet: tuple[DesiredFleet, list[LiveSim]],
) -> None:
    desired, sims = fleet
    plan = _plan(desired, [dataclasses.replace(sims[0], rate_plan="IoT-5GB"), *sims[1:]], CATALOGUE)
    output = plan_github(plan)
    lines = output.stdout.splitlines()
    assert lines[0] == (
        f"::notice title=fleetform plan%3A acme::1 SIM to change, 10 unchanged, about "
        f"{plan.summary.requests_estimated} requests to apply"
    )
    assert "::" not in "\n".join(lines[1:])  # then the plain text, no colour codes
    assert "\x1b[" not in output.stdout
    assert "fleetform plan" in output.summary


def test_apply_failures_are_folded_by_reason() -> None:
    def sim(i: int, outcome: Outcome, reason: str | None = None) -> SimOutcome:
        moved = (FieldChange("state", "active", "suspended"),) if outcome is Outcome.STALE else ()
        return SimOutcome(giccid_for(i), outcome, reason, moved)

    report = ApplyReport(
        plan_checksum="c",
        endpoint="http://x/v1",
        account="acme",
        steps=(
            StepReport(
                "w1-s001",
                1,
                Operation.SET_RATE_PLAN,
                True,
                (
                    sim(0, Outcome.FAILED, "illegal_status"),
                    sim(1, Outcome.FAILED, "illegal_status"),
                    sim(2, Outcome.STALE),
                    sim(3, Outcome.DONE),
                    sim(4, Outcome.SKIPPED),
                ),
            ),
        ),
        requests_spent=3,
        waited_seconds=0.0,
    )
    output = apply_github(report, sim_sources={})
    lines = output.stdout.splitlines()
    assert lines[0] == (
        "::error title=fleetform apply%3A failed::set_rate_plan failed for 2 SIMs "
        f"({giccid_for(0)}, {giccid_for(1)}): illegal_status"
    )
    assert lines[1] == (
        "::warning title=fleetform apply%3A stale::set_rate_plan stale for 1 SIM "
        f"({giccid_for(2)}): state now suspended"
    )
    assert not lines[2].startswith("::")
    assert output.summary


def test_annotations_are_capped_at_what_github_shows() -> None:
    many = [Annotation("warning", f"w{i}") for i in range(40)]
    many += [Annotation("error", f"e{i}") for i in range(20)]
    capped = cap(many)
    assert len(capped) == MAX_ANNOTATIONS
    assert [a.level for a in capped[:20]] == ["error"] * 20  # errors first
    assert capped[-1] == Annotation("notice", "11 more findings: see the job summary and the log")


def test_manifest_errors_become_annotations() -> None:
    error = ManifestError(
        [
            ManifestProblem("m/a.yaml", 3, 5, "unknown field 'stat'", field="spec.stat"),
            ManifestProblem("/ws/m/b.yaml", 7, 1, "bad check digit"),
        ]
    )
    assert manifest_error_github(error, workspace="/ws").splitlines() == [
        "::error file=m/a.yaml,line=3,col=5,title=fleetform%3A spec.stat::unknown field 'stat'",
        "::error file=m/b.yaml,line=7,col=1,title=fleetform::bad check digit",
    ]


def test_the_step_summary_is_appended_only_when_github_says_where(tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    assert append_step_summary("# one", {}) is None
    assert append_step_summary("# one", {"GITHUB_STEP_SUMMARY": str(target)}) == target
    assert append_step_summary("# two\n", {"GITHUB_STEP_SUMMARY": str(target)}) == target
    assert target.read_text() == "# one\n# two\n"


def test_a_step_summary_that_cannot_be_written_is_one_clear_error(tmp_path: Path) -> None:
    """It was a FileNotFoundError traceback."""
    missing = tmp_path / "no-such-folder" / "summary.md"
    with pytest.raises(ConfigError, match=r"cannot append the job summary to .*unset"):
        append_step_summary("# one", {"GITHUB_STEP_SUMMARY": str(missing)})


def test_a_blocking_guard_is_an_error(fleet: tuple[DesiredFleet, list[LiveSim]]) -> None:
    desired, sims = fleet
    strict = dataclasses.replace(desired, fleet=dataclasses.replace(desired.fleet, max_changes=1))
    plan = _plan(strict, [dataclasses.replace(s, rate_plan="IoT-5GB") for s in sims[:3]], CATALOGUE)
    (guard,) = [a for a in plan_annotations(plan) if a.title == "guard maxChanges"]
    assert guard.level == "error"
    assert guard.message.startswith("apply will refuse: 3 SIMs change, maxChanges allows 1")
    assert guard.message.endswith(
        "(lift with --max-changes or a higher guards.maxChanges in the Fleet)"
    )

"""``--format github``: workflow-command annotations and a job summary for GitHub Actions.

What a run prints in this format (`GithubOutput`):

- ``stdout``: annotation lines (``::error file=...,line=...,col=...,title=...::message``) that
  GitHub shows on the manifest lines of a pull request's diff and on the run's page, followed by
  the plain text rendering so the log stays readable;
- ``summary``: markdown for the job summary. The command appends it to the file named by
  ``$GITHUB_STEP_SUMMARY`` when that variable is set (`append_step_summary`, the one function
  here that touches a file); elsewhere it is dropped.

Choices where GitHub's limits decide: GitHub shows at most 10 annotations of each level per
step and 50 per job, so findings that share a manifest line and field are folded into one
annotation (a group's ``ratePlan`` line that 500 SIMs drifted from is one annotation naming a
few of them), and past `MAX_ANNOTATIONS` one last notice says how many more there are. The job
summary is capped under GitHub's 1 MiB.

Levels: plan and drift problems (errors of the manifests against the account) and drift are
``error``; blocking guards are ``error`` (guards that pass are left to the summary); plan
warnings are ``warning``; an apply's failed SIMs are ``error``, stale and not-run SIMs
``warning``; the plan's counts are one ``notice``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

from reconciler.errors import ConfigError, ManifestError
from reconciler.guard_lift import lift_hint
from reconciler.model import (
    ApplyReport,
    DriftReport,
    Outcome,
    Plan,
    Problem,
    SourceRef,
)
from reconciler.render.apply_markdown import render_apply_markdown
from reconciler.render.apply_text import render_apply_text
from reconciler.render.drift_markdown import render_drift_markdown
from reconciler.render.drift_text import render_drift_text, show, when
from reconciler.render.plan_markdown import render_plan_markdown
from reconciler.render.plan_summary import held_back, targeted_line
from reconciler.render.plan_text import render_plan_text
from reconciler.wording import counted

MAX_ANNOTATIONS = 50  # GitHub shows no more per job
SUMMARY_LIMIT = 1_000_000  # characters; GitHub refuses a step summary over 1 MiB
LISTED_SIMS = 5  # ICCIDs named in one folded annotation

LEVELS = ("error", "warning", "notice")


@dataclass(frozen=True, slots=True)
class Annotation:
    level: str  # error | warning | notice
    message: str
    title: str | None = None
    file: str | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        props = []
        if self.file is not None:
            props.append(f"file={escape_property(self.file)}")
            if self.line is not None:
                props.append(f"line={self.line}")
                if self.column is not None:
                    props.append(f"col={self.column}")
        if self.title:
            props.append(f"title={escape_property(self.title)}")
        head = f"::{self.level}" + (" " + ",".join(props) if props else "")
        return f"{head}::{escape_data(self.message)}"


@dataclass(frozen=True, slots=True)
class GithubOutput:
    stdout: str  # annotation lines, then the text rendering
    summary: str  # markdown for $GITHUB_STEP_SUMMARY


def escape_data(text: str) -> str:
    """A workflow command's message: ``%``, CR and LF escaped (GitHub's toolkit rules)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: as `escape_data`, plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def repo_path(file: str, workspace: str | None) -> str:
    """The path GitHub matches against the diff: relative to the workspace, with ``/``."""
    path = PurePath(file)
    if workspace and path.is_absolute() and path.is_relative_to(workspace):
        path = path.relative_to(workspace)
    return path.as_posix().removeprefix("./")


@dataclass(frozen=True, slots=True)
class Place:
    """Where an annotation points; all None: nowhere in particular."""

    file: str | None = None
    line: int | None = None
    column: int | None = None


def place(source: SourceRef | None, workspace: str | None) -> Place:
    if source is None:
        return Place()
    return Place(repo_path(source.file, workspace), source.line, source.column)


def _note(level: str, message: str, title: str, where: Place) -> Annotation:
    return Annotation(level, message, title, where.file, where.line, where.column)


def _sims(iccids: Sequence[str]) -> str:
    shown = ", ".join(iccids[:LISTED_SIMS])
    more = len(iccids) - LISTED_SIMS
    return shown + (f" and {more} more" if more > 0 else "")


def cap(annotations: Sequence[Annotation], limit: int = MAX_ANNOTATIONS) -> list[Annotation]:
    """At most ``limit`` lines, the most severe first (stable), the rest counted in a notice."""
    ordered = sorted(annotations, key=lambda a: LEVELS.index(a.level))
    if len(ordered) <= limit:
        return ordered
    kept = ordered[: limit - 1]
    rest = len(ordered) - len(kept)
    return [*kept, Annotation("notice", f"{rest} more findings: see the job summary and the log")]


def _lines(annotations: Iterable[Annotation]) -> str:
    return "".join(f"{a}\n" for a in annotations)


def _summary(markdown: str) -> str:
    if len(markdown) <= SUMMARY_LIMIT:
        return markdown
    return markdown[: SUMMARY_LIMIT - 100] + "\n\n_Cut short: see the log for the rest._\n"


def problem_annotations(problems: Iterable[Problem], workspace: str | None) -> list[Annotation]:
    """Problems folded by place and message (a group line wrong for many SIMs: one line)."""
    folded: dict[tuple[Place, str | None, str], list[str]] = {}
    for problem in problems:
        key = (place(problem.source, workspace), problem.field, problem.message)
        iccids = folded.setdefault(key, [])
        if problem.iccid:
            iccids.append(problem.iccid)
    return [
        _note(
            "error",
            message + (f" (SIM {_sims(iccids)})" if iccids else ""),
            f"fleetform: {field}" if field else "fleetform",
            where,
        )
        for (where, field, message), iccids in folded.items()
    ]


def _missing(missing: Sequence[str], account: str) -> list[Annotation]:
    if not missing:
        return []
    message = f"{len(missing)} declared SIMs are not in account {account}: {_sims(missing)}"
    return [Annotation("error", message, title="fleetform: missing SIMs")]


# --- plan ------------------------------------------------------------------------------------


def plan_annotations(plan: Plan, *, workspace: str | None = None) -> list[Annotation]:
    annotations = problem_annotations(plan.problems, workspace)
    for guard in plan.guards:  # the others passed: the summary lists them
        if guard.blocking:
            hint = f" (lift with {lift_hint(guard)})" if guard.override else ""
            message = f"apply will refuse: {guard.message}{hint}"
            annotations.append(Annotation("error", message, title=f"guard {guard.name}"))
        elif guard.lifted_by:
            message = f"{guard.message}: lifted by {guard.lifted_by}"
            annotations.append(Annotation("notice", message, title=f"guard {guard.name} lifted"))
    annotations += [Annotation("warning", w, title="fleetform plan") for w in plan.warnings]
    annotations += _missing(plan.missing, plan.account)
    s = plan.summary
    held = held_back(plan)
    held_text = f", {held} held back by problems" if held or plan.problems else ""
    annotations.append(
        Annotation(
            "notice",
            f"{counted(s.to_change, 'SIM')} to change, {s.unchanged:,} unchanged{held_text}, about "
            f"{counted(s.requests_estimated, 'request')} to apply"
            + (
                f" in {len(plan.rollout)} rollout steps "
                f"({' → '.join(stage.share for stage in plan.rollout)})"
                if plan.rollout
                else ""
            )
            + (
                f"; plan invalid: {counted(len(plan.problems), 'problem')}" if plan.problems else ""
            ),
            title=f"fleetform plan: {plan.fleet}",
        )
    )
    targeted = targeted_line(plan)
    if targeted:
        annotations.append(Annotation("notice", targeted, title="fleetform plan: targeted"))
    return cap(annotations)


def plan_github(plan: Plan, *, workspace: str | None = None, width: int = 100) -> GithubOutput:
    return GithubOutput(
        stdout=_lines(plan_annotations(plan, workspace=workspace))
        + render_plan_text(plan, color=False, width=width),
        summary=_summary(render_plan_markdown(plan)),
    )


# --- drift -----------------------------------------------------------------------------------


def drift_annotations(report: DriftReport, *, workspace: str | None = None) -> list[Annotation]:
    """One annotation per manifest place, field and desired value that live SIMs differ from."""
    folded: dict[tuple[Place, str, str | None], list[tuple[str, str | None, str]]] = {}
    for sim in report.sims:
        for f in sim.fields:
            key = (place(f.source, workspace), f.field, f.desired)
            folded.setdefault(key, []).append((sim.iccid, f.live, when(f.last_changed)))
    annotations = []
    for (where, field, desired), sims in folded.items():
        if len(sims) == 1:
            iccid, live, changed = sims[0]
            dated = f", changed {changed}" if changed else ""
            detail = f"SIM {iccid}: live {show(live)}{dated}"
        else:
            iccids = [iccid for iccid, _, _ in sims]
            lives = sorted({show(live) for _, live, _ in sims})
            detail = (
                f"{counted(len(sims), 'SIM')} ({_sims(iccids)}): "
                f"live {', '.join(lives[:LISTED_SIMS])}"
            )
        message = f"drift in {field}: git says {show(desired)}; {detail}"
        annotations.append(_note("error", message, f"fleetform drift: {field}", where))
    annotations += problem_annotations(report.problems, workspace)
    annotations += _missing(report.missing, report.account)
    return cap(annotations)


def drift_github(
    report: DriftReport, *, workspace: str | None = None, managed: int | None = None
) -> GithubOutput:
    return GithubOutput(
        stdout=_lines(drift_annotations(report, workspace=workspace))
        + render_drift_text(report, managed=managed),
        summary=_summary(render_drift_markdown(report, managed=managed)),
    )


# --- apply -----------------------------------------------------------------------------------

_APPLY_LEVEL = {Outcome.FAILED: "error", Outcome.STALE: "warning", Outcome.NOT_RUN: "warning"}


def apply_annotations(
    report: ApplyReport,
    *,
    sim_sources: Mapping[str, SourceRef] | None = None,
    workspace: str | None = None,
) -> list[Annotation]:
    """Failed, stale and not-run SIMs, folded by step operation, outcome and reason (and by
    manifest place when ``sim_sources`` maps ICCIDs to where they are declared). Skipped SIMs
    follow from an earlier failure: the summary counts them."""
    sources = sim_sources or {}
    folded: dict[tuple[str, str, str, str, Place], list[str]] = {}
    for step in report.steps:
        for sim in step.sims:
            level = _APPLY_LEVEL.get(sim.outcome)
            if level is None:
                continue
            reason = sim.reason or ", ".join(f"{m.field} now {show(m.after)}" for m in sim.moved)
            where = place(sources.get(sim.iccid), workspace)
            key = (level, step.operation.value, sim.outcome.value, reason, where)
            folded.setdefault(key, []).append(sim.iccid)
    annotations = []
    for (level, operation, outcome, reason, where), iccids in folded.items():
        why = f": {reason}" if reason else ""
        message = f"{operation} {outcome} for {counted(len(iccids), 'SIM')} ({_sims(iccids)}){why}"
        annotations.append(_note(level, message, f"fleetform apply: {outcome}", where))
    if report.stopped:
        annotations.append(Annotation("warning", report.stopped, title="fleetform apply stopped"))
    return cap(annotations)


def apply_github(
    report: ApplyReport,
    *,
    sim_sources: Mapping[str, SourceRef] | None = None,
    workspace: str | None = None,
) -> GithubOutput:
    annotations = apply_annotations(report, sim_sources=sim_sources, workspace=workspace)
    return GithubOutput(
        stdout=_lines(annotations) + render_apply_text(report),
        summary=_summary(render_apply_markdown(report)),
    )


# --- manifest errors -------------------------------------------------------------------------


def manifest_error_annotations(
    error: ManifestError, *, workspace: str | None = None
) -> list[Annotation]:
    """Invalid manifests (validate, or plan/drift before any request) on their lines."""
    return cap(
        [
            Annotation(
                "error",
                problem.message,
                title=f"fleetform: {problem.field}" if problem.field else "fleetform",
                file=repo_path(problem.file, workspace),
                line=problem.line,
                column=problem.column,
            )
            for problem in error.problems
        ]
    )


def manifest_error_github(error: ManifestError, *, workspace: str | None = None) -> str:
    return _lines(manifest_error_annotations(error, workspace=workspace))


# --- the one side effect ---------------------------------------------------------------------

SUMMARY_ENV = "GITHUB_STEP_SUMMARY"
WORKSPACE_ENV = "GITHUB_WORKSPACE"


def workspace_from(environ: Mapping[str, str] = os.environ) -> str | None:
    return environ.get(WORKSPACE_ENV) or None


def emit(
    output: GithubOutput, echo: Callable[[str], None], environ: Mapping[str, str] = os.environ
) -> None:
    """Print the annotations and text with ``echo``; append the summary where GitHub says."""
    echo(output.stdout)
    append_step_summary(output.summary, environ)


def append_step_summary(summary: str, environ: Mapping[str, str] = os.environ) -> Path | None:
    """Append ``summary`` to ``$GITHUB_STEP_SUMMARY`` when it is set; return the file used."""
    target = environ.get(SUMMARY_ENV)
    if not target:
        return None
    path = Path(target)
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(summary if summary.endswith("\n") else summary + "\n")
    except OSError as exc:
        raise ConfigError(
            f"cannot append the job summary to {target} ({SUMMARY_ENV}): {exc.strerror}; "
            f"outside GitHub Actions, unset {SUMMARY_ENV}"
        ) from exc
    return path

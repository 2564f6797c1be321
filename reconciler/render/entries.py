"""The entries of the renderer registry (`reconciler.render.registry`), one per (kind, format).

Listed in `ENTRIES` (at the end) in the order ``--format`` offers them: text, markdown, json,
github. Each imports its renderer module only when called, so a command loads the formats it
uses and no more.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from reconciler.errors import ManifestError
from reconciler.model import ApplyReport, DriftReport, Plan
from reconciler.render.output import Output, Renderer, RenderOptions

if TYPE_CHECKING:
    from reconciler.manifest import Validation

# ---- plan (plan, show; apply's preview) ----


def _plan_text(plan: Plan, options: RenderOptions) -> Output:
    from reconciler.render.plan_text import ALL_LINES, render_plan_text

    if options.verbose:
        text = render_plan_text(plan, color=options.color, width=options.width, max_lines=ALL_LINES)
    else:
        text = render_plan_text(plan, color=options.color, width=options.width)
    return Output(text)


def _plan_markdown(plan: Plan, options: RenderOptions) -> Output:
    from reconciler.render.plan_markdown import render_plan_markdown

    return Output(render_plan_markdown(plan))


def _plan_json(plan: Plan, options: RenderOptions) -> Output:
    from reconciler.render.plan_json import render_plan_json

    return Output(render_plan_json(plan))


def _plan_github(plan: Plan, options: RenderOptions) -> Output:
    from reconciler.render import github

    out = github.plan_github(plan, workspace=github.workspace_from(), width=options.width)
    return Output(out.stdout, summary=out.summary)


# ---- apply (the apply report) ----


def _apply_text(report: ApplyReport, options: RenderOptions) -> Output:
    from reconciler.render.apply_text import render_apply_text

    return Output(render_apply_text(report))


def _apply_markdown(report: ApplyReport, options: RenderOptions) -> Output:
    from reconciler.render.apply_markdown import render_apply_markdown

    return Output(render_apply_markdown(report))


def _apply_json(report: ApplyReport, options: RenderOptions) -> Output:
    from reconciler.render.apply_json import render_apply_json

    return Output(render_apply_json(report))


def _apply_github(report: ApplyReport, options: RenderOptions) -> Output:
    from reconciler.render import github

    out = github.apply_github(report, workspace=github.workspace_from())
    return Output(out.stdout, summary=out.summary)


# ---- drift ----


def _drift_text(report: DriftReport, options: RenderOptions) -> Output:
    from reconciler.render.drift_text import render_drift_text

    return Output(render_drift_text(report, managed=options.managed))


def _drift_markdown(report: DriftReport, options: RenderOptions) -> Output:
    from reconciler.render.drift_markdown import render_drift_markdown

    return Output(render_drift_markdown(report, managed=options.managed))


def _drift_json(report: DriftReport, options: RenderOptions) -> Output:
    from reconciler.render.drift_json import render_drift_json

    return Output(render_drift_json(report))


def _drift_github(report: DriftReport, options: RenderOptions) -> Output:
    from reconciler.render import github

    out = github.drift_github(report, workspace=github.workspace_from(), managed=options.managed)
    return Output(out.stdout, summary=out.summary)


# ---- validate (the `reconciler.manifest.Validation`) ----


def _validate_text(result: Validation, options: RenderOptions) -> Output:
    """Problems on stderr as file:line:column: message; the summary on stdout when valid."""
    problems = "".join(f"{problem}\n" for problem in result.problems)
    summary = f"{result.summary()}\n"
    if result.ok:
        return Output(summary, problems)
    return Output("", problems + summary)


def _validate_json(result: Validation, options: RenderOptions) -> Output:
    from reconciler.manifest import problem_record

    records = [problem_record(p) for p in result.problems]
    return Output(json.dumps(records, indent=2) + "\n")


# ---- manifest-error (invalid manifests met by plan or drift): github only ----


def _manifest_error_github(error: ManifestError, options: RenderOptions) -> Output:
    from reconciler.render import github

    return Output(github.manifest_error_github(error, workspace=github.workspace_from()))


# (report kind, format) -> renderer; a kind's formats are offered in this order
ENTRIES: dict[tuple[str, str], Renderer] = {
    ("plan", "text"): _plan_text,
    ("plan", "markdown"): _plan_markdown,
    ("plan", "json"): _plan_json,
    ("plan", "github"): _plan_github,
    ("apply", "text"): _apply_text,
    ("apply", "markdown"): _apply_markdown,
    ("apply", "json"): _apply_json,
    ("apply", "github"): _apply_github,
    ("drift", "text"): _drift_text,
    ("drift", "markdown"): _drift_markdown,
    ("drift", "json"): _drift_json,
    ("drift", "github"): _drift_github,
    ("validate", "text"): _validate_text,
    ("validate", "json"): _validate_json,
    ("manifest-error", "github"): _manifest_error_github,
}

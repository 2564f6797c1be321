"""The entries of the renderer registry (`reconciler.render.registry`), one per (kind, format).

Registered in the order ``--format`` lists them: text, markdown, json, github. Each imports its
renderer module only when called, so a command loads the formats it uses and no more.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from reconciler.errors import ManifestError
from reconciler.model import ApplyReport, DriftReport, Plan
from reconciler.render.registry import Output, RenderOptions, register

if TYPE_CHECKING:
    from reconciler.manifest import Validation

# ---- plan (plan, show; apply's preview) ----


@register("plan", "text")
def _plan_text(plan: Plan, options: RenderOptions) -> Output:
    from reconciler.render.plan_text import ALL_LINES, render_plan_text

    if options.verbose:
        text = render_plan_text(plan, color=options.color, width=options.width, max_lines=ALL_LINES)
    else:
        text = render_plan_text(plan, color=options.color, width=options.width)
    return Output(text)


@register("plan", "markdown")
def _plan_markdown(plan: Plan, options: RenderOptions) -> Output:
    from reconciler.render.plan_markdown import render_plan_markdown

    return Output(render_plan_markdown(plan))


@register("plan", "json")
def _plan_json(plan: Plan, options: RenderOptions) -> Output:
    from reconciler.render.plan_json import render_plan_json

    return Output(render_plan_json(plan))


@register("plan", "github")
def _plan_github(plan: Plan, options: RenderOptions) -> Output:
    from reconciler.render import github

    out = github.plan_github(plan, workspace=github.workspace_from(), width=options.width)
    return Output(out.stdout, summary=out.summary)


# ---- apply (the apply report) ----


@register("apply", "text")
def _apply_text(report: ApplyReport, options: RenderOptions) -> Output:
    from reconciler.render.apply_text import render_apply_text

    return Output(render_apply_text(report))


@register("apply", "markdown")
def _apply_markdown(report: ApplyReport, options: RenderOptions) -> Output:
    from reconciler.render.apply_markdown import render_apply_markdown

    return Output(render_apply_markdown(report))


@register("apply", "json")
def _apply_json(report: ApplyReport, options: RenderOptions) -> Output:
    from reconciler.render.apply_json import render_apply_json

    return Output(render_apply_json(report))


@register("apply", "github")
def _apply_github(report: ApplyReport, options: RenderOptions) -> Output:
    from reconciler.render import github

    out = github.apply_github(report, workspace=github.workspace_from())
    return Output(out.stdout, summary=out.summary)


# ---- drift ----


@register("drift", "text")
def _drift_text(report: DriftReport, options: RenderOptions) -> Output:
    from reconciler.render.drift_text import render_drift_text

    return Output(render_drift_text(report, managed=options.managed))


@register("drift", "markdown")
def _drift_markdown(report: DriftReport, options: RenderOptions) -> Output:
    from reconciler.render.drift_markdown import render_drift_markdown

    return Output(render_drift_markdown(report, managed=options.managed))


@register("drift", "json")
def _drift_json(report: DriftReport, options: RenderOptions) -> Output:
    from reconciler.render.drift_json import render_drift_json

    return Output(render_drift_json(report))


@register("drift", "github")
def _drift_github(report: DriftReport, options: RenderOptions) -> Output:
    from reconciler.render import github

    out = github.drift_github(report, workspace=github.workspace_from(), managed=options.managed)
    return Output(out.stdout, summary=out.summary)


# ---- validate (the `reconciler.manifest.Validation`) ----


@register("validate", "text")
def _validate_text(result: Validation, options: RenderOptions) -> Output:
    """Problems on stderr as file:line:column: message; the summary on stdout when valid."""
    problems = "".join(f"{problem}\n" for problem in result.problems)
    summary = f"{result.summary()}\n"
    if result.ok:
        return Output(summary, problems)
    return Output("", problems + summary)


@register("validate", "json")
def _validate_json(result: Validation, options: RenderOptions) -> Output:
    from reconciler.manifest import problem_record

    records = [problem_record(p) for p in result.problems]
    return Output(json.dumps(records, indent=2) + "\n")


# ---- manifest-error (invalid manifests met by plan or drift): github only ----


@register("manifest-error", "github")
def _manifest_error_github(error: ManifestError, options: RenderOptions) -> Output:
    from reconciler.render import github

    return Output(github.manifest_error_github(error, workspace=github.workspace_from()))

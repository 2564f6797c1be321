"""Renderers: pure functions from a value (plan, apply report, drift) to text.

One module per value and format (``plan_text``, ``plan_markdown``, ``plan_json``, ...); what
several plan formats share lives in ``plan_summary``. `render_plan` picks the plan format.
"""

from __future__ import annotations

from reconciler.model import Plan

PLAN_FORMATS: tuple[str, ...] = ("text", "markdown", "json")


def render_plan(
    plan: Plan, fmt: str, *, color: bool = False, width: int = 100, verbose: bool = False
) -> str:
    """Render ``plan`` as ``text`` (colour only if asked; ``verbose``: every SIM), ``markdown``
    or ``json``."""
    if fmt == "text":
        from reconciler.render.plan_text import ALL_LINES, render_plan_text

        if verbose:
            return render_plan_text(plan, color=color, width=width, max_lines=ALL_LINES)
        return render_plan_text(plan, color=color, width=width)
    if fmt == "markdown":
        from reconciler.render.plan_markdown import render_plan_markdown

        return render_plan_markdown(plan)
    if fmt == "json":
        from reconciler.render.plan_json import render_plan_json

        return render_plan_json(plan)
    raise ValueError(f"unknown plan format {fmt!r}; choose one of {', '.join(PLAN_FORMATS)}")

"""Renderers: pure functions from a value (plan, apply report, drift) to text.

One module per value and format (``plan_text``, ``plan_markdown``, ``plan_json``, ...); what
several plan formats share lives in ``plan_summary``. Every command picks its renderer from one
registry keyed by (report kind, format) (`registry`, its entries in `entries`); the CLI's
``--format`` choices come from it.
"""

from __future__ import annotations

from reconciler.model import Plan
from reconciler.render.registry import (
    Output,
    RenderOptions,
    emit,
    formats,
    render,
    write_if_rendered,
    write_report,
)

__all__ = [
    "Output",
    "RenderOptions",
    "emit",
    "formats",
    "render",
    "render_plan",
    "write_if_rendered",
    "write_report",
]


def render_plan(
    plan: Plan, fmt: str, *, color: bool = False, width: int = 100, verbose: bool = False
) -> str:
    """``plan`` as ``text`` (colour only if asked; ``verbose``: every SIM), ``markdown`` or
    ``json``: the registry's stdout of the plan in ``fmt``."""
    options = RenderOptions(color=color, width=width, verbose=verbose)
    return render("plan", fmt, plan, options).stdout

"""A plan for terminals, in the manner of ``terraform plan``.

Layout: a header (fleet, account, endpoint, what was read), problems first (a plan with any is
invalid, and the summary line says so instead of "No changes"), the irreversible steps, then
every wave with its operations, each listing SIMs as ``iccid  group  field: before → after``
folded after ``max_lines`` with "… and N more", the guards, the warnings, and at the end the
summary line and the cost estimate.

Colour only when asked (the CLI asks when stdout is a TTY and NO_COLOR is unset); rich renders
into a string, so the function stays pure.
"""

from __future__ import annotations

from collections.abc import Callable
from io import StringIO

from rich.console import Console
from rich.markup import escape

from reconciler.guard_lift import lift_hint
from reconciler.model import Operation, Plan, RolloutStage, StepSim
from reconciler.render.plan_summary import (
    StepGroup,
    change_text,
    cost_line,
    counts,
    read_line,
    rollout_line,
    stage_of,
    stage_text,
    step_groups,
    summary_line,
    targeted_line,
)

_MARKS = {
    Operation.ACTIVATE: ("+", "green"),
    Operation.SUSPEND: ("~", "yellow"),
    Operation.RETIRE: ("-", "red"),
}
_FIELD_MARK = ("~", "yellow")

Line = Callable[[str], None]
ALL_LINES = 2**62  # ``max_lines`` that folds nothing (``plan -v``)


def render_plan_text(
    plan: Plan, *, color: bool = False, width: int = 100, max_lines: int = 10
) -> str:
    """The plan as terminal text; ``max_lines`` SIMs are shown per operation before folding."""
    out = StringIO()
    console = Console(
        file=out,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        width=width,
        highlight=False,
        emoji=False,
        soft_wrap=True,
    )

    def line(markup: str = "") -> None:
        console.print(markup)

    _head(line, plan)
    _problems(line, plan, max_lines)
    _waves(line, plan, max_lines)
    _guards(line, plan)
    if plan.warnings:
        line("[bold yellow]Warnings:[/bold yellow]")
        for warning in plan.warnings:
            line(f"  [yellow]![/yellow] {escape(warning)}")
        line("")

    line(f"[bold]{escape(summary_line(plan))}[/bold]")
    if plan.has_changes:
        line(f"Cost: {escape(cost_line(plan))}.")
    return out.getvalue()


def _head(line: Line, plan: Plan) -> None:
    line(
        f"[bold]fleetform plan[/bold] · fleet [bold]{escape(plan.fleet)}[/bold] · account "
        f"[bold]{escape(plan.account)}[/bold] · {escape(plan.endpoint)}"
    )
    line(f"[dim]{escape(read_line(plan))}[/dim]")
    targeted = targeted_line(plan)
    if targeted:
        line(f"[bold]{escape(targeted)}[/bold]")
    line("")


def _problems(line: Line, plan: Plan, max_lines: int) -> None:
    """What stops apply or is left out of the plan, and what cannot be undone."""
    if plan.problems:
        line(
            f"[bold red]Problems ({len(plan.problems):,})[/bold red] — apply refuses this plan "
            "until they are fixed:"
        )
        for problem in plan.problems[:max_lines]:
            line(f"  [red]✗[/red] {escape(str(problem))}")
        _fold(line, len(plan.problems) - max_lines, "problems")
        line("")

    if plan.held_back:
        line(
            f"[bold yellow]Held back ({len(plan.held_back):,})[/bold yellow] — not in this plan; "
            "fix each one (the rest can be applied; --strict refuses the plan instead):"
        )
        for problem in plan.held_back[:max_lines]:
            line(f"  [yellow]![/yellow] {escape(str(problem))}")
        _fold(line, len(plan.held_back) - max_lines, "SIMs held back")
        line("")

    retiring = counts(plan).retire
    if retiring:
        line(
            f"[bold red]Irreversible:[/bold red] {retiring:,} SIM{'' if retiring == 1 else 's'} "
            "will be retired. A retired SIM can never be used again."
        )
        line("")


def _waves(line: Line, plan: Plan, max_lines: int) -> None:
    """The steps, wave by wave, each canary stage named where it starts."""
    groups = step_groups(plan.steps)
    wave = 0
    stage_seen: RolloutStage | None = None
    rollout = rollout_line(plan)
    if rollout:
        line(escape(rollout))
        line("")
    for group in groups:
        if group.wave != wave:
            wave = group.wave
            if wave > 1:
                line("")
            title = f"Wave {wave}"
            if wave > 1:
                title += f" (after wave {wave - 1} finished)"
            line(f"[bold]{title}[/bold]")
        stage = stage_of(plan, group)
        if stage is not None and stage is not stage_seen:
            stage_seen = stage
            line(f" [bold cyan]{escape(stage_text(stage))}[/bold cyan]")
        _group(line, group, max_lines)
    if groups:
        line("")


def _guards(line: Line, plan: Plan) -> None:
    blocking = [g for g in plan.guards if g.blocking]
    if blocking:
        line("[bold]Guards that stop apply:[/bold]")
        for guard in blocking:
            lift = f" — lift with {lift_hint(guard)}" if guard.override else ""
            line(f"  [red]✗[/red] {guard.name}: {escape(guard.message)}{escape(lift)}")
        line("")
    lifted = [g for g in plan.guards if g.lifted_by]
    if lifted:
        line("[bold]Guards lifted for this plan:[/bold]")
        for guard in lifted:
            line(
                f"  [yellow]![/yellow] {guard.name}: {escape(guard.message)} "
                f"— lifted by {escape(guard.lifted_by or '')}"
            )
        line("")


def _group(line: Line, group: StepGroup, max_lines: int) -> None:
    mark, colour = _MARKS.get(group.operation, _FIELD_MARK)
    note = " [bold red](irreversible)[/bold red]" if group.operation is Operation.RETIRE else ""
    line(
        f"  [{colour}]{mark}[/{colour}] [bold]{escape(group.title)}[/bold]"
        f"[dim] · {escape(group.how)}[/dim]{note}"
    )
    shown = 0
    pad = 0
    sample: list[StepSim] = []
    for sim in group.iter_sims():
        if shown == max_lines:
            break
        sample.append(sim)
        pad = max(pad, len(sim.group))
        shown += 1
    pad = min(pad, 24)
    for sim in sample:
        text = f"{sim.iccid}  {sim.group:<{pad}}  {change_text(sim)}"
        line(f"      [{colour}]{mark}[/{colour}] {escape(text)}")
    _fold(line, group.sims - shown, "SIMs (-v lists all)", indent="        ")


def _fold(line: Line, more: int, what: str, *, indent: str = "  ") -> None:
    if more > 0:
        line(f"{indent}[dim]… and {more:,} more {what}[/dim]")

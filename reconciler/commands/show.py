"""``fleetform show PLANFILE``: render a saved plan without a request (Terraform's ``show``).

A reviewer, or a later workflow step, prints the plan that ``apply PLANFILE`` would apply. The
file is checked as apply checks it (its format and its checksum, `reconciler.planfile`), so an
edited plan is refused here too. No connection is built: no endpoint or key is needed, and the
embedded simulator is not started.

Exit codes: 0 the plan was shown; 1 the file cannot be read, is not a plan, or was edited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reconciler.commands.exit_codes import ExitCode
from reconciler.errors import PlanFileError
from reconciler.planfile import load_plan
from reconciler.render import RenderOptions, formats, write_report
from reconciler.reporting import Reporter


@dataclass(frozen=True, slots=True)
class ShowOptions:
    plan_file: Path
    fmt: str = "text"
    color: bool = False
    width: int = 100


def run_show(options: ShowOptions, *, reporter: Reporter, write: Callable[[str], None]) -> int:
    """Load and check the plan file, write its rendering; return the exit code."""
    if options.fmt not in formats("plan"):
        raise PlanFileError(
            f"unknown format {options.fmt!r}; choose one of {', '.join(formats('plan'))}"
        )
    if options.plan_file.is_dir():
        raise PlanFileError(
            f"{options.plan_file} is a folder: show takes a plan file (fleetform plan --out FILE)"
        )
    plan = load_plan(options.plan_file)
    look = RenderOptions(color=options.color, width=options.width)
    write_report("plan", options.fmt, plan, write, look)
    reporter.info(
        f"Plan {plan.checksum} of account {plan.account!r} at {plan.endpoint}, made "
        f"{plan.created_at} (apply it with: fleetform apply {options.plan_file})"
    )
    return ExitCode.OK

"""``fleetform init [DIR]``: scaffold a fleet repository (see `reconciler.scaffold`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reconciler.commands.exit_codes import ExitCode
from reconciler.reporting import Reporter
from reconciler.scaffold import DEFAULT_ACCOUNT, MANIFEST_DIR, scaffold


@dataclass(frozen=True, slots=True)
class InitOptions:
    directory: Path
    name: str | None = None  # default: from the directory's name
    account: str | None = None  # default: the embedded simulator's demo account
    force: bool = False


def run_init(options: InitOptions, reporter: Reporter) -> int:
    """Write the repository; say what was written and what to do next. Returns the exit code."""
    result = scaffold(
        options.directory, name=options.name, account=options.account, force=options.force
    )
    for path in result.written:
        reporter.info(f"wrote {path}")
    for path in result.extended:
        reporter.info(f"added fleetform's missing lines to {path}")
    for path in result.kept:
        reporter.info(f"kept {path} (it exists; --force replaces it)")
    if not result.written and not result.extended:
        reporter.info("nothing to add: every file of a fleet repository is already there")
    if options.account is None:
        reporter.warn(
            f"no --account given: the Fleet uses {DEFAULT_ACCOUNT!r}, the embedded simulator's "
            f"demo account; set spec.account in {MANIFEST_DIR}/fleet.yaml for a real one"
        )
    reporter.info(
        f"next: fleetform validate {options.directory / MANIFEST_DIR}; then set the secret "
        "SMARTHUB_API_KEY and the variables SMARTHUB_ENDPOINT and FLEETFORM_PIP_SPEC on GitHub "
        "(see README.md)"
    )
    return ExitCode.OK

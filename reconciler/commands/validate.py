"""``fleetform validate PATH...``: check the manifests offline (no API call, no connection).

Exit codes: 0 the manifests are valid; 1 problems (each as ``file:line:column: message``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.commands.exit_codes import ExitCode
from reconciler.render import write_report


@dataclass(frozen=True, slots=True)
class ValidateOptions:
    paths: Sequence[Path]
    fmt: str = "text"  # text: problems on stderr; json: a list on stdout


def run_validate(
    options: ValidateOptions,
    *,
    write: Callable[[str], None],
    write_err: Callable[[str], None],
) -> int:
    """Load the manifests, write their problems (or the summary); return the exit code."""
    from reconciler.manifest import validate

    result = validate(options.paths)
    write_report("validate", options.fmt, result, write, write_err=write_err)
    return ExitCode.OK if result.ok else ExitCode.ERROR

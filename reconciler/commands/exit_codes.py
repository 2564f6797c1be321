"""The exit codes of every command: one enum, and what each command's codes mean.

0 success and nothing (left) to change; 1 an error (nothing done, or only work recorded in the
journal); 2 changes pending (``plan --detailed-exitcode``) or drift found (``drift``); 3 apply
finished with some SIMs failed or stale, or stopped at ``--budget``, by a rollout check or
``--gate``. Click's usage errors exit 1 too, never 2 (2 means "changes"). Ctrl+C outside a
command's own handling exits 130, the shell's convention for SIGINT. See
docs/architecture.md.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    CHANGES = 2  # plan --detailed-exitcode: changes pending; drift: drift found
    PARTIAL = 3  # apply: some steps failed or stale, or stopped (--budget, rollout, --gate)
    INTERRUPTED = 130  # Ctrl+C (128 + SIGINT)


# Each command's --help ends with its exit codes (the README's table); a command not listed
# here gets the general table.
EXIT_CODES: dict[str, tuple[str, ...]] = {
    "validate": ("0  the manifests are valid", "1  problems (listed as file:line:column) or error"),
    "plan": (
        "0  nothing to change (or changes, without --detailed-exitcode)",
        "2  changes pending (with --detailed-exitcode)",
        "1  error, or apply would refuse the plan: problems, or a guard that stops",
        "   apply (lift it with --allow-retire, --max-changes N or --force)",
    ),
    "apply": (
        "0  every change done, or nothing (left) to do",
        "3  finished with some steps failed or stale, or stopped at --budget or by a",
        "   rollout check or --gate (all recorded: fleetform apply --resume continues)",
        "1  refused or error: nothing done, or only work recorded in the journal",
    ),
    "show": ("0  the plan printed", "1  error (not a plan file, or an edited one)"),
    "drift": ("0  the live fleet matches git", "2  drift found", "1  error"),
    "export": ("0  manifests written", "1  error (e.g. a file exists, without --force)"),
    "init": ("0  repository scaffolded (or nothing missing)", "1  error"),
    "sim serve": ("0  stopped with Ctrl+C", "1  error (e.g. the port is taken)"),
    "webhook serve": ("0  stopped with Ctrl+C", "1  error (e.g. no push key)"),
}
GENERAL_EXIT_CODES = (
    "0  success, nothing (left) to change",
    "1  error",
    "2  changes pending or drift found",
    "3  apply finished with some steps failed or stale",
)


def exit_codes_epilog(name: str) -> str:
    """The ``Exit codes:`` block ending ``fleetform NAME --help``."""
    lines = EXIT_CODES.get(name, GENERAL_EXIT_CODES)
    return "\b\nExit codes:\n" + "\n".join(f"  {line}" for line in lines)

"""The rollout gate: ``apply --gate CMD`` decides whether the rollout goes on after a step.

CMD runs through the shell (``sh -c``) with the step's report as JSON on stdin
(`reconciler.rollout.stage.stage_report`); exit 0 goes on, any other exit stops the rollout,
and so does running longer than the timeout (``--gate-timeout``, default 10 minutes): the
command and everything it started are killed (it runs in a session of its own, and the whole
process group gets SIGKILL). Its output is kept (the last lines) for the report.

The gate comes from the command line only, never from manifests: manifests come from pull
requests, and a manifest that could name a command would run it on the apply machine.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass
from typing import Protocol

DEFAULT_GATE_TIMEOUT = 600.0
_OUTPUT_LINES = 20


@dataclass(frozen=True, slots=True)
class GateVerdict:
    passed: bool
    why: str  # "exit 0", "exit 1", "timed out after 600s", "could not start: ..."
    output: str = ""  # the last lines of its stdout and stderr


class Gate(Protocol):
    def __call__(self, report_json: str) -> GateVerdict: ...


def _tail(text: str) -> str:
    lines = text.strip().splitlines()
    return "\n".join(lines[-_OUTPUT_LINES:])


class CommandGate:
    """Runs ``command`` through the shell with the report on stdin."""

    def __init__(self, command: str, *, timeout: float = DEFAULT_GATE_TIMEOUT) -> None:
        if timeout <= 0:
            raise ValueError("the gate timeout must be more than 0 seconds")
        self.command = command
        self.timeout = timeout

    def __call__(self, report_json: str) -> GateVerdict:
        try:
            process = subprocess.Popen(
                self.command,
                shell=True,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
        except OSError as exc:
            return GateVerdict(False, f"could not start: {exc.strerror or exc}")
        try:
            output, _ = process.communicate(report_json, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            return GateVerdict(False, f"timed out after {self.timeout:g}s", _tail(output or ""))
        except BaseException:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise
        code = process.returncode
        why = f"exit {code}" if code >= 0 else f"killed by signal {-code}"
        return GateVerdict(code == 0, why, _tail(output or ""))

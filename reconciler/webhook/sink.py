"""Where drift found by the receiver goes: ``drift.jsonl``, a line for people, an optional hook.

- ``drift.jsonl`` under the state directory: one JSON object per line, appended and flushed
  (and fsynced: a drift line is an audit record) before anything else happens.
- one human line through ``emit`` (the CLI passes a stdout writer).
- ``--on-drift CMD``: run through the shell with the JSON on stdin, at most
  `hook_timeout_seconds`; a failure or timeout is logged and counted, never fatal. Hooks run
  in the worker thread one after another, so a slow hook delays the next check rather than
  piling up processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

from reconciler.reporting import Reporter
from reconciler.webhook.check import DriftRecord
from reconciler.webhook.metrics import Metrics


class DriftSink:
    def __init__(
        self,
        path: Path,
        *,
        emit: Callable[[str], None],
        reporter: Reporter,
        metrics: Metrics,
        hook: str | None = None,
        hook_timeout_seconds: float = 30.0,
    ) -> None:
        self.path = path
        self._emit = emit
        self._reporter = reporter
        self._metrics = metrics
        self.hook = hook
        self.hook_timeout_seconds = hook_timeout_seconds
        self._lock = threading.Lock()

    def __call__(self, record: DriftRecord) -> None:
        line = json.dumps(record.to_json(), sort_keys=True, ensure_ascii=False)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(line + "\n")
                out.flush()
                os.fsync(out.fileno())
        self._emit(record.human_line())
        if self.hook:
            self._run_hook(line, record.iccid)

    def _run_hook(self, line: str, iccid: str) -> None:
        assert self.hook is not None
        try:
            done = subprocess.run(
                self.hook,
                shell=True,
                input=line + "\n",
                text=True,
                capture_output=True,
                timeout=self.hook_timeout_seconds,
                check=False,
            )
        except subprocess.TimeoutExpired:
            self._metrics.hook_failed()
            self._reporter.warn(
                f"webhook: --on-drift hook for {iccid} timed out after "
                f"{self.hook_timeout_seconds:g} s"
            )
            return
        except OSError as exc:
            self._metrics.hook_failed()
            self._reporter.warn(f"webhook: --on-drift hook for {iccid} failed to start: {exc}")
            return
        if done.returncode != 0:
            self._metrics.hook_failed()
            tail = (done.stderr or "").strip().splitlines()[-1:] or [""]
            self._reporter.warn(
                f"webhook: --on-drift hook for {iccid} exited {done.returncode}"
                + (f": {tail[0][:200]}" if tail[0] else "")
            )

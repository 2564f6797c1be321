"""The commands: per command an options dataclass and ``run_<name>(options, ...) -> int``.

The CLI parses the options and calls ``run_<name>``, which returns an `exit_codes.ExitCode` and
raises a `FleetformError` for exit 1. Commands print only through the `Reporter` and the
writers and renderers they are given (`reconciler.render`), and never call ``sys.exit``.
"""

from __future__ import annotations

"""The core of each command: one function per command, called by the CLI with plain values.

They print only through the `Reporter` and renderers they are given, never call ``sys.exit``,
and return a result the CLI maps to an exit code.
"""

from __future__ import annotations

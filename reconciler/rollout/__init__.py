"""Progressive rollout at apply time: after each rollout step, soak, re-check, gate.

`reconciler.canary` (below the planner) decides which SIMs go in which step; this package
decides, while applying, whether the rollout may go on after a step:

- `reconciler.rollout.stage`: `StageCheck` waits the soak, re-reads the step's SIMs, weighs
  failures against ``maxFailed``, looks at the events the push receiver recorded, and asks
  the gate;
- `reconciler.rollout.gate`: `CommandGate`, the ``--gate CMD`` run with the step's report as
  JSON on stdin.
"""

from __future__ import annotations

from reconciler.rollout.gate import CommandGate, Gate, GateVerdict
from reconciler.rollout.stage import EventFeed, SimEvent, StageCheck, stage_report

__all__ = [
    "CommandGate",
    "EventFeed",
    "Gate",
    "GateVerdict",
    "SimEvent",
    "StageCheck",
    "stage_report",
]

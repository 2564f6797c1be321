"""The applier: runs a plan against the API, journaled, paced and crash-safe.

One room per job:

- `reconciler.applier.waves`: the `Applier`, which runs the plan wave by wave (or rollout step
  by rollout step): live re-check, writes, polls, resume;
- `reconciler.applier.verdicts`: pure per-SIM verdicts (stale, already done, a job's results);
- `reconciler.applier.reads`: apply's live reads, single GETs or the paged list;
- `reconciler.applier.batch`: batch job submit and poll;
- `reconciler.applier.calls`: single calls, one SIM's write and its outcome;
- `reconciler.applier.books`: the run's bookkeeping, progress lines and the `ApplyReport`.
"""

from __future__ import annotations

from reconciler.applier.waves import Applier

__all__ = ["Applier"]

"""Live sources beside the full paged read of `reconciler.commands.plan.read_live`: the
targeted read of the SIMs a git change reaches (`targeted`)."""

from __future__ import annotations

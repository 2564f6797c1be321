"""The simulator's configuration (public: other code builds it)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.simulator.faults import Redirect


class SimulatorError(Exception):
    """The simulator cannot start: its database cannot be opened, its port cannot be bound."""


@dataclass(frozen=True)
class SimulatorConfig:
    """How to run a simulator. Every fault can also be changed at run time (``/admin/faults``).

    ``sims`` is the size of the primary (acme) enterprise's fleet; it and ``seed`` only matter
    when the database is new or empty. ``api_key``/``other_api_key``/``push_key``: None reuses
    the key stored in the database, or generates and stores one; a given key replaces the stored
    one. ``rate_window`` is a fixed window per account. ``job_delay`` is how long a batch job
    stays PENDING and then PROCESSING (real seconds). ``clock`` is the wall-time source for
    timestamps, rate windows and push dates (default ``time.time``). ``enterprise_accounts``: how
    ``GET /enterprise`` lists the accounts (``objects``, ``names`` or ``none``).
    """

    db_path: Path | str
    sims: int = 1000
    seed: int = 1
    api_key: str | None = None
    other_api_key: str | None = None
    rate_limit: int = 5000
    rate_window: float = 3600.0
    job_delay: float = 0.5
    latency: float = 0.0
    error_rate: float = 0.0
    drop_rate: float = 0.0
    batch_failure_rate: float = 0.0
    push_urls: Mapping[str, str] = field(default_factory=dict)
    push_key: str | None = None
    redirects: tuple[Redirect, ...] = ()
    enterprise_accounts: str = "objects"  # objects | names | none: see `Faults`
    clock: Callable[[], float] | None = None

    def __repr__(self) -> str:  # keys are secrets: never in a repr, log or error
        return (
            f"SimulatorConfig(db_path={str(self.db_path)!r}, sims={self.sims}, seed={self.seed}, "
            f"rate_limit={self.rate_limit}, rate_window={self.rate_window}, "
            f"job_delay={self.job_delay})"
        )

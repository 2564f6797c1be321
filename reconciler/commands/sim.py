"""``fleetform sim serve``: the SmartHub simulator (`reconciler.simulator`) until Ctrl+C.

A thin call into the simulator: the product and the simulator share no code but the command
line, so this only turns the options into a `SimulatorConfig` and prints where it listens.
Exit codes: 0 stopped with Ctrl+C; 1 an error (e.g. the port is taken).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.app import state_dir
from reconciler.commands.exit_codes import ExitCode
from reconciler.errors import ConfigError


@dataclass(frozen=True, slots=True)
class SimServeOptions:
    port: int = 8080
    host: str = "127.0.0.1"
    db: Path | None = None  # default: sim.db in the state directory
    sims: int = 1000
    seed: int = 1
    api_key: str | None = field(default=None, repr=False)  # None: stored or generated
    other_api_key: str | None = field(default=None, repr=False)
    rate_limit: int = 5000
    rate_window: float = 3600.0
    job_delay: float = 0.5
    latency: float = 0.0
    error_rate: float = 0.0
    drop_rate: float = 0.0
    batch_failure_rate: float = 0.0
    push_urls: Mapping[str, str] = field(default_factory=dict)
    push_key_file: Path | None = None
    enterprise_accounts: str = "objects"


def run_sim_serve(options: SimServeOptions, *, write: Callable[[str], None]) -> int:
    """Serve until SIGINT/SIGTERM; ``write`` gets the URL and, when generated or stored, the
    keys (the user has no other way to learn them)."""
    from reconciler.simulator import SimulatorConfig, SimulatorError, serve
    from reconciler.webhook import read_push_key_file

    # the file `webhook serve --push-key-file` reads; its first (current) key signs
    push_key = (
        read_push_key_file(options.push_key_file)[0] if options.push_key_file is not None else None
    )
    db = options.db
    if db is None:
        state_dir().mkdir(parents=True, exist_ok=True)
        db = state_dir() / "sim.db"
    config = SimulatorConfig(
        db_path=db,
        sims=options.sims,
        seed=options.seed,
        api_key=options.api_key,
        other_api_key=options.other_api_key,
        rate_limit=options.rate_limit,
        rate_window=options.rate_window,
        job_delay=options.job_delay,
        latency=options.latency,
        error_rate=options.error_rate,
        drop_rate=options.drop_rate,
        batch_failure_rate=options.batch_failure_rate,
        push_urls=dict(options.push_urls),
        push_key=push_key,
        enterprise_accounts=options.enterprise_accounts,
    )

    def ready(url: str, key: str, other_key: str) -> None:
        write(f"SmartHub simulator at {url} (database {db})")
        if options.api_key is None:
            write(f"X-API-Key: {key}")
        if options.other_api_key is None:
            write(f"X-API-Key of the second enterprise (globex): {other_key}")

    try:
        serve(config, options.host, options.port, on_ready=ready)
    except SimulatorError as exc:
        raise ConfigError(str(exc)) from None
    return ExitCode.OK

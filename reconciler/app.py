"""Wiring: small ``build_*`` functions that make the collaborators the commands need.

The CLI turns options into plain values and calls these; tests call them with their own
collaborators (a simulator on a free port, a `FakeClock`, a `RecordingReporter`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from reconciler.clock import Clock, SystemClock
from reconciler.errors import ConfigError
from reconciler.reporting import Reporter
from reconciler.smarthub import wire
from reconciler.smarthub.api import SmartHubApi

STATE_DIR_ENV = "FLEETFORM_STATE_DIR"
ENDPOINT_ENV = "SMARTHUB_ENDPOINT"
API_KEY_ENV = "SMARTHUB_API_KEY"
EMBEDDED_SIMS = 1000
EMBEDDED_SEED = 1


def state_dir(cwd: Path | None = None) -> Path:
    """``.fleetform/`` in the current directory, or where FLEETFORM_STATE_DIR points."""
    configured = os.environ.get(STATE_DIR_ENV)
    return Path(configured) if configured else (cwd or Path.cwd()) / ".fleetform"


@dataclass(frozen=True, slots=True)
class Connection:
    """Where the API is and how to authenticate; the key is never printed."""

    endpoint: str | None
    api_key: str | None = None

    def __repr__(self) -> str:
        return f"Connection(endpoint={self.endpoint!r}, api_key=<redacted>)"


def build_connection(endpoint: str | None, api_key_file: Path | None) -> Connection:
    """Endpoint from the option or SMARTHUB_ENDPOINT; key from the file or SMARTHUB_API_KEY.

    With no endpoint at all, the embedded simulator is used (`open_api` starts it).
    """
    endpoint = endpoint or os.environ.get(ENDPOINT_ENV) or None
    key: str | None
    if api_key_file is not None:
        try:
            key = api_key_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"cannot read the API key file {api_key_file}: {exc.strerror}"
            ) from None
        if not key:
            raise ConfigError(f"the API key file {api_key_file} is empty")
    else:
        key = (os.environ.get(API_KEY_ENV) or "").strip() or None
    if key is not None:
        check_api_key(key, f"the API key file {api_key_file}" if api_key_file else API_KEY_ENV)
    if endpoint is not None:
        endpoint = endpoint.rstrip("/")
        if not endpoint.endswith("/v1"):
            raise ConfigError(f"the endpoint must be a base URL ending in /v1, got {endpoint!r}")
        scheme, _, rest = endpoint.partition("://")
        if scheme.lower() not in ("http", "https") or not rest.split("/", 1)[0]:
            raise ConfigError(
                "the endpoint must be an http:// or https:// URL with a host, ending in /v1 "
                f"(e.g. https://acme.smh.smarthing.com/v1), got {endpoint!r}"
            )
        if key is None:
            raise ConfigError(
                f"no API key: set {API_KEY_ENV} or pass --api-key-file (the key is never "
                "read from manifests)"
            )
    return Connection(endpoint=endpoint, api_key=key)


def _remembered_port(port_file: Path) -> int:
    try:
        port = int(port_file.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return 0
    return port if 1024 <= port <= 65535 else 0


def check_api_key(key: str, origin: str) -> None:
    """Refuse a key that cannot travel in an HTTP header, without ever echoing it.

    Surrounding whitespace (a CI secret's trailing newline) is stripped before; what is left
    must be visible ASCII, or httpx would fail later with the key in its error message.
    """
    if not wire.sendable_api_key(key):
        raise ConfigError(
            f"{origin} holds a key with a space, control or non-ASCII character, which cannot "
            "be sent in the X-API-Key header (the key is not shown)"
        )


@contextmanager
def open_api(
    connection: Connection,
    reporter: Reporter,
    *,
    clock: Clock | None = None,
    budget: int | None = None,
    on_wait: Callable[[float, str], None] | None = None,
    cwd: Path | None = None,
    cancel: threading.Event | None = None,
) -> Iterator[SmartHubApi]:
    """Yield a `SmartHubApi`: the configured endpoint, or the embedded simulator.

    The embedded simulator keeps its state in ``.fleetform/sim.db`` and is seeded with a demo
    fleet; a line on stderr says it is in use. Every wait for the rate window is said, through
    ``on_wait(seconds, reason)`` or, by default, a line on the reporter. Once ``cancel`` is set
    (Ctrl+C, see `reconciler.interrupt`) the client sends nothing more and stops waiting.
    """
    from reconciler.smarthub.client import SmartHubClient

    clock = clock or SystemClock()

    def say_wait(seconds: float, reason: str) -> None:
        reporter.info(f"rate limit: waiting {seconds:.1f}s for the window to reset ({reason})")

    on_wait = on_wait or say_wait
    if connection.endpoint is not None:
        assert connection.api_key is not None
        client = SmartHubClient(
            connection.endpoint,
            connection.api_key,
            clock=clock,
            budget=budget,
            on_wait=on_wait,
            cancel=cancel,
        )
        try:
            yield client
        finally:
            client.close()
        return

    from reconciler.simulator import SimulatorConfig, SimulatorError, start_in_thread

    directory = state_dir(cwd)
    db = directory / "sim.db"
    port_file = directory / "sim.port"
    config = SimulatorConfig(db_path=db, sims=EMBEDDED_SIMS, seed=EMBEDDED_SEED, job_delay=0.2)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # The same port as last time when it is free, so the endpoint a plan records (and
        # apply re-checks) stays the same from one run to the next.
        try:
            sim = start_in_thread(config, port=_remembered_port(port_file))
        except SimulatorError:
            sim = start_in_thread(config)
        port_file.write_text(f"{sim.port}\n", encoding="utf-8")
    except (SimulatorError, OSError) as exc:
        raise ConfigError(
            f"cannot start the embedded simulator with state in {db}: {exc} "
            f"(delete that file to start over, or set {ENDPOINT_ENV})"
        ) from exc
    reporter.info(
        f"no SmartHub endpoint configured: using the embedded simulator at {sim.url} "
        f"(state in {db}); set {ENDPOINT_ENV} to use a real account"
    )
    client = SmartHubClient(
        sim.url, sim.api_key, clock=clock, budget=budget, on_wait=on_wait, cancel=cancel
    )
    try:
        yield client
    finally:
        client.close()
        sim.stop()

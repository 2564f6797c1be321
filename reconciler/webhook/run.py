"""Wiring of ``fleetform webhook serve``: manifests, API, store, worker, app and uvicorn.

`build_receiver` assembles the pieces from plain collaborators (tests and the benchmark use
it with their own API and clock); `start_server` serves the receiver's app on a real socket in
a thread (the bind and start are `reconciler.serving`'s); `serve` is what the CLI calls: it
blocks until SIGINT/SIGTERM, then stops the server (in-flight requests finish), the worker
(the check in flight finishes) and the store, and returns 0.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from reconciler import serving
from reconciler.app import Connection, open_api, state_dir
from reconciler.clock import Clock, SystemClock
from reconciler.errors import CacheError, ConfigError, FleetformError
from reconciler.live import Via, open_cache
from reconciler.manifest import load_fleet
from reconciler.model import DesiredFleet, LiveSim
from reconciler.reporting import Reporter
from reconciler.serving import RunningServer
from reconciler.smarthub.api import SmartHubApi
from reconciler.webhook.check import DriftRecord, ManifestCheck
from reconciler.webhook.dedupe import DedupeStore
from reconciler.webhook.metrics import Metrics
from reconciler.webhook.server import Receiver, build_app
from reconciler.webhook.sink import DriftSink
from reconciler.webhook.verify import DEFAULT_MAX_BODY_BYTES, DEFAULT_SKEW_SECONDS, PushVerifier
from reconciler.webhook.worker import CheckQueue, CheckWorker, ReadPacer

PUSH_KEY_ENV = "SMARTHUB_PUSH_KEY"
DEFAULT_PORT = 8787
# A fifth of SmartHub's 5000 requests an hour: room is left for plan, apply and drift runs.
DEFAULT_MAX_READS_PER_HOUR = 1000
Loader = Callable[[Sequence[Path]], DesiredFleet]


def read_push_key_file(path: Path) -> tuple[str, ...]:
    """The push keys in a key file: one per line, the current key first (several while
    rotating the key; blank lines and ``#`` comments skipped). The one reader of
    ``--push-key-file``: the receiver accepts every key of it, ``sim serve`` signs with the
    first, so one file serves both."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"cannot read the push key file {path}: {reason}") from exc
    keys = tuple(
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    if not keys:
        raise ConfigError(f"the push key file {path} is empty")
    return keys


def read_push_key(push_key_file: Path | None) -> tuple[str, ...]:
    """The push key(s): from the file (`read_push_key_file`), or SMARTHUB_PUSH_KEY."""
    if push_key_file is not None:
        return read_push_key_file(push_key_file)
    key = os.environ.get(PUSH_KEY_ENV, "").strip()
    if not key:
        raise ConfigError(f"no push key: set {PUSH_KEY_ENV} or pass --push-key-file")
    return (key,)


@dataclass(frozen=True, slots=True)
class ServeOptions:
    paths: tuple[Path, ...]
    push_key: str | tuple[str, ...] = field(repr=False)
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    skew_seconds: float = DEFAULT_SKEW_SECONDS
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    debounce_seconds: float = 0.5
    max_pending: int = 100_000
    on_drift: str | None = None
    hook_timeout_seconds: float = 30.0
    reload_interval_seconds: float = 5.0
    max_reads_per_hour: int | None = DEFAULT_MAX_READS_PER_HOUR


def default_loader(paths: Sequence[Path]) -> DesiredFleet:
    return load_fleet(paths)


def _fingerprint(paths: Sequence[Path]) -> tuple[tuple[str, int, int], ...]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml"))
        else:
            files.append(path)
    marks: list[tuple[str, int, int]] = []
    for f in sorted(files):
        try:
            st = f.stat()
        except OSError:
            continue
        marks.append((str(f), st.st_mtime_ns, st.st_size))
    return tuple(marks)


class FleetSource:
    """The manifests, reloaded when a file under the paths changes (checked at most every
    ``interval`` seconds). A reload that fails keeps the last good fleet and says why once."""

    def __init__(
        self,
        paths: Sequence[Path],
        reporter: Reporter,
        *,
        loader: Loader = default_loader,
        interval: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.paths = tuple(paths)
        self._reporter = reporter
        self._loader = loader
        self._interval = interval
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._mark = _fingerprint(self.paths)
        self._fleet = loader(self.paths)  # errors here are fatal: the server does not start
        self._checked = monotonic()

    def __call__(self) -> DesiredFleet:
        with self._lock:
            now = self._monotonic()
            if now - self._checked >= self._interval:
                self._checked = now
                mark = _fingerprint(self.paths)
                if mark != self._mark:
                    self._mark = mark
                    try:
                        self._fleet = self._loader(self.paths)
                        self._reporter.info(
                            f"webhook: manifests reloaded ({len(self._fleet.sims)} SIMs)"
                        )
                    except FleetformError as exc:
                        self._reporter.warn(
                            f"webhook: manifests changed but do not load; keeping the last "
                            f"good ones: {exc}"
                        )
            return self._fleet


@dataclass
class ReceiverStack:
    app: Any  # the ASGI app
    receiver: Receiver
    worker: CheckWorker
    store: DedupeStore
    metrics: Metrics

    def start(self) -> None:
        self.worker.start()

    def close(self) -> None:
        self.worker.stop()
        self.store.close()


def build_receiver(
    *,
    push_key: str | Sequence[str],
    check: Callable[[str], DriftRecord | None],
    on_drift: Callable[[DriftRecord], None] | None = None,
    state: Path,
    reporter: Reporter,
    clock: Clock,
    metrics: Metrics | None = None,
    skew_seconds: float = DEFAULT_SKEW_SECONDS,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    body_timeout_seconds: float = 10.0,
    debounce_seconds: float = 0.5,
    max_pending: int = 100_000,
    emit: Callable[[str], None] | None = None,
    hook: str | None = None,
    hook_timeout_seconds: float = 30.0,
    max_reads_per_hour: int | None = None,
) -> ReceiverStack:
    """Assemble store, queue, worker, sink and app; the worker is not started yet."""
    metrics = metrics or Metrics()
    store = DedupeStore(state / "webhook.db", retention_seconds=2 * skew_seconds)
    store.prune(clock.now())  # what a long stop left behind
    queue = CheckQueue(
        debounce_seconds=debounce_seconds,
        max_pending=max_pending,
        monotonic=clock.monotonic,
        wall=clock.now,
    )
    if metrics.queue_depth is None:
        metrics.queue_depth = queue.__len__
    sink = on_drift or DriftSink(
        state / "drift.jsonl",
        emit=emit or (lambda line: None),
        reporter=reporter,
        metrics=metrics,
        hook=hook,
        hook_timeout_seconds=hook_timeout_seconds,
    )
    worker = CheckWorker(
        queue,
        check,
        sink,
        metrics=metrics,
        reporter=reporter,
        pacer=ReadPacer(max_reads_per_hour, clock) if max_reads_per_hour else None,
    )
    receiver = Receiver(
        verifier=PushVerifier(push_key, clock, skew_seconds=skew_seconds),
        store=store,
        queue=queue,
        metrics=metrics,
        reporter=reporter,
        clock=clock,
        max_body_bytes=max_body_bytes,
        body_timeout_seconds=body_timeout_seconds,
        worker_alive=lambda: worker.alive,
    )
    return ReceiverStack(build_app(receiver), receiver, worker, store, metrics)


def start_server(
    app: Any, host: str = "127.0.0.1", port: int = 0, *, ready_timeout: float = 10.0
) -> RunningServer:
    """Serve the receiver's ``app`` on a socket of its own (`reconciler.serving`) in a thread;
    returns once it accepts. ``port=0`` picks a free port (`RunningServer.url` says which); a
    port in use is a `ConfigError`."""
    return serving.start_server(
        app,
        host,
        port,
        keep_alive_seconds=15,
        graceful_seconds=5,
        ready_timeout=ready_timeout,
        name="fleetform-webhook-http",
        what="the webhook server",
    )


def serve(
    options: ServeOptions,
    connection: Connection,
    reporter: Reporter,
    emit: Callable[[str], None],
    *,
    clock: Clock | None = None,
    loader: Loader = default_loader,
    stop: threading.Event | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> int:
    """Run the receiver until SIGINT/SIGTERM (or ``stop`` is set); returns the exit code."""
    clock = clock or SystemClock()
    fleet = FleetSource(
        options.paths, reporter, loader=loader, interval=options.reload_interval_seconds
    )
    state = state_dir()
    stop = stop or threading.Event()
    # Installed before the API and the server start, so a signal during startup is not lost.
    previous = _install_stop_handlers(stop)
    try:
        _serve(options, connection, reporter, emit, clock, fleet, state, stop, on_ready)
    finally:
        _restore_handlers(previous)
    return 0


def _serve(
    options: ServeOptions,
    connection: Connection,
    reporter: Reporter,
    emit: Callable[[str], None],
    clock: Clock,
    fleet: FleetSource,
    state: Path,
    stop: threading.Event,
    on_ready: Callable[[str], None] | None,
) -> None:
    with (
        open_api(connection, reporter, clock=clock) as api,
        _push_cache(api, fleet().fleet.account, state, reporter, clock) as on_read,
    ):
        metrics = Metrics(api_requests=lambda: _requests(api))
        stack = build_receiver(
            push_key=options.push_key,
            check=ManifestCheck(api=api, fleet=fleet, clock=clock, on_read=on_read),
            state=state,
            reporter=reporter,
            clock=clock,
            metrics=metrics,
            skew_seconds=options.skew_seconds,
            max_body_bytes=options.max_body_bytes,
            debounce_seconds=options.debounce_seconds,
            max_pending=options.max_pending,
            emit=emit,
            hook=options.on_drift,
            hook_timeout_seconds=options.hook_timeout_seconds,
            max_reads_per_hour=options.max_reads_per_hour,
        )
        stack.start()
        try:
            running = start_server(stack.app, options.host, options.port)
        except BaseException:
            stack.close()
            raise
        try:
            desired = fleet()
            reporter.info(
                f"webhook: listening on {running.url} (POST /push, /push/<eventType>; GET "
                f"/healthz, /metrics) for fleet {desired.fleet.name} ({len(desired.sims)} SIMs); "
                f"drift to {state / 'drift.jsonl'}"
            )
            if on_ready is not None:
                on_ready(running.url)
            while not stop.wait(0.5):
                if not running.thread.is_alive():
                    raise FleetformError("the webhook HTTP server stopped unexpectedly")
        finally:
            reporter.info("webhook: shutting down")
            running.stop()
            stack.close()


@contextmanager
def _push_cache(
    api: SmartHubApi, account: str, state: Path, reporter: Reporter, clock: Clock
) -> Iterator[Callable[[LiveSim], None] | None]:
    """Records each SIM re-read after a push into the account's live-state cache, where
    ``fleetform drift`` takes it in; a failure to record is said and never stops the
    receiver."""
    cache = open_cache(
        state, endpoint=api.endpoint, account=account, reporter=reporter, clock=clock.now
    )
    if cache is None:
        yield None
        return

    def record(sim: LiveSim) -> None:
        try:
            cache.record([sim], via=Via.PUSH)
        except CacheError as exc:
            reporter.warn(f"webhook: {exc}")

    try:
        yield record
    finally:
        cache.close()


def _requests(api: SmartHubApi) -> int:
    return api.stats().requests


_Handler = Callable[[int, FrameType | None], Any] | int | None


def _install_stop_handlers(stop: threading.Event) -> dict[int, _Handler]:
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous: dict[int, _Handler] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        # An ignored SIGINT (a background job of a non-interactive shell) stays ignored.
        if signal.getsignal(sig) is not signal.SIG_IGN:
            previous[sig] = signal.signal(sig, handle)
    return previous


def _restore_handlers(previous: dict[int, _Handler]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)

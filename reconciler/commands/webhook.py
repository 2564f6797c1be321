"""``fleetform webhook serve PATH...``: the push receiver (`reconciler.webhook`) until Ctrl+C.

The push key comes from ``--push-key-file`` or ``SMARTHUB_PUSH_KEY`` (`read_push_key`).
Exit codes: 0 stopped with Ctrl+C or SIGTERM; 1 an error (e.g. no push key).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reconciler.app import Connection
from reconciler.commands.exit_codes import ExitCode
from reconciler.reporting import Reporter
from reconciler.webhook import ServeOptions, read_push_key, serve
from reconciler.webhook.run import DEFAULT_MAX_READS_PER_HOUR, DEFAULT_PORT
from reconciler.webhook.verify import DEFAULT_MAX_BODY_BYTES, DEFAULT_SKEW_SECONDS


@dataclass(frozen=True, slots=True)
class WebhookServeOptions:
    paths: tuple[Path, ...]
    push_key_file: Path | None = None  # default: env SMARTHUB_PUSH_KEY
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    skew_seconds: float = DEFAULT_SKEW_SECONDS
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    debounce_seconds: float = 0.5
    on_drift: str | None = None
    hook_timeout_seconds: float = 30.0
    max_reads_per_hour: int | None = DEFAULT_MAX_READS_PER_HOUR  # None: no cap


def run_webhook_serve(
    options: WebhookServeOptions,
    *,
    connection: Connection,
    reporter: Reporter,
    emit: Callable[[str], None],
) -> int:
    """Serve until SIGINT/SIGTERM; ``emit`` gets one line per drift found."""
    serve_options = ServeOptions(
        paths=options.paths,
        push_key=read_push_key(options.push_key_file),
        host=options.host,
        port=options.port,
        skew_seconds=options.skew_seconds,
        max_body_bytes=options.max_body_bytes,
        debounce_seconds=options.debounce_seconds,
        on_drift=options.on_drift,
        hook_timeout_seconds=options.hook_timeout_seconds,
        max_reads_per_hour=options.max_reads_per_hour,
    )
    serve(serve_options, connection, reporter, emit)
    return ExitCode.OK

"""The push receiver: ``fleetform webhook serve``.

SmartHub POSTs signed events; the receiver verifies them (`verify`), drops replays (`dedupe`),
queues the SIMs whose status or APN status changed (`worker`), re-reads each SIM and diffs it
against git (`check`), and records drift (`sink`). `server` is the ASGI app, `run` the wiring.
"""

from __future__ import annotations

from reconciler.serving import RunningServer
from reconciler.webhook.check import DriftRecord, ManifestCheck
from reconciler.webhook.dedupe import DedupeStore
from reconciler.webhook.metrics import Metrics
from reconciler.webhook.run import (
    PUSH_KEY_ENV,
    ReceiverStack,
    ServeOptions,
    build_receiver,
    read_push_key,
    read_push_key_file,
    serve,
    start_server,
)
from reconciler.webhook.server import Receiver, build_app
from reconciler.webhook.sink import DriftSink
from reconciler.webhook.verify import PushEvent, PushVerifier, sign
from reconciler.webhook.worker import CheckQueue, CheckWorker

__all__ = [
    "PUSH_KEY_ENV",
    "CheckQueue",
    "CheckWorker",
    "DedupeStore",
    "DriftRecord",
    "DriftSink",
    "ManifestCheck",
    "Metrics",
    "PushEvent",
    "PushVerifier",
    "Receiver",
    "ReceiverStack",
    "RunningServer",
    "ServeOptions",
    "build_app",
    "build_receiver",
    "read_push_key",
    "read_push_key_file",
    "serve",
    "sign",
    "start_server",
]

"""Push delivery: events POSTed to the configured URLs from a background thread.

Body ``{eventId, eventType, giccid, datePush, signature, data}``; ``signature`` is the lowercase
hex SHA-256 of ``pushKey + str(datePush)`` (the contract's rule; it does not cover the body).
Delivery never blocks a request and never raises: failures are logged and counted. Uses
``urllib`` from the standard library (httpx belongs to the client alone).
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

from reconciler.simulator.faults import Counters, Faults
from reconciler.simulator.store import Event

log = logging.getLogger("reconciler.simulator.push")
_STOP = object()


def push_signature(push_key: str, date_push: int) -> str:
    return hashlib.sha256(f"{push_key}{date_push}".encode()).hexdigest()


class Pusher:
    """Queue of events and one thread that delivers them, in order."""

    def __init__(
        self,
        faults: Faults,
        counters: Counters,
        clock: Callable[[], float],
        timeout: float = 5.0,
    ) -> None:
        self.faults = faults
        self.counters = counters
        self.clock = clock
        self.timeout = timeout
        # no proxies from the environment: a push goes straight to the configured URL
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._queue: queue.Queue[object] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="sim-push", daemon=True)
        self._thread.start()

    def submit(self, event: Event) -> None:
        """Called after a write committed; cheap: no delivery happens on the caller's thread."""
        _, urls = self.faults.push_targets(event.event_type)
        if urls:
            self._queue.put(event)

    def stop(self, timeout: float = 2.0) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def drain(self, timeout: float = 5.0) -> None:
        """Wait until everything queued so far was attempted (for tests)."""
        done = threading.Event()
        self._queue.put(done)
        done.wait(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            if isinstance(item, Event):
                self._deliver(item)

    def body(self, event: Event, push_key: str) -> dict[str, Any]:
        date_push = int(self.clock())
        return {
            "eventId": uuid.uuid4().hex,
            "eventType": event.event_type,
            "giccid": event.giccid,
            "datePush": date_push,
            "signature": push_signature(push_key, date_push),
            "data": event.data,
        }

    def _deliver(self, event: Event) -> None:
        push_key, urls = self.faults.push_targets(event.event_type)
        payload = json.dumps(self.body(event, push_key)).encode()
        for url in urls:
            request = urllib.request.Request(
                url,
                data=payload,
                headers={"Content-Type": "application/json", "User-Agent": "smarthub-simulator"},
                method="POST",
            )
            try:
                with self._opener.open(request, timeout=self.timeout) as response:
                    response.read()
                self.counters.add("pushesDelivered")
            except (urllib.error.URLError, OSError, ValueError) as exc:
                # HTTPError (a non-2xx answer) is a URLError too
                self.counters.add("pushesFailed")
                log.warning("push %s to %s failed: %s", event.event_type, url, exc)

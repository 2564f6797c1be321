"""Fault injection and counters: what the config starts with and ``POST /admin/faults`` changes.

Faults are decided before authentication and rate limiting, and an injected fault (a dropped
connection, a 503, a redirect) spends no rate budget: they stand for a proxy or load balancer in
front of SmartHub, not SmartHub itself.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Redirect:
    """Answer requests whose path starts with ``path_prefix`` with a redirect.

    ``Location`` is ``target_base`` + the rest of the path after the prefix + the query.
    ``target_base`` is a path on this server (``/v1``) or an absolute URL of another host
    (``http://127.0.0.1:8081/v1``). ``status`` is 301, 302, 307 or 308. ``times``: answer only
    the first N matching requests this way (None: every one).

    Example: ``Redirect("/old/v1", 301, "/v1")`` lets a client configured with
    ``http://host:port/old/v1`` find the API under ``/v1``.
    """

    path_prefix: str
    status: int
    target_base: str
    times: int | None = None

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Redirect:
        """From ``{"pathPrefix", "status", "target", "times"?}``; ValueError when malformed."""
        prefix, status, target = data.get("pathPrefix"), data.get("status"), data.get("target")
        times = data.get("times")
        if not isinstance(prefix, str) or not prefix.startswith("/"):
            raise ValueError("pathPrefix must be a path starting with /")
        if not isinstance(status, int) or status not in (301, 302, 307, 308):
            raise ValueError("status must be one of 301, 302, 307, 308")
        if not isinstance(target, str) or not target:
            raise ValueError("target must be a path or an absolute URL")
        if times is not None and (not isinstance(times, int) or times < 1):
            raise ValueError("times must be a positive integer or null")
        return cls(prefix, status, target, times)

    def to_wire(self) -> dict[str, Any]:
        return {
            "pathPrefix": self.path_prefix,
            "status": self.status,
            "target": self.target_base,
            "times": self.times,
        }


ENTERPRISE_ACCOUNT_SHAPES = ("objects", "names", "none")


@dataclass
class Faults:
    """Mutable, lock-guarded fault settings shared by the HTTP app, batch worker and pusher."""

    latency: float = 0.0
    error_rate: float = 0.0
    drop_rate: float = 0.0
    batch_failure_rate: float = 0.0
    redirects: list[Redirect] = field(default_factory=list)
    redirect_uses: dict[int, int] = field(default_factory=dict)
    push_urls: dict[str, str] = field(default_factory=dict)
    push_key: str = ""
    # how ``GET /enterprise`` lists accounts: objects ``[{"name", "url"}]`` (the default),
    # plain names ``["acme"]``, or not at all (``[]``): shapes another server may give
    enterprise_accounts: str = "objects"
    seed: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)

    def roll(self, rate: float) -> bool:
        """True with probability ``rate`` (seeded, so a run is repeatable)."""
        if rate <= 0.0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def match_redirect(self, path: str) -> Redirect | None:
        with self._lock:
            for number, redirect in enumerate(self.redirects):
                if not path.startswith(redirect.path_prefix):
                    continue
                used = self.redirect_uses.get(number, 0)
                if redirect.times is not None and used >= redirect.times:
                    continue
                self.redirect_uses[number] = used + 1
                return redirect
        return None

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply ``POST /admin/faults`` (wire names); ValueError names the bad field."""
        staged: dict[str, Any] = {}
        for name in ("latency", "errorRate", "dropRate", "batchFailureRate"):
            if name not in changes:
                continue
            value = changes[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name} must be a non-negative number")
            if name != "latency" and value > 1:
                raise ValueError(f"{name} must be between 0 and 1")
            staged[name] = float(value)
        if "redirects" in changes:
            raw = changes["redirects"]
            if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
                raise ValueError("redirects must be a list of objects")
            staged["redirects"] = [Redirect.from_wire(r) for r in raw]
        if "pushUrls" in changes:
            urls = changes["pushUrls"]
            if not isinstance(urls, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in urls.items()
            ):
                raise ValueError("pushUrls must map event types to URLs")
            staged["pushUrls"] = dict(urls)
        if "pushKey" in changes:
            if not isinstance(changes["pushKey"], str):
                raise ValueError("pushKey must be a string")
            staged["pushKey"] = changes["pushKey"]
        if "enterpriseAccounts" in changes:
            if changes["enterpriseAccounts"] not in ENTERPRISE_ACCOUNT_SHAPES:
                raise ValueError(
                    f"enterpriseAccounts must be one of {', '.join(ENTERPRISE_ACCOUNT_SHAPES)}"
                )
            staged["enterpriseAccounts"] = changes["enterpriseAccounts"]
        unknown = set(changes) - {
            "latency",
            "errorRate",
            "dropRate",
            "batchFailureRate",
            "redirects",
            "pushUrls",
            "pushKey",
            "enterpriseAccounts",
        }
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        with self._lock:
            self.latency = staged.get("latency", self.latency)
            self.error_rate = staged.get("errorRate", self.error_rate)
            self.drop_rate = staged.get("dropRate", self.drop_rate)
            self.batch_failure_rate = staged.get("batchFailureRate", self.batch_failure_rate)
            if "redirects" in staged:
                self.redirects = staged["redirects"]
                self.redirect_uses = {}
            self.push_urls = staged.get("pushUrls", self.push_urls)
            self.push_key = staged.get("pushKey", self.push_key)
            self.enterprise_accounts = staged.get("enterpriseAccounts", self.enterprise_accounts)

    def to_wire(self) -> dict[str, Any]:
        """Current settings; the push key is never shown, only whether one is set."""
        with self._lock:
            return {
                "latency": self.latency,
                "errorRate": self.error_rate,
                "dropRate": self.drop_rate,
                "batchFailureRate": self.batch_failure_rate,
                "redirects": [r.to_wire() for r in self.redirects],
                "pushUrls": dict(self.push_urls),
                "pushKeySet": bool(self.push_key),
                "enterpriseAccounts": self.enterprise_accounts,
            }

    def push_targets(self, event_type: str) -> tuple[str, list[str]]:
        """The push key and the URLs an event goes to (its own URL and the ``*`` one)."""
        with self._lock:
            urls = [u for t, u in self.push_urls.items() if t in (event_type, "*")]
            return self.push_key, list(dict.fromkeys(urls))


class Counters:
    """What the server did, for tests and the admin endpoint."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

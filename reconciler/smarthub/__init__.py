"""The SmartHub API client: `SmartHubClient` implements the `SmartHubApi` interface over HTTP.

`SmartHubClient` is imported when first asked for: the client pulls in httpx, which commands
that never reach the API (``validate``, ``--help``) need not pay for at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.smarthub.api import RequestStats, SmartHubApi

if TYPE_CHECKING:
    from reconciler.smarthub.client import SmartHubClient


def __getattr__(name: str) -> object:
    if name == "SmartHubClient":
        from reconciler.smarthub.client import SmartHubClient

        return SmartHubClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["RequestStats", "SmartHubApi", "SmartHubClient"]

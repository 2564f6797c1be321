"""The SmartHub API client: `SmartHubClient` implements the `SmartHubApi` interface over HTTP."""

from __future__ import annotations

from reconciler.smarthub.api import RequestStats, SmartHubApi
from reconciler.smarthub.client import SmartHubClient

__all__ = ["RequestStats", "SmartHubApi", "SmartHubClient"]

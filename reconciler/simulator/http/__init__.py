"""The simulator's HTTP side: the SmartHub contract under ``/v1`` and its own ``/admin``.

Every answer carries ``X-RateLimit-*`` (an unauthenticated one shows a fresh window); every
error is a problem document; malformed input is a 4xx, never a 500.

The rooms: ``app`` (the ASGI pipeline and routing), ``calls`` (what a handler gets and gives,
paging, the wire shapes), ``errors`` (problem documents and headers), and the handlers of each
resource: ``sims``, ``batch``, ``account`` (SMS, enterprise, accounts, packages, pools) and
``admin``.

Choices where the contract is silent:
- ``size`` above 100 is served as 100 (the ``Link`` URLs say so); ``page``/``size`` that are not
  positive integers → 400. A page past the last → ``[]`` with the usual headers.
- ``accountName`` of another enterprise on the list → 403; an unknown one → an empty list.
- Batch items: an unknown giccid fails with code ``missing``, another enterprise's with
  ``forbidden``, a forced failure with ``internal_error``, a state-machine refusal with
  ``illegal_status``. Batch ``type`` is the path word (``activate``, ``deactivate``, ``retire``,
  ``servicePackage``).
- Request bodies above 1 MiB → 413. ``HEAD`` is answered like ``GET``, without the body.
- ``POST /mt-sms`` to an unknown giccid → 422 ``missing`` (the body names it, not the URL).
"""

from __future__ import annotations

from reconciler.simulator.http.app import SimulatorApp
from reconciler.simulator.http.calls import ADMIN_PREFIX, API_PREFIX, TRANSPORT_KEY

__all__ = ["ADMIN_PREFIX", "API_PREFIX", "TRANSPORT_KEY", "SimulatorApp"]

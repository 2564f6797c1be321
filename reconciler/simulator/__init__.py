"""A SmartHub simulator: the contract in docs/smarthub-api.md, served for real.

Public API::

    config = SimulatorConfig(db_path="sim.db", sims=250, job_delay=0.05)
    with start_in_thread(config) as sim:        # returns once the server answers
        sim.url, sim.api_key, sim.other_api_key, sim.admin_url
    serve(config, "127.0.0.1", 8080)            # blocking, for ``fleetform sim serve``

It imports nothing of fleetform proper: it shares only the contract with the client.

Seeded fleet (deterministic for ``(sims, seed)``; example manifests depend on it):

- SIM ``i`` has giccid ``"894450" + f"{i:012d}"`` + its Luhn check digit (19 digits);
  wire ``iccid`` = giccid. SIM 0 is ``8944500000000000006``.
- ``i % 10 == 9`` → account ``globex`` (enterprise Globex, reached with ``other_api_key``);
  all others → account ``acme`` (enterprise Acme, reached with ``api_key``).
- ``sims=N`` counts the acme SIMs: indices run until acme holds exactly N (the globex SIMs in
  between are extra). ``sims=250`` → indices 0..276, 250 acme + 27 globex, so the acme key sees
  ``X-Total-Count: 250``.
- From ``random.Random(seed)``, SIM by SIM in index order (see ``fleet._draw_sim``): status
  ~70% ACTIVATED, ~15% DEACTIVATED, the rest TEST_READY / INVENTORY / ACTIVATION_READY /
  RETIRED; acme basic plan IoT-1GB / IoT-5GB / IoT-10GB; ~15% EU-Roaming-500MB, ~10%
  US-Roaming-1GB; APN ``iot.acme`` (~90% ENABLED) and on ~20% also ``backup.acme``; custom1 a
  site (berlin, hamburg, munich, ...) on ~60%, custom2 an asset tag ``ASSET-nnnnn`` on ~40%,
  custom3 ``spare`` on ~5%, custom4/5 null; imsi ``23450`` + index, msisdn ``447900`` + index,
  a Luhn-valid imei. Globex SIMs: plan Globex-Basic, APN ``m2m.globex`` ENABLED, no custom values.
- Catalogue (``GET /{accountName}/servicePackages``): acme BASIC IoT-1GB, IoT-5GB, IoT-10GB,
  IoT-Unlimited, SUPPLEMENTARY EU-Roaming-500MB, US-Roaming-1GB; globex BASIC Globex-Basic,
  SUPPLEMENTARY Globex-Roam.

Faults (``SimulatorConfig`` and ``POST {admin_url}/faults``): ``latency`` seconds per request,
``error_rate`` share of 503s, ``drop_rate`` share of connections closed with no answer,
``batch_failure_rate`` share of batch items failing with ``internal_error``, ``redirects``
(`Redirect`: a path prefix answered 301/302/307/308 with a ``Location`` on this server or
another host, optionally only N times). Faults spend no rate budget.

Module map: ``fleet`` (seeding rule, catalogue), ``store/`` (SQLite state, one room per job:
schema, seeding, reads, writes and the state machine, history, batch jobs, SMS and rate
windows), ``http/`` (the ASGI app: pipeline, auth, rate limit, routing; handlers per resource;
problem documents), ``jobs`` (batch worker), ``push`` (push delivery), ``faults`` (faults,
counters), ``openapi/``, ``listen`` (bind, listen and start on a socket), ``server``
(lifecycle).

Admin endpoints (under ``admin_url``, authenticated with either key, never rate-limited, never
faulted): ``GET``/``POST /faults`` (``latency``, ``errorRate``, ``dropRate``,
``batchFailureRate``, ``redirects``, ``pushUrls``, ``pushKey``, ``enterpriseAccounts``:
``objects``, ``names`` or ``none``, how ``GET /enterprise`` lists accounts), ``GET /counters`` and
``POST /counters/reset`` (``requests``, ``rateLimited``, ``dropped``, ``injectedErrors``,
``redirects``, ``statusNNN``, ``pushesDelivered``, ``pushesFailed``), ``POST /rate-limit/reset``,
``GET``/``PATCH /sims/{giccid}`` (wire fields, no state machine, no budget: a change "behind
fleetform's back", recorded in the history and pushed), ``GET /batchJobs`` (every job with its
``accountName`` and ``giccids``).
"""

from __future__ import annotations

from reconciler.simulator.config import SimulatorConfig, SimulatorError
from reconciler.simulator.faults import Redirect
from reconciler.simulator.fleet import giccid_for, luhn_valid
from reconciler.simulator.push import push_signature
from reconciler.simulator.server import RunningSimulator, serve, start_in_thread

__all__ = [
    "Redirect",
    "RunningSimulator",
    "SimulatorConfig",
    "SimulatorError",
    "giccid_for",
    "luhn_valid",
    "push_signature",
    "serve",
    "start_in_thread",
]

"""The simulator's own ``/admin`` endpoints (same ``X-API-Key``, no rate limit): faults,
counters, the rate windows, and SIMs changed behind fleetform's back."""

from __future__ import annotations

from typing import Any

from reconciler.simulator.faults import Counters, Faults
from reconciler.simulator.fleet import STATUSES
from reconciler.simulator.http.calls import Call, Reply, Routes, job_wire, sim_wire
from reconciler.simulator.problems import NotFound, ValidationFailed
from reconciler.simulator.store import APN_STATUSES, CUSTOM_FIELDS, CUSTOM_MAX, Store


class AdminHandlers:
    def __init__(self, store: Store, faults: Faults, counters: Counters) -> None:
        self.store = store
        self.faults = faults
        self.counters = counters

    def routes(self) -> Routes:
        return [
            ("GET", r"/faults", self.get_faults),
            ("POST", r"/faults", self.set_faults),
            ("GET", r"/counters", self.get_counters),
            ("POST", r"/counters/reset", self.reset_counters),
            ("POST", r"/rate-limit/reset", self.reset_rate_limit),
            ("GET", r"/sims/(?P<giccid>[^/]+)", self.get_sim),
            ("PATCH", r"/sims/(?P<giccid>[^/]+)", self.patch_sim),
            ("GET", r"/batchJobs", self.jobs),
        ]

    def get_faults(self, call: Call) -> Reply:
        return Reply(self.faults.to_wire())

    def set_faults(self, call: Call) -> Reply:
        try:
            self.faults.update(call.json_object())
        except ValueError as exc:
            raise ValidationFailed("faults", "body", "invalid", str(exc)) from None
        return Reply(self.faults.to_wire())

    def get_counters(self, call: Call) -> Reply:
        return Reply(self.counters.snapshot())

    def reset_counters(self, call: Call) -> Reply:
        self.counters.reset()
        return Reply(self.counters.snapshot())

    def reset_rate_limit(self, call: Call) -> Reply:
        self.store.reset_rate_windows()
        return Reply({"reset": True})

    def get_sim(self, call: Call) -> Reply:
        sim = self.store.get_sim(call.params["giccid"])
        if sim is None:
            raise NotFound(f"no SIM with giccid {call.params['giccid']}")
        return Reply(sim_wire(sim, call.base))

    def patch_sim(self, call: Call) -> Reply:
        changes = call.json_object()
        for name, value in changes.items():
            check_admin_field(name, value)
        sim = self.store.admin_patch(call.params["giccid"], changes)
        return Reply(sim_wire(sim, call.base))

    def jobs(self, call: Call) -> Reply:
        return Reply(
            [
                {
                    **job_wire(job, call.base),
                    "accountName": job.account,
                    "giccids": list(job.giccids),
                }
                for job in self.store.all_jobs()
            ]
        )


def check_admin_field(name: str, value: Any) -> None:
    """422 unless ``value`` is a value the admin endpoint may give the SIM field ``name``."""

    def bad(message: str) -> ValidationFailed:
        return ValidationFailed("globalSim", name, "invalid", message)

    if name == "status":
        if value not in STATUSES:
            raise bad(f"status must be one of {', '.join(STATUSES)}")
    elif name in ("basicServicePackage", "imei", "imsi", "msisdn"):
        if not isinstance(value, str) or not value:
            raise bad("must be a non-empty string")
    elif name == "supplementaryServicePackages":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad("must be a list of strings")
    elif name == "apns":
        if not isinstance(value, list) or not all(
            isinstance(a, dict)
            and isinstance(a.get("apn"), str)
            and a.get("status") in APN_STATUSES
            and set(a) == {"apn", "status"}
            for a in value
        ):
            raise bad("must be a list of {apn, status: ENABLED|DISABLED}")
    elif name in CUSTOM_FIELDS:
        if value is not None and (not isinstance(value, str) or len(value) > CUSTOM_MAX):
            raise bad(f"must be null or a string of at most {CUSTOM_MAX} characters")
    else:
        raise bad("not a field the admin endpoint can change")

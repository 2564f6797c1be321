"""Handlers of ``/global-sims``: list, one SIM, change history, statistics, and the writes.

Choices where the contract is silent: ``accountName`` of another enterprise on the list → 403;
an unknown one → an empty list.
"""

from __future__ import annotations

from reconciler.simulator.fleet import ENTERPRISE_OF_ACCOUNT, STATUSES
from reconciler.simulator.http.calls import (
    Call,
    Reply,
    Routes,
    change_wire,
    paged,
    paging,
    required_string,
    sim_wire,
)
from reconciler.simulator.problems import BadRequest, Forbidden, ValidationFailed
from reconciler.simulator.store import APN_STATUSES, CUSTOM_FIELDS, CUSTOM_MAX, Store, parse_time

_SIM = r"/global-sims/(?P<giccid>[^/]+)"


class SimHandlers:
    def __init__(self, store: Store) -> None:
        self.store = store

    def routes(self) -> Routes:
        """In match order: the fixed words under /global-sims before the giccid pattern."""
        return [
            ("GET", r"/global-sims", self.list_sims),
            ("GET", r"/global-sims/changeLogs", self.change_logs),
            ("GET", r"/global-sims/statistics", self.statistics),
            ("GET", _SIM, self.get_sim),
            ("GET", _SIM + r"/custom-field", self.get_custom_fields),
            ("PUT", _SIM + r"/custom-field", self.put_custom_fields),
            ("POST", _SIM + r"/(?P<operation>activate|deactivate|retire)", self.transition),
            ("POST", _SIM + r"/supplementaryServicePackages", self.subscribe),
            ("PUT", _SIM + r"/servicePackage", self.change_basic_plan),
            ("PUT", _SIM + r"/apnStatus", self.change_apn_status),
        ]

    # ---- reads -------------------------------------------------------------------------

    def list_sims(self, call: Call) -> Reply:
        query = call.request.query_params
        page, size = paging(query)
        status = query.get("status")
        if status is not None and status not in STATUSES:
            raise ValidationFailed("globalSim", "status", "invalid", f"unknown status {status!r}")
        account_name = query.get("accountName")
        if account_name is not None and account_name != call.account:
            if account_name in ENTERPRISE_OF_ACCOUNT:
                raise Forbidden()
            return paged(call, [], page, size, 0)
        sims, total = self.store.list_sims(call.account, status, page, size)
        return paged(call, [sim_wire(sim, call.base) for sim in sims], page, size, total)

    def get_sim(self, call: Call) -> Reply:
        return Reply(sim_wire(self.store.owned_sim(call.params["giccid"], call.account), call.base))

    def change_logs(self, call: Call) -> Reply:
        query = call.request.query_params
        page, size = paging(query)
        giccid = query.get("giccid") or None
        if giccid is not None:
            self.store.owned_sim(giccid, call.account)
        since: float | None = None
        if query.get("since"):
            try:
                since = parse_time(query["since"])
            except (ValueError, OverflowError):
                raise ValidationFailed(
                    "changeLog", "since", "invalid", "since must be yyyy-MM-dd'T'HH:mm:ssZ"
                ) from None
        rows, total = self.store.change_logs(call.account, giccid, since, page, size)
        return paged(call, [change_wire(row) for row in rows], page, size, total)

    def statistics(self, call: Call) -> Reply:
        counts = self.store.statistics(call.account)
        return Reply(
            {
                "accountName": call.account,
                "totalSims": sum(counts.values()),
                "simsByStatus": counts,
                "countries": [
                    {"countryCode": "DE", "sims": counts["ACTIVATED"], "dataUsageBytes": 0}
                ],
            }
        )

    def get_custom_fields(self, call: Call) -> Reply:
        sim = self.store.owned_sim(call.params["giccid"], call.account)
        return Reply(sim.custom_fields())

    # ---- writes ------------------------------------------------------------------------

    def put_custom_fields(self, call: Call) -> Reply:
        giccid = call.params["giccid"]
        self.store.owned_sim(giccid, call.account)
        body = call.json_object()
        values: dict[str, str | None] = {}
        for name, value in body.items():
            if name not in CUSTOM_FIELDS:
                raise ValidationFailed("customFieldVO", name, "invalid", "unknown custom field")
            if value is not None and not isinstance(value, str):
                raise BadRequest(f"{name} should be a string or null")
            if value is not None and len(value) > CUSTOM_MAX:
                raise ValidationFailed(
                    "customFieldVO", name, "invalid", f"at most {CUSTOM_MAX} characters"
                )
            values[name] = value
        sim = self.store.set_custom_fields(giccid, call.account, values)
        return Reply(sim.custom_fields())

    def transition(self, call: Call) -> Reply:
        sim = self.store.transition(call.params["giccid"], call.account, call.params["operation"])
        return Reply(sim_wire(sim, call.base))

    def subscribe(self, call: Call) -> Reply:
        giccid = call.params["giccid"]
        self.store.owned_sim(giccid, call.account)
        plan = required_string(call.json_object(), "servicePackageName", "servicePackage")
        return Reply(sim_wire(self.store.add_supplementary(giccid, call.account, plan), call.base))

    def change_basic_plan(self, call: Call) -> Reply:
        giccid = call.params["giccid"]
        self.store.owned_sim(giccid, call.account)
        plan = required_string(call.json_object(), "servicePackageName", "servicePackage")
        return Reply(sim_wire(self.store.set_basic_plan(giccid, call.account, plan), call.base))

    def change_apn_status(self, call: Call) -> Reply:
        giccid = call.params["giccid"]
        self.store.owned_sim(giccid, call.account)
        body = call.json_object()
        apn = required_string(body, "apn", "apnStatus")
        status = required_string(body, "status", "apnStatus")
        if status not in APN_STATUSES:
            raise ValidationFailed("apnStatus", "status", "invalid", "ENABLED or DISABLED")
        return Reply(
            sim_wire(self.store.set_apn_status(giccid, call.account, apn, status), call.base)
        )

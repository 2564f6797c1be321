"""Handlers of SMS, the enterprise, accounts, service packages and share pools.

Choice where the contract is silent: ``POST /mt-sms`` to an unknown giccid → 422 ``missing``
(the body names it, not the URL).
"""

from __future__ import annotations

from typing import Any

from reconciler.simulator.faults import Faults
from reconciler.simulator.fleet import CATALOGUE, ENTERPRISE_OF_ACCOUNT
from reconciler.simulator.http.calls import Call, Reply, Routes, required_string
from reconciler.simulator.problems import Forbidden, NotFound, ValidationFailed
from reconciler.simulator.store import Store, plan_names


class AccountHandlers:
    def __init__(self, store: Store, faults: Faults) -> None:
        self.store = store
        self.faults = faults

    def routes(self) -> Routes:
        return [
            ("POST", r"/mt-sms", self.send_sms),
            ("GET", r"/mt-sms/(?P<sms_id>[^/]+)", self.get_sms),
            ("GET", r"/enterprise", self.enterprise),
            ("GET", r"/account/(?P<name>[^/]+)", self.get_account),
            ("GET", r"/sharePools", self.share_pools),
            ("GET", r"/(?P<name>[^/]+)/servicePackages", self.service_packages),
        ]

    def send_sms(self, call: Call) -> Reply:
        body = call.json_object()
        giccid = required_string(body, "toGiccid", "mtSms")
        content = required_string(body, "content", "mtSms")
        if not content or len(content) > 1600:
            raise ValidationFailed("mtSms", "content", "invalid", "1 to 1600 characters")
        # the URL's resource exists; the SIM the body names does not: 422 `missing`, not 404
        if self.store.get_sim(giccid) is None:
            raise ValidationFailed("mtSms", "toGiccid", "missing", f"no SIM with giccid {giccid}")
        return Reply({"smsMsgId": self.store.create_sms(call.account, giccid, content)})

    def get_sms(self, call: Call) -> Reply:
        found = self.store.get_sms(call.params["sms_id"])
        if found is None:
            raise NotFound(f"no SMS {call.params['sms_id']}")
        account, giccid, deliverable, created = found
        if account != call.account:
            raise Forbidden()
        # delivered (or failed, for a SIM that was not ACTIVATED) a second after it was sent
        done = self.store.clock() - created >= 1.0
        status = "PENDING" if not done else "DELIVERED" if deliverable else "FAILED"
        return Reply({"smsMsgId": call.params["sms_id"], "toGiccid": giccid, "status": status})

    def enterprise(self, call: Call) -> Reply:
        shape = self.faults.enterprise_accounts  # the contract does not give the shape
        accounts: list[Any] = (
            [{"name": call.account, "url": f"{call.base}/account/{call.account}"}]
            if shape == "objects"
            else [call.account]
            if shape == "names"
            else []
        )
        return Reply({"name": ENTERPRISE_OF_ACCOUNT[call.account], "accounts": accounts})

    def _own_account(self, call: Call) -> str:
        name = call.params["name"]
        if name not in ENTERPRISE_OF_ACCOUNT:
            raise NotFound(f"no account {name}")
        if name != call.account:
            raise Forbidden()
        return name

    def get_account(self, call: Call) -> Reply:
        name = self._own_account(call)
        return Reply(
            {
                "name": name,
                "enterpriseName": ENTERPRISE_OF_ACCOUNT[name],
                "status": "ACTIVE",
                "totalSims": sum(self.store.statistics(name).values()),
                "servicePackagesUrl": f"{call.base}/{name}/servicePackages",
            }
        )

    def service_packages(self, call: Call) -> Reply:
        name = self._own_account(call)
        return Reply(
            [
                {"name": plan, "type": kind, "prepaid": prepaid}
                for plan, kind, prepaid in CATALOGUE[name]
            ]
        )

    def share_pools(self, call: Call) -> Reply:
        basic = plan_names(call.account, "BASIC")
        return Reply(
            [
                {
                    "name": f"{call.account}-pool",
                    "accountName": call.account,
                    "servicePackages": list(basic),
                    "totalVolumeBytes": 10 * 1024**4,
                    "usedVolumeBytes": 0,
                }
            ]
        )

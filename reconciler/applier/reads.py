"""Apply's live reads: single GETs or the paged list, whichever costs less.

The rule is `reconciler.planner.cost.check_reads`, the one the plan's estimate uses, priced by
the plan's ``account_size`` (a targeted plan read fewer SIMs than the account holds).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from reconciler.errors import NotFoundError
from reconciler.model import LiveSim, Plan
from reconciler.planner.cost import check_reads
from reconciler.smarthub.api import SmartHubApi


def list_is_cheaper(plan: Plan, iccids: Sequence[str]) -> bool:
    """Whether the paged list costs fewer requests than one GET per SIM of ``iccids``."""
    wanted = len(set(iccids))
    return check_reads(wanted, plan.account_size or wanted) < wanted


def get_or_none(api: SmartHubApi, iccid: str) -> LiveSim | None:
    """One SIM's live record; None when the server does not know it."""
    try:
        return api.get_sim(iccid)
    except NotFoundError:
        return None


def read_live(
    api: SmartHubApi, pool: ThreadPoolExecutor, plan: Plan, iccids: Sequence[str]
) -> dict[str, LiveSim | None]:
    """Live records of ``iccids`` (None: not in the plan's account), by single GETs sent
    concurrently on ``pool`` or by the paged list, whichever costs less."""
    wanted = list(dict.fromkeys(iccids))
    if not wanted:
        return {}
    if not list_is_cheaper(plan, wanted):
        return dict(zip(wanted, pool.map(lambda i: get_or_none(api, i), wanted), strict=True))
    wanted_set = set(wanted)
    live: dict[str, LiveSim | None] = dict.fromkeys(wanted)
    for sim in api.iter_sims(account=plan.account):
        if sim.iccid in wanted_set:
            live[sim.iccid] = sim
    return live


__all__ = ["get_or_none", "list_is_cheaper", "read_live"]

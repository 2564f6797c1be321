"""List and history pages over a socket, on a fleet that crosses the store's count buckets.

The store answers a status-filtered page from counts kept per bucket of 1,024 positions and the
history from a per-account numbering (tests/unit/test_simulator_indexes.py pins their cost);
here the contract's side of it: ``Link`` and ``X-Total-Count`` exactly as before, every SIM
exactly once through ``next``, and counts and history right after writes through the API.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from reconciler.simulator import RunningSimulator, SimulatorConfig, start_in_thread

StartSim = Callable[..., RunningSimulator]
SIMS = 2100  # acme positions 1..2100: buckets 0, 1 and 2


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSimulator]:
    db = tmp_path_factory.mktemp("paging") / "sim.db"
    with start_in_thread(SimulatorConfig(db_path=db, sims=SIMS, job_delay=0.05)) as sim:
        yield sim


def api(sim: RunningSimulator) -> httpx.Client:
    return httpx.Client(
        base_url=sim.url + "/", headers={"X-API-Key": sim.api_key}, timeout=10, verify=False
    )


def follow(
    client: httpx.Client, path: str, **params: Any
) -> tuple[list[Any], list[httpx.Response]]:
    """Every item from the first page through ``Link: next``, and every response."""
    response = client.get(path, params=params)
    responses = [response]
    items = list(response.json())
    while "next" in response.links:
        response = client.get(response.links["next"]["url"])
        responses.append(response)
        items += response.json()
    return items, responses


def whole_fleet(client: httpx.Client) -> list[dict[str, Any]]:
    return follow(client, "global-sims", size=100)[0]


def page_of(url: str) -> int:
    return int(httpx.URL(url).params["page"])


@pytest.mark.parametrize("status", ["ACTIVATED", "DEACTIVATED", "RETIRED"])
def test_a_status_list_through_link_is_the_filtered_fleet(
    shared: RunningSimulator, status: str
) -> None:
    with api(shared) as client:
        fleet = whole_fleet(client)
        items, responses = follow(client, "global-sims", status=status, size=100)
        by_account, _ = follow(client, "global-sims", status=status, accountName="acme", size=100)
    expected = [sim["giccid"] for sim in fleet if sim["status"] == status]
    assert len(fleet) == SIMS
    assert [sim["giccid"] for sim in items] == expected
    assert by_account == items
    last = max(1, -(-len(expected) // 100))
    assert len(responses) == last
    for number, response in enumerate(responses, 1):
        assert response.headers["X-Total-Count"] == str(len(expected))
        links = response.links
        assert page_of(links["first"]["url"]) == 1
        assert page_of(links["last"]["url"]) == last
        assert ("prev" in links) == (number > 1)
        assert ("next" in links) == (number < last)
        assert httpx.URL(links["last"]["url"]).params["status"] == status


def test_a_page_across_a_bucket_boundary_is_whole(shared: RunningSimulator) -> None:
    with api(shared) as client:
        fleet = whole_fleet(client)
        activated = [sim["giccid"] for sim in fleet if sim["status"] == "ACTIVATED"]
        # the ACTIVATED SIMs among positions 1..1024 end inside some page of 33: read that page
        boundary = sum(1 for sim in fleet[:1024] if sim["status"] == "ACTIVATED")
        page = boundary // 33 + 1
        got = client.get("global-sims", params={"status": "ACTIVATED", "size": 33, "page": page})
        past = client.get("global-sims", params={"status": "ACTIVATED", "size": 33, "page": 999})
    assert [sim["giccid"] for sim in got.json()] == activated[(page - 1) * 33 : page * 33]
    assert (page - 1) * 33 < boundary < page * 33
    assert past.json() == []
    assert past.headers["X-Total-Count"] == str(len(activated))
    assert "next" not in past.links


def wait_for_job(client: httpx.Client, url: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(url).json()
        if job["status"] not in ("PENDING", "PROCESSING"):
            return job
        time.sleep(0.01)
    raise AssertionError(f"job not done after {timeout}s")


def test_counts_pages_and_history_follow_writes_through_the_api(sim_factory: StartSim) -> None:
    sim = sim_factory(sims=SIMS, job_delay=0.01)
    with api(sim) as client:
        fleet = whole_fleet(client)
        before = {
            s: sum(1 for x in fleet if x["status"] == s) for s in ("ACTIVATED", "DEACTIVATED")
        }
        since = time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(time.time() - 1))
        activated = [x["giccid"] for x in fleet if x["status"] == "ACTIVATED"]
        # a batch job over SIMs of every bucket, single suspends, single plan changes
        batch = activated[::3][:300]
        singles = [g for g in activated if g not in set(batch)][:5]
        posted = client.post("batchJobs/global-sims/deactivate", json={"giccids": batch})
        assert posted.status_code == 202
        assert wait_for_job(client, posted.json()["url"])["status"] == "COMPLETED"
        for giccid in singles:
            client.post(f"global-sims/{giccid}/deactivate").raise_for_status()
        planned = [x for x in fleet if x["status"] != "RETIRED"][-4:]
        for x in planned:
            plan = "IoT-Unlimited" if x["basicServicePackage"] != "IoT-Unlimited" else "IoT-1GB"
            client.put(
                f"global-sims/{x['giccid']}/servicePackage", json={"servicePackageName": plan}
            ).raise_for_status()
        after = whole_fleet(client)
        moved = len(batch) + len(singles)
        for status, delta in (("ACTIVATED", -moved), ("DEACTIVATED", moved)):
            items, responses = follow(client, "global-sims", status=status, size=100)
            assert [x["giccid"] for x in items] == [
                x["giccid"] for x in after if x["status"] == status
            ]
            assert {r.headers["X-Total-Count"] for r in responses} == {str(before[status] + delta)}
        statistics = client.get("global-sims/statistics").json()
        history, pages = follow(client, "global-sims/changeLogs", since=since, size=100)
        one = client.get("global-sims/changeLogs", params={"giccid": singles[0]}).json()
    assert statistics["simsByStatus"]["DEACTIVATED"] == before["DEACTIVATED"] + moved
    assert statistics["totalSims"] == SIMS
    status_rows = [h for h in history if h["changeType"] == "STATUS"]
    plan_rows = [h for h in history if h["changeType"] == "SERVICE_PACKAGE"]
    assert sorted(h["giccid"] for h in status_rows) == sorted(batch + singles)
    assert all(h["oldValue"] == "ACTIVATED" for h in status_rows)
    assert [h["giccid"] for h in plan_rows] == [x["giccid"] for x in planned]
    assert len(history) == moved + len(planned)
    assert {r.headers["X-Total-Count"] for r in pages} == {str(len(history))}
    assert len(pages) == -(-len(history) // 100)
    assert [(h["changeType"], h["newValue"]) for h in one] == [("STATUS", "DEACTIVATED")]

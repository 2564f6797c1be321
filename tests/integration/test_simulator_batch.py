"""Batch jobs of the simulator: validation, lifecycle, per-SIM results, failures, restart-resume."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.simulator import RunningSimulator, SimulatorConfig, start_in_thread

StartSim = Callable[..., RunningSimulator]


def api(sim: RunningSimulator, key: str | None = None) -> httpx.Client:
    return httpx.Client(
        base_url=sim.url + "/",
        headers={"X-API-Key": key or sim.api_key},
        timeout=10,
        verify=False,
    )


def sims_by_status(sim: RunningSimulator, status: str, count: int) -> list[str]:
    with api(sim) as client:
        page = client.get("global-sims", params={"status": status, "size": 100}).json()
    assert len(page) >= count, f"the seeded fleet has fewer than {count} {status} SIMs"
    return [s["giccid"] for s in page[:count]]


def wait_for_job(client: httpx.Client, url: str, timeout: float = 5.0) -> list[dict[str, Any]]:
    """Poll until the job is done; every answer seen, in order."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(url).json()
        seen.append(job)
        if job["status"] not in ("PENDING", "PROCESSING"):
            return seen
        time.sleep(0.01)
    raise AssertionError(f"job not done after {timeout}s: {seen[-1]}")


def test_a_batch_suspend_is_accepted_and_completes(sim: RunningSimulator) -> None:
    giccids = sims_by_status(sim, "ACTIVATED", 5)
    with api(sim) as client:
        before = int(client.get("enterprise").headers["X-RateLimit-Remaining"])
        created = client.post("batchJobs/global-sims/deactivate", json={"giccids": giccids})
        after_post = int(created.headers["X-RateLimit-Remaining"])
        untouched = client.get(f"global-sims/{giccids[0]}").json()["status"]
        seen = wait_for_job(client, created.json()["url"])
        statuses = {client.get(f"global-sims/{g}").json()["status"] for g in giccids}
    assert created.status_code == 202
    body = created.json()
    assert set(body) == {"jobId", "status", "url"}
    assert body["status"] == "PENDING"
    assert body["url"] == f"{sim.url}/batchJobs/{body['jobId']}"
    assert after_post == before - 1  # one request for the whole job
    assert untouched == "ACTIVATED"  # the POST touches no SIM
    order = [job["status"] for job in seen]
    assert order == sorted(order, key=["PENDING", "PROCESSING", "COMPLETED"].index)
    final = seen[-1]
    assert final["status"] == "COMPLETED"
    assert (final["type"], final["total"], final["succeeded"], final["failed"]) == (
        "deactivate",
        5,
        5,
        0,
    )
    assert final["items"] == [{"giccid": g, "result": "SUCCESS"} for g in giccids]
    assert statuses == {"DEACTIVATED"}


def test_the_job_passes_through_processing(tmp_path: Path) -> None:
    config = SimulatorConfig(db_path=tmp_path / "s.db", sims=20, job_delay=0.15)
    with start_in_thread(config) as sim, api(sim) as client:
        giccids = sims_by_status(sim, "ACTIVATED", 2)
        url = client.post("batchJobs/global-sims/deactivate", json={"giccids": giccids}).json()[
            "url"
        ]
        seen = [job["status"] for job in wait_for_job(client, url)]
    assert seen[0] == "PENDING"
    assert "PROCESSING" in seen
    assert seen[-1] == "COMPLETED"


def test_each_sim_succeeds_or_fails_on_its_own(sim: RunningSimulator) -> None:
    active = sims_by_status(sim, "ACTIVATED", 2)
    suspended = sims_by_status(sim, "DEACTIVATED", 2)
    with api(sim, sim.other_api_key) as other:
        foreign = other.get("global-sims", params={"size": 1}).json()[0]["giccid"]
    unknown = "8944500000000999999"
    giccids = [*active, *suspended, foreign, unknown]
    with api(sim) as client:
        url = client.post("batchJobs/global-sims/retire", json={"giccids": giccids}).json()["url"]
        job = wait_for_job(client, url)[-1]
        statuses = [client.get(f"global-sims/{g}").json()["status"] for g in active + suspended]
    assert job["status"] == "PARTIALLY_FAILED"
    assert (job["succeeded"], job["failed"]) == (2, 4)
    results = {item["giccid"]: (item["result"], item.get("code")) for item in job["items"]}
    assert results == {
        active[0]: ("FAILED", "illegal_status"),
        active[1]: ("FAILED", "illegal_status"),
        suspended[0]: ("SUCCESS", None),
        suspended[1]: ("SUCCESS", None),
        foreign: ("FAILED", "forbidden"),
        unknown: ("FAILED", "missing"),
    }
    assert statuses == ["ACTIVATED", "ACTIVATED", "RETIRED", "RETIRED"]


def test_a_job_where_every_sim_fails_is_failed(sim: RunningSimulator) -> None:
    retired = sims_by_status(sim, "RETIRED", 1)
    with api(sim) as client:
        url = client.post("batchJobs/global-sims/activate", json={"giccids": retired}).json()["url"]
        job = wait_for_job(client, url)[-1]
    assert job["status"] == "FAILED"
    assert job["items"] == [{"giccid": retired[0], "result": "FAILED", "code": "illegal_status"}]


def test_batch_basic_plan_change_and_history(sim: RunningSimulator) -> None:
    giccids = sims_by_status(sim, "ACTIVATED", 3)
    with api(sim) as client:
        created = client.post(
            "batchJobs/global-sims/servicePackage",
            json={"giccids": giccids, "servicePackageName": "IoT-Unlimited"},
        )
        job = wait_for_job(client, created.json()["url"])[-1]
        plans = {client.get(f"global-sims/{g}").json()["basicServicePackage"] for g in giccids}
        history = client.get("global-sims/changeLogs", params={"size": 100}).json()
    assert job["status"] == "COMPLETED"
    assert job["type"] == "servicePackage"
    assert plans == {"IoT-Unlimited"}
    assert {h["giccid"] for h in history if h["changeType"] == "SERVICE_PACKAGE"} == set(giccids)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 422, "missing_field"),
        ({"giccids": []}, 422, "invalid"),
        ({"giccids": ["8944500000000000006"] * 2}, 422, "invalid"),
        ({"giccids": [f"89445000000{i:08d}" for i in range(1001)]}, 422, "invalid"),
        ({"giccids": "8944500000000000006"}, 400, None),
        ({"giccids": [8944500000000000006]}, 400, None),
    ],
)
def test_batch_requests_are_validated(
    sim: RunningSimulator, body: dict[str, Any], status: int, code: str | None
) -> None:
    with api(sim) as client:
        response = client.post("batchJobs/global-sims/activate", json=body)
        jobs = httpx.get(
            sim.admin_url + "/batchJobs", headers={"X-API-Key": sim.api_key}, verify=False
        ).json()
    assert response.status_code == status, response.text
    if code is not None:
        assert response.json()["errors"][0]["code"] == code
    assert jobs == []  # nothing stored


def test_batch_plan_change_needs_a_known_basic_plan(sim: RunningSimulator) -> None:
    giccids = sims_by_status(sim, "ACTIVATED", 1)
    with api(sim) as client:
        missing = client.post("batchJobs/global-sims/servicePackage", json={"giccids": giccids})
        unknown = client.post(
            "batchJobs/global-sims/servicePackage",
            json={"giccids": giccids, "servicePackageName": "EU-Roaming-500MB"},
        )
    assert missing.json()["errors"][0]["code"] == "missing_field"
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0] == {
        "resource": "batchJob",
        "field": "servicePackageName",
        "code": "invalid",
        "message": "'EU-Roaming-500MB' is not a basic service package of account acme",
    }


def test_a_job_of_another_enterprise_is_403(sim: RunningSimulator) -> None:
    giccids = sims_by_status(sim, "ACTIVATED", 1)
    with api(sim) as client:
        url = client.post("batchJobs/global-sims/deactivate", json={"giccids": giccids}).json()[
            "url"
        ]
    with api(sim, sim.other_api_key) as other:
        response = other.get(url)
    assert response.status_code == 403
    assert response.json()["title"] == "Access forbidden"


def test_batch_failure_rate_fails_sims_with_internal_error(sim_factory: StartSim) -> None:
    sim = sim_factory(sims=250, job_delay=0.02, batch_failure_rate=1.0)
    giccids = sims_by_status(sim, "ACTIVATED", 4)
    with api(sim) as client:
        url = client.post("batchJobs/global-sims/deactivate", json={"giccids": giccids}).json()[
            "url"
        ]
        job = wait_for_job(client, url)[-1]
        statuses = {client.get(f"global-sims/{g}").json()["status"] for g in giccids}
    assert job["status"] == "FAILED"
    assert {item["code"] for item in job["items"]} == {"internal_error"}
    assert statuses == {"ACTIVATED"}


def test_partial_injected_failure(sim_factory: StartSim) -> None:
    sim = sim_factory(sims=250, job_delay=0.02, batch_failure_rate=0.5)
    giccids = sims_by_status(sim, "ACTIVATED", 40)
    with api(sim) as client:
        url = client.post("batchJobs/global-sims/deactivate", json={"giccids": giccids}).json()[
            "url"
        ]
        job = wait_for_job(client, url)[-1]
        live = {g: client.get(f"global-sims/{g}").json()["status"] for g in giccids}
    assert job["status"] == "PARTIALLY_FAILED"
    assert 0 < job["failed"] < 40
    for item in job["items"]:  # what the job says is what happened
        expected = "DEACTIVATED" if item["result"] == "SUCCESS" else "ACTIVATED"
        assert live[item["giccid"]] == expected


def test_jobs_left_open_resume_after_a_restart_and_run_once(tmp_path: Path) -> None:
    db = tmp_path / "sim.db"
    slow = SimulatorConfig(db_path=db, sims=100, job_delay=60.0)  # never gets to run
    with start_in_thread(slow) as sim, api(sim) as client:
        giccids = sims_by_status(sim, "ACTIVATED", 3)
        job_id = client.post("batchJobs/global-sims/deactivate", json={"giccids": giccids}).json()[
            "jobId"
        ]
        assert client.get(f"batchJobs/{job_id}").json()["status"] == "PENDING"
    fast = SimulatorConfig(db_path=db, sims=100, job_delay=0.02)
    with start_in_thread(fast) as sim, api(sim) as client:
        job = wait_for_job(client, f"batchJobs/{job_id}")[-1]
        history = client.get("global-sims/changeLogs", params={"size": 100}).json()
        time.sleep(0.1)  # give a wrongly repeated run the chance to show up
        history_later = client.get("global-sims/changeLogs", params={"size": 100}).json()
    assert job["status"] == "COMPLETED"
    assert sorted(h["giccid"] for h in history) == sorted(giccids)  # each SIM moved once
    assert history_later == history


def test_admin_lists_jobs_with_their_giccids(sim: RunningSimulator) -> None:
    first = sims_by_status(sim, "ACTIVATED", 2)
    second = sims_by_status(sim, "DEACTIVATED", 1)
    with api(sim) as client:
        a = client.post("batchJobs/global-sims/deactivate", json={"giccids": first}).json()
        b = client.post("batchJobs/global-sims/retire", json={"giccids": second}).json()
    response = httpx.get(
        sim.admin_url + "/batchJobs", headers={"X-API-Key": sim.api_key}, verify=False
    )
    jobs = {job["jobId"]: job for job in response.json()}
    assert jobs[a["jobId"]]["giccids"] == first
    assert jobs[b["jobId"]]["giccids"] == second
    assert {job["accountName"] for job in jobs.values()} == {"acme"}
    assert jobs[b["jobId"]]["type"] == "retire"

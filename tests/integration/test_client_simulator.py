"""SmartHubClient against the real simulator on a socket (fixtures in tests/conftest.py).

Where the rate window matters, the simulator and the client share one `FakeClock` (the
simulator's ``clock`` is its wall time; the client sleeps on the same clock), so waiting for
the window costs no real time and the tests assert on ``clock.sleeps``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from reconciler.clock import FakeClock, SystemClock
from reconciler.errors import (
    AuthenticationError,
    ForbiddenError,
    IllegalStatus,
    NotFoundError,
    TransportError,
)
from reconciler.model import (
    ApnStatus,
    BatchJob,
    BatchOperation,
    JobStatus,
    RatePlanType,
    SmsStatus,
    Status,
)
from reconciler.simulator import Redirect, RunningSimulator, giccid_for
from reconciler.smarthub import SmartHubClient

SimFactory = Callable[..., RunningSimulator]


def client(sim: RunningSimulator, **kwargs: Any) -> SmartHubClient:
    kwargs.setdefault("clock", FakeClock())
    return SmartHubClient(sim.url, sim.api_key, **kwargs)


def acme(i: int) -> str:
    assert i % 10 != 9
    return giccid_for(i)


def wait_for_job(api: SmartHubClient, job_id: str, timeout: float = 10.0) -> BatchJob:
    deadline = time.monotonic() + timeout
    while True:
        job = api.get_batch_job(job_id)
        if job.status.finished or time.monotonic() > deadline:
            return job
        time.sleep(0.02)  # the simulator's job_delay is real time


def find(api: SmartHubClient, status: Status, count: int) -> list[str]:
    found = []
    for sim in api.iter_sims(status=status):
        found.append(sim.iccid)
        if len(found) == count:
            break
    assert len(found) == count, f"the seeded fleet has fewer than {count} {status} SIMs"
    return found


def test_reads_the_whole_fleet_over_many_pages(sim_factory: SimFactory) -> None:
    sim = sim_factory(sims=1050, job_delay=0.05)
    with client(sim) as api:
        sims = list(api.iter_sims())
        stats = api.stats()
    assert len(sims) == 1050
    assert len({s.iccid for s in sims}) == 1050
    assert all(s.account == "acme" for s in sims)
    expected = {giccid_for(i) for i in range(1200) if i % 10 != 9}
    assert {s.iccid for s in sims} <= expected
    assert stats.requests == 11  # ceil(1050 / 100)
    assert stats.retries == 0


def test_filters_and_detail_agree_with_the_list(sim: RunningSimulator) -> None:
    with client(sim) as api:
        active = list(api.iter_sims(status=Status.ACTIVE, account="acme"))
        assert active and all(s.status is Status.ACTIVE for s in active)
        first = active[0]
        assert api.get_sim(first.iccid) == first
        assert api.get_custom_fields(first.iccid) == first.custom_fields
        budget = api.rate_budget()
        assert budget is not None and budget.limit == 5000


def test_errors_surface_as_the_error_tree(sim: RunningSimulator) -> None:
    with client(sim) as api:
        with pytest.raises(ForbiddenError) as forbidden:
            api.get_sim(giccid_for(9))  # a globex SIM with the acme key
        assert forbidden.value.status == 403
        with pytest.raises(NotFoundError):
            api.get_sim("8944500000999999990")
    with (
        SmartHubClient(sim.url, "wrong-key", clock=FakeClock()) as bad,
        pytest.raises(AuthenticationError) as info,
    ):
        bad.enterprise()
    assert "wrong-key" not in str(info.value)


def test_state_machine_errors_are_illegal_status(sim: RunningSimulator) -> None:
    with client(sim) as api:
        [iccid] = find(api, Status.ACTIVE, 1)
        with pytest.raises(IllegalStatus) as info:
            api.retire(iccid)  # retire only from DEACTIVATED
        assert info.value.code == "illegal_status"
        suspended = api.suspend(iccid)
        assert suspended is None or suspended.status is Status.SUSPENDED
        api.retire(iccid)
        assert api.get_sim(iccid).status is Status.RETIRED
        with pytest.raises(IllegalStatus):
            api.activate(iccid)
        with pytest.raises(IllegalStatus):
            api.set_custom_fields(iccid, {"custom1": "x"})


def test_single_writes_round_trip(sim: RunningSimulator) -> None:
    with client(sim) as api:
        [iccid] = find(api, Status.ACTIVE, 1)
        api.set_custom_fields(iccid, {"custom4": "rack 7", "custom1": None})
        fields = api.get_custom_fields(iccid)
        assert fields["custom4"] == "rack 7" and fields["custom1"] is None
        api.set_rate_plan(iccid, "IoT-10GB")
        api.set_apn_status(iccid, "iot.acme", ApnStatus.DISABLED)
        api.subscribe_plan(iccid, "US-Roaming-1GB")
        live = api.get_sim(iccid)
        assert live.rate_plan == "IoT-10GB"
        assert live.apns["iot.acme"] is ApnStatus.DISABLED
        assert "US-Roaming-1GB" in live.supplementary_plans
        logs = list(api.iter_change_logs(iccid=iccid))
        assert any(e.change_type == "service_package" and e.new_value for e in logs)


def test_catalogue_enterprise_and_sms(sim: RunningSimulator) -> None:
    with client(sim) as api:
        plans = api.service_packages("acme")
        assert {p.name for p in plans if p.type is RatePlanType.BASIC} >= {"IoT-1GB", "IoT-5GB"}
        assert api.enterprise()
        assert api.account("acme")
        assert api.share_pools() is not None
        assert api.statistics() is not None
        sms_id = api.send_sms(acme(0), "ping")
        assert api.sms_status(sms_id) in set(SmsStatus)


def test_batch_job_lifecycle_with_partial_failure(sim: RunningSimulator) -> None:
    with client(sim) as api:
        active = find(api, Status.ACTIVE, 3)
        [retired] = find(api, Status.RETIRED, 1)
        job = api.submit_batch(BatchOperation.SUSPEND, [*active, retired])
        assert job.status is JobStatus.PENDING and job.job_id
        assert job.total == 4
        done = wait_for_job(api, job.job_id)
        assert done.status is JobStatus.PARTIALLY_FAILED
        assert (done.succeeded, done.failed) == (3, 1)
        failed = [item for item in done.items if not item.ok]
        assert [(item.iccid, item.code) for item in failed] == [(retired, "illegal_status")]
        assert all(api.get_sim(i).status is Status.SUSPENDED for i in active)
        plan_job = api.submit_batch(BatchOperation.SET_RATE_PLAN, active, rate_plan="IoT-5GB")
        assert wait_for_job(api, plan_job.job_id).status is JobStatus.COMPLETED


def test_paces_a_tiny_window_without_429(sim_factory: SimFactory) -> None:
    clock = FakeClock(start=time.time())
    sim = sim_factory(sims=50, rate_limit=5, rate_window=1.0, clock=clock.now)
    waits: list[tuple[float, str]] = []
    with client(sim, clock=clock, on_wait=lambda s, r: waits.append((s, r))) as api:
        for i in range(12):
            api.get_sim(acme(i if i != 9 else 0))
        stats = api.stats()
    assert stats.requests == 12
    assert stats.rate_limited == 0
    assert sim.counters().get("rateLimited", 0) == 0
    assert len(clock.sleeps) == 2  # 12 requests at 5 per window: two waits
    assert all(0 < s <= 1.0 for s in clock.sleeps)
    assert len(waits) == 2


def test_429_from_another_user_waits_for_the_reset(sim_factory: SimFactory) -> None:
    clock = FakeClock(start=time.time())
    sim = sim_factory(sims=50, rate_limit=5, rate_window=1.0, clock=clock.now)
    with client(sim, clock=clock) as api:
        api.get_sim(acme(0))  # learns: 4 left
        # someone else spends the rest of the window with the same account
        for _ in range(4):
            httpx.get(f"{sim.url}/enterprise", headers={"X-API-Key": sim.api_key})
        sim_after = api.get_sim(acme(1))
        stats = api.stats()
    assert sim_after.iccid == acme(1)
    assert stats.rate_limited == 1
    assert stats.requests == 3
    assert clock.sleeps and clock.sleeps[-1] <= 1.0


def test_retries_5xx_and_dropped_connections(sim_factory: SimFactory) -> None:
    sim = sim_factory(sims=300, error_rate=0.2, drop_rate=0.1, seed=3)
    clock = FakeClock()
    with client(sim, clock=clock, max_retries=8) as api:
        sims = list(api.iter_sims())
        stats = api.stats()
    assert len(sims) == 300
    assert stats.retries > 0
    assert stats.requests == 3 + stats.retries
    assert len(clock.sleeps) == stats.retries  # one backoff per retry, none slept for real
    counters = sim.counters()
    assert counters.get("injectedErrors", 0) + counters.get("dropped", 0) == stats.retries


def test_a_dropped_post_is_not_repeated(sim_factory: SimFactory) -> None:
    sim = sim_factory(sims=50, drop_rate=1.0)
    with client(sim) as api, pytest.raises(TransportError, match="may or may not") as info:
        api.suspend(acme(0))
    assert info.value.method == "POST"
    assert api.stats().requests == 1
    assert sim.counters().get("dropped") == 1


def test_redirect_to_another_host_does_not_leak_the_key(sim_factory: SimFactory) -> None:
    other = sim_factory(sims=10, api_key="shared-secret")
    home = sim_factory(
        sims=10,
        api_key="shared-secret",
        redirects=(Redirect("/v1/enterprise", 302, other.url + "/enterprise"),),
    )
    with (
        SmartHubClient(home.url, "shared-secret", clock=FakeClock()) as api,
        pytest.raises(AuthenticationError) as info,
    ):
        api.enterprise()
    # the other host would have accepted the key: a 401 there proves it was not sent
    assert info.value.url == other.url + "/enterprise"
    assert home.counters().get("redirects") == 1
    assert other.counters().get("status401") == 1
    assert "shared-secret" not in str(info.value)


def test_permanent_redirect_is_remembered(sim_factory: SimFactory) -> None:
    base = sim_factory(sims=10, redirects=(Redirect("/old/v1", 301, "/v1"),))
    old = base.url.replace("/v1", "/old/v1")
    with SmartHubClient(old, base.api_key, clock=FakeClock()) as api:
        api.enterprise()
        api.enterprise()
        assert api.stats().requests == 3
    assert base.counters().get("redirects") == 1


def test_threads_share_a_tiny_window_without_429(sim_factory: SimFactory) -> None:
    clock = FakeClock(start=time.time())
    sim = sim_factory(sims=50, rate_limit=5, rate_window=1.0, clock=clock.now)
    errors: list[BaseException] = []
    with client(sim, clock=clock) as api:

        def worker(offset: int) -> None:
            try:
                for i in range(5):
                    api.get_sim(acme(offset * 10 + i))
            except BaseException as exc:  # pragma: no cover - asserted below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        stats = api.stats()
    assert errors == []
    assert stats.requests == 20
    assert stats.rate_limited == 0
    assert sim.counters().get("rateLimited", 0) == 0
    assert len(clock.sleeps) >= 3  # 20 requests at 5 per window


def test_real_clock_tiny_window(sim_factory: SimFactory) -> None:
    """The one test that waits for real: about one second, to prove the headers' rounding."""
    sim = sim_factory(sims=50, rate_limit=5, rate_window=1.0)
    started = time.monotonic()
    with client(sim, clock=SystemClock()) as api:
        for i in range(7):
            api.get_sim(acme(i))
        stats = api.stats()
    assert stats.requests == 7
    assert stats.rate_limited == 0
    assert 0 < stats.waited_seconds <= 1.0
    assert time.monotonic() - started < 5


def test_change_history_since(sim: RunningSimulator) -> None:
    from datetime import UTC, datetime, timedelta

    with client(sim) as api:
        [iccid] = find(api, Status.ACTIVE, 1)
        before = datetime.now(UTC) - timedelta(seconds=5)
        api.suspend(iccid)
        recent = list(api.iter_change_logs(iccid=iccid, since=before))
        assert [(e.change_type, e.old_value, e.new_value) for e in recent] == [
            ("status", "active", "suspended")
        ]
        assert recent[0].changed_time >= before.replace(microsecond=0)
        future = datetime.now(UTC) + timedelta(hours=1)
        assert list(api.iter_change_logs(iccid=iccid, since=future)) == []

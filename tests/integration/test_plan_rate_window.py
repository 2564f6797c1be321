"""The duration estimate uses the server's rate window, learnt from ``X-RateLimit-Reset``:
a plan against a 100-per-60-s simulator estimates from a 60 s window and says so."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

from reconciler.app import Connection
from reconciler.commands.plan import PlanOptions, run_plan
from reconciler.guard_lift import GuardOverrides
from reconciler.reporting import RecordingReporter
from reconciler.simulator import RunningSimulator

ROOT = Path(__file__).resolve().parents[2]
CHANGES = ROOT / "tests" / "data" / "plan" / "changes"


def plan_of(sim: RunningSimulator, fmt: str) -> tuple[int, str]:
    buffer = io.StringIO()
    code = run_plan(
        # the fixture retires a SIM: lift that guard so the plan exits 2, not 1
        PlanOptions(paths=[CHANGES], fmt=fmt, overrides=GuardOverrides(allow_retire=True)),
        connection=Connection(endpoint=sim.url, api_key=sim.api_key),
        reporter=RecordingReporter(),
        write=buffer.write,
    )
    return code, buffer.getvalue()


def test_a_100_per_60_s_server_gives_an_estimate_from_a_60_s_window(
    sim_factory: Callable[..., RunningSimulator],
) -> None:
    sim = sim_factory(sims=250, job_delay=0.05, rate_limit=100, rate_window=60.0)
    code, text = plan_of(sim, "json")
    assert code == 0
    summary = json.loads(text)["summary"]
    assert summary["rate_limit"] == 100
    assert summary["rate_window_seconds"] == 60.0
    assert summary["rate_window_source"] == "server"
    assert summary["duration_estimated_seconds"] == round(
        summary["requests_estimated"] * 60 / 100, 1
    )
    # the same in the words a reviewer reads (a new window: the simulator's is spent fast)
    fresh = sim_factory(sims=250, job_delay=0.05, rate_limit=100, rate_window=60.0)
    _, rendered = plan_of(fresh, "text")
    assert "at 100 per 60 s" in rendered
    assert "the window of 60 s is the server's (X-RateLimit-Reset)" in rendered
    assert "/h" not in rendered.split("Cost:")[1]


def test_mid_window_the_hour_is_assumed_and_said_and_the_checksum_does_not_move(
    sim_factory: Callable[..., RunningSimulator],
) -> None:
    sim = sim_factory(sims=250, job_delay=0.05)  # 5,000 an hour
    _, first = plan_of(sim, "json")  # a fresh window: the server's hour is learnt
    _, second = plan_of(sim, "json")  # a new client mid-window: the hour is assumed
    one, two = json.loads(first), json.loads(second)
    assert one["summary"]["rate_window_source"] == "server"
    assert two["summary"]["rate_window_source"] == "assumed"
    assert one["summary"]["rate_window_seconds"] == two["summary"]["rate_window_seconds"] == 3600
    assert one["checksum"] == two["checksum"]  # the same plan of the same state

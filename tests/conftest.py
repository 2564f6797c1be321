"""Shared fixtures: a real SmartHub simulator on a free loopback port, torn down after."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.simulator import RunningSimulator, SimulatorConfig, start_in_thread

# A suite started in the background of a non-interactive shell (`pytest ... &`, some CI
# runners) inherits SIGINT ignored, and so would every fleetform process a test starts and then
# interrupts: fleetform rightly leaves an ignored SIGINT alone, so those tests would wait for a
# stop that never comes. A handler (unlike "ignore") is not inherited across exec: the children
# get Ctrl+C back.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def sim_factory(tmp_path: Path) -> Iterator[object]:
    """Start simulators with any config; all are stopped at teardown."""
    started: list[RunningSimulator] = []

    def start(**overrides: object) -> RunningSimulator:
        config = SimulatorConfig(db_path=tmp_path / f"sim{len(started)}.db", **overrides)  # type: ignore[arg-type]
        sim = start_in_thread(config)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(sim_factory) -> RunningSimulator:  # type: ignore[no-untyped-def]
    """A simulator with the default seeded fleet (250 SIMs), fast batch jobs."""
    return sim_factory(sims=250, job_delay=0.05)  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test keeps fleetform's local state (live-state cache, journal, ...) in its own
    folder unless it points FLEETFORM_STATE_DIR elsewhere: a cache left by one test must never
    be read by another."""
    monkeypatch.setenv("FLEETFORM_STATE_DIR", str(tmp_path / "fleetform-state"))

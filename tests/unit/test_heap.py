"""The full reads of plan and drift run with the objects alive before them (the manifests)
frozen out of the cyclic collector, and put back afterwards."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

from reconciler.clock import FakeClock
from reconciler.commands.drift import read_drift_full
from reconciler.live.heap import frozen_heap
from reconciler.live.read import read_live
from reconciler.manifest import load_fleet
from reconciler.model import LiveSim
from reconciler.reporting import RecordingReporter
from tests.fakes import FakeSmartHub, write_fleet


def test_frozen_heap_freezes_what_is_alive_and_puts_it_back() -> None:
    kept = [{"a": [1]} for _ in range(1000)]
    assert gc.get_freeze_count() == 0
    with frozen_heap():
        assert gc.get_freeze_count() >= len(kept)
    assert gc.get_freeze_count() == 0


def test_plan_and_drift_diff_their_full_read_with_the_manifests_frozen(tmp_path: Path) -> None:
    api = FakeSmartHub.seeded(30)
    desired = load_fleet([write_fleet(tmp_path / "m", {"g": {"sims": sorted(api.sims)[:10]}})])
    frozen: list[int] = []

    def watch(sims: Iterator[LiveSim]) -> Iterator[LiveSim]:
        for sim in sims:
            frozen.append(gc.get_freeze_count())
            yield sim

    read_live(api, desired, RecordingReporter(), tap=watch)
    read_drift_full(api, desired, RecordingReporter(), clock=FakeClock(), tap=watch)
    assert len(frozen) == 60 and min(frozen) > 0
    assert gc.get_freeze_count() == 0

"""What the streaming diff keeps of a full read: the ICCIDs it saw, as the manifests' own
strings, and each changed SIM's lastModifiedTime on its `SimDiff` (drift dates by it), never a
record per SIM read."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime

from reconciler.diff import diff_fleet
from reconciler.model import DesiredFleet, DesiredSim, FleetSpec, LiveSim, SourceRef, Status

SRC = SourceRef("fleet/sims.yaml", 7, 5)
T = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_a_changed_sim_carries_the_live_last_modified_time() -> None:
    desired = DesiredFleet(
        FleetSpec("f", "acme", SRC, "report"),
        {"1": DesiredSim(iccid="1", group="g", source=SRC, rate_plan="IoT-5GB")},
        digest="sha256:x",
    )
    sim = LiveSim("1", Status.ACTIVE, "acme", "IoT-1GB", last_modified_time=T)
    (changed,) = diff_fleet(desired, [sim]).changed
    assert changed.last_modified == T


def test_the_diff_keeps_no_live_string_per_managed_sim() -> None:
    count = 50_000
    iccids = [f"89445{i:014d}" for i in range(count)]
    desired = DesiredFleet(
        FleetSpec("f", "acme", SRC, "report"),
        {i: DesiredSim(iccid=i, group="g", source=SRC, rate_plan="IoT-1GB") for i in iccids},
        digest="sha256:x",
    )

    def read() -> Iterator[LiveSim]:
        for iccid in iccids:  # a fresh string per SIM, as a decoded page gives
            yield LiveSim("".join(iccid), Status.ACTIVE, "acme", "IoT-1GB", last_modified_time=T)

    tracemalloc.start()
    try:
        diff = diff_fleet(desired, read())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert diff.unchanged == count
    # the set of ICCIDs seen (~50 B a SIM); keeping the live strings makes it ~110 B a SIM
    assert peak / count < 80, f"{peak / count:.0f} bytes a SIM"

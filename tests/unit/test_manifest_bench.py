"""The benchmark's promise, kept by the suite: 100,000 SIMs in 200 files, under 10 s and 500 MB."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_100k_sims_load_within_the_limits() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "load_manifests.py")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "loaded 100,000 SIMs" in result.stdout
    seconds = float(re.search(r"load \+ validate: ([0-9.]+) s", result.stdout).group(1))  # type: ignore[union-attr]
    peak = float(re.search(r"peak memory: +([0-9.]+) MB", result.stdout).group(1))  # type: ignore[union-attr]
    assert seconds < 10
    assert peak < 500


def test_the_bench_manifests_are_valid(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from load_manifests import write_manifests  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(ROOT / "bench"))
    from reconciler.manifest import load_manifests

    write_manifests(tmp_path, sims=1000, files=4)
    manifests = load_manifests([tmp_path])
    assert len(manifests.fleet.sims) == 1000
    assert len(manifests.groups) == 6

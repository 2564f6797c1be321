"""The scheduled drift keeps the live-state cache between runs: restored before ``fleetform
drift``, saved after it, one key per account; ``fleetform init`` writes the same workflow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from reconciler.scaffold import render_templates

ROOT = Path(__file__).resolve().parents[2]


def steps(text: str) -> list[dict[str, Any]]:
    workflow = yaml.safe_load(text)
    return list(workflow["jobs"]["drift"]["steps"])


def test_the_drift_workflow_restores_and_saves_the_cache_per_account() -> None:
    text = (ROOT / ".github" / "workflows" / "fleetform-drift.yml").read_text()
    names = [s.get("name") for s in steps(text)]
    restore = names.index("Restore the live-state cache")
    drift = names.index("Drift")
    save = names.index("Save the live-state cache")
    assert names.index("Fleet name") < restore < drift < save
    by_name = {s.get("name"): s for s in steps(text)}
    restored, saved = by_name["Restore the live-state cache"], by_name["Save the live-state cache"]
    assert restored["uses"].startswith("actions/cache/restore@")
    assert saved["uses"].startswith("actions/cache/save@")
    assert restored["with"]["path"] == saved["with"]["path"] == ".fleetform/cache"
    key = "fleetform-live-${{ steps.fleet.outputs.account }}-"
    assert restored["with"]["restore-keys"] == key
    assert restored["with"]["key"] == saved["with"]["key"] == key + "${{ github.run_id }}"
    assert "exitcode == '2'" in saved["if"]  # kept after a run that found drift too
    assert "$DRIFT_FULL" in by_name["Drift"]["run"]


def test_init_writes_the_same_drift_workflow() -> None:
    files = {str(f.path): f.text for f in render_templates(name="trackers", account="acme")}
    ours = (ROOT / ".github" / "workflows" / "fleetform-drift.yml").read_text()
    assert files[".github/workflows/fleetform-drift.yml"] == ours

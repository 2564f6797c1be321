"""Drift against the real simulator: one paged read of the account, one of the history."""

from __future__ import annotations

from pathlib import Path

from reconciler.app import Connection
from reconciler.clock import SystemClock
from reconciler.commands.apply import ApplyOptions, apply_plan
from reconciler.commands.drift import DriftOptions, drift_exit_code, read_drift_full, run_drift
from reconciler.manifest import load_fleet
from reconciler.reporting import RecordingReporter
from reconciler.simulator import RunningSimulator, giccid_for
from reconciler.smarthub.client import SmartHubClient
from tests.fakes import Admin, write_fleet

ACME = [giccid_for(i) for i in range(40) if i % 10 != 9]
GROUPS = {"g": {"state": "active", "customFields": {"custom4": "x"}, "sims": ACME[:4]}}


def test_drift_after_a_change_behind_our_back(sim: RunningSimulator, tmp_path: Path) -> None:
    manifests = write_fleet(tmp_path / "m", GROUPS, unmanaged="report")
    desired = load_fleet([manifests])
    with SmartHubClient(sim.url, sim.api_key) as api:
        apply_plan(
            api,
            ApplyOptions(paths=(manifests,), auto_approve=True, poll_initial=0.05),
            RecordingReporter(),
            state_dir=tmp_path / "state",
            clock=SystemClock(),
        )
        clean = read_drift_full(api, desired, RecordingReporter(), clock=SystemClock())
        assert drift_exit_code(clean) == 0 and clean.sims == ()
        assert len(clean.unmanaged) == 250 - 4  # reported, not drift
        assert clean.requests_spent == 3  # 250 SIMs: three pages, no history needed

        admin = Admin(sim)
        try:
            admin.patch_sim(ACME[1], status="DEACTIVATED")
            admin.patch_sim(ACME[2], custom4="changed")
        finally:
            admin.close()
        report = read_drift_full(api, desired, RecordingReporter(), clock=SystemClock())
    assert drift_exit_code(report) == 2
    assert [s.iccid for s in report.sims] == [ACME[1], ACME[2]]
    (state,) = report.sims[0].fields
    assert (state.field, state.desired, state.live) == ("state", "active", "suspended")
    assert state.last_changed is not None  # from the change history
    (custom,) = report.sims[1].fields
    assert (custom.field, custom.live, custom.last_changed) == (
        "customFields.custom4",
        "changed",
        None,
    )
    assert report.sims[1].last_modified is not None
    assert report.requests_spent == 4  # three pages of SIMs + one page of history


def test_no_drift_counts_the_managed_sims_not_the_account(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    groups = {"g": {"customFields": {"custom4": None}, "sims": ACME[:4]}}
    manifests = write_fleet(tmp_path / "m", groups, unmanaged="ignore")
    for fmt in ("text", "markdown", "github"):
        out: list[str] = []
        code = run_drift(
            DriftOptions([manifests], fmt),
            connection=Connection(endpoint=sim.url, api_key=sim.api_key),
            reporter=RecordingReporter(),
            write=out.append,
            clock=SystemClock(),
        )
        assert code == 0, out
        text = "".join(out)
        assert "No drift: the 4 managed SIMs of account 'acme' match git." in text, text
        assert "250" not in text
        assert "\n\n\n" not in text

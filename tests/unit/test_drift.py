"""Drift: grouping by SIM and field, dating from the change history, the drift rule, renderers."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from reconciler.drift import build_drift, last_changes
from reconciler.model import (
    ChangeLogEntry,
    DesiredFleet,
    DesiredSim,
    FieldChange,
    FleetDiff,
    FleetSpec,
    Problem,
    SimDiff,
    SourceRef,
    Status,
)
from reconciler.render.drift_json import render_drift_json
from reconciler.render.drift_markdown import render_drift_markdown
from reconciler.render.drift_text import render_drift_text

A, B = "8944500000000000006", "8944500000000000014"
T1 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
T2 = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def desired(unmanaged: str = "report") -> DesiredFleet:
    src = SourceRef("fleet.yaml", 7, 3)
    return DesiredFleet(
        fleet=FleetSpec("f", "acme", SourceRef("fleet.yaml", 1), unmanaged=unmanaged),
        sims={
            A: DesiredSim(A, "g", src, field_sources={"state": src}),
            B: DesiredSim(B, "g", src),
        },
        digest="d",
    )


def diff(last_modified: datetime | None = None, **overrides: object) -> FleetDiff:
    base = {
        "changed": (
            SimDiff(
                A,
                "g",
                Status.SUSPENDED,
                (
                    FieldChange("customFields.custom1", "moved", "berlin"),
                    FieldChange("state", "suspended", "active"),
                ),
                last_modified,
            ),
        ),
        "unchanged": 1,
        "unmanaged": ("8944500000000000022",),
        "missing": (),
        "problems": (),
    }
    base.update(overrides)
    return FleetDiff(**base)  # type: ignore[arg-type]


LOGS = [
    ChangeLogEntry(A, "status", "active", "suspended", T1),
    ChangeLogEntry(A, "status", "suspended", "active", T1.replace(day=2)),
    ChangeLogEntry(A, "status", "active", "suspended", T2),
    ChangeLogEntry(B, "status", "active", "suspended", T2),  # not drifted: ignored
]


def test_fields_are_dated_by_the_latest_change_of_their_kind() -> None:
    report = build_drift(
        desired(), diff(last_modified=T2), endpoint="e", checked_at=NOW, change_logs=LOGS
    )
    (sim,) = report.sims
    by_field = {f.field: f for f in sim.fields}
    assert by_field["state"].last_changed == T2
    assert (by_field["state"].desired, by_field["state"].live) == ("active", "suspended")
    assert by_field["state"].source == SourceRef("fleet.yaml", 7, 3)
    # the history does not cover custom fields: no date, but the SIM's lastModifiedTime
    assert by_field["customFields.custom1"].last_changed is None
    assert sim.last_modified == T2
    assert report.has_drift and report.sims_read == 3


def test_last_changes_keeps_only_the_sims_asked_for() -> None:
    assert last_changes(LOGS, [A]) == {(A, "status"): T2}


def test_unmanaged_sims_are_reported_but_are_not_drift() -> None:
    clean = diff(changed=(), unchanged=2)
    report = build_drift(desired(), clean, endpoint="e", checked_at=NOW)
    assert not report.has_drift and report.unmanaged == ("8944500000000000022",)
    ignored = build_drift(desired("ignore"), clean, endpoint="e", checked_at=NOW)
    assert ignored.unmanaged == ()
    assert "No drift" in render_drift_text(report)


def test_missing_sims_and_retired_problems_are_drift() -> None:
    missing = build_drift(desired(), diff(changed=(), missing=(B,)), endpoint="e", checked_at=NOW)
    assert missing.has_drift
    retired = diff(changed=(), problems=(Problem("SIM is retired", iccid=B),))
    assert build_drift(desired(), retired, endpoint="e", checked_at=NOW).has_drift


def test_renderers_name_the_sim_the_field_and_when() -> None:
    report = build_drift(desired(), diff(), endpoint="e", checked_at=NOW, change_logs=LOGS)
    text = render_drift_text(report)
    assert f"{A} (group g, suspended)" in text
    assert "state: git active, live suspended  changed 2026-11-20T08:30:00Z" in text
    assert "customFields.custom1: git berlin, live moved" in text
    assert "Drift: 1 SIM differs from git in 2 fields." in text  # singular right
    markdown = render_drift_markdown(report)
    assert f"| `{A}` | g | `state` | active | suspended | 2026-11-20T08:30:00Z |" in markdown
    data = json.loads(render_drift_json(report))
    assert data["drift"] is True
    assert data["sims"][0]["fields"][1] == {
        "field": "state",
        "desired": "active",
        "live": "suspended",
        "last_changed": "2026-11-20T08:30:00Z",
        "source": "fleet.yaml:7:3",
    }


HOSTILE = "a|b</details><!-- `y` @everyone @octocat & [x](y)"


def _hostile_report(sims: int, value: str = HOSTILE) -> str:
    changed = tuple(
        SimDiff(
            f"89445000000{i:08d}",
            "g|<b>",
            Status.ACTIVE,
            (FieldChange("customFields.custom1", value, "berlin"),),
        )
        for i in range(sims)
    )
    report = build_drift(
        desired(), diff(changed=changed, missing=(B,) * 3), endpoint="e", checked_at=NOW
    )
    return render_drift_markdown(report)


def test_drift_markdown_escapes_live_values() -> None:
    markdown = _hostile_report(1)
    for raw in ("</details>", "<!--", "<b>", "@everyone", "@octocat", "`y`", "a|b"):
        assert raw not in markdown, raw
    row = next(line for line in markdown.splitlines() if "custom1" in line)
    assert row.count(" | ") == 5  # six cells: the pipe in the value did not split the row
    assert "a\\|b&lt;/details&gt;&lt;!-- &#96;y&#96; @\u200beveryone @\u200boctocat &amp;" in row


def test_drift_markdown_of_many_sims_stays_under_the_issue_limit_and_says_what_it_folded() -> None:
    markdown = _hostile_report(5000, "x" * 255)
    assert len(markdown) < 65_000
    assert "… and 4,900 more drifted fields; 4,900 SIMs not shown" in markdown
    assert "Shortened to stay under the issue size limit" in markdown
    assert "**Drift: 5,000 SIMs differ from git in 5,000 fields" in markdown  # the headline stays
    small = _hostile_report(2)
    assert "Shortened" not in small and "more drifted fields" not in small


def test_no_drift_counts_managed_sims_and_the_text_has_single_blank_lines() -> None:
    clean = diff(changed=(), unchanged=2)
    reported = build_drift(desired(), clean, endpoint="e", checked_at=NOW)
    text = render_drift_text(reported)
    assert "No drift: the 2 managed SIMs of account 'acme' match git." in text
    assert "\n\n\n" not in text
    ignored = build_drift(desired("ignore"), clean, endpoint="e", checked_at=NOW)
    text = render_drift_text(ignored, managed=2)
    assert text == (
        "Drift of fleet 'f' (account 'acme' at e), checked 2026-11-25T12:00:00Z\n"
        "\n"
        "No drift: the 2 managed SIMs of account 'acme' match git.\n"
    )
    assert "No drift: the 2 managed SIMs" in render_drift_markdown(ignored, managed=2)


def test_no_drift_of_one_sim_reads_well() -> None:
    clean = diff(changed=(), unchanged=1, unmanaged=())
    report = build_drift(desired(), clean, endpoint="e", checked_at=NOW)
    assert "No drift: the 1 managed SIM of account 'acme' matches git." in render_drift_text(report)


def test_a_field_the_history_does_not_date_gets_no_date_in_any_renderer() -> None:
    # custom fields are not in the change history: the SIM's lastModifiedTime (here the time
    # fleetform suspended it) is not the field's change date, and is shown only as the SIM's
    suspended_at = datetime(2026, 11, 24, 9, 15, tzinfo=UTC)
    report = build_drift(
        desired(),
        diff(last_modified=suspended_at),
        endpoint="e",
        checked_at=NOW,
        change_logs=LOGS,
    )
    data = json.loads(render_drift_json(report))
    assert data["sims"][0]["fields"][0]["last_changed"] is None
    markdown = render_drift_markdown(report)
    row = next(line for line in markdown.splitlines() if "custom1" in line)
    assert row.endswith("| unknown (SIM last modified 2026-11-24T09:15:00Z) |")
    state = next(line for line in markdown.splitlines() if "`state`" in line)
    assert state.endswith("| 2026-11-20T08:30:00Z |")
    text = render_drift_text(report)
    assert "customFields.custom1: git berlin, live moved\n" in text
    assert f"{A} (group g, suspended, SIM last modified 2026-11-24T09:15:00Z)" in text

"""The real check (re-read one SIM, diff it against git) and the drift sink, over the
in-memory SmartHub of tests/fakes.py and manifests on disk."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from reconciler.clock import FakeClock
from reconciler.manifest import load_fleet
from reconciler.model import ApnStatus, DesiredFleet, Status
from reconciler.reporting import RecordingReporter
from reconciler.webhook.check import DriftRecord, ManifestCheck
from reconciler.webhook.metrics import Metrics
from reconciler.webhook.run import FleetSource
from reconciler.webhook.sink import DriftSink
from tests.fakes import FakeSmartHub, giccid

MANAGED, SUSPENDED_ONE, UNMANAGED = giccid(1), giccid(2), giccid(3)

FLEET = """\
apiVersion: fleetform/v1
kind: Fleet
metadata: {{name: acme-trackers}}
spec:
  account: acme
  defaults: {{state: active, ratePlan: IoT-1GB}}
  unmanaged: {unmanaged}
---
apiVersion: fleetform/v1
kind: SimGroup
metadata: {{name: berlin}}
spec:
  apns: {{iot.acme: enabled}}
  sims:
    - "{managed}"
    - {{iccid: "{suspended}", state: suspended}}
    - "{missing}"
"""


def write_fleet(directory: Path, unmanaged: str = "report") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "fleet.yaml"
    path.write_text(
        FLEET.format(
            unmanaged=unmanaged, managed=MANAGED, suspended=SUSPENDED_ONE, missing=giccid(900)
        )
    )
    return path


@pytest.fixture
def api() -> FakeSmartHub:
    fake = FakeSmartHub.seeded(5)
    fake.change(SUSPENDED_ONE, status=Status.SUSPENDED)
    return fake


def check_for(api: FakeSmartHub, fleet: DesiredFleet) -> ManifestCheck:
    return ManifestCheck(api=api, fleet=lambda: fleet, clock=FakeClock(start=1_800_000_000))


def test_a_sim_in_line_with_git_is_no_drift(api: FakeSmartHub, tmp_path: Path) -> None:
    check = check_for(api, load_fleet([write_fleet(tmp_path)]))
    assert check(MANAGED) is None
    assert check(SUSPENDED_ONE) is None
    assert api.calls_named("get_sim") == [MANAGED, SUSPENDED_ONE]


def test_a_changed_sim_is_drift_with_git_and_live_values(api: FakeSmartHub, tmp_path: Path) -> None:
    api.change(MANAGED, status=Status.SUSPENDED, apns={"iot.acme": ApnStatus.DISABLED})
    record = check_for(api, load_fleet([write_fleet(tmp_path)]))(MANAGED)
    assert record is not None
    assert (record.kind, record.group, record.status) == ("drift", "berlin", "suspended")
    assert [(f.field, f.desired, f.live) for f in record.fields] == [
        ("state", "active", "suspended"),
        ("apns[iot.acme]", "enabled", "disabled"),
    ]
    assert record.fields[0].source is not None
    assert record.detected_at == 1_800_000_000
    line = record.human_line()
    assert line.startswith(f"drift {MANAGED} (group berlin): state: git active, live suspended")


def test_unmanaged_sims_are_read_and_reported_only_when_the_fleet_says_so(
    api: FakeSmartHub, tmp_path: Path
) -> None:
    record = check_for(api, load_fleet([write_fleet(tmp_path / "a")]))(UNMANAGED)
    assert record is not None
    assert record.kind == "unmanaged"
    ignoring = check_for(api, load_fleet([write_fleet(tmp_path / "b", unmanaged="ignore")]))
    before = api.requests
    assert ignoring(UNMANAGED) is None
    assert api.requests == before  # no request spent on a SIM git does not care about


def test_unmanaged_sims_of_another_account_are_ignored(tmp_path: Path) -> None:
    api = FakeSmartHub.seeded(5, account="globex")
    assert check_for(api, load_fleet([write_fleet(tmp_path)]))(UNMANAGED) is None


def test_a_declared_sim_the_api_does_not_know_is_missing(api: FakeSmartHub, tmp_path: Path) -> None:
    record = check_for(api, load_fleet([write_fleet(tmp_path)]))(giccid(900))
    assert record is not None
    assert record.kind == "missing"


def test_a_retired_sim_git_wants_active_is_a_problem(api: FakeSmartHub, tmp_path: Path) -> None:
    api.change(MANAGED, status=Status.RETIRED)
    record = check_for(api, load_fleet([write_fleet(tmp_path)]))(MANAGED)
    assert record is not None
    assert record.kind == "problem"
    assert "retired" in (record.message or "")


def test_the_sink_appends_json_prints_a_line_and_feeds_the_hook(
    api: FakeSmartHub, tmp_path: Path
) -> None:
    api.change(MANAGED, status=Status.SUSPENDED)
    record = check_for(api, load_fleet([write_fleet(tmp_path)]))(MANAGED)
    assert record is not None
    lines: list[str] = []
    got = tmp_path / "hook-input.json"
    hook = f"{sys.executable} -c \"import sys; open({str(got)!r}, 'w').write(sys.stdin.read())\""
    sink = DriftSink(
        tmp_path / "state" / "drift.jsonl",
        emit=lines.append,
        reporter=RecordingReporter(),
        metrics=Metrics(),
        hook=hook,
    )
    sink(record)
    sink(record)
    stored = [json.loads(x) for x in (tmp_path / "state" / "drift.jsonl").read_text().splitlines()]
    assert len(stored) == 2
    assert stored[0]["iccid"] == MANAGED
    assert stored[0]["fields"][0] == {
        "field": "state",
        "desired": "active",
        "live": "suspended",
        "source": stored[0]["fields"][0]["source"],
    }
    assert stored[0]["detectedAt"] == "2027-01-15T08:00:00.000000Z"
    assert lines == [record.human_line()] * 2
    assert json.loads(got.read_text())["iccid"] == MANAGED


@pytest.mark.parametrize(
    ("hook", "warning"),
    [("exit 3", "exited 3"), ("sleep 5", "timed out")],
)
def test_hook_failures_are_logged_and_counted(tmp_path: Path, hook: str, warning: str) -> None:
    reporter = RecordingReporter()
    metrics = Metrics()
    sink = DriftSink(
        tmp_path / "drift.jsonl",
        emit=lambda line: None,
        reporter=reporter,
        metrics=metrics,
        hook=hook,
        hook_timeout_seconds=0.2,
    )
    sink(DriftRecord(iccid=MANAGED, kind="drift", detected_at=0, fleet="f", account="acme"))
    assert any(warning in w for w in reporter.warnings)
    assert metrics.snapshot().hook_failures == 1
    assert (tmp_path / "drift.jsonl").exists()


def test_fleet_source_reloads_changed_manifests_and_keeps_the_last_good(tmp_path: Path) -> None:
    path = write_fleet(tmp_path)
    ticks = [0.0]
    reporter = RecordingReporter()
    source = FleetSource([tmp_path], reporter, interval=1.0, monotonic=lambda: ticks[0])
    assert MANAGED in source().sims
    path.write_text(path.read_text().replace(f'    - "{MANAGED}"\n', ""))
    assert MANAGED in source().sims  # not re-checked before the interval
    ticks[0] = 1.0
    assert MANAGED not in source().sims
    assert any("reloaded" in m for m in reporter.infos)
    path.write_text("kind: [broken")
    ticks[0] = 2.0
    assert SUSPENDED_ONE in source().sims
    assert any("last good" in w for w in reporter.warnings)

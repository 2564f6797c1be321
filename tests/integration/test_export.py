"""``fleetform export`` against the simulator on a socket: a plan right after shows no change."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from reconciler.app import Connection, open_api
from reconciler.commands.export import ExportOptions, export_manifests
from reconciler.commands.plan import PlanOptions, run_plan
from reconciler.errors import ConfigError
from reconciler.export import GROUP_KEYS
from reconciler.manifest import load_fleet
from reconciler.model import Status
from reconciler.reporting import RecordingReporter
from reconciler.simulator import RunningSimulator


def _connection(sim: RunningSimulator, key: str | None = None) -> Connection:
    return Connection(endpoint=sim.url, api_key=key or sim.api_key)


def _plan(out: Path, connection: Connection) -> tuple[int, str]:
    buffer = io.StringIO()
    code = run_plan(
        PlanOptions(paths=[out], fmt="json", detailed_exitcode=True),
        connection=connection,
        reporter=RecordingReporter(),
        write=buffer.write,
    )
    return code, buffer.getvalue()


@pytest.mark.parametrize("group_by", GROUP_KEYS)
def test_a_plan_right_after_export_shows_no_change(
    sim: RunningSimulator, tmp_path: Path, group_by: str
) -> None:
    out = tmp_path / "manifests"
    reporter = RecordingReporter()
    result = export_manifests(ExportOptions(out=out, group_by=group_by), _connection(sim), reporter)
    assert result.account == "acme"
    assert result.sims == 250
    assert result.requests == 1 + 3  # GET /enterprise + 250 SIMs at 100 a page
    desired = load_fleet([out])
    assert len(desired.sims) == 250
    assert desired.fleet.account == "acme" and desired.fleet.unmanaged == "report"
    code, rendered = _plan(out, _connection(sim))
    assert code == 0, rendered
    summary = json.loads(rendered)["summary"]
    assert (summary["to_change"], summary["unmanaged"], summary["missing"]) == (0, 0, 0)
    assert summary["unchanged"] == 250


def test_the_export_sees_a_change_made_after_it(sim: RunningSimulator, tmp_path: Path) -> None:
    """The no-change verdict above is not vacuous: a SIM moved after the export is a change."""
    out = tmp_path / "m"
    export_manifests(ExportOptions(out=out), _connection(sim), RecordingReporter())
    with open_api(_connection(sim), RecordingReporter()) as api:
        active = next(api.iter_sims(account="acme", status=Status.ACTIVE))
        api.suspend(active.iccid)
    code, rendered = _plan(out, _connection(sim))
    assert code == 2
    assert active.iccid in rendered


def test_export_of_the_other_enterprise(sim: RunningSimulator, tmp_path: Path) -> None:
    out = tmp_path / "globex"
    result = export_manifests(
        ExportOptions(out=out, account="globex", name="globex-fleet"),
        _connection(sim, sim.other_api_key),
        RecordingReporter(),
    )
    assert result.account == "globex" and result.sims == 27
    assert "name: globex-fleet" in (out / "fleet.yaml").read_text()
    assert _plan(out, _connection(sim, sim.other_api_key))[0] == 0


def test_export_refuses_to_overwrite_before_reading(sim: RunningSimulator, tmp_path: Path) -> None:
    out = tmp_path / "m"
    export_manifests(ExportOptions(out=out), _connection(sim), RecordingReporter())
    before = (out / "fleet.yaml").read_text()
    with pytest.raises(ConfigError, match=r"refusing to overwrite existing files \(use --force\)"):
        export_manifests(ExportOptions(out=out), _connection(sim), RecordingReporter())
    assert (out / "fleet.yaml").read_text() == before

    reporter = RecordingReporter()
    export_manifests(
        ExportOptions(out=out, group_by="ratePlan", force=True), _connection(sim), reporter
    )
    # the status-grouped files of the first export are still there: the export says so
    assert any("also holds" in w and "status-active.yaml" in w for w in reporter.warnings)


def test_export_over_an_init_keeps_the_fleets_name_and_guards(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    from reconciler.scaffold import scaffold

    scaffold(tmp_path, name="acme-trackers", account="acme")
    out = tmp_path / "manifests"
    reporter = RecordingReporter()
    export_manifests(ExportOptions(out=out, force=True), _connection(sim), reporter)
    fleet = load_fleet([out]).fleet
    assert (fleet.name, fleet.account) == ("acme-trackers", "acme")
    assert (fleet.max_changes, fleet.allow_retire) == (500, False)  # init's, not export's 10%
    assert any("keeping the name 'acme-trackers' and guards" in i for i in reporter.infos)
    assert _plan(out, _connection(sim))[0] == 0

    export_manifests(ExportOptions(out=out, force=True, name="renamed"), _connection(sim), reporter)
    fleet = load_fleet([out]).fleet
    assert (fleet.name, fleet.max_changes) == ("renamed", 500)


def test_export_writes_the_schema_its_files_point_at(sim: RunningSimulator, tmp_path: Path) -> None:
    from reconciler.manifest import schema_document

    out = tmp_path / "m"
    result = export_manifests(ExportOptions(out=out), _connection(sim), RecordingReporter())
    assert out / "fleet.schema.json" in result.files
    assert json.loads((out / "fleet.schema.json").read_text()) == schema_document()
    for path in out.glob("*.yaml"):
        first = path.read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=fleet.schema.json"
        assert (path.parent / first.split("=", 1)[1]).is_file()  # resolves beside the file

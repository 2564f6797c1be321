"""Export and retired SIMs (issue 15, point 3), against the simulator on a socket.

Retired SIMs are exported in groups of their own that declare only their state; a retired SIM
takes only ``state`` from its group, so an ordinary edit of a group's ``ratePlan`` plans as a
change, not as one error per retired SIM; and a retired SIM the manifest wants different is
reported at the SIM's own line with the fix.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import yaml

from reconciler.app import Connection, open_api
from reconciler.commands.export import ExportOptions, export_manifests
from reconciler.commands.plan import PlanOptions, run_plan
from reconciler.errors import PlanError
from reconciler.guard_lift import GuardOverrides
from reconciler.model import Status
from reconciler.reporting import RecordingReporter
from reconciler.simulator import RunningSimulator
from tests.fakes import write_fleet


def _connection(sim: RunningSimulator) -> Connection:
    return Connection(endpoint=sim.url, api_key=sim.api_key)


def _plan(paths: list[Path], sim: RunningSimulator) -> tuple[int | str, dict[str, object]]:
    """The exit code (or the PlanError's text) and the JSON plan written before it."""
    buffer = io.StringIO()
    try:
        code: int | str = run_plan(
            # the group edit changes more SIMs than the exported maxChanges: lift it here, the
            # test is about problems, not guards
            PlanOptions(
                paths=paths,
                fmt="json",
                detailed_exitcode=True,
                overrides=GuardOverrides(max_changes=100_000),
            ),
            connection=_connection(sim),
            reporter=RecordingReporter(),
            write=buffer.write,
        )
    except PlanError as exc:
        code = str(exc)
    return code, json.loads(buffer.getvalue())


def _retired(sim: RunningSimulator) -> list[str]:
    with open_api(_connection(sim), RecordingReporter()) as api:
        return sorted(s.iccid for s in api.iter_sims(account="acme", status=Status.RETIRED))


def test_exported_retired_sims_sit_apart_and_a_group_edit_plans_cleanly(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    retired = _retired(sim)
    assert retired, "the seeded fleet has retired SIMs"
    out = tmp_path / "m"
    export_manifests(
        ExportOptions(out=out, group_by="ratePlan"), _connection(sim), RecordingReporter()
    )
    edited = 0
    for path in sorted(out.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        if doc["kind"] != "SimGroup":
            continue
        spec = doc["spec"]
        iccids = {e if isinstance(e, str) else e["iccid"] for e in spec["sims"]}
        if iccids & set(retired):
            # a group of retired SIMs only, declaring their state and nothing else
            assert iccids <= set(retired), path.name
            assert set(spec) == {"state", "sims"} and spec["state"] == "retired", path.name
            assert all(isinstance(e, str) for e in spec["sims"]), path.name
        elif spec.get("ratePlan") == "IoT-5GB":
            # the ordinary edit that tripped over retired SIMs before
            text = path.read_text(encoding="utf-8").replace(
                "  ratePlan: IoT-5GB", "  ratePlan: IoT-1GB", 1
            )
            path.write_text(text, encoding="utf-8")
            edited += 1
    assert edited
    code, plan = _plan([out], sim)
    assert plan["problems"] == [] and code == 2


def test_a_retired_sim_takes_only_state_from_its_group_and_errors_point_at_its_line(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    retired = _retired(sim)
    manifests = write_fleet(
        tmp_path / "m",
        {
            # a group of retired SIMs with a rate plan: not applied to them
            "old": {"state": "retired", "ratePlan": "IoT-1GB", "sims": retired[:-1]},
            # one retired outside fleetform, still declared active in its group
            "live": {"state": "active", "sims": retired[-1:]},
        },
    )
    code, plan = _plan([manifests], sim)
    # the group's ratePlan is not applied to the retired SIMs: no problem for any of them
    assert plan["problems"] == []
    # the one retired outside fleetform is held back (the rest stays appliable)
    (problem,) = plan["held_back"]  # type: ignore[misc]
    assert code == 2
    lines = (manifests / "fleet.yaml").read_text(encoding="utf-8").splitlines()
    # the SIM's own line in the group, not the group's `state: active`
    assert retired[-1] in lines[problem["source"]["line"] - 1]
    assert "was retired outside fleetform" in problem["message"]
    assert "state: retired" in problem["message"] and "fix:" in problem["message"]

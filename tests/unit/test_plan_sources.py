"""Why a plan touches a field (issue 15, point 9): each change names the manifest line that
declared its value, so an APN reset to the Fleet's default points at the defaults line."""

from __future__ import annotations

from pathlib import Path

from reconciler.diff import diff_fleet
from reconciler.manifest import load_fleet
from reconciler.model import ApnStatus, LiveSim, RatePlan, RatePlanType, Status
from reconciler.plan_sources import attach_sources
from reconciler.planfile import changes_digest, plan_from_json, plan_to_json
from reconciler.planner.make import make_plan
from reconciler.render import render_plan
from reconciler.render.plan_markdown import render_plan_markdown
from tests.fakes import giccid

FLEET = """apiVersion: fleetform/v1
kind: Fleet
metadata: {name: acme}
spec:
  account: acme
  defaults:
    apns: {iot.acme: enabled}
---
apiVersion: fleetform/v1
kind: SimGroup
metadata: {name: berlin}
spec:
  ratePlan: IoT-5GB
  sims:
    - "%s"
"""


def test_each_change_names_the_line_that_declared_its_value(tmp_path: Path) -> None:
    manifest = tmp_path / "fleet.yaml"
    manifest.write_text(FLEET % giccid(1), encoding="utf-8")
    desired = load_fleet([manifest])
    live = LiveSim(
        iccid=giccid(1),
        status=Status.ACTIVE,
        account="acme",
        rate_plan="IoT-1GB",
        apns={"iot.acme": ApnStatus.DISABLED},
    )
    plan = make_plan(
        desired,
        diff_fleet(desired, [live]),
        (RatePlan("IoT-1GB", RatePlanType.BASIC), RatePlan("IoT-5GB", RatePlanType.BASIC)),
        endpoint="http://sim/v1",
        account="acme",
        requests_read=2,
        rate_budget=None,
        created_at="2026-12-04T05:00:00Z",
    )
    explained = attach_sources(plan, desired)
    text = render_plan(explained, "text", width=200)
    assert f"apns[iot.acme]: disabled → enabled (from {manifest}:7:" in text  # the defaults line
    assert f"ratePlan: IoT-1GB → IoT-5GB (from {manifest}:13:" in text  # the group's line
    assert "fleet.yaml:7:" in render_plan_markdown(explained)  # (escaped markdown)
    again = plan_from_json(plan_to_json(explained))  # kept in the plan file, checksum holds
    assert again.steps == explained.steps
    assert changes_digest(explained) == changes_digest(plan)  # not part of what apply does

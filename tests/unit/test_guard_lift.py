"""Guards in CI (issue 15, points 4 and 6): a guard lifted when the plan is made is shown in
the plan and kept in its file; the Fleet's ``guards.massDisable`` lifts the mass-disable guard
in a reviewed manifest; the changes digest pins apply to the reviewed changes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reconciler.errors import UnsafePlanError
from reconciler.guard_lift import GuardOverrides, blocking_reasons, lift_guards
from reconciler.manifest import load_fleet
from reconciler.model import DesiredState, PlanSummary
from reconciler.planfile import changes_digest, plan_from_json, plan_to_json
from reconciler.planner.guards import raise_if_unsafe
from reconciler.render.github import plan_annotations
from reconciler.render.plan_markdown import render_plan_markdown
from reconciler.render.plan_text import render_plan_text
from tests.unit.test_planner import live, plan_of, want


def _mass_suspend(**fleet_kw: object):  # type: ignore[no-untyped-def]
    wants = [want(i, state=DesiredState.SUSPENDED) for i in range(15)] + [
        want(i) for i in range(15, 20)
    ]
    return plan_of(wants, [live(i) for i in range(20)], max_changes_percent=100.0, **fleet_kw)


def test_a_lifted_guard_is_shown_in_every_rendering_and_kept_in_the_plan_file() -> None:
    plan = _mass_suspend()
    assert blocking_reasons(plan)[0].startswith("massDisable: 15 of 20 managed SIMs (75%)")
    note = "pull-request label fleetform:allow-mass-disable"
    lifted = lift_guards(plan, GuardOverrides(force=True, note=note))
    assert blocking_reasons(lifted) == []
    (guard,) = [g for g in lifted.guards if g.name == "massDisable"]
    assert guard.lifted_by == f"--force ({note})" and not guard.blocking
    md = render_plan_markdown(lifted)
    assert "#### 🔓 Guards lifted for this plan (review the override)" in md
    assert f"lifted by `--force ({note})`" in md
    assert "Guards that stop apply" not in md
    assert f"lifted by --force ({note})" in render_plan_text(lifted)
    notices = [a for a in plan_annotations(lifted) if a.title == "guard massDisable lifted"]
    assert notices and notices[0].level == "notice"
    again = plan_from_json(plan_to_json(lifted))  # the checksum holds, the lift is kept
    assert again.guards == lifted.guards
    raise_if_unsafe(again)  # apply of the reviewed plan file needs no flag again
    with pytest.raises(UnsafePlanError, match="massDisable"):
        raise_if_unsafe(plan)


def test_max_changes_given_to_plan_replaces_the_limit_both_ways() -> None:
    plan = plan_of(
        [want(i, custom_fields={"custom1": "x"}) for i in range(12)],
        [live(i) for i in range(12)],
        max_changes=5,
    )
    assert blocking_reasons(plan)
    assert blocking_reasons(lift_guards(plan, GuardOverrides(max_changes=12))) == []
    tighter = lift_guards(
        plan_of([want(1, custom_fields={"custom1": "x"})], [live(1)]), GuardOverrides(max_changes=0)
    )
    assert blocking_reasons(tighter) == [
        "maxChanges: 1 SIM changes, more than --max-changes 0 (lift with --max-changes or a "
        "higher guards.maxChanges in the Fleet)"
    ]


def test_the_fleets_mass_disable_share_lifts_or_tightens_the_guard() -> None:
    allowed = _mass_suspend(mass_disable_percent=80.0)
    (guard,) = [g for g in allowed.guards if g.name == "massDisable"]
    assert not guard.blocking and "(massDisable in the Fleet allows 80%)" in guard.message
    strict = plan_of(
        [want(i, state=DesiredState.SUSPENDED) for i in range(3)] + [want(i) for i in range(3, 20)],
        [live(i) for i in range(20)],
        mass_disable_percent=10.0,
    )
    (guard,) = [g for g in strict.guards if g.name == "massDisable"]
    assert guard.blocking and "more than 10% of the fleet" in guard.message


def test_mass_disable_is_read_from_the_manifest(tmp_path) -> None:  # type: ignore[no-untyped-def]
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(
        "apiVersion: fleetform/v1\nkind: Fleet\nmetadata: {name: f}\n"
        'spec: {account: acme, guards: {massDisable: "90%"}}\n',
        encoding="utf-8",
    )
    assert load_fleet([fleet]).fleet.mass_disable_percent == 90.0


def test_the_changes_digest_ignores_when_and_how_the_plan_was_read() -> None:
    plan = _mass_suspend()
    noisy = replace(
        plan,
        created_at="2030-01-01T00:00:00Z",
        endpoint="http://elsewhere/v1",
        summary=replace(plan.summary, requests_read=999, duration_estimated_seconds=1.0),
        warnings=("a warning",),
    )
    assert isinstance(noisy.summary, PlanSummary)
    assert changes_digest(noisy) == changes_digest(plan)
    assert changes_digest(lift_guards(plan, GuardOverrides(force=True))) == changes_digest(plan)
    other = _mass_suspend(max_changes=3)  # same changes, other guards
    assert changes_digest(other) == changes_digest(plan)
    fewer = plan_of(
        [want(i, state=DesiredState.SUSPENDED) for i in range(14)], [live(i) for i in range(20)]
    )
    assert changes_digest(fewer) != changes_digest(plan)
    assert '"changes_digest": "' + changes_digest(plan) + '"' in plan_to_json(plan)

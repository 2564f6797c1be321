"""The keyed fleet diff: managed fields only, one streaming pass, problems for retired SIMs."""

from __future__ import annotations

from collections.abc import Iterator

from reconciler.diff import diff_fleet, sim_changes
from reconciler.model import (
    ApnStatus,
    DesiredFleet,
    DesiredSim,
    DesiredState,
    FieldChange,
    FleetSpec,
    LiveSim,
    SourceRef,
    Status,
)

SRC = SourceRef("fleet/sims.yaml", 7, 5)


def fleet(*sims: DesiredSim, account: str = "acme", unmanaged: str = "report") -> DesiredFleet:
    spec = FleetSpec("acme-trackers", account, SourceRef("fleet/fleet.yaml", 1), unmanaged)
    return DesiredFleet(spec, {s.iccid: s for s in sims}, digest="sha256:x")


def want(iccid: str, **kw: object) -> DesiredSim:
    return DesiredSim(iccid=iccid, group="g", source=SRC, **kw)  # type: ignore[arg-type]


def live(iccid: str, status: Status = Status.ACTIVE, **kw: object) -> LiveSim:
    kw.setdefault("account", "acme")
    kw.setdefault("rate_plan", "IoT-1GB")
    return LiveSim(iccid=iccid, status=status, **kw)  # type: ignore[arg-type]


def test_unmanaged_fields_are_never_compared() -> None:
    sim = live(
        "1",
        rate_plan="IoT-5GB",
        custom_fields={"custom1": "x", "custom2": "y"},
        apns={"a": ApnStatus.DISABLED},
        supplementary_plans=("EU",),
    )
    assert sim_changes(want("1"), sim) == ()
    assert sim_changes(want("1", custom_fields={"custom1": "x"}), sim) == ()


def test_changes_come_in_field_path_order_with_before_and_after() -> None:
    desired = want(
        "1",
        state=DesiredState.SUSPENDED,
        rate_plan="IoT-5GB",
        supplementary_plans=("US", "EU"),
        apns={"z.apn": ApnStatus.ENABLED, "a.apn": ApnStatus.DISABLED},
        custom_fields={"custom2": None, "custom1": "berlin"},
    )
    sim = live("1", supplementary_plans=("US",), custom_fields={"custom2": "old"})
    assert sim_changes(desired, sim) == (
        FieldChange("state", "active", "suspended"),
        FieldChange("ratePlan", "IoT-1GB", "IoT-5GB"),
        FieldChange("supplementaryPlans[EU]", None, "subscribed"),
        FieldChange("apns[a.apn]", None, "disabled"),
        FieldChange("apns[z.apn]", None, "enabled"),
        FieldChange("customFields.custom1", None, "berlin"),
        FieldChange("customFields.custom2", "old", None),
    )


def test_empty_custom_field_equals_null() -> None:
    assert (
        sim_changes(
            want("1", custom_fields={"custom1": None}), live("1", custom_fields={"custom1": ""})
        )
        == ()
    )


def test_fleet_diff_is_keyed_whatever_the_order() -> None:
    desired = fleet(
        want("1", state=DesiredState.ACTIVE),
        want("2", state=DesiredState.SUSPENDED),
        want("3", rate_plan="IoT-1GB"),
        want("9"),
    )

    def stream() -> Iterator[LiveSim]:
        yield live("3")
        yield live("2")
        yield live("1", Status.SUSPENDED)
        yield live("4")  # unmanaged
        yield live("5", account="globex")  # another account: not ours at all
        yield live("2", Status.SUSPENDED)  # a repeated page: the first one wins

    diff = diff_fleet(desired, stream())
    assert [d.iccid for d in diff.changed] == ["1", "2"]
    assert diff.changed[0].status is Status.SUSPENDED
    assert diff.changed[1].changes == (FieldChange("state", "active", "suspended"),)
    assert diff.unchanged == 1
    assert diff.unmanaged == ("4",)
    assert diff.missing == ("9",)
    assert diff.problems == ()


def test_a_retired_sim_cannot_change_and_the_problem_names_the_manifest_line() -> None:
    line = SourceRef("fleet/old.yaml", 12, 9)
    desired = fleet(
        want("1", state=DesiredState.ACTIVE, field_sources={"state": line}),
        want("2", state=DesiredState.RETIRED, rate_plan="IoT-1GB"),
    )
    diff = diff_fleet(desired, [live("1", Status.RETIRED), live("2", Status.RETIRED)])
    assert diff.changed == ()
    assert diff.unchanged == 1  # retired and declared retired: nothing to do
    (problem,) = diff.problems
    # at the SIM's own line (not the group's, where state was declared), with the fix
    assert problem.iccid == "1" and problem.field == "state" and problem.source == SRC
    assert str(problem).startswith("fleet/sims.yaml:7:5: SIM 1 was retired outside fleetform")
    assert 'fix: declare it retired on its own entry (- {iccid: "1", state: retired}' in str(
        problem
    )


def test_a_retired_sim_problem_says_how_to_fix_it_on_its_own_entry() -> None:
    desired = fleet(
        want("1", rate_plan="IoT-5GB"),  # no state declared: the group's ratePlan applies
        want("2", state=DesiredState.RETIRED, rate_plan="IoT-5GB"),  # its own entry says so
    )
    diff = diff_fleet(desired, [live("1", Status.RETIRED), live("2", Status.RETIRED)])
    first, second = diff.problems
    assert first.source == SRC and "so it takes only its state from the group" in first.message
    assert second.source == SRC and "fix: remove ratePlan from its entry" in second.message

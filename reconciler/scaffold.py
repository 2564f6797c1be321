"""`fleetform init`: lay out a fleet repository from the templates shipped in the package.

The templates live in ``reconciler/templates/fleet-repo/`` as package data. setuptools'
package-data globs (``templates/**/*``) skip names that start with a dot, so a dotted name is
stored with a ``dot-`` prefix (``dot-gitignore``, ``dot-github/``) and renamed on the way out:
a plain ``pip install .`` then ships every template.

Placeholders are ``@NAME@`` words (not ``${...}``, which GitHub expressions use); the workflow
files have none, so they stay byte-identical to the working examples in this project's own
``.github/workflows/`` (a test checks it).

Besides the templates, ``manifests/fleet.schema.json`` is a copy of the packaged schema: the
Fleet's first line points editors at it by a relative path (`reconciler.manifest.schema_comment`
says why not a URL).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath

from reconciler.errors import ConfigError
from reconciler.manifest import SCHEMA_FILE, schema_text

TEMPLATE_DIR = "fleet-repo"
DOT_PREFIX = "dot-"
DEFAULT_ACCOUNT = "acme"  # the embedded simulator's demo account: plan works right after init
MANIFEST_DIR = "manifests"

_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
_PLACEHOLDER = re.compile(r"@[A-Z_]+@")


@dataclass(frozen=True, slots=True)
class TemplateFile:
    """One file of the fleet repository: where it goes (posix, relative) and its text."""

    path: PurePosixPath
    text: str


@dataclass(frozen=True, slots=True)
class ScaffoldResult:
    root: Path
    written: tuple[Path, ...]
    kept: tuple[Path, ...] = ()  # existed and were left as they are (no --force)
    extended: tuple[Path, ...] = ()  # existed and got only the lines they lacked (.gitignore)


def fleet_name_for(directory: Path) -> str:
    """A valid fleet name from a folder name: ``My Fleet!`` -> ``My-Fleet``."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", directory.resolve().name).strip("-._")
    return cleaned or "fleet"


def _target_path(parts: tuple[str, ...]) -> PurePosixPath:
    return PurePosixPath(
        *("." + p.removeprefix(DOT_PREFIX) if p.startswith(DOT_PREFIX) else p for p in parts)
    )


def _walk(node: Traversable, parts: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.is_dir():
            yield from _walk(child, (*parts, child.name))
        else:
            yield (*parts, child.name), child.read_text(encoding="utf-8")


def raw_templates() -> list[TemplateFile]:
    """The templates as shipped, placeholders unfilled, with their target paths."""
    root = resources.files("reconciler") / "templates" / TEMPLATE_DIR
    return [TemplateFile(_target_path(parts), text) for parts, text in _walk(root, ())]


def render_templates(name: str, account: str) -> list[TemplateFile]:
    """The fleet repository's files for fleet ``name`` in SmartHub account ``account``."""
    if not _NAME.match(name) or len(name) > 128:
        raise ConfigError(
            f"invalid fleet name {name!r}: use letters, digits, '.', '_', '-', starting and "
            "ending with a letter or digit"
        )
    if not account.strip() or len(account) > 128 or any(c in account for c in "\n\r#:"):
        raise ConfigError(f"invalid account name {account!r}")
    values: Mapping[str, str] = {
        "@FLEET_NAME@": name,
        "@ACCOUNT@": account,
    }
    files = []
    for template in raw_templates():
        text = _PLACEHOLDER.sub(lambda m: values.get(m.group(0), m.group(0)), template.text)
        left = _PLACEHOLDER.search(text)
        if left:  # a template bug, not a user error
            raise AssertionError(f"unknown placeholder {left.group(0)} in {template.path}")
        files.append(TemplateFile(template.path, text))
    # The schema the manifests' first line points editors at, beside them (`schema_comment`).
    files.append(TemplateFile(PurePosixPath(MANIFEST_DIR, SCHEMA_FILE), schema_text()))
    return files


def scaffold(
    root: Path, *, name: str | None = None, account: str | None = None, force: bool = False
) -> ScaffoldResult:
    """Write the fleet repository into ``root`` (created if missing).

    In an existing repository only what is missing is added: a file that exists is kept as it
    is (README, manifests, workflows), and an existing ``.gitignore`` gets only the lines it
    lacks. ``force`` replaces every file instead. Other files in ``root`` are left alone.
    """
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root} exists and is not a directory")
    files = render_templates(name or fleet_name_for(root), account or DEFAULT_ACCOUNT)
    written: list[Path] = []
    kept: list[Path] = []
    extended: list[Path] = []
    for path, template in [(root / Path(*f.path.parts), f) for f in files]:
        try:
            if path.exists() and not force:
                if path.name == ".gitignore" and _add_missing_lines(path, template.text):
                    extended.append(path)
                else:
                    kept.append(path)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(template.text, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot write {path}: {exc.strerror}") from exc
        written.append(path)
    return ScaffoldResult(root, tuple(written), tuple(kept), tuple(extended))


def _add_missing_lines(path: Path, template: str) -> bool:
    """Append the template's ignore patterns that ``path`` lacks; True when it added any."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return False  # not ours to rewrite
    have = {line.strip() for line in text.splitlines()}
    missing = [line for line in template.splitlines() if line.strip() and line.strip() not in have]
    if not any(not line.startswith("#") for line in missing):
        return False
    head = "" if not text or text.endswith("\n") else "\n"
    path.write_text(text + head + "\n".join(missing) + "\n", encoding="utf-8")
    return True

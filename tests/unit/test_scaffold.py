"""`reconciler.scaffold`: what ``fleetform init`` writes, and what it refuses to do."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path, PurePosixPath

import jsonschema
import pytest
import yaml

from reconciler.errors import ConfigError
from reconciler.manifest import schema_document
from reconciler.scaffold import (
    DOT_PREFIX,
    fleet_name_for,
    raw_templates,
    render_templates,
    scaffold,
)

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_LINE = "# yaml-language-server: $schema=fleet.schema.json\n"
TEMPLATES = ROOT / "reconciler" / "templates"

EXPECTED = {
    ".github/workflows/fleetform-apply.yml",
    ".github/workflows/fleetform-drift.yml",
    ".github/workflows/fleetform-plan.yml",
    ".gitignore",
    "README.md",
    "manifests/fleet.yaml",
    "manifests/fleet.schema.json",
}


def test_the_repository_has_the_fleet_the_workflows_the_gitignore_and_the_readme() -> None:
    assert {str(t.path) for t in render_templates("acme-trackers", "acme")} == EXPECTED


def test_no_shipped_template_name_starts_with_a_dot() -> None:
    """setuptools' package-data globs skip dotfiles: a plain `pip install .` would drop them."""
    for path in TEMPLATES.rglob("*"):
        assert not path.name.startswith("."), path
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "templates/**/*" in data["tool"]["setuptools"]["package-data"]["reconciler"]


def test_dot_prefixed_templates_become_dotfiles() -> None:
    raw = {str(t.path) for t in raw_templates()}
    assert ".gitignore" in raw and ".github/workflows/fleetform-plan.yml" in raw
    assert not any(part.startswith(DOT_PREFIX) for p in raw for part in PurePosixPath(p).parts)


def test_the_fleet_manifest_is_filled_in_and_matches_the_schema() -> None:
    files = {str(t.path): t.text for t in render_templates("acme-trackers", "acme-iot")}
    text = files["manifests/fleet.yaml"]
    assert text.startswith(SCHEMA_LINE)
    # the line points at a copy of the packaged schema written beside the manifest
    assert json.loads(files["manifests/fleet.schema.json"]) == schema_document()
    doc = yaml.safe_load(text)
    assert doc["metadata"]["name"] == "acme-trackers"
    assert doc["spec"]["account"] == "acme-iot"
    assert doc["spec"]["guards"] == {"maxChanges": 500, "allowRetire": False}
    jsonschema.Draft202012Validator(schema_document()).validate(doc)
    assert "acme-trackers" in files["README.md"] and "`acme-iot`" in files["README.md"]
    assert ".fleetform/" in files[".gitignore"].splitlines()


def test_no_placeholder_is_left() -> None:
    for template in render_templates("x", "y"):
        assert "@FLEET_NAME@" not in template.text and "@ACCOUNT@" not in template.text


@pytest.mark.parametrize(
    ("folder", "name"),
    [("acme-trackers", "acme-trackers"), ("My Fleet!", "My-Fleet"), ("___", "fleet")],
)
def test_fleet_name_from_the_folder(tmp_path: Path, folder: str, name: str) -> None:
    assert fleet_name_for(tmp_path / folder) == name


@pytest.mark.parametrize("name", ["-bad", "has space", "x" * 129, ""])
def test_invalid_fleet_name_is_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="invalid fleet name"):
        render_templates(name, "acme")


def test_invalid_account_is_refused() -> None:
    with pytest.raises(ConfigError, match="invalid account"):
        render_templates("fleet", "a: b")


def test_scaffold_writes_into_a_new_folder(tmp_path: Path) -> None:
    result = scaffold(tmp_path / "fleet", name="f1", account="acme")
    written = {str(p.relative_to(tmp_path / "fleet").as_posix()) for p in result.written}
    assert written == EXPECTED
    assert "name: f1" in (tmp_path / "fleet" / "manifests" / "fleet.yaml").read_text()


def test_scaffold_keeps_existing_files_and_adds_the_rest(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("mine\n")
    result = scaffold(tmp_path)
    assert (tmp_path / "README.md").read_text() == "mine\n"
    assert result.kept == (tmp_path / "README.md",)
    assert (tmp_path / "manifests" / "fleet.yaml").exists()


def test_scaffold_force_overwrites_and_leaves_other_files(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("mine\n")
    (tmp_path / "notes.txt").write_text("keep\n")
    scaffold(tmp_path, name="f2", force=True)
    assert "f2" in (tmp_path / "README.md").read_text()
    assert (tmp_path / "notes.txt").read_text() == "keep\n"


def test_scaffold_refuses_a_file_as_root(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("")
    with pytest.raises(ConfigError, match="not a directory"):
        scaffold(target)

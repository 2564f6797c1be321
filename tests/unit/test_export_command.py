"""`reconciler.commands.export`: the account choice and the file writing, without the API."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.commands.export import account_of, write_files
from reconciler.errors import ConfigError
from reconciler.export import ExportFile


def test_the_only_account_is_the_default() -> None:
    assert account_of({"name": "Acme", "accounts": [{"name": "acme", "url": "u"}]}) == "acme"


def test_several_accounts_need_a_choice() -> None:
    enterprise = {"accounts": [{"name": "b"}, {"name": "a"}]}
    with pytest.raises(ConfigError, match=r"has 2 accounts: pass --account \(a, b\)"):
        account_of(enterprise)


@pytest.mark.parametrize("enterprise", [{}, {"accounts": []}, {"accounts": "x"}])
def test_no_account_needs_a_choice(enterprise: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="lists no account: pass --account"):
        account_of(enterprise)


FILES = [ExportFile("fleet.yaml", "a: 1\n", 0), ExportFile("g.yaml", "b: 2\n", 1)]


def test_files_are_written_and_no_temporary_is_left(tmp_path: Path) -> None:
    written = write_files(tmp_path / "out", FILES, force=False)
    assert [p.name for p in written] == ["fleet.yaml", "g.yaml"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["fleet.yaml", "g.yaml"]
    assert (tmp_path / "out" / "g.yaml").read_text() == "b: 2\n"


def test_nothing_is_written_when_one_file_exists(tmp_path: Path) -> None:
    (tmp_path / "g.yaml").write_text("mine\n")
    with pytest.raises(ConfigError, match=r"refusing to overwrite .*g\.yaml"):
        write_files(tmp_path, FILES, force=False)
    assert not (tmp_path / "fleet.yaml").exists()
    assert (tmp_path / "g.yaml").read_text() == "mine\n"
    write_files(tmp_path, FILES, force=True)
    assert (tmp_path / "g.yaml").read_text() == "b: 2\n"


def test_a_file_in_the_way_of_the_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("")
    with pytest.raises(ConfigError, match="is not a directory"):
        write_files(tmp_path / "out", FILES, force=True)

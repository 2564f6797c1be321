"""`reconciler.commands.export`: the account choice and the file writing, without the API."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.commands.export import account_from_sims, account_of, write_files
from reconciler.errors import ConfigError
from reconciler.export import ExportFile
from reconciler.model import LiveSim, Status


def test_the_only_account_is_the_default() -> None:
    assert account_of({"name": "Acme", "accounts": [{"name": "acme", "url": "u"}]}) == "acme"


def test_several_accounts_need_a_choice() -> None:
    enterprise = {"accounts": [{"name": "b"}, {"name": "a"}]}
    with pytest.raises(ConfigError, match=r"has 2 accounts: pass --account \(a, b\)"):
        account_of(enterprise)


@pytest.mark.parametrize(
    "enterprise", [{}, {"accounts": []}, {"accounts": "x"}, {"accounts": None}, {"accounts": [7]}]
)
def test_an_enterprise_naming_no_account_leaves_the_choice_to_the_sims(
    enterprise: dict[str, object],
) -> None:
    assert account_of(enterprise) is None


@pytest.mark.parametrize(
    "accounts",
    [["acme"], [{"name": "acme"}], [{"accountName": "acme"}], ["acme", {"name": "acme"}]],
)
def test_accounts_as_plain_names_or_objects(accounts: list[object]) -> None:
    assert account_of({"accounts": accounts}) == "acme"


def test_several_plain_names_need_a_choice() -> None:
    with pytest.raises(ConfigError, match=r"has 2 accounts: pass --account \(a, b\)"):
        account_of({"accounts": ["b", {"name": "a"}]})


def _sim(iccid: str, account: str) -> LiveSim:
    return LiveSim(iccid=iccid, status=Status.ACTIVE, account=account)


def test_one_account_among_the_sims_is_taken() -> None:
    assert account_from_sims([_sim("1", "acme"), _sim("2", "acme")]) == "acme"


def test_sims_of_several_accounts_are_named_with_their_counts() -> None:
    sims = [_sim("1", "acme"), _sim("2", "acme"), _sim("3", "globex")]
    with pytest.raises(ConfigError) as caught:
        account_from_sims(sims)
    assert "acme (2 SIMs), globex (1 SIM)" in str(caught.value)
    assert "pass --account NAME" in str(caught.value)


@pytest.mark.parametrize("sims", [[], [_sim("1", "")]])
def test_no_account_anywhere_asks_for_one(sims: list[LiveSim]) -> None:
    with pytest.raises(ConfigError, match=r"lists no account and .* pass --account NAME"):
        account_from_sims(sims)


def test_sims_without_an_account_beside_named_ones_are_not_guessed() -> None:
    with pytest.raises(ConfigError, match="1 SIM name none"):
        account_from_sims([_sim("1", "acme"), _sim("2", "")])


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


def test_an_existing_fleet_lends_its_name_and_guards(tmp_path: Path) -> None:
    from reconciler.commands.export import ExportOptions, existing_fleet, export_settings

    assert existing_fleet(tmp_path / "none") is None
    (tmp_path / "a-group.yaml").write_text("apiVersion: fleetform/v1\nkind: SimGroup\n")
    assert existing_fleet(tmp_path) is None
    (tmp_path / "fleet.yaml").write_text(
        "kind: Fleet\nmetadata: {name: acme-trackers}\n"
        "spec: {account: acme, guards: {maxChanges: '5%', allowRetire: true}}\n"
    )
    found = existing_fleet(tmp_path)
    assert found is not None
    settings = export_settings(ExportOptions(out=tmp_path), "acme", found)
    assert (settings.fleet_name, settings.max_changes, settings.allow_retire) == (
        "acme-trackers",
        "5%",
        True,
    )
    assert settings.kept_from == "fleet.yaml"
    renamed = export_settings(ExportOptions(out=tmp_path, name="other"), "acme", found)
    assert (renamed.fleet_name, renamed.max_changes) == ("other", "5%")
    fresh = export_settings(ExportOptions(out=tmp_path), "acme", None)
    assert (fresh.fleet_name, fresh.max_changes, fresh.allow_retire) == ("acme", "10%", False)


def test_a_fleet_of_the_wrong_shape_lends_nothing_wrong(tmp_path: Path) -> None:
    from reconciler.commands.export import existing_fleet

    (tmp_path / "fleet.yaml").write_text(
        "kind: Fleet\nmetadata: {name: 'bad name!'}\nspec: {guards: {maxChanges: yes}}\n"
    )
    found = existing_fleet(tmp_path)
    assert found is not None
    assert (found.name, found.max_changes, found.allow_retire) == (None, None, None)
    (tmp_path / "fleet.yaml").write_text("kind: [unclosed\n")
    assert existing_fleet(tmp_path) is None

"""Wiring: where the endpoint and key come from, and what happens when they are wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.app import Connection, build_connection, open_api, state_dir
from reconciler.errors import ConfigError
from reconciler.reporting import RecordingReporter


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SMARTHUB_ENDPOINT", "SMARTHUB_API_KEY", "FLEETFORM_STATE_DIR"):
        monkeypatch.delenv(name, raising=False)


def test_no_endpoint_means_the_embedded_simulator() -> None:
    assert build_connection(None, None) == Connection(endpoint=None, api_key=None)


def test_endpoint_and_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMARTHUB_ENDPOINT", "https://acme.smh.smarthing.com/v1/")
    monkeypatch.setenv("SMARTHUB_API_KEY", "s3cret-key")
    connection = build_connection(None, None)
    assert connection.endpoint == "https://acme.smh.smarthing.com/v1"
    assert connection.api_key == "s3cret-key"
    assert "s3cret-key" not in repr(connection)


def test_key_file_wins_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMARTHUB_API_KEY", "from-env")
    key_file = tmp_path / "key"
    key_file.write_text("from-file\n", encoding="utf-8")
    connection = build_connection("https://x.example/v1", key_file)
    assert connection.api_key == "from-file"


def test_an_endpoint_without_a_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="no API key: set SMARTHUB_API_KEY"):
        build_connection("https://x.example/v1", None)


def test_an_endpoint_not_ending_in_v1_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMARTHUB_API_KEY", "k")
    with pytest.raises(ConfigError, match="ending in /v1"):
        build_connection("https://x.example/api", None)


@pytest.mark.parametrize("endpoint", ["ftp://x.example/v1", "x.example/v1", "https:///v1"])
def test_an_endpoint_that_is_no_http_url_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, endpoint: str
) -> None:
    """It was a ValueError traceback from the client."""
    monkeypatch.setenv("SMARTHUB_API_KEY", "k")
    with pytest.raises(ConfigError, match="must be an http:// or https:// URL with a host"):
        build_connection(endpoint, None)


def test_missing_and_empty_key_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the API key file"):
        build_connection("https://x.example/v1", tmp_path / "absent")
    empty = tmp_path / "empty"
    empty.write_text("  \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="is empty"):
        build_connection("https://x.example/v1", empty)


def test_state_dir_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert state_dir(tmp_path) == tmp_path / ".fleetform"
    monkeypatch.setenv("FLEETFORM_STATE_DIR", str(tmp_path / "elsewhere"))
    assert state_dir(tmp_path) == tmp_path / "elsewhere"


def test_a_broken_simulator_database_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / ".fleetform").mkdir()
    (tmp_path / ".fleetform" / "sim.db").write_text("not a database", encoding="utf-8")
    reporter = RecordingReporter()
    with (
        pytest.raises(ConfigError, match="delete that file to start over"),
        open_api(Connection(endpoint=None), reporter, cwd=tmp_path),
    ):
        pass


def test_the_embedded_simulator_says_so(tmp_path: Path) -> None:
    reporter = RecordingReporter()
    with open_api(Connection(endpoint=None), reporter, cwd=tmp_path) as api:
        assert api.endpoint.endswith("/v1")
        assert sum(1 for _ in api.iter_sims(account="acme")) == 1000
    assert any("embedded simulator" in line for line in reporter.infos)
    assert (tmp_path / ".fleetform" / "sim.db").exists()


@pytest.mark.parametrize("raw", ["s3cret\n", " s3cret \r\n"])
def test_surrounding_whitespace_of_a_ci_secret_is_stripped(
    raw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMARTHUB_API_KEY", raw)
    assert build_connection("https://x.example/v1", None).api_key == "s3cret"


@pytest.mark.parametrize("key", ["SEC\nRET", "SEC\rRET", "SECRETé", "SEC RET"])
def test_a_key_that_cannot_go_in_a_header_is_refused_without_showing_it(
    key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMARTHUB_API_KEY", key)
    with pytest.raises(ConfigError) as info:
        build_connection("https://x.example/v1", None)
    assert "SEC" not in str(info.value) and "SMARTHUB_API_KEY" in str(info.value)
    key_file = tmp_path / "key"
    key_file.write_text(key, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        build_connection("https://x.example/v1", key_file)
    assert "SEC" not in str(info.value)


def test_the_embedded_simulator_keeps_its_endpoint_between_runs(tmp_path: Path) -> None:
    """A plan records the endpoint and apply re-checks it: the embedded simulator comes back
    on the port it had, when that port is free."""
    reporter = RecordingReporter()
    with open_api(Connection(endpoint=None), reporter, cwd=tmp_path) as first:
        endpoint = first.endpoint
    with open_api(Connection(endpoint=None), reporter, cwd=tmp_path) as second:
        assert second.endpoint == endpoint
        # while it runs, a second process cannot have that port: it gets another one
        with open_api(Connection(endpoint=None), reporter, cwd=tmp_path) as third:
            assert third.endpoint != endpoint

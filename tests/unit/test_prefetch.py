"""Reading the account while the manifests load (reconciler.prefetch, commands/plan.py)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from reconciler.commands.plan import load_while_reading, read_live, run_plan
from reconciler.errors import ManifestError, ManifestProblem
from reconciler.manifest import peek_account
from reconciler.model import DesiredFleet, DesiredSim, DesiredState, FleetSpec, SourceRef
from reconciler.planfile import plan_to_json
from reconciler.prefetch import Prefetch
from reconciler.reporting import RecordingReporter
from tests.fakes import FakeSmartHub, giccid

SRC = SourceRef("fleet/sims.yaml", 3)


def _desired(count: int, account: str = "acme") -> DesiredFleet:
    spec = FleetSpec("acme-trackers", account, SourceRef("fleet/fleet.yaml", 1))
    sims = [
        DesiredSim(giccid(i), "g", SRC, state=DesiredState.SUSPENDED if i % 7 else None)
        for i in range(count)
    ]
    return DesiredFleet(spec, {s.iccid: s for s in sims}, digest="sha256:d")


def test_the_pages_are_read_while_the_manifests_load() -> None:
    api = FakeSmartHub.seeded(1000)
    third_page = threading.Event()
    api.on_request = lambda name, arg: name == "list" and arg == "3" and third_page.set()

    def load() -> DesiredFleet:
        # without a reader on its own thread, no page is asked for while this waits
        assert third_page.wait(10), "no page was read while the manifests loaded"
        return _desired(1000)

    reporter = RecordingReporter()
    with Prefetch(api, "acme") as ahead:
        desired = load_while_reading(load, ahead, reporter)
        overlapped = run_plan(api, desired, reporter, created_at="T", prefetch=ahead)
    alone = run_plan(FakeSmartHub.seeded(1000), _desired(1000), reporter, created_at="T")
    assert plan_to_json(overlapped) == plan_to_json(alone)
    assert overlapped.summary.requests_read == 11  # 10 pages and the catalogue, counted once


def test_invalid_manifests_stop_the_read_at_once_and_say_what_it_cost() -> None:
    api = FakeSmartHub.seeded(1000)
    load_failed = threading.Event()
    first_page = threading.Event()

    def hook(name: str, arg: str) -> None:
        if name == "list" and arg == "1":
            first_page.set()
        elif name == "list":
            assert load_failed.wait(10)

    api.on_request = hook

    def load() -> DesiredFleet:
        assert first_page.wait(10)
        load_failed.set()
        raise ManifestError([ManifestProblem("fleet.yaml", 3, 5, "bad")])

    reporter = RecordingReporter()
    with pytest.raises(ManifestError), Prefetch(api, "acme") as ahead:
        load_while_reading(load, ahead, reporter)
    # the page being asked for when the load failed is the last one
    assert api.calls_named("list") == ["1", "2"]
    assert reporter.infos == [
        "Stopped reading the account: the manifests are invalid (3 read requests spent)"
    ]


def test_an_error_of_the_read_is_raised_where_read_live_asks() -> None:
    api = FakeSmartHub.seeded(10, budget=0)
    with Prefetch(api, "acme") as ahead:
        desired = load_while_reading(lambda: _desired(10), ahead, RecordingReporter())
        with pytest.raises(Exception, match="budget of 0 requests"):
            read_live(api, desired, RecordingReporter(), prefetch=ahead)


def test_a_fleet_of_another_account_drops_what_was_read_ahead() -> None:
    api = FakeSmartHub.seeded(300)
    with Prefetch(api, "globex") as ahead:
        desired = load_while_reading(lambda: _desired(300), ahead, RecordingReporter())
        live = read_live(api, desired, RecordingReporter(), prefetch=ahead)
    assert live.sims_read == 300  # acme's, read after the prefetch of globex was dropped


FLEET = "apiVersion: fleetform/v1\nkind: Fleet\nmetadata: {name: f}\nspec:\n  account: acme\n"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("apiVersion: fleetform/v1\nkind: SimGroup\n", "acme"),
        ("a: &x 1\nb: *x\n", None),  # anchors: load and refuse first
        ("a: !!python/object x\n", None),  # a tag
        ("a: [[[[[1]]]]]\n", None),  # deep nesting
        ("a: \x00\n", None),  # a character YAML refuses
    ],
)
def test_the_account_is_read_ahead_only_for_plain_manifests(
    tmp_path: Path, extra: str, expected: str | None
) -> None:
    (tmp_path / "fleet.yaml").write_text(FLEET, encoding="utf-8")
    (tmp_path / "other.yaml").write_text(extra, encoding="utf-8")
    assert peek_account([tmp_path]) == expected


def test_no_account_is_read_ahead_for_missing_or_oversized_files(tmp_path: Path) -> None:
    (tmp_path / "fleet.yaml").write_text(FLEET, encoding="utf-8")
    assert peek_account([tmp_path]) == "acme"
    assert peek_account([tmp_path, tmp_path / "missing.yaml"]) is None
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.truncate(21 * 1024 * 1024)
    assert peek_account([tmp_path]) is None
    big.unlink()
    (tmp_path / "fleet.yaml").write_text("kind: SimGroup\n", encoding="utf-8")
    assert peek_account([tmp_path]) is None  # no Fleet: nothing to read


def test_once_loaded_the_main_thread_reads_on_from_the_next_page() -> None:
    api = FakeSmartHub.seeded(1000)
    readers: dict[str, str] = {}
    second_page, loaded = threading.Event(), threading.Event()

    def hook(name: str, arg: str) -> None:
        if name != "list":
            return
        readers[arg] = threading.current_thread().name
        if arg == "2":
            second_page.set()
        if arg == "3":
            assert loaded.wait(10)

    api.on_request = hook

    def load() -> DesiredFleet:
        assert second_page.wait(10)
        return _desired(1000)

    with Prefetch(api, "acme") as ahead:
        desired = load_while_reading(load, ahead, RecordingReporter())
        loaded.set()
        live = read_live(api, desired, RecordingReporter(), prefetch=ahead)
    assert live.sims_read == 1000
    assert readers["1"] == readers["3"] == "fleetform-read"
    # a reader thread feeding the diff would wait for the interpreter lock at every page
    assert {readers[str(page)] for page in range(4, 11)} == {threading.main_thread().name}

"""Expansion: Fleet defaults < SimGroup spec < per-SIM entry, and where each value came from."""

from __future__ import annotations

from pathlib import Path

from reconciler.manifest import load_fleet, load_manifests
from reconciler.manifest.iccid import with_check_digit
from reconciler.model import (
    RATE_PLAN,
    STATE,
    ApnStatus,
    DesiredState,
    SourceRef,
    apn_field,
    custom_field,
    supplementary_field,
)

A = with_check_digit("894450000000000001")
B = with_check_digit("894450000000000002")
C = with_check_digit("894450000000000003")

FLEET = """\
apiVersion: fleetform/v1
kind: Fleet
metadata: {name: acme-trackers}
spec:
  account: acme
  defaults:
    state: active
    ratePlan: IoT-1GB
    supplementaryPlans: [EU-Roaming-500MB]
    apns: {iot.acme: enabled, backup.acme: disabled}
    customFields: {custom1: hq, custom5: null}
  unmanaged: ignore
  guards: {maxChanges: "10%", allowRetire: true}
"""

GROUP = f"""\
apiVersion: fleetform/v1
kind: SimGroup
metadata: {{name: berlin}}
spec:
  ratePlan: IoT-5GB
  apns: {{backup.acme: enabled}}
  customFields: {{custom1: berlin}}
  sims:
    - "{A}"
    - {{iccid: "{B}", state: suspended, supplementaryPlans: [US-Roaming-1GB],
       customFields: {{custom2: spare}}}}
    - {{iccid: "{C}", supplementaryPlans: []}}
"""


def at(file: Path, text: str, line: int, needle: str) -> SourceRef:
    """Where ``needle`` starts on 1-based ``line`` of ``text``."""
    column = text.splitlines()[line - 1].index(needle) + 1
    return SourceRef(str(file), line, column)


def _write(tmp_path: Path) -> tuple[Path, Path]:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(FLEET, encoding="utf-8")
    group = tmp_path / "sites" / "berlin.yml"
    group.parent.mkdir()
    group.write_text(GROUP, encoding="utf-8")
    return fleet, group


def test_fleet_spec(tmp_path: Path) -> None:
    fleet_file, _ = _write(tmp_path)
    spec = load_fleet([tmp_path]).fleet
    assert (spec.name, spec.account, spec.unmanaged) == ("acme-trackers", "acme", "ignore")
    assert (spec.max_changes, spec.max_changes_percent, spec.allow_retire) == (None, 10.0, True)
    assert spec.source == SourceRef(str(fleet_file), 1, 1)


def test_max_changes_as_a_count(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(FLEET.replace('"10%"', "500"), encoding="utf-8")
    spec = load_fleet([path]).fleet
    assert (spec.max_changes, spec.max_changes_percent) == (500, None)


def test_plain_entry_takes_group_over_defaults(tmp_path: Path) -> None:
    fleet_file, group_file = _write(tmp_path)
    sim = load_fleet([tmp_path]).sims[A]
    assert sim.group == "berlin"
    assert sim.source == SourceRef(str(group_file), 9, 7)
    assert sim.state is DesiredState.ACTIVE
    assert sim.rate_plan == "IoT-5GB"
    assert sim.supplementary_plans == ("EU-Roaming-500MB",)
    assert sim.apns == {"iot.acme": ApnStatus.ENABLED, "backup.acme": ApnStatus.ENABLED}
    assert sim.custom_fields == {"custom1": "berlin", "custom5": None}
    f, g = fleet_file, group_file
    assert sim.field_sources == {
        STATE: at(f, FLEET, 7, "active"),
        RATE_PLAN: at(g, GROUP, 5, "IoT-5GB"),
        supplementary_field("EU-Roaming-500MB"): at(f, FLEET, 9, "EU-Roaming"),
        apn_field("iot.acme"): at(f, FLEET, 10, "enabled"),
        apn_field("backup.acme"): at(g, GROUP, 6, "enabled"),
        custom_field("custom1"): at(g, GROUP, 7, "berlin"),
        custom_field("custom5"): at(f, FLEET, 11, "null"),
    }


def test_per_sim_entry_wins_and_replaces_the_plan_list(tmp_path: Path) -> None:
    _, group_file = _write(tmp_path)
    sim = load_fleet([tmp_path]).sims[B]
    g = group_file
    assert sim.state is DesiredState.SUSPENDED
    assert sim.field_sources[STATE] == at(g, GROUP, 10, "suspended")
    assert sim.supplementary_plans == ("US-Roaming-1GB",)
    assert supplementary_field("EU-Roaming-500MB") not in sim.field_sources
    assert sim.field_sources[supplementary_field("US-Roaming-1GB")] == at(
        g, GROUP, 10, "US-Roaming"
    )
    assert sim.custom_fields == {"custom1": "berlin", "custom2": "spare", "custom5": None}
    assert sim.field_sources[custom_field("custom2")] == at(g, GROUP, 11, "spare")


def test_an_empty_plan_list_manages_no_plan(tmp_path: Path) -> None:
    _write(tmp_path)
    sim = load_fleet([tmp_path]).sims[C]
    assert sim.supplementary_plans == ()
    assert not any(k.startswith("supplementaryPlans") for k in sim.field_sources)
    assert sim.rate_plan == "IoT-5GB"


def test_fields_nothing_declares_are_not_managed(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(
        "apiVersion: fleetform/v1\nkind: Fleet\nmetadata: {name: x}\nspec: {account: acme}\n",
        encoding="utf-8",
    )
    group = tmp_path / "g.yaml"
    group.write_text(
        "apiVersion: fleetform/v1\nkind: SimGroup\nmetadata: {name: g}\n"
        f'spec:\n  sims: ["{A}"]\n',
        encoding="utf-8",
    )
    sim = load_fleet([tmp_path]).sims[A]
    assert (sim.state, sim.rate_plan, sim.supplementary_plans) == (None, None, ())
    assert (dict(sim.apns), dict(sim.custom_fields), dict(sim.field_sources)) == ({}, {}, {})


def test_plain_entries_share_the_group_mappings(tmp_path: Path) -> None:
    lines = "".join(f'    - "{with_check_digit(f"8944500000000001{i:02d}")}"\n' for i in range(5))
    (tmp_path / "f.yaml").write_text(
        FLEET + "---\n" + GROUP.split("  sims:")[0] + "  sims:\n" + lines
    )
    sims = list(load_fleet([tmp_path]).sims.values())
    assert len(sims) == 5
    assert all(s.field_sources is sims[0].field_sources for s in sims)
    assert all(s.apns is sims[0].apns for s in sims)


def test_digest_and_files(tmp_path: Path) -> None:
    _, group_file = _write(tmp_path)
    first = load_fleet([tmp_path])
    assert first.files == (str(tmp_path / "fleet.yaml"), str(tmp_path / "sites" / "berlin.yml"))
    assert len(first.digest) == 64
    # the same files reached another way: same digest, names as typed
    again = load_fleet([tmp_path / "sites", tmp_path / "fleet.yaml", tmp_path])
    assert again.digest == first.digest
    group_file.write_text(GROUP.replace("IoT-5GB", "IoT-10GB"), encoding="utf-8")
    assert load_fleet([tmp_path]).digest != first.digest


def test_sims_are_keyed_and_ordered_by_iccid(tmp_path: Path) -> None:
    _write(tmp_path)
    manifests = load_manifests([tmp_path])
    assert list(manifests.fleet.sims) == sorted([A, B, C])
    assert manifests.groups == ("berlin",)


def test_hidden_directories_and_other_suffixes_are_skipped(tmp_path: Path) -> None:
    _write(tmp_path)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.yaml").write_text("not: [valid", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("kind: [", encoding="utf-8")
    assert len(load_fleet([tmp_path]).sims) == 3


def test_a_retired_sim_takes_only_its_state_from_the_group_and_defaults(tmp_path: Path) -> None:
    d = with_check_digit("894450000000000004")
    retired_group = f"""\
apiVersion: fleetform/v1
kind: SimGroup
metadata: {{name: old}}
spec:
  state: retired
  ratePlan: IoT-5GB
  customFields: {{custom1: old}}
  sims:
    - "{C}"
    - {{iccid: "{d}", customFields: {{custom3: kept}}}}
"""
    _, group_file = _write(tmp_path)
    e = with_check_digit("894450000000000005")
    group_file.write_text(
        GROUP.replace(f'    - {{iccid: "{C}", supplementaryPlans: []}}\n', "")
        + f'    - {{iccid: "{e}", state: retired}}\n',
        encoding="utf-8",
    )
    (tmp_path / "old.yaml").write_text(retired_group, encoding="utf-8")
    sims = load_fleet([tmp_path]).sims
    # a plain entry of a retired group: its state, nothing of the group's or the defaults'
    plain = sims[C]
    assert plain.state is DesiredState.RETIRED
    assert (plain.rate_plan, plain.supplementary_plans, plain.apns, plain.custom_fields) == (
        None,
        (),
        {},
        {},
    )
    assert set(plain.field_sources) == {STATE}
    # its own entry's fields stay managed
    own = sims[d]
    assert own.custom_fields == {"custom3": "kept"} and own.rate_plan is None
    # retired on its own entry in an active group: the group's values do not apply either
    single = sims[e]
    assert single.state is DesiredState.RETIRED and single.rate_plan is None
    assert set(single.field_sources) == {STATE}
    # the active SIMs of the same group keep the group's values
    assert sims[A].rate_plan == "IoT-5GB"

"""`reconciler.export` (pure): live SIMs -> manifests that the loader reads back unchanged."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

from reconciler.diff import diff_fleet
from reconciler.errors import ConfigError
from reconciler.export import (
    FLEET_FILE,
    GROUP_KEYS,
    ExportFile,
    ExportSettings,
    export_fleet,
    factor,
    scalar,
    sim_values,
)
from reconciler.manifest import load_fleet
from reconciler.model import CUSTOM_FIELD_NAMES, ApnStatus, LiveSim, Status
from reconciler.simulator import giccid_for

SETTINGS = ExportSettings(account="acme", fleet_name="acme")


def live(
    i: int,
    status: Status = Status.ACTIVE,
    rate_plan: str | None = "IoT-1GB",
    plans: tuple[str, ...] = (),
    apns: dict[str, ApnStatus] | None = None,
    account: str = "acme",
    **custom: str | None,
) -> LiveSim:
    return LiveSim(
        iccid=giccid_for(i),
        status=status,
        account=account,
        rate_plan=rate_plan,
        supplementary_plans=plans,
        apns=apns if apns is not None else {"iot.acme": ApnStatus.ENABLED},
        custom_fields={name: custom.get(name) for name in CUSTOM_FIELD_NAMES},
    )


def write(tmp_path: Path, files: list[ExportFile]) -> Path:
    for file in files:
        (tmp_path / file.name).write_text(file.text, encoding="utf-8")
    return tmp_path


def docs(files: list[ExportFile]) -> dict[str, dict[str, object]]:
    return {f.name: yaml.safe_load(f.text) for f in files}


def test_one_file_per_status_and_a_fleet() -> None:
    sims = [live(0), live(1), live(2, Status.SUSPENDED), live(3, Status.RETIRED)]
    files = export_fleet(sims, SETTINGS)
    assert [f.name for f in files] == [
        FLEET_FILE,
        "status-active.yaml",
        "status-retired.yaml",
        "status-suspended.yaml",
    ]
    assert [f.sims for f in files] == [0, 2, 1, 1]
    fleet = docs(files)[FLEET_FILE]
    assert fleet["kind"] == "Fleet"
    assert fleet["spec"] == {
        "account": "acme",
        "unmanaged": "report",
        "guards": {"maxChanges": "10%", "allowRetire": False},
    }


def test_the_group_spec_takes_the_most_common_values_and_sims_override_the_rest() -> None:
    sims = [
        live(0, custom1="berlin"),
        live(1, custom1="berlin"),
        live(2, rate_plan="IoT-5GB", custom1="munich", custom3="spare"),
    ]
    (group,) = [d for n, d in docs(export_fleet(sims, SETTINGS)).items() if n != FLEET_FILE]
    spec = group["spec"]
    assert isinstance(spec, dict)
    assert spec["state"] == "active" and spec["ratePlan"] == "IoT-1GB"
    assert spec["apns"] == {"iot.acme": "enabled"}
    assert spec["customFields"] == {
        "custom1": "berlin",
        "custom2": None,
        "custom3": None,
        "custom4": None,
        "custom5": None,
    }
    assert spec["sims"] == [
        giccid_for(0),
        giccid_for(1),
        {
            "iccid": giccid_for(2),
            "ratePlan": "IoT-5GB",
            "customFields": {"custom1": "munich", "custom3": "spare"},
        },
    ]


def test_supplementary_plans_in_the_group_are_those_every_sim_has() -> None:
    sims = [
        live(0, plans=("EU-Roaming-500MB",)),
        live(1, plans=("EU-Roaming-500MB",)),
        live(2, plans=("EU-Roaming-500MB", "US-Roaming-1GB")),
    ]
    spec = factor([sim_values(s) for s in sims])
    assert spec.value("supplementaryPlans") == {"EU-Roaming-500MB"}
    sims.append(live(3))
    assert factor([sim_values(s) for s in sims]).value("supplementaryPlans") == frozenset()


def test_apns_in_the_group_are_those_every_sim_has() -> None:
    sims = [
        live(0, apns={"iot.acme": ApnStatus.ENABLED, "backup.acme": ApnStatus.DISABLED}),
        live(1, apns={"iot.acme": ApnStatus.DISABLED}),
        live(2, apns={"iot.acme": ApnStatus.DISABLED}),
    ]
    spec = factor([sim_values(s) for s in sims])
    assert dict(spec.value("apns")) == {"iot.acme": "disabled"}


def test_pre_service_sims_go_to_a_group_without_state(tmp_path: Path) -> None:
    sims = [live(0), live(1, Status.INVENTORY), live(2, Status.TEST_READY)]
    files = export_fleet(sims, ExportSettings("acme", "acme", group_by="ratePlan"))
    by_name = docs(files)
    assert set(by_name) == {
        FLEET_FILE,
        "ratePlan-IoT-1GB.yaml",
        "ratePlan-IoT-1GB-pre-service.yaml",
    }
    pre = by_name["ratePlan-IoT-1GB-pre-service.yaml"]["spec"]
    assert isinstance(pre, dict)
    assert "state" not in pre
    assert all(isinstance(s, str) for s in pre["sims"])  # no SIM declares a state either
    text = next(f.text for f in files if f.name == "ratePlan-IoT-1GB-pre-service.yaml")
    assert "cannot declare these states: state is left unmanaged" in text
    assert "(inventory, test_ready)" in text
    desired = load_fleet([write(tmp_path, files)])
    assert desired.sims[giccid_for(1)].state is None


def test_sims_of_other_accounts_are_left_out() -> None:
    files = export_fleet([live(0), live(9, account="globex")], SETTINGS)
    assert sum(f.sims for f in files) == 1
    assert giccid_for(9) not in "".join(f.text for f in files)


def test_every_file_starts_with_the_schema_line_and_quotes_iccids() -> None:
    files = export_fleet([live(0), live(1, custom1="x")], SETTINGS)
    for file in files:
        assert file.text.startswith("# yaml-language-server: $schema=fleet.schema.json\n")
    group = files[1].text
    assert f'    - "{giccid_for(0)}"\n' in group
    assert f'{{iccid: "{giccid_for(1)}", ' in group


def test_output_is_deterministic_whatever_the_input_order() -> None:
    sims = [live(i, rate_plan=("IoT-1GB", "IoT-5GB")[i % 2], custom1=str(i % 3)) for i in range(30)]
    shuffled = list(sims)
    random.Random(4).shuffle(shuffled)
    assert export_fleet(sims, SETTINGS) == export_fleet(shuffled, SETTINGS)


def test_large_groups_are_cut_into_parts(tmp_path: Path) -> None:
    sims = [live(i) for i in range(25)]
    files = export_fleet(sims, SETTINGS, max_sims_per_file=10)
    assert [f.name for f in files[1:]] == [
        "status-active-part-001.yaml",
        "status-active-part-002.yaml",
        "status-active-part-003.yaml",
    ]
    assert [f.sims for f in files[1:]] == [10, 10, 5]
    assert len(load_fleet([write(tmp_path, files)]).sims) == 25


def test_group_names_that_collide_after_slugging_are_made_unique(tmp_path: Path) -> None:
    sims = [live(0, custom1="a b"), live(1, custom1="a/b"), live(2, custom1="a b!")]
    files = export_fleet(sims, ExportSettings("acme", "acme", group_by="custom1"))
    names = [f.name for f in files[1:]]
    assert len(set(n.lower() for n in names)) == 3
    assert len(load_fleet([write(tmp_path, files)]).sims) == 3


def test_an_unknown_group_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="cannot group by 'imei'"):
        export_fleet([], ExportSettings("acme", "acme", group_by="imei"))


def test_an_empty_account_gives_only_the_fleet(tmp_path: Path) -> None:
    files = export_fleet([], SETTINGS)
    assert [f.name for f in files] == [FLEET_FILE]
    assert load_fleet([write(tmp_path, files)]).sims == {}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("berlin", "berlin"),
        ("IoT-1GB", "IoT-1GB"),
        ("yes", '"yes"'),
        ("No", '"No"'),
        ("null", '"null"'),
        ("123", '"123"'),
        ("1e3", '"1e3"'),
        ("a: b", '"a: b"'),
        ("# hash", '"# hash"'),
        ("-lead", '"-lead"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("Straße", '"Straße"'),
        ("", '""'),
        (None, "null"),
    ],
)
def test_scalars_are_quoted_where_yaml_would_misread_them(value: str | None, text: str) -> None:
    assert scalar(value) == text
    assert yaml.safe_load(f"k: {text}")["k"] == value


WEIRD = ["berlin", "yes", "0x1F", "a: b", "[x]", "{y}", "'q'", '"d"', "line\nbreak", "ü", "*", "&a"]
WEIRD += ["\u2028", "\x85", "\x7f", "\ufeff", "tab\there", " lead", "trail ", "\\"]


@pytest.mark.parametrize("group_by", GROUP_KEYS)
def test_loading_the_export_gives_back_every_live_value(tmp_path: Path, group_by: str) -> None:
    """A seeded random fleet, odd values included: the diff of the export against it is empty."""
    rng = random.Random(7)
    statuses = list(Status)
    sims = []
    for i in range(300):
        apns = {
            name: rng.choice(list(ApnStatus))
            for name in ("iot.acme", "backup.acme", "x.acme")
            if rng.random() < 0.7
        }
        plans = tuple(p for p in ("EU-Roaming-500MB", "US-Roaming-1GB") if rng.random() < 0.3)
        custom = {n: rng.choice([*WEIRD, None, None, None]) for n in CUSTOM_FIELD_NAMES}
        rate_plan = rng.choice(["IoT-1GB", "IoT-5GB", "IoT-10GB"])
        sims.append(live(i, rng.choice(statuses), rate_plan, plans, apns, **custom))
    files = export_fleet(sims, ExportSettings("acme", "acme", group_by=group_by))
    desired = load_fleet([write(tmp_path, files)])
    assert len(desired.sims) == 300
    result = diff_fleet(desired, sims)
    assert result.changed == () and result.problems == () and result.unmanaged == ()
    assert result.unchanged == 300


def test_common_combinations_get_a_group_each_and_rare_ones_join_the_closest() -> None:
    sims = [live(i) for i in range(12)]  # IoT-1GB, iot.acme enabled
    sims += [live(100 + i, rate_plan="IoT-5GB") for i in range(10)]
    sims += [live(200, rate_plan="IoT-5GB", plans=("EU-Roaming-500MB",))]  # rare: 1 setting off
    sims += [live(201, status=Status.SUSPENDED)]  # rare: closest to the IoT-1GB group
    files = export_fleet(sims, SETTINGS, min_group_sims=10)
    by_name = docs(files)
    assert set(by_name) == {
        FLEET_FILE,
        "status-active.yaml",
        "status-active-IoT-5GB.yaml",
        "status-suspended.yaml",
    }
    small = by_name["status-active-IoT-5GB.yaml"]["spec"]
    assert isinstance(small, dict)
    assert small["ratePlan"] == "IoT-5GB" and len(small["sims"]) == 11
    assert {"iccid": giccid_for(200), "supplementaryPlans": ["EU-Roaming-500MB"]} in small["sims"]
    big = by_name["status-active.yaml"]["spec"]
    assert isinstance(big, dict)
    assert big["ratePlan"] == "IoT-1GB" and all(isinstance(s, str) for s in big["sims"])


def test_no_common_combination_keeps_one_group() -> None:
    sims = [live(i, rate_plan=f"P{i % 3}") for i in range(9)]
    files = export_fleet(sims, SETTINGS, min_group_sims=10)
    assert [f.name for f in files] == [FLEET_FILE, "status-active.yaml"]


def test_equal_values_are_one_object_across_the_sims_an_export_holds() -> None:
    """A million SIMs are held at once for grouping: equal APN maps, plan sets and texts are
    shared, and nothing of the LiveSim beyond its managed values is kept."""
    shared: dict[object, object] = {}
    a = sim_values(live(0, plans=("EU-Roaming-500MB",), custom1="berlin"), shared)
    b = sim_values(live(1, plans=("EU-Roaming-500MB",), custom1="".join(["ber", "lin"])), shared)
    assert a.value("apns") is b.value("apns")
    assert a.value("supplementaryPlans") is b.value("supplementaryPlans")
    assert a.value("customFields")["custom1"] is b.value("customFields")["custom1"]
    assert a.value("ratePlan") is b.value("ratePlan")
    assert a == sim_values(live(0, plans=("EU-Roaming-500MB",), custom1="berlin"))

"""The seeded fleet rule, which example manifests depend on; and the simulator's pure helpers."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.simulator.faults import Faults, Redirect
from reconciler.simulator.fleet import (
    CATALOGUE,
    account_for,
    giccid_for,
    index_count,
    luhn_check_digit,
    luhn_valid,
    seed_fleet,
)
from reconciler.simulator.push import push_signature
from reconciler.simulator.store import format_time, parse_time


def test_luhn_against_known_numbers() -> None:
    # the two ICCIDs of the vendor's overview page, and a textbook card number
    assert luhn_valid("8944501503181377993")
    assert luhn_valid("8944500310194312699")
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")
    assert not luhn_valid("8944501503181377994")
    assert luhn_check_digit("7992739871") == "3"


def test_the_giccid_rule() -> None:
    assert giccid_for(0) == "8944500000000000006"
    assert giccid_for(123) == "894450000000000123" + luhn_check_digit("894450000000000123")
    assert len(giccid_for(999_999)) == 19


@given(st.integers(min_value=0, max_value=10**12 - 1))
def test_every_giccid_is_19_digits_and_passes_luhn(index: int) -> None:
    giccid = giccid_for(index)
    assert len(giccid) == 19
    assert giccid.startswith("894450")
    assert luhn_valid(giccid)


@given(st.integers(min_value=0, max_value=200_000))
def test_sims_n_means_n_sims_of_the_primary_account(n: int) -> None:
    count = index_count(n)
    assert count - count // 10 == n  # acme holds every index but each tenth
    assert n == 0 or account_for(count - 1) == "acme"  # the smallest such count


def test_250_gives_277_indices() -> None:
    fleet = seed_fleet(250, 1)
    accounts = Counter(sim.account for sim in fleet)
    assert len(fleet) == 277
    assert accounts == {"acme": 250, "globex": 27}
    assert all((sim.index % 10 == 9) == (sim.account == "globex") for sim in fleet)


def test_the_fleet_is_deterministic_per_size_and_seed() -> None:
    assert seed_fleet(300, 1) == seed_fleet(300, 1)
    assert seed_fleet(300, 1) != seed_fleet(300, 2)
    # a bigger fleet of the same seed starts with the smaller one
    assert seed_fleet(500, 7)[:100] == seed_fleet(100, 7)[:100]


def test_seeded_values_stay_inside_the_catalogue_and_look_plausible() -> None:
    fleet = seed_fleet(5000, 1)
    statuses = Counter(sim.status for sim in fleet)
    assert 0.65 < statuses["ACTIVATED"] / len(fleet) < 0.75
    assert 0.12 < statuses["DEACTIVATED"] / len(fleet) < 0.18
    assert {"TEST_READY", "INVENTORY", "ACTIVATION_READY", "RETIRED"} <= set(statuses)
    for sim in fleet:
        plans = {name: kind for name, kind, _ in CATALOGUE[sim.account]}
        assert plans[sim.basic_plan] == "BASIC"
        assert all(plans[p] == "SUPPLEMENTARY" for p in sim.supplementary)
        assert luhn_valid(sim.imei)
        assert len(sim.imsi) == 15
        if sim.account == "acme":
            assert sim.apns[0][0] == "iot.acme"
            assert sim.basic_plan in ("IoT-1GB", "IoT-5GB", "IoT-10GB")
        else:
            assert sim.apns == (("m2m.globex", "ENABLED"),)
            assert sim.custom == (None,) * 5
        assert (sim.activated_time is None) == (
            sim.status in ("TEST_READY", "INVENTORY", "ACTIVATION_READY")
        )
    acme = [sim for sim in fleet if sim.account == "acme"]
    assert any(sim.supplementary for sim in acme)
    assert any(len(sim.apns) == 2 for sim in acme)
    assert {sim.custom[0] for sim in acme} >= {"berlin", "hamburg", "munich", None}
    assert any(sim.custom[1] and sim.custom[1].startswith("ASSET-") for sim in acme)


def test_time_format_round_trip() -> None:
    assert format_time(1_764_076_297) == "2025-11-25T13:11:37+0000"
    assert parse_time("2025-11-25T13:11:37+0000") == 1_764_076_297
    assert parse_time("2025-11-25T13:11:37Z") == 1_764_076_297
    assert parse_time("2025-11-25T14:11:37+01:00") == 1_764_076_297
    assert format_time(None) is None
    with pytest.raises(ValueError):
        parse_time("yesterday")


def test_push_signature_check_vector() -> None:
    assert push_signature("UzE4MDkxNDA2MTE1M", 1725499848) == (
        "58210277eeea982589a3f2c5711ce5ac23a866298d77fcb5c30bb1e0aa9c345f"
    )


def test_redirects_match_by_prefix_and_run_out() -> None:
    faults = Faults(redirects=[Redirect("/old", 301, "/v1", times=2), Redirect("/v1/x", 307, "/y")])
    assert faults.match_redirect("/v1/global-sims") is None
    assert faults.match_redirect("/old/v1/a") == Redirect("/old", 301, "/v1", times=2)
    assert faults.match_redirect("/old/v1/b") is not None
    assert faults.match_redirect("/old/v1/c") is None
    assert faults.match_redirect("/v1/x/1") == Redirect("/v1/x", 307, "/y")


def test_fault_rolls_are_seeded() -> None:
    a, b = Faults(seed=3), Faults(seed=3)
    rolls = [a.roll(0.5) for _ in range(50)]
    assert rolls == [b.roll(0.5) for _ in range(50)]
    assert True in rolls and False in rolls
    assert not Faults().roll(0.0)

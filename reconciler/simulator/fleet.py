"""The seeded demo fleet and the rate-plan catalogue: pure functions, no I/O.

The rule (others write example manifests against it, so it is fixed):

- SIM ``i`` has giccid ``"894450" + f"{i:012d}"`` plus its Luhn check digit (19 digits);
  the wire ``iccid`` equals the giccid.
- ``i % 10 == 9`` → account ``globex`` (enterprise Globex); every other ``i`` → account ``acme``
  (enterprise Acme).
- ``sims=N`` is the size of the *primary* (acme) enterprise: indices run from 0 until acme holds
  exactly N SIMs (the smallest such count, so the last index is an acme SIM). The globex SIMs
  in between are extra: ``sims=250`` gives 277 SIMs, 250 acme and 27 globex.
- Every other value comes from ``random.Random(seed)``, drawn SIM by SIM in index order, in the
  order `_draw_sim` shows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime

GICCID_PREFIX = "894450"
PRIMARY_ACCOUNT = "acme"
PRIMARY_ENTERPRISE = "Acme"
OTHER_ACCOUNT = "globex"
OTHER_ENTERPRISE = "Globex"

STATUSES = ("TEST_READY", "INVENTORY", "ACTIVATION_READY", "ACTIVATED", "DEACTIVATED", "RETIRED")

ACME_BASIC = ("IoT-1GB", "IoT-5GB", "IoT-10GB")
ACME_SITES = ("berlin", "hamburg", "munich", "cologne", "frankfurt", "stuttgart")

# account -> [(plan name, type, prepaid)]
CATALOGUE: dict[str, tuple[tuple[str, str, bool], ...]] = {
    PRIMARY_ACCOUNT: (
        ("IoT-1GB", "BASIC", False),
        ("IoT-5GB", "BASIC", False),
        ("IoT-10GB", "BASIC", False),
        ("IoT-Unlimited", "BASIC", False),
        ("EU-Roaming-500MB", "SUPPLEMENTARY", True),
        ("US-Roaming-1GB", "SUPPLEMENTARY", True),
    ),
    OTHER_ACCOUNT: (
        ("Globex-Basic", "BASIC", False),
        ("Globex-Roam", "SUPPLEMENTARY", True),
    ),
}
ENTERPRISE_OF_ACCOUNT = {PRIMARY_ACCOUNT: PRIMARY_ENTERPRISE, OTHER_ACCOUNT: OTHER_ENTERPRISE}

# Seeded times fall in 2025 so that they never depend on "now".
_EPOCH_2025 = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())
_YEAR = 365 * 24 * 3600


def luhn_check_digit(digits: str) -> str:
    """The Luhn digit to append to ``digits``."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:  # doubled: rightmost of the payload sits next to the check digit
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    """True when the last digit of ``number`` is the Luhn check digit of the rest."""
    return len(number) >= 2 and number.isdigit() and luhn_check_digit(number[:-1]) == number[-1]


def giccid_for(index: int) -> str:
    body = f"{GICCID_PREFIX}{index:012d}"
    return body + luhn_check_digit(body)


def account_for(index: int) -> str:
    return OTHER_ACCOUNT if index % 10 == 9 else PRIMARY_ACCOUNT


def index_count(primary_sims: int) -> int:
    """How many indices are generated so that the primary account holds ``primary_sims``."""
    if primary_sims <= 0:
        return 0
    # acme holds count - count // 10 of the first `count` indices
    count = primary_sims + (primary_sims - 1) // 9
    while count - count // 10 < primary_sims:
        count += 1
    while count > 1 and (count - 1) - (count - 1) // 10 >= primary_sims:
        count -= 1
    return count


@dataclass(frozen=True, slots=True)
class SeedSim:
    """One seeded SIM, in the wire vocabulary (times as epoch seconds)."""

    index: int
    giccid: str
    account: str
    status: str
    basic_plan: str
    supplementary: tuple[str, ...]
    apns: tuple[tuple[str, str], ...]
    custom: tuple[str | None, str | None, str | None, str | None, str | None]
    imsi: str
    msisdn: str
    imei: str
    activated_time: int | None
    last_modified_time: int


def _draw_status(rng: random.Random) -> str:
    u = rng.random()
    if u < 0.70:
        return "ACTIVATED"
    if u < 0.85:
        return "DEACTIVATED"
    if u < 0.90:
        return "TEST_READY"
    if u < 0.94:
        return "INVENTORY"
    if u < 0.97:
        return "ACTIVATION_READY"
    return "RETIRED"


def _draw_sim(index: int, rng: random.Random) -> SeedSim:
    account = account_for(index)
    status = _draw_status(rng)
    imei_body = "35" + f"{rng.randrange(10**12):012d}"
    imei = imei_body + luhn_check_digit(imei_body)
    created = _EPOCH_2025 + rng.randrange(_YEAR // 2)
    activated = created + rng.randrange(_YEAR // 4)
    if account == PRIMARY_ACCOUNT:
        basic = rng.choice(ACME_BASIC)
        u = rng.random()
        supplementary: tuple[str, ...] = (
            ("EU-Roaming-500MB",) if u < 0.15 else ("US-Roaming-1GB",) if u < 0.25 else ()
        )
        apns = [("iot.acme", "ENABLED" if rng.random() < 0.9 else "DISABLED")]
        if rng.random() < 0.2:
            apns.append(("backup.acme", "ENABLED" if rng.random() < 0.5 else "DISABLED"))
        custom1 = rng.choice(ACME_SITES) if rng.random() < 0.6 else None
        custom2 = f"ASSET-{rng.randrange(100000):05d}" if rng.random() < 0.4 else None
        custom3 = "spare" if rng.random() < 0.05 else None
        custom = (custom1, custom2, custom3, None, None)
    else:
        basic = "Globex-Basic"
        supplementary = ()
        apns = [("m2m.globex", "ENABLED")]
        custom = (None, None, None, None, None)
    ever_active = status in ("ACTIVATED", "DEACTIVATED", "RETIRED")
    return SeedSim(
        index=index,
        giccid=giccid_for(index),
        account=account,
        status=status,
        basic_plan=basic,
        supplementary=supplementary,
        apns=tuple(apns),
        custom=custom,
        imsi=f"23450{index:010d}",
        msisdn=f"447900{index:07d}" if index < 10**7 else f"44{index:011d}",
        imei=imei,
        activated_time=activated if ever_active else None,
        last_modified_time=activated if ever_active else created,
    )


def seed_fleet(primary_sims: int, seed: int) -> list[SeedSim]:
    """The deterministic fleet for ``(primary_sims, seed)``, in index order."""
    rng = random.Random(seed)
    return [_draw_sim(index, rng) for index in range(index_count(primary_sims))]

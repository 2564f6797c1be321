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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

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


# a digit doubled the Luhn way (2d, less 9 when above 9): still one digit, so a doubled digit
# string can be summed like any other
_LUHN_DOUBLED = str.maketrans("0123456789", "0246813579")


def _luhn_total(digits: str) -> int:
    """The Luhn sum of a payload: string operations in C, not a Python step per digit."""
    if digits.strip("0123456789"):
        raise ValueError(f"not a string of digits: {digits!r}")
    backwards = digits[::-1]
    # the rightmost digit of the payload sits next to the check digit: it is doubled
    doubled = backwards[0::2].translate(_LUHN_DOUBLED)
    return sum(doubled.encode()) + sum(backwards[1::2].encode()) - 48 * len(digits)


def luhn_check_digit(digits: str) -> str:
    """The Luhn digit to append to ``digits`` (ASCII digits; ValueError otherwise)."""
    return str(-_luhn_total(digits) % 10)


@cache
def _quad_totals() -> tuple[int, ...]:
    """The Luhn sum of every 4-digit group at an even distance from the check digit."""
    return tuple(_luhn_total(f"{n:04d}") for n in range(10_000))


@cache
def _prefix_total(prefix: str) -> int:
    return _luhn_total(prefix + "0" * 12)


def with_check_digit(prefix: str, number: int) -> str:
    """``prefix`` + ``number`` in 12 digits + the Luhn check digit of both.

    The same digit as ``luhn_check_digit``, from three table lookups: seeding a million SIMs
    computes two million of these (giccid and imei).
    """
    body = f"{prefix}{number:012d}"
    if not 0 <= number < 10**12:
        return body + luhn_check_digit(body)
    quads = _quad_totals()
    total = (
        _prefix_total(prefix)
        + quads[number % 10_000]
        + quads[number // 10_000 % 10_000]
        + quads[number // 100_000_000]
    )
    return body + str(-total % 10)


def luhn_valid(number: str) -> bool:
    """True when the last digit of ``number`` is the Luhn check digit of the rest."""
    return len(number) >= 2 and number.isdigit() and luhn_check_digit(number[:-1]) == number[-1]


def giccid_for(index: int) -> str:
    return with_check_digit(GICCID_PREFIX, index)


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


@dataclass(slots=True)
class SeedSim:
    """One seeded SIM, in the wire vocabulary (times as epoch seconds).

    Not frozen, though nothing changes it: it is built a million times when seeding, and a
    frozen dataclass's ``__init__`` costs three times as much.
    """

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


_STATUS_CUTS = (
    (0.70, "ACTIVATED"),
    (0.85, "DEACTIVATED"),
    (0.90, "TEST_READY"),
    (0.94, "INVENTORY"),
    (0.97, "ACTIVATION_READY"),
)
_EVER_ACTIVE = frozenset({"ACTIVATED", "DEACTIVATED", "RETIRED"})
_ACME_SUPPLEMENTARY = (("EU-Roaming-500MB",), ("US-Roaming-1GB",), ())


def _draw_sim(index: int, rng: random.Random) -> SeedSim:
    """One SIM; the draws and their order are the seeding rule (see the module docstring).

    ``rng._randbelow(n)`` is what ``randrange(n)`` and ``choice`` draw with (the same numbers),
    without their argument checks: seeding a million SIMs makes seven million of these calls.
    """
    below: Callable[[int], int] = rng._randbelow  # type: ignore[attr-defined]
    draw = rng.random
    account = OTHER_ACCOUNT if index % 10 == 9 else PRIMARY_ACCOUNT
    u = draw()
    status = "RETIRED"
    for cut, name in _STATUS_CUTS:
        if u < cut:
            status = name
            break
    imei = with_check_digit("35", below(10**12))
    created = _EPOCH_2025 + below(_YEAR // 2)
    activated = created + below(_YEAR // 4)
    if account == PRIMARY_ACCOUNT:
        basic = ACME_BASIC[below(len(ACME_BASIC))]
        u = draw()
        supplementary = _ACME_SUPPLEMENTARY[0 if u < 0.15 else 1 if u < 0.25 else 2]
        primary_apn = ("iot.acme", "ENABLED" if draw() < 0.9 else "DISABLED")
        apns: tuple[tuple[str, str], ...] = (
            (primary_apn, ("backup.acme", "ENABLED" if draw() < 0.5 else "DISABLED"))
            if draw() < 0.2
            else (primary_apn,)
        )
        custom1 = ACME_SITES[below(len(ACME_SITES))] if draw() < 0.6 else None
        custom2 = f"ASSET-{below(100000):05d}" if draw() < 0.4 else None
        custom3 = "spare" if draw() < 0.05 else None
        custom: tuple[str | None, str | None, str | None, str | None, str | None] = (
            custom1,
            custom2,
            custom3,
            None,
            None,
        )
    else:
        basic = "Globex-Basic"
        supplementary = ()
        apns = (("m2m.globex", "ENABLED"),)
        custom = (None, None, None, None, None)
    ever_active = status in _EVER_ACTIVE
    return SeedSim(
        index,
        giccid_for(index),
        account,
        status,
        basic,
        supplementary,
        apns,
        custom,
        f"23450{index:010d}",
        f"447900{index:07d}" if index < 10**7 else f"44{index:011d}",
        imei,
        activated if ever_active else None,
        activated if ever_active else created,
    )


def iter_fleet(primary_sims: int, seed: int) -> Iterator[SeedSim]:
    """The deterministic fleet for ``(primary_sims, seed)``, in index order, one SIM at a time
    (a million SIMs are never held in memory at once)."""
    rng = random.Random(seed)
    for index in range(index_count(primary_sims)):
        yield _draw_sim(index, rng)


def seed_fleet(primary_sims: int, seed: int) -> list[SeedSim]:
    """The deterministic fleet for ``(primary_sims, seed)``, in index order."""
    return list(iter_fleet(primary_sims, seed))

"""``spec.rollout`` of a Fleet or SimGroup: from the YAML mapping to a `RolloutPolicy`.

The schema checks the shapes (a list of counts and ``"N%"`` shares, a duration, a fraction);
the rules between values are checked here, each reported at its place:

- steps increase: shares strictly, counts strictly, and no count after a share (whether 50
  SIMs is more than 10% depends on the wave, so the order would not be fixed);
- no share above 100%, and the last step is ``"100%"`` (a rollout that never covers every SIM
  would leave the rest unapplied);
- a soak is a sum of ``<number><h|m|s>`` parts (``1h30m``) or a number of seconds (the
  schema says only "text or a number", so the message can say how to write one);
- ``maxFailed`` is a fraction 0..1 or a percentage up to 100%.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from reconciler.model import RolloutPolicy, SourceRef

_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(h|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0}
_SHARE = re.compile(r"^[0-9]+(\.[0-9]+)?%$")

Report = Callable[[tuple[str | int, ...], str], None]


def parse_duration(text: str) -> float | None:
    """Seconds of ``30s``, ``10m``, ``1h30m``; None when it is not such a duration."""
    if not text or _DURATION_PART.sub("", text):
        return None
    return sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(text))


def _steps(value: object, report: Report) -> tuple[str, ...] | None:
    if not isinstance(value, list) or not value:
        return None  # the schema reported it
    steps: list[str] = []
    last_share: float | None = None
    last_count: int | None = None
    ok = True
    for index, entry in enumerate(value):
        where = ("steps", index)
        if isinstance(entry, int) and not isinstance(entry, bool):
            if entry < 1:
                return None
            if last_share is not None:
                report(
                    where,
                    f"step {entry} (a count) comes after a share: put counts first, then "
                    'shares, e.g. [10, "10%", "100%"]',
                )
                ok = False
            elif last_count is not None and entry <= last_count:
                report(where, f"step {entry} is not more than the step before it ({last_count})")
                ok = False
            last_count = entry
            steps.append(str(entry))
        elif isinstance(entry, str) and _SHARE.match(entry):
            share = float(entry[:-1])
            if share <= 0 or share > 100:
                report(where, f"step {entry!r} must be more than 0% and at most 100%")
                ok = False
            elif last_share is not None and share <= last_share:
                report(
                    where, f"step {entry!r} is not more than the step before it ({last_share:g}%)"
                )
                ok = False
            last_share = share
            steps.append(entry)
        else:
            return None  # the schema reported it
    if ok and (last_share is None or last_share != 100 or not steps[-1].endswith("%")):
        report(
            ("steps", len(value) - 1),
            f'the last step is {value[-1]!r}, but it must be "100%": every SIM of the wave '
            "goes in some step",
        )
        ok = False
    return tuple(steps) if ok else None


def _max_failed(value: object, report: Report) -> float | None:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if not 0 <= value <= 1:
            return None  # the schema reported it
        return float(value)
    if isinstance(value, str) and _SHARE.match(value):
        share = float(value[:-1])
        if share > 100:
            report(("maxFailed",), f"{value!r} is more than 100%")
            return None
        return share / 100
    return None


def parse_rollout(value: object, source: SourceRef, report: Report) -> RolloutPolicy | None:
    """The policy declared by ``value`` (the ``rollout`` mapping), or None when it is absent or
    wrong (each fault is passed to ``report`` with its path under ``rollout``)."""
    if not isinstance(value, dict):
        return None
    steps = _steps(value.get("steps"), report)
    soak_value = value.get("soak", 0)
    soak: float | None
    if isinstance(soak_value, bool):
        soak = None
    elif isinstance(soak_value, int | float):
        soak = float(soak_value) if soak_value >= 0 else None
    elif isinstance(soak_value, str):
        soak = parse_duration(soak_value)
        if soak is None:
            report(
                ("soak",),
                f"{soak_value!r} is not a duration: write it like 30s, 10m, 1h or 1h30m",
            )
    else:
        soak = None
    max_failed = _max_failed(value.get("maxFailed"), report)
    if steps is None or soak is None or max_failed is None:
        return None
    return RolloutPolicy(steps=steps, soak_seconds=soak, max_failed=max_failed, source=source)

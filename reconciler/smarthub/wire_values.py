"""SmartHub's wire format, its values: a SIM's path and its percent-encoded segments, the error
for a body that breaks the contract, and the readers of JSON objects, lists, strings, numbers,
flags and times every other wire module uses (`reconciler.smarthub.wire` says what the wire
modules share).

Liberal in what we accept: ``null`` where a list or string is expected reads as empty; times
as ``+0000``, ``Z``, ``+00:00`` or naive (read as UTC), epoch numbers too. A value that
cannot be understood raises `MalformedResponse` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from reconciler.errors import MalformedResponse

# --- paths ---------------------------------------------------------------------------------------

SIMS_PATH = "/global-sims"


def segment(value: str, what: str) -> str:
    """One path segment, percent-encoded (a ``/`` in an id must not open another path)."""
    if not value:
        raise ValueError(f"empty {what} in a SmartHub path")
    return quote(value, safe="")


def sim_path(iccid: str) -> str:
    return f"{SIMS_PATH}/{segment(iccid, 'giccid')}"


# --- errors -----------------------------------------------------------------------------------


def malformed(where: str, message: str) -> MalformedResponse:
    return MalformedResponse(f"{where}: {message}")


# --- scalar readers ----------------------------------------------------------------------------


def as_object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise malformed(where, f"expected a JSON object, got {type(value).__name__}")
    return value


def as_list(value: Any, where: str) -> Sequence[Any]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise malformed(where, f"expected a JSON array, got {type(value).__name__}")
    return value


def get_str(
    record: Mapping[str, Any], key: str, where: str, *, required: bool = False
) -> str | None:
    value = record.get(key)
    if value is None:
        if required:
            raise malformed(where, f"missing field {key!r}")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise malformed(where, f"field {key!r}: expected a string, got {type(value).__name__}")
    return str(value)


def get_int(record: Mapping[str, Any], key: str, where: str, default: int = 0) -> int:
    value = record.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        raise malformed(where, f"field {key!r}: expected an integer, got a boolean")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise malformed(where, f"field {key!r}: expected an integer, got {value!r}") from None


def parse_time(value: Any, *, field: str = "time") -> datetime | None:
    """Read a SmartHub time: ISO 8601 with ``+0000``, ``Z``, ``+00:00``, naive = UTC, or epoch."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 10**11 else value  # milliseconds, as the CDRs use
        return datetime.fromtimestamp(seconds, tz=UTC)
    if not isinstance(value, str):
        raise malformed(field, f"expected a time string, got {type(value).__name__}")
    text = value.strip()
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise malformed(field, f"not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_time(value: datetime) -> str:
    """``yyyy-MM-dd'T'HH:mm:ss+0000`` in UTC (naive datetimes are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def as_flag(value: Any) -> bool:
    """A boolean the contract assumes: JSON true/false, also "true"/"false" and 1/0 (a plain
    ``bool("false")`` would read true)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1")
    return bool(value)


def parse_object(raw: Any, where: str) -> dict[str, Any]:
    return dict(as_object(raw, where))

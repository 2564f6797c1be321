"""Push verification: parse a body, check its signature and age, and say why it is refused.

The contract (docs/smarthub-api.md, "Pushes"): every push carries ``datePush`` (epoch seconds) and
``signature`` = lowercase hex SHA-256 of the UTF-8 bytes of ``pushKey + str(datePush)``. The
signature does not cover the body, so it proves only that someone holding the key signed *a*
time; the receiver therefore bounds the clock skew, drops replayed ``eventId``s (`dedupe`) and
treats the event as a hint to re-read the SIM, never as the truth.

Order of checks, chosen so that a sender without the key learns nothing about what we accept:
size, JSON object, signature present and correct, ``datePush`` within the skew, then the
event's shape (known ``eventType``, matching the path's type, an ``eventId``, a ``giccid``
where one is needed). A push without ``eventId`` is refused with 422: the contract's body is
``{eventId, eventType, giccid, datePush, signature, data}`` and the id is what replays are
dropped by (`PushEvent.dedupe_key` says why no key is derived instead).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.clock import Clock
from reconciler.errors import PushRefused

EVENT_TYPES: frozenset[str] = frozenset(
    {
        "SIM_STATUS_CHANGE",
        "SIM_APN_STATUS_CHANGE",
        "IMEI_CHANGE",
        "CYCLE_USAGE_TRACKING",
        "NO_SESSION_CONNECTION",
        "PREPAID_PACKAGE_EXPIRED",
        "PREPAID_PACKAGE_TRAFFIC_TRACKING",
        "MO_SMS",
        "MT_SMS_STATUS_REPORT",
    }
)
# Events about a managed field: the receiver re-reads the SIM and diffs it against git.
RECHECK_EVENT_TYPES: frozenset[str] = frozenset({"SIM_STATUS_CHANGE", "SIM_APN_STATUS_CHANGE"})

DEFAULT_SKEW_SECONDS = 300.0
DEFAULT_MAX_BODY_BYTES = 64 * 1024


def sign(push_key: str, date_push: int | str) -> str:
    """The contract's signature: hex(SHA-256(pushKey + datePush)), lowercase."""
    return hashlib.sha256(f"{push_key}{date_push}".encode()).hexdigest()


# reason -> (status, title); the one table of refusals (tests iterate it).
REFUSALS: Mapping[str, tuple[int, str]] = {
    "body_too_large": (413, "Payload too large"),
    "body_timeout": (408, "Request body not received in time"),
    "bad_json": (400, "Bad Request"),
    "missing_signature": (401, "Missing signature"),
    "bad_signature": (401, "Invalid signature"),
    "stale": (401, "datePush outside the allowed clock skew"),
    "invalid_event": (422, "Validation Failed"),
    "unknown_event_type": (422, "Unknown event type"),
    "event_type_mismatch": (422, "Event type does not match the URL"),
}


def refuse(reason: str, detail: str | None = None) -> PushRefused:
    status, title = REFUSALS[reason]
    return PushRefused(status, reason, title, detail)


@dataclass(frozen=True, slots=True)
class PushEvent:
    """A verified push. ``data`` is the event's payload as sent (a hint, not the truth).

    ``signature`` is the normalised form that matched (lowercase hex, no surrounding blanks).
    """

    event_type: str
    date_push: int
    signature: str
    event_id: str
    giccid: str | None = None
    data: Any = None

    @property
    def dedupe_key(self) -> str:
        """The key replays are recognised by: the ``eventId``.

        Why a push without ``eventId`` is refused (422 ``invalid_event``) rather than keyed on
        (eventType, giccid, datePush, signature): the contract's body carries an ``eventId``,
        and a derived key cannot tell a replay from a new event. It collapses two different
        events for one SIM in one second, and it was bypassed by replaying the same body with
        the signature re-cased or padded (the check accepts ``ABC…`` and `` abc…``), so each
        such replay within the skew window cost a re-read. An id the sender chose is the one
        thing that names the event.
        """
        return f"id:{self.event_id}"

    @property
    def needs_recheck(self) -> bool:
        return self.event_type in RECHECK_EVENT_TYPES


def _date_push(value: object) -> int:
    # Epoch seconds as a JSON integer (the Java sample signs a long); a string of digits is
    # accepted too, since the signature covers its text form either way.
    if isinstance(value, bool):
        raise refuse("invalid_event", "datePush must be epoch seconds (an integer)")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
        return int(value)
    raise refuse("invalid_event", "datePush must be epoch seconds (an integer)")


class PushVerifier:
    """Checks bodies against the push key(s) and a clock skew bound (``clock.now()`` is trusted).

    Several keys may be given to rotate the key without downtime: configure the new key next
    to the old one, switch SmartHub over, then drop the old one. Every key is compared (no early
    exit), so the time taken does not tell which one matched.
    """

    def __init__(
        self,
        push_key: str | Sequence[str],
        clock: Clock,
        *,
        skew_seconds: float = DEFAULT_SKEW_SECONDS,
    ) -> None:
        keys = (push_key,) if isinstance(push_key, str) else tuple(push_key)
        if not keys or not all(keys):
            raise ValueError("the push key is empty")
        self._keys = keys
        self._clock = clock
        self.skew_seconds = skew_seconds

    def __repr__(self) -> str:
        return f"PushVerifier(push_key=<redacted>, skew_seconds={self.skew_seconds})"

    def verify(self, body: bytes, path_event_type: str | None = None) -> PushEvent:
        """Return the verified event or raise `PushRefused`."""
        try:
            doc = json.loads(body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise refuse("bad_json", f"the body is not valid JSON: {_short(exc)}") from None
        if not isinstance(doc, dict):
            raise refuse("bad_json", "the body must be a JSON object")

        signature = doc.get("signature")
        if "datePush" not in doc or signature is None:
            raise refuse("missing_signature", "datePush and signature are required")
        if not isinstance(signature, str):
            raise refuse("bad_signature", "signature must be a hex string")
        date_push = _date_push(doc["datePush"])
        given = signature.strip().lower().encode("utf-8")
        # Constant time over bytes (a non-ASCII signature must not raise inside compare_digest).
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(sign(key, date_push).encode("ascii"), given)
        if not matched:
            raise refuse("bad_signature", "the signature does not match the push key")

        age = self._clock.now() - date_push
        if abs(age) > self.skew_seconds:
            when = "old" if age > 0 else "in the future"
            raise refuse(
                "stale",
                f"datePush is {abs(age):.0f} s {when}; at most {self.skew_seconds:.0f} s allowed",
            )

        event_type = doc.get("eventType")
        if not isinstance(event_type, str) or not event_type:
            raise refuse("invalid_event", "eventType is required")
        if event_type not in EVENT_TYPES:
            raise refuse("unknown_event_type", f"unknown eventType {event_type[:64]!r}")
        if path_event_type is not None and path_event_type != event_type:
            raise refuse(
                "event_type_mismatch",
                f"the URL is for {path_event_type[:64]!r} but the body says {event_type!r}",
            )
        raw_id = doc.get("eventId")
        if raw_id is None:
            # Required: it is the only key replays can be dropped by (see `dedupe_key`).
            raise refuse("invalid_event", "eventId is required (replays are dropped by it)")
        if isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
            raise refuse("invalid_event", "eventId must be a string")
        event_id = str(raw_id)
        if not event_id or len(event_id) > 200:
            raise refuse("invalid_event", "eventId must be 1 to 200 characters")
        giccid = doc.get("giccid")
        if giccid is not None and not isinstance(giccid, str):
            raise refuse("invalid_event", "giccid must be a string")
        if event_type in RECHECK_EVENT_TYPES and not _is_giccid(giccid):
            raise refuse("invalid_event", f"{event_type} needs a giccid of 19 or 20 digits")
        return PushEvent(
            event_type=event_type,
            date_push=date_push,
            signature=given.decode("utf-8"),
            event_id=event_id,
            giccid=giccid,
            data=doc.get("data"),
        )


def _is_giccid(value: object) -> bool:
    return isinstance(value, str) and value.isascii() and value.isdigit() and 19 <= len(value) <= 20


def _short(exc: Exception) -> str:
    return str(exc)[:120]

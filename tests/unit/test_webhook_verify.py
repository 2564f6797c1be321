"""Push verification: the contract's check vector, every refusal, and fuzzed bodies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.clock import FakeClock
from reconciler.errors import ConfigError, PushRefused
from reconciler.webhook.run import PUSH_KEY_ENV, read_push_key
from reconciler.webhook.verify import REFUSALS, PushVerifier, sign

KEY = "UzE4MDkxNDA2MTE1M"
NOW = 1725499848
GICCID = "8944500000000000017"


def test_signature_matches_the_contracts_check_vector() -> None:
    assert sign(KEY, 1725499848) == (
        "58210277eeea982589a3f2c5711ce5ac23a866298d77fcb5c30bb1e0aa9c345f"
    )


def body(**overrides: Any) -> bytes:
    doc: dict[str, Any] = {
        "eventId": "ev-1",
        "eventType": "SIM_STATUS_CHANGE",
        "giccid": GICCID,
        "datePush": NOW,
        "signature": sign(KEY, NOW),
        "data": {"status": "DEACTIVATED"},
    }
    doc.update(overrides)
    return json.dumps({k: v for k, v in doc.items() if v is not ...}).encode()


@pytest.fixture
def verifier() -> PushVerifier:
    return PushVerifier(KEY, FakeClock(start=NOW), skew_seconds=300)


def refused(verifier: PushVerifier, raw: bytes, path_type: str | None = None) -> PushRefused:
    with pytest.raises(PushRefused) as info:
        verifier.verify(raw, path_type)
    assert KEY not in str(info.value)
    return info.value


def test_a_signed_current_event_is_accepted(verifier: PushVerifier) -> None:
    event = verifier.verify(body())
    assert (event.event_id, event.event_type, event.giccid) == ("ev-1", "SIM_STATUS_CHANGE", GICCID)
    assert event.needs_recheck
    assert event.data == {"status": "DEACTIVATED"}


def test_the_check_vector_verifies_at_its_own_time(verifier: PushVerifier) -> None:
    raw = body(signature="58210277eeea982589a3f2c5711ce5ac23a866298d77fcb5c30bb1e0aa9c345f")
    assert verifier.verify(raw).date_push == 1725499848


def test_uppercase_hex_and_a_digit_string_date_are_accepted(verifier: PushVerifier) -> None:
    event = verifier.verify(body(datePush=str(NOW), signature=sign(KEY, NOW).upper()))
    assert event.date_push == NOW


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (body(signature="0" * 64), "bad_signature"),
        (body(signature=sign("another-key", NOW)), "bad_signature"),
        (body(signature="é" * 64), "bad_signature"),
        (body(signature=12), "bad_signature"),
        (body(signature=...), "missing_signature"),
        (body(datePush=...), "missing_signature"),
        (body(datePush=NOW - 3600, signature=sign(KEY, NOW - 3600)), "stale"),
        (body(datePush=NOW + 301, signature=sign(KEY, NOW + 301)), "stale"),
        (body(datePush=True), "invalid_event"),
        (body(datePush=1.5), "invalid_event"),
        (b"{not json", "bad_json"),
        (b"\xff\xfe", "bad_json"),
        (b"[1, 2]", "bad_json"),
        (b"", "bad_json"),
        (body(eventType="SIM_EXPLODED"), "unknown_event_type"),
        (body(eventType=...), "invalid_event"),
        (body(eventType=7), "invalid_event"),
        (body(giccid=...), "invalid_event"),
        (body(giccid="12345"), "invalid_event"),
        (body(giccid=894450000000000017), "invalid_event"),
        (body(eventId=""), "invalid_event"),
        (body(eventId=["a"]), "invalid_event"),
    ],
)
def test_refusals(verifier: PushVerifier, raw: bytes, reason: str) -> None:
    refusal = refused(verifier, raw)
    assert refusal.reason == reason
    assert refusal.status == REFUSALS[reason][0]
    assert 400 <= refusal.status < 500


def test_skew_bound_is_inclusive_and_configurable() -> None:
    clock = FakeClock(start=NOW + 300)
    assert PushVerifier(KEY, clock, skew_seconds=300).verify(body()).date_push == NOW
    clock.advance(1)
    assert refused(PushVerifier(KEY, clock, skew_seconds=300), body()).reason == "stale"
    assert PushVerifier(KEY, clock, skew_seconds=600).verify(body()).date_push == NOW


def test_path_type_must_match_the_body(verifier: PushVerifier) -> None:
    assert verifier.verify(body(), "SIM_STATUS_CHANGE").event_type == "SIM_STATUS_CHANGE"
    refusal = refused(verifier, body(), "SIM_APN_STATUS_CHANGE")
    assert (refusal.reason, refusal.status) == ("event_type_mismatch", 422)
    assert refused(verifier, body(), "NOPE").reason == "event_type_mismatch"


def test_signature_is_checked_before_the_shape(verifier: PushVerifier) -> None:
    # A sender without the key learns nothing about which event types exist.
    raw = body(eventType="SIM_EXPLODED", signature="0" * 64)
    assert refused(verifier, raw).reason == "bad_signature"


def test_events_that_need_no_recheck_may_omit_the_giccid(verifier: PushVerifier) -> None:
    event = verifier.verify(body(eventType="MO_SMS", giccid=...))
    assert not event.needs_recheck
    assert event.giccid is None


def test_dedupe_key_is_the_event_id(verifier: PushVerifier) -> None:
    assert verifier.verify(body()).dedupe_key == "id:ev-1"
    assert verifier.verify(body(eventId=42)).dedupe_key == "id:42"
    # a replay with the signature re-cased or padded is still the same event
    recased = body(signature=" " + sign(KEY, NOW).upper() + " ", datePush=str(NOW))
    assert verifier.verify(recased).dedupe_key == "id:ev-1"
    assert verifier.verify(recased).signature == sign(KEY, NOW)


def test_a_push_without_event_id_is_refused(verifier: PushVerifier) -> None:
    for raw in (body(eventId=...), body(eventId=None)):
        refusal = refused(verifier, raw)
        assert (refusal.reason, refusal.status) == ("invalid_event", 422)
        assert "eventId is required" in str(refusal)


def test_the_key_is_not_in_the_verifiers_repr(verifier: PushVerifier) -> None:
    assert KEY not in repr(verifier)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
fields = st.fixed_dictionaries(
    {},
    optional={
        "eventId": json_values,
        "eventType": st.sampled_from(["SIM_STATUS_CHANGE", "MO_SMS", "X"]) | json_values,
        "giccid": st.just(GICCID) | json_values,
        "datePush": st.just(NOW) | json_values,
        "signature": st.just(sign(KEY, NOW)) | json_values,
        "data": json_values,
    },
)


@settings(max_examples=300, deadline=None)
@given(doc=fields)
def test_any_json_body_is_accepted_or_refused_with_4xx(doc: dict[str, Any]) -> None:
    verifier = PushVerifier(KEY, FakeClock(start=NOW))
    try:
        event = verifier.verify(json.dumps(doc).encode())
    except PushRefused as refusal:
        assert 400 <= refusal.status < 500
    else:
        assert event.signature.lower() == sign(KEY, event.date_push)


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=200))
def test_any_bytes_are_accepted_or_refused_with_4xx(raw: bytes) -> None:
    verifier = PushVerifier(KEY, FakeClock(start=NOW))
    with pytest.raises(PushRefused) as info:
        verifier.verify(raw)
    assert 400 <= info.value.status < 500


def test_any_of_several_keys_verifies_while_rotating() -> None:
    verifier = PushVerifier(["old-key", KEY], FakeClock(start=NOW))
    assert verifier.verify(body()).event_id == "ev-1"
    assert verifier.verify(body(signature=sign("old-key", NOW))).event_id == "ev-1"
    assert refused(verifier, body(signature=sign("third", NOW))).reason == "bad_signature"
    with pytest.raises(ValueError):
        PushVerifier([], FakeClock())
    with pytest.raises(ValueError):
        PushVerifier("", FakeClock())


def test_push_keys_come_from_the_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PUSH_KEY_ENV, f" {KEY}\n")
    assert read_push_key(None) == (KEY,)
    key_file = tmp_path / "keys"
    key_file.write_text(f"# rotating: new first\nnew-key\n\n  {KEY}  \n")
    assert read_push_key(key_file) == ("new-key", KEY)
    monkeypatch.delenv(PUSH_KEY_ENV)
    with pytest.raises(ConfigError, match="no push key"):
        read_push_key(None)
    key_file.write_text("# nothing\n\n")
    with pytest.raises(ConfigError, match="is empty"):
        read_push_key(key_file)
    with pytest.raises(ConfigError, match="cannot read") as info:
        read_push_key(tmp_path / "absent")
    assert KEY not in str(info.value)


def test_a_push_key_file_that_is_not_text_is_a_clear_error(tmp_path: Path) -> None:
    key_file = tmp_path / "keys"
    key_file.write_bytes(b"\xff\xfe" + KEY.encode())
    with pytest.raises(ConfigError, match=f"cannot read the push key file {key_file}: not UTF-8"):
        read_push_key(key_file)

"""Properties of the wire helpers (hypothesis): Link headers and times survive any layout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from reconciler.smarthub import wire

URL_CHARS = st.sampled_from("abcxyz0123456789/?&=.:-_%,;")
RELS = st.sampled_from(["next", "prev", "first", "last", "alternate", "self"])
WS = st.text(alphabet=" \t\r\n", max_size=3)
QUOTED = st.text(alphabet="abc ,;=<>", max_size=8)


@st.composite
def links(draw: st.DrawFn) -> list[tuple[str, list[str], str]]:
    """Links as (target, rels, title) triples."""
    count = draw(st.integers(min_value=0, max_value=5))
    return [
        (
            "https://h.example/v1/" + draw(st.text(URL_CHARS, max_size=20)),
            draw(st.lists(RELS, min_size=1, max_size=3, unique=True)),
            draw(QUOTED),
        )
        for _ in range(count)
    ]


@st.composite
def header_for(draw: st.DrawFn, items: list[tuple[str, list[str], str]]) -> str:
    parts = []
    for target, rels, title in items:
        rel_value = " ".join(rels)
        if len(rels) == 1 and draw(st.booleans()):
            rel_param = f"rel={rel_value}"  # a bare token
        else:
            rel_param = f'rel="{rel_value}"'
        params = [rel_param, f'title="{title}"']
        if draw(st.booleans()):
            params.reverse()
        text = f"<{target}>"
        for param in params:
            text += f"{draw(WS)};{draw(WS)}{param}"
        parts.append(text)
    header = ""
    for index, part in enumerate(parts):
        if index:
            header += f"{draw(WS)},{draw(WS)}"
        header += part
    return draw(WS) + header + draw(WS)


@given(st.data())
def test_link_header_round_trips(data: st.DataObject) -> None:
    items = data.draw(links())
    header = data.draw(header_for(items))
    parsed = wire.parse_link_header(header)
    assert [target for target, _ in parsed] == [target for target, _, _ in items]
    for (_, params), (_, rels, title) in zip(parsed, items, strict=True):
        assert params["rel"].split() == rels
        assert params["title"] == title
    expected_next = next((t for t, rels, _ in items if "next" in rels), None)
    assert wire.link_rel(header, "next") == expected_next


@given(st.text(max_size=200))
def test_link_parser_never_crashes(header: str) -> None:
    for target, params in wire.parse_link_header(header):
        assert isinstance(target, str)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in params.items())


@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2999, 12, 31), timezones=st.just(UTC)
    ),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_times_round_trip_whatever_the_offset(moment: datetime, offset_minutes: int) -> None:
    moment = moment.replace(microsecond=0)
    sent = wire.format_time(moment)
    assert sent.endswith("+0000")
    assert wire.parse_time(sent) == moment
    shifted = moment.astimezone(timezone(timedelta(minutes=offset_minutes)))
    assert wire.parse_time(shifted.isoformat()) == moment
    assert wire.parse_time(moment.strftime("%Y-%m-%dT%H:%M:%SZ")) == moment

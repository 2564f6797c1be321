"""SmartHub's wire format, its HTTP envelope: problem documents (RFC 9457), the rate-limit
headers (``X-RateLimit-*``, ``Retry-After``) and the ``Link`` header (RFC 8288) the list's pages
are followed by. Tolerant of anything: a garbled header reads as absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.errors import ApiFieldError

RATE_LIMIT_HEADER = "X-RateLimit-Limit"
RATE_REMAINING_HEADER = "X-RateLimit-Remaining"
RATE_RESET_HEADER = "X-RateLimit-Reset"

# --- problem documents and rate headers ---------------------------------------------------------


def parse_problem(raw: Any) -> tuple[str | None, str | None, list[ApiFieldError]]:
    """``(title, detail, errors)`` from a problem document; tolerant of anything."""
    if not isinstance(raw, Mapping):
        return None, None, []
    title = raw.get("title")
    detail = raw.get("detail")
    errors: list[ApiFieldError] = []
    raw_errors = raw.get("errors")
    if isinstance(raw_errors, list):
        for item in raw_errors:
            if not isinstance(item, Mapping):
                continue

            def text(key: str, item: Mapping[str, Any] = item) -> str | None:
                value = item.get(key)
                return None if value is None else str(value)

            errors.append(
                ApiFieldError(
                    resource=text("resource"),
                    field=text("field"),
                    code=text("code"),
                    message=text("message"),
                )
            )
    return (
        None if title is None else str(title),
        None if detail is None else str(detail),
        errors,
    )


# A Reset larger than this is an epoch time, not "seconds until": some APIs send that (GitHub's
# does), and the vendor's wording ("current request limit reset time") allows it.
_EPOCH_THRESHOLD = 1_000_000_000


def parse_rate_headers(
    headers: Mapping[str, str], now: float | None = None
) -> tuple[int, int, float] | None:
    """``(limit, remaining, reset_seconds)`` or None when the headers are absent or garbled.

    The contract's Reset is seconds until the window resets; an epoch-seconds Reset is
    converted with ``now`` (wall-clock epoch seconds) when given.
    """
    try:
        limit_text = headers.get(RATE_LIMIT_HEADER)
        remaining_text = headers.get(RATE_REMAINING_HEADER)
        reset_text = headers.get(RATE_RESET_HEADER)
        if limit_text is None or remaining_text is None or reset_text is None:
            return None
        limit = int(float(limit_text))
        remaining = int(float(remaining_text))
        reset = float(reset_text)
    except ValueError:
        return None
    if reset > _EPOCH_THRESHOLD and now is not None:
        reset -= now
    return limit, max(remaining, 0), max(reset, 0.0)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` in seconds (the delta form; an HTTP date is ignored)."""
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


# --- Link header (RFC 8288) ---------------------------------------------------------------------


def parse_link_header(value: str) -> list[tuple[str, dict[str, str]]]:
    """Every link of a ``Link`` header as ``(target, params)``, params' names lower-cased.

    Handles several links, quoted and bare parameter values, commas and semicolons inside
    quotes or angle brackets, and whitespace or line breaks anywhere between tokens (the
    vendor's own sample breaks the line after ``;``).
    """
    links: list[tuple[str, dict[str, str]]] = []
    pos, end = 0, len(value)

    def skip_ws(i: int) -> int:
        while i < end and value[i] in " \t\r\n":
            i += 1
        return i

    while pos < end:
        pos = skip_ws(pos)
        if pos >= end:
            break
        if value[pos] == ",":
            pos += 1
            continue
        if value[pos] != "<":
            # garbage: skip to the next link
            nxt = value.find(",", pos)
            pos = end if nxt < 0 else nxt + 1
            continue
        close = value.find(">", pos + 1)
        if close < 0:
            break
        target = value[pos + 1 : close].strip()
        pos = close + 1
        params: dict[str, str] = {}
        while True:
            pos = skip_ws(pos)
            if pos >= end or value[pos] == ",":
                break
            if value[pos] != ";":
                pos += 1
                continue
            pos = skip_ws(pos + 1)
            start = pos
            while pos < end and value[pos] not in "=;, \t\r\n":
                pos += 1
            name = value[start:pos].lower()
            pos = skip_ws(pos)
            param_value = ""
            if pos < end and value[pos] == "=":
                pos = skip_ws(pos + 1)
                if pos < end and value[pos] == '"':
                    pos += 1
                    chars: list[str] = []
                    while pos < end and value[pos] != '"':
                        if value[pos] == "\\" and pos + 1 < end:
                            pos += 1
                        chars.append(value[pos])
                        pos += 1
                    pos += 1  # closing quote
                    param_value = "".join(chars)
                else:
                    start = pos
                    while pos < end and value[pos] not in ";, \t\r\n":
                        pos += 1
                    param_value = value[start:pos]
            if name and name not in params:  # RFC 8288: the first occurrence wins
                params[name] = param_value
        links.append((target, params))
    return links


def link_rel(value: str | None, rel: str) -> str | None:
    """The target of the first link whose ``rel`` (a space-separated list) holds ``rel``."""
    if not value:
        return None
    for target, params in parse_link_header(value):
        if rel.lower() in params.get("rel", "").lower().split():
            return target
    return None

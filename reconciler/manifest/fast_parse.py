"""The fast manifest path's parsing (`reconciler.manifest.fast`): yaml-rs for the values of a
file whose text holds nothing where yaml-rs (YAML 1.2) and the marked path (PyYAML, YAML 1.1
plus our refusals) could read differently, and a check of the values for the same.
"""

from __future__ import annotations

import re

import yaml_rs

from reconciler.manifest.documents import MAX_DEPTH
from reconciler.manifest.places import Unsure as _Unsure

# Anything in the text where the two parsers could read differently, or the marked path refuses
# (a directive, a document end marker, a character PyYAML does not take): each a C scan.
_UNSAFE_TEXT = ("&", "*", "!", "\\", "\t", "\r", "\x85", "\u2028", "\u2029", "\ufeff", "<<")
_UNSAFE_LINE = ("%", "...")
_NOT_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


def _unsafe(text: str) -> bool:
    if any(mark in text for mark in _UNSAFE_TEXT):
        return True
    if any(text.startswith(mark) or "\n" + mark in text for mark in _UNSAFE_LINE):
        return True
    if text.isascii():  # the usual case: one C pass deleting what is allowed, not a regex
        return bool(text.encode("ascii").translate(None, _ASCII_ALLOWED))
    return _NOT_PRINTABLE.search(text) is not None


_ASCII_ALLOWED = bytes(range(0x20, 0x7F)) + b"\t\n\r"  # ASCII but its control characters


_DOCUMENT_START = re.compile(r"^---(?=[ \n]|$)", re.MULTILINE)
_CONTENT = re.compile(r"^[ ]*[^#\s]", re.MULTILINE)
# Text YAML 1.1 (the marked path) reads as a bool, number, null, "=" or merge key when it is
# written unquoted; yaml-rs (YAML 1.2) reads several of them as text. PyYAML's own patterns.
_YAML11 = re.compile(
    r"""^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF
    |[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+
    |[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+
    |[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)
    |~|null|Null|NULL|=|<<)$""",
    re.VERBOSE,
)
YAML11_FIRST = frozenset("-+.0123456789yYnNtTfFoO~=<")
_DUPLICATES = yaml_rs.DuplicateKeyPolicy.Error


# _Unsure: the fast path cannot vouch for this input: the marked path decides (the scanner of
# `reconciler.manifest.places` raises the same)


def fast_documents(data: bytes, file: str) -> list[object] | None:
    """The values of the file's non-empty documents, in order, or None: read it the marked way.

    The values still need `check_value` (the loader checks SIM entries its own way) before they can
    be taken for what the marked path would build.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if _unsafe(text):
        return None
    # the text before the first "---" is a document only if it holds more than comments
    # (the regular expression tries every position: only for a file that has a "---")
    has_start = text.startswith("---") or "\n---" in text
    pieces = _DOCUMENT_START.split(text) if has_start else [text]
    documents: list[object] = []
    for body in pieces:
        try:
            value = yaml_rs.loads(body, parse_datetime=False, duplicate_key_policy=_DUPLICATES)
        except Exception:  # any refusal, crash or limit: the marked path reports it
            return None
        if value is None:
            if _CONTENT.search(body) is not None:
                return None  # "null" or "~" written out: a document the marked path keeps
            continue
        documents.append(value)
    return documents


def plain_text(value: str) -> str:
    """``value``, or `_Unsure` if the marked path could have read it as something else."""
    if value and value[0] in YAML11_FIRST and _YAML11.match(value) and not value.isdigit():
        raise _Unsure
    return value


def check_value(value: object, depth: int) -> None:
    """Raise `_Unsure` where the marked path could build another value than yaml-rs did."""
    if isinstance(value, str):
        plain_text(value)
        return
    if value is None or value is True or value is False:
        return
    if depth >= MAX_DEPTH - 2:
        raise _Unsure
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise _Unsure
            if not isinstance(item, str) or (item and item[0] in YAML11_FIRST):
                check_value(item, depth + 1)
        return
    if isinstance(value, list):
        for item in value:
            if not isinstance(item, str) or (item and item[0] in YAML11_FIRST):
                check_value(item, depth + 1)
        return
    raise _Unsure  # a number: its spelling matters (an unquoted ICCID, 010, 1_000)

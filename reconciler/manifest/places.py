"""Where a value of a plainly written manifest is, found without composing the file again.

The fast loader (`reconciler.manifest.fast`) builds values with yaml-rs, which keeps no line
numbers; a place is needed only where a message or a plan points (a changed field, a missing
SIM). Composing the file with the marked parser (`reconciler.manifest.documents`) to find one
place costs as much as the marked load of the whole file, so this module reads the text itself:
a scanner of the plain block YAML that manifests are written in, one line at a time. It gives
exactly the (line, column) that `Document.mark` gives:

- for a scalar, where the value starts (its quote, if quoted; for a value left empty after
  ``key:``, just after the colon, where PyYAML puts the empty scalar);
- for a mapping or a sequence under a key, where the key starts;
- for an item of a sequence, where the item starts (after the ``- ``, or the ``{`` / ``[``);
- for a document, where its root node starts.

What it reads: block mappings and block sequences (compact ``- key: value`` items included, and
a sequence at its key's indentation), plain and quoted scalars on one line, flow mappings and
sequences that close on the line they open, comments, blank lines, ``---``. The files it is
given already passed `fast_parse.fast_documents`, so they hold no anchor, alias, tag,
directive, tab, backslash or carriage return. Anything else (a block scalar ``|``/``>``, a
plain or quoted scalar running over lines, a flow collection over lines, an explicit key
``?``, ``''`` in a quoted key, content after ``---``, an empty item, a comment inside a flow
collection, ``:`` inside a plain flow scalar...) raises `Unsure`, and the caller asks the
marked parser instead. The caller also checks what was read against the values yaml-rs built
(`scan_document` returns its values, `scan_item` the item's), so a misreading shows as a
difference, never as a wrong place.

The SIM entries of a big group are not read when the document is: `scan_document` only notes
where each item of the sequence at ``defer`` starts (a comparison of indentation per line), and
`scan_item` reads one item when its places are asked for. A plan asks for the SIMs it changes.
"""

from __future__ import annotations

import re
from array import array
from dataclasses import dataclass

from reconciler.errors import FastPathUnsure

Path = tuple[str | int, ...]
Mark = tuple[int, int]  # 1-based (line, column), as `reconciler.manifest.documents.Mark`


# the scanner cannot vouch for this text: ask the marked parser
Unsure = FastPathUnsure


# a mapping key on a block line: plain (a conservative alphabet), or quoted on one line
_KEY = re.compile(r"""(?:([A-Za-z0-9_][A-Za-z0-9_.\-/]*)|"([^"]*)"|'([^']*)'):(?= |$)""")
# what may follow a scalar or a flow collection on its line: spaces, then a comment
_TAIL = re.compile(r"(?:[ ]+#.*|[ ]*)$")
_NO_PLAIN_START = frozenset(",[]{}#&*!|>%@`")
_NULLS = frozenset(("null", "Null", "NULL", "~", ""))
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False}
_BOOLS["FALSE"] = False
_HEADS: dict[int, re.Pattern[str]] = {}  # lines with content no deeper than n spaces, by n
_DOCUMENT_START = re.compile(r"---(?:[ ]+(?:#.*)?)?$")


def _plain_value(text: str) -> object:
    """The value of a plain scalar as the loaders build it (text, null or a bool: the files
    here hold no number, `fast_parse.check_value` refused them)."""
    if text in _NULLS:
        return None
    return _BOOLS.get(text, text)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_dash(line: str, at: int) -> bool:
    return line.startswith("-", at) and (len(line) == at + 1 or line[at + 1] == " ")


def _blank(line: str) -> bool:
    """Nothing but spaces, or a comment."""
    stripped = line.lstrip(" ")
    return not stripped or stripped[0] == "#"


@dataclass(slots=True)
class Deferred:
    """Where the items of the deferred sequence start: their lines (0-based, in the file) and
    character offsets (in the file's text), with the end of the last item."""

    indent: int
    lines: array[int]
    offsets: array[int]


class _Scanner:
    """Reads ``lines`` (the file's lines ``base``... of it) into values, noting places."""

    def __init__(
        self,
        lines: list[str],
        base: int,
        defer: Path | None = None,
        offset: int = 0,
        text: str = "",
    ) -> None:
        self.text = text  # the file's text (for `skip_items`)
        self.lines = lines
        self.base = base  # 0-based line number of lines[0] in the file
        self.offset = offset  # character offset of lines[0] in the file's text
        self.end = len(lines)
        self.marks: dict[Path, Mark] = {}
        self.defer = defer
        self.deferred: Deferred | None = None

    def mark(self, index: int, column: int) -> Mark:
        return (self.base + index + 1, column + 1)

    def next_content(self, index: int) -> int:
        lines, end = self.lines, self.end
        while index < end and _blank(lines[index]):
            index += 1
        return index

    def continues(self, index: int, indent: int) -> bool:
        """Whether a plain scalar ending on line ``index`` goes on below (then: `Unsure`): the
        next line that is not empty, unless it is a comment, indented deeper than ``indent``."""
        lines, end = self.lines, self.end
        index += 1
        while index < end:
            stripped = lines[index].lstrip(" ")
            if stripped:
                return stripped[0] != "#" and _indent(lines[index]) > indent
            index += 1
        return False

    # --- block collections ----------------------------------------------------------------

    def node_below(self, index: int, parent: int, path: Path) -> tuple[object, Mark, bool, int]:
        """The block node starting on line ``index`` (its content at an indentation deeper than
        ``parent``): (value, mark, is a scalar, the line after it)."""
        line = self.lines[index]
        indent = _indent(line)
        if _is_dash(line, indent):
            items, after = self.sequence(index, indent, path, indentless=False)
            return items, self.mark(index, indent), False, after
        if _KEY.match(line, indent):
            return self.mapping(index, indent, path)
        value, mark, scalar = self.inline(index, indent, parent, path)
        return value, mark, scalar, index + 1

    def mapping(self, index: int, indent: int, path: Path) -> tuple[object, Mark, bool, int]:
        """The block mapping whose first key is on line ``index`` at column ``indent``."""
        lines = self.lines
        out: dict[str, object] = {}
        start = self.mark(index, indent)
        while True:
            line = lines[index]
            found = _KEY.match(line, indent)
            if found is None:
                raise Unsure
            plain, double, single = found.groups()
            key = plain if plain is not None else double if double is not None else single
            assert key is not None
            if key in out:
                raise Unsure
            here = (*path, key)
            key_mark = self.mark(index, indent)
            colon = found.end()  # just after the ":"
            rest = colon
            while rest < len(line) and line[rest] == " ":
                rest += 1
            if rest < len(line) and line[rest] != "#":
                value, mark, scalar = self.inline(index, rest, indent, here)
                index += 1
            else:
                value, mark, scalar, index = self.value_below(index, indent, colon, here)
            self.marks[here] = mark if scalar else key_mark
            out[key] = value
            index = self.next_content(index)
            if index >= self.end:
                break
            line = lines[index]
            at = _indent(line)
            if at < indent:
                break
            if at > indent or _is_dash(line, at):
                raise Unsure
        return out, start, False, index

    def value_below(
        self, index: int, indent: int, colon: int, path: Path
    ) -> tuple[object, Mark, bool, int]:
        """The value of a key with nothing after its colon on line ``index``: the block node on
        the lines below, or empty (null)."""
        below = self.next_content(index + 1)
        if below < self.end:
            line = self.lines[below]
            at = _indent(line)
            if at > indent or (at == indent and _is_dash(line, at)):
                if path == self.defer and _is_dash(line, at):
                    count, after = self.skip_items(below, at, indentless=at == indent)
                    return count, self.mark(below, at), False, after
                if at == indent:  # a sequence at its key's indentation
                    value, after = self.sequence(below, at, path, indentless=True)
                    return value, self.mark(below, at), False, after
                return self.node_below(below, indent, path)
        return None, self.mark(index, colon), True, index + 1

    def sequence(
        self, index: int, indent: int, path: Path, *, indentless: bool, first: int = 0
    ) -> tuple[list[object], int]:
        """The block sequence whose first ``-`` is on line ``index`` at column ``indent``; its
        first item is item ``first`` (`scan_item` reads one item of a longer sequence)."""
        lines = self.lines
        items: list[object] = []
        while True:
            line = lines[index]
            here = (*path, first + len(items))
            at = indent + 1
            while at < len(line) and line[at] == " ":
                at += 1
            if at >= len(line) or line[at] == "#":  # the item starts on a line below
                below = self.next_content(index + 1)
                if below >= self.end or _indent(lines[below]) <= indent:
                    raise Unsure  # an empty item
                value, mark, _, index = self.node_below(below, indent, here)
            elif _is_dash(line, at):
                raise Unsure  # a sequence in a sequence, on one line
            elif _KEY.match(line, at):  # a compact mapping: ``- key: value``
                value, mark, _, index = self.mapping(index, at, here)
            else:
                value, mark, _ = self.inline(index, at, indent, here)
                index += 1
            self.marks[here] = mark
            items.append(value)
            index = self.next_content(index)
            if index >= self.end:
                break
            line = lines[index]
            at = _indent(line)
            if at < indent:
                break
            if at > indent:
                raise Unsure
            if not _is_dash(line, at):
                if indentless:
                    break  # the next key of the mapping the sequence is the value of
                raise Unsure
        return items, index

    def skip_items(self, index: int, indent: int, *, indentless: bool) -> tuple[int, int]:
        """Note where each item of the sequence at ``index`` starts, reading no item: (how
        many, the line after the sequence). An item's lines are read by `scan_item`.

        The lines that matter are those with content no deeper than the dash: one regular
        expression finds them, so the item's own lines (deeper, empty, comments) cost no Python
        step."""
        text = self.text
        lines = self.lines
        start = self.offset + sum(len(line) + 1 for line in lines[:index])
        stop = min(len(text), self.offset + sum(len(line) + 1 for line in lines))
        heads = _HEADS.get(indent)
        if heads is None:
            heads = _HEADS[indent] = re.compile(f"^ {{0,{indent}}}(?=[^ \n#])", re.MULTILINE)
        number = self.base + index
        starts: array[int] = array("q", [number])
        offsets: array[int] = array("q", [start])
        previous = start
        finish = stop
        newline = text.find("\n", start, stop)
        for found in heads.finditer(text, stop if newline < 0 else newline + 1, stop):
            at, head = found.start(), found.end()
            number += text.count("\n", previous, at)
            previous = at
            if (
                head - at == indent
                and text.startswith("-", head)
                and (head + 1 >= len(text) or text[head + 1] in " \n")
            ):
                starts.append(number)
                offsets.append(at)
                continue
            if head - at < indent or indentless:
                finish = at  # the sequence ends: the next key of a mapping around it
                break
            raise Unsure  # a line at the dash's indentation that is no item
        number += text.count("\n", previous, finish)
        starts.append(number)
        offsets.append(finish)
        self.deferred = Deferred(indent, starts, offsets)
        return len(starts) - 1, min(number - self.base, self.end)

    # --- values on one line ----------------------------------------------------------------

    def inline(self, index: int, at: int, indent: int, path: Path) -> tuple[object, Mark, bool]:
        """The node that starts at column ``at`` of line ``index`` and ends on it, inside a
        block collection at ``indent``: (value, mark, is a scalar)."""
        line = self.lines[index]
        first = line[at]
        mark = self.mark(index, at)
        if first in "{[":
            value, after = self.flow(line, at, index, path)
            scalar = False
        elif first == '"' or first == "'":
            value, after = _quoted(line, at)
            scalar = True
        else:
            if first in _NO_PLAIN_START or (first in "-?:" and _is_space_or_end(line, at + 1)):
                raise Unsure
            text = line[at:]
            comment = text.find(" #")
            if comment >= 0:
                text = text[:comment]
            text = text.rstrip(" ")
            if ": " in text or text.endswith(":") or self.continues(index, indent):
                raise Unsure
            return _plain_value(text), mark, True
        if _TAIL.match(line, after) is None:
            raise Unsure
        return value, mark, scalar

    def flow(self, line: str, at: int, index: int, path: Path) -> tuple[object, int]:
        """The flow collection opening at ``line[at]``: (value, the column after it).

        One pass of `_TOKEN` over the line, then a descent over the tokens (this runs for every
        SIM entry whose places are asked for: kept to plain loops over tuples)."""
        tokens = [
            (kind, found.group(kind), found.start(kind), found.end())
            for found in _TOKEN.finditer(line, at)
            for kind in (found.lastindex or 0,)
        ]
        count = len(tokens)
        number = self.base + index + 1
        marks = self.marks
        end = len(line)

        def scalar(position: int) -> object:
            kind, text, _, after = tokens[position]
            if kind == 2:
                return text
            if kind == 3:
                return text.replace("''", "'")
            if kind != 4:
                raise Unsure  # a comment inside the collection, or a character it cannot take
            if after < end and (
                line[after] == "#"
                or (line[after] == ":" and after + 1 < end and line[after + 1] not in " ,[]{}")
            ):
                raise Unsure  # ``a#b``, ``a:b``: the plain scalar goes on
            return _plain_value(text.rstrip(" "))

        def collection(position: int, path: Path) -> tuple[object, int]:
            """The collection opening at token ``position``: (value, the token after it)."""
            opening = tokens[position][1]
            position += 1
            if opening == "{":
                mapping: dict[str, object] = {}
                while True:
                    if position >= count:
                        raise Unsure  # it goes on below
                    kind, text, start, _ = tokens[position]
                    if kind == 4:
                        key = text.rstrip(" ")
                        if key in _NULLS or key in _BOOLS:
                            raise Unsure  # null or a bool as a key
                    elif kind == 2:
                        key, start = text, start - 1
                    elif kind == 3:
                        key, start = text.replace("''", "'"), start - 1
                    elif kind == 1 and text == "}":
                        return mapping, position + 1
                    else:
                        raise Unsure  # a collection as a key, an empty key, ...
                    position += 1
                    if position + 1 >= count or tokens[position][:2] != (1, ":") or key in mapping:
                        raise Unsure
                    colon = tokens[position][3]
                    if kind == 4 and colon < end and line[colon] != " ":
                        raise Unsure  # ``a:b`` is one plain scalar
                    position += 1
                    here: Path = (*path, key)
                    kind, text, value_start, _ = tokens[position]
                    if kind == 1:
                        if text != "{" and text != "[":
                            raise Unsure  # an empty value
                        mapping[key], position = collection(position, here)
                        marks[here] = (number, start + 1)
                    else:
                        mapping[key] = scalar(position)
                        # 1-based: a quoted scalar's group starts after its quote
                        marks[here] = (number, value_start + (1 if kind == 4 else 0))
                        position += 1
                    if position >= count:
                        raise Unsure
                    kind, text = tokens[position][:2]
                    if kind == 1 and text == ",":
                        position += 1
                    elif kind != 1 or text != "}":
                        raise Unsure
            items: list[object] = []
            while True:
                if position >= count:
                    raise Unsure
                kind, text, start, _ = tokens[position]
                if kind == 1 and text == "]":
                    return items, position + 1
                here = (*path, len(items))
                marks[here] = (number, start + (1 if kind == 1 or kind == 4 else 0))
                if kind == 1:
                    if text != "{" and text != "[":
                        raise Unsure
                    value, position = collection(position, here)
                else:
                    value = scalar(position)
                    position += 1
                items.append(value)
                if position >= count:
                    raise Unsure
                kind, text = tokens[position][:2]
                if kind == 1 and text == ",":
                    position += 1
                elif kind != 1 or text != "]":
                    raise Unsure  # a pair in a sequence, or the line ends

        value, position = collection(0, path)
        return value, tokens[position - 1][3]  # the column after the closing bracket


# One token of a flow collection, after spaces: an indicator (1), a double-quoted (2) or
# single-quoted (3) scalar, a plain scalar (4: trailing spaces included), a comment (5) or
# anything else (6). Quoted scalars close on the line (no escapes: no backslash here).
_TOKEN = re.compile(
    r"""[ ]*(?:([{}\[\],:])|"([^"]*)"|'((?:[^']|'')*)'|([^\s,\[\]{}#&*!|>'"%@`:?\-][^,\[\]{}#:]*)"""
    r"""|(\#.*)|(.))"""
)


def _is_space_or_end(line: str, at: int) -> bool:
    return at >= len(line) or line[at] == " "


def _quoted(line: str, at: int) -> tuple[str, int]:
    """The quoted scalar at ``line[at]``, ending on this line: (text, the column after it)."""
    quote = line[at]
    if quote == '"':  # no escapes: the files here hold no backslash
        close = line.find('"', at + 1)
        if close < 0:
            raise Unsure
        return line[at + 1 : close], close + 1
    parts: list[str] = []
    position = at + 1
    while True:
        close = line.find("'", position)
        if close < 0:
            raise Unsure
        parts.append(line[position:close])
        if line.startswith("'", close + 1):  # '' is one quote
            parts.append("'")
            position = close + 2
            continue
        return "".join(parts), close + 1


# --- the entry points ------------------------------------------------------------------------


@dataclass(slots=True)
class ScannedDocument:
    value: object
    root: Mark
    marks: dict[Path, Mark]
    deferred: Deferred | None  # the items of the ``defer`` sequence, not read


def split_documents(text: str) -> list[tuple[int, int, int]]:
    """The documents of the file that hold content: (first line, end line, character offset of
    the first line), as `fast_parse.fast_documents` splits them (at each ``---`` line)."""
    lines = text.split("\n")
    pieces: list[tuple[int, int, int]] = []
    start = 0
    offset = 0
    start_offset = 0
    for number, line in enumerate(lines):
        if line.startswith("---") and (len(line) == 3 or line[3] == " "):
            if _DOCUMENT_START.match(line) is None:
                raise Unsure  # content after ``---``
            pieces.append((start, number, start_offset))
            start, start_offset = number + 1, offset + len(line) + 1
        offset += len(line) + 1
    pieces.append((start, len(lines), start_offset))
    return [
        piece for piece in pieces if any(not _blank(line) for line in lines[piece[0] : piece[1]])
    ]


def scan_document(
    text: str, first: int, end: int, offset: int, defer: Path | None
) -> ScannedDocument:
    """Read the document on lines ``first``..``end`` (0-based, end excluded) of ``text``,
    which start at character ``offset``. The items of the sequence at ``defer`` are not read:
    its value is their count (an int), and `ScannedDocument.deferred` says where they are."""
    lines = text[offset:].split("\n", end - first)[: end - first]
    scanner = _Scanner(lines, first, defer, offset, text)
    index = scanner.next_content(0)
    if index >= len(lines) or _indent(lines[index]) != 0:
        raise Unsure
    value, root, _, after = scanner.node_below(index, -1, ())
    if scanner.next_content(after) < len(lines):
        raise Unsure
    return ScannedDocument(value, root, scanner.marks, scanner.deferred)


def scan_item(
    text: str, deferred: Deferred, position: int, path: Path
) -> tuple[object, dict[Path, Mark]]:
    """Read item ``position`` of a deferred sequence whose path is ``path``: its value and
    the places of it (``path + (position,)``) and of everything in it."""
    start, stop = deferred.offsets[position], deferred.offsets[position + 1]
    lines = text[start:stop].split("\n")
    scanner = _Scanner(lines, deferred.lines[position])
    items, after = scanner.sequence(0, deferred.indent, path, indentless=True, first=position)
    if len(items) != 1 or scanner.next_content(after) < len(lines):
        raise Unsure
    return items[0], scanner.marks


__all__ = ["Deferred", "ScannedDocument", "Unsure", "scan_document", "scan_item", "split_documents"]

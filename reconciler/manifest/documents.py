"""Safe YAML reading that keeps the line and column of every value.

PyYAML composes the node tree (the C parser when libyaml is present); we build plain JSON-like
values from the nodes ourselves, recording where each one was declared, instead of letting a
YAML constructor run. That is also where hostile input is refused:

- *Aliases* (``*name``) and merge keys (``<<``) are refused outright: manifests do not need
  them, and refusing them is the simplest complete answer to "billion laughs" (an alias of an
  alias of ... expands exponentially in a constructor). An anchor that nothing refers to is
  harmless and passes. A file is first composed by libyaml, which shares an aliased node and
  fails on an alias to an anchor of another document ("found undefined alias"); at the first
  sign of an alias or merge key the file is composed again by `_ExactLoader`, whose composer
  turns every alias into a placeholder carrying its own place and its anchor's, so nothing
  expands, every document is still read, and the refusal is one plain message per document at
  the first alias (naming its anchor) while the file's other problems are still reported.
- *Tags* other than YAML's standard scalars and collections (``!!python/...``, ``!custom``,
  ``!!binary``, ``!!set``) are refused.
- Nesting deeper than `MAX_DEPTH` is refused (manifests need about 6 levels).
- Duplicate keys in one mapping are an error (PyYAML would silently keep the last).
- Size is capped by the caller (`reconciler.manifest.files`) before the bytes reach the parser.

Decisions where YAML is looser than JSON:

- Mapping keys are taken as the text written (``on:`` is the key ``"on"``, not ``True``).
- Timestamps (``2024-05-01``) stay the text written; the schema accepts no dates anyway.
- An explicit ``!!str`` is honoured: ``!!str 8944...`` is a string.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

from reconciler.errors import ManifestProblem

# The C parser is several times faster; the pure-Python one gives the same nodes.
_Loader: type[yaml.SafeLoader | yaml.CSafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_DEPTH = 32

Path = tuple[str | int, ...]
Mark = tuple[int, int]  # 1-based (line, column)

_TAG = "tag:yaml.org,2002:"
_STR = _TAG + "str"
_INT = _TAG + "int"
_FLOAT = _TAG + "float"
_BOOL = _TAG + "bool"
_NULL = _TAG + "null"
_TIMESTAMP = _TAG + "timestamp"
_SEQ = _TAG + "seq"
_MAP = _TAG + "map"
_MERGE = _TAG + "merge"

_constructor = yaml.constructor.SafeConstructor()


@dataclass(slots=True)
class Document:
    """One YAML document as plain values, with the place of every value.

    ``marks[path]`` is where the value at ``path`` starts (for a collection under a key: the
    key, so a message about a whole block points at its name). ``key_marks[path]`` is where the
    key of a mapping entry is. The root's path is ``()``.
    """

    file: str
    index: int  # 0-based position of the document in its file
    value: object
    marks: dict[Path, Mark] = field(default_factory=dict)
    key_marks: dict[Path, Mark] = field(default_factory=dict)
    refused: set[Path] = field(default_factory=set)  # values dropped (bad tag): already reported

    def mark(self, path: Path) -> Mark:
        """Where ``path`` is, or its nearest ancestor that exists."""
        marks = self.marks
        while path:
            found = marks.get(path)
            if found is not None:
                return found
            path = path[:-1]
        return marks.get((), (1, 1))

    def key_mark(self, path: Path) -> Mark:
        found = self.key_marks.get(path)
        return found if found is not None else self.mark(path)


_ALIAS_MESSAGE = (
    "YAML anchors and aliases (&name, *name, <<) are not allowed in manifests; write the value out"
)


class _AliasNode(yaml.Node):
    """Where the exact composer met ``*name``: nothing is looked up, so nothing can expand."""

    id = "alias"

    def __init__(self, event: yaml.AliasEvent, anchor_mark: Mark | None) -> None:
        super().__init__("", event.anchor, event.start_mark, event.end_mark)  # type: ignore[arg-type]
        self.anchor_mark = anchor_mark


class _AliasFreeComposer(yaml.composer.Composer):
    """PyYAML's composer, except that anchors are only noted (name -> place, across the
    documents of the file) and an alias becomes an `_AliasNode`: no node is ever shared, no
    "undefined alias" or "duplicate anchor" error ends the file. A mixin over an event source
    (libyaml's `CParser`, else PyYAML's own) and the resolver."""

    anchor_marks: dict[str, Mark]

    if TYPE_CHECKING:  # provided by the event source and the resolver it is mixed with

        def check_event(self, *choices: type[yaml.Event]) -> bool: ...
        def get_event(self) -> Any: ...
        def peek_event(self) -> Any: ...
        def descend_resolver(self, parent: yaml.Node | None, index: object) -> None: ...
        def ascend_resolver(self) -> None: ...

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.get_event()
            return _AliasNode(event, self.anchor_marks.get(event.anchor))
        event = self.peek_event()
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self.anchor_marks[anchor] = (event.start_mark.line + 1, event.start_mark.column + 1)
        self.descend_resolver(parent, index)
        node: yaml.Node
        # None: the node is not registered as an anchor, so no alias can ever reach it
        if self.check_event(yaml.ScalarEvent):
            node = self.compose_scalar_node(None)  # type: ignore[arg-type]
        elif self.check_event(yaml.SequenceStartEvent):
            node = self.compose_sequence_node(None)  # type: ignore[arg-type]
        else:
            node = self.compose_mapping_node(None)  # type: ignore[arg-type]
        self.ascend_resolver()
        return node


try:
    from yaml._yaml import CParser as _EventSource
except ImportError:  # pragma: no cover - without libyaml: PyYAML's reader, scanner and parser
    _EventSource = yaml.SafeLoader  # type: ignore[assignment,misc]


class _ExactLoader(  # the event source's events, our composer, the safe constructor's scalars
    _AliasFreeComposer, _EventSource, yaml.constructor.SafeConstructor, yaml.resolver.Resolver
):
    def __init__(self, stream: bytes) -> None:
        _EventSource.__init__(self, stream)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        yaml.composer.Composer.__init__(self)
        self.anchor_marks = {}


class _Aliased(Exception):
    """libyaml's composition met an alias or a merge key: compose the file again, exactly."""


class _Refused(Exception):
    """Stops building a document that must not be built any further (alias, depth)."""

    def __init__(self, mark: Mark, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message


def _mark(node: yaml.Node) -> Mark:
    start = node.start_mark
    return (start.line + 1, start.column + 1)


@dataclass(frozen=True, slots=True)
class _Alias:
    mark: Mark  # where ``*name`` (or a merge key without one) is
    path: Path
    name: str | None  # None: a merge key whose value is written out
    anchor: Mark | None  # where ``&name`` is, if it is before the alias in the file


class _Builder:
    """Turns one composed node tree into plain values plus marks.

    ``exact`` is for a tree from `_ExactLoader`: aliases are placeholders, refused where they
    are and building goes on; otherwise an alias or merge key raises `_Aliased`.
    """

    def __init__(
        self, document: Document, problems: list[ManifestProblem], *, exact: bool = False
    ) -> None:
        self.document = document
        self.problems = problems
        self.exact = exact
        self.seen: set[int] = set()
        self.aliases: list[_Alias] = []

    def alias(self, mark: Mark, path: Path, node: yaml.Node | None) -> None:
        """Refuse the alias ``node`` (or a merge key) at ``mark``; reported by `report_aliases`."""
        if not self.exact:
            raise _Aliased
        self.document.refused.add(path)
        if isinstance(node, _AliasNode):
            self.aliases.append(_Alias(mark, path, node.value, node.anchor_mark))
        else:
            self.aliases.append(_Alias(mark, path, None, None))

    def report_aliases(self) -> None:
        """One problem per document, at its first alias: billion laughs has 90 of them."""
        if not self.aliases:
            return
        first = self.aliases[0]
        details = []
        if first.name is not None and first.anchor is not None:
            line, column = first.anchor
            details.append(f"*{first.name} refers to &{first.name} at line {line}, column {column}")
        elif first.name is not None:
            details.append(f"*{first.name} refers to no anchor before it")
        if len(self.aliases) > 1:
            more = len(self.aliases) - 1
            details.append(f"{more} more alias{'es' if more > 1 else ''} in this document")
        message = _ALIAS_MESSAGE + (f" ({'; '.join(details)})" if details else "")
        self.problem(first.mark, message, first.path)

    def problem(self, mark: Mark, message: str, path: Path = ()) -> None:
        self.problems.append(
            ManifestProblem(
                self.document.file, mark[0], mark[1], message, format_path(path) or None
            )
        )

    def refuse_tag(self, node: yaml.Node, path: Path) -> None:
        self.document.refused.add(path)
        self.problem(_mark(node), f"YAML tag {node.tag!r} is not allowed in manifests", path)

    def build(self, node: yaml.Node, path: Path, depth: int, blame: Mark) -> object:
        """The plain value of ``node``; ``blame`` is where to point if ``node`` is an alias."""
        if isinstance(node, _AliasNode):
            self.alias(_mark(node), path, node)
            return None
        # A node met twice is an alias (libyaml's composer shares the node): stop before it
        # can expand. Nodes stay alive in the tree, so their ids cannot be reused meanwhile.
        ident = id(node)
        if ident in self.seen:
            if not self.exact:
                raise _Aliased
            raise _Refused(blame, _ALIAS_MESSAGE)  # pragma: no cover - it shares no node
        self.seen.add(ident)
        tag = node.tag
        if isinstance(node, yaml.ScalarNode):
            value: str = node.value
            if tag == _STR:
                return value
            if tag == _NULL:
                return None
            if tag == _INT:
                try:
                    return _constructor.construct_yaml_int(node)
                except ValueError:  # more digits than Python converts (4,300): not a traceback
                    self.problem(
                        _mark(node), f"a number of {len(value):,} characters is too long", path
                    )
                    return None
            if tag == _BOOL:
                return _constructor.construct_yaml_bool(node)
            if tag == _FLOAT:
                return _constructor.construct_yaml_float(node)
            if tag == _TIMESTAMP:
                return value
            self.refuse_tag(node, path)
            return None
        if depth >= MAX_DEPTH:
            raise _Refused(_mark(node), f"nesting deeper than {MAX_DEPTH} levels")
        if isinstance(node, yaml.SequenceNode):
            if tag != _SEQ:
                self.refuse_tag(node, path)
                return None
            marks = self.document.marks
            here = marks.get(path, blame)
            items: list[object] = []
            for index, child in enumerate(node.value):
                child_path = (*path, index)
                if id(child) not in self.seen:
                    marks[child_path] = _mark(child)
                items.append(self.build(child, child_path, depth + 1, here))
            return items
        if isinstance(node, yaml.MappingNode):
            if tag != _MAP:
                self.refuse_tag(node, path)
                return None
            marks = self.document.marks
            key_marks = self.document.key_marks
            mapping: dict[str, object] = {}
            for key_node, value_node in node.value:
                key_mark = _mark(key_node)
                if isinstance(key_node, _AliasNode):
                    self.alias(key_mark, path, key_node)
                    continue
                if not isinstance(key_node, yaml.ScalarNode):
                    self.problem(key_mark, "a mapping key must be plain text", path)
                    continue
                if id(key_node) in self.seen:
                    if not self.exact:
                        raise _Aliased
                    raise _Refused(key_mark, _ALIAS_MESSAGE)  # pragma: no cover
                self.seen.add(id(key_node))
                key = key_node.value
                child_path = (*path, key)
                if key_node.tag == _MERGE:  # ``<<: *name``: at the alias; else at the ``<<``
                    merged = isinstance(value_node, _AliasNode)
                    self.alias(_mark(value_node) if merged else key_mark, child_path, value_node)
                    continue
                if key in mapping:
                    first = key_marks[child_path]
                    self.problem(
                        key_mark,
                        f"duplicate key {key!r} (first at line {first[0]}, column {first[1]})",
                        child_path,
                    )
                    continue
                key_marks[child_path] = key_mark
                marks[child_path] = (
                    _mark(value_node) if isinstance(value_node, yaml.ScalarNode) else key_mark
                )
                mapping[key] = self.build(value_node, child_path, depth + 1, key_mark)
            return mapping
        raise _Refused(_mark(node), "unsupported YAML node")  # pragma: no cover


_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def format_path(path: Path) -> str:
    """``("spec", "sims", 3, "state")`` -> ``spec.sims[3].state``; ``apns[iot.acme]``."""
    out: list[str] = []
    for part in path:
        if isinstance(part, int) or not _WORD.match(part):
            out.append(f"[{part}]")
        else:
            out.append(f".{part}" if out else part)
    return "".join(out)


@dataclass(slots=True)
class Parsed:
    """The documents of one file, its problems, and whether the whole file could be read."""

    documents: list[Document]
    problems: list[ManifestProblem]
    complete: bool = True


def read_documents(data: bytes, file: str) -> Parsed:
    """Parse every document of one file; a syntax error ends the file (reported, not raised).

    Empty documents (a lone ``---``, a file of comments) are skipped. A file with an alias or
    a merge key is read again by `_ExactLoader` (see the module docstring).
    """
    try:
        return _read_documents(data, file, exact=False)
    except _Aliased:
        return _read_documents(data, file, exact=True)


def _compose_all(loader: _ExactLoader | yaml.SafeLoader | yaml.CSafeLoader) -> Iterator[yaml.Node]:
    """`yaml.compose_all` for a loader already made."""
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                yield node
    finally:
        loader.dispose()


def _char_at(data: bytes, line: int, column: int) -> str | None:
    """The character at a 1-based line and column of ``data``, if it is there."""
    lines = data.split(b"\n", line)
    if len(lines) < line:
        return None
    text = lines[line - 1].decode("utf-8", errors="replace")
    return text[column - 1] if 0 < column <= len(text) else None


def _read_documents(data: bytes, file: str, *, exact: bool) -> Parsed:
    documents: list[Document] = []
    problems: list[ManifestProblem] = []
    parsed = Parsed(documents, problems)
    nodes = _compose_all(_ExactLoader(data) if exact else _Loader(data))
    index = 0
    while True:
        try:
            node = next(nodes, None)
        except yaml.MarkedYAMLError as exc:
            if not exact and isinstance(exc, yaml.composer.ComposerError):
                # libyaml's composer only fails on anchors: an alias to another document's
                # anchor ("found undefined alias"), an anchor defined twice
                raise _Aliased from exc
            mark = exc.problem_mark or exc.context_mark
            line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
            text = exc.problem or exc.context or "invalid YAML"
            if exc.context and exc.problem:
                text = f"{exc.problem} ({exc.context})"
            if _char_at(data, line, column) == "\t":
                text = (
                    "a tab character: YAML indents with spaces only, and a tab cannot start a "
                    "value (replace the tab with spaces)"
                )
            problems.append(ManifestProblem(file, line, column, f"YAML syntax error: {text}"))
            parsed.complete = False
            break
        except yaml.reader.ReaderError as exc:  # bytes that are not UTF-8/UTF-16 text
            message = f"not readable as text: {exc.reason} (at character {exc.position})"
            problems.append(ManifestProblem(file, 1, 1, message))
            parsed.complete = False
            break
        except yaml.YAMLError as exc:
            problems.append(ManifestProblem(file, 1, 1, f"not readable as YAML: {exc}"))
            parsed.complete = False
            break
        except RecursionError:
            problems.append(ManifestProblem(file, 1, 1, "YAML nested too deeply"))
            parsed.complete = False
            break
        if node is None:
            break
        document = Document(file=file, index=index, value=None)
        index += 1
        if isinstance(node, yaml.ScalarNode) and node.tag == _NULL and node.value in ("", "~"):
            continue  # an empty document
        document.marks[()] = _mark(node)
        builder = _Builder(document, problems, exact=exact)
        try:
            document.value = builder.build(node, (), 0, document.marks[()])
        except _Refused as refused:
            problems.append(ManifestProblem(file, *refused.mark, refused.message))
            parsed.complete = False
            continue
        builder.report_aliases()
        documents.append(document)
    problems.sort(key=lambda p: (p.line, p.column))  # the alias problem comes last
    return parsed

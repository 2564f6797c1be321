"""Safe YAML reading that keeps the line and column of every value.

PyYAML composes the node tree (the C parser when libyaml is present); we build plain JSON-like
values from the nodes ourselves, recording where each one was declared, instead of letting a
YAML constructor run. That is also where hostile input is refused:

- *Aliases* (``*name``) are refused outright: manifests do not need them, and refusing them is
  the simplest complete answer to "billion laughs" (an alias of an alias of ... expands
  exponentially in a constructor; we stop at the first reuse of a node, before any expansion).
  An anchor that nothing refers to is harmless and passes.
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


_ALIAS_MESSAGE = "YAML aliases (*name) are not allowed in manifests; write the value out"


class _Refused(Exception):
    """Stops building a document that must not be built any further (alias, depth)."""

    def __init__(self, mark: Mark, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message


def _mark(node: yaml.Node) -> Mark:
    start = node.start_mark
    return (start.line + 1, start.column + 1)


class _Builder:
    """Turns one composed node tree into plain values plus marks."""

    def __init__(self, document: Document, problems: list[ManifestProblem]) -> None:
        self.document = document
        self.problems = problems
        self.seen: set[int] = set()

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
        # A node met twice is an alias (the composer shares the node): refuse before it can
        # expand. Nodes stay alive in the tree, so their ids cannot be reused meanwhile. The
        # node's own mark is the anchor's place, so the message points at the alias's parent.
        ident = id(node)
        if ident in self.seen:
            raise _Refused(blame, _ALIAS_MESSAGE)
        self.seen.add(ident)
        tag = node.tag
        if isinstance(node, yaml.ScalarNode):
            value: str = node.value
            if tag == _STR:
                return value
            if tag == _NULL:
                return None
            if tag == _INT:
                return _constructor.construct_yaml_int(node)
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
                if not isinstance(key_node, yaml.ScalarNode):
                    self.problem(key_mark, "a mapping key must be plain text", path)
                    continue
                if id(key_node) in self.seen:
                    raise _Refused(key_mark, _ALIAS_MESSAGE)
                self.seen.add(id(key_node))
                key = key_node.value
                child_path = (*path, key)
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

    Empty documents (a lone ``---``, a file of comments) are skipped.
    """
    documents: list[Document] = []
    problems: list[ManifestProblem] = []
    parsed = Parsed(documents, problems)
    nodes: Iterator[yaml.Node] = yaml.compose_all(data, Loader=_Loader)
    index = 0
    while True:
        try:
            node = next(nodes, None)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
            text = exc.problem or exc.context or "invalid YAML"
            if exc.context and exc.problem:
                text = f"{exc.problem} ({exc.context})"
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
        builder = _Builder(document, problems)
        try:
            document.value = builder.build(node, (), 0, document.marks[()])
        except _Refused as refused:
            problems.append(ManifestProblem(file, *refused.mark, refused.message))
            parsed.complete = False
            continue
        documents.append(document)
    return parsed

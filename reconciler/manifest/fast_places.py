"""Places in the files the fast path took, found on first use (`reconciler.manifest.fast`).

A `DesiredSim` of the fast path holds a `SimSource` (and, if its entry declares fields, a
`LazyFieldSources`); the group's and the Fleet's settings hold `LazySourceRef`. Each asks its
file's `FileMarks` for a place the first time its line is read: the file's text is scanned
(`reconciler.manifest.places`: a document when a place in it is first asked for, one SIM entry
when one of its own places is), what was read is checked against what yaml-rs read, and where
the scanner is unsure or the check fails, the file is read the marked way
(`reconciler.manifest.documents`), once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from reconciler.manifest.documents import Document, Mark, read_documents
from reconciler.manifest.documents import Path as YamlPath
from reconciler.manifest.places import (
    ScannedDocument,
    Unsure,
    scan_document,
    scan_item,
    split_documents,
)
from reconciler.model import (
    RATE_PLAN,
    STATE,
    SourceRef,
    apn_field,
    custom_field,
    supplementary_field,
)

_Unsure = Unsure
_SUPPLEMENTARY = "supplementaryPlans"

SIMS_PATH = ("spec", "sims")

# The declared keys of a SIM entry, then the names under its supplementaryPlans, apns and
# customFields (None where it declares none): what its places are found from. One tuple per
# distinct shape, shared by every entry of that shape (a SIM keeps this, not the parsed entry).
Shape = tuple[
    tuple[str, ...], tuple[str, ...] | None, tuple[str, ...] | None, tuple[str, ...] | None
]


def _names(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if value.__class__ is not dict and value.__class__ is not list:
        raise _Unsure
    return tuple(value)  # the keys of a mapping, items of a list


def entry_shape(entry: object) -> Shape | None:
    """The shape of a scanned SIM entry (None for a bare ICCID), to compare with the shape
    `_expand` kept for it (one object per load for each distinct shape); `_Unsure` if not one."""
    if entry.__class__ is str:
        return None
    if entry.__class__ is not dict:
        raise _Unsure
    assert isinstance(entry, dict)
    get = entry.get
    shape = (
        tuple(entry),
        _names(get(_SUPPLEMENTARY)),
        _names(get("apns")),
        _names(get("customFields")),
    )
    return shape  # (compared by value: a scanned entry's shape needs no interning)


class FileMarks:
    """Finds the places in one file the fast path accepted, without the marked parse where it
    can (`reconciler.manifest.places`): a document is scanned when a place in it is first asked
    for (the items of a SimGroup's ``spec.sims`` only noted), a SIM entry when one of its own
    places is. What is scanned is checked against what yaml-rs read (the document's values
    apart from its SIM entries, and each entry's ICCID and shape). Where the scanner is unsure
    or the check fails, the file is read the marked way (once) and its marks are kept."""

    __slots__ = ("_entry", "_expected", "_marked", "_pieces", "_scanned", "display", "text")

    def __init__(self, display: str, text: str | bytes) -> None:
        self.display = display
        self.text = text  # bytes: the file is read the marked way only (it was at load)
        # per document: its values with ``spec.sims`` emptied, and how many SIM entries it had
        self._expected: list[tuple[object, int | None]] = []
        self._pieces: list[tuple[int, int, int]] | None = None
        self._scanned: dict[int, tuple[ScannedDocument, list[object] | None]] = {}
        self._entry: tuple[int, int, dict[YamlPath, Mark]] | None = None  # the last entry read
        self._marked: list[Document] | None = None

    def expect(self, value: object) -> None:
        """Note the next document's value as yaml-rs read it (for the check of the scan)."""
        if not isinstance(value, dict):
            self._expected.append((value, None))
            return
        spec = value.get("spec")
        if value.get("kind") == "SimGroup" and isinstance(spec, dict) and "sims" in spec:
            sims = spec["sims"]
            count = len(sims) if isinstance(sims, list) else -1
            self._expected.append(({**value, "spec": {**spec, "sims": []}}, count))
        else:
            self._expected.append((value, None))

    def place(self, index: int, path: YamlPath) -> Mark:
        """Where ``path`` is in document ``index`` (as `Document.mark` says)."""
        if self._marked is None and isinstance(self.text, str):
            try:
                scanned, _ = self._document(index)
                return scanned.marks[path] if path else scanned.root
            except (_Unsure, Unsure, KeyError):
                self._mark_all()
        return self._marked_place(index, path)

    def entry_places(
        self, index: int, position: int, iccid: str, shape: Shape | None
    ) -> Callable[[YamlPath], Mark]:
        """The places in SIM entry ``position`` of document ``index`` (a SimGroup), whose ICCID
        and shape yaml-rs read as given: a lookup by path, as `place` would answer."""
        if self._marked is None and isinstance(self.text, str):
            try:
                marks = self._entry_marks(index, position, iccid, shape)
            except (_Unsure, Unsure, KeyError, IndexError):
                self._mark_all()
            else:

                def at(path: YamlPath) -> Mark:
                    found = marks.get(path)
                    if found is not None:
                        return found
                    self._mark_all()  # pragma: no cover - the entry's shape has every path
                    return self._marked_place(index, path)

                return at
        return lambda path: self._marked_place(index, path)

    def _entry_marks(
        self, index: int, position: int, iccid: str, shape: Shape | None
    ) -> dict[YamlPath, Mark]:
        last = self._entry
        if last is not None and last[0] == index and last[1] == position:
            return last[2]
        scanned, items = self._document(index)
        assert isinstance(self.text, str)
        if scanned.deferred is None:  # the entries were read with the document (flow style)
            assert items is not None
            value: Any = items[position]
            marks = scanned.marks
        else:
            value, marks = scan_item(self.text, scanned.deferred, position, SIMS_PATH)
        if entry_shape(value) != shape or (value if shape is None else value["iccid"]) != iccid:
            raise _Unsure
        self._entry = (index, position, marks)
        return marks

    def _mark_all(self) -> None:
        """Give up the scan of this file: read it the marked way, once, and keep its marks."""
        text = self.text
        data = text.encode("utf-8") if isinstance(text, str) else text
        self._marked = read_documents(data, self.display).documents
        self._scanned.clear()
        self._entry = None

    def _marked_place(self, index: int, path: YamlPath) -> Mark:
        if self._marked is None:
            self._mark_all()
        assert self._marked is not None
        document = self._marked[index] if index < len(self._marked) else None
        return document.mark(path) if document is not None else (1, 1)

    def _document(self, index: int) -> tuple[ScannedDocument, list[object] | None]:
        found = self._scanned.get(index)
        if found is not None:
            return found
        assert isinstance(self.text, str)
        if self._pieces is None:
            self._pieces = split_documents(self.text)
        expected, count = self._expected[index]
        if len(self._pieces) != len(self._expected):
            raise _Unsure
        first, end, offset = self._pieces[index]
        scanned = scan_document(
            self.text, first, end, offset, SIMS_PATH if count is not None else None
        )
        value = scanned.value
        items: list[object] | None = None
        if count is not None:
            assert isinstance(value, dict)
            spec = value.get("spec")
            if not isinstance(spec, dict):
                raise _Unsure
            sims = spec.get("sims")
            if isinstance(sims, list):
                items = sims
                sims = len(sims)
            if sims != count:
                raise _Unsure
            value = {**value, "spec": {**spec, "sims": []}}
        if value != expected:
            raise _Unsure
        self._scanned[index] = (scanned, items)
        return scanned, items


class _Lazy(SourceRef):
    """A `SourceRef` whose place is looked up the first time it is read (`_resolve`).

    Equal to (and hashing like) the eager `SourceRef` of the same place.
    """

    __slots__ = ()
    __setattr__ = object.__setattr__  # only __init__ sets (the slots are set once)

    def _resolve(self) -> None:
        raise NotImplementedError

    def _file(self) -> str:
        raise NotImplementedError

    def _settle(self, file: str, line: int, column: int) -> None:
        object.__setattr__(self, "file", file)
        object.__setattr__(self, "line", line)
        object.__setattr__(self, "column", column)

    def __getattr__(self, name: str) -> Any:
        if name == "file":  # known without finding the line (the planner groups by file)
            file = self._file()
            object.__setattr__(self, "file", file)
            return file
        if name not in ("line", "column"):
            raise AttributeError(name)
        self._resolve()
        return object.__getattribute__(self, name)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SourceRef):
            return NotImplemented
        return (self.file, self.line, self.column) == (other.file, other.line, other.column)

    def __hash__(self) -> int:
        return hash((self.file, self.line, self.column))

    def __repr__(self) -> str:
        return f"SourceRef(file={self.file!r}, line={self.line!r}, column={self.column!r})"


class LazySourceRef(_Lazy):
    """A place in a file: ``path`` is the document's position among the file's documents,
    then the path of the value in it (a Fleet's, its defaults', a SimGroup's settings)."""

    __slots__ = ("_marks", "path")

    def __init__(self, marks: FileMarks, path: tuple[int | str, ...]) -> None:
        self._marks = marks
        self.path = path

    def _file(self) -> str:
        return self._marks.display

    def _resolve(self) -> None:
        index = self.path[0]
        assert isinstance(index, int)
        self._settle(self._marks.display, *self._marks.place(index, self.path[1:]))


class GroupPlaces:
    """What the SIMs of one SimGroup document share for finding their places."""

    __slots__ = ("index", "marks", "retired", "shared", "shared_plans")

    def __init__(
        self, marks: FileMarks, index: int, shared: dict[str, SourceRef], plans: tuple[str, ...]
    ) -> None:
        self.marks = marks
        self.index = index
        self.shared = shared  # the group's field sources over the Fleet defaults'
        self.shared_plans = plans
        # what a retired SIM takes from them: the state's (`loader.retired_only`)
        self.retired = {STATE: shared[STATE]} if STATE in shared else {}


class SimSource(_Lazy):
    """`DesiredSim.source`: where SIM entry ``position`` of a group is. It also carries what
    the entry's field sources are found from (`LazyFieldSources`): a SIM keeps these two small
    objects for its places, nothing of the parsed entry but its interned shape."""

    __slots__ = ("_group", "_iccid", "_position", "_shape")

    def __init__(self, group: GroupPlaces, position: int, iccid: str, shape: Shape | None) -> None:
        self._group = group
        self._position = position
        self._iccid = iccid
        self._shape = shape

    def places(self) -> Callable[[YamlPath], Mark]:
        group = self._group
        return group.marks.entry_places(group.index, self._position, self._iccid, self._shape)

    def _file(self) -> str:
        return self._group.marks.display

    def _resolve(self) -> None:
        self._settle(self._group.marks.display, *self.places()((*SIMS_PATH, self._position)))


class LazyFieldSources(Mapping[str, SourceRef]):
    """A SIM entry's ``field_sources``: the group's, with the entry's own on top, built when
    first read. Its keys and order are those `Settings.under` gives: the wider level's, then
    state, rate plan, supplementary plans, APNs and custom fields as the entry declares them."""

    __slots__ = ("_built", "_sim")
    _RETIRED = False  # see `RetiredFieldSources`

    def __init__(self, sim: SimSource) -> None:
        self._sim = sim
        self._built: dict[str, SourceRef] | None = None

    def _build(self) -> dict[str, SourceRef]:
        sim = self._sim
        group = sim._group
        file = group.marks.display
        places = sim.places()
        path = (*SIMS_PATH, sim._position)

        def at(*rest: str | int) -> SourceRef:
            return SourceRef(file, *places((*path, *rest)))

        assert sim._shape is not None
        keys, plans, apns, custom = sim._shape
        sources = dict(group.retired if self._RETIRED else group.shared)
        if "state" in keys:
            sources[STATE] = at("state")
        if "ratePlan" in keys:
            sources[RATE_PLAN] = at("ratePlan")
        if plans is not None:
            for plan in () if self._RETIRED else group.shared_plans:
                sources.pop(supplementary_field(plan), None)
            for number, plan in enumerate(plans):
                sources[supplementary_field(plan)] = at(_SUPPLEMENTARY, number)
        for apn in apns or ():
            sources[apn_field(apn)] = at("apns", apn)
        for name in custom or ():
            sources[custom_field(name)] = at("customFields", name)
        self._built = sources
        return sources

    def _sources(self) -> dict[str, SourceRef]:
        built = self._built
        return built if built is not None else self._build()

    def __getitem__(self, key: str) -> SourceRef:
        return self._sources()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._sources())

    def __len__(self) -> int:
        return len(self._sources())

    def __repr__(self) -> str:
        return repr(self._sources())


class RetiredFieldSources(LazyFieldSources):
    """The ``field_sources`` of a retired SIM whose group or defaults declare more than its
    state: the state's place from them, the entry's own on top (`loader.retired_only`)."""

    __slots__ = ()
    _RETIRED = True


__all__ = [
    "SIMS_PATH",
    "FileMarks",
    "GroupPlaces",
    "LazyFieldSources",
    "LazySourceRef",
    "RetiredFieldSources",
    "Shape",
    "SimSource",
    "entry_shape",
]

"""The fast way through a manifest set: a C parser for the values, the marks only when asked.

The marked path (`reconciler.manifest.documents` over PyYAML) records the line and column of
every value as it builds it, and that costs: about 7 s for 100,000 SIMs declared one mapping
each, most of it in composing PyYAML nodes and building values from them. Yet a valid set needs
its marks only where a message will point: a plan problem, a drift finding. So this path:

1. parses each file with yaml-rs (Rust, measured 6x to 8x faster than PyYAML's C compose on
   those 11 MB; see `bench/load_manifests.py`), after a scan of the text for anything where
   yaml-rs (YAML 1.2) and the marked path (PyYAML, YAML 1.1 plus our refusals) could disagree:
   anchors, aliases, tags, merge keys, directives, ``...``, tabs, backslash escapes, carriage
   returns, characters PyYAML refuses. Such a file goes the marked way, and so does a file whose
   values hold a number (yaml-rs reads an unquoted ICCID as one, whatever its length), a key
   that is not text, text YAML 1.1 would read as something else (``yes``, ``0x1F``,
   ``1_000``), or nesting near `MAX_DEPTH`;
2. checks every document the way the loader does (the schema for the skeleton, the SIM entries
   by the same rules as `plainly_valid_entry`, check digits, ICCIDs and group names declared
   once, one Fleet), and expands the SIMs with the loader's precedence;
3. records where each value is as a `SourceRef` whose line and column are found on first use,
   without composing the file again: `reconciler.manifest.places` scans the text of a file
   this path took (a document when a place in it is first asked for, a SIM entry when one of
   its own places is), checks what it read against the values above, and gives exactly the
   marked path's place; where it is not sure, that one file is read the marked way, once.

The files are read Fleet first, then each file's groups are expanded as soon as it is read
(one file's parsed values alive at a time), and a SIM keeps little: its `DesiredSim`, a small
`SimSource` (group, position, ICCID, the interned shape of its entry), a two-slot field-sources
view if its entry declares fields, and values shared with every SIM that holds the same
(`_Shared`). ``--changed-from`` reads the manifests at a git ref the same way, keeping only a
fingerprint of each SIM (`load_fast_blobs`).

Anything this path does not accept plainly (a single problem of any kind, a file it could not
read) makes it answer None, and the caller loads the whole set the marked way: the messages, the
order and the places of every error stay exactly what the marked path says.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from reconciler import fields
from reconciler.manifest.documents import read_documents
from reconciler.manifest.fast_parse import YAML11_FIRST, check_value, fast_documents, plain_text
from reconciler.manifest.fast_places import (
    FileMarks,
    GroupPlaces,
    LazyFieldSources,
    LazySourceRef,
    RetiredFieldSources,
    Shape,
    SimSource,
)
from reconciler.manifest.files import Digest, find_files, read_file
from reconciler.manifest.iccid import luhn_valid_digits
from reconciler.manifest.places import Unsure as _Unsure
from reconciler.manifest.schema import ICCID_PATTERN, SchemaValidator
from reconciler.model import (
    CUSTOM_FIELD_NAMES,
    RATE_PLAN,
    STATE,
    ApnStatus,
    DesiredFleet,
    DesiredSim,
    DesiredState,
    FleetSpec,
    SourceRef,
    apn_field,
    custom_field,
    supplementary_field,
)

# --- the set ---------------------------------------------------------------------------------

_STATES = {s.value: s for s in DesiredState}
_APN_STATUSES = {s.value: s for s in ApnStatus}
_CUSTOM = frozenset(CUSTOM_FIELD_NAMES)
_SUPPLEMENTARY = "supplementaryPlans"
# the field kinds this path reads; any other kind of the table goes the marked way
_READ = frozenset({"state", "ratePlan", _SUPPLEMENTARY, "apns", "customFields"})


class _Settings:
    """What one level declares: the fields in the DesiredSim's words and where each is."""

    __slots__ = ("apns", "custom", "plans", "rate_plan", "sources", "state")

    def __init__(self) -> None:
        self.state: DesiredState | None = None
        self.rate_plan: str | None = None
        self.plans: tuple[str, ...] | None = None
        self.apns: dict[str, ApnStatus] = {}
        self.custom: dict[str, str | None] = {}
        self.sources: dict[str, SourceRef] = {}


def _plain_name(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 128


def _level(
    mapping: dict[str, Any], marks: FileMarks, path: tuple[int | str, ...], sim: bool
) -> _Settings:
    """The settings ``mapping`` declares (a SIM entry when ``sim``), checked as plainly valid:
    `_Unsure` for anything the schema's verdict is needed for."""
    out = _Settings()
    sources = out.sources
    for key, value in mapping.items():
        if key == "state":
            state = _STATES.get(value) if isinstance(value, str) else None
            if state is None:
                raise _Unsure
            out.state = state
            sources[STATE] = LazySourceRef(marks, (*path, key))
        elif key == "ratePlan":
            if not _plain_name(value):
                raise _Unsure
            out.rate_plan = plain_text(value)
            sources[RATE_PLAN] = LazySourceRef(marks, (*path, key))
        elif key == _SUPPLEMENTARY:
            if not isinstance(value, list) or len(set(value)) != len(value):
                raise _Unsure
            for index, plan in enumerate(value):
                if not _plain_name(plan):
                    raise _Unsure
                plain_text(plan)
                ref = LazySourceRef(marks, (*path, key, index))
                sources[supplementary_field(plan)] = ref
            out.plans = tuple(value)
        elif key == "apns":
            if not isinstance(value, dict):
                raise _Unsure
            for apn, status in value.items():
                known = _APN_STATUSES.get(status) if isinstance(status, str) else None
                if known is None or not isinstance(apn, str) or not 0 < len(plain_text(apn)) <= 255:
                    raise _Unsure
                out.apns[apn] = known
                sources[apn_field(apn)] = LazySourceRef(marks, (*path, key, apn))
        elif key == "customFields":
            if not isinstance(value, dict):
                raise _Unsure
            for name, text in value.items():
                if name not in _CUSTOM or not (
                    text is None or (isinstance(text, str) and len(plain_text(text)) <= 255)
                ):
                    raise _Unsure
                out.custom[name] = text
                ref = LazySourceRef(marks, (*path, key, name))
                sources[custom_field(name)] = ref
        elif (sim and key != "iccid") or key in _kinds_not_read():
            # the schema names it (other levels passed the schema already), or it is a field
            # kind this path does not read: the marked loader reads every kind of the table
            raise _Unsure
    return out


_NOT_READ: list[Any] = [None, frozenset()]


def _kinds_not_read() -> frozenset[str]:
    """The field kinds of `reconciler.fields` beyond the five this path reads (`_READ`)."""
    kinds = fields.kinds()
    if _NOT_READ[0] is not kinds:
        _NOT_READ[:] = [kinds, frozenset(k.name for k in kinds) - _READ]
    names: frozenset[str] = _NOT_READ[1]
    return names


def _under(wider: _Settings, narrower: _Settings) -> _Settings:
    """``narrower`` on top of ``wider``, with the loader's precedence (see `Settings.under`)."""
    if not narrower.sources and narrower.plans is None:
        return wider
    out = _Settings()
    sources = dict(wider.sources)
    plans = wider.plans
    if narrower.plans is not None:
        for plan in plans or ():
            sources.pop(supplementary_field(plan), None)
        plans = narrower.plans
    sources.update(narrower.sources)
    out.sources = sources
    out.state = narrower.state if narrower.state is not None else wider.state
    out.rate_plan = narrower.rate_plan if narrower.rate_plan is not None else wider.rate_plan
    out.plans = plans
    out.apns = {**wider.apns, **narrower.apns} if narrower.apns else wider.apns
    out.custom = {**wider.custom, **narrower.custom} if narrower.custom else wider.custom
    return out


_NONE = _Settings()


def load_fast(
    paths: Sequence[Path | str], validator: SchemaValidator
) -> tuple[DesiredFleet, tuple[str, ...]] | None:
    """The fleet and its group names, or None: load the set the marked way (it may be invalid,
    or use YAML this path does not vouch for)."""
    try:
        files, problems = find_files(paths)
        if problems:
            raise _Unsure
        blobs: list[tuple[str, bytes]] = []
        for file in files:
            data, problem = read_file(file)
            if data is None or problem is not None:
                raise _Unsure
            blobs.append((file.display, data))
        fleet, names, _ = _load(blobs, validator, None)
        return fleet, names
    except _Unsure:
        return None


def load_fast_blobs(
    blobs: Sequence[tuple[str, bytes]],
    validator: SchemaValidator,
    reduce: Callable[[DesiredSim], _Reduced],
) -> tuple[FleetSpec, dict[str, _Reduced]] | None:
    """The Fleet and each SIM reduced by ``reduce`` (by ICCID), of manifests whose bytes were
    read elsewhere (a git commit's blobs), or None: load them the marked way. Only one file's
    parsed values and one `DesiredSim` at a time are alive, whatever the size of the fleet."""
    try:
        fleet, _, sims = _load(list(blobs), validator, reduce)
    except _Unsure:
        return None
    return fleet.fleet, sims


# ``kind: Fleet`` on a line of its own: a file to read before the others, so that the Fleet's
# defaults are known when the groups of the other files are expanded, file by file.
_FLEET_KIND = re.compile(rb"""^kind:[ ]*["']?Fleet["']?[ ]*(?:#.*)?$""", re.MULTILINE)


def _load(
    blobs: list[tuple[str, bytes]], validator: SchemaValidator, reduce: Reduce | None
) -> tuple[DesiredFleet, tuple[str, ...], dict[str, Any]]:
    """Check and expand the files in ``blobs`` (named as given, in this order). The files that
    look like holding the Fleet are read first; the groups of every other file are expanded
    as soon as the file is read, and its parsed values dropped (at a million SIMs they would
    otherwise all be alive at once, several gigabytes)."""
    digest = Digest()
    for _, data in blobs:
        digest.add(data)
    displays = tuple(display for display, _ in blobs)
    first = [
        i
        for i, (_, data) in enumerate(blobs)
        if b"Fleet" in data and _FLEET_KIND.search(data) is not None
    ]
    chosen = set(first)
    order = first + [i for i in range(len(blobs)) if i not in chosen]
    sims: dict[str, Any] = {}
    names: list[tuple[int, int, str]] = []  # (file, document, name): the groups in file order
    shared_values = _Shared()
    fleet: tuple[dict[str, Any], FileMarks, int] | None = None
    defaults: _Settings | None = None
    waiting: list[tuple[int, dict[str, Any], FileMarks, int]] = []  # groups before the Fleet
    for number in order:
        display, data = blobs[number]
        blobs[number] = (display, b"")  # the bytes are in the file's marks now (or dropped)
        for value, marks, index in _documents(display, data, validator):
            if value.get("kind") == "Fleet":
                if fleet is not None:
                    raise _Unsure
                fleet = (value, marks, index)
                defaults = _defaults(value, marks, index)
                for at, group, group_marks, group_index in waiting:
                    expanded = _expand(
                        group, group_marks, group_index, defaults, sims, shared_values, reduce
                    )
                    names.append((at, group_index, expanded))
                waiting.clear()
            elif value.get("kind") == "SimGroup":
                if defaults is None:
                    waiting.append((number, value, marks, index))
                else:
                    name = _expand(value, marks, index, defaults, sims, shared_values, reduce)
                    names.append((number, index, name))
    if fleet is None or waiting:
        raise _Unsure
    names.sort()
    group_names = tuple(name for _, _, name in names)
    if len(set(group_names)) != len(group_names):
        raise _Unsure
    desired = DesiredFleet(
        fleet=_fleet_spec(*fleet),
        sims=_sorted(sims) if reduce is None else {},
        digest=digest.hexdigest(),
        files=displays,
    )
    return desired, group_names, sims


def _sorted(sims: dict[str, Any]) -> dict[str, Any]:
    """``sims`` by ICCID, emptied on the way (no list of a million pairs beside two dicts)."""
    out = {}
    pop = sims.pop
    for iccid in sorted(sims):
        out[iccid] = pop(iccid)
    return out


def _documents(
    display: str, data: bytes, validator: SchemaValidator
) -> Iterator[tuple[dict[str, Any], FileMarks, int]]:
    """The documents of one file, each checked as plainly valid apart from its SIM entries
    (those are checked as they are expanded): (value, the file's marks, index)."""
    values = fast_documents(data, display)
    if values is None:
        parsed = read_documents(data, display)
        if parsed.problems or not parsed.complete:
            raise _Unsure
        values = [document.value for document in parsed.documents]
        marks = FileMarks(display, data)  # its places: the marked way too
    else:
        marks = FileMarks(display, data.decode("utf-8"))
        for value in values:
            marks.expect(value)
    for index, value in enumerate(values):
        if not isinstance(value, dict):
            raise _Unsure
        kind = value.get("kind")
        skeleton = value
        if kind == "SimGroup":
            spec = value.get("spec")
            if not isinstance(spec, dict) or not isinstance(spec.get("sims"), list):
                raise _Unsure
            skeleton = {**value, "spec": {**spec, "sims": []}}
        check_value(skeleton, 0)  # the SIM entries are checked as they are expanded
        if validator.violations(skeleton):
            raise _Unsure
        # Settings only the marked loader reads (a rollout, the massDisable guard): that way.
        spec_value = value.get("spec")
        if isinstance(spec_value, dict) and "rollout" in spec_value:
            raise _Unsure
        guards = spec_value.get("guards") if isinstance(spec_value, dict) else None
        if isinstance(guards, dict) and "massDisable" in guards:
            raise _Unsure
        yield value, marks, index


def _fleet_spec(value: dict[str, Any], marks: FileMarks, index: int) -> FleetSpec:
    """The Fleet's spec as `_Loader.fleet` reads it (the schema has passed it already)."""
    metadata = value.get("metadata")
    spec = value.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    guards = spec.get("guards")
    guards = guards if isinstance(guards, dict) else {}
    limit = guards.get("maxChanges")
    max_changes: int | None = None
    max_percent: float | None = None
    if isinstance(limit, int) and not isinstance(limit, bool):
        max_changes = limit
    elif isinstance(limit, str) and limit.endswith("%"):
        try:
            max_percent = float(limit[:-1])
        except ValueError:
            raise _Unsure from None
        if max_percent > 100:
            raise _Unsure
    elif limit is not None:
        raise _Unsure
    name = metadata.get("name") if isinstance(metadata, dict) else None
    account = spec.get("account")
    unmanaged = spec.get("unmanaged")
    return FleetSpec(
        name=name if isinstance(name, str) else "",
        account=account if isinstance(account, str) else "",
        source=LazySourceRef(marks, (index,)),
        unmanaged=unmanaged if unmanaged in ("report", "ignore") else "report",
        max_changes=max_changes,
        max_changes_percent=max_percent,
        allow_retire=guards.get("allowRetire") is True,
    )


def _defaults(value: dict[str, Any], marks: FileMarks, index: int) -> _Settings:
    spec = value.get("spec")
    declared = spec.get("defaults") if isinstance(spec, dict) else None
    if not isinstance(declared, dict):
        return _NONE
    return _level(declared, marks, (index, "spec", "defaults"), False)


_CACHED = 4096  # values a `_Shared` cache keeps before it starts again (bounds the peak)


class _Shared:
    """One object for each distinct value many SIMs hold (rate plan names, plan tuples, APN
    and custom-field dicts; never changed once a `DesiredSim` holds them, as the marked loader
    shares its dicts). Keyed by the value as yaml-rs read it, holding it checked: a value met
    before (most are) costs one lookup instead of a check per name."""

    __slots__ = ("apns", "custom", "maps", "plans", "rate_plans", "shapes")

    def __init__(self) -> None:
        self.rate_plans: dict[str, str] = {}
        self.plans: dict[tuple[Any, ...], tuple[str, ...]] = {}
        self.apns: dict[tuple[Any, ...], dict[str, ApnStatus]] = {}
        self.custom: dict[tuple[Any, ...], dict[str, str | None]] = {}
        self.maps: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.shapes: dict[Shape, Shape] = {}

    def mapping(self, value: dict[str, Any]) -> dict[str, Any]:
        if len(self.maps) >= _CACHED:
            self.maps.clear()
        return self.maps.setdefault(tuple(value.items()), value)

    def rate_plan(self, item: object) -> str:
        if not isinstance(item, str):
            raise _Unsure
        found = self.rate_plans.get(item)
        if found is None:
            if not 0 < len(item) <= 128:
                raise _Unsure
            found = self.rate_plans[item] = plain_text(item) if item[0] in YAML11_FIRST else item
        return found

    def plan_list(self, item: object) -> tuple[str, ...]:
        if not isinstance(item, list):
            raise _Unsure
        raw = tuple(item)
        try:
            found = self.plans.get(raw)
        except TypeError:  # a list or mapping in it: not a plain entry
            raise _Unsure from None
        if found is None:
            if len(set(raw)) != len(raw):
                raise _Unsure
            for plan in raw:
                if not _plain_name(plan):
                    raise _Unsure
                plain_text(plan)
            if len(self.plans) >= _CACHED:
                self.plans.clear()
            found = self.plans[raw] = raw
        return found

    def apn_statuses(self, item: object) -> dict[str, ApnStatus]:
        if not isinstance(item, dict):
            raise _Unsure
        raw = tuple(item.items())
        try:
            found = self.apns.get(raw)
        except TypeError:
            raise _Unsure from None
        if found is None:
            found = {}
            for apn, status in raw:
                known = _APN_STATUSES.get(status) if status.__class__ is str else None
                if known is None or apn.__class__ is not str or not 0 < len(apn) <= 255:
                    raise _Unsure
                if apn[0] in YAML11_FIRST:
                    plain_text(apn)
                found[apn] = known
            if len(self.apns) >= _CACHED:
                self.apns.clear()
            self.apns[raw] = found
        return found

    def custom_fields(self, item: object) -> dict[str, str | None]:
        if not isinstance(item, dict):
            raise _Unsure
        raw = tuple(item.items())
        try:
            found = self.custom.get(raw)
        except TypeError:
            raise _Unsure from None
        if found is None:
            found = {}
            for name, text in raw:
                if name not in _CUSTOM:
                    raise _Unsure
                if text is not None:
                    if text.__class__ is not str or len(text) > 255:
                        raise _Unsure
                    if text and text[0] in YAML11_FIRST:
                        plain_text(text)
                found[name] = text
            if len(self.custom) >= _CACHED:
                self.custom.clear()  # mostly distinct values (asset tags): keep few alive
            self.custom[raw] = found
        return found


# What a SIM is turned into, if not kept (`reconciler.manifest.delta`: a fingerprint)
Reduce = Callable[[DesiredSim], object]
_Reduced = TypeVar("_Reduced")


def _expand(
    value: dict[str, Any],
    marks: FileMarks,
    index: int,
    defaults: _Settings,
    sims: dict[str, Any],
    shared_values: _Shared,
    reduce: Reduce | None,
) -> str:
    """Add the group's SIMs to ``sims`` (each reduced by ``reduce``, if given); return the
    group's name.

    A SIM entry's own settings are checked and merged over the group's in one pass (what
    `_level` and `_under` do, fused: this loop runs once per SIM)."""
    mapping_of = shared_values.mapping
    shapes = shared_values.shapes
    metadata = value["metadata"]
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if not isinstance(name, str) or not name:
        raise _Unsure
    spec = value["spec"]
    group = {k: v for k, v in spec.items() if k != "sims"}
    shared = _under(defaults, _level(group, marks, (index, "spec"), False))
    shared_plans = shared.plans or ()
    shared_sources = shared.sources
    places = GroupPlaces(marks, index, shared_sources, shared_plans)
    match = ICCID_PATTERN.match
    shared_apns, shared_custom = shared.apns, shared.custom
    retired_differs = shared.rate_plan is not None or shared_plans or shared_apns or shared_custom
    # a checked entry value (by id, kept alive here so that its id is not reused once the value
    # caches start again) -> that value over the group's
    merged: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
    for position, entry in enumerate(spec["sims"]):
        state, rate_plan, plans = shared.state, shared.rate_plan, shared_plans
        apns, custom = shared_apns, shared_custom
        sources: Mapping[str, SourceRef] = shared_sources
        shape: Shape | None = None
        if entry.__class__ is str:
            iccid = entry
        elif entry.__class__ is dict:
            declared = entry.get("iccid")
            if declared.__class__ is not str:
                raise _Unsure
            iccid = declared
            plan_names = apn_names = custom_names = None
            if len(entry) > 1:
                for key, item in entry.items():
                    if key == "iccid":
                        continue
                    if key == "state":
                        state = _STATES.get(item) if item.__class__ is str else None
                        if state is None:
                            raise _Unsure
                    elif key == "ratePlan":
                        rate_plan = shared_values.rate_plan(item)
                    elif key == "apns":
                        own = shared_values.apn_statuses(item)
                        apn_names = tuple(item)
                        if own and shared_apns:
                            pair = merged.get(id(own))
                            if pair is None or pair[0] is not own:
                                pair = merged[id(own)] = (own, mapping_of({**shared_apns, **own}))
                            apns = pair[1]
                        elif own:
                            apns = own
                    elif key == "customFields":
                        own_custom = shared_values.custom_fields(item)
                        custom_names = tuple(item)
                        if own_custom and shared_custom:
                            pair = merged.get(id(own_custom))
                            if pair is None or pair[0] is not own_custom:
                                over = mapping_of({**shared_custom, **own_custom})
                                pair = merged[id(own_custom)] = (own_custom, over)
                            custom = pair[1]
                        elif own_custom:
                            custom = own_custom
                    elif key == _SUPPLEMENTARY:
                        plans = plan_names = shared_values.plan_list(item)
                    else:
                        raise _Unsure  # the schema names it
            shape = (tuple(entry), plan_names, apn_names, custom_names)
            found_shape = shapes.get(shape)
            if found_shape is None:
                if len(shapes) >= _CACHED:
                    shapes.clear()  # (a fleet of a few distinct shapes never gets here)
                found_shape = shapes[shape] = shape
            shape = found_shape
        else:
            raise _Unsure
        if match(iccid) is None or not luhn_valid_digits(iccid) or iccid in sims:
            raise _Unsure
        source = SimSource(places, position, iccid, shape)
        if state is DesiredState.RETIRED and retired_differs:
            # A retired SIM takes only ``state`` from its group and the defaults, the rest from
            # its own entry (`reconciler.manifest.loader.retired_only`); values cached above.
            mine: dict[str, Any] = entry if isinstance(entry, dict) else {}
            rate_plan = shared_values.rate_plan(mine["ratePlan"]) if "ratePlan" in mine else None
            plans = shared_values.plan_list(mine[_SUPPLEMENTARY]) if _SUPPLEMENTARY in mine else ()
            apns = shared_values.apn_statuses(mine["apns"]) if "apns" in mine else {}
            custom = shared_values.custom_fields(mine.get("customFields", {}))
            sources = places.retired
            if shape is not None and len(shape[0]) > 1:
                sources = RetiredFieldSources(source)
        elif shape is not None and len(shape[0]) > 1:  # the entry declares more than its ICCID
            sources = LazyFieldSources(source)
        sim = DesiredSim(
            iccid=iccid,
            group=name,
            source=source,
            state=state,
            rate_plan=rate_plan,
            supplementary_plans=plans,
            apns=apns,
            custom_fields=custom,
            field_sources=sources,
        )
        sims[iccid] = sim if reduce is None else reduce(sim)
    return name

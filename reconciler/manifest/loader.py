"""From manifest files to one `DesiredFleet`: read, validate, check, expand.

Every problem of a run is collected (YAML, schema, the rules below) and raised together as one
`ManifestError`; nothing is half-loaded.

Rules a schema cannot say, checked here:

- exactly one ``Fleet`` document in the set;
- every ICCID's last digit is its Luhn check digit;
- an ICCID is declared once across all files (the message names both places);
- SimGroup names are unique;
- an ICCID written as an unquoted number is refused with a request to quote it: YAML reads it
  as an integer, and tools other than this one (yq, JavaScript) round 20-digit integers.

Expansion, Fleet ``defaults`` < SimGroup ``spec`` < per-SIM entry:

- ``state`` and ``ratePlan``: the narrowest level that declares one wins;
- ``apns`` and ``customFields``: merged key by key, the narrowest level winning per key;
- ``supplementaryPlans``: a list replaces the wider level's list as a whole (``[]`` at a SIM
  means "manage none for this SIM"); plans are subscribe-only, so a plan left out of the list is
  left alone, never unsubscribed.

The Fleet's ``guards.maxChanges`` is a count (`FleetSpec.max_changes`) or a string like
``"10%"`` (`FleetSpec.max_changes_percent` = 10.0, the percentage itself, not a fraction; at most
100); ``unmanaged`` defaults to ``report`` and ``allowRetire`` to false.

``spec.rollout`` of the Fleet and of a SimGroup (`reconciler.manifest.rollout` checks it): a
group's replaces the Fleet's for its SIMs (`DesiredSim.rollout`), as a whole.

A retired SIM (its merged ``state`` is ``retired``) takes only ``state`` from its group and the
defaults: its other fields are managed only where its own entry declares them (`retired_only`).

A field no level declares is not managed: it is absent from the `DesiredSim` and from its
``field_sources``. SIMs of a group that declare nothing of their own share the group's
dictionaries and `SourceRef` objects (100,000 SIMs fit in little memory); the records are
frozen and nobody may mutate those shared mappings.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler import fields
from reconciler.errors import ManifestError, ManifestProblem
from reconciler.fields import Export, FieldKind
from reconciler.manifest.documents import Document, format_path, read_documents
from reconciler.manifest.documents import Path as DocPath
from reconciler.manifest.fast import load_fast
from reconciler.manifest.files import Digest, find_files, read_file
from reconciler.manifest.iccid import check_digit, luhn_valid
from reconciler.manifest.rollout import parse_rollout
from reconciler.manifest.schema import (
    JsonSchemaValidator,
    SchemaValidator,
    SchemaViolation,
    sim_entry_violations,
)
from reconciler.model import (
    STATE,
    DesiredFleet,
    DesiredSim,
    DesiredState,
    FleetSpec,
    RolloutPolicy,
    SourceRef,
)

FLEET = "Fleet"
SIM_GROUP = "SimGroup"
_SIMS: DocPath = ("spec", "sims")


class Settings:
    """SIM settings declared at one level, or merged over several, with where each was declared.

    ``values``: per field kind (its name in `reconciler.fields`) the value as `DesiredSim` holds
    it: a `DesiredState` or a text (one value), a tuple of names (a set, present when the level
    declares the list at all, even empty), a dict (a map, present when not empty).
    """

    __slots__ = ("_desired", "sources", "values")

    def __init__(
        self,
        values: dict[str, Any] | None = None,
        sources: dict[str, SourceRef] | None = None,
    ) -> None:
        self.values: dict[str, Any] = values if values is not None else {}
        self.sources: dict[str, SourceRef] = sources if sources is not None else {}
        self._desired: dict[str, Any] | None = None

    @property
    def state(self) -> DesiredState | None:
        state: DesiredState | None = self.values.get(STATE)
        return state

    def desired(self) -> dict[str, Any]:
        """The `DesiredSim` arguments these settings make (computed once: the SIMs of a group
        that declare nothing of their own share them, dictionaries included)."""
        if self._desired is None:
            out: dict[str, Any] = {}
            extra: dict[str, dict[str, str | None]] = {}
            for kind in fields.kinds():
                if kind.name not in self.values:
                    if kind.attribute is not None and kind.export is not Export.ONE:
                        # not managed: an empty set or map, one object for all these SIMs
                        out[kind.attribute] = () if kind.export is Export.SET else {}
                    continue
                value = self.values[kind.name]
                if kind.attribute is not None:
                    out[kind.attribute] = value
                else:
                    extra[kind.name] = value if isinstance(value, dict) else {"": value}
            if extra:
                out["extra"] = extra
            self._desired = out
        return self._desired

    def under(self, narrower: Settings) -> Settings:
        """These settings with ``narrower``'s on top (precedence: narrower wins; a set
        declared at the narrower level replaces the wider one's, maps merge key by key)."""
        if not narrower.sources and not narrower.values:
            return self
        sources = dict(self.sources)
        values = dict(self.values)
        for name, mine in narrower.values.items():
            kind = fields.named(name)
            if kind.export is Export.SET:
                for key in values.get(name) or ():
                    sources.pop(kind.path(key), None)
                values[name] = mine
            elif kind.export is Export.ONE:
                values[name] = mine
            else:
                values[name] = {**values[name], **mine} if name in values else mine
        sources.update(narrower.sources)
        return Settings(values, sources)


NO_SETTINGS = Settings()


@dataclass(frozen=True, slots=True)
class ManifestSet:
    """A loaded manifest set: the fleet, and the SimGroup names in reading order."""

    fleet: DesiredFleet
    groups: tuple[str, ...]


@dataclass(slots=True)
class _Group:
    name: str
    source: SourceRef
    settings: Settings
    entries: list[tuple[str, SourceRef, Settings]]
    rollout: RolloutPolicy | None = None


def _settings(doc: Document, mapping: object, path: DocPath) -> Settings:
    """The settings a mapping declares; values of the wrong shape (already reported) are skipped."""
    if not isinstance(mapping, dict):
        return NO_SETTINGS
    file = doc.file
    marks = doc.marks
    values: dict[str, Any] = {}
    sources: dict[str, SourceRef] = {}
    for kind in fields.kinds():
        name = kind.name
        declared = mapping.get(name)
        if declared is None:
            continue
        if kind.export is Export.ONE:
            value = _declared_text(kind, declared)
            if value is not None:
                values[name] = value
                sources[kind.path()] = SourceRef(file, *marks[(*path, name)])
        elif kind.export is Export.SET:
            if isinstance(declared, list):
                kept: list[str] = []
                for index, key in enumerate(declared):
                    if isinstance(key, str) and key and key not in kept:
                        kept.append(key)
                        where = marks[(*path, name, index)]
                        sources[kind.path(key)] = SourceRef(file, *where)
                values[name] = tuple(kept)
        elif isinstance(declared, dict):
            entries: dict[str, Any] = {}
            for key, text in declared.items():
                if not isinstance(key, str) or not key or (kind.keys and key not in kind.keys):
                    continue
                value = None if text is None and kind.nullable else _declared_text(kind, text)
                if value is not None or (text is None and kind.nullable):
                    entries[key] = value
                    sources[kind.path(key)] = SourceRef(file, *marks[(*path, name, key)])
            if entries:
                values[name] = entries
    if not sources and not values:
        return NO_SETTINGS
    return Settings(values, sources)


def _declared_text(kind: FieldKind, text: object) -> Any:
    """A declared text as the kind's value, or None when it is not one (already reported)."""
    if not isinstance(text, str):
        return None
    if kind.choices is not None:
        return kind.choices.get(text)
    return text if text or kind.nullable else None


class _Loader:
    def __init__(self, validator: SchemaValidator) -> None:
        self.validator = validator
        self.problems: list[ManifestProblem] = []
        self.fleets: list[Document] = []
        self.groups: list[_Group] = []
        self.group_names: dict[str, SourceRef] = {}
        self.iccids: dict[str, tuple[str, SourceRef]] = {}  # iccid -> (group, where)

    def problem(self, doc: Document, path: DocPath, message: str, *, key: bool = False) -> None:
        line, column = doc.key_mark(path) if key else doc.mark(path)
        self.problems.append(
            ManifestProblem(doc.file, line, column, message, format_path(path) or None)
        )

    def document(self, doc: Document) -> None:
        value = doc.value
        entries = _sim_entries(value)
        if entries is not None:
            self.unquoted_iccids(doc, entries)
        bad_entries = self.validate(doc, value, entries)
        if not isinstance(value, dict):
            return
        kind = value.get("kind")
        if kind == FLEET:
            self.fleets.append(doc)
        elif kind == SIM_GROUP:
            self.group(doc, value, entries or [], bad_entries)

    def unquoted_iccids(self, doc: Document, entries: list[object]) -> None:
        for index, entry in enumerate(entries):
            path: DocPath = (*_SIMS, index)
            if isinstance(entry, dict):
                iccid = entry.get("iccid")
                if isinstance(iccid, int) and not isinstance(iccid, bool):
                    self.problem(doc, (*path, "iccid"), _quote_message(iccid))
                    entry["iccid"] = str(iccid)
            elif isinstance(entry, int) and not isinstance(entry, bool):
                self.problem(doc, path, _quote_message(entry))
                entries[index] = str(entry)

    def validate(self, doc: Document, value: object, entries: list[object] | None) -> set[int]:
        """Report schema violations; return the indexes of SIM entries that have some."""
        skeleton = value
        violations: list[SchemaViolation] = []
        if entries is not None:
            assert isinstance(value, dict)
            skeleton = {**value, "spec": {**value["spec"], "sims": []}}
            violations = sim_entry_violations(self.validator, entries, _SIMS)
        violations = self.validator.violations(skeleton) + violations
        bad: set[int] = set()
        refused = doc.refused
        for violation in violations:
            path = violation.path
            if refused and any(path[:n] in refused for n in range(len(path) + 1)):
                continue  # the value was dropped for its tag, and that is reported already
            if path[:2] == _SIMS and len(path) > 2 and isinstance(path[2], int):
                bad.add(path[2])
            if violation.unknown_keys:
                where = format_path(path[:-1])
                self.problem(
                    doc,
                    path,
                    f"{where}: {violation.message}" if where else violation.message,
                    key=True,
                )
            else:
                where = format_path(path)
                self.problem(
                    doc, path, f"{where}: {violation.message}" if where else violation.message
                )
        return bad

    def group(
        self, doc: Document, value: dict[str, object], entries: list[object], bad: set[int]
    ) -> None:
        metadata = value.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        name = name if isinstance(name, str) else ""
        source = SourceRef(doc.file, *doc.mark(()))
        if name:
            first = self.group_names.get(name)
            if first is not None:
                self.problem(
                    doc,
                    ("metadata", "name"),
                    f"metadata.name: SimGroup {name!r} is already declared at {first}; "
                    "group names must be unique",
                )
            else:  # a later duplicate points here: at the name, not the document's first line
                self.group_names[name] = SourceRef(doc.file, *doc.mark(("metadata", "name")))
        settings = _settings(doc, value.get("spec"), ("spec",))
        group = _Group(name, source, settings, [], self.rollout(doc, value.get("spec")))
        self.groups.append(group)
        file = doc.file
        marks = doc.marks
        iccids = self.iccids
        out = group.entries
        for index, entry in enumerate(entries):
            if index in bad:
                continue
            path: DocPath = (*_SIMS, index)
            if isinstance(entry, str):
                iccid = entry
                own = NO_SETTINGS
                iccid_path = path
            elif isinstance(entry, dict):
                iccid = entry["iccid"]
                own = _settings(doc, entry, path)
                iccid_path = (*path, "iccid")
            else:  # pragma: no cover - the schema refused it
                continue
            where = SourceRef(file, *marks[path])
            if not luhn_valid(iccid):
                self.problem(
                    doc,
                    iccid_path,
                    f"ICCID {iccid}: bad check digit {iccid[-1]}; the Luhn check digit of "
                    f"{iccid[:-1]} is {check_digit(iccid[:-1])}",
                )
                continue
            declared = iccids.get(iccid)
            if declared is not None:
                first_group, first_where = declared
                self.problem(
                    doc,
                    iccid_path,
                    f"ICCID {iccid} is declared twice: here (group {name!r}) and at "
                    f"{first_where} (group {first_group!r}); a SIM belongs to exactly one group",
                )
                continue
            iccids[iccid] = (name, where)
            out.append((iccid, where, own))

    def rollout(self, doc: Document, spec: object) -> RolloutPolicy | None:
        """The document's ``spec.rollout``, its faults reported at their places."""
        if not isinstance(spec, dict) or "rollout" not in spec:
            return None
        at: DocPath = ("spec", "rollout")

        def report(path: tuple[str | int, ...], message: str) -> None:
            self.problem(doc, (*at, *path), f"{format_path((*at, *path))}: {message}")

        return parse_rollout(spec["rollout"], SourceRef(doc.file, *doc.mark(at)), report)

    def fleet(self, place: str, complete: bool) -> FleetSpec | None:
        """The set's one FleetSpec. A missing Fleet is only reported when every file could be
        read: a Fleet hidden behind a syntax error is not missing, and saying so is noise."""
        if not self.fleets and not complete:
            return None
        if not self.fleets:
            self.problems.append(
                ManifestProblem(
                    place, 1, 1, "no Fleet document: a manifest set needs exactly one (kind: Fleet)"
                )
            )
            return None
        doc = self.fleets[0]
        first = SourceRef(doc.file, *doc.mark(()))
        for extra in self.fleets[1:]:
            self.problem(
                extra,
                ("kind",),
                "a second Fleet document; a manifest set has exactly one "
                f"(the first is at {first})",
            )
        value = doc.value
        assert isinstance(value, dict)
        metadata = value.get("metadata")
        spec = value.get("spec")
        spec = spec if isinstance(spec, dict) else {}
        name = metadata.get("name") if isinstance(metadata, dict) else None
        account = spec.get("account")
        guards = spec.get("guards")
        guards = guards if isinstance(guards, dict) else {}
        limit = guards.get("maxChanges")
        max_changes = limit if isinstance(limit, int) and not isinstance(limit, bool) else None
        max_percent = self.guard_percent(doc, guards, "maxChanges")
        mass_percent = self.guard_percent(doc, guards, "massDisable")
        unmanaged = spec.get("unmanaged")
        return FleetSpec(
            name=name if isinstance(name, str) else "",
            account=account if isinstance(account, str) else "",
            source=first,
            unmanaged=unmanaged if unmanaged in ("report", "ignore") else "report",
            max_changes=max_changes,
            max_changes_percent=max_percent,
            allow_retire=guards.get("allowRetire") is True,
            rollout=self.rollout(doc, spec),
            mass_disable_percent=mass_percent,
        )

    def guard_percent(self, doc: Document, guards: dict[str, Any], key: str) -> float | None:
        """``guards.<key>`` written as a share (``"10%"``): the percentage, or None. A share
        over 100% is reported here; one that is not a number, by the schema."""
        value = guards.get(key)
        if not (isinstance(value, str) and value.endswith("%")):
            return None
        try:
            share = float(value[:-1])
        except ValueError:
            return None  # the schema reported it
        if share > 100:
            path: DocPath = ("spec", "guards", key)
            self.problem(doc, path, f"spec.guards.{key}: {value!r} is more than 100%")
            return None
        return share

    def defaults(self) -> Settings:
        if not self.fleets or not isinstance(self.fleets[0].value, dict):
            return NO_SETTINGS
        spec = self.fleets[0].value.get("spec")
        if not isinstance(spec, dict):
            return NO_SETTINGS
        return _settings(self.fleets[0], spec.get("defaults"), ("spec", "defaults"))

    def expand(self, fleet_rollout: RolloutPolicy | None = None) -> dict[str, DesiredSim]:
        defaults = self.defaults()
        sims: dict[str, DesiredSim] = {}
        for group in self.groups:
            rollout = group.rollout or fleet_rollout
            shared = defaults.under(group.settings)
            shared_retired = retired_only(shared, NO_SETTINGS)
            entries, group.entries = group.entries, []
            entries.reverse()  # popped from the end, in the order written
            while entries:
                # each SIM's own settings are let go once merged: the merged records copy
                # them, so holding both for the whole fleet doubled the load's peak
                iccid, where, own = entries.pop()
                merged = shared.under(own) if own is not NO_SETTINGS else shared
                if merged.state is DesiredState.RETIRED:
                    merged = shared_retired if own is NO_SETTINGS else retired_only(merged, own)
                sims[iccid] = DesiredSim(
                    iccid=iccid,
                    group=group.name,
                    source=where,
                    field_sources=merged.sources,
                    rollout=rollout,
                    **merged.desired(),
                )
        return {iccid: sims[iccid] for iccid in sorted(sims)}  # no list of a million pairs


def retired_only(merged: Settings, own: Settings) -> Settings:
    """A retired SIM takes only ``state`` from its group and the Fleet defaults.

    Nothing can change a retired SIM, so a group's ``ratePlan`` (or APNs, custom fields,
    supplementary plans) managed on it would only turn every edit of the group into one error
    per retired SIM. Its other fields are unmanaged unless its own entry declares them.
    """
    sources = {STATE: merged.sources[STATE]} if STATE in merged.sources else {}
    values = {STATE: merged.state} if merged.state is not None else {}
    inherited = Settings(values, sources)
    return inherited.under(own)


def _sim_entries(value: object) -> list[object] | None:
    """The ``spec.sims`` list of a SimGroup document, when it is one."""
    if not isinstance(value, dict) or value.get("kind") != SIM_GROUP:
        return None
    spec = value.get("spec")
    if not isinstance(spec, dict):
        return None
    sims = spec.get("sims")
    return sims if isinstance(sims, list) else None


def _quote_message(number: int) -> str:
    return (
        f'ICCID {number} must be quoted, as "{number}": YAML reads an unquoted number as an '
        "integer, which other tools round"
    )


def load_manifests(
    paths: Sequence[Path | str], validator: SchemaValidator | None = None
) -> ManifestSet:
    """Load, validate and expand the manifests under ``paths``; raise `ManifestError` with
    every problem found."""
    with _collector_paused():
        checker = validator or default_validator()
        fast = load_fast(paths, checker)
        if fast is not None:
            fleet, groups = fast
            return ManifestSet(fleet=fleet, groups=groups)
        return _load(paths, checker)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building: loading makes hundreds of thousands
    of small acyclic objects, and the collector's passes over them cost more than the rest of
    the load (measured: 2.5 s -> 1.0 s for 100,000 SIMs). Reference counting still frees."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _load(paths: Sequence[Path | str], validator: SchemaValidator | None) -> ManifestSet:
    files, problems = find_files(paths)
    read = ((file.display, *read_file(file)) for file in files)
    place = files[0].display if files else (str(paths[0]) if paths else ".")
    return _load_read(read, [f.display for f in files], problems, place, validator)


def load_blobs(
    blobs: Sequence[tuple[str, bytes]],
    problems: Sequence[ManifestProblem] = (),
    *,
    place: str = ".",
    validator: SchemaValidator | None = None,
) -> ManifestSet:
    """Load manifests whose bytes were read elsewhere (a git commit's blobs), named as given,
    in the order given: the same parsing, validation and expansion as `load_manifests`.
    ``problems`` are those met finding the blobs; ``place`` names the set when it is empty."""
    with _collector_paused():
        read = ((display, data, None) for display, data in blobs)
        displays = [display for display, _ in blobs]
        return _load_read(read, displays, list(problems), place, validator)


def _load_read(
    read: Iterable[tuple[str, bytes | None, ManifestProblem | None]],
    displays: Sequence[str],
    problems: list[ManifestProblem],
    place: str,
    validator: SchemaValidator | None,
) -> ManifestSet:
    loader = _Loader(validator or default_validator())
    loader.problems.extend(problems)
    complete = not problems  # every file found and read to its end
    digest = Digest()
    for display, data, problem in read:
        if data is None:
            assert problem is not None
            loader.problems.append(problem)
            complete = False
            continue
        digest.add(data)
        parsed = read_documents(data, display)
        loader.problems.extend(parsed.problems)
        complete = complete and parsed.complete
        for doc in parsed.documents:
            loader.document(doc)
    spec = loader.fleet(place, complete)
    if loader.problems or spec is None:
        order = {display: i for i, display in enumerate(displays)}
        loader.problems.sort(key=lambda p: (order.get(p.file, -1), p.line, p.column))
        raise ManifestError(loader.problems)
    sims = loader.expand(spec.rollout)
    fleet = DesiredFleet(fleet=spec, sims=sims, digest=digest.hexdigest(), files=tuple(displays))
    return ManifestSet(fleet=fleet, groups=tuple(g.name for g in loader.groups))


@dataclass(frozen=True, slots=True)
class Validation:
    """The verdict of ``fleetform validate``: the manifests, or every problem found."""

    manifests: ManifestSet | None
    problems: tuple[ManifestProblem, ...]

    @property
    def ok(self) -> bool:
        return self.manifests is not None and not self.problems

    def summary(self) -> str:
        if self.manifests is None:
            count = len(self.problems)
            return f"{count} problem{'s' if count != 1 else ''} in the manifests"
        fleet = self.manifests.fleet
        sims, groups, files = len(fleet.sims), len(self.manifests.groups), len(fleet.files)
        return (
            f"OK: {sims} SIM{'s' if sims != 1 else ''} in {groups} group"
            f"{'s' if groups != 1 else ''} across {files} file{'s' if files != 1 else ''}"
        )


def validate(paths: Sequence[Path | str], validator: SchemaValidator | None = None) -> Validation:
    """Load the manifests offline and say whether they are valid (never raises ManifestError)."""
    try:
        return Validation(load_manifests(paths, validator), ())
    except ManifestError as error:
        return Validation(None, error.problems)


def problem_record(problem: ManifestProblem) -> dict[str, object]:
    """A problem as JSON for machines (``validate --format json``)."""
    return {
        "file": problem.file,
        "line": problem.line,
        "column": problem.column,
        "field": problem.field,
        "message": problem.message,
    }


_DEFAULT: list[SchemaValidator] = []


def default_validator() -> SchemaValidator:
    """The validator used when none is passed (built once: compiling the schema takes time)."""
    if not _DEFAULT:
        _DEFAULT.append(JsonSchemaValidator())
    return _DEFAULT[0]


def load_fleet(paths: Sequence[Path | str]) -> DesiredFleet:
    """The `DesiredFleet` the manifests under ``paths`` declare; `ManifestError` if invalid."""
    return load_manifests(paths).fleet


__all__ = [
    "ManifestSet",
    "Settings",
    "Validation",
    "load_blobs",
    "load_fleet",
    "load_manifests",
    "problem_record",
    "validate",
]

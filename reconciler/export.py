"""Live SIMs -> fleetform/v1 manifests (``fleetform export``): pure, deterministic, no I/O.

The output is a manifest set on which a ``plan`` right after shows no change:

- SIMs are grouped by one key (``status`` by default, or ``ratePlan``, ``custom1``..``custom5``),
  then by common combination of state, rate plan, supplementary plans and APNs: each
  combination shared by `MIN_GROUP_SIMS` SIMs or more is one ``SimGroup``, and a SIM with a
  rarer combination joins the closest group. One file per ``SimGroup`` (``status-active.yaml``,
  ``status-active-2.yaml``, ...). Within a group each field's most common value goes into the
  group's spec, and a SIM gets its own entry only for what differs from it.
- Managed fields: state, ratePlan, supplementaryPlans (the subscribed ones), every APN's status,
  and all five custom fields (an empty one as ``null``: it must stay empty).
- Merge rules are chosen so the result holds whether the loader replaces or merges a SIM's own
  lists and maps: a group's ``supplementaryPlans`` is what *every* SIM of it has subscribed
  (a SIM lists its whole set where it has more), and a group's ``apns`` only holds APNs that
  every SIM of it has.
- Pre-service SIMs (test_ready, inventory, activation_ready) cannot be declared in fleetform/v1,
  so their state is left unmanaged: they go into a separate ``SimGroup`` without ``state``
  (``<group>-pre-service``), said so in a comment.
- Retired SIMs go into groups of their own (``<group>-retired``; ``status-retired`` when
  grouped by status) that declare only ``state: retired``: nothing can change a retired SIM,
  and a retired SIM takes only ``state`` from its group, so an ordinary edit of a group
  (``ratePlan``) never meets a retired SIM.
- The Fleet (``fleet.yaml``) has no defaults (every group says all it manages), ``unmanaged:
  report`` and conservative guards. When the output folder already holds a Fleet (``init``
  wrote one, or an earlier export), its name (unless ``--name`` is given) and its guards are
  kept (`ExportSettings`; the command reads the folder): re-exporting must not rename the
  fleet after its account nor loosen guards someone chose.
- Every file starts with a ``yaml-language-server`` line pointing at ``fleet.schema.json``
  beside it; the command writes that copy of the schema (`schema_comment` says why).
- A group larger than ``MAX_SIMS_PER_FILE`` is cut into parts (``-part-001``...) so that no
  file gets unwieldy; ICCIDs are sorted, every ICCID is quoted.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from reconciler import fields
from reconciler.errors import ConfigError
from reconciler.fields import Export, FieldKind
from reconciler.manifest import schema_comment
from reconciler.model import PRE_SERVICE, LiveSim, Status

MAX_SIMS_PER_FILE = 5000
MIN_GROUP_SIMS = 10  # a combination of settings this common gets a SimGroup of its own
FLEET_FILE = "fleet.yaml"
GUARD_MAX_CHANGES = "10%"  # conservative: a tenth of the declared fleet per apply

T = TypeVar("T", bound=Hashable)
U = TypeVar("U")


@dataclass(frozen=True, slots=True)
class ExportSettings:
    """What the Fleet document says. ``max_changes`` and ``allow_retire`` are the guards;
    ``kept_from`` names the manifest the name and guards were kept from (said in a comment)."""

    account: str
    fleet_name: str
    group_by: str = "status"
    max_changes: int | str = GUARD_MAX_CHANGES
    allow_retire: bool = False
    kept_from: str | None = None


@dataclass(frozen=True, slots=True)
class ExportFile:
    name: str  # file name inside the output folder
    text: str
    sims: int


class SimValues(tuple[Any, ...]):
    """The managed values of one SIM, as a manifest would declare them: ``(iccid, value of each
    field kind in `reconciler.fields` order)``, each as the kind's ``exported`` reads it. A
    tuple, not a record of named fields: a million of them are held at once for grouping."""

    __slots__ = ()

    @property
    def iccid(self) -> str:
        return str(self[0])

    def value(self, kind: str) -> Any:
        """The value of the field kind named ``kind`` (``ratePlan``, ``apns``...)."""
        return self[1 + _position(kind)]

    @property
    def values(self) -> tuple[Any, ...]:
        return self[1:]


def _position(kind: str) -> int:
    return next(i for i, k in enumerate(fields.kinds()) if k.name == kind)


def _shared(kind: FieldKind, value: Any, shared: dict[Hashable, Any]) -> Any:
    """``value``, or an equal one already held (texts, sets and APN maps repeat across SIMs)."""
    if kind.export is Export.EVERY_KEY:  # mostly per SIM: share each text, not the map
        return {key: shared.setdefault(v, v) if v else None for key, v in value.items()}
    if kind.export is Export.COMMON_KEYS:
        return shared.setdefault((kind.name, *value.items()), value)
    return shared.setdefault(value, value) if value else value


def sim_values(sim: LiveSim, shared: dict[Hashable, Any] | None = None) -> SimValues:
    """The SIM's managed values. With ``shared`` (one dict for a whole export), equal values
    (rate plans, plan sets, APN maps, custom field texts) are one object across SIMs: a million
    SIMs held at once for grouping fit in a few hundred MB."""
    if shared is None:
        return SimValues((sim.iccid, *(kind.exported(sim) for kind in fields.kinds())))
    return SimValues(
        (sim.iccid, *(_shared(kind, kind.exported(sim), shared) for kind in fields.kinds()))
    )


# --- naming ----------------------------------------------------------------------------------

_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def _slug(text: str) -> str:
    return _NAME_CHARS.sub("-", text).strip("-._")[:100] or "x"


def fleet_name_for(account: str) -> str:
    return _slug(account)


def group_keys() -> tuple[str, ...]:
    """What ``--group-by`` may name: ``status``, a one-text field kind (``ratePlan``), or a key
    of a fixed-keys kind (``custom1``..``custom5``)."""
    keys: list[str] = ["status"]
    for kind in fields.kinds():
        if kind.export is Export.ONE and kind is not fields.STATE_KIND:
            keys.append(kind.name)
        elif kind.export is Export.EVERY_KEY:
            keys.extend(kind.keys)
    return tuple(keys)


GROUP_KEYS: tuple[str, ...] = group_keys()  # of the field kinds as they are at import


def group_value(group_by: str) -> Callable[[LiveSim], str | None]:
    """What a SIM's group is named after under ``--group-by group_by``: worked out once per
    export, then called for every SIM."""
    if group_by == "status":
        return lambda sim: sim.status.value
    for kind in fields.kinds():
        if kind.export is Export.ONE and kind.name == group_by:
            return kind.exported
        if kind.export is Export.EVERY_KEY and group_by in kind.keys:
            live = kind.live
            return lambda sim: live(sim, group_by)
    return lambda sim: None


def _group_name(group_by: str, value: str | None) -> str:
    return f"{_slug(group_by)}-{_slug(value) if value is not None else 'none'}"


# --- factoring -------------------------------------------------------------------------------


def _mode(values: Iterable[T], order: Callable[[T], str]) -> T:
    """The most common value; ties go to the first in ``order`` (deterministic)."""
    counts = Counter(values)
    return min(counts, key=lambda v: (-counts[v], order(v)))


def _key(value: str | None) -> str:
    return "" if value is None else "\x01" + value


@dataclass(frozen=True, slots=True)
class GroupSpec:
    """A group's spec: one value per field kind, in `reconciler.fields` order."""

    values: tuple[Any, ...]

    def value(self, kind: str) -> Any:
        return self.values[_position(kind)]


def _factor_kind(kind: FieldKind, values: Sequence[Any]) -> Any:
    """What the group's spec says of one kind (see the module docstring for the rules)."""
    if kind.export is Export.ONE:
        present = [v for v in values if v is not None]
        return _mode(present, str) if present else None
    if kind.export is Export.SET:
        return frozenset.intersection(*values)
    if kind.export is Export.COMMON_KEYS:
        common = set.intersection(*(set(v) for v in values))
        return {key: _mode((v[key] for v in values), str) for key in sorted(common)}
    return {key: _mode((v[key] for v in values), _key) for key in kind.keys}


def factor(sims: Sequence[SimValues]) -> GroupSpec:
    """The group's spec: what most of its SIMs share (see the module docstring for the rules)."""
    return GroupSpec(
        tuple(_factor_kind(kind, [s[1 + i] for s in sims]) for i, kind in enumerate(fields.kinds()))
    )


def _own(kind: FieldKind, mine: Any, group: Any) -> Any:
    """What a SIM declares itself of one kind, or None when the group's spec says it."""
    if kind.export is Export.ONE:
        return mine if mine is not None and mine != group else None
    if kind.export is Export.SET:
        return sorted(mine) if mine != group else None
    if kind.export is Export.COMMON_KEYS:
        differing = {k: v for k, v in sorted(mine.items()) if group.get(k) != v}
    else:
        differing = {k: v for k, v in mine.items() if group[k] != v}
    return differing or None


def overrides(sim: SimValues, spec: GroupSpec) -> dict[str, object]:
    """What this SIM must declare itself, in manifest words; empty when the group says it all."""
    own: dict[str, object] = {}
    for kind, mine, group in zip(fields.kinds(), sim.values, spec.values, strict=True):
        value = _own(kind, mine, group)
        if value is not None:
            own[kind.name] = value
    return own


# --- YAML text -------------------------------------------------------------------------------

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


def scalar(value: object) -> str:
    """A YAML scalar: plain where unambiguous, else a JSON (= YAML double-quoted) string."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _YAML_WORDS:
        return text
    return _quoted(text)


# What YAML will not read raw (or reads as a line break) inside a double-quoted scalar.
_NOT_RAW = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]")


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is a subset), readable where it can be."""
    quoted = json.dumps(text, ensure_ascii=False)
    return _NOT_RAW.sub(lambda m: f"\\u{ord(m.group(0)):04x}", quoted)


def _flow(value: object) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{scalar(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return scalar(value)


def _header(lines: list[str], comments: Sequence[str]) -> None:
    lines.append(schema_comment())
    lines.extend(f"# {c}" for c in comments)


def render_group(
    name: str, spec: GroupSpec, sims: Sequence[SimValues], comments: Sequence[str]
) -> str:
    lines: list[str] = []
    _header(lines, comments)
    lines += ["apiVersion: fleetform/v1", "kind: SimGroup", "metadata:", f"  name: {name}"]
    lines.append("spec:")
    for kind, value in zip(fields.kinds(), spec.values, strict=True):
        if kind.export is Export.ONE:
            if value is not None:
                lines.append(f"  {kind.name}: {scalar(value)}")
        elif kind.export is Export.SET:
            if value:
                lines.append(f"  {kind.name}: {_flow(sorted(value))}")
        elif value or kind.export is Export.EVERY_KEY:
            lines.append(f"  {kind.name}:")
            lines.extend(f"    {scalar(k)}: {scalar(v)}" for k, v in value.items())
    lines.append("  sims:")
    for sim in sims:
        own = overrides(sim, spec)
        if own:
            body = ", ".join(f"{k}: {_flow(v)}" for k, v in own.items())
            lines.append(f"    - {{iccid: {_quoted(sim.iccid)}, {body}}}")
        else:
            lines.append(f"    - {_quoted(sim.iccid)}")
    return "\n".join(lines) + "\n"


def render_fleet(settings: ExportSettings, total: int) -> str:
    lines: list[str] = []
    comments = [
        f"Exported by `fleetform export` from SmartHub account {settings.account}: "
        f"{total} SIMs, grouped by {settings.group_by}.",
        "No defaults: every SimGroup declares what it manages.",
    ]
    if settings.kept_from:
        comments.append(
            f"Guards (and the name, unless --name was given) kept from the Fleet that was "
            f"in {settings.kept_from}."
        )
    _header(lines, comments)
    max_changes = settings.max_changes
    shown = str(max_changes) if isinstance(max_changes, int) else _quoted(max_changes)
    lines += [
        "apiVersion: fleetform/v1",
        "kind: Fleet",
        "metadata:",
        f"  name: {scalar(settings.fleet_name)}",
        "spec:",
        f"  account: {scalar(settings.account)}",
        "  unmanaged: report",
        "  guards:",
        f"    maxChanges: {shown}  # refuse bigger applies (--max-changes)",
        f"    allowRetire: {scalar(settings.allow_retire)}  # retiring is final (--allow-retire)",
    ]
    return "\n".join(lines) + "\n"


# --- the export ------------------------------------------------------------------------------


def _chunks(items: Sequence[U], size: int) -> list[Sequence[U]]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [items]


Profile = tuple[Any, ...]


def profile(sim: SimValues) -> Profile:
    """The settings SIMs commonly share (fixed-keys kinds, the custom fields, are mostly per
    SIM: left out)."""
    return tuple(
        tuple(sorted(value.items())) if kind.export is Export.COMMON_KEYS else value
        for kind, value in zip(fields.kinds(), sim.values, strict=True)
        if kind.export is not Export.EVERY_KEY
    )


def _distance(a: Profile, b: Profile) -> int:
    return sum(1 for x, y in zip(a, b, strict=True) if x != y)


def _order_part(value: Any) -> Any:
    if isinstance(value, frozenset):
        return sorted(value)
    return value if isinstance(value, tuple) else value or ""


def _profile_order(p: Profile) -> str:
    return repr(tuple(_order_part(v) for v in p))


def clusters(sims: Sequence[SimValues], min_sims: int) -> list[list[SimValues]]:
    """SIMs split by common profile: every profile shared by ``min_sims`` or more SIMs gets its
    own group (largest first); a SIM of a rarer profile joins the group whose profile is
    closest to its own (fewest differing settings, then the largest), so it needs the fewest
    overrides. With no common profile, all SIMs stay in one group."""
    by_profile: dict[Profile, list[SimValues]] = {}
    for sim in sims:
        by_profile.setdefault(profile(sim), []).append(sim)
    common = sorted(
        (p for p, members in by_profile.items() if len(members) >= min_sims),
        key=lambda p: (-len(by_profile[p]), _profile_order(p)),
    )
    if len(common) <= 1:
        return [sorted(sims, key=lambda s: s.iccid)]
    groups: dict[Profile, list[SimValues]] = {p: list(by_profile[p]) for p in common}
    rank = {p: i for i, p in enumerate(common)}
    for rare, members in by_profile.items():
        if rare in groups:
            continue
        nearest = min(common, key=lambda p: (_distance(rare, p), rank[p]))
        groups[nearest].extend(members)
    return [sorted(groups[p], key=lambda s: s.iccid) for p in common]


def _cluster_name(
    base: str, index: int, cluster: Sequence[SimValues], settings: ExportSettings
) -> str:
    """The largest cluster keeps the base name; the others add their rate plan (the kind that
    ``names_groups``, when the key is not that kind already); names made unique by a counter
    later."""
    if index == 1:
        return base
    spec = factor(cluster)
    for kind, value in zip(fields.kinds(), spec.values, strict=True):
        if kind.names_groups and settings.group_by != kind.name and value is not None:
            return f"{base}-{_slug(value)}"
    return f"{base}-{index}"


def _unique(name: str, used: set[str]) -> str:
    """``name``, or with a counter when taken (names that differ only in case or slugging)."""
    unique = name
    suffix = 2
    while unique.lower() in used:
        unique = f"{name}-{suffix}"
        suffix += 1
    used.add(unique.lower())
    return unique


def render_retired(name: str, iccids: Sequence[str], comment: str) -> str:
    """A group of retired SIMs: ``state: retired`` and nothing else (see the module docstring)."""
    lines: list[str] = []
    _header(
        lines,
        [
            comment,
            "Retiring is final and nothing can change a retired SIM: only the state is declared,",
            "their other fields are not managed (a retired SIM takes only state from its group).",
        ],
    )
    lines += ["apiVersion: fleetform/v1", "kind: SimGroup", "metadata:", f"  name: {name}"]
    lines += ["spec:", "  state: retired", "  sims:"]
    lines.extend(f"    - {_quoted(iccid)}" for iccid in iccids)
    return "\n".join(lines) + "\n"


def export_fleet(
    sims: Iterable[LiveSim],
    settings: ExportSettings,
    *,
    max_sims_per_file: int = MAX_SIMS_PER_FILE,
    min_group_sims: int = MIN_GROUP_SIMS,
) -> list[ExportFile]:
    """The manifest files for the account's SIMs: ``fleet.yaml`` first, then one per group.

    SIMs of other accounts are left out (the list is filtered by account already; this holds
    even if a client did not).
    """
    keys = group_keys()
    if settings.group_by not in keys:
        raise ConfigError(f"cannot group by {settings.group_by!r}: use one of {', '.join(keys)}")
    # Each SIM is kept only as its managed values (and its status) from the moment it is read:
    # the LiveSim records, with their identifiers and times, are not held for the whole fleet.
    shared: dict[Hashable, Any] = {}
    groups: dict[str | None, list[tuple[Status, SimValues]]] = {}
    group_of = group_value(settings.group_by)
    for sim in sims:
        if sim.account and sim.account != settings.account:
            continue
        key = group_of(sim)
        groups.setdefault(key, []).append((sim.status, sim_values(sim, shared)))
    del shared

    total = sum(len(g) for g in groups.values())
    files = [ExportFile(FLEET_FILE, render_fleet(settings, total), 0)]
    used: set[str] = {FLEET_FILE.removesuffix(".yaml")}
    for value in sorted(groups, key=_key):
        members = sorted(groups.pop(value), key=lambda m: m[1].iccid)
        base = _group_name(settings.group_by, value)
        shown = "empty" if value is None else _quoted(value)  # one line, whatever the value
        declared = [
            v for status, v in members if status not in PRE_SERVICE and status is not Status.RETIRED
        ]
        pre_service = [v for status, v in members if status in PRE_SERVICE]
        retired = [v.iccid for status, v in members if status is Status.RETIRED]
        parts: list[tuple[str, list[SimValues], list[str]]] = []
        if declared:
            parts.append((base, declared, [f"SIMs whose {settings.group_by} is {shown}."]))
        if pre_service:
            states = ", ".join(sorted({s.value for s, _ in members if s in PRE_SERVICE}))
            parts.append(
                (
                    f"{base}-pre-service",
                    pre_service,
                    [
                        f"SIMs whose {settings.group_by} is {shown}, in a pre-service state "
                        f"({states}).",
                        "fleetform/v1 cannot declare these states: state is left unmanaged here.",
                    ],
                )
            )
        if retired:
            retired_name = base if value == Status.RETIRED.value else f"{base}-retired"
            comment = f"Retired SIMs whose {settings.group_by} is {shown}."
            batches = _chunks(retired, max_sims_per_file)
            for number, batch in enumerate(batches, start=1):
                part = retired_name if len(batches) == 1 else f"{retired_name}-part-{number:03d}"
                unique = _unique(part, used)
                text = render_retired(unique, batch, comment)
                files.append(ExportFile(f"{unique}.yaml", text, len(batch)))
        named: list[tuple[str, list[SimValues], list[str]]] = []
        for name, members_values, comments in parts:
            for index, cluster in enumerate(clusters(members_values, min_group_sims), start=1):
                named.append((_cluster_name(name, index, cluster, settings), cluster, comments))
        for name, members_values, comments in named:
            chunks = _chunks(members_values, max_sims_per_file)
            for index, chunk in enumerate(chunks, start=1):
                part_name = name if len(chunks) == 1 else f"{name}-part-{index:03d}"
                unique = _unique(part_name, used)
                text = render_group(unique, factor(chunk), chunk, comments)
                files.append(ExportFile(f"{unique}.yaml", text, len(chunk)))
    return files

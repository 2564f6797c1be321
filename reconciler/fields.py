"""The managed field kinds: one table, one entry per kind of managed SIM field.

Each `FieldKind` says everything fleetform proper needs to know about one kind of field
(docs/architecture.md, "Adding a managed SIM field"):

- ``name``: the manifest key and the first word of its field paths;
- ``syntax``: its path syntax (``state``; ``apns[iot.acme]``; ``customFields.custom1``);
- ``live``: how its value is read from a live SIM, and ``desired``: from a declared SIM;
- ``operation``: the plan step that sets it (None for ``state``, which the state machine
  moves), with ``title`` the step's words in renderings and ``label`` the field's;
- ``cost``: requests a single (non-batch) call of one SIM spends: one per SIM, or one per key;
- ``change_type``: the change-history type that dates a drift of it (None: nothing dates it);
- how the planner treats it: ``catalogue`` (a rate-plan name checked against the account's
  catalogue), ``needs_active`` (only an active SIM accepts it), ``step_group`` (steps are
  split by the key or by the value, e.g. one step per rate plan);
- how renderings and exports write it: ``empty`` (the word for no value), ``transition``;
- how a write changes a live record (``written``): the live-state cache and fakes keep
  their copies right with it.

The API call of a kind is `reconciler.smarthub.api.SmartHubApi.write_field` with the kind's
name; `reconciler.smarthub.wire_fields` maps it to paths and bodies (``FIELD_WIRES``). diff,
planner, applier, drift, render and export iterate `FIELD_KINDS` and never name a kind
themselves.

The five kinds fleetform has keep their values in the typed attributes of `DesiredSim` and
`LiveSim` (``rate_plan``, ``apns``, ...). A kind added later keeps them in ``extra[name]``
of both (a mapping from key to text; the key is ``""`` for an unkeyed kind), so adding one
needs no change of the model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from reconciler.model import (
    CUSTOM_FIELD_NAMES,
    PRE_SERVICE,
    SUBSCRIBED,
    ApnStatus,
    DesiredSim,
    DesiredState,
    LiveSim,
    Operation,
    RatePlanType,
    Status,
)


class Syntax(StrEnum):
    """How a field path of a kind is written."""

    PLAIN = "plain"  # the name alone: ``state``
    BRACKETED = "bracketed"  # ``apns[iot.acme]``: one value per key
    DOTTED = "dotted"  # ``customFields.custom1``: one value per key


class Cost(StrEnum):
    """Requests one SIM's single call of a step spends."""

    PER_SIM = "per_sim"  # one call sets all of the SIM's values of the kind
    PER_KEY = "per_key"  # one call per key (per APN, per plan)


class Export(StrEnum):
    """How ``export`` writes a kind into manifests, and how a group's spec factors it out
    (`reconciler.export`). The value a SIM has is what ``exported`` reads from it."""

    ONE = "one"  # one text: the group's is the most common one; a SIM differing says its own
    SET = "set"  # a set of keys: the group's is what every SIM has; a SIM with more lists all
    COMMON_KEYS = "common_keys"  # a map: the group holds the keys every SIM has
    EVERY_KEY = "every_key"  # a map over the fixed ``keys``, all written (None: must be empty)


class Transition(StrEnum):
    """How a renderer words one change of the kind."""

    CHANGE = "change"  # ``ratePlan: IoT-1GB → IoT-5GB``
    SUBSCRIBE = "subscribe"  # ``subscribe: EU-Roaming`` (add-only)
    SET_OR_CLEAR = "set_or_clear"  # ``customFields.custom1: set`` / ``: clear`` (values hidden)


Values = Mapping[str | None, str | None]
Pairs = Sequence[tuple[str | None, str | None]]


@dataclass(frozen=True, slots=True, eq=False)
class FieldKind:
    """One kind of managed field; see the module docstring for what each part means. Compared
    and hashed by identity: each kind is one object of the table."""

    name: str
    syntax: Syntax
    label: str
    operation: Operation | None
    title: str
    cost: Cost
    change_type: str | None
    # (key, value) pairs the manifest declares, sorted by key; None and "" are both "empty"
    desired: Callable[[DesiredSim], Pairs]
    # the live value at a key, as a plan's ``before`` records it
    live: Callable[[LiveSim, str | None], str | None]
    # the live record after a write of these values (key -> value)
    written: Callable[[LiveSim, Values], LiveSim]
    # the live value as a manifest would declare it, for export: a text (or None: not
    # declarable) for ONE, a frozenset of keys for SET, a dict key -> text for the maps
    exported: Callable[[LiveSim], Any]
    export: Export = Export.ONE
    keys: tuple[str, ...] = ()  # EVERY_KEY: the fixed keys (the five custom fields)
    # the manifest: the texts a value may be, each to the value `DesiredSim` holds (None: any
    # non-empty text, kept as text); ``nullable``: a map's value may be null (must be empty)
    choices: Mapping[str, Any] | None = None
    nullable: bool = False
    # the `DesiredSim` attribute that holds the kind's declared value; None: ``extra[name]``
    attribute: str | None = None
    names_groups: bool = False  # export names a group's extra clusters by this kind's value
    empty: str = "(none)"
    transition: Transition = Transition.CHANGE
    catalogue: RatePlanType | None = None
    needs_active: bool = False  # only an active SIM takes it (a subscribe)
    verb: str = "set"  # the change in one word, for a problem: "cannot subscribe SIM … to …"
    step_group: str | None = None  # "key" | "value": steps split by it (Step.rate_plan)

    @property
    def keyed(self) -> bool:
        return self.syntax is not Syntax.PLAIN

    def path(self, key: str | None = None) -> str:
        """The field path of ``key``: ``apns[iot.acme]``, ``customFields.custom1``, ``state``."""
        if self.syntax is Syntax.PLAIN:
            return self.name
        if key is None:
            raise ValueError(f"a {self.name} field path needs a key")
        if self.syntax is Syntax.BRACKETED:
            return f"{self.name}[{key}]"
        return f"{self.name}.{key}"

    def requests(self, values: Mapping[str, str | None]) -> int:
        """Requests a single call of one SIM spends to set ``values`` (field paths)."""
        return len(values) if self.cost is Cost.PER_KEY else 1

    def group(self, key: str | None, value: str | None) -> str:
        """What steps of this kind are split by (a rate plan's name), or ""."""
        if self.step_group == "key":
            return key or ""
        if self.step_group == "value":
            return value or ""
        return ""

    def catalogue_name(self, key: str | None, value: str | None) -> str | None:
        """The rate plan a change names, for the catalogue check."""
        return key if self.keyed else value


# Enum values are read with str(): StrEnum's __str__ is str's own, several times cheaper than
# ``.value`` (a descriptor), which counts in a diff of a million SIMs.


def _extra(sim: DesiredSim | LiveSim, name: str) -> Mapping[str, str | None]:
    return sim.extra.get(name, {})


def extra_kind(
    name: str,
    *,
    syntax: Syntax,
    label: str,
    operation: Operation,
    title: str,
    cost: Cost = Cost.PER_SIM,
    change_type: str | None = None,
    empty: str = "(none)",
    transition: Transition = Transition.CHANGE,
    needs_active: bool = False,
) -> FieldKind:
    """A kind whose values live in ``extra[name]`` of `DesiredSim` and `LiveSim`: what a new
    managed field is, until (if ever) it earns typed attributes of its own."""
    plain = syntax is Syntax.PLAIN

    def desired(sim: DesiredSim) -> Pairs:
        values = _extra(sim, name)
        return [((None if plain else key), values[key] or None) for key in sorted(values)]

    def live(sim: LiveSim, key: str | None) -> str | None:
        return _extra(sim, name).get("" if key is None else key) or None

    def exported(sim: LiveSim) -> Any:
        values = _extra(sim, name)
        return (values.get("") or None) if plain else {k: v or None for k, v in values.items()}

    def written(sim: LiveSim, values: Values) -> LiveSim:
        extra = dict(sim.extra)
        current = dict(extra.get(name, {}))
        current.update({("" if k is None else k): v for k, v in values.items()})
        extra[name] = current
        return replace(sim, extra=extra)

    return FieldKind(
        name=name,
        syntax=syntax,
        label=label,
        operation=operation,
        title=title,
        cost=cost,
        change_type=change_type,
        desired=desired,
        live=live,
        written=written,
        exported=exported,
        export=Export.ONE if plain else Export.COMMON_KEYS,
        empty=empty,
        transition=transition,
        needs_active=needs_active,
    )


# --- the five kinds ---------------------------------------------------------------------------


def _state_desired(sim: DesiredSim) -> Pairs:
    state = sim.state
    return ((None, str(state)),) if state is not None else ()


def _state_written(sim: LiveSim, values: Values) -> LiveSim:
    value = values.get(None)
    return replace(sim, status=Status(value)) if value else sim


def _rate_plan_desired(sim: DesiredSim) -> Pairs:
    plan = sim.rate_plan
    return ((None, plan),) if plan is not None else ()


def _rate_plan_written(sim: LiveSim, values: Values) -> LiveSim:
    return replace(sim, rate_plan=values.get(None, sim.rate_plan))


def _plans_desired(sim: DesiredSim) -> Pairs:
    plans = sim.supplementary_plans
    return [(plan, SUBSCRIBED) for plan in sorted(plans)] if plans else ()


def _plans_live(sim: LiveSim, key: str | None) -> str | None:
    return SUBSCRIBED if key in sim.supplementary_plans else None


def _plans_written(sim: LiveSim, values: Values) -> LiveSim:
    added = [k for k, v in values.items() if k and v and k not in sim.supplementary_plans]
    return replace(sim, supplementary_plans=(*sim.supplementary_plans, *added)) if added else sim


def _apns_desired(sim: DesiredSim) -> Pairs:
    apns = sim.apns
    return [(apn, str(apns[apn])) for apn in sorted(apns)] if apns else ()


def _apns_live(sim: LiveSim, key: str | None) -> str | None:
    apn = sim.apns.get(key or "")
    return str(apn) if apn is not None else None


def _apns_written(sim: LiveSim, values: Values) -> LiveSim:
    changed = {k: ApnStatus(v) for k, v in values.items() if k and v}
    return replace(sim, apns={**sim.apns, **changed}) if changed else sim


def _custom_desired(sim: DesiredSim) -> Pairs:
    custom = sim.custom_fields
    return [(name, custom[name] or None) for name in sorted(custom)] if custom else ()


def _custom_live(sim: LiveSim, key: str | None) -> str | None:
    return sim.custom_fields.get(key or "") or None  # "" and null are both empty


def _custom_written(sim: LiveSim, values: Values) -> LiveSim:
    changed = {k: v for k, v in values.items() if k}
    return replace(sim, custom_fields={**sim.custom_fields, **changed}) if changed else sim


STATE_KIND = FieldKind(
    name="state",
    syntax=Syntax.PLAIN,
    label="state",
    operation=None,  # the state machine's ACTIVATE / SUSPEND / RETIRE
    title="change state",
    cost=Cost.PER_SIM,
    change_type="status",
    desired=_state_desired,
    live=lambda sim, _key: str(sim.status),
    written=_state_written,
    choices={s.value: s for s in DesiredState},
    attribute="state",
    # a pre-service state (test_ready, inventory, activation_ready) cannot be declared
    exported=lambda sim: None if sim.status in PRE_SERVICE else str(sim.status),
)
RATE_PLAN_KIND = FieldKind(
    name="ratePlan",
    syntax=Syntax.PLAIN,
    label="basic rate plan",
    operation=Operation.SET_RATE_PLAN,
    title="set basic rate plan",
    cost=Cost.PER_SIM,
    change_type="service_package",
    desired=_rate_plan_desired,
    live=lambda sim, _key: sim.rate_plan,
    written=_rate_plan_written,
    exported=lambda sim: sim.rate_plan,
    attribute="rate_plan",
    names_groups=True,
    catalogue=RatePlanType.BASIC,
    step_group="value",
)
SUPPLEMENTARY_PLANS_KIND = FieldKind(
    name="supplementaryPlans",
    syntax=Syntax.BRACKETED,
    label="supplementary plan",
    operation=Operation.SUBSCRIBE_PLAN,
    title="subscribe supplementary plan",
    cost=Cost.PER_KEY,
    change_type="service_package",
    desired=_plans_desired,
    live=_plans_live,
    written=_plans_written,
    exported=lambda sim: frozenset(sim.supplementary_plans),
    attribute="supplementary_plans",
    export=Export.SET,
    transition=Transition.SUBSCRIBE,
    catalogue=RatePlanType.SUPPLEMENTARY,
    needs_active=True,
    verb="subscribe",
    step_group="key",
)
APNS_KIND = FieldKind(
    name="apns",
    syntax=Syntax.BRACKETED,
    label="APN status",
    operation=Operation.SET_APN_STATUS,
    title="set APN status",
    cost=Cost.PER_KEY,
    change_type=None,  # the change history does not report APN status (pushes do)
    desired=_apns_desired,
    live=_apns_live,
    written=_apns_written,
    exported=lambda sim: {name: ApnStatus(status).value for name, status in sim.apns.items()},
    export=Export.COMMON_KEYS,
    choices={s.value: s for s in ApnStatus},
    attribute="apns",
)
CUSTOM_FIELDS_KIND = FieldKind(
    name="customFields",
    syntax=Syntax.DOTTED,
    label="custom fields",
    operation=Operation.SET_CUSTOM_FIELDS,
    title="set custom fields",
    cost=Cost.PER_SIM,
    change_type=None,
    desired=_custom_desired,
    live=_custom_live,
    written=_custom_written,
    # every custom field, an empty one as None ("" and null compare equal in the diff)
    exported=lambda sim: {name: sim.custom_fields.get(name) or None for name in CUSTOM_FIELD_NAMES},
    export=Export.EVERY_KEY,
    keys=CUSTOM_FIELD_NAMES,
    nullable=True,
    attribute="custom_fields",
    empty="(empty)",
    transition=Transition.SET_OR_CLEAR,
)

# In field-path order: a SIM's changes, a plan's ``before``/``after`` and drift list them so.
FIELD_KINDS: tuple[FieldKind, ...] = (
    STATE_KIND,
    RATE_PLAN_KIND,
    SUPPLEMENTARY_PLANS_KIND,
    APNS_KIND,
    CUSTOM_FIELDS_KIND,
)


# --- lookups ------------------------------------------------------------------------------------


class FieldTable:
    """Lookups over a tuple of kinds (the module's functions use `FIELD_KINDS`; tests may make
    a table with a kind of their own)."""

    def __init__(self, kinds: tuple[FieldKind, ...]) -> None:
        self.kinds = kinds
        self._by_name = {k.name: k for k in kinds}
        self._by_operation = {k.operation: k for k in kinds if k.operation is not None}
        bracketed = "|".join(re.escape(k.name) for k in kinds if k.syntax is Syntax.BRACKETED)
        self._bracketed = re.compile(rf"^({bracketed})\[(.+)\]$") if bracketed else None

    def named(self, name: str) -> FieldKind:
        return self._by_name[name]

    def of_operation(self, operation: Operation) -> FieldKind | None:
        """The kind a field operation sets; None for the state machine's operations."""
        return self._by_operation.get(operation)

    def split(self, path: str) -> tuple[FieldKind, str | None]:
        """A field path as (kind, key): ``apns[iot.acme]`` -> (`APNS_KIND`, ``iot.acme``)."""
        plain = self._by_name.get(path)
        if plain is not None and plain.syntax is Syntax.PLAIN:
            return plain, None
        if self._bracketed is not None:
            match = self._bracketed.match(path)
            if match:
                return self._by_name[match.group(1)], match.group(2)
        name, dot, key = path.partition(".")
        kind = self._by_name.get(name)
        if dot and key and kind is not None and kind.syntax is Syntax.DOTTED:
            return kind, key
        raise ValueError(f"not a field path: {path!r}")

    def live_value(self, sim: LiveSim, path: str) -> str | None:
        """The live value at a field path, as the plan's ``before`` records it."""
        kind, key = self.split(path)
        return kind.live(sim, key)


# The table every consumer reads, at call time (never copied at import): a test may put a
# table with a kind of its own in its place to show that one entry is all a new kind needs.
TABLE = FieldTable(FIELD_KINDS)


def kinds() -> tuple[FieldKind, ...]:
    """Every managed kind, in field-path order."""
    return TABLE.kinds


def split(path: str) -> tuple[FieldKind, str | None]:
    return TABLE.split(path)


def named(name: str) -> FieldKind:
    return TABLE.named(name)


def of_operation(operation: Operation) -> FieldKind | None:
    return TABLE.of_operation(operation)


def live_value(sim: LiveSim, path: str) -> str | None:
    return TABLE.live_value(sim, path)

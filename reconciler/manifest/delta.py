"""Which SIMs a change of the manifests reaches: the SIMs whose *effective* declaration differs.

Two `DesiredFleet` values (the manifests at a git commit and now) are compared SIM by SIM on
what a SIM ends up declared to be after expansion (Fleet defaults < SimGroup < SIM entry), not
on the text: a changed group value or Fleet default counts for every SIM it reaches, a line
moved or a comment edited counts for none.

What counts, per SIM: the account (a Fleet moved to another account reaches every SIM), state,
basic rate plan, the set of supplementary plans, APN statuses and custom fields (an empty text
and null both mean "must be empty", as in the diff). Not the group's name nor where a value is
written: neither changes what apply would do. A SIM declared now and not then is added; a SIM
declared then and not now is removed: it becomes unmanaged and needs no action. A Fleet setting
that is not per SIM (guards, ``unmanaged``) changes no SIM.

The manifests at the git ref are kept only as `Declarations`: the account and, per SIM, a
`Fingerprint` of what counts (a 64-bit hash), so a targeted plan at a million SIMs does not hold
two fleets of `DesiredSim` at once.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from reconciler import fields
from reconciler.model import DesiredFleet, DesiredSim

# per field kind of `reconciler.fields` what a SIM declares of it: what `same_declaration`
# compares, hashed (`fingerprinter`)
Fingerprint = int


@dataclass(frozen=True, slots=True)
class Declarations:
    """What a manifest set declares, reduced to what `declared_changes` compares."""

    account: str
    sims: Mapping[str, Fingerprint]  # by ICCID


def fingerprinter() -> Callable[[DesiredSim], Fingerprint]:
    """A function from a SIM to its fingerprint: the 64-bit hash of what `same_declaration`
    compares (per field kind of `reconciler.fields`, in table order, the (key, value) pairs it
    declares as the kind reads them, sorted by key, so sets and mappings compare as such; an
    empty custom field as None). Within one process (both sides of a comparison are made in
    it) equal declarations give equal fingerprints; two different ones give the same with odds
    of about 2**-64 per SIM compared. An int is 36 bytes where the tuples were hundreds for a
    SIM with its own custom values: at a million SIMs that is the difference between one fleet
    in memory and two."""
    kinds = fields.kinds()

    def fingerprint(sim: DesiredSim) -> Fingerprint:
        return hash(tuple(tuple(kind.desired(sim)) for kind in kinds))

    return fingerprint


def declarations(fleet: DesiredFleet) -> Declarations:
    """``fleet`` reduced to its `Declarations`."""
    fingerprint = fingerprinter()
    sims = {iccid: fingerprint(sim) for iccid, sim in fleet.sims.items()}
    return Declarations(fleet.fleet.account, sims)


@dataclass(frozen=True, slots=True)
class DeclaredChanges:
    changed: tuple[str, ...]  # declared both times, effectively different (sorted)
    added: tuple[str, ...]  # declared now only (sorted)
    removed: tuple[str, ...]  # declared then only: unmanaged now (sorted)

    @property
    def targets(self) -> tuple[str, ...]:
        """The SIMs to read and plan: changed and added, sorted."""
        return tuple(sorted(self.changed + self.added))


def same_declaration(a: DesiredSim, b: DesiredSim) -> bool:
    """Whether two records of one SIM declare the same (the account aside): every field kind
    declares the same values, as its entry in `reconciler.fields` reads them (a set of plans
    in any order, an empty custom field as None)."""
    return all(list(kind.desired(a)) == list(kind.desired(b)) for kind in fields.kinds())


def declared_changes(
    before: Declarations | DesiredFleet | None, after: DesiredFleet
) -> DeclaredChanges:
    """The SIMs of ``after`` declared differently in ``before`` (None: nothing was declared)."""
    if before is None:
        return DeclaredChanges((), tuple(sorted(after.sims)), ())
    if isinstance(before, DesiredFleet):
        before = declarations(before)
    moved = before.account != after.fleet.account  # every SIM is now another account's
    old = before.sims
    fingerprint = fingerprinter()
    changed: list[str] = []
    added: list[str] = []
    for iccid, sim in after.sims.items():
        was = old.get(iccid)
        if was is None:
            added.append(iccid)
        elif moved or was != fingerprint(sim):
            changed.append(iccid)
    removed = [iccid for iccid in old if iccid not in after.sims]
    return DeclaredChanges(tuple(sorted(changed)), tuple(sorted(added)), tuple(sorted(removed)))


__all__ = [
    "Declarations",
    "DeclaredChanges",
    "Fingerprint",
    "declarations",
    "declared_changes",
    "fingerprinter",
    "same_declaration",
]

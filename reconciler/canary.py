"""Canary steps: which of a wave's SIMs go in which rollout step. Pure, no I/O.

The planner groups a wave's changes by (operation, rate plan); with a rollout, each SIM of
the wave is first given a rollout step, and the groups are split by it, so every rollout step
still runs as batch jobs wherever they are cheaper.

Choosing the canaries
---------------------
Per rollout policy, the wave's SIMs are put in one order and the policy's cumulative targets
(`RolloutPolicy.targets`) cut it into steps. The order is a stratified sample, deterministic:

- within a SimGroup, SIMs are grouped into *strata* by their change (operations, and the
  basic plan they move from and to); within a stratum they are ordered by the SHA-256 of
  their ICCID, the j-th of n gets the position ``(j + 0.5) / n``, and the group's order is by
  position (ties broken by the hash): systematic sampling;
- across groups the same again, the j-th SIM of a group's order of n at ``(j + 0.5) / n``.

So the first k SIMs hold about k/N of every group, and within a group of every change (each
group is in the canary as soon as the step can hold one SIM per group), and a re-plan of the
same change picks the same SIMs. A SIM is in one rollout step of a wave with all its changes
of that wave.

Retirements cannot be rolled back: a SIM retired in the wave goes in its policy's last step,
and the shares of the earlier steps are of the wave's other SIMs.
SIMs no rollout covers (a group without one, in a Fleet without one) go in the wave's first
step, unchecked. Empty steps (1% and 10% of 5 SIMs are both 1 SIM) are dropped, and the
wave's steps are numbered from 1.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from reconciler.model import (
    RATE_PLAN,
    Operation,
    RolloutPolicy,
    RolloutStage,
    Step,
    StepSim,
)

GroupKey = tuple[int, Operation, str]  # wave, operation, rate plan
StageKey = tuple[int, int, Operation, str]  # wave, rollout step, operation, rate plan


@dataclass
class StageInfo:
    """What the planner needs to describe one rollout step once its steps are built."""

    wave: int
    number: int
    of: int = 1
    shares: list[str] = field(default_factory=list)
    soak_seconds: float = 0.0
    max_failed: float | None = None
    iccids: set[str] = field(default_factory=set)

    @property
    def checked(self) -> bool:
        return self.max_failed is not None


def _hash(iccid: str) -> bytes:
    return hashlib.sha256(iccid.encode("ascii", "replace")).digest()


def _spread(members: Mapping[str, object], hashes: Mapping[str, bytes]) -> list[str]:
    """Systematic sampling: ``members`` (iccid -> stratum) ordered so that every prefix holds
    each stratum in proportion (the j-th of n by hash sits at ``(j + 0.5) / n``)."""
    by_stratum: dict[object, list[tuple[bytes, str]]] = {}
    for iccid, key in members.items():
        by_stratum.setdefault(key, []).append((hashes[iccid], iccid))
    ranked: list[tuple[float, bytes, str]] = []
    for found in by_stratum.values():
        found.sort()
        n = len(found)
        ranked.extend(((j + 0.5) / n, h, iccid) for j, (h, iccid) in enumerate(found))
    ranked.sort()
    return [iccid for _, _, iccid in ranked]


def canary_order(strata: Mapping[str, tuple[object, ...]]) -> list[str]:
    """The ICCIDs of ``strata`` (iccid -> (group, change...)) in canary order: spread across
    groups first, and within each group across its changes (plans)."""
    hashes = {iccid: _hash(iccid) for iccid in strata}
    groups: dict[object, dict[str, object]] = {}
    for iccid, key in strata.items():
        groups.setdefault(key[0], {})[iccid] = key[1:]
    ranked: list[tuple[float, bytes, str]] = []
    for members in groups.values():
        n = len(members)
        ranked.extend(
            ((rank + 0.5) / n, hashes[iccid], iccid)
            for rank, iccid in enumerate(_spread(members, hashes))
        )
    ranked.sort()
    return [iccid for _, _, iccid in ranked]


def _stratum(sims: Sequence[tuple[Operation, StepSim]]) -> tuple[object, ...]:
    if len(sims) == 1:  # the common case: one change
        op, sim = sims[0]
        after = sim.after.get(RATE_PLAN)
        single = ((sim.before.get(RATE_PLAN) or "", after),) if after is not None else ()
        return (sim.group, (op.value,), single)
    ops = tuple(sorted({op.value for op, _ in sims}))
    plans = tuple(
        (s.before.get(RATE_PLAN) or "", s.after.get(RATE_PLAN) or "")
        for _, s in sims
        if RATE_PLAN in s.after
    )
    return (sims[0][1].group, ops, plans)


def split_stages(
    groups: Mapping[GroupKey, Sequence[StepSim]],
    policy_of: Callable[[str], RolloutPolicy | None],
) -> tuple[dict[StageKey, list[StepSim]], list[StageInfo]]:
    """The planner's groups split by rollout step, and the steps' descriptions in run order.

    Without any policy every key gets rollout step 0 and there are no stages."""
    if not any(policy_of(sim.iccid) is not None for sims in groups.values() for sim in sims):
        return {(w, 0, op, plan): list(sims) for (w, op, plan), sims in groups.items()}, []
    waves: dict[int, dict[str, list[tuple[Operation, StepSim]]]] = {}
    for (wave, operation, _plan), sims in groups.items():
        per_wave = waves.setdefault(wave, {})
        for sim in sims:
            entry = per_wave.get(sim.iccid)
            if entry is None:
                per_wave[sim.iccid] = [(operation, sim)]
            else:
                entry.append((operation, sim))

    stage_of: dict[int, dict[str, int]] = {}  # wave -> iccid -> rollout step number
    infos: list[StageInfo] = []
    for wave in sorted(waves):
        per_wave = waves[wave]
        raw: dict[str, int] = {}  # iccid -> the policy's step index (0-based)
        found: dict[int, StageInfo] = {}
        by_policy: dict[RolloutPolicy | None, list[str]] = {}
        for iccid in per_wave:
            by_policy.setdefault(policy_of(iccid), []).append(iccid)
        for policy, iccids in by_policy.items():
            if policy is None:
                raw.update(dict.fromkeys(iccids, 0))
                found.setdefault(0, StageInfo(wave, 0)).iccids.update(iccids)
                found[0].shares.append("all")
                continue
            retiring = {i for i in iccids if any(op is Operation.RETIRE for op, _ in per_wave[i])}
            order = canary_order({i: _stratum(per_wave[i]) for i in iccids if i not in retiring})
            # the shares are of the SIMs a step may hold: retirements all wait for the last
            targets = policy.targets(len(order))
            last = len(targets) - 1
            start = 0
            for index, end in enumerate(targets):
                chunk = order[start:end] if index < last else order[start:]
                start = max(start, end)
                if index == last:
                    chunk = [*chunk, *sorted(retiring, key=_hash)]
                if not chunk:
                    continue
                raw.update(dict.fromkeys(chunk, index))
                info = found.setdefault(index, StageInfo(wave, index))
                info.iccids.update(chunk)
                if policy.steps[index] not in info.shares:
                    info.shares.append(policy.steps[index])
                info.soak_seconds = max(info.soak_seconds, policy.soak_seconds)
                info.max_failed = (
                    policy.max_failed
                    if info.max_failed is None
                    else min(info.max_failed, policy.max_failed)
                )
        numbering = {step: n for n, step in enumerate(sorted(found), start=1)}
        for step in sorted(found):
            info = found[step]
            info.number = numbering[step]
            info.of = len(numbering)
            infos.append(info)
        stage_of[wave] = {iccid: numbering[step] for iccid, step in raw.items()}

    split: dict[StageKey, list[StepSim]] = {}
    for (wave, operation, plan), sims in groups.items():
        numbers = stage_of[wave]
        for sim in sims:
            key = (wave, numbers[sim.iccid], operation, plan)
            found_list = split.get(key)
            if found_list is None:
                split[key] = [sim]
            else:
                found_list.append(sim)
    return split, infos


def describe_stages(
    infos: Sequence[StageInfo],
    steps: Sequence[Step],
    *,
    reads: Callable[[int], int],
    seconds: Callable[[int], float],
) -> tuple[RolloutStage, ...]:
    """The plan's `RolloutStage` records. ``reads(n)``: requests to re-read n SIMs;
    ``seconds(r)``: time r requests take at the rate budget. The plan's last step gets no
    soak or re-check (nothing comes after it to hold back)."""
    stages: list[RolloutStage] = []
    for position, info in enumerate(infos):
        mine = [s for s in steps if s.wave == info.wave and s.rollout == info.number]
        final = position == len(infos) - 1
        checked = info.checked and not final
        soak = info.soak_seconds if checked else 0.0
        requests = sum(s.requests for s in mine) + reads(len(info.iccids))
        if checked:
            requests += reads(len(info.iccids))  # the re-check after the soak
        stages.append(
            RolloutStage(
                wave=info.wave,
                number=info.number,
                of=info.of,
                share="/".join(info.shares),
                sims=len(info.iccids),
                step_ids=tuple(s.id for s in mine),
                requests=requests,
                seconds=round(seconds(requests) + soak, 1),
                soak_seconds=soak,
                max_failed=info.max_failed if info.max_failed is not None else 0.0,
                checked=checked,
            )
        )
    return tuple(stages)

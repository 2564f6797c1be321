"""What every plan rendering says the same way: counts per transition, the summary line, the
cost line, and how one SIM's change reads. Pure functions of a `Plan`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from reconciler import fields
from reconciler.fields import Transition
from reconciler.model import Operation, Plan, RolloutStage, Step, StepSim
from reconciler.wording import counted

STATE = fields.STATE_KIND.name
STATUS_OPERATIONS = frozenset({Operation.ACTIVATE, Operation.SUSPEND, Operation.RETIRE})


def operation_title(operation: Operation) -> str:
    """A step's operation in words: the state machine's verb, or the field kind's title."""
    kind = fields.of_operation(operation)
    return kind.title if kind is not None else operation.value


@dataclass(frozen=True, slots=True)
class Counts:
    """SIMs by what happens to them. ``activate``, ``suspend`` and ``retire`` count each SIM
    changing state once, by where it ends; ``fields`` counts every SIM whose other fields
    (rate plan, supplementary plans, APNs, custom fields) change, whether or not its state
    changes too, so a rate-plan change riding along with a suspend is not hidden. ``change``
    is the SIMs with field changes only (``total`` counts each changed SIM once)."""

    activate: int
    suspend: int
    retire: int
    change: int
    fields: int

    @property
    def total(self) -> int:
        return self.activate + self.suspend + self.retire + self.change


def state_transitions(plan: Plan) -> dict[str, tuple[str, str]]:
    """Per SIM with a status step: (state before its first status step, state after its last)."""
    moves: dict[str, tuple[str, str]] = {}
    for step in plan.steps:
        if step.operation not in STATUS_OPERATIONS:
            continue
        for sim in step.sims:
            first = moves.get(sim.iccid)
            before = first[0] if first else (sim.before.get(STATE) or "?")
            moves[sim.iccid] = (before, sim.after.get(STATE) or "?")
    return moves


def counts(plan: Plan) -> Counts:
    moves = state_transitions(plan)
    final = [after for _before, after in moves.values()]
    touched = {sim.iccid for step in plan.steps for sim in step.sims}
    fields = {
        sim.iccid
        for step in plan.steps
        if step.operation not in STATUS_OPERATIONS
        for sim in step.sims
    }
    return Counts(
        activate=final.count("active"),
        suspend=final.count("suspended"),
        retire=final.count("retired"),
        change=len(touched) - len(moves),
        fields=len(fields),
    )


def held_back(plan: Plan) -> int:
    """Declared SIMs read from the account that the plan neither leaves alone nor changes:
    their changes were held back by a problem (an unknown rate plan, a move out of retired).

    Derived from the summary so a saved plan reads the same: every SIM read is unchanged, to
    change, held back or unmanaged. A SIM with one field held back and another changing counts
    as to change (the problem still blocks apply)."""
    s = plan.summary
    return max(0, s.sims_read - s.unchanged - s.to_change - s.unmanaged)


def summary_line(plan: Plan) -> str:
    """Terraform's line: ``Plan: 0 to activate, 1,200 to suspend, 3 to retire, 17 with field
    changes.`` A SIM that changes state and fields counts in both (see `Counts`).

    A plan with problems is invalid whatever else it would do, so it never says "No changes":
    ``Plan invalid: 2 problems to fix before apply (nothing else to change).``"""
    if plan.problems:
        n = len(plan.problems)
        head = f"Plan invalid: {n:,} problem{'' if n == 1 else 's'} to fix before apply"
        if not plan.has_changes:
            return head + " (nothing else to change)."
        return f"{head}. Besides: {_counts_text(plan)}."
    held = len(plan.held_back)
    held_text = f"{held:,} SIM{'' if held == 1 else 's'} held back"
    if not plan.has_changes:
        if held:
            return (
                f"No changes to apply, but {held_text} (listed with their fix): the live "
                "fleet does not match the manifests."
            )
        return "No changes. The live fleet matches the manifests."
    if held:
        return f"Plan: {_counts_text(plan)}. {held_text} (listed with their fix)."
    return f"Plan: {_counts_text(plan)}."


def _counts_text(plan: Plan) -> str:
    c = counts(plan)
    return (
        f"{c.activate:,} to activate, {c.suspend:,} to suspend, {c.retire:,} to retire, "
        f"{c.fields:,} with field changes"
    )


def duration_text(seconds: float) -> str:
    if seconds < 60:
        return "under a minute"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def rate_text(limit: int, window: float | None) -> str:
    if window is None or window == 3600:
        return f"{limit:,}/h"
    return f"{limit:,} per {window:,.0f} s"


def window_note(source: str | None, window: float | None) -> str:
    """Which rate window the estimate assumed (nothing for plans that did not record it)."""
    if source is None or window is None:
        return ""
    length = "an hour" if window == 3600 else f"{window:,.0f} s"
    if source == "server":
        return f"; the window of {length} is the server's (X-RateLimit-Reset)"
    if source == "at least":
        return f"; the window is at least {length} (a Reset that long was seen)"
    return (
        f"; window assumed to be {length}: the server did not show its length (a plan made "
        "at the start of a rate window learns it)"
    )


def cost_line(plan: Plan) -> str:
    """``3,200 requests ≈ 38 min at 5,000/h`` (the sustained pace; see `estimate_seconds`)."""
    s = plan.summary
    text = f"{s.requests_estimated:,} request{'' if s.requests_estimated == 1 else 's'}"
    text += f" ≈ {duration_text(s.duration_estimated_seconds)}"
    if s.rate_limit is not None:
        text += f" at {rate_text(s.rate_limit, s.rate_window_seconds)}"
    writes = sum(step.requests for step in plan.steps)
    checks = s.requests_estimated - writes
    if writes and checks > 0:
        when = "each wave" if not plan.rollout else "and after each rollout step"
        text += f" ({writes:,} for the changes, {checks:,} to re-check live state before {when})"
    soaks = sum(stage.soak_seconds for stage in plan.rollout)
    if soaks:
        text += f", soaks of {soak_text(soaks)} included"
    return text + window_note(s.rate_window_source, s.rate_window_seconds)


def soak_text(seconds: float) -> str:
    """``1h30m``, ``10m``, ``45s`` (the manifest's own notation)."""
    rest = round(seconds)
    if rest == 0 and seconds > 0:
        return f"{seconds:g}s"
    parts = []
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def stage_text(stage: RolloutStage) -> str:
    """``Rollout step 1 of 3 (1%): 14 SIMs, 22 requests, then soak 1s, re-check (maxFailed
    0%) and --gate ≈ 1 min`` (the gate runs when apply is given one)."""
    n, r = stage.sims, stage.requests
    text = (
        f"Rollout step {stage.number} of {stage.of} ({stage.share}): "
        f"{n:,} SIM{'' if n == 1 else 's'}, {r:,} request{'' if r == 1 else 's'}"
    )
    if stage.checked:
        text += (
            f", then soak {soak_text(stage.soak_seconds)}, re-check (maxFailed "
            f"{stage.max_failed:.0%}) and --gate"
        )
    return text + f" ≈ {duration_text(stage.seconds)}"


def rollout_line(plan: Plan) -> str | None:
    """``Rollout: 3 steps (1% → 10% → 100%), canaries spread across groups and plans.``"""
    if not plan.rollout:
        return None
    waves: dict[int, list[str]] = {}
    for stage in plan.rollout:
        waves.setdefault(stage.wave, []).append(stage.share)
    shares = "; ".join(
        (f"wave {wave}: " if len(waves) > 1 else "") + " → ".join(steps)
        for wave, steps in waves.items()
    )
    count = len(plan.rollout)
    return (
        f"Rollout: {count} step{'' if count == 1 else 's'} ({shares}); canary SIMs picked by "
        "ICCID hash across groups and plans; retirements only in a wave's last step."
    )


def read_line(plan: Plan) -> str:
    """Every SIM read counted once, and the declared ones not found."""
    s = plan.summary
    held = held_back(plan)
    problems = f"{held:,} held back by problems, " if held or plan.problems else ""
    unmanaged = f"{s.unmanaged:,} unmanaged, " if plan.targeted is None else ""
    return (
        f"Read {counted(s.sims_read, 'SIM')} with {counted(s.requests_read, 'request')}: "
        f"{s.unchanged:,} unchanged, "
        f"{s.to_change:,} to change, {problems}{unmanaged}{s.missing:,} declared but missing."
    )


def targeted_line(plan: Plan) -> str | None:
    """What a plan made with ``--changed-from`` left out, in plain words (None for a full plan):
    ``Targeted: 100 SIMs whose declaration changed since origin/main (3f2a1c9); the other
    49,900 were not read: the scheduled drift check covers them.``"""
    t = plan.targeted
    if t is None:
        return None
    text = (
        f"Targeted: {t.sims:,} SIM{'' if t.sims == 1 else 's'} whose declaration changed since "
        f"{t.ref} ({t.commit[:7]}); the other {t.not_read:,} "
        f"{'was' if t.not_read == 1 else 'were'} not read: the scheduled drift check covers them."
    )
    if t.removed:
        text += (
            f" {t.removed:,} SIM{'' if t.removed == 1 else 's'} no longer declared "
            f"{'is' if t.removed == 1 else 'are'} unmanaged now and left as "
            f"{'it is' if t.removed == 1 else 'they are'}."
        )
    return text + " Unmanaged SIMs are not looked for in a targeted plan."


def _value(path: str, value: str | None) -> str:
    if value is None:
        return fields.split(path)[0].empty
    return value


def change_text(sim: StepSim) -> str:
    """``ratePlan: IoT-1GB → IoT-5GB (from g.yaml:7:3), customFields.custom1: (empty) → x``:
    each change with the manifest line that declared its value, when the plan knows it."""
    return ", ".join(
        f"{path}: {_value(path, sim.before.get(path))} → {_value(path, sim.after[path])}"
        + (f" (from {sim.sources[path]})" if path in sim.sources else "")
        for path in sorted(sim.after)
    )


@dataclass(frozen=True, slots=True)
class StepGroup:
    """Consecutive steps of one wave, operation and rate plan (a group split into jobs)."""

    wave: int
    operation: Operation
    rate_plan: str | None
    steps: tuple[Step, ...]
    rollout: int = 0  # the rollout step of its wave (0: no rollout)

    @property
    def sims(self) -> int:
        return sum(len(s.sims) for s in self.steps)

    @property
    def requests(self) -> int:
        return sum(s.requests for s in self.steps)

    @property
    def batch_jobs(self) -> int:
        return sum(1 for s in self.steps if s.batch)

    def iter_sims(self) -> Iterator[StepSim]:
        for step in self.steps:
            yield from step.sims

    @property
    def title(self) -> str:
        title = operation_title(self.operation)
        return f"{title} {self.rate_plan}" if self.rate_plan else title

    @property
    def how(self) -> str:
        """``1,200 SIMs in 2 batch jobs, 8 requests`` or ``3 SIMs, 3 requests``."""
        n = self.sims
        text = f"{n:,} SIM{'' if n == 1 else 's'}"
        if self.batch_jobs:
            jobs = self.batch_jobs
            text += f" in {jobs} batch job{'' if jobs == 1 else 's'}"
        return text + f", {self.requests:,} request{'' if self.requests == 1 else 's'}"


def step_groups(steps: Iterable[Step]) -> list[StepGroup]:
    groups: list[StepGroup] = []
    current: list[Step] = []
    for step in steps:
        if current and (step.wave, step.rollout, step.operation, step.rate_plan) != (
            current[0].wave,
            current[0].rollout,
            current[0].operation,
            current[0].rate_plan,
        ):
            groups.append(_group(current))
            current = []
        current.append(step)
    if current:
        groups.append(_group(current))
    return groups


def _group(steps: Sequence[Step]) -> StepGroup:
    first = steps[0]
    return StepGroup(first.wave, first.operation, first.rate_plan, tuple(steps), first.rollout)


def stage_of(plan: Plan, group: StepGroup) -> RolloutStage | None:
    """The rollout step a group of steps belongs to (None without a rollout)."""
    for stage in plan.rollout:
        if stage.wave == group.wave and stage.number == group.rollout:
            return stage
    return None


def transition_rows(plan: Plan) -> list[tuple[str, str, int]]:
    """(transition, group, SIMs) rows: ``active → suspended`` for a SIM's state change from its
    first status step to its last, and one row kind per field change (values shown for state,
    basic plans and APNs; custom field values vary per SIM and are named only)."""
    rows: dict[tuple[str, str], int] = {}
    groups_of: dict[str, str] = {}
    for step in plan.steps:
        if step.operation in STATUS_OPERATIONS:
            for sim in step.sims:
                groups_of[sim.iccid] = sim.group
            continue
        for sim in step.sims:
            for path in sorted(sim.after):
                key = (_field_transition(path, sim), sim.group)
                rows[key] = rows.get(key, 0) + 1
    for iccid, (before, after) in state_transitions(plan).items():
        key = (f"{before} → {after}", groups_of[iccid])
        rows[key] = rows.get(key, 0) + 1
    order = {"retired": 0, "suspended": 1, "active": 2}

    def rank(item: tuple[tuple[str, str], int]) -> tuple[int, int, str, str]:
        (transition, group), count = item
        state_rank = order.get(transition.rsplit(" → ", 1)[-1], 3) if "→" in transition else 3
        if ":" in transition:
            state_rank = 3
        return (state_rank, -count, transition, group)

    return [(t, g, n) for (t, g), n in sorted(rows.items(), key=rank)]


def _field_transition(path: str, sim: StepSim) -> str:
    kind, key = fields.split(path)
    if kind.transition is Transition.SUBSCRIBE:
        return f"subscribe: {key}"
    if kind.transition is Transition.SET_OR_CLEAR:
        return f"{path}: set" if sim.after[path] is not None else f"{path}: clear"
    return f"{path}: {_value(path, sim.before.get(path))} → {_value(path, sim.after[path])}"

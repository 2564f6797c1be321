"""A plan as a pull-request comment (GitHub-flavoured markdown), always under ``max_chars``.

Order, most important first: the summary line (``Plan invalid: …`` when there are problems)
and cost; problems; irreversible steps; guards that stop apply; warnings; a table of
transitions per group ("1,200 SIMs active → suspended in berlin-warehouse"); then each wave's
operations in collapsible ``<details>`` with sample SIMs.

Fitting: the comment is first rendered with every SIM of every step named (when the SIMs can
fit at all), then with generous limits (samples per operation, table rows, problems listed)
and, while it is over ``max_chars`` (GitHub refuses comments over 65,536), again with smaller
ones. Every fold says what it left out ("… and 1,180 more"), and a last line says the comment
was shortened and where the full list is (the JSON plan, uploaded by the plan workflow as the
``fleetform-plan`` artifact). If even the smallest limits do not fit, the text is cut at a line
boundary with a note (it needs thousands of step groups to come to that).

Every live or manifest value goes through `reconciler.render.markdown_escape` (no HTML, no
broken table, no ``@`` mention from a custom field).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reconciler.guard_lift import join_ways, lift_ways
from reconciler.model import Operation, Plan
from reconciler.planfile import changes_digest
from reconciler.render.fit import shrink_to_fit
from reconciler.render.markdown_escape import code_span, escape_html, escape_markdown
from reconciler.render.plan_summary import (
    StepGroup,
    change_text,
    cost_line,
    counts,
    duration_text,
    read_line,
    rollout_line,
    soak_text,
    step_groups,
    summary_line,
    targeted_line,
    transition_rows,
)

GITHUB_COMMENT_LIMIT = 65_000
# Where a folded comment's full list is: the plan file, which the plan workflow uploads.
FULL_LIST = (
    "The full list of SIMs is in the JSON plan (`plan --out plan.json`; in CI, the "
    "`fleetform-plan` artifact of the workflow run)."
)
DIGEST_MARKER_PREFIX = "<!-- fleetform-changes-digest: "

Add = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class _Limits:
    samples: int  # SIMs shown per operation
    rows: int  # transition table rows
    items: int  # problems, warnings, unmanaged listed


ALL = 2**62  # no fold: every SIM, row and problem named
# Below this many characters per named SIM the first, unfolded level cannot fit: not tried.
_MIN_ROW_CHARS = 40

_LIMITS = (
    _Limits(ALL, ALL, ALL),
    _Limits(10, 50, 25),
    _Limits(5, 25, 15),
    _Limits(3, 15, 10),
    _Limits(1, 10, 5),
    _Limits(0, 5, 3),
)


def render_plan_markdown(plan: Plan, *, max_chars: int = GITHUB_COMMENT_LIMIT) -> str:
    """The plan as markdown of at most ``max_chars`` characters, saying what was folded."""
    named = sum(len(step.sims) for step in plan.steps) + len(plan.problems) + len(plan.warnings)
    return shrink_to_fit(
        lambda limits, shortened: _render(plan, limits, shortened=shortened),
        _LIMITS,
        max_chars=max_chars,
        note="\n\n_… cut here to stay under the comment size limit; see the JSON plan for all._\n",
        # the unfolded level cannot fit: do not build a huge text only to throw it away
        skip=lambda limits: limits.samples == ALL and named * _MIN_ROW_CHARS > max_chars,
    )


def _render(plan: Plan, limits: _Limits, *, shortened: bool) -> str:
    out: list[str] = []
    add = out.append
    _head(add, plan)
    _problems(add, plan, limits)
    _guards(add, plan)
    if plan.warnings:
        add("#### ⚠️ Warnings")
        add("")
        for warning in plan.warnings[: limits.items]:
            add(f"- {escape_markdown(warning)}")
        _more(add, len(plan.warnings) - limits.items, "warnings")
        add("")
    _transitions(add, plan, limits)
    _steps(add, plan, limits)
    if shortened:
        add(
            f"_Shortened to stay under the comment size limit: {limits.samples} sample SIMs per "
            f"operation, {limits.rows} table rows. {FULL_LIST}_"
        )
    return "\n".join(out).rstrip("\n") + "\n"


def _head(add: Add, plan: Plan) -> None:
    add(f"### fleetform plan: {code_span(plan.fleet)} on account {code_span(plan.account)}")
    add("")
    add(f"**{escape_markdown(summary_line(plan))}**")
    if plan.has_changes:
        add(f"Cost: {escape_markdown(cost_line(plan))}.  ")
    add(f"{escape_markdown(read_line(plan))}  ")
    targeted = targeted_line(plan)
    if targeted:
        add(f"**{escape_markdown(targeted)}**  ")
    add(f"Endpoint {code_span(plan.endpoint)} · manifests {code_span(plan.manifest_digest[:19])}")
    digest = changes_digest(plan)
    if plan.has_changes:
        add(f"Changes digest {code_span(digest[:19])} (apply on merge checks it)")
    add(f"{DIGEST_MARKER_PREFIX}{digest} -->")
    add("")


def _problems(add: Add, plan: Plan, limits: _Limits) -> None:
    """What stops apply or is left out of the plan, and what cannot be undone."""
    if plan.problems:
        add(f"#### ❌ Problems ({len(plan.problems):,}): apply refuses this plan until fixed")
        add("")
        for problem in plan.problems[: limits.items]:
            where = f"{code_span(str(problem.source))}: " if problem.source else ""
            add(f"- {where}{escape_markdown(problem.message)}")
        _more(add, len(plan.problems) - limits.items, "problems")
        add("")

    if plan.held_back:
        add(
            f"#### ⚠️ Held back ({len(plan.held_back):,}): not in this plan; fix each one "
            "(the rest can be applied)"
        )
        add("")
        for problem in plan.held_back[: limits.items]:
            where = f"{code_span(str(problem.source))}: " if problem.source else ""
            add(f"- {where}{escape_markdown(problem.message)}")
        _more(add, len(plan.held_back) - limits.items, "SIMs held back")
        add("")

    retiring = counts(plan).retire
    if retiring:
        waves = sorted({s.wave for s in plan.steps if s.operation is Operation.RETIRE})
        add("> [!CAUTION]")
        add(
            f"> **Irreversible:** {retiring:,} SIM{'' if retiring == 1 else 's'} will be retired "
            f"(wave {', '.join(map(str, waves))}). A retired SIM can never be used again."
        )
        add("")


def _guards(add: Add, plan: Plan) -> None:
    blocking = [g for g in plan.guards if g.blocking]
    if blocking:
        add("#### ⛔ Guards that stop apply")
        add("")
        for guard in blocking:
            ways = join_ways(lift_ways(guard), code_span)
            lift = f" — lift with {ways}" if guard.override else ""
            add(f"- **{guard.name}**: {escape_markdown(guard.message)}{lift}")
        add("")

    lifted = [g for g in plan.guards if g.lifted_by]
    if lifted:
        add("#### 🔓 Guards lifted for this plan (review the override)")
        add("")
        for guard in lifted:
            add(
                f"- **{guard.name}**: {escape_markdown(guard.message)} — lifted by "
                f"{code_span(guard.lifted_by or '')}"
            )
        add("")


def _transitions(add: Add, plan: Plan, limits: _Limits) -> None:
    rows = transition_rows(plan)
    if not rows:
        return
    add("#### Changes by group")
    add("")
    add("| SIMs | change | group |")
    add("|---:|---|---|")
    for transition, group_name, sims in rows[: limits.rows]:
        add(f"| {sims:,} | {escape_markdown(transition)} | {escape_markdown(group_name)} |")
    rest = rows[limits.rows :]
    if rest:
        folded = sum(n for _t, _g, n in rest)
        add(f"| {folded:,} | … and {len(rest):,} more rows | |")
    add("")


def _steps(add: Add, plan: Plan, limits: _Limits) -> None:
    """The steps, wave by wave, behind the rollout's stage table when the plan has one."""
    groups = step_groups(plan.steps)
    if not groups:
        return
    count = max(g.wave for g in groups)
    add(f"#### Steps ({len(plan.steps):,} in {count} wave{'' if count == 1 else 's'})")
    add("")
    rollout = rollout_line(plan)
    if rollout:
        add(escape_markdown(rollout))
        add("")
        add("| wave | rollout step | SIMs | requests | then | time |")
        add("|---:|---|---:|---:|---|---|")
        for stage in plan.rollout:
            then = (
                f"soak {soak_text(stage.soak_seconds)}, re-check, `--gate`"
                if stage.checked
                else "—"
            )
            add(
                f"| {stage.wave} | {stage.number} of {stage.of} "
                f"({escape_markdown(stage.share)}) | {stage.sims:,} | {stage.requests:,} "
                f"| {then} | {duration_text(stage.seconds)} |"
            )
        add("")
    for group in groups:
        _group(add, group, limits.samples)


def _group(add: Add, group: StepGroup, samples: int) -> None:
    mark = " ⚠️ irreversible" if group.operation is Operation.RETIRE else ""
    add("<details>")
    add(
        f"<summary>Wave {group.wave}{f' · rollout step {group.rollout}' if group.rollout else ''}"
        f" · <b>{escape_html(group.title)}</b> · "
        f"{escape_html(group.how)}{mark}</summary>"
    )
    add("")
    shown = 0
    if samples > 0:
        add("| ICCID | group | change |")
        add("|---|---|---|")
        for sim in group.iter_sims():
            if shown == samples:
                break
            add(
                f"| {code_span(sim.iccid, in_table=True)} | {escape_markdown(sim.group)} "
                f"| {escape_markdown(change_text(sim))} |"
            )
            shown += 1
        add("")
    _more(add, group.sims - shown, "SIMs (all in the JSON plan)")
    add("</details>")
    add("")


def _more(add: Add, more: int, what: str) -> None:
    if more > 0:
        add("")
        add(f"_… and {more:,} more {what}_")
        add("")

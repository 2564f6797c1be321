"""The saved plan: ``fleetform.plan/v1`` JSON, stable, checksummed, secret-free.

Layout (keys in this order; ``before``/``after`` maps sorted by field path)::

    {
      "format": "fleetform.plan/v1",
      "created_at": "...",          # the one value that differs between plans of one state
      "checksum": "sha256:...",     # over the canonical JSON without created_at and checksum
      "endpoint": "...", "account": "...", "fleet": "...", "manifest_digest": "...",
      "summary": {...}, "guards": [...], "problems": [...], "warnings": [...],
      "unmanaged": [...], "missing": [...],
      "steps": [{"id", "wave", "operation", "batch", "rate_plan", "requests", "rollout"?,
                 "sims": [{"iccid", "group", "before": {...}, "after": {...}, "sources"?}]}],
      "rollout": [{"id", "wave", "number", "of", "share", "sims", "step_ids", "requests",
                   "seconds", "soak_seconds", "max_failed", "checked"}],  # only with a rollout
      "targeted": {"ref", "commit", "sims", "not_read", "removed", "read_by", "account_size"},
      "changes_digest": "sha256:..."  # over the changes only (`changes_digest`); not read back
    }

A plan without a rollout has neither ``rollout`` key (the layout and checksums of earlier
plans are unchanged); a step's ``rollout`` is its rollout step within the wave.

``targeted`` is there only in a plan made with ``--changed-from`` (the git ref and the commit
it named, the SIMs read and planned, those not read): a full plan's file is unchanged, and a
file without it reads as a full plan. The checksum covers it.

No API key is ever in a plan: the `Plan` record holds none, and the endpoint is stored as the
planner got it (a base URL; SmartHub keys travel in a header, never in the URL).

`plan_from_json` checks the checksum: a plan edited after review is refused, so apply runs
exactly what was reviewed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from reconciler.errors import PlanFileError
from reconciler.model import (
    Guard,
    Operation,
    Plan,
    PlanSummary,
    Problem,
    RolloutStage,
    SourceRef,
    Step,
    StepSim,
    Targeting,
)

PLAN_FORMAT = "fleetform.plan/v1"

T = TypeVar("T")


# --- to JSON -------------------------------------------------------------------------------


def _values(values: Mapping[str, str | None]) -> dict[str, str | None]:
    return {k: values[k] for k in sorted(values)}


def _source_to_dict(source: SourceRef | None) -> dict[str, Any] | None:
    if source is None:
        return None
    return {"file": source.file, "line": source.line, "column": source.column}


def _summary_to_dict(s: PlanSummary) -> dict[str, Any]:
    return {
        "sims_declared": s.sims_declared,
        "sims_read": s.sims_read,
        "unchanged": s.unchanged,
        "to_change": s.to_change,
        "unmanaged": s.unmanaged,
        "missing": s.missing,
        "sims_by_operation": {k: s.sims_by_operation[k] for k in sorted(s.sims_by_operation)},
        "requests_read": s.requests_read,
        "requests_estimated": s.requests_estimated,
        "duration_estimated_seconds": s.duration_estimated_seconds,
        "rate_limit": s.rate_limit,
        "rate_window_seconds": s.rate_window_seconds,
        **({"rate_window_source": s.rate_window_source} if s.rate_window_source else {}),
    }


def _sim_to_dict(sim: StepSim) -> dict[str, Any]:
    data: dict[str, Any] = {
        "iccid": sim.iccid,
        "group": sim.group,
        "before": _values(sim.before),
        "after": _values(sim.after),
    }
    if sim.sources:  # where each desired value was declared (`reconciler.plan_sources`)
        data["sources"] = {k: sim.sources[k] for k in sorted(sim.sources)}
    return data


def _guard_to_dict(g: Guard) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": g.name,
        "blocking": g.blocking,
        "message": g.message,
        "override": g.override,
    }
    if g.lifted_by is not None:  # only then: plans without a lifted guard keep their checksum
        data["lifted_by"] = g.lifted_by
    return data


def _step_to_dict(step: Step) -> dict[str, Any]:
    return {
        "id": step.id,
        "wave": step.wave,
        "operation": step.operation.value,
        "batch": step.batch,
        "rate_plan": step.rate_plan,
        "requests": step.requests,
        **({"rollout": step.rollout} if step.rollout else {}),
        "sims": [_sim_to_dict(sim) for sim in step.sims],
    }


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The plan as plain JSON values, keys in the documented order; checksum recomputed."""
    body = _content(plan)
    return {
        "format": PLAN_FORMAT,
        "created_at": plan.created_at,
        "checksum": _checksum_of(body),
        **body,
        "changes_digest": changes_digest(plan),
    }


def _content(plan: Plan) -> dict[str, Any]:
    """Everything the checksum covers: the plan without created_at and checksum."""
    return {
        "endpoint": plan.endpoint,
        "account": plan.account,
        "fleet": plan.fleet,
        "manifest_digest": plan.manifest_digest,
        "summary": _summary_to_dict(plan.summary),
        "guards": [_guard_to_dict(g) for g in plan.guards],
        "problems": [
            {
                "message": p.message,
                "iccid": p.iccid,
                "field": p.field,
                "source": _source_to_dict(p.source),
            }
            for p in plan.problems
        ],
        "warnings": list(plan.warnings),
        "unmanaged": list(plan.unmanaged),
        "missing": list(plan.missing),
        "steps": [_step_to_dict(s) for s in plan.steps],
        # only with a rollout: plans without one keep their layout and checksum
        **({"rollout": [_stage_to_dict(r) for r in plan.rollout]} if plan.rollout else {}),
        **_targeted_to_dict(plan.targeted),
    }


def _targeted_to_dict(t: Targeting | None) -> dict[str, Any]:
    """``"targeted"`` only in a plan made with ``--changed-from``: a full plan's file is what
    it always was."""
    if t is None:
        return {}
    return {
        "targeted": {
            "ref": t.ref,
            "commit": t.commit,
            "sims": t.sims,
            "not_read": t.not_read,
            "removed": t.removed,
            "read_by": t.read_by,
            "account_size": t.account_size,
        }
    }


def _stage_to_dict(stage: RolloutStage) -> dict[str, Any]:
    return {
        "id": stage.id,
        "wave": stage.wave,
        "number": stage.number,
        "of": stage.of,
        "share": stage.share,
        "sims": stage.sims,
        "step_ids": list(stage.step_ids),
        "requests": stage.requests,
        "seconds": stage.seconds,
        "soak_seconds": stage.soak_seconds,
        "max_failed": stage.max_failed,
        "checked": stage.checked,
    }


def _checksum_of(content: Mapping[str, Any]) -> str:
    # Where the estimate's window came from is said in the file but left out of the checksum:
    # a plan made in a fresh window learns the server's window, one made mid-window assumes the
    # hour; for a server whose window is the hour both are the same plan.
    summary = {k: v for k, v in content["summary"].items() if k != "rate_window_source"}
    return _sha256_of({**content, "summary": summary})


def _sha256_of(content: Mapping[str, Any]) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def plan_checksum(plan: Plan) -> str:
    """sha256 over the canonical JSON of the plan, created_at and checksum excluded."""
    return _checksum_of(_content(plan))


def changes_digest(plan: Plan) -> str:
    """sha256 over what the plan would change, and nothing else: the account, and per SIM and
    operation the values it expects and sets (sorted, so the step layout does not count).

    Two plans with the same digest make the same changes, however they were read: it leaves out
    ``created_at``, the endpoint, the counts and costs of the live read, guards and warnings.
    The apply workflow compares the merged commit's digest with the one reviewed on the pull
    request (``apply --reviewed-digest``).
    """
    changes = sorted(
        [
            sim.iccid,
            step.operation.value,
            step.rate_plan or "",
            json.dumps(_values(sim.before), separators=(",", ":")),
            json.dumps(_values(sim.after), separators=(",", ":")),
        ]
        for step in plan.steps
        for sim in step.sims
    )
    return _sha256_of({"account": plan.account, "changes": changes})


def seal(plan: Plan) -> Plan:
    """The plan with its ``checksum`` filled in."""
    return replace(plan, checksum=plan_checksum(plan))


def plan_to_json(plan: Plan) -> str:
    """The plan file's text: indent 2, stable key order, trailing newline."""
    return json.dumps(plan_to_dict(plan), indent=2, ensure_ascii=False) + "\n"


def write_plan(plan: Plan, path: Path) -> None:
    """Write the plan file atomically (a temporary file beside it, then a rename)."""
    text = plan_to_json(plan)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        raise PlanFileError(f"cannot write the plan file {path}: {exc.strerror or exc}") from exc


# --- from JSON -----------------------------------------------------------------------------


class _Reader:
    """Typed access to decoded JSON with errors naming the path, e.g. ``steps[3].sims[0]``."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def fail(self, where: str, message: str) -> PlanFileError:
        return PlanFileError(f"{self.origin}: {where}: {message}")

    def obj(self, value: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected an object, got {type(value).__name__}")
        return value

    def get(self, data: Mapping[str, Any], key: str, kind: type[T], where: str) -> T:
        if key not in data:
            raise self.fail(where, f"missing {key!r}")
        value = data[key]
        # bool is an int in Python; a count that is true/false is still malformed.
        if not isinstance(value, kind) or (kind in (int, float) and isinstance(value, bool)):
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                return float(value)  # type: ignore[return-value]
            raise self.fail(f"{where}.{key}", f"expected {kind.__name__}, got {value!r:.60}")
        return value

    def optional(self, data: Mapping[str, Any], key: str, kind: type[T], where: str) -> T | None:
        if data.get(key) is None:
            return None
        return self.get(data, key, kind, where)

    def items(
        self, data: Mapping[str, Any], key: str, where: str, parse: Callable[[Any, str], T]
    ) -> tuple[T, ...]:
        values = self.get(data, key, list, where)
        return tuple(parse(v, f"{where}.{key}[{i}]") for i, v in enumerate(values))

    def text(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise self.fail(where, f"expected text, got {value!r:.60}")
        return value

    def values(self, value: Any, where: str) -> dict[str, str | None]:
        data = self.obj(value, where)
        for key, item in data.items():
            if item is not None and not isinstance(item, str):
                raise self.fail(f"{where}.{key}", f"expected text or null, got {item!r:.60}")
        return dict(data)


def _parse_source(r: _Reader, value: Any, where: str) -> SourceRef | None:
    if value is None:
        return None
    data = r.obj(value, where)
    return SourceRef(
        file=r.get(data, "file", str, where),
        line=r.get(data, "line", int, where),
        column=r.get(data, "column", int, where),
    )


def _parse_summary(r: _Reader, value: Any, where: str) -> PlanSummary:
    d = r.obj(value, where)
    by_op = r.obj(r.get(d, "sims_by_operation", dict, where), f"{where}.sims_by_operation")
    counts: dict[str, int] = {}
    for key, count in by_op.items():
        if not isinstance(count, int) or isinstance(count, bool):
            raise r.fail(f"{where}.sims_by_operation.{key}", "expected a count")
        counts[key] = count
    return PlanSummary(
        sims_declared=r.get(d, "sims_declared", int, where),
        sims_read=r.get(d, "sims_read", int, where),
        unchanged=r.get(d, "unchanged", int, where),
        to_change=r.get(d, "to_change", int, where),
        unmanaged=r.get(d, "unmanaged", int, where),
        missing=r.get(d, "missing", int, where),
        sims_by_operation=counts,
        requests_read=r.get(d, "requests_read", int, where),
        requests_estimated=r.get(d, "requests_estimated", int, where),
        duration_estimated_seconds=r.get(d, "duration_estimated_seconds", float, where),
        rate_limit=r.optional(d, "rate_limit", int, where),
        rate_window_seconds=r.optional(d, "rate_window_seconds", float, where),
        rate_window_source=r.optional(d, "rate_window_source", str, where),
    )


def _sources(r: _Reader, value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    data = r.values(value, where)
    return {k: v for k, v in data.items() if v is not None}


def _parse_step(r: _Reader, value: Any, where: str) -> Step:
    d = r.obj(value, where)
    op_name = r.get(d, "operation", str, where)
    try:
        operation = Operation(op_name)
    except ValueError:
        raise r.fail(f"{where}.operation", f"unknown operation {op_name!r}") from None

    def sim(item: Any, at: str) -> StepSim:
        s = r.obj(item, at)
        return StepSim(
            iccid=r.get(s, "iccid", str, at),
            group=r.get(s, "group", str, at),
            before=r.values(r.get(s, "before", dict, at), f"{at}.before"),
            after=r.values(r.get(s, "after", dict, at), f"{at}.after"),
            sources=_sources(r, s.get("sources"), f"{at}.sources"),
        )

    return Step(
        id=r.get(d, "id", str, where),
        wave=r.get(d, "wave", int, where),
        operation=operation,
        batch=r.get(d, "batch", bool, where),
        sims=r.items(d, "sims", where, sim),
        requests=r.get(d, "requests", int, where),
        rate_plan=r.optional(d, "rate_plan", str, where),
        rollout=r.optional(d, "rollout", int, where) or 0,
    )


def _parse_stage(r: _Reader, value: Any, where: str) -> RolloutStage:
    d = r.obj(value, where)
    stage = RolloutStage(
        wave=r.get(d, "wave", int, where),
        number=r.get(d, "number", int, where),
        of=r.get(d, "of", int, where),
        share=r.get(d, "share", str, where),
        sims=r.get(d, "sims", int, where),
        step_ids=r.items(d, "step_ids", where, r.text),
        requests=r.get(d, "requests", int, where),
        seconds=r.get(d, "seconds", float, where),
        soak_seconds=r.get(d, "soak_seconds", float, where),
        max_failed=r.get(d, "max_failed", float, where),
        checked=r.get(d, "checked", bool, where),
    )
    if r.get(d, "id", str, where) != stage.id:
        raise r.fail(f"{where}.id", f"expected {stage.id!r}")
    return stage


def _parse_targeted(r: _Reader, value: Any, where: str) -> Targeting | None:
    if value is None:
        return None
    d = r.obj(value, where)
    return Targeting(
        ref=r.get(d, "ref", str, where),
        commit=r.get(d, "commit", str, where),
        sims=r.get(d, "sims", int, where),
        not_read=r.get(d, "not_read", int, where),
        removed=r.get(d, "removed", int, where),
        read_by=r.get(d, "read_by", str, where),
        account_size=r.optional(d, "account_size", int, where),
    )


def plan_from_dict(data: Any, *, origin: str = "plan") -> Plan:
    """Rebuild a `Plan` from decoded JSON; `PlanFileError` naming the place of any fault."""
    r = _Reader(origin)
    d = r.obj(data, "top level")
    fmt = d.get("format")
    if fmt != PLAN_FORMAT:
        raise r.fail("format", f"expected {PLAN_FORMAT!r}, got {fmt!r}")
    top = "plan"

    def guard(value: Any, at: str) -> Guard:
        g = r.obj(value, at)
        return Guard(
            name=r.get(g, "name", str, at),
            blocking=r.get(g, "blocking", bool, at),
            message=r.get(g, "message", str, at),
            override=r.optional(g, "override", str, at),
            lifted_by=r.optional(g, "lifted_by", str, at),
        )

    def problem(value: Any, at: str) -> Problem:
        p = r.obj(value, at)
        return Problem(
            message=r.get(p, "message", str, at),
            iccid=r.optional(p, "iccid", str, at),
            field=r.optional(p, "field", str, at),
            source=_parse_source(r, p.get("source"), f"{at}.source"),
        )

    plan = Plan(
        created_at=r.get(d, "created_at", str, top),
        manifest_digest=r.get(d, "manifest_digest", str, top),
        endpoint=r.get(d, "endpoint", str, top),
        account=r.get(d, "account", str, top),
        fleet=r.get(d, "fleet", str, top),
        summary=_parse_summary(r, r.get(d, "summary", dict, top), "summary"),
        steps=r.items(d, "steps", "plan", lambda v, at: _parse_step(r, v, at)),
        warnings=r.items(d, "warnings", "plan", r.text),
        problems=r.items(d, "problems", "plan", problem),
        guards=r.items(d, "guards", "plan", guard),
        unmanaged=r.items(d, "unmanaged", "plan", r.text),
        missing=r.items(d, "missing", "plan", r.text),
        checksum=r.get(d, "checksum", str, top),
        rollout=(
            r.items(d, "rollout", "plan", lambda v, at: _parse_stage(r, v, at))
            if d.get("rollout") is not None
            else ()
        ),
        targeted=_parse_targeted(r, d.get("targeted"), "targeted"),
    )
    known = {s.id for s in plan.steps}
    for stage in plan.rollout:
        unknown = [i for i in stage.step_ids if i not in known]
        if unknown:
            raise r.fail(f"rollout step {stage.id}", f"names unknown steps {unknown[:3]}")
    expected = plan_checksum(plan)
    if plan.checksum != expected:
        raise PlanFileError(
            f"{origin}: the checksum does not match the content: the plan was edited after it "
            "was made; plan again instead of editing a plan"
        )
    return plan


def plan_from_json(text: str, *, origin: str = "plan") -> Plan:
    """Parse plan file text; `PlanFileError` for bad JSON, another format or a bad checksum."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanFileError(
            f"{origin}: not JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
        ) from exc
    return plan_from_dict(data, origin=origin)


def load_plan(path: Path) -> Plan:
    """Read and check a plan file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanFileError(f"cannot read the plan file {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise PlanFileError(f"{path}: not a UTF-8 text file") from exc
    return plan_from_json(text, origin=str(path))


__all__ = [
    "PLAN_FORMAT",
    "changes_digest",
    "load_plan",
    "plan_checksum",
    "plan_from_dict",
    "plan_from_json",
    "plan_to_dict",
    "plan_to_json",
    "seal",
    "write_plan",
]

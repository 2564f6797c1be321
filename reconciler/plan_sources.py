"""Why a plan touches a field: the manifest line that declared each desired value.

A pull request that edits one group can change SIMs through a line it did not touch (an APN
reset to the Fleet's default, a group's rate plan that a SIM had drifted from). Each `StepSim`
gets, per field it sets, the ``file:line:column`` that declared the value (the Fleet's
``defaults``, the SimGroup's ``spec``, or the SIM's own entry: `DesiredSim.field_sources`), and
the renderers show it beside the change. The changes digest leaves it out: moving a line does
not change what apply does.
"""

from __future__ import annotations

from dataclasses import replace

from reconciler.model import DesiredFleet, Plan, SourceRef, Step, StepSim
from reconciler.planfile import seal


def attach_sources(plan: Plan, desired: DesiredFleet) -> Plan:
    """``plan`` with each SIM's ``sources`` filled in from ``desired``, sealed again."""
    texts: dict[SourceRef, str] = {}  # one string per manifest place, shared by its SIMs

    def with_sources(sim: StepSim) -> StepSim:
        want = desired.sims.get(sim.iccid)
        if want is None:
            return sim
        sources: dict[str, str] = {}
        for path in sim.after:
            ref = want.field_sources.get(path)
            if ref is not None:
                text = texts.get(ref)
                if text is None:
                    text = texts[ref] = str(ref)
                sources[path] = text
        return replace(sim, sources=sources) if sources else sim

    def step_with_sources(step: Step) -> Step:
        return replace(step, sims=tuple(with_sources(sim) for sim in step.sims))

    return seal(replace(plan, steps=tuple(step_with_sources(s) for s in plan.steps)))


__all__ = ["attach_sources"]

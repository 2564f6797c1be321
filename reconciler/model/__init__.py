"""The domain records every layer shares: frozen dataclasses, no I/O.

Names here are fleetform's own, not SmartHub's wire names: the client's wire module
(`reconciler.smarthub.wire`) is the one place that maps ``ACTIVATED`` to `Status.ACTIVE`,
``basicServicePackage`` to `LiveSim.rate_plan` and so on.

One module per kind of record, each name re-exported here (import from ``reconciler.model``):

- `reconciler.model.paths`: field paths (``state``, ``apns[iot.acme]`` ...) and their builders;
- `reconciler.model.sims`: desired and live SIMs, the Fleet, statuses, source places;
- `reconciler.model.account`: the rate-plan catalogue, change history, batch jobs, rate budget;
- `reconciler.model.plan`: the diff (changes, problems) and the plan (steps, waves, guards);
- `reconciler.model.reports`: the apply report and the drift report.
"""

from __future__ import annotations

from reconciler.model.account import (
    BatchItem,
    BatchJob,
    BatchOperation,
    ChangeLogEntry,
    JobStatus,
    RateBudget,
    RatePlan,
    RatePlanType,
    SmsStatus,
)
from reconciler.model.paths import (
    CUSTOM_FIELD_MAX_LENGTH,
    CUSTOM_FIELD_NAMES,
    RATE_PLAN,
    STATE,
    SUBSCRIBED,
    apn_field,
    custom_field,
    parse_field,
    supplementary_field,
)
from reconciler.model.plan import (
    BATCH_MAX_SIMS,
    FieldChange,
    FleetDiff,
    Guard,
    Operation,
    Plan,
    PlanSummary,
    Problem,
    RolloutStage,
    SimDiff,
    Step,
    StepSim,
    Targeting,
    known_account_size,
    steps_by_wave,
)
from reconciler.model.reports import (
    ALREADY,
    ApplyReport,
    DriftBasis,
    DriftField,
    DriftReport,
    DriftSim,
    OperationTotals,
    Outcome,
    SimOutcome,
    StepReport,
)
from reconciler.model.sims import (
    NO_EXTRA,
    PRE_SERVICE,
    ApnStatus,
    DesiredFleet,
    DesiredSim,
    DesiredState,
    FleetSpec,
    LiveSim,
    RolloutPolicy,
    SourceRef,
    Status,
)

__all__ = [
    "ALREADY",
    "BATCH_MAX_SIMS",
    "CUSTOM_FIELD_MAX_LENGTH",
    "CUSTOM_FIELD_NAMES",
    "NO_EXTRA",
    "PRE_SERVICE",
    "RATE_PLAN",
    "STATE",
    "SUBSCRIBED",
    "ApnStatus",
    "ApplyReport",
    "BatchItem",
    "BatchJob",
    "BatchOperation",
    "ChangeLogEntry",
    "DesiredFleet",
    "DesiredSim",
    "DesiredState",
    "DriftBasis",
    "DriftField",
    "DriftReport",
    "DriftSim",
    "FieldChange",
    "FleetDiff",
    "FleetSpec",
    "Guard",
    "JobStatus",
    "LiveSim",
    "Operation",
    "OperationTotals",
    "Outcome",
    "Plan",
    "PlanSummary",
    "Problem",
    "RateBudget",
    "RatePlan",
    "RatePlanType",
    "RolloutPolicy",
    "RolloutStage",
    "SimDiff",
    "SimOutcome",
    "SmsStatus",
    "SourceRef",
    "Status",
    "Step",
    "StepReport",
    "StepSim",
    "Targeting",
    "apn_field",
    "custom_field",
    "known_account_size",
    "parse_field",
    "steps_by_wave",
    "supplementary_field",
]

"""Field paths: the names of a SIM's managed values, in the words of the manifest.

A *field path* names one managed value of a SIM:

=========================================  ===============================================
``state``                                   lifecycle state (`Status` value)
``ratePlan``                                basic rate plan name
``supplementaryPlans[EU-Roaming-500MB]``    one supplementary plan: ``subscribed`` or None
``apns[iot.acme]``                          one APN's status: ``enabled`` / ``disabled``
``customFields.custom1``                    one custom field: text or None (empty)
=========================================  ===============================================

`FieldChange`, `StepSim.before`/`after` and `DesiredSim.field_sources` are keyed by these paths,
built with the helpers below so nobody formats them by hand. The syntax of each kind, and the
split of a path into kind and key, belong to the kind's entry in `reconciler.fields`
(``FieldKind.path``, ``fields.split``); these helpers build the same paths for the layers
below it. The custom fields' names and length limit are here too: they are the custom-field
kind's own rules.
"""

from __future__ import annotations

import re

CUSTOM_FIELD_NAMES: tuple[str, ...] = ("custom1", "custom2", "custom3", "custom4", "custom5")
CUSTOM_FIELD_MAX_LENGTH = 255

STATE = "state"
RATE_PLAN = "ratePlan"
SUBSCRIBED = "subscribed"


def supplementary_field(plan: str) -> str:
    return f"supplementaryPlans[{plan}]"


def apn_field(apn: str) -> str:
    return f"apns[{apn}]"


def custom_field(name: str) -> str:
    return f"customFields.{name}"


_BRACKETED = re.compile(r"^(supplementaryPlans|apns)\[(.+)\]$")


def parse_field(path: str) -> tuple[str, str | None]:
    """Split a path of the five built-in kinds into (kind, key): ``apns[iot.acme]`` ->
    (``apns``, ``iot.acme``). For the layers below the field table; fleetform proper splits
    paths with `reconciler.fields.split`, which knows every kind of the table."""
    if path in (STATE, RATE_PLAN):
        return path, None
    match = _BRACKETED.match(path)
    if match:
        return match.group(1), match.group(2)
    if path.startswith("customFields."):
        return "customFields", path.removeprefix("customFields.")
    raise ValueError(f"not a field path: {path!r}")

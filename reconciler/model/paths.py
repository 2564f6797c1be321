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

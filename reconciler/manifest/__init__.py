"""Manifests in the ``fleetform/v1`` language: find, parse, validate, expand.

Public API: `load_fleet` (what every command needs), `load_manifests` (the same, with the group
names), `validate` (the offline verdict ``fleetform validate`` prints, with `problem_record` for
JSON), the `SchemaValidator` interface and `schema_document`.
Invalid manifests raise `reconciler.errors.ManifestError` carrying every problem found.
"""

from __future__ import annotations

from reconciler.manifest.loader import (
    ManifestSet,
    Validation,
    load_fleet,
    load_manifests,
    problem_record,
    validate,
)
from reconciler.manifest.schema import (
    JsonSchemaValidator,
    SchemaValidator,
    SchemaViolation,
    schema_document,
)

__all__ = [
    "JsonSchemaValidator",
    "ManifestSet",
    "SchemaValidator",
    "SchemaViolation",
    "Validation",
    "load_fleet",
    "load_manifests",
    "problem_record",
    "schema_document",
    "validate",
]

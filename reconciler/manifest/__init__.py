"""Manifests in the ``fleetform/v1`` language: find, parse, validate, expand.

Public API: `load_fleet` (what every command needs), `load_manifests` (the same, with the group
names), `validate` (the offline verdict ``fleetform validate`` prints, with `problem_record` for
JSON), the `SchemaValidator` interface, and the schema itself (`schema_document`, `schema_text`,
`schema_comment` for the line that points editors at the copy written beside manifests).
Invalid manifests raise `reconciler.errors.ManifestError` carrying every problem found.
"""

from __future__ import annotations

from reconciler.manifest.fast import peek_account
from reconciler.manifest.loader import (
    ManifestSet,
    Validation,
    load_fleet,
    load_manifests,
    problem_record,
    validate,
)
from reconciler.manifest.schema import (
    SCHEMA_FILE,
    JsonSchemaValidator,
    SchemaValidator,
    SchemaViolation,
    schema_comment,
    schema_document,
    schema_text,
)

__all__ = [
    "SCHEMA_FILE",
    "JsonSchemaValidator",
    "ManifestSet",
    "SchemaValidator",
    "SchemaViolation",
    "Validation",
    "load_fleet",
    "load_manifests",
    "peek_account",
    "problem_record",
    "schema_comment",
    "schema_document",
    "schema_text",
    "validate",
]

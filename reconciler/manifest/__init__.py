"""Manifests in the ``fleetform/v1`` language: find, parse, validate, expand.

Public API: `load_fleet` (what every command needs), `load_manifests` (the same, with the group
names, for ``validate``'s summary), the `SchemaValidator` interface and `schema_document`.
Invalid manifests raise `reconciler.errors.ManifestError` carrying every problem found.
"""

from __future__ import annotations

from reconciler.manifest.loader import ManifestSet, load_fleet, load_manifests
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
    "load_fleet",
    "load_manifests",
    "schema_document",
]

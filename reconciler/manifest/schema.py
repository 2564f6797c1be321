"""JSON Schema validation of manifest documents, behind one small interface.

`SchemaValidator` is all the loader needs: the violations of a value against the whole schema
or one of its ``$defs``. `JsonSchemaValidator` implements it with the ``jsonschema`` library;
another implementation (jsonschema-rs, say) only has to yield the same `SchemaViolation`s.

jsonschema costs about 80 µs per SIM entry, too slow for 100,000 SIMs, so the loader validates
each document with its ``sims`` list emptied and checks the entries with `plainly_valid_entry`,
a conservative fast path: it accepts only entries the schema certainly accepts, and every entry
it does not accept goes through the schema for the real verdict and the real message. A
property test holds the fast path to that promise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Protocol

import jsonschema

from reconciler.manifest.documents import Path

SCHEMA_FILE = "fleet.schema.json"
ICCID_PATTERN = re.compile(r"^[0-9]{19,20}$")
_STATES = frozenset({"active", "suspended", "retired"})
_APN_STATUSES = frozenset({"enabled", "disabled"})
_CUSTOM_NAMES = frozenset({"custom1", "custom2", "custom3", "custom4", "custom5"})
_SIM_KEYS = frozenset({"iccid", "state", "ratePlan", "supplementaryPlans", "apns", "customFields"})


@dataclass(frozen=True, slots=True)
class SchemaViolation:
    """One way a value breaks the schema; ``path`` leads to the offending value."""

    path: Path
    message: str
    keyword: str  # the schema keyword that failed: "type", "enum", "additionalProperties", ...
    unknown_keys: tuple[str, ...] = ()  # for "additionalProperties": the keys not allowed


class SchemaValidator(Protocol):
    def violations(self, instance: object, definition: str | None = None) -> list[SchemaViolation]:
        """Violations of ``instance`` against the schema, or against ``$defs[definition]``."""
        ...


@cache
def schema_text() -> str:
    """The fleetform/v1 schema shipped inside the package (``reconciler/schemas``), as text:
    what ``init`` and ``export`` copy beside the manifests for editors to validate against."""
    return resources.files("reconciler").joinpath("schemas", SCHEMA_FILE).read_text("utf-8")


@cache
def schema_document() -> dict[str, Any]:
    """The fleetform/v1 schema shipped inside the package (``reconciler/schemas``)."""
    loaded: dict[str, Any] = json.loads(schema_text())
    return loaded


def schema_comment() -> str:
    """The first line of every manifest ``init`` and ``export`` write.

    It points at the copy of the schema they write beside the manifests (`SCHEMA_FILE`), by a
    path relative to the manifest, which is how yaml-language-server (VS Code's YAML extension
    and others) resolves it. Not at the schema's ``$id``: that is an identifier, and no server
    answers at it. A copy in the folder works offline and matches the fleetform that wrote it;
    ``export --force`` rewrites it.
    """
    return f"# yaml-language-server: $schema={SCHEMA_FILE}"


def _show(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_PATTERN_NAMES = {
    "^[0-9]{19,20}$": "an ICCID of 19 or 20 digits",
    "^[0-9]+(\\.[0-9]+)?%$": 'a percentage like "10%"',
    "^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$": (
        "a name of letters, digits, '.', '_' and '-', starting and ending with a letter or digit"
    ),
}

_TYPE_NAMES = {
    "string": "text",
    "object": "a mapping",
    "array": "a list",
    "integer": "a whole number",
    "boolean": "true or false",
    "null": "null",
    "number": "a number",
}


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


_BOOL_HINT = " (YAML reads unquoted yes/no/on/off as true/false: quote the word)"


def _message(error: jsonschema.ValidationError) -> str:
    """A message for people, in manifest words; jsonschema's own as the fallback."""
    keyword = error.validator
    expected: Any = error.validator_value
    instance = error.instance
    if keyword == "const":
        return f"must be {_show(expected)}, not {_show(instance)}"
    if keyword == "enum":
        choices = ", ".join(str(c) for c in expected)
        hint = _BOOL_HINT if isinstance(instance, bool) else ""
        return f"{_show(instance)} is not one of: {choices}{hint}"
    if keyword == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
        hint = _BOOL_HINT if isinstance(instance, bool) else ""
        shown = "" if instance is None else " " + _show(instance)
        return f"must be {wanted}, not {_type_name(instance)}{shown}{hint}"
    if keyword == "required":
        missing = [k for k in expected if isinstance(instance, dict) and k not in instance]
        return "missing required field " + ", ".join(repr(k) for k in missing)
    if keyword == "pattern":
        return f"{_show(instance)} is not {_PATTERN_NAMES.get(expected, 'matching ' + expected)}"
    if keyword == "maxLength":
        return f"is {len(instance)} characters long; at most {expected} are allowed"
    if keyword == "minLength":
        return "must not be empty" if expected == 1 else f"needs at least {expected} characters"
    if keyword == "uniqueItems":
        return f"lists an item twice: {_show(instance)}"
    if keyword == "minimum":
        return f"must be at least {expected}, not {_show(instance)}"
    if keyword == "anyOf" and error.context:
        return "; or ".join(dict.fromkeys(_message(e) for e in error.context))
    return str(error.message)


class JsonSchemaValidator:
    """`SchemaValidator` over the ``jsonschema`` library (Draft 2020-12)."""

    def __init__(self, schema: Mapping[str, Any] | None = None) -> None:
        self._schema = dict(schema if schema is not None else schema_document())
        self._validators: dict[str | None, jsonschema.Draft202012Validator] = {}

    def _validator(self, definition: str | None) -> jsonschema.Draft202012Validator:
        validator = self._validators.get(definition)
        if validator is None:
            schema = self._schema
            if definition is not None:
                if definition not in schema.get("$defs", {}):
                    raise KeyError(definition)
                schema = {
                    "$schema": schema["$schema"],
                    "$defs": schema["$defs"],
                    "$ref": f"#/$defs/{definition}",
                }
            validator = jsonschema.Draft202012Validator(schema)
            self._validators[definition] = validator
        return validator

    def violations(self, instance: object, definition: str | None = None) -> list[SchemaViolation]:
        found: list[SchemaViolation] = []
        for error in self._validator(definition).iter_errors(instance):
            found.extend(_translate(error))
        # jsonschema reports ``required`` once per missing key, and each message names all of
        # them: keep one of each identical violation (first seen), so a message shows once.
        found = list(dict.fromkeys(found))
        found.sort(key=lambda v: [str(p) for p in v.path])
        return found


def _translate(error: jsonschema.ValidationError) -> list[SchemaViolation]:
    path: Path = tuple(error.absolute_path)
    keyword = str(error.validator)
    if keyword == "additionalProperties" and isinstance(error.instance, dict):
        known = error.schema.get("properties", {})
        extra = tuple(k for k in error.instance if k not in known)
        allowed = ", ".join(known) if known else "none"
        return [
            SchemaViolation(
                (*path, key), f"unknown field {key!r} (allowed here: {allowed})", keyword, (key,)
            )
            for key in extra
        ]
    return [SchemaViolation(path, _message(error), keyword)]


def _plain_name(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 128


def plainly_valid_entry(entry: object) -> bool:
    """True only for a SIM entry the schema's ``simEntry`` certainly accepts.

    False means "ask the schema", not "invalid": this is a shortcut for the common shapes.
    """
    if isinstance(entry, str):
        return ICCID_PATTERN.match(entry) is not None
    if not isinstance(entry, dict):
        return False
    iccid = entry.get("iccid")
    if not isinstance(iccid, str) or ICCID_PATTERN.match(iccid) is None:
        return False
    for key, value in entry.items():
        if key == "iccid":
            continue
        if key == "state":
            if not isinstance(value, str) or value not in _STATES:
                return False
        elif key == "ratePlan":
            if not _plain_name(value):
                return False
        elif key == "supplementaryPlans":
            if not _plainly_valid_plans(value):
                return False
        elif key == "apns":
            if not _plainly_valid_apns(value):
                return False
        elif key == "customFields":
            if not _plainly_valid_custom(value):
                return False
        else:
            return False
    return True


def _plainly_valid_plans(value: object) -> bool:
    if not isinstance(value, list):
        return False
    return all(_plain_name(p) for p in value) and len(set(value)) == len(value)


def _plainly_valid_apns(value: object) -> bool:
    if not isinstance(value, dict):
        return False
    return all(
        0 < len(name) <= 255 and isinstance(status, str) and status in _APN_STATUSES
        for name, status in value.items()
    )


def _plainly_valid_custom(value: object) -> bool:
    if not isinstance(value, dict):
        return False
    return all(
        name in _CUSTOM_NAMES and (text is None or (isinstance(text, str) and len(text) <= 255))
        for name, text in value.items()
    )


def sim_entry_violations(
    validator: SchemaValidator, entries: Sequence[object], prefix: Path
) -> list[SchemaViolation]:
    """Schema violations of a ``sims`` list, entry by entry, the fast path first."""
    found: list[SchemaViolation] = []
    for index, entry in enumerate(entries):
        if plainly_valid_entry(entry):
            continue
        for violation in validator.violations(entry, "simEntry"):
            found.append(
                SchemaViolation(
                    (*prefix, index, *violation.path),
                    violation.message,
                    violation.keyword,
                    violation.unknown_keys,
                )
            )
    return found

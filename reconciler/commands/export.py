"""``fleetform export``: read the live fleet of one account and write it as manifests.

Reading costs one list request per 100 SIMs (plus one ``GET /enterprise`` when no account is
given). The manifests come from `reconciler.export` (pure); this module only reads and writes.

Choices where the contract is silent:
- ``--account`` may be left out when the enterprise has exactly one account; with several,
  export names them and asks for one (guessing the "first" could export the wrong fleet).
- Nothing is overwritten without ``--force``, and nothing is ever deleted: other ``*.yaml``
  files already in the folder (an older export, say) are named in a warning, since a plan
  would read them too.
- Every file is written to a temporary name and renamed, after every conflict was checked.
- A copy of the schema, ``fleet.schema.json``, is written beside the manifests: their first
  line points editors at it (`reconciler.manifest.schema_comment` says why not a URL).
- With ``--force`` over a folder that holds a Fleet already (``init`` wrote one, or an earlier
  export), that Fleet's name and guards are kept (`existing_fleet`); ``--name`` still renames.
  The account is not taken from it: the SIMs come from the account asked for.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from reconciler.app import Connection, open_api
from reconciler.errors import ConfigError
from reconciler.export import FLEET_FILE, ExportFile, ExportSettings, export_fleet, fleet_name_for
from reconciler.manifest import SCHEMA_FILE, schema_text
from reconciler.manifest.documents import read_documents
from reconciler.reporting import Reporter
from reconciler.smarthub.api import SmartHubApi
from reconciler.wording import counted


@dataclass(frozen=True, slots=True)
class ExportOptions:
    out: Path = Path("manifests")
    group_by: str = "status"
    account: str | None = None
    name: str | None = None  # the Fleet's name; default: from the account
    force: bool = False


@dataclass(frozen=True, slots=True)
class ExportResult:
    account: str
    sims: int
    files: tuple[Path, ...]
    requests: int


def account_of(enterprise: Mapping[str, Any]) -> str:
    """The enterprise's one account, or a ConfigError naming them when there are several."""
    accounts = enterprise.get("accounts")
    names = sorted(
        str(a["name"])
        for a in (accounts if isinstance(accounts, list) else [])
        if isinstance(a, Mapping) and a.get("name")
    )
    if len(names) == 1:
        return names[0]
    if not names:
        raise ConfigError("the enterprise lists no account: pass --account NAME")
    raise ConfigError(
        f"the enterprise has {len(names)} accounts: pass --account ({', '.join(names)})"
    )


@dataclass(frozen=True, slots=True)
class ExistingFleet:
    """What export keeps of a Fleet already in the output folder (None: not declared there)."""

    file: Path
    name: str | None = None
    max_changes: int | str | None = None
    allow_retire: bool | None = None


MAX_READ_BYTES = 1_000_000  # a Fleet document is a few hundred bytes
_FLEET_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
_PERCENT = re.compile(r"^[0-9]+(\.[0-9]+)?%$")


def existing_fleet(out: Path) -> ExistingFleet | None:
    """The first Fleet document in the ``*.yaml``/``*.yml`` files directly in ``out``.

    Values of the wrong shape are skipped (export writes what it would write without them);
    a file that cannot be read or parsed is skipped too: export replaces its own files, and the
    plan after it reports whatever is left broken.
    """
    if not out.is_dir():
        return None
    files = sorted(p for p in out.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    for path in files:
        try:
            data = path.read_bytes()[:MAX_READ_BYTES]
        except OSError:
            continue
        for doc in read_documents(data, str(path)).documents:
            value = doc.value
            if isinstance(value, dict) and value.get("kind") == "Fleet":
                return _kept(path, value)
    return None


def _kept(path: Path, value: Mapping[str, Any]) -> ExistingFleet:
    metadata = value.get("metadata")
    spec = value.get("spec")
    guards = spec.get("guards") if isinstance(spec, Mapping) else None
    guards = guards if isinstance(guards, Mapping) else {}
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    limit = guards.get("maxChanges")
    allow = guards.get("allowRetire")
    return ExistingFleet(
        file=path,
        name=name if isinstance(name, str) and _FLEET_NAME.match(name) else None,
        max_changes=(
            limit
            if (isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0)
            or (isinstance(limit, str) and _PERCENT.match(limit))
            else None
        ),
        allow_retire=allow if isinstance(allow, bool) else None,
    )


def export_settings(
    options: ExportOptions, account: str, existing: ExistingFleet | None
) -> ExportSettings:
    """The Fleet's settings: ``--name``, else the existing Fleet's name, else the account's;
    the existing Fleet's guards, else export's conservative ones."""
    settings = ExportSettings(
        account=account,
        fleet_name=options.name or fleet_name_for(account),
        group_by=options.group_by,
    )
    if existing is None:
        return settings
    return replace(
        settings,
        fleet_name=options.name or existing.name or settings.fleet_name,
        max_changes=(
            existing.max_changes if existing.max_changes is not None else settings.max_changes
        ),
        allow_retire=(
            existing.allow_retire if existing.allow_retire is not None else settings.allow_retire
        ),
        kept_from=existing.file.name,
    )


def read_and_render(
    api: SmartHubApi, options: ExportOptions, existing: ExistingFleet | None = None
) -> tuple[str, list[ExportFile]]:
    account = options.account or account_of(api.enterprise())
    settings = export_settings(options, account, existing)
    return account, export_fleet(api.iter_sims(account=account), settings)


def write_files(out: Path, files: Sequence[ExportFile], *, force: bool) -> list[Path]:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} exists and is not a directory")
    targets = [out / f.name for f in files]
    if not force:
        existing = [str(t) for t in targets if t.exists()]
        if existing:
            raise ConfigError(
                "refusing to overwrite existing files (use --force): " + ", ".join(existing)
            )
    try:
        out.mkdir(parents=True, exist_ok=True)
        for target, file in zip(targets, files, strict=True):
            temporary = target.with_name(f".{target.name}.tmp")
            temporary.write_text(file.text, encoding="utf-8")
            os.replace(temporary, target)
    except OSError as exc:
        raise ConfigError(f"cannot write to {out}: {exc.strerror}") from exc
    return targets


def run_export(options: ExportOptions, connection: Connection, reporter: Reporter) -> ExportResult:
    """Read, render, write; the files are checked for conflicts before the first read."""
    fleet_file = options.out / FLEET_FILE
    if not options.force and fleet_file.exists():  # always written: fail before any request
        raise ConfigError(f"refusing to overwrite existing files (use --force): {fleet_file}")
    existing = existing_fleet(options.out) if options.force else None
    if existing is not None:
        name = f"name {existing.name!r} and " if existing.name and not options.name else ""
        reporter.info(f"keeping the {name}guards of the Fleet in {existing.file}")
    with open_api(connection, reporter) as api:
        account, files = read_and_render(api, options, existing)
        requests = api.stats().requests
    # The copy of the schema the files' first line points editors at (see `schema_comment`).
    schema = ExportFile(SCHEMA_FILE, schema_text(), 0)
    written = write_files(options.out, [*files, schema], force=options.force)
    sims = sum(f.sims for f in files)
    others = sorted(
        p
        for p in options.out.iterdir()
        if p.suffix in (".yaml", ".yml") and p not in written and not p.name.startswith(".")
    )
    if others:
        reporter.warn(
            f"{options.out} also holds {', '.join(p.name for p in others)}: a plan reads those "
            "too (a SIM in two groups is an error); remove what an earlier export left"
        )
    if sims == 0:
        reporter.warn(f"account {account} has no SIMs: only {written[0]} (a Fleet) was written")
    reporter.info(
        f"exported {counted(sims, 'SIM')} of account {account} into "
        f"{counted(len(written), 'file')} under {options.out} ({counted(requests, 'request')})"
    )
    return ExportResult(account=account, sims=sims, files=tuple(written), requests=requests)

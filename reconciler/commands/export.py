"""``fleetform export``: read the live fleet of one account and write it as manifests.

Reading costs one list request per 100 SIMs (plus one ``GET /enterprise`` when no account is
given). The manifests come from `reconciler.export` (pure); this module only reads and writes.

Choices where the contract is silent:
- ``--account`` may be left out when the enterprise has exactly one account; with several,
  export names them and asks for one (guessing the "first" could export the wrong fleet).
  The enterprise may list accounts as objects or as plain names (`wire.enterprise_account_names`).
  When it lists none, the SIMs the key can see are read without an account filter and their
  ``accountName`` decides: one account is used (and said so); several are named with their
  SIM counts and export asks for ``--account``, having written nothing.
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
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from reconciler.app import Connection, open_api, state_dir
from reconciler.errors import ConfigError, ForbiddenError
from reconciler.export import FLEET_FILE, ExportFile, ExportSettings, export_fleet, fleet_name_for
from reconciler.live import refreshing
from reconciler.manifest import SCHEMA_FILE, schema_text
from reconciler.manifest.documents import read_documents
from reconciler.model import LiveSim
from reconciler.reporting import Reporter
from reconciler.smarthub import wire
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


def account_of(enterprise: Mapping[str, Any]) -> str | None:
    """The enterprise's one account; None when it lists none; a ConfigError naming them when
    there are several."""
    names = wire.enterprise_account_names(enterprise)
    if len(names) <= 1:
        return names[0] if names else None
    raise ConfigError(
        f"the enterprise has {len(names)} accounts: pass --account ({', '.join(names)})"
    )


def _sims(count: int) -> str:
    return f"{count} SIM{'' if count == 1 else 's'}"


def account_from_sims(sims: Sequence[LiveSim]) -> str:
    """The one account the SIMs name (the enterprise listed none), or a ConfigError saying
    which accounts they name and asking for ``--account``."""
    counts = Counter(sim.account for sim in sims)
    named = sorted(name for name in counts if name)
    if len(named) == 1 and not counts.get(""):
        return named[0]
    if not named:
        what = "no SIM" if not sims else f"none of its {len(sims)} SIMs"
        raise ConfigError(
            f"the enterprise lists no account and {what} names one (accountName): pass "
            "--account NAME"
        )
    listed = ", ".join(f"{name} ({_sims(counts[name])})" for name in named)
    unnamed = f", and {_sims(counts[''])} name none" if counts.get("") else ""
    raise ConfigError(
        f"the enterprise lists no account, and its SIMs belong to {listed}{unnamed}: pass "
        "--account NAME to say which to export"
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
    api: SmartHubApi,
    options: ExportOptions,
    existing: ExistingFleet | None = None,
    reporter: Reporter | None = None,
) -> tuple[str, list[ExportFile]]:
    """With a ``reporter``, the full read also refreshes the account's live-state cache."""
    account = options.account or account_of(api.enterprise())
    sims: Iterable[LiveSim]
    if account is None:  # the enterprise names none: the SIMs' own accountName decides
        listed = list(api.iter_sims())
        account = account_from_sims(listed)
        if reporter is not None:
            reporter.info(
                f"the enterprise lists no account; the {len(listed)} SIMs listed all belong "
                f"to {account!r}: exporting that account"
            )
        sims = listed
    else:
        sims = api.iter_sims(account=account)
    settings = export_settings(options, account, existing)
    if reporter is None:
        return account, export_fleet(sims, settings)
    with refreshing(
        state_dir(), endpoint=api.endpoint, account=account, reporter=reporter, clock=time.time
    ) as tap:
        return account, export_fleet(tap(iter(sims)) if tap is not None else sims, settings)


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
        try:
            account, files = read_and_render(api, options, existing, reporter)
        except ForbiddenError as exc:
            if options.account is None:
                raise
            raise ConfigError(
                f"account {options.account!r} belongs to another enterprise than this API key "
                "(403 Access forbidden): pass --account with an account of the key's enterprise "
                "(leave it out to use the enterprise's only one), or use that enterprise's key"
            ) from exc
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

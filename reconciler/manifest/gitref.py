"""Manifests as they are at a git commit, read from git's objects without a checkout.

``plan --changed-from GITREF`` compares the manifests at GITREF with the working tree. This
module finds the repository of the manifest paths (``git rev-parse --show-toplevel``), resolves
GITREF to a commit, lists the commit's tree (``git ls-tree -r -l -z``), picks the files the
same paths reach there, reads their blobs in one ``git cat-file --batch``, and hands them to
`reconciler.manifest.loader.load_blobs`: the same parsing and validation as for files, the
files named by their path in the repository, so a problem reads ``manifests/fleet.yaml:3:5``.

Which files a path reaches follows `reconciler.manifest.files`: a directory is walked for
``*.yaml``/``*.yml`` (names starting with ``.`` skipped), a file named explicitly is read
whatever its suffix, a file over `MAX_FILE_BYTES` is refused. A symlink in the tree is followed
inside the same commit (at most `_MAX_LINKS` hops); one leading out of the repository, to
nothing, or round in a loop is a problem. Submodules are skipped.

Paths may be typed relative to the current directory, which may be a subfolder of the repository.
When none of the paths exists at GITREF (the manifests were added after it), the set there is
empty: every SIM declared now counts as added.

Every failure is a `ConfigError` that says how to go on: the path not in a git work tree, git
not installed, a GITREF that names no commit, a shallow clone that lacks it (fetch the history:
``fetch-depth: 0`` in actions/checkout), manifests at GITREF that do not load. Never a silent
fallback to a full read.
"""

from __future__ import annotations

import os
import posixpath
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import ConfigError, ManifestError, ManifestProblem
from reconciler.manifest.delta import Declarations, declarations, fingerprinter
from reconciler.manifest.fast import load_fast_blobs
from reconciler.manifest.files import MAX_FILE_BYTES, SUFFIXES
from reconciler.manifest.loader import ManifestSet, default_validator, load_blobs

_MAX_LINKS = 40
_SYMLINK = "120000"
_TIMEOUT = 300.0


@dataclass(frozen=True, slots=True)
class Revision:
    """A GITREF as typed and the commit it resolved to."""

    ref: str
    commit: str  # 40 (or 64) hex digits

    @property
    def short(self) -> str:
        return self.commit[:7]

    def __str__(self) -> str:
        return f"{self.ref} ({self.short})"


@dataclass(frozen=True, slots=True)
class ManifestsAtRef:
    """The manifest set at a commit; ``manifests`` is None when no path existed there."""

    revision: Revision
    manifests: ManifestSet | None


@dataclass(frozen=True, slots=True)
class _Entry:
    mode: str
    kind: str
    oid: str
    size: int | None


def _git(
    args: Sequence[str], cwd: Path, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=stdin,
            capture_output=True,
            timeout=_TIMEOUT,
            check=False,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"},
        )
    except FileNotFoundError as exc:
        raise ConfigError(
            "--changed-from needs git, and git is not installed (or not on PATH): install it, "
            "or plan without --changed-from (a full read of the account)"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise ConfigError(f"git {args[0]} took longer than {_TIMEOUT:.0f} s") from exc


def _stderr(result: subprocess.CompletedProcess[bytes]) -> str:
    """git's last line of complaint."""
    lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else f"exit {result.returncode}"


def work_tree(paths: Sequence[Path | str]) -> Path:
    """The top folder of the git work tree holding every path; `ConfigError` otherwise."""
    top: Path | None = None
    for given in paths:
        path = Path(given).resolve()
        folder = path if path.is_dir() else path.parent
        result = _git(["rev-parse", "--show-toplevel"], folder if folder.is_dir() else Path.cwd())
        if result.returncode != 0:
            raise ConfigError(
                f"{given} is not in a git work tree, so --changed-from has no history to compare "
                "with: run it in a clone of the fleet repository, or plan without --changed-from "
                "(a full read of the account)"
            )
        found = Path(result.stdout.decode("utf-8", "surrogateescape").strip()).resolve()
        if top is None:
            top = found
        elif found != top:
            raise ConfigError(
                f"{given} is in another git repository ({found}) than {paths[0]} ({top}): "
                "--changed-from compares the manifests of one repository"
            )
    if top is None:
        raise ConfigError("--changed-from needs manifest paths")
    return top


def resolve(ref: str, top: Path) -> Revision:
    """The commit ``ref`` names in the repository at ``top``; a clear `ConfigError` if none."""
    if not ref.strip():
        raise ConfigError("--changed-from needs a git revision, e.g. origin/main or HEAD~1")
    result = _git(
        ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"], top
    )
    if result.returncode == 0:
        return Revision(ref, result.stdout.decode("ascii").strip())
    shallow = _git(["rev-parse", "--is-shallow-repository"], top)
    if shallow.returncode == 0 and shallow.stdout.strip() == b"true":
        raise ConfigError(
            f"--changed-from {ref}: this clone is shallow and does not hold {ref}: fetch the "
            "history first (in GitHub Actions: `fetch-depth: 0` in actions/checkout; by hand: "
            "`git fetch --unshallow`), or plan without --changed-from (a full read)"
        )
    raise ConfigError(
        f"--changed-from {ref}: no such commit in the repository at {top}: check the name, or "
        f"fetch it first (e.g. `git fetch origin main` for origin/main); a targeted plan never "
        "falls back to reading the whole fleet"
    )


def _tree(revision: Revision, top: Path) -> dict[str, _Entry]:
    result = _git(["ls-tree", "-r", "-l", "-z", "--full-tree", revision.commit], top)
    if result.returncode != 0:
        raise ConfigError(
            f"--changed-from {revision}: git cannot list the commit's files "
            f"({_stderr(result)}): is the clone complete? (`fetch-depth: 0` in actions/checkout)"
        )
    entries: dict[str, _Entry] = {}
    for record in result.stdout.split(b"\0"):
        if not record:
            continue
        meta, _, name = record.partition(b"\t")
        mode, kind, oid, size = meta.decode("ascii").split()
        entries[name.decode("utf-8", "surrogateescape")] = _Entry(
            mode, kind, oid, int(size) if size.isdigit() else None
        )
    return entries


def _relative(given: Path | str, top: Path) -> str:
    path = Path(os.path.abspath(given))
    try:
        return Path(os.path.realpath(path)).relative_to(top).as_posix()
    except ValueError:
        try:
            return path.relative_to(top).as_posix()
        except ValueError:
            raise ConfigError(f"{given} is outside the git work tree at {top}") from None


class _Picker:
    """The files of the tree the given paths reach, as `reconciler.manifest.files` picks them."""

    def __init__(self, tree: dict[str, _Entry], revision: Revision, top: Path) -> None:
        self.tree = tree
        self.top = top
        self.revision = revision
        self.picked: dict[str, tuple[str, _Entry]] = {}  # target path -> (display, blob entry)
        self.problems: list[ManifestProblem] = []
        self.existed = False

    def path(self, rel: str) -> None:
        rel = "" if rel == "." else rel
        if rel in self.tree:
            self.existed = True
            self.file(rel)
            return
        prefix = f"{rel}/" if rel else ""
        below = sorted(name for name in self.tree if name.startswith(prefix))
        if not below:
            return  # not at this commit: added since
        self.existed = True
        walked = False
        for name in below:
            parts = name[len(prefix) :].split("/")
            if any(part.startswith(".") for part in parts) or not parts[-1].endswith(SUFFIXES):
                continue
            if self.tree[name].kind != "blob":
                continue
            walked = True
            self.file(name)
        if not walked:
            self.problems.append(
                ManifestProblem(
                    rel or ".", 1, 1, f"no *.yaml or *.yml files here at {self.revision}"
                )
            )

    def file(self, name: str) -> None:
        entry = self.tree[name]
        if entry.kind != "blob":
            self.problems.append(ManifestProblem(name, 1, 1, "not a file or directory"))
            return
        target = name
        hops = 0
        while entry.mode == _SYMLINK:
            hops += 1
            if hops > _MAX_LINKS:
                self.problems.append(ManifestProblem(name, 1, 1, "cannot be read: symlink loop"))
                return
            link = _read_blobs([entry.oid], self.top)[entry.oid]
            pointed = posixpath.normpath(
                posixpath.join(posixpath.dirname(target), link.decode("utf-8", "surrogateescape"))
            )
            if pointed.startswith(("../", "/")) or pointed == "..":
                self.problems.append(
                    ManifestProblem(name, 1, 1, "a symlink out of the repository: not followed")
                )
                return
            followed = self.tree.get(pointed)
            if followed is None or followed.kind != "blob":
                self.problems.append(
                    ManifestProblem(name, 1, 1, f"a symlink to {pointed}, which is not a file")
                )
                return
            target, entry = pointed, followed
        if entry.size is not None and entry.size > MAX_FILE_BYTES:
            self.problems.append(
                ManifestProblem(
                    name,
                    1,
                    1,
                    f"file is {entry.size / 1048576:.1f} MiB; manifest files may be at most "
                    f"{MAX_FILE_BYTES // 1048576} MiB (split it)",
                )
            )
            return
        self.picked.setdefault(target, (name, entry))


def _read_blobs(oids: Sequence[str], top: Path) -> dict[str, bytes]:
    """The blobs' bytes, by object id, in one ``git cat-file --batch``."""
    if not oids:
        return {}
    unique = list(dict.fromkeys(oids))
    result = _git(["cat-file", "--batch"], top, stdin="".join(f"{o}\n" for o in unique).encode())
    if result.returncode != 0:
        raise ConfigError(f"git cannot read the manifests' objects: {_stderr(result)}")
    out = result.stdout
    blobs: dict[str, bytes] = {}
    position = 0
    for oid in unique:
        end = out.index(b"\n", position)
        header = out[position:end].split()
        if len(header) != 3:
            raise ConfigError(
                f"git has no object {oid} of the manifests: the clone is incomplete "
                "(`fetch-depth: 0` in actions/checkout)"
            )
        size = int(header[2])
        blobs[oid] = out[end + 1 : end + 1 + size]
        position = end + 1 + size + 1
    return blobs


def read_at(ref: str, paths: Sequence[Path | str]) -> ManifestsAtRef:
    """Load the manifests under ``paths`` as they are at ``ref``; see the module docstring."""
    found = _blobs_at(ref, paths)
    if found.files is None:
        return ManifestsAtRef(found.revision, None)
    with found.loading():
        manifests = load_blobs(found.files, found.problems, place=found.place)
    return ManifestsAtRef(found.revision, manifests)


@dataclass(frozen=True, slots=True)
class DeclarationsAtRef:
    """What the manifest set at a commit declares (`Declarations`: each SIM's fingerprint, not
    the fleet); ``declarations`` is None when no path existed there."""

    revision: Revision
    declarations: Declarations | None


def declarations_at(ref: str, paths: Sequence[Path | str]) -> DeclarationsAtRef:
    """What the manifests under ``paths`` declare at ``ref``: `read_at` reduced to each SIM's
    fingerprint as the files are read (one file's values alive at a time), for
    ``--changed-from``. The same checks and errors as `read_at`."""
    found = _blobs_at(ref, paths)
    if found.files is None:
        return DeclarationsAtRef(found.revision, None)
    with found.loading():
        fast = None
        if not found.problems:
            fast = load_fast_blobs(found.files, default_validator(), fingerprinter())
        if fast is not None:
            spec, sims = fast
            return DeclarationsAtRef(found.revision, Declarations(spec.account, sims))
        manifests = load_blobs(found.files, found.problems, place=found.place)
    return DeclarationsAtRef(found.revision, declarations(manifests.fleet))


@dataclass(frozen=True, slots=True)
class _BlobsAtRef:
    revision: Revision
    ref: str
    files: list[tuple[str, bytes]] | None  # None: no path existed at the commit
    problems: list[ManifestProblem]
    place: str

    @contextmanager
    def loading(self) -> Iterator[None]:
        """Turn a `ManifestError` of the set at the commit into the `ConfigError` that says
        what to do about it."""
        try:
            yield
        except ManifestError as exc:
            count = len(exc.problems)
            listed = "".join(f"\n  {p}" for p in exc.problems[:50])
            more = f"\n  ... and {count - 50} more" if count > 50 else ""
            raise ConfigError(
                f"--changed-from {self.revision}: the manifests there do not load ({count} "
                f"problem{'' if count == 1 else 's'}; see them with `git show {self.ref}:PATH`), "
                f"so a targeted plan cannot tell which SIMs changed:{listed}{more}\n"
                "Pick a --changed-from where they load, or plan without --changed-from (a full "
                "read of the account)"
            ) from exc


def _blobs_at(ref: str, paths: Sequence[Path | str]) -> _BlobsAtRef:
    top = work_tree(paths)
    revision = resolve(ref, top)
    tree = _tree(revision, top)
    picker = _Picker(tree, revision, top)
    for given in paths:
        picker.path(_relative(given, top))
    place = _relative(paths[0], top) or "."
    if not picker.existed:
        return _BlobsAtRef(revision, ref, None, picker.problems, place)
    chosen = sorted(picker.picked.values(), key=lambda item: item[0])
    blobs = _read_blobs([entry.oid for _, entry in chosen], top)
    files = [(display, blobs[entry.oid]) for display, entry in chosen]
    return _BlobsAtRef(revision, ref, files, picker.problems, place)


__all__ = [
    "DeclarationsAtRef",
    "ManifestsAtRef",
    "Revision",
    "declarations_at",
    "read_at",
    "resolve",
    "work_tree",
]

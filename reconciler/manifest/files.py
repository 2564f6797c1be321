"""Which files make a manifest set, how they are named in messages, and their digest.

Decisions:

- A directory is walked recursively for ``*.yaml`` and ``*.yml``; hidden files and
  directories (a name starting with ``.``, e.g. ``.git``, ``.fleetform``) are skipped, and so
  are symlinked directories (no loops). A file named explicitly is read whatever its suffix.
- A file is named in messages as the user reached it: the path typed, or the directory typed
  joined with the path below it (``examples/fleet/sites.yaml``).
- A file reached twice (a directory and a file in it) is read once.
- Files are read in sorted order of their resolved paths. The digest is SHA-256 over, for each
  file in that order, its size in decimal, a newline and its bytes: it changes whenever any
  content changes, but not when the set is moved, renamed or typed differently.
- A file over `MAX_FILE_BYTES` is refused before a byte of it is parsed.
- Problems about a whole file (missing, unreadable, too big) are placed at line 1, column 1.
- A symlink that loops (a file linking to itself, two files linking to each other) is named as
  ``cannot be read: symlink loop``, a dangling one as ``cannot be read: broken symlink``; the
  other files are still read, so all their problems show too.
- Only regular files are read: a FIFO, socket or device named ``*.yaml`` is refused without
  being opened for a blocking read (a FIFO would hang the run, ``/dev/zero`` never ends).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import ManifestProblem

MAX_FILE_BYTES = 20 * 1024 * 1024
SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True, slots=True)
class ManifestFile:
    display: str  # as shown in messages
    path: Path  # resolved


def find_files(paths: Sequence[Path | str]) -> tuple[list[ManifestFile], list[ManifestProblem]]:
    """The manifest files under ``paths``, in reading order, and problems finding them."""
    found: dict[Path, ManifestFile] = {}
    problems: list[ManifestProblem] = []
    for given in paths:
        typed = str(given)
        path = Path(given)
        broken = _link_problem(path)
        if broken is not None:
            problems.append(ManifestProblem(typed, 1, 1, broken))
        elif path.is_dir():
            walked, unreadable = _walk(typed, path)
            for display, real in walked:
                found.setdefault(real, ManifestFile(display, real))
            problems.extend(unreadable)
            if not walked and not unreadable:
                problems.append(ManifestProblem(typed, 1, 1, "no *.yaml or *.yml files here"))
        elif path.is_file():
            real = path.resolve()
            found.setdefault(real, ManifestFile(typed, real))
        elif path.exists():
            problems.append(ManifestProblem(typed, 1, 1, "not a file or directory"))
        else:
            problems.append(ManifestProblem(typed, 1, 1, "no such file or directory"))
    return [found[real] for real in sorted(found)], problems


def _link_problem(path: Path) -> str | None:
    """Why a symlink at ``path`` leads nowhere (a loop, or dangling), or None."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "cannot be read: symlink loop"
        if path.is_symlink():
            return "cannot be read: broken symlink (it points to nothing)"
    return None


def _walk(typed: str, root: Path) -> tuple[list[tuple[str, Path]], list[ManifestProblem]]:
    out: list[tuple[str, Path]] = []
    problems: list[ManifestProblem] = []
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or not name.endswith(SUFFIXES):
                continue
            full = Path(directory, name)
            display = os.path.join(typed, str(full.relative_to(root)))
            broken = _link_problem(full)
            if broken is not None:
                problems.append(ManifestProblem(display, 1, 1, broken))
                continue
            try:
                real = full.resolve(strict=True)
            except (OSError, RuntimeError):  # 3.11 raises RuntimeError on a loop
                problems.append(ManifestProblem(display, 1, 1, "cannot be read: symlink loop"))
                continue
            out.append((display, real))
    return out, problems


def read_file(file: ManifestFile) -> tuple[bytes | None, ManifestProblem | None]:
    """The file's bytes, or the problem that kept them from being read."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below
        descriptor = os.open(file.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, ManifestProblem(file.display, 1, 1, "cannot be read: symlink loop")
        return None, ManifestProblem(file.display, 1, 1, f"cannot read: {exc.strerror}")
    try:
        with os.fdopen(descriptor, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                return None, ManifestProblem(
                    file.display, 1, 1, "cannot be read: not a regular file (a FIFO or device?)"
                )
            size = info.st_size
            if size > MAX_FILE_BYTES:
                return None, ManifestProblem(
                    file.display,
                    1,
                    1,
                    f"file is {size / 1048576:.1f} MiB; manifest files may be at most "
                    f"{MAX_FILE_BYTES // 1048576} MiB (split it)",
                )
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return None, ManifestProblem(file.display, 1, 1, f"cannot read: {exc.strerror}")
    if len(data) > MAX_FILE_BYTES:  # grew after the stat
        return None, ManifestProblem(file.display, 1, 1, "file too big")
    return data, None


class Digest:
    """SHA-256 over the files' bytes in reading order (see the module docstring)."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    def add(self, data: bytes) -> None:
        self._hash.update(b"%d\n" % len(data))
        self._hash.update(data)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()

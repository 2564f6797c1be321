"""The one registry of renderers, keyed by (report kind, format).

Kinds: ``plan`` (``plan`` and ``show``), ``apply`` (the apply report), ``drift``, ``validate``
(the manifests' problems), and ``manifest-error`` (invalid manifests met by ``plan`` or
``drift`` before any request: only ``github`` renders it, as annotations on their lines).
Formats: ``text``, ``markdown``, ``json``, ``github``. Each entry turns the value into an
`Output`: what goes to stdout, what to stderr, and for ``github`` the job summary appended to
``$GITHUB_STEP_SUMMARY`` (`github.append_step_summary`, the one side effect). The CLI's
``--format`` choices are `formats` of the command's kind, in the order registered.

A new format is one `register` entry per kind it renders; no command changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Write = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class RenderOptions:
    color: bool = False  # text: ANSI colours
    width: int = 100  # text: the terminal's columns
    verbose: bool = False  # plan text: every SIM of every step, nothing folded
    managed: int | None = None  # drift: declared SIMs found in the account ("No drift" counts)


@dataclass(frozen=True, slots=True)
class Output:
    stdout: str = ""
    stderr: str = ""
    summary: str | None = None  # github: markdown appended to $GITHUB_STEP_SUMMARY


Renderer = Callable[[Any, RenderOptions], Output]
_REGISTRY: dict[tuple[str, str], Renderer] = {}


def register(kind: str, fmt: str) -> Callable[[Renderer], Renderer]:
    """Register the decorated function as the renderer of ``kind`` in ``fmt``."""

    def add(renderer: Renderer) -> Renderer:
        if (kind, fmt) in _REGISTRY:
            raise ValueError(f"a {kind} renderer for {fmt!r} is registered already")
        _REGISTRY[(kind, fmt)] = renderer
        return renderer

    return add


def formats(kind: str) -> tuple[str, ...]:
    """The formats ``kind`` renders in, in the order registered (``--format``'s choices)."""
    _load_entries()
    return tuple(fmt for k, fmt in _REGISTRY if k == kind)


def renderer(kind: str, fmt: str) -> Renderer:
    """The renderer of ``kind`` in ``fmt``; ValueError naming the choices when there is none."""
    _load_entries()
    found = _REGISTRY.get((kind, fmt))
    if found is None:
        raise ValueError(f"unknown {kind} format {fmt!r}; choose one of {', '.join(formats(kind))}")
    return found


def render(kind: str, fmt: str, value: Any, options: RenderOptions | None = None) -> Output:
    return renderer(kind, fmt)(value, options or RenderOptions())


def emit(output: Output, write: Write, write_err: Write | None = None) -> None:
    """Write ``output``'s stdout with ``write``, its stderr with ``write_err``, and append its
    job summary where GitHub says (``$GITHUB_STEP_SUMMARY``, when set)."""
    write(output.stdout)
    if output.stderr and write_err is not None:
        write_err(output.stderr)
    if output.summary is not None:
        from reconciler.render.github import append_step_summary

        append_step_summary(output.summary)


def write_report(
    kind: str,
    fmt: str,
    value: Any,
    write: Write,
    options: RenderOptions | None = None,
    *,
    write_err: Write | None = None,
) -> None:
    """Render ``value`` (a ``kind``) in ``fmt`` and `emit` it."""
    emit(render(kind, fmt, value, options), write, write_err)


def write_if_rendered(kind: str, fmt: str, value: Any, write: Write) -> None:
    """Like `write_report`, but a format with no renderer for ``kind`` writes nothing (the
    ``manifest-error`` kind, which only ``github`` renders)."""
    _load_entries()
    if (kind, fmt) in _REGISTRY:
        write_report(kind, fmt, value, write)


def _load_entries() -> None:
    from reconciler.render import entries  # noqa: F401  (registers on first import)

"""Paged reads: where the next page is (`next_page_url`), and `ReadAhead`.

`ReadAhead` fetches the pages of a whole-list read on a thread of its own, at most ``depth``
requests ahead of the caller, so the server's time on the next page overlaps the caller's
decoding and diffing of this one.

What stays as it is without it (each one tested):

- every request still goes through the client's `_call` (rate limiter, pacing, budget,
  retries, redirects), one at a time and in page order;
- an error (of a request, or of a ``Link`` header) reaches the caller on its own thread, with
  its own message, after the pages before it and never before;
- the caller stopping (``close()``, a ``break`` out of the loop, an exception, Ctrl+C) stops
  the thread: it sends no request after that (its waits for the rate window or a backoff end
  at once) and is joined; a thread still inside a request is left to end on its own after
  `JOIN_SECONDS` (a daemon: it cannot keep the process alive);
- a cancel event (Ctrl+C in ``apply``) ends the caller's wait for the next page within
  `POLL_SECONDS` with `Cancelled`, also when the caller is not the main thread.

The cost: when the caller stops early, up to ``depth`` pages were requested that it never
reads. So only callers that read the whole list ask for it (``iter_sims(read_ahead=True)``:
plan, ``drift --full``, export); a read that stops once it saw what it wanted does not.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

import httpx

from reconciler.errors import ApiError, Cancelled
from reconciler.smarthub import wire

T = TypeVar("T")

POLL_SECONDS = 0.5  # how often a waiting caller looks at the cancel event
JOIN_SECONDS = 1.0  # how long close() waits for a thread that is inside a request


class ReadAhead(Generic[T]):
    """Iterates ``source(stop)`` on a thread; ``stop`` is set once the caller stops, and the
    source passes it to every wait and request (`reconciler.smarthub.limiter`)."""

    def __init__(
        self,
        source: Callable[[threading.Event], Iterator[T]],
        *,
        depth: int,
        cancel: threading.Event | None = None,
    ) -> None:
        if depth < 1:
            raise ValueError("read-ahead depth must be at least 1")
        self._depth = depth
        self._cancel = cancel
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._ready: deque[T] = deque()
        self._error: BaseException | None = None
        self._done = False
        self._source = source(self._stop)
        self._thread = threading.Thread(target=self._run, name="fleetform-read-ahead", daemon=True)
        self._thread.start()

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        with self._cond:
            while not self._ready and not self._done:
                if self._cancel is not None and self._cancel.is_set():
                    raise Cancelled("interrupted: no further request is sent")
                self._cond.wait(POLL_SECONDS)
            if self._ready:
                item = self._ready.popleft()
                self._cond.notify_all()  # room for the next page
                return item
            error, self._error = self._error, None
        if error is not None:
            raise error
        raise StopIteration

    def close(self) -> None:
        """Stop the thread (no request after this) and wait for it; idempotent."""
        self._stop.set()
        with self._cond:
            self._ready.clear()
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(JOIN_SECONDS)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        source = self._source
        try:
            while True:
                with self._cond:
                    while len(self._ready) >= self._depth and not self._stop.is_set():
                        self._cond.wait()
                if self._stop.is_set():
                    return
                try:
                    item = next(source)
                except StopIteration:
                    return
                with self._cond:
                    if self._stop.is_set():
                        return
                    self._ready.append(item)
                    self._cond.notify_all()
        except BaseException as exc:  # delivered to the caller, in its place in the order
            with self._cond:
                if not self._stop.is_set():
                    self._error = exc
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):  # the caller has gone, or has the error
                    close()
            with self._cond:
                self._done = True
                self._cond.notify_all()


def next_page_url(response: httpx.Response, seen: set[int]) -> httpx.URL | None:
    """The page after ``response``: its ``Link: rel=next`` resolved against its URL, exactly
    as given; None after a page without a next link or with an empty body (empty, ``null``,
    ``[]``: a server that keeps linking past its last item must not keep us paging for ever).
    ``seen`` holds the hashes of the URLs read so far: a link back to one is a loop, an error.
    """
    target = wire.link_rel(response.headers.get(wire.LINK_HEADER), "next")
    if target is None or _empty_page(response.content):
        return None
    try:
        url = response.url.join(target)
    except httpx.InvalidURL:
        raise wire.MalformedResponse(
            f"header 'Link': the next link is not a URL: {target!r}",
            status=response.status_code,
            method="GET",
            url=str(response.url),
        ) from None
    if url.scheme not in ("http", "https"):
        raise wire.MalformedResponse(
            f"header 'Link': the next link is not http(s): {target!r}",
            status=response.status_code,
            method="GET",
            url=str(response.url),
        )
    if hash(str(url)) in seen:
        raise ApiError(
            response.status_code,
            "Pagination loop",
            detail=f"the next link points back to a page already read: {url}",
            method="GET",
            url=str(response.url),
        )
    return url


def _empty_page(body: bytes) -> bool:
    text = body.strip()
    return not text or text == b"null" or (text[:1] == b"[" and text[1:].strip() == b"]")

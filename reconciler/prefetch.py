"""Read the account while the manifests load, so a plan takes the longer of the two, not the sum.

Loading 100,000 SIMs takes a second or two of CPU; reading them is 1,001 requests, during which
the CPU mostly waits on the network. `Prefetch` reads the rate-plan catalogue and the SIM pages
on a thread while the main thread loads and validates the manifests; `read_live` then takes
them from it as they come, streaming into the diff exactly as it would from the client.

Decisions:

- The read starts only when the Fleet's account is plainly found beforehand and no file looks
  hostile or unreadable (`peek_account`); otherwise the set is loaded, and known valid, first.
  The embedded simulator is never started for it (``plan_command`` overlaps only against a
  configured endpoint).
- When the manifests turn out invalid, the read stops at once (the pages asked for so far are
  the only requests spent, reads only, and the reporter says how many), and the manifest error
  is raised as before. When the loaded Fleet names another account, the prefetch is dropped.
- At most `MAX_PAGES_AHEAD` pages wait in memory while the load runs (1,000,000 SIMs read ahead
  would hold a gigabyte); the reader then waits.
- During the overlap the interpreter switches threads every millisecond instead of every five,
  so the reader is not kept off the network by the loader's pure-Python work.
- Once the manifests are loaded, the reader hands the rest of the read to the main thread at
  the next page boundary (the client's page iterator itself): a reader thread feeding the diff
  on another thread would wait for the interpreter lock at every page (measured: plan of
  100,000 SIMs 1.4x slower than reading on one thread).
- Errors of the read (an API error, a malformed page) are raised where `read_live` asks for the
  catalogue or the next SIM, as the client would have raised them there.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Iterator
from types import TracebackType

from reconciler.model import LiveSim, RatePlan
from reconciler.smarthub.api import SmartHubApi

MAX_PAGES_AHEAD = 500
_PAGE = 100  # SIMs handed over at once
_SWITCH_INTERVAL = 0.001
_End = None


class _Handover:
    """The reader stopped at a page boundary: the main thread reads on with ``rest``."""

    def __init__(self, rest: Iterator[LiveSim]) -> None:
        self.rest = rest


class Prefetch:
    """The account's catalogue (unless ``catalogue`` is false) and SIMs, read on a thread; a
    context manager that stops and joins the thread on the way out."""

    def __init__(self, api: SmartHubApi, account: str, *, catalogue: bool = True) -> None:
        self.account = account
        self._with_catalogue = catalogue
        self.start_requests = api.stats().requests
        self._api = api
        self._pages: queue.Queue[list[LiveSim] | BaseException | _Handover | None] = queue.Queue(
            MAX_PAGES_AHEAD
        )
        self._handover = threading.Event()
        self._rest: Iterator[LiveSim] | None = None
        self._catalogue: list[RatePlan] | None = None
        self._error: BaseException | None = None
        self._catalogue_ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fleetform-read", daemon=True)
        self._switch = sys.getswitchinterval()

    def __enter__(self) -> Prefetch:
        sys.setswitchinterval(_SWITCH_INTERVAL)
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def loaded(self) -> None:
        """The manifests are loaded: the main thread reads on from the next page boundary, and
        threads switch at the usual pace again."""
        self._handover.set()
        sys.setswitchinterval(self._switch)

    def stop(self) -> int:
        """Stop reading; return the requests the read has spent."""
        self._stop.set()
        self.loaded()
        while True:  # make room, so a reader waiting to hand over a page sees the stop
            try:
                item = self._pages.get_nowait()
            except queue.Empty:
                if not self._thread.is_alive():
                    break
                self._thread.join(0.05)
                continue
            if isinstance(item, _Handover):  # handed over, never read: no further page
                self._rest = item.rest
        _close(self._rest)
        self._rest = None
        return self._api.stats().requests - self.start_requests

    def _put(self, item: list[LiveSim] | BaseException | _Handover | None) -> bool:
        while not self._stop.is_set():
            try:
                self._pages.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            if self._with_catalogue:
                self._catalogue = list(self._api.service_packages(self.account))
                self._catalogue_ready.set()
            sims = iter(self._api.iter_sims(account=self.account))
            chunk: list[LiveSim] = []
            handed = False
            try:
                for sim in sims:
                    chunk.append(sim)
                    if len(chunk) == _PAGE:
                        if not self._put(chunk):
                            return
                        chunk = []
                        if self._handover.is_set():
                            handed = self._put(_Handover(sims))
                            return
            finally:
                if not handed:
                    _close(sims)  # no further page is asked for
            if chunk and not self._put(chunk):
                return
            self._put(_End)
        except BaseException as exc:  # handed to the main thread, raised there
            self._error = exc
            self._catalogue_ready.set()
            self._put(exc)

    def catalogue(self) -> list[RatePlan]:
        """The account's rate plans (waits for the first request)."""
        self._catalogue_ready.wait()
        if self._catalogue is None:
            assert self._error is not None
            raise self._error
        return self._catalogue

    def sims(self) -> Iterator[LiveSim]:
        """The account's SIMs in the list's order, as they are read."""
        while True:
            item = self._pages.get()
            if item is _End:
                return
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, _Handover):
                self._rest = item.rest
                yield from item.rest
                return
            yield from item


def _close(sims: Iterator[LiveSim] | None) -> None:
    close = getattr(sims, "close", None)
    if close is not None:
        close()  # a generator: no further page is asked for

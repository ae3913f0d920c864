"""Files a worker applies live (the contact policy, the segment definitions): re-read on change or on SIGHUP.

``FileSource.current()`` is cheap: it looks at the file's modification
time and size at most every ``check_every_s`` seconds (and at once after a
SIGHUP), and reads the file only when they changed. A file that no longer
validates keeps what is in force and logs one error naming the file, the
field and the problem (once per change of the file, not at every check). At
start there is nothing to keep: an unusable file stops the worker
(the loader's ConfigError), rather than let it act under rules nobody chose.

``PolicySource`` (the contact policy) and ``SegmentsSource`` (the segment
definitions) are the two files; ``reload_on_sighup`` makes one SIGHUP re-read
all of them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from infra.exceptions import ConfigError
from streams.optimization.policy import DEFAULT_POLICY, ContactPolicy, load_policy
from streams.optimization.segment_definitions import DEFAULT_DEFINITIONS, SegmentDefinitions, load_definitions

log = logging.getLogger(__name__)

CHECK_EVERY_S = 2.0
T = TypeVar("T")


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


class FileSource(Generic[T]):
    """The value of a file (``load(path)``, its ``.version``), or ``default`` when there is no file."""

    what = "file"  # "contact policy": how log lines name it

    def __init__(self, path: Path | None, load: Callable[[Path], T], default: T,
                 check_every_s: float = CHECK_EVERY_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._load = load
        self._check_every = check_every_s
        self._clock = clock
        self._stamp = None if path is None else _stamp(path)
        self._value = default if path is None else load(path)  # ConfigError: the worker stops
        self._next_check = clock() + check_every_s
        self._forced = False
        log.info("%s %s from %s", self.what, self._value.version, path or "the defaults")

    def request_reload(self) -> None:
        """Re-read the file at the next ``current()`` whatever its time stamp (SIGHUP)."""
        self._forced = True

    def current(self) -> T:
        if self.path is None:
            return self._value
        now = self._clock()
        if not self._forced and now < self._next_check:
            return self._value
        forced, self._forced = self._forced, False
        self._next_check = now + self._check_every
        stamp = _stamp(self.path)
        if stamp == self._stamp and not forced:
            return self._value
        self._stamp = stamp
        try:
            value = self._load(self.path)
        except ConfigError as exc:
            log.error("%s; keeping %s %s", exc, self.what, self._value.version)
            return self._value
        if value.version != self._value.version:
            log.info("%s reloaded from %s: %s (was %s)", self.what, self.path, value.version, self._value.version)
        self._value = value
        return value


class PolicySource(FileSource[ContactPolicy]):
    """The contact policy in force (``TOUCHLINE_CONTACT_POLICY_FILE``; None: the defaults)."""

    what = "contact policy"

    def __init__(self, path: Path | None, check_every_s: float = CHECK_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(path, load_policy, DEFAULT_POLICY, check_every_s, clock)


class SegmentsSource(FileSource[SegmentDefinitions]):
    """The segment definitions in force (``TOUCHLINE_SEGMENTS_FILE``; None: the default segments)."""

    what = "segment definitions"

    def __init__(self, path: Path | None, check_every_s: float = CHECK_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(path, load_definitions, DEFAULT_DEFINITIONS, check_every_s, clock)


# Per event loop, every source a SIGHUP re-reads: the loop holds one handler per signal.
_ON_SIGHUP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[FileSource]] = weakref.WeakKeyDictionary()


def reload_on_sighup(*sources: FileSource) -> None:
    """Ask ``sources`` for a re-read on SIGHUP, from the running event loop (a no-op where signals cannot be set).

    Sources registered by several calls are all re-read: one handler serves them.
    """
    files = [source for source in sources if source.path is not None]
    if not files:
        return
    try:
        loop = asyncio.get_running_loop()
        registered = _ON_SIGHUP.setdefault(loop, [])
        registered.extend(files)
        loop.add_signal_handler(signal.SIGHUP, lambda: [source.request_reload() for source in registered])
    except (NotImplementedError, RuntimeError, ValueError) as exc:  # not the main thread, or no such signal
        log.debug("no SIGHUP reload of %s here: %s", ", ".join(str(s.path) for s in files), exc)
        return
    log.info("kill -HUP %d re-reads %s", os.getpid(), ", ".join(str(s.path) for s in registered))

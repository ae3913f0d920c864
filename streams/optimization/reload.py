"""The contact policy a worker applies now: the file re-read when it changes, or on SIGHUP.

``PolicySource.current()`` is cheap: it looks at the file's modification
time and size at most every ``check_every_s`` seconds (and at once after a
SIGHUP), and reads the file only when they changed. A file that no longer
validates keeps the policy in force and logs one error naming the file, the
field and the problem (once per change of the file, not at every check). At
start there is no policy to keep: an unusable file stops the worker
(PolicyError), rather than let it contact people under rules nobody chose.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from streams.optimization.exceptions import PolicyError
from streams.optimization.policy import DEFAULT_POLICY, ContactPolicy, load_policy

log = logging.getLogger(__name__)

CHECK_EVERY_S = 2.0


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


class PolicySource:
    def __init__(self, path: Path | None, check_every_s: float = CHECK_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._check_every = check_every_s
        self._clock = clock
        self._stamp = None if path is None else _stamp(path)
        self._policy = DEFAULT_POLICY if path is None else load_policy(path)  # PolicyError: the worker stops
        self._next_check = clock() + check_every_s
        self._forced = False
        log.info("contact policy %s from %s", self._policy.version, path or "the defaults")

    def request_reload(self) -> None:
        """Re-read the file at the next ``current()`` whatever its time stamp (SIGHUP)."""
        self._forced = True

    def current(self) -> ContactPolicy:
        if self.path is None:
            return self._policy
        now = self._clock()
        if not self._forced and now < self._next_check:
            return self._policy
        forced, self._forced = self._forced, False
        self._next_check = now + self._check_every
        stamp = _stamp(self.path)
        if stamp == self._stamp and not forced:
            return self._policy
        self._stamp = stamp
        try:
            policy = load_policy(self.path)
        except PolicyError as exc:
            log.error("%s; keeping contact policy %s", exc, self._policy.version)
            return self._policy
        if policy.version != self._policy.version:
            log.info("contact policy reloaded from %s: %s (was %s)", self.path, policy.version, self._policy.version)
        self._policy = policy
        return policy


def reload_on_sighup(source: PolicySource) -> None:
    """Ask for a re-read on SIGHUP, from the running event loop (a no-op where signals cannot be set)."""
    if source.path is None:
        return
    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, source.request_reload)
    except (NotImplementedError, RuntimeError, ValueError) as exc:  # not the main thread, or no such signal
        log.debug("no SIGHUP reload of the contact policy here: %s", exc)
        return
    log.info("kill -HUP %d re-reads %s", os.getpid(), source.path)

"""Repeated client-library log lines are rate limited: an outage must not become a disk-full incident.

While a broker is down, aiokafka logs "Unable connect to node ..." and
"Unable to update metadata ..." at ERROR for every retry: 30,000 lines in the
10 s of the broker-restart fault test (tests/faults/test_broker_restart.py).
``FloodFilter`` lets the first line of each (logger, message template) through,
then at most one every ``interval_s`` seconds, saying how many it held back.
Only the loggers of the client libraries are limited (aiokafka, kafka, faust,
mode, librdkafka); Touchline's own lines are never dropped, nor are Faust's
table-recovery milestones below WARNING ("Done reading from changelog
topics", "Worker ready"): each rebalance prints them once, and with a second
rebalance inside the interval they were held back, which left a stuck
recovery's log saying where it stopped one rebalance too early.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

LIMITED = ("aiokafka", "kafka", "faust", "mode", "librdkafka")
NEVER_LIMITED_BELOW_WARNING = ("faust.tables.recovery",)  # once per rebalance, and where a stuck one stopped
MAX_KEYS = 10_000  # bounded memory: distinct templates beyond this are let through unlimited


class FloodFilter(logging.Filter):
    def __init__(self, interval_s: float = 30.0, prefixes: tuple[str, ...] = LIMITED,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval_s, self.prefixes, self.clock = interval_s, prefixes, clock
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}  # key -> (last let through, held back since)

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.prefixes) or record.levelno >= logging.CRITICAL:
            return True
        if record.levelno < logging.WARNING and record.name.startswith(NEVER_LIMITED_BELOW_WARNING):
            return True
        key = (record.name, str(record.msg))
        now = self.clock()
        with self._lock:
            last = self._seen.get(key)
            if last is None:
                if len(self._seen) < MAX_KEYS:
                    self._seen[key] = (now, 0)
                return True
            let_through_at, held = last
            if now - let_through_at < self.interval_s:
                self._seen[key] = (let_through_at, held + 1)
                return False
            self._seen[key] = (now, 0)
        if held:
            record.msg = f"{record.msg} [{held} more like this in the last {now - let_through_at:.0f}s]"
        return True


def limit_floods(logger: logging.Logger | None = None, interval_s: float = 30.0) -> FloodFilter:
    """Add one FloodFilter to every handler of ``logger`` (the root logger by default)."""
    logger = logger or logging.getLogger()
    flood = FloodFilter(interval_s)
    for handler in logger.handlers:
        if not any(isinstance(f, FloodFilter) for f in handler.filters):
            handler.addFilter(flood)
    return flood

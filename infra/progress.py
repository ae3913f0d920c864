"""Progress lines for long operations (simulate, bench, demo), at most one per interval."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, label: str, total: int | None = None, interval: float = 1.0, stream: TextIO = sys.stderr):
        self.label, self.total, self.interval, self.stream = label, total, interval, stream
        self.started = self._last = time.monotonic()

    def update(self, done: int, extra: str = "", force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        elapsed = max(now - self.started, 1e-9)
        of = f"/{self.total}" if self.total else ""
        pct = f" {100 * done / self.total:5.1f}%" if self.total else ""
        self.stream.write(f"{self.label}: {done}{of}{pct} {done / elapsed:,.0f}/s {extra}\n")
        self.stream.flush()

"""Sink errors. The runner treats them differently, so the type is the contract."""

from __future__ import annotations

from infra.exceptions import TouchlineError


class SinkError(TouchlineError):
    """A write failed in a way retrying will not fix (bad data, bad DDL): the runner stops."""


class SinkBackpressure(TouchlineError):
    """The destination is down or overloaded; retry the same data after ``retry_after`` seconds.

    The runner pauses consumption, rewinds to the last committed offsets and
    commits nothing until a flush succeeds.
    """

    def __init__(self, message: str, retry_after: float = 1.0):
        super().__init__(message)
        self.retry_after = retry_after

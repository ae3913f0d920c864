"""Secrets never reach a log line: known secret values are masked in every log record of the process.

Our own code never logs a secret (``SecretStr`` prints as ``**********``),
but the libraries we hand secrets to may: aiokafka at DEBUG logs each
request it sends, and the SASL PLAIN request carries the password in clear
(``SaslAuthenticateRequest(sasl_auth_bytes=b'\\x00user\\x00password')``).
A per-logger filter would miss loggers and handlers that faust/mode set up
later, so the scrubbing is done where every record is made: the log record
factory. Each record is formatted once, the secrets (as text, and as they
appear inside a ``repr`` of str or bytes) are replaced by ``**********``,
and so is the text of an attached exception.

Values shorter than ``MIN_SECRET_LEN`` are not masked (they would mask
ordinary words); ``infra.settings`` warns about such passwords.
"""

from __future__ import annotations

import logging
import threading
import traceback
from typing import Any

MASK = "**********"
MIN_SECRET_LEN = 4

_lock = threading.Lock()
_forms: tuple[str, ...] = ()  # every secret in every spelling we mask, longest first
_base_factory: Any = None


def redact_secrets(*values: str | None) -> None:
    """Mask these values in every log record made from now on (idempotent, thread-safe)."""
    global _forms, _base_factory
    with _lock:
        forms = set(_forms)
        for value in values:
            if value and len(value) >= MIN_SECRET_LEN:
                forms |= {value, repr(value)[1:-1], repr(value.encode())[2:-1]}
        _forms = tuple(sorted(forms, key=len, reverse=True))
        if _base_factory is None and _forms:
            _base_factory = logging.getLogRecordFactory()
            logging.setLogRecordFactory(_scrubbing_factory)


def scrub(text: str) -> str:
    for form in _forms:
        if form in text:
            text = text.replace(form, MASK)
    return text


def _scrubbing_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: leave it to the handler, which reports it
        return record
    clean = scrub(message)
    if clean != message:
        record.msg, record.args = clean, ()
    if record.exc_info and record.exc_info[1] is not None:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        clean = scrub(text)
        if clean != text:
            record.exc_text = clean  # formatters print exc_text instead of formatting the exception again
    return record

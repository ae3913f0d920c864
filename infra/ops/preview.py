"""A look at rejected bytes that is safe to print and to paste into a ticket.

Dead letters keep the original bytes, and those can hold raw PII: hashing
happens only after an event is valid. The preview keeps printable ASCII,
shows every other byte as '.', masks e-mail addresses and runs of 7+ digits
(phone numbers), and is cut to a fixed width. The full bytes stay in the
rejects table and topic (`touchline dlq replay` sends them as they are).
"""

from __future__ import annotations

import re

PREVIEW_BYTES = 256  # how much of a payload `dlq show` fetches at most
HEX_BYTES = 16  # shown as hex: enough to tell single-object (c3 01), registry (00) and text apart

# An address: a domain of dot-separated labels ending in a 2+ letter top-level domain. Binary bytes that
# happen to print as '@' (a schema fingerprint holds any byte) are not one.
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}")
_DIGITS = re.compile(r"\+?\d[\d .()-]{5,}\d")


def printable(head: bytes) -> str:
    return "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in head)


def preview(head: bytes, width: int = 64) -> str:
    """Printable, PII-masked text of the first bytes, at most ``width`` characters."""
    text = _DIGITS.sub("<digits>", _EMAIL.sub("<email>", printable(head)))
    return text if len(text) <= width else text[: width - 3] + "..."


def hex_head(head: bytes) -> str:
    return head[:HEX_BYTES].hex(" ")

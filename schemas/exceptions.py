"""Errors of the schema layer: the contract files, encoding and decoding.

Every message says what is wrong and what to do. ``DecodeError`` carries a
``RejectReason`` so a stage can dead-letter the message without parsing text.
"""

from __future__ import annotations

from infra.exceptions import TouchlineError
from schemas.reasons import RejectReason


class SchemaError(TouchlineError):
    """Root of the schema layer's errors."""


class CatalogError(SchemaError):
    """An .avsc file is missing, malformed or clashes with another (a packaging bug, not bad input)."""


class UnknownSchema(CatalogError, KeyError):
    """A schema name or version that the catalog does not hold."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class SchemaConfigError(SchemaError, ValueError):
    """An encoder or decoder was built with arguments that cannot work together."""


class EncodeError(SchemaError):
    """A record could not be encoded (does not fit the schema) or its schema not registered."""


class DecodeError(SchemaError):
    """A payload could not be decoded; ``reason`` says why in one code, ``detail`` in words."""

    def __init__(self, reason: RejectReason, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail

    @property
    def retriable(self) -> bool:
        """True when the same bytes may decode later (the registry was down), so dead-lettering is a choice."""
        return self.reason is RejectReason.schema_registry_unavailable

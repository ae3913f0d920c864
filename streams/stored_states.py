"""Per-key state as a table store hands it back: a copy decoded from JSON, not the object written.

Faust's on-disk store (``rocksdb://``, the production setting) and every
changelog recovery return a value decoded from the JSON the table wrote:
tuples come back as lists, and changes made to an object after it was written
are not there. Rules that compare a remembered value with a recomputed one
(``streams/versions.py``) or rely on a state being written must hold on that
copy. The in-process models keep their states here, so the property tests
see what a worker on ``rocksdb://`` sees (the ``memory://`` store keeps the
very object and hides both mistakes).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any


class StoredStates:
    """key -> JSON text; ``get`` decodes a fresh copy, ``put`` encodes what the table would write."""

    def __init__(self) -> None:
        self._data: dict[str, str] = {}

    def get(self, key: str) -> Any:
        raw = self._data.get(key)
        return None if raw is None else json.loads(raw)

    def put(self, key: str, value: Any) -> None:
        self._data[key] = json.dumps(value, separators=(",", ":"))

    def pop(self, key: str) -> None:
        self._data.pop(key, None)

    def items(self) -> Iterator[tuple[str, Any]]:
        for key in self._data:
            yield key, self.get(key)

    def encoded_size(self, key: str) -> int:
        """Characters of the key's JSON value (the changelog value's size, ASCII states)."""
        return len(self._data[key])

    def __contains__(self, key: str) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

"""The ``journeys.inputs`` wire format: compact JSON, one message per touch, move, add or drop.

Only Touchline's own stages write this topic; anything else found there is
dead-lettered by the journey stage, not obeyed. One more op is no profile's:
``{"op": "k"}``, the segment tick the leader sends every partition (key
``TICK_KEY``): time has passed, re-evaluate the profiles due on this partition.
"""

from __future__ import annotations

from typing import Any

import orjson

OPS = frozenset({"t", "m", "a", "d"})
TICK, TICK_KEY = "k", b"~tick"


def encode(msg: dict[str, Any]) -> bytes:
    return orjson.dumps(msg, option=orjson.OPT_NON_STR_KEYS)  # int keys as strings, as the json module does


def decode(value: bytes | None) -> dict[str, Any]:
    """The message; ValueError naming what is wrong otherwise."""
    msg = orjson.loads(value or b"")  # orjson.JSONDecodeError is a ValueError
    if isinstance(msg, dict) and msg.get("op") == TICK:
        return msg
    if not isinstance(msg, dict) or msg.get("op") not in OPS:
        raise ValueError(f"not a journey message: op must be one of {sorted(OPS)}")
    if not isinstance(msg.get("ik"), str) or not isinstance(msg.get("v"), int):
        raise ValueError("not a journey message: ik (string) and v (integer) are required")
    if msg["op"] == "m" and not isinstance(msg.get("to"), str):
        raise ValueError("not a journey move: to (string) is required")
    if msg["op"] in ("t", "a") and not isinstance(msg.get("x"), list):
        raise ValueError("not a journey touch: x (list) is required")
    return msg

"""StoredStates gives back what a table store gives back: a JSON copy of what was last written."""

from __future__ import annotations

import json

from streams.stored_states import StoredStates


def test_a_state_comes_back_as_its_json_copy_not_the_object_written() -> None:
    states = StoredStates()
    state = {"em": {"s-1": [1, [10, 20, ("web", "app")], False]}}
    states.put("k", state)
    state["em"]["s-2"] = [1, [30], False]  # a change after the write: a store never sees it
    assert states.get("k") == {"em": {"s-1": [1, [10, 20, ["web", "app"]], False]}}
    assert states.get("k") is not states.get("k")
    assert states.encoded_size("k") == len(json.dumps(states.get("k"), separators=(",", ":")))


def test_pop_forgets_the_key_and_missing_keys_read_as_none() -> None:
    states = StoredStates()
    states.put("a", {"n": 1})
    states.pop("a")
    states.pop("never-written")
    assert states.get("a") is None and "a" not in states and len(states) == 0

"""The stitching protocol run in one process: Kafka's routing and ordering, without Kafka.

Messages go to ``crc32(key) % partitions`` and each partition is FIFO, as on
a topic; which partition runs next is random (seeded), as with several
workers. With ``separate_inputs`` a partition's events and protocol messages
wait in two FIFOs, picked at random, as the stage reads them: two topics
(``touchpoints.valid``, ``identity.commands``), two agents, no order between them. ``crash_rate`` makes a handler's state change stick while its
outgoing messages are lost, then redelivers the input at the same offset,
as a worker killed between a changelog write and a send would. Tests use it
to check convergence over many orders.
"""

from __future__ import annotations

import random
import zlib
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from streams.identity.observe import Observation, observation_of
from streams.identity.policy import IdentityPolicy
from streams.identity.protocol import Effects, handle, observe, profile_of
from streams.stored_states import StoredStates


class InProcessStitcher:
    def __init__(self, policy: IdentityPolicy, partitions: int = 8, seed: int = 0, crash_rate: float = 0.0,
                 separate_inputs: bool = False):
        self.policy = policy
        self.partitions = partitions
        self.rng = random.Random(seed)
        self.crash_rate = crash_rate
        self.separate_inputs = separate_inputs
        # Written only when the protocol says so (Effects.dirty), read back as a JSON copy, as the stage's table.
        self.states = StoredStates()
        # per partition (and input, with separate_inputs): FIFO of (kind, payload, offset); kind "event"
        # (an Observation) or "msg"
        queues = partitions * (2 if separate_inputs else 1)
        self.queues: list[deque] = [deque() for _ in range(queues)]
        self.offsets = [0] * queues
        self.changes: list[dict[str, Any]] = []
        self.event_profiles: dict[str, str] = {}
        self.delivered = 0

    def partition_of(self, key: str) -> int:
        return zlib.crc32(key.encode()) % self.partitions

    def _enqueue(self, kind: str, key: str, payload: Any) -> None:
        p = self.partition_of(key) * 2 + (kind == "msg") if self.separate_inputs else self.partition_of(key)
        self.queues[p].append((kind, payload, self.offsets[p]))
        self.offsets[p] += 1

    def feed(self, records: Iterable[Mapping[str, Any]]) -> None:
        for record in records:
            obs = observation_of(record, self.policy)
            if obs is not None:
                self._enqueue("event", obs.anchor, obs)

    def step(self) -> bool:
        busy = [q for q in self.queues if q]
        if not busy:
            return False
        queue = self.rng.choice(busy)
        kind, payload, offset = queue[0]
        crashed = self.crash_rate and self.rng.random() < self.crash_rate
        fx = self._apply(kind, payload, offset)
        if crashed:  # state written, messages lost, input not committed: it comes again
            return True
        queue.popleft()
        self.delivered += 1
        for msg in fx.messages:
            self._enqueue("msg", msg["to"], msg)
        self.changes.extend(fx.changes)
        return True

    def _apply(self, kind: str, payload: Any, offset: int) -> Effects:
        if kind == "event":
            obs: Observation = payload
            state, fx = observe(self.states.get(obs.anchor), obs, self.policy, ("v", offset))
            if fx.dirty:
                self.states.put(obs.anchor, state)
            self.event_profiles[obs.event_id] = fx.profile
            return fx
        key = payload["to"]
        state, fx = handle(self.states.get(key), payload, self.policy, ("c", offset))
        if state is None:
            self.states.pop(key)
        elif fx.dirty:
            self.states.put(key, state)
        return fx

    def run(self, max_steps: int = 10_000_000) -> int:
        steps = 0
        while self.step():
            steps += 1
            if steps >= max_steps:
                raise RuntimeError(f"no fixed point after {max_steps} steps")
        return steps

    def send(self, msg: dict[str, Any]) -> None:
        self._enqueue("msg", msg["to"], msg)

    def assignment(self) -> dict[str, str]:
        return {identifier: profile_of(identifier, state) for identifier, state in self.states.items()}

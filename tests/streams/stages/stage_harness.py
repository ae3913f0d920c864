"""In-process stage runs: a faust app that is never started, a producer that records, batches handed in.

The stage modules attach to a real (memory-store) pipeline; a test runs an agent's body on a
stream that yields the batches it is given, as ``take_events`` would.
"""

from __future__ import annotations

import asyncio
from collections import namedtuple
from types import SimpleNamespace

import faust

from infra.settings import Settings
from streams.app import Pipeline
from streams.identity.policy import IdentityPolicy
from streams.ingest import IngestRules
from streams.topics import TopicNames

Meta = namedtuple("Meta", "topic partition offset")


class Producer:
    """Records every send in order; holds the first send to ``hold_topic`` (if any) until ``resume`` is set."""

    def __init__(self, hold_topic: str | None = None) -> None:
        self.sent: list[tuple[str, int | None, bytes | None, bytes | None]] = []
        self.hold_topic, self.paused, self.resume = hold_topic, asyncio.Event(), asyncio.Event()

    async def send(self, topic, key, value, partition, timestamp, headers):  # noqa: ANN001, ARG002
        if topic == self.hold_topic and not self.paused.is_set():
            self.paused.set()
            await self.resume.wait()
        self.sent.append((topic, partition, key, value))
        future = asyncio.get_running_loop().create_future()
        future.set_result(Meta(topic, partition or 0, len(self.sent)))
        return future


class Message:
    def __init__(self, topic: str, partition: int, offset: int, key: bytes, value: bytes) -> None:
        self.topic, self.partition, self.offset, self.key, self.value = topic, partition, offset, key, value


class Event:  # weakref-able, as faust's current event must be
    def __init__(self, message: _Message) -> None:
        self.message = message


class Stream:
    def __init__(self, topic: str, batch: list[_Event]) -> None:
        self.channel = SimpleNamespace(topics=(topic,))
        self._batch = batch

    async def take_events(self, n: int, within: float):  # noqa: ARG002
        yield self._batch


def stage_pipeline(tmp_path, *stages) -> Pipeline:  # noqa: ANN001
    """A worker's pipeline on the memory store, never started: the stages' handlers run as called."""
    settings = Settings(data_dir=tmp_path, app_id="stage-test")
    app = faust.App(settings.app_id, broker="kafka://127.0.0.1:9", store="memory://",
                    topic_partitions=settings.input_partitions)
    names = TopicNames.from_settings(settings)

    def topic(name: str) -> faust.TopicT:
        return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")

    pipeline = Pipeline(app, settings, names, raw=topic(names.raw), valid=topic(names.valid),
                        identity_commands=topic(names.identity_commands), enriched=topic(names.enriched),
                        rejects=topic(names.rejects), rules=IngestRules(), policy=IdentityPolicy())
    for stage in stages:
        stage.attach(pipeline)
    return pipeline




def agent_body(pipeline: Pipeline, name: str):  # noqa: ANN201
    """The function of the pipeline's agent ``<app id>.<name>``: call it with a ``Stream``."""
    return next(a for a in pipeline.app.agents.values() if a.name == f"{pipeline.settings.app_id}.{name}").fun

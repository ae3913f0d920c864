"""The local dev stack: one Kafka broker and one `touchline store`, under TOUCHLINE_DATA_DIR/dev."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from infra.localkafka import LocalKafka, ensure_kafka_jars, read_state as read_kafka_state, stop_from_state
from infra.settings import Settings
from infra.store.process import StoreProcess


@dataclass(frozen=True)
class StackStatus:
    kafka: str | None
    store: str | None

    def render(self) -> str:
        return "\n".join(
            [
                f"kafka  {'running at ' + self.kafka if self.kafka else 'stopped'}",
                f"store  {'running at ' + self.store if self.store else 'stopped'}",
            ]
        )


class DevStack:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.kafka_dir = settings.dev_dir / "kafka"
        self.store_dir = settings.dev_dir / "store"

    def status(self) -> StackStatus:
        kafka = read_kafka_state(self.kafka_dir)
        store = StoreProcess.from_state(self.store_dir)
        return StackStatus(
            kafka=kafka["bootstrap"] if kafka else None,
            store=store.url if store is not None else None,
        )

    def up(self, kafka_port: int | None = None, store_port: int | None = None,
           log: Callable[[str], None] = print) -> StackStatus:
        """Start what is not running, then create topics and apply the DDL (both idempotent)."""
        from sinks.clickhouse import connect
        from sinks.migrate import migrate
        from streams.topics import ensure_topics

        current = self.status()
        if current.kafka is None:
            ensure_kafka_jars(log=log)
            log("starting Kafka ...")
            LocalKafka(self.kafka_dir, port=kafka_port).start()
        if current.store is None:
            log("starting the ClickHouse store ...")
            StoreProcess(self.store_dir, port=store_port).start()
        ensure_topics(self.settings)
        migrate(connect(self.settings), self.settings.clickhouse_database, self.settings.clickhouse_cluster)
        return self.status()

    def down(self, log: Callable[[str], None] = print) -> None:
        store = StoreProcess.from_state(self.store_dir)
        if store is not None:
            log(f"stopping the store at {store.url}")
            store.stop()
        if read_kafka_state(self.kafka_dir):
            log("stopping Kafka")
            stop_from_state(self.kafka_dir)

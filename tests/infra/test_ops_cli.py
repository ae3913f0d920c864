"""`touchline status` and `touchline dlq show|replay` on the real broker, a real worker and the real store.

One pipeline for the module: 50 good and 7 malformed events (3 bad magic byte,
2 empty, 2 without identifier) through one worker until caught up. The
read-only tests come first; the replay test, which adds dead letters, last.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

from infra.cli.main import cli
from infra.ops.replay import REPLAY_HEADER
from infra.processes import TouchlineProcess
from infra.settings import Settings
from schemas.models import TouchpointEvent
from schemas.wire import AvroEncoder
from sinks.clickhouse import connect
from sinks.migrate import migrate
from streams.ingest import Source, dead_letter
from streams.kafka_config import confluent_config, producer_config
from streams.produce import TouchpointProducer
from streams.topics import TopicNames, ensure_topics
from tests.fixtures import wait_for

pytestmark = pytest.mark.integration

GOOD = 50
PARTITIONS = 4
EXPECTED_REASONS = {"bad_magic_byte": 3, "empty_payload": 2, "missing_identifier": 2}
PII_PAYLOAD = b"junk from ann@example.com, call +1 555 123 4567"


def invoke(settings: Settings, *args: str) -> tuple[int, str]:
    """`touchline <args>` in-process with exactly ``settings``; (exit code, stdout)."""
    result = CliRunner().invoke(cli, list(args), env=settings.to_env(base={}), catch_exceptions=False)
    return result.exit_code, result.stdout


def invoke_json(settings: Settings, *args: str) -> tuple[int, dict]:
    code, out = invoke(settings, *args, "--format", "json")
    return code, json.loads(out)


def _event(i: int) -> dict:
    return {"event_id": str(uuid.uuid4()), "event_type": "page_view", "channel": "web", "anonymous_id": f"anon-{i}",
            "event_time": datetime.now(timezone.utc)}


def _malformed() -> list[tuple[str, bytes, bytes]]:
    """(expected reason, key, value) of the 7 bad messages."""
    no_identifier = []
    for i in range(2):
        record = TouchpointEvent.model_validate(_event(i)).to_avro()
        record["anonymous_id"] = None
        no_identifier.append(AvroEncoder("touchpoint").encode(record))
    return [
        ("bad_magic_byte", b"bad-0", PII_PAYLOAD),
        ("bad_magic_byte", b"bad-1", b"{\"json\": \"is not avro\"}"),
        ("bad_magic_byte", b"bad-2", bytes(range(1, 40))),
        ("empty_payload", b"empty-0", b""),
        ("empty_payload", b"empty-1", b""),
        ("missing_identifier", b"noid-0", no_identifier[0]),
        ("missing_identifier", b"noid-1", no_identifier[1]),
    ]


class Pipeline:
    def __init__(self, settings: Settings, malformed: list[dict], worker: TouchlineProcess):
        self.settings, self.malformed, self.worker = settings, malformed, worker
        self.names = TopicNames.from_settings(settings)
        self.client = connect(settings)
        self.db = settings.clickhouse_database

    def count(self, table: str) -> int:
        assert self.worker.running, f"worker exited:\n{self.worker.log_tail()}"
        return self.client.query(f"SELECT count() FROM {self.db}.{table} FINAL").result_rows[0][0]

    def raw_end_offsets(self) -> dict[int, int]:
        consumer = Consumer(confluent_config(self.settings, **{"group.id": "unused"}))
        try:
            return {p: consumer.get_watermark_offsets(TopicPartition(self.names.raw, p), timeout=10)[1]
                    for p in range(PARTITIONS)}
        finally:
            consumer.close()


@pytest.fixture(scope="module")
def pipeline(kafka_bootstrap: str, clickhouse_url: str, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    token = uuid.uuid4().hex[:8]
    data = tmp_path_factory.mktemp("ops")
    settings = Settings(
        kafka_bootstrap_servers=kafka_bootstrap, clickhouse_url=clickhouse_url, topic_prefix=f"t{token}.",
        clickhouse_database=f"t_{token}", app_id=f"touchline-t{token}", data_dir=data / "touchline",
        worker_web_port=0, sink_batch_seconds=0.5, input_partitions=PARTITIONS,
    )
    ensure_topics(settings)
    migrate(connect(settings), settings.clickhouse_database)
    malformed: list[dict] = []

    def remember(reason: str, key: bytes, value: bytes):  # noqa: ANN202
        def on_delivery(error: KafkaError | None, message: Message) -> None:
            assert error is None, error
            malformed.append({"reason": reason, "key": key, "value": value,
                              "partition": message.partition(), "offset": message.offset()})
        return on_delivery

    with TouchpointProducer(settings) as producer:
        for i in range(GOOD):
            producer.send(_event(i))
        for reason, key, value in _malformed():
            producer.send_raw(value, key, on_delivery=remember(reason, key, value))
    assert len(malformed) == 7
    worker = TouchlineProcess(["worker"], settings, data / "worker.log")
    try:
        p = Pipeline(settings, malformed, worker)
        wait_for(lambda: p.count("touchpoints") == GOOD and p.count("rejects") == 7, 180,
                 lambda: f"{GOOD} touchpoints and 7 rejects ({p.count('touchpoints')}, {p.count('rejects')})")
        yield p
        p.client.close()
    finally:
        worker.stop()


def _raw_lag(report: dict, group: str) -> list[dict]:
    (worker,) = [g for g in report["groups"] if g["group"] == group]
    return [p for p in worker["partitions"] if p["topic"].endswith("touchpoints.raw")]


def test_status_json_when_caught_up(pipeline: Pipeline) -> None:
    settings = pipeline.settings

    def caught_up() -> dict | None:
        code, report = invoke_json(settings, "status")
        raw = _raw_lag(report, settings.app_id)
        sink = next(g for g in report["groups"] if g["role"] == "sink")
        rejects = [p for p in sink["partitions"] if p["topic"] == pipeline.names.rejects]
        done = code == 0 and raw and rejects and all(p["lag"] == 0 for p in raw + rejects)
        return report if done else None

    report = wait_for(caught_up, 60, "status exit 0 with lag 0 on the raw topic (worker) and rejects (sink)")
    assert report["status"] == "healthy" and report["problems"] == []
    groups = {g["role"]: g for g in report["groups"]}
    worker, sink = groups["worker"], groups["sink"]
    assert worker["group"] == settings.app_id and sink["group"] == f"{settings.app_id}-sink"
    raw = _raw_lag(report, settings.app_id)
    assert [p["partition"] for p in raw] == list(range(PARTITIONS))
    assert sum(p["end"] for p in raw) == GOOD + 7
    assert sum(p["committed"] or 0 for p in raw) == GOOD + 7
    assert worker["state"] == "stable" and len(worker["members"]) == 1
    assert sorted(worker["members"][0]["assignment"][pipeline.names.raw]) == list(range(PARTITIONS))
    assert len(sink["members"]) == 1
    assert [p["lag"] for p in sink["partitions"] if p["topic"] == pipeline.names.rejects] == [0] * PARTITIONS
    by_reason = {(r["reason"], r["stage"]): (r["last_window"], r["total"]) for r in report["dlq"]["by_reason"]}
    assert by_reason == {(reason, "ingest"): (n, n) for reason, n in EXPECTED_REASONS.items()}
    assert report["dlq"]["total"] == report["dlq"]["last_window"] == 7
    tables = {t["table"]: t for t in report["tables"]}
    assert {"touchpoints", "rejects", "identity_changes", "sessions", "journeys"} <= set(tables)
    assert tables["touchpoints"]["rows"] >= GOOD and tables["rejects"]["rows"] >= 7  # unmerged duplicates count
    for name in ("touchpoints", "rejects"):
        assert tables[name]["last_flush"] is not None and tables[name]["age_s"] < 600

    code, text = invoke(settings, "status")
    assert code == 0 and text.startswith("touchline status: HEALTHY (exit 0)")
    assert f"worker group {settings.app_id}: stable, 1 member(s)" in text


def test_status_of_a_group_without_workers_is_unhealthy(pipeline: Pipeline) -> None:
    """Another app id on the same topics: nobody consumes, everything is lag."""
    settings = pipeline.settings.model_copy(update={"app_id": f"{pipeline.settings.app_id}-nobody"})
    code, report = invoke_json(settings, "status", "--max-lag", "0")
    assert code == 1 and report["status"] == "unhealthy"
    worker = next(g for g in report["groups"] if g["role"] == "worker")
    assert worker["members"] == [] and worker["state"] in ("dead", "empty")
    raw = _raw_lag(report, settings.app_id)
    assert sum(p["lag"] for p in raw) == GOOD + 7 and all(p["committed"] is None for p in raw)
    problems = "\n".join(report["problems"])
    assert f"worker group {settings.app_id}: 0 live member(s), need 1" in problems
    assert f"sink group {settings.app_id}-sink: 0 live member(s), need 1" in problems
    assert "lag above --max-lag 0" in problems


def test_status_names_what_is_down_and_prints_the_rest(pipeline: Pipeline) -> None:
    kafka_down = pipeline.settings.model_copy(update={"kafka_bootstrap_servers": "127.0.0.1:1", "kafka_timeout_s": 3})
    code, report = invoke_json(kafka_down, "status")
    assert code == 3 and report["status"] == "down"
    assert not report["kafka"]["reachable"] and "TOUCHLINE_KAFKA_BOOTSTRAP_SERVERS" in report["kafka"]["error"]
    assert report["clickhouse"]["reachable"] and report["dlq"]["total"] == 7  # ClickHouse still reported

    store_down = pipeline.settings.model_copy(update={"clickhouse_url": "http://127.0.0.1:1",
                                                      "clickhouse_timeout_s": 3})
    code, report = invoke_json(store_down, "status")
    assert code == 3
    assert not report["clickhouse"]["reachable"] and "TOUCHLINE_CLICKHOUSE_URL" in report["clickhouse"]["error"]
    assert report["dlq"] is None and report["tables"] is None
    worker = next(g for g in report["groups"] if g["role"] == "worker")
    assert len(worker["members"]) == 1  # Kafka still reported


def test_dlq_show_lists_exactly_the_rejects(pipeline: Pipeline) -> None:
    settings, raw = pipeline.settings, pipeline.names.raw
    code, shown = invoke_json(settings, "dlq", "show")
    assert code == 0 and shown["matching"] == shown["shown"] == 7
    rows = {(r["source_partition"], r["source_offset"]): r for r in shown["dead_letters"]}
    assert set(rows) == {(m["partition"], m["offset"]) for m in pipeline.malformed}
    for sent in pipeline.malformed:
        row = rows[(sent["partition"], sent["offset"])]
        assert (row["reason"], row["stage"], row["source_topic"]) == (sent["reason"], "ingest", raw)
        assert row["payload_bytes"] == len(sent["value"])
        assert row["payload_hex"] == sent["value"][:16].hex(" ")
        assert row["detail"] and row["replay_of"] is None
    pii = next(r for r in shown["dead_letters"] if r["payload_bytes"] == len(PII_PAYLOAD))
    assert pii["payload_preview"] == "junk from <email>, call <digits>"

    code, only = invoke_json(settings, "dlq", "show", "--reason", "missing_identifier")
    assert only["matching"] == 2 and {r["reason"] for r in only["dead_letters"]} == {"missing_identifier"}
    assert all(r["event_id"] for r in only["dead_letters"])
    code, limited = invoke_json(settings, "dlq", "show", "--limit", "3", "--since", "1h")
    assert (limited["matching"], limited["shown"]) == (7, 3)
    code, none = invoke_json(settings, "dlq", "show", "--stage", "sink")
    assert (none["matching"], none["shown"]) == (0, 0)
    later = (datetime.now(timezone.utc) + timedelta(minutes=5)).isoformat()
    assert invoke_json(settings, "dlq", "show", "--since", later)[1]["matching"] == 0
    assert invoke_json(settings, "dlq", "show", "--until", "1h")[1]["matching"] == 0
    assert invoke_json(settings, "dlq", "show", "--until", later)[1]["matching"] == 7

    code, text = invoke(settings, "dlq", "show")
    lines = text.splitlines()
    assert lines[0] == "7 dead letter(s) match; the newest 7 shown" and len(lines) == 1 + 2 + 7
    assert "ann@example.com" not in text

    result = CliRunner().invoke(cli, ["dlq", "show", "--since", "yesterday"], env=settings.to_env(base={}))
    assert result.exit_code == 2 and "neither a duration ago" in result.output


def _replayed(settings: Settings, names: TopicNames, since: dict[int, int], expected: int) -> list[Message]:
    """The raw messages past ``since`` (per partition): exactly ``expected`` of them."""
    consumer = Consumer(confluent_config(settings, **{"group.id": "unused", "enable.auto.commit": False}))
    try:
        consumer.assign([TopicPartition(names.raw, p, o) for p, o in since.items()])
        got: list[Message] = []
        wait_for(lambda: got.extend(m for m in consumer.consume(100, 0.2) if m.error() is None)
                 or len(got) >= expected, 30, f"{expected} replayed messages")
        assert not [m for m in consumer.consume(100, 0.5) if m.error() is None]
        return got
    finally:
        consumer.close()


def test_dlq_replay(pipeline: Pipeline) -> None:
    settings, names = pipeline.settings, pipeline.names
    # Two dead letters replay must not send: one from a later stage, one not a dead letter at all.
    later_stage = dead_letter(b"enriched bytes", Source(names.valid, 0, 42), "bad_magic_byte", "test",
                              datetime.now(timezone.utc), "identity")
    producer = Producer(producer_config(settings))
    producer.produce(names.rejects, AvroEncoder("rejected_event").encode(later_stage), b"later")
    producer.produce(names.rejects, b"not a dead letter", b"foreign")
    assert producer.flush(10) == 0
    before = pipeline.raw_end_offsets()
    assert sum(before.values()) == GOOD + 7

    code, dry = invoke_json(settings, "dlq", "replay", "--reason", "bad_magic_byte", "--dry-run")
    assert code == 0
    assert {k: dry[k] for k in ("scanned", "matched", "sent", "replayed", "not_from_raw", "undecodable",
                                "duplicates", "failed", "complete")} == {
        "scanned": 9, "matched": 3, "sent": 3, "replayed": 3, "not_from_raw": 1, "undecodable": 1,
        "duplicates": 0, "failed": 0, "complete": True}
    assert pipeline.raw_end_offsets() == before, "--dry-run produced something"

    code, first = invoke_json(settings, "dlq", "replay", "--reason", "bad_magic_byte", "--since", "1h")
    assert code == 0 and (first["scanned"], first["matched"], first["replayed"]) == (9, 3, 3)
    originals = {f"{names.raw}/{m['partition']}/{m['offset']}": m for m in pipeline.malformed
                 if m["reason"] == "bad_magic_byte"}
    messages = _replayed(settings, names, before, expected=3)
    assert len(messages) == 3
    for message in messages:
        headers = dict(message.headers() or [])
        original = originals[headers[REPLAY_HEADER].decode()]
        assert (message.key(), message.value()) == (original["key"], original["value"])
    # Still malformed: each replay is rejected again, at its new position (9 + the 3 replays).
    wait_for(lambda: pipeline.count("rejects") == 12, 60, lambda: f"12 rejects ({pipeline.count('rejects')})")
    _, shown = invoke_json(settings, "dlq", "show", "--reason", "bad_magic_byte", "--stage", "ingest")
    assert shown["matching"] == 6
    assert sorted(r["replay_of"] for r in shown["dead_letters"] if r["replay_of"]) == sorted(originals)

    # Again: the re-rejects are recognised as the same originals, each sent once more, not twice.
    code, second = invoke_json(settings, "dlq", "replay", "--reason", "bad_magic_byte")
    assert code == 0
    assert (second["scanned"], second["matched"], second["replayed"], second["duplicates"]) == (12, 6, 3, 3)
    assert sum(pipeline.raw_end_offsets().values()) == GOOD + 7 + 6
    wait_for(lambda: pipeline.count("rejects") == 15, 60, lambda: f"15 rejects ({pipeline.count('rejects')})")
    _, report = invoke_json(settings, "status")
    totals = Counter({r["reason"]: r["total"] for r in report["dlq"]["by_reason"] if r["stage"] == "ingest"})
    assert totals == {"bad_magic_byte": 9, "empty_payload": 2, "missing_identifier": 2}

    code, nothing = invoke_json(settings, "dlq", "replay", "--reason", "unknown_schema")
    assert code == 0 and (nothing["matched"], nothing["replayed"]) == (0, 0)
    code, limited = invoke_json(settings, "dlq", "replay", "--reason", "empty_payload", "--limit", "1")
    assert code == 0 and limited["replayed"] == 1 and limited["stopped_by"] in ("limit", None)


def test_replaying_a_fixed_event_lands_it_once(settings_factory, worker_factory) -> None:  # noqa: ANN001
    """The fix here is a setting (the future-skew limit): rejected, fixed, replayed twice -> one row per event."""
    settings = settings_factory(input_partitions=1, max_future_skew_s=3600)
    ensure_topics(settings)
    client = connect(settings)
    db = settings.clickhouse_database
    migrate(client, db)
    future = [dict(_event(i), event_time=datetime.now(timezone.utc) + timedelta(days=2)) for i in range(2)]
    with TouchpointProducer(settings) as producer:
        producer.send(_event(99))
        for event in future:
            producer.send(event)  # content is valid; the time window is ingest's check

    def counts() -> tuple[int, int]:
        return tuple(client.query(f"SELECT count() FROM {db}.{t} FINAL").result_rows[0][0]
                     for t in ("touchpoints", "rejects"))

    first = worker_factory(settings, "worker")
    wait_for(lambda: first.running and counts() == (1, 2), 120, lambda: f"1 touchpoint, 2 rejects ({counts()})")
    first.stop()
    fixed = settings.model_copy(update={"max_future_skew_s": 7 * 86400})
    worker = worker_factory(fixed, "worker")

    def replay_and_settle(expected_raw: int) -> dict:
        code, report = invoke_json(fixed, "dlq", "replay", "--reason", "event_time_out_of_range")
        assert code == 0 and (report["matched"], report["replayed"]) == (2, 2), report

        def settled() -> bool:
            assert worker.running, worker.log_tail()
            _, status = invoke_json(fixed, "status")
            raw = _raw_lag(status, fixed.app_id)
            sink = next(g for g in status["groups"] if g["role"] == "sink")
            enriched = [p for p in sink["partitions"] if p["topic"].endswith("touchpoints.enriched")]
            return (sum(p["end"] for p in raw) == expected_raw and raw and enriched
                    and all(p["lag"] == 0 for p in raw + enriched))

        wait_for(settled, 120, f"the replay read by the worker and the sink ({expected_raw} raw messages)")
        return report

    replay_and_settle(expected_raw=5)
    assert counts() == (3, 2)
    second_replay = datetime.now(timezone.utc).replace(tzinfo=None)  # ClickHouse answers naive UTC
    replay_and_settle(expected_raw=7)
    assert counts() == (3, 2), "a replayed duplicate must collapse on event_id"
    # The copies kept are the second replay's (ReplacingMergeTree(ingested_at) keeps the newest): it did arrive.
    ids = [e["event_id"] for e in future]
    kept = client.query(f"SELECT ingested_at FROM {db}.touchpoints FINAL WHERE event_id IN %(ids)s",
                        parameters={"ids": ids}).result_columns[0]
    assert len(kept) == 2 and all(at >= second_replay for at in kept), (kept, second_replay)
    code, shown = invoke_json(fixed, "dlq", "show")
    assert shown["matching"] == 2 and {r["reason"] for r in shown["dead_letters"]} == {"event_time_out_of_range"}


def test_identity_show_names_junk_and_unseen_identifiers_and_exits_1(pipeline: Pipeline) -> None:
    def show(identifier: str):  # noqa: ANN202
        return CliRunner().invoke(cli, ["identity", "show", identifier], env=pipeline.settings.to_env(base={}))

    junk = show("anonymous_id:undefined")
    assert junk.exit_code == 1, junk.output
    assert "anonymous_id:undefined is ignored as junk: 'undefined' is what producers send" in junk.output
    unseen = show("anonymous_id:anon-never-sent")
    assert unseen.exit_code == 1 and "never seen" in unseen.output, unseen.output
    seen = []
    wait_for(lambda: seen.append(show("anonymous_id:anon-3")) or seen[-1].exit_code == 0, 30,
             lambda: f"a profile for anonymous_id:anon-3 (last: {seen[-1].output if seen else None})")
    assert "profile p-" in seen[-1].output and "anonymous_id:anon-3" in seen[-1].output, seen[-1].output

"""KPI library latency on millions of touchpoints, against a raw scan of the same table in the same run.

Generates the data inside ClickHouse (INSERT ... SELECT FROM numbers(), in
chunks, through the production DDL, so the rollup view fires as it does for
the sink): ``--rows`` touchpoints over 30 days for ``--profiles`` people with
two devices each (identity_overrides maps both to the person), a realistic
mix of event types per channel (sends, opens, clicks, page views, carts,
purchases of 2%, unsubscribes), an A/B experiment on a third of the events,
and one journey row per purchase (converted; 1-3 devices) plus one open
journey per person. The numbers are synthetic: this measures the queries,
not the stream.

Then each KPI of ``sinks/kpi`` runs ``--repeat`` times over the whole range
(median and min seconds, rows returned). Baseline: ``SELECT channel,
count(), sum(revenue) FROM touchpoints GROUP BY channel``: one scan and
aggregate of the same table without FINAL, the identity join or journeys,
the least any KPI over the touchpoints costs. Ratio = KPI median / baseline.

    .venv/bin/touchline dev up
    .venv/bin/python -m benchmarks.kpi_latency --rows 10000000
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from datetime import datetime, timedelta, timezone

from infra.bench import result_line
from sinks import kpi
from sinks.clickhouse import connect
from sinks.migrate import migrate

DAY_MS = 86_400_000
CHUNK = 1_000_000
EXPERIMENT = "exp-checkout-button"

# (event type, channel, share in 1/1000): the mix the simulator produces, roughly.
MIX = (
    ("page_view", "web", 250), ("ad_impression", "display", 100), ("email_send", "email", 100),
    ("email_open", "email", 50), ("email_click", "email", 30), ("sms_send", "sms", 30), ("push_send", "push", 20),
    ("app_open", "app", 60), ("ad_click", "display", 60), ("search_click", "paid_search", 30),
    ("social_click", "social", 40), ("add_to_cart", "web", 50), ("checkout", "web", 20), ("purchase", "web", 20),
    ("unsubscribe", "email", 3), ("login", "web", 12), ("store_visit", "store", 125),
)


def _mix_sql() -> tuple[str, str]:
    """multiIf expressions picking the event type and channel from h = a hash in [0, 1000)."""
    bounds, acc = [], 0
    for event_type, channel, share in MIX:
        acc += share
        bounds.append((acc, event_type, channel))
    assert acc == 1000, acc
    types = ", ".join(f"h < {b}, '{t}'" for b, t, _ in bounds[:-1]) + f", '{bounds[-1][1]}'"
    channels = ", ".join(f"h < {b}, '{c}'" for b, _, c in bounds[:-1]) + f", '{bounds[-1][2]}'"
    return f"multiIf({types})", f"multiIf({channels})"


def generate(client, db: str, rows: int, profiles: int, start: datetime) -> float:  # noqa: ANN001
    began = time.monotonic()
    event_type, channel = _mix_sql()
    start_ms = int(start.timestamp() * 1000)
    for offset in range(0, rows, CHUNK):
        n = min(CHUNK, rows - offset)
        client.command(f"""
INSERT INTO {db}.touchpoints (event_id, event_type, channel, device_type, event_time, profile_id, identity_key,
    anonymous_id, campaign_id, source, medium, revenue, order_id, experiments, source_topic, ingested_at,
    writer_schema)
SELECT
    concat('e', toString(number)) AS event_id,
    {event_type} AS event_type,
    {channel} AS channel,
    if(d = 0, 'mobile', 'desktop') AS device_type,
    fromUnixTimestamp64Milli(toInt64({start_ms} + cityHash64(number, 2) % (30 * {DAY_MS}))) AS event_time,
    concat('p', toString(p)) AS profile_id,
    concat('anonymous_id:a', toString(p), '-', toString(d)) AS identity_key,
    concat('a', toString(p), '-', toString(d)) AS anonymous_id,
    if(event_type IN ('page_view', 'app_open', 'add_to_cart', 'checkout', 'purchase', 'login', 'store_visit'),
       NULL, concat('cmp-', toString(cityHash64(number, 3) % 40))) AS campaign_id,
    if(campaign_id IS NULL, NULL, channel) AS source,
    if(campaign_id IS NULL, NULL, 'cpc') AS medium,
    if(event_type = 'purchase', toDecimal64(10 + cityHash64(number, 4) % 300, 2), NULL) AS revenue,
    if(event_type = 'purchase', concat('o', toString(number)), NULL) AS order_id,
    if(p % 3 = 0, map('{EXPERIMENT}', if(p % 2 = 0, 'control', 'treatment')), map()) AS experiments,
    'bench' AS source_topic,
    now64(3) AS ingested_at,
    'touchpoint.v2' AS writer_schema
FROM (SELECT number, cityHash64(number, 1) % 1000 AS h, cityHash64(number, 5) % {profiles} AS p,
             cityHash64(number, 6) % 2 AS d
      FROM numbers({offset}, {n}))
SETTINGS max_insert_threads = 2""")
    client.command(f"""
INSERT INTO {db}.identity_overrides (identifier, profile_id, version, changed_at)
SELECT concat('anonymous_id:a', toString(p), '-', toString(d)), concat('p', toString(p)), 1, now64(3)
FROM (SELECT intDiv(number, 2) AS p, number % 2 AS d FROM numbers({2 * profiles}))""")
    # One converted journey per purchase (ending at it), one open journey per person.
    client.command(f"""
INSERT INTO {db}.journeys (journey_id, profile_id, version, is_deleted, start_time, end_time, converted, touches,
    sessions, channel_path, devices, device_types, cross_device, first_event_id, first_channel, last_event_id,
    last_channel, conversion_event_id, conversion_type, conversion_channel, time_to_convert_ms, value, emitted_at)
SELECT concat('j', event_id), profile_id, 1, 0, event_time - toIntervalSecond(ttc), event_time, 1,
       2 + cityHash64(event_id) % 12, 1 + cityHash64(event_id, 1) % 6,
       arraySlice(['display', 'email', 'web', 'social', 'app', 'web'], 1 + cityHash64(event_id, 2) % 3, 3),
       devices, if(devices > 1, ['mobile', 'desktop'], ['mobile']), devices > 1, concat('f', event_id), 'display',
       event_id, channel, event_id, 'purchase', channel, ttc * 1000, revenue, now64(3)
FROM (SELECT event_id, profile_id, event_time, channel, revenue, cityHash64(event_id, 3) % (14 * 86400) AS ttc,
             1 + cityHash64(event_id, 4) % 3 AS devices
      FROM {db}.touchpoints WHERE event_type = 'purchase')""")
    client.command(f"""
INSERT INTO {db}.journeys (journey_id, profile_id, version, is_deleted, start_time, end_time, converted, touches,
    sessions, channel_path, devices, device_types, cross_device, first_event_id, first_channel, last_event_id,
    last_channel, value, emitted_at)
SELECT concat('open-p', toString(number)), concat('p', toString(number)), 1, 0,
       fromUnixTimestamp64Milli(toInt64({start_ms} + 20 * {DAY_MS})),
       fromUnixTimestamp64Milli(toInt64({start_ms} + 29 * {DAY_MS})), 0, 3, 2, ['email', 'web'], 1, ['mobile'], 0,
       'f', 'email', 'l', 'web', 0, now64(3)
FROM numbers({profiles})""")
    return time.monotonic() - began


def timed(run, repeat: int) -> tuple[float, float, int]:  # noqa: ANN001
    seconds, rows = [], 0
    for _ in range(repeat):
        began = time.monotonic()
        rows = len(run())
        seconds.append(time.monotonic() - began)
    return statistics.median(seconds), min(seconds), rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.kpi_latency", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database", default="kpi_bench", help="Dropped and re-created.")
    args = parser.parse_args(argv)

    from infra.settings import load_settings

    # Generating a chunk or a KPI over 10M rows may take minutes on 2 cores: the longest timeout settings allow.
    settings = load_settings().model_copy(update={"clickhouse_database": args.database, "clickhouse_timeout_s": 600})
    client = connect(settings)
    db = args.database
    client.command(f"DROP DATABASE IF EXISTS {db}")
    migrate(client, db)
    end = datetime.now(timezone.utc).replace(microsecond=0)
    start = end - timedelta(days=30)
    print(f"generating {args.rows:,} touchpoints for {args.profiles:,} people in {db} ...", flush=True)
    generated = generate(client, db, args.rows, args.profiles, start)
    counts = client.query(f"SELECT (SELECT count() FROM {db}.touchpoints), (SELECT count() FROM {db}.journeys), "
                          f"(SELECT count() FROM {db}.touchpoints WHERE event_type = 'purchase')").result_rows[0]
    print(f"generated in {generated:.1f}s: {counts[0]:,} touchpoints, {counts[1]:,} journeys, "
          f"{counts[2]:,} purchases ({counts[0] / generated:,.0f} rows/s)")
    window = {"start": start - timedelta(days=1), "end": end + timedelta(days=1)}

    base_median, base_min, _ = timed(lambda: client.query(
        f"SELECT channel, count(), sum(revenue) FROM {db}.touchpoints GROUP BY channel").result_rows, args.repeat)
    print(f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"{args.rows:,} touchpoints; median of {args.repeat}")
    print(f"{'query':<28}{'median s':>10}{'min s':>9}{'rows':>7}{'x baseline':>12}")
    print(f"{'baseline (raw scan)':<28}{base_median:>10.3f}{base_min:>9.3f}{'':>7}{1.0:>12.1f}")
    ratios: dict[str, float] = {}  # KPI -> median / baseline, for the result line
    for name in kpi.available():
        extra = {"experiment_id": EXPERIMENT} if "experiment_id" in kpi.parameters(name) else {}
        by = "channel" if kpi.has_dimension(name) else None
        median, fastest, rows = timed(lambda: kpi.run(client, name, db, by=by, **window, **extra)[1], args.repeat)
        ratios[name] = median / base_median
        print(f"{name:<28}{median:>10.3f}{fastest:>9.3f}{rows:>7}{ratios[name]:>12.1f}", flush=True)
    median, fastest, rows = timed(lambda: client.query(
        f"SELECT day, channel, sum(touches), sum(revenue) FROM {db}.kpi_daily GROUP BY day, channel").result_rows,
        args.repeat)
    print(f"{'kpi_daily rollup':<28}{median:>10.3f}{fastest:>9.3f}{rows:>7}{median / base_median:>12.1f}")
    worst = max(ratios, key=ratios.get)
    print(result_line({"worst_ratio": ratios[worst], "worst_kpi": worst, "rows": args.rows, "baseline_s": base_median,
                       "rollup_ratio": median / base_median, "kpis": len(ratios), "repeat": args.repeat}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

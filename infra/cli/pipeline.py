"""`touchline worker | sink | topics | migrate`: run the stream stages and the ClickHouse sink."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading

import click

from infra.cli.context import pass_settings

log = logging.getLogger(__name__)


@click.command()
@click.option("--sink/--no-sink", default=True, show_default=True,
              help="Also run the ClickHouse sink (see --sink-mode); --no-sink: run `touchline sink` yourself.")
@click.option("--sink-mode", type=click.Choice(["process", "thread"]), default="process", show_default=True,
              help="process: a supervised child process on its own core (infra/sink_process.py); "
                   "thread: inside this process, sharing its GIL with the stages.")
@click.option("--web-port", type=int, default=None,
              help="Port of the worker's HTTP endpoints (0 = off; default TOUCHLINE_WORKER_WEB_PORT).")
@pass_settings
def worker(lazy, sink: bool, sink_mode: str, web_port: int | None) -> None:  # noqa: ANN001
    """Run the Faust stream stages (ingest: validate, hash PII, enrich or dead-letter).

    Start several on different hosts or ports to scale out: partitions are
    shared among them. Stops cleanly on SIGTERM/SIGINT (flush, commit).
    """
    import faust

    from infra.logflood import limit_floods
    from streams.app import create_app
    from streams.recovery_watchdog import EXIT_CODE, RecoveryWatchdog
    from streams.topics import ensure_topics

    settings = lazy.get()
    if web_port is not None:
        settings = settings.model_copy(update={"worker_web_port": web_port})
    ensure_topics(settings)
    runner = thread = child = None
    sink_failed = threading.Event()
    max_failing_s = max(60.0, 2 * settings.sink_retry_max_s)  # a short outage is waited out (sinks/health.py)

    def stop_for_the_sink() -> None:
        # A dead sink must not leave a worker that ingests into the void.
        sink_failed.set()
        os.kill(os.getpid(), signal.SIGTERM)

    if sink and sink_mode == "process":
        from infra.sink_process import SinkProcess

        child = SinkProcess(lambda _code: stop_for_the_sink(), stop_timeout_s=settings.clickhouse_timeout_s + 10)
        child.start()
    elif sink:
        from sinks.worker import build_sink_runner

        runner = build_sink_runner(settings)

        def run_sink() -> None:
            try:
                runner.run()
            except:  # noqa: E722 - also what confluent-kafka raises that is no exception (KafkaError objects)
                log.exception("ClickHouse sink failed: stopping the worker (nothing past the last flush is committed)")
                stop_for_the_sink()

        thread = threading.Thread(target=run_sink, name="clickhouse-sink", daemon=True)
        thread.start()
    pipeline = create_app(settings)
    if runner is not None:  # GET /ready: not ready while the sink thread is dead or failing for long
        from sinks.health import sink_probe

        pipeline.probes["sink"] = sink_probe(runner.health, thread, max_failing_s)
    if child is not None:  # the same, of the child; and /metrics carries the child's series
        pipeline.probes["sink"] = lambda: child.problem(max_failing_s)
        pipeline.metrics_merges.append(child.merge)
    level = logging.getLevelName(logging.getLogger().level).lower()
    stuck = threading.Event()

    def leave_the_group(problem: str) -> None:  # noqa: ARG001 - the watchdog logged it
        stuck.set()
        os.kill(os.getpid(), signal.SIGTERM)  # the orderly stop: flush, commit what was processed, leave
        # Should that stop hang on the stuck recovery, end the process anyway.
        deadline = threading.Timer(settings.kafka_timeout_s * 3 + 30, os._exit, (EXIT_CODE,))
        deadline.daemon = True
        deadline.start()

    watchdog = RecoveryWatchdog(pipeline.app, settings.worker_recovery_stall_s, leave_the_group)

    class Worker(faust.Worker):
        def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
            # No terminal spinner: at WARNING faust installs one and sets the root logger to DEBUG so it
            # spins on every record, and then each debug line of aiokafka (one per record sent) is
            # made and handled: about 6% of a loaded worker's CPU (py-spy, docs/benchmarks.md).
            self.spinner = None
            super().on_setup_root_logger(logger, level)
            limit_floods(logger)  # client libraries' retry storms, rate limited (infra/logflood.py)

    try:
        Worker(pipeline.app, watchdog, loglevel=level, quiet=True).execute_from_commandline()
    finally:
        if runner is not None:
            runner.stop()
            thread.join(timeout=settings.clickhouse_timeout_s + 10)
        if child is not None and child.stop() not in (0, -signal.SIGTERM) and not sink_failed.is_set():
            log.error("the ClickHouse sink process did not stop cleanly")
            sink_failed.set()
        if sink_failed.is_set():
            sys.exit(1)
        if stuck.is_set():
            sys.exit(EXIT_CODE)


@click.command()
@click.option("--metrics-port", type=int, default=None,
              help="Serve Prometheus metrics at http://127.0.0.1:PORT/metrics (0 = a free port; default: off).")
@click.option("--report-port-fd", type=int, default=None, hidden=True,
              help="Write the metrics port to this file descriptor (the worker's supervised child).")
@pass_settings
def sink(lazy, metrics_port: int | None, report_port_fd: int | None) -> None:  # noqa: ANN001
    """Run only the ClickHouse sink: the stages' output topics and dead letters into their tables."""
    from sinks.worker import build_sink_runner
    from streams.topics import ensure_topics

    stop = threading.Event()
    runner = None

    def on_signal(*_) -> None:  # noqa: ANN002
        stop.set()
        if runner is not None:
            runner.stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    if metrics_port is not None:  # first: the worker's /metrics and /ready read it from the start
        from prometheus_client import start_http_server

        from infra.sink_process import report_port

        server, _ = start_http_server(metrics_port, addr="127.0.0.1")  # a daemon thread; docs/metrics.md
        if report_port_fd is not None:
            report_port(report_port_fd, server.server_port)
    settings = lazy.get()
    ensure_topics(settings)
    runner = build_sink_runner(settings)
    if not stop.is_set():  # a stop asked for during start-up: nothing read, nothing to flush
        runner.run()


@click.command()
@pass_settings
def topics(lazy) -> None:  # noqa: ANN001
    """Create the declared Kafka topics that are missing, and list them."""
    from streams.topics import declared_topics, ensure_topics

    settings = lazy.get()
    created = set(ensure_topics(settings))
    for spec in declared_topics(settings):
        mark = "created" if spec.name in created else "exists"
        click.echo(f"{spec.name:40} partitions={spec.partitions:<3} {mark:8} {spec.doc}")


@click.command()
@pass_settings
def migrate(lazy) -> None:  # noqa: ANN001
    """Apply pending ClickHouse DDL (sinks/migrations) to TOUCHLINE_CLICKHOUSE_DATABASE (ON CLUSTER
    TOUCHLINE_CLICKHOUSE_CLUSTER when set)."""
    from sinks.clickhouse import connect
    from sinks.migrate import migrate as apply

    settings = lazy.get()
    done = apply(connect(settings), settings.clickhouse_database, settings.clickhouse_cluster)
    click.echo(f"applied {len(done)} migration(s): {done}" if done else "schema is up to date")


COMMANDS = [worker, sink, topics, migrate]

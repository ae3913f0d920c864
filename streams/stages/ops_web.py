"""Operations endpoints on the worker's web server (Faust web, TOUCHLINE_WORKER_WEB_PORT; 0 = off).

    GET /metrics   Prometheus exposition of this process and its sink child (infra/metrics.py; docs/metrics.md)
    GET /health    liveness: 200 while the process and its event loop answer
    GET /ready     readiness: 200 when processing (streams/readiness.py), else 503 and the reasons

/health answers from the event loop itself, so a blocked loop shows as a
probe timeout; the answer carries how long a callback waited for the loop
(``loop_delay_s``). Before each scrape the pipeline's scrape hooks refresh
the gauges computed from in-memory state (consumer lag, open sessions).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from faust.web import Request, Response, View
from prometheus_client import REGISTRY
from prometheus_client.metrics_core import Metric
from prometheus_client.exposition import choose_encoder

from infra import metrics
from streams.readiness import readiness
from streams.stages.consumer_metrics import StageSensor, refresh_stage_lag


def attach(pipeline) -> None:  # noqa: ANN001 - streams.app.Pipeline (import cycle)
    app = pipeline.app
    app.sensors.add(StageSensor())
    pipeline.scrape_hooks.append(lambda: refresh_stage_lag(app))
    started = time.monotonic()

    class Exposed:  # what /metrics encodes: this process's registry, then the merges (another process's series)
        @staticmethod
        def collect() -> Iterable[Metric]:
            families: Iterable[Metric] = REGISTRY.collect()
            for merge in pipeline.metrics_merges:
                families = merge(families)
            return families

    exposed = Exposed()

    def problems() -> dict[str, str]:
        found = readiness(app, pipeline.probes)
        metrics.READY.set(0 if found else 1)
        return found

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            for hook in pipeline.scrape_hooks:
                hook()
            problems()
            encode, content_type = choose_encoder(request.headers.get("Accept", ""))
            # Off the loop: a merge may ask another process for its series (a local HTTP request).
            body = await asyncio.to_thread(encode, exposed)
            return self.bytes(body, headers={"Content-Type": content_type})

    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:  # noqa: ARG002
            before = time.perf_counter()
            await asyncio.sleep(0)  # one trip through the loop's ready queue
            delay = time.perf_counter() - before
            doc = {"status": "crashed" if app.crashed else "ok", "uptime_s": round(time.monotonic() - started, 3),
                   "loop_delay_s": round(delay, 6)}
            return self.json(doc, status=503 if app.crashed else 200)

    @app.page("/ready")
    class Ready(View):
        async def get(self, request: Request) -> Response:  # noqa: ARG002
            found = problems()
            if found:
                return self.json({"status": "not ready", "problems": found}, status=503)
            return self.json({"status": "ready"})

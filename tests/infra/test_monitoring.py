"""The alert rules and the Grafana dashboard that ship in infra/monitoring/ (issue 22).

promtool checks the rules and runs their unit tests (each alert fires on what should
raise it and stays quiet on the near miss). Every metric they name is one the code
declares, and every runbook link lands on a heading. Then a real Prometheus (Debian's
package) scrapes a real worker behind its bearer token, with the rules loaded: it
counts exactly the events produced, every dashboard query runs and the main ones
have data, every rule evaluates without error, and stopping the worker raises
TouchlineWorkerDown.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from confluent_kafka import Producer
from prometheus_client import Counter, Gauge, Histogram

from infra import metrics
from infra.localkafka import free_port
from schemas.wire import AvroEncoder
from streams.kafka_config import producer_config
from streams.produce import TouchpointProducer
from streams.topics import TopicNames, ensure_topics
from tests.fixtures import wait_for

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "infra" / "monitoring"
RULES = MONITORING / "alerts.yml"
DASHBOARD = MONITORING / "grafana" / "touchline.json"
TOKEN = "tok-" + uuid.uuid4().hex


def _tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} not found: install Debian's 'prometheus' package (infra/test.sh does)"
    return found


def _rule_exprs() -> dict[str, str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"]: rule["expr"] for group in groups for rule in group["rules"]}


def _dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel.get("targets", ())]


def _as_prometheus_runs_them(expr: str) -> str:
    """A dashboard query as Grafana sends it with every worker selected."""
    return expr.replace("$instance", ".*").replace("$__rate_interval", "1m")


def test_promtool_accepts_the_rules_and_their_unit_tests_pass() -> None:
    promtool = _tool("promtool")
    checked = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(_rule_exprs())} rules found" in checked.stdout
    tested = subprocess.run([promtool, "test", "rules", "alerts.test.yml"], cwd=MONITORING, capture_output=True,
                            text=True)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    # Every alert has a unit test.
    tests = yaml.safe_load((MONITORING / "alerts.test.yml").read_text())["tests"]
    tested_alerts = {case["alertname"] for test in tests for case in test["alert_rule_test"]}
    assert tested_alerts == set(_rule_exprs())


def _declared_series() -> set[str]:
    """Series names the code's metrics expose (a counter's ``_total``, a histogram's three)."""
    names = set()
    for value in vars(metrics).values():
        if isinstance(value, Counter):
            names.add(value._name + "_total")
        elif isinstance(value, Histogram):
            names.update(value._name + suffix for suffix in ("_bucket", "_sum", "_count"))
        elif isinstance(value, Gauge):
            names.add(value._name)
    return names


def test_the_rules_and_the_dashboard_name_only_metrics_that_exist() -> None:
    declared = _declared_series()
    assert "touchline_consumer_lag" in declared and "touchline_rebalance_seconds_bucket" in declared
    exprs = [*_rule_exprs().values(), *_dashboard_exprs()]
    named = {name for expr in exprs for name in re.findall(r"\b(touchline_[a-z_]+)\b", expr)}
    assert named - declared == set(), "unknown metrics (renamed in infra/metrics.py?)"
    # What the dashboard shows covers every metric the code declares.
    shown = {name for expr in _dashboard_exprs() for name in re.findall(r"\b(touchline_[a-z_]+)\b", expr)}
    families = {re.sub(r"_(bucket|sum|count)$", "", n) for n in declared}
    assert families - {re.sub(r"_(bucket|sum|count)$", "", n) for n in shown} == set()


def _slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_alert_links_a_runbook_section_that_exists() -> None:
    anchors = {_slug(line.lstrip("#")) for line in (ROOT / "docs" / "runbook.md").read_text().splitlines()
               if line.startswith("#")}
    groups = yaml.safe_load(RULES.read_text())["groups"]
    for rule in (rule for group in groups for rule in group["rules"]):
        url = rule["annotations"]["runbook_url"]
        path, _, anchor = url.partition("#")
        assert path == "docs/runbook.md" and anchor in anchors, (rule["alert"], url)
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]


def test_the_dashboard_is_a_grafana_dashboard() -> None:
    doc = json.loads(DASHBOARD.read_text())
    assert doc["uid"] == "touchline" and doc["schemaVersion"] >= 36
    ids = [panel["id"] for panel in doc["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"] for v in doc["templating"]["list"]}
    for panel in doc["panels"]:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            used = set(re.findall(r"\$(\w+)", target["expr"])) - {"__rate_interval"}
            assert used <= variables, (panel["title"], used)


# -- a real Prometheus scraping a real worker ------------------------------------------------------------


class LocalPrometheus:
    """Debian's prometheus on 127.0.0.1, scraping and evaluating every second."""

    def __init__(self, workdir: Path, worker_port: int, token: str):
        self.port = free_port()
        (workdir / "token").write_text(token)
        shutil.copy(RULES, workdir / "alerts.yml")
        targets = [f"127.0.0.1:{worker_port}"]
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(workdir / "alerts.yml")],
            "scrape_configs": [
                {"job_name": "touchline", "scrape_timeout": "1s",
                 "authorization": {"type": "Bearer", "credentials_file": str(workdir / "token")},
                 "static_configs": [{"targets": targets}]},
                # The same worker without the token: refused, so the token above is what lets the scrape in.
                {"job_name": "no-token", "scrape_timeout": "1s", "static_configs": [{"targets": targets}]},
            ],
        }
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = workdir / "prometheus.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [_tool("prometheus"), f"--config.file={workdir / 'prometheus.yml'}",
                 f"--storage.tsdb.path={workdir / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}"],
                stdout=log, stderr=subprocess.STDOUT)
        wait_for(self._ready, timeout=60, what=lambda: f"Prometheus ready (log: {self.log.read_text()[-2000:]})")

    def _ready(self) -> bool:
        assert self.process.poll() is None, f"prometheus exited: {self.log.read_text()[-2000:]}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def api(self, path: str, **params: str) -> dict:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as response:
            doc = json.loads(response.read())
        assert doc["status"] == "success", doc
        return doc["data"]

    def query(self, expr: str) -> list[dict]:
        return self.api("query", query=expr)["result"]

    def value(self, expr: str) -> float | None:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


@pytest.fixture
def prometheus_for(tmp_path: Path) -> Iterator:
    started: list[LocalPrometheus] = []

    def start(worker_port: int, token: str) -> LocalPrometheus:
        started.append(LocalPrometheus(tmp_path, worker_port, token))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def _produce(settings, names: TopicNames, valid: int, malformed: int, tag: str) -> None:  # noqa: ANN001
    start = datetime.now(timezone.utc) - timedelta(hours=1, minutes=1)
    recent = datetime.now(timezone.utc) if tag == "b" else start  # older than an hour: no delay observed
    with TouchpointProducer(settings) as producer:
        for i in range(valid - 2):  # page views; every third one logged in (identity links the cookie)
            producer.send({"event_id": str(uuid.uuid4()), "event_time": start + timedelta(seconds=i),
                           "channel": "web", "event_type": "page_view", "device_type": "desktop",
                           "anonymous_id": f"cookie-{tag}-{i % 7}", **({"user_id": f"u-{tag}"} if i % 3 == 0 else {})})
        # An email sent now: a contact decision, and its delay. Only in the second round, when the worker runs:
        # the first round's waits for the worker's start, longer than TouchlineDecisionsLate's 10 s allow.
        producer.send({"event_id": str(uuid.uuid4()), "event_time": recent, "channel": "email",
                       "event_type": "email_send", "user_id": f"u-{tag}"})
    raw = Producer(producer_config(settings))
    # A blank cookie as SDKs send it (TouchpointProducer itself would leave the field out).
    raw.produce(names.raw, AvroEncoder("touchpoint").encode({
        "event_id": str(uuid.uuid4()), "event_time": recent, "channel": "web",
        "event_type": "page_view", "anonymous_id": "", "user_id": f"u-{tag}"}), f"u-{tag}".encode())
    for i in range(malformed):
        raw.produce(names.raw, f"not avro {tag} {i}".encode(), b"k")
    assert raw.flush(30) == 0


@pytest.mark.integration
def test_a_real_prometheus_scrapes_a_worker_and_evaluates_the_rules(settings_factory, worker_factory,  # noqa: ANN001
                                                                    prometheus_for) -> None:
    settings = settings_factory(worker_web_token=TOKEN, worker_web_metrics_need_token=True)
    ensure_topics(settings)
    names = TopicNames.from_settings(settings)
    port = free_port()
    worker = worker_factory(settings, "worker", "--web-port", str(port))
    prometheus = prometheus_for(port, TOKEN)
    seen: dict[str, float | None] = {}

    def counted(valid: int, malformed: int):  # noqa: ANN202
        def check() -> bool:
            assert worker.running, f"worker exited:\n{worker.log_tail()}"
            seen.update(
                raw=prometheus.value(f'sum(touchline_events_in_total{{job="touchline", topic="{names.raw}"}})'),
                rows=prometheus.value('sum(touchline_sink_rows_written_total{job="touchline", table="touchpoints"})'),
                rejects=prometheus.value('sum(touchline_rejects_total{job="touchline", stage="ingest"})'))
            return seen == {"raw": valid + malformed, "rows": valid, "rejects": malformed}
        return check

    # Two rounds, each counted by Prometheus: the second is an increase it can take a rate of.
    _produce(settings, names, 20, 1, "a")
    wait_for(counted(20, 1), timeout=120, what=lambda: f"Prometheus to count 21 in, 20 rows, 1 reject ({seen})")
    _produce(settings, names, 20, 2, "b")
    wait_for(counted(40, 3), timeout=60, what=lambda: f"Prometheus to count 43 in, 40 rows, 3 rejects ({seen})")

    targets = {t["labels"]["job"]: t for t in prometheus.api("targets")["activeTargets"]}
    assert targets["touchline"]["health"] == "up"
    assert targets["no-token"]["health"] == "down" and "401" in targets["no-token"]["lastError"]

    # Every dashboard query runs and has data, but those of what a healthy run without segment
    # definitions never does (insert errors, a failing sink, segment changes).
    never_here = ("touchline_clickhouse_errors_total", "touchline_sink_failing_since_timestamp_seconds",
                  "touchline_segment_changes_total")
    empty = [expr for expr in map(_as_prometheus_runs_them, _dashboard_exprs()) if not prometheus.query(expr)]
    assert [e for e in empty if not any(name in e for name in never_here)] == []

    # Every rule evaluates against the real series without error. 2 of the second round's 22 raw
    # messages were rejected (9 % > 5 %): the reject alert, and only it, is pending (it fires after 10 min).
    states: list = []

    def evaluated() -> bool:
        rules = [r for group in prometheus.api("rules")["groups"] for r in group["rules"]]
        states[:] = [(r["name"], r["health"], r.get("lastError") or "", r["state"]) for r in rules]
        return {(name, state) for name, _, _, state in states if state != "inactive"} == \
            {("TouchlineIngestRejectsHigh", "pending")}

    wait_for(evaluated, timeout=30, what=lambda: f"TouchlineIngestRejectsHigh pending, nothing else ({states})")
    assert {name for name, *_ in states} == set(_rule_exprs())
    assert [s for s in states if s[1:3] != ("ok", "")] == []

    # The worker stops: the down alert goes pending (it fires after its 2 minutes).
    worker.stop()

    def worker_down() -> list[dict]:
        return [a for a in prometheus.api("alerts")["alerts"] if a["labels"]["alertname"] == "TouchlineWorkerDown"
                and a["labels"]["job"] == "touchline"]

    alerts = wait_for(worker_down, timeout=30, what="TouchlineWorkerDown pending")
    assert [(a["state"], a["labels"]["instance"]) for a in alerts] == [("pending", f"127.0.0.1:{port}")]

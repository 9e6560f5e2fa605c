"""Prometheus run by `pixring up`: generated config, alert rules (promtool), dashboards, live scraping.

The live tests need Prometheus and Kafka started by `pixring up` (Kafka with the JMX exporter agent).
The API and the scorer are up only while they run: their targets must be listed, and the scorer's
wiring is proven by serving a probe metric on its metrics port when that port is free (when a real
scorer holds the port, its target must be up instead).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from pixring.settings import Settings

INFRA = Path(__file__).resolve().parents[2] / "infra"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.load(resp)


def _query(base: str, expr: str) -> dict:
    return _get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))


def _targets(base: str) -> dict[str, dict]:
    return {t["labels"]["job"]: t for t in _get(f"{base}/api/v1/targets")["data"]["activeTargets"]}


def _wait_up(base: str, jobs: set[str], timeout_s: float) -> dict[str, dict]:
    deadline = time.monotonic() + timeout_s
    while True:
        targets = _targets(base)
        if all(targets.get(j, {}).get("health") == "up" for j in jobs) or time.monotonic() > deadline:
            return targets
        time.sleep(0.5)


@pytest.fixture(scope="module")
def prometheus_url(settings: Settings) -> str:
    from infra.services import PrometheusService

    svc = PrometheusService(settings)
    if not svc.probe_ready():
        pytest.fail(f"prometheus is not reachable at {svc.endpoint}: start it with `pixring up prometheus`")
    return settings.prometheus.url


# --- pure: config, rules, dashboards -------------------------------------------------------------------


def test_generated_config_has_every_job_and_passes_promtool(tmp_path, monkeypatch) -> None:
    from infra.prometheus.config import write_config
    from pixring.settings import Settings

    monkeypatch.setenv("PIXRING_API_PORT", "18123")
    monkeypatch.setenv("PIXRING_STREAMING_METRICS_PORT", "19123")
    monkeypatch.setenv("PIXRING_PROMETHEUS_KAFKA_EXPORTER_PORT", "19444")
    monkeypatch.setenv("PIXRING_PROMETHEUS_PORT", "19999")
    config = write_config(Settings(), tmp_path)
    import yaml

    doc = yaml.safe_load(config.read_text())
    jobs = {c["job_name"]: c["static_configs"][0]["targets"] for c in doc["scrape_configs"]}
    assert jobs == {
        "prometheus": ["127.0.0.1:19999"], "kafka": ["127.0.0.1:19444"],
        "pixring-api": ["127.0.0.1:18123"], "pixring-stream": ["127.0.0.1:19123"],
    }
    assert [Path(r).name for r in doc["rule_files"]] == ["pixring.rules.yml"]
    assert Path(doc["rule_files"][0]).parent == tmp_path / "rules"
    out = subprocess.run([PROMTOOL, "check", "config", str(config)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout + out.stderr


def test_missing_prometheus_binary_is_one_clear_error(tmp_path, monkeypatch) -> None:
    from infra.services import PrometheusService
    from pixring.errors import PixringError
    from pixring.settings import Settings

    monkeypatch.setenv("PIXRING_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PIXRING_PROMETHEUS_BINARY", str(tmp_path / "no-prometheus"))
    import socket

    with socket.socket() as sock:  # a port free right now, so the port check passes
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    monkeypatch.setenv("PIXRING_PROMETHEUS_PORT", str(free))
    svc = PrometheusService(Settings())
    with pytest.raises(PixringError, match="no-prometheus not found: run `make setup`"):
        svc.start()
    assert not svc.pid_file.exists()


def test_alert_rules_pass_promtool_check_and_unit_tests() -> None:
    rules = INFRA / "prometheus" / "rules" / "pixring.rules.yml"
    out = subprocess.run([PROMTOOL, "check", "rules", str(rules)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    import yaml

    names = {r.get("alert") for g in yaml.safe_load(rules.read_text())["groups"] for r in g["rules"]}
    assert {"PixringConsumerLagHigh", "PixringStreamStalled", "PixringAlertRateSpike",
            "PixringModelNotLoaded"} <= names
    # the rules fire (and stay quiet) on synthetic series as intended
    tests = INFRA / "prometheus" / "rule-tests" / "pixring.test.yml"
    out = subprocess.run([PROMTOOL, "test", "rules", str(tests)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_broken_rule_is_rejected_by_promtool(tmp_path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: rate(foo[5m]\n")
    out = subprocess.run([PROMTOOL, "check", "rules", str(bad)], capture_output=True, text=True)
    assert out.returncode != 0


def test_dashboards_are_generated_and_well_formed() -> None:
    from infra.grafana import generate

    assert generate.main(["--check"]) == 0, "dashboards are stale: python -m infra.grafana.generate"
    for name in generate.DASHBOARDS:
        board = json.loads((INFRA / "grafana" / "dashboards" / name).read_text())
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)) and board["uid"].startswith("pixring-")
        for p in board["panels"]:
            g = p["gridPos"]
            assert g["x"] + g["w"] <= 24 and p["targets"], p["title"]


_METRIC = re.compile(r"\b((?:pixring|kafka)_[a-z0-9_]+)")
_SUFFIX = re.compile(r"_(total|bucket|sum|count)$")


def _used_metric_names() -> set[str]:
    import yaml

    from infra.grafana import generate

    exprs = [r["expr"] for g in yaml.safe_load((INFRA / "prometheus" / "rules" / "pixring.rules.yml").read_text())[
        "groups"] for r in g["rules"]]
    exprs += [e for fn in generate.DASHBOARDS.values() for e in generate.all_exprs(fn())]
    return {m for e in exprs for m in _METRIC.findall(e)}


def test_every_pixring_metric_used_is_emitted() -> None:
    repo = INFRA.parent
    emitted = {m for pkg in ("streaming", "api") for f in (repo / pkg).rglob("*.py")
               for m in re.findall(r"[\"'](pixring_[a-z0-9_]+)[\"']", f.read_text())}
    doc = (repo / "docs" / "observability.md").read_text()
    used = _used_metric_names()
    assert used, "no metric names found"
    assert {"pixring_feature_psi", "pixring_graph_degree_bucket"} <= used  # the drift dashboard is covered
    for name in sorted(used):
        base = _SUFFIX.sub("", name)
        if name.startswith("pixring_"):
            assert base in emitted or name in emitted, f"{name} is not defined in streaming/ or api/"
        # kafka_*: checked live against the JMX exporter below
        documented = base in doc or name in doc or any(
            base.startswith(stem.split("{")[0]) for stem in re.findall(r"`(kafka_[a-z_]+)_\{", doc))
        assert documented, f"{name} is not in docs/observability.md"


# --- live: the Prometheus of `pixring up` ---------------------------------------------------------------


@pytest.mark.kafka
def test_prometheus_scrapes_itself_and_kafka_and_lists_every_job(
    prometheus_url: str, settings: Settings, kafka_bootstrap: str
) -> None:
    from infra.prometheus.config import scrape_jobs

    jobs = scrape_jobs(settings)
    targets = _wait_up(prometheus_url, {"prometheus", "kafka"},
                       timeout_s=4 * settings.prometheus.scrape_interval_seconds + 10)
    assert set(targets) == set(jobs)
    for job, address in jobs.items():
        assert targets[job]["scrapeUrl"] == f"http://{address}/metrics"
    assert targets["prometheus"]["health"] == "up", targets["prometheus"]["lastError"]
    assert targets["kafka"]["health"] == "up", (
        f"{targets['kafka']['lastError']} (was Kafka started by this version of `pixring up`, with the "
        "JMX exporter agent?)")
    # broker metrics from the JMX exporter are stored: the controller is active
    res = _query(prometheus_url, 'kafka_controller_kafkacontroller_activecontrollercount{job="kafka"}')
    assert [float(r["value"][1]) for r in res["data"]["result"]] == [1.0]
    # every broker metric the rules and dashboards use is exported by the JMX agent
    with urllib.request.urlopen(f"http://127.0.0.1:{settings.prometheus.kafka_exporter_port}/metrics",
                                timeout=10) as resp:
        exported = {_SUFFIX.sub("", line.split("{")[0].split(" ")[0])
                    for line in resp.read().decode().splitlines() if line and not line.startswith("#")}
    for name in sorted(m for m in _used_metric_names() if m.startswith("kafka_")):
        assert _SUFFIX.sub("", name) in exported, f"{name} is not exported by the Kafka JMX agent"
    # the alert rules are loaded
    groups = {g["name"] for g in _get(f"{prometheus_url}/api/v1/rules")["data"]["groups"]}
    assert {"pixring-pipeline", "pixring-platform", "pixring-drift"} <= groups


def test_stream_metrics_port_is_scraped(prometheus_url: str, settings: Settings, unique: str) -> None:
    from prometheus_client import CollectorRegistry, Gauge, start_http_server

    from infra.services import port_free

    port = settings.streaming.metrics_port
    timeout = 4 * settings.prometheus.scrape_interval_seconds + 10
    if not port_free("0.0.0.0", port):
        # a real scorer holds the port: its target must be up
        targets = _wait_up(prometheus_url, {"pixring-stream"}, timeout)
        assert targets["pixring-stream"]["health"] == "up", targets["pixring-stream"]["lastError"]
        return
    registry = CollectorRegistry()
    Gauge("pixring_test_wiring_probe", "probe served by the test", ["probe"], registry=registry) \
        .labels(probe=unique).set(42)
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        deadline = time.monotonic() + timeout
        values: list[float] = []
        while time.monotonic() < deadline and not values:
            res = _query(prometheus_url, f'pixring_test_wiring_probe{{probe="{unique}",job="pixring-stream"}}')
            values = [float(r["value"][1]) for r in res["data"]["result"]]
            time.sleep(0.5)
        assert values == [42.0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_dashboard_queries_parse_in_prometheus(prometheus_url: str) -> None:
    from infra.grafana import generate

    for name, fn in generate.DASHBOARDS.items():
        for expr in generate.all_exprs(fn()):
            try:
                res = _query(prometheus_url, expr)
            except urllib.error.HTTPError as exc:  # 400 bad_data: PromQL does not parse
                pytest.fail(f"{name}: {expr!r}: {exc.read().decode()[:200]}")
            assert res["status"] == "success", (name, expr)

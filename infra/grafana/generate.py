"""Generate the Grafana dashboards (``infra/grafana/dashboards/*.json``) from one compact description.

``python -m infra.grafana.generate`` rewrites the JSON; ``--check`` exits 1 when a committed file differs
from what this module generates (run by tests/infra/test_prometheus.py). Every panel queries the
Prometheus datasource chosen in the ``datasource`` variable; metric names: docs/observability.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards"
DS = {"type": "prometheus", "uid": "${datasource}"}


@dataclass
class Panel:
    title: str
    exprs: list[tuple[str, str]]  # (PromQL, legend)
    kind: str = "timeseries"  # timeseries | stat | heatmap | bargauge | table
    unit: str = "short"
    description: str = ""
    width: int = 12
    height: int = 8
    extra: dict[str, Any] = field(default_factory=dict)


def _panel(p: Panel, pid: int, x: int, y: int) -> dict[str, Any]:
    targets = []
    for i, (expr, legend) in enumerate(p.exprs):
        t: dict[str, Any] = {"refId": chr(ord("A") + i), "datasource": DS, "expr": expr, "legendFormat": legend}
        if p.kind == "heatmap":
            t["format"] = "heatmap"
        if p.kind in ("stat", "bargauge", "table"):
            t["instant"] = True
        targets.append(t)
    panel: dict[str, Any] = {
        "id": pid,
        "type": p.kind,
        "title": p.title,
        "description": p.description,
        "datasource": DS,
        "gridPos": {"h": p.height, "w": p.width, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": p.unit}, "overrides": []},
        "options": {},
        "targets": targets,
    }
    if p.kind == "heatmap":
        panel["options"] = {"calculate": False, "yAxis": {"unit": p.unit}, "cellGap": 1}
    panel.update(p.extra)
    return panel


def dashboard(uid: str, title: str, description: str, panels: list[Panel], tags: list[str]) -> dict[str, Any]:
    """A dashboard with a ``datasource`` variable and panels laid out left to right, top to bottom."""
    out, x, y, row_h = [], 0, 0, 0
    for pid, p in enumerate(panels, start=1):
        if x + p.width > 24:
            x, y, row_h = 0, y + row_h, 0
        out.append(_panel(p, pid, x, y))
        x, row_h = x + p.width, max(row_h, p.height)
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["pixring", *tags],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [{
            "name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
            "current": {}, "hide": 0, "refresh": 1,
        }]},
        "annotations": {"list": []},
        "panels": out,
    }


RI = "$__rate_interval"


def pipeline() -> dict[str, Any]:
    return dashboard("pixring-pipeline", "pixring / pipeline throughput and latency",
                     "Kafka in, scorer micro-batches, API requests.", [
        Panel("Transactions into Kafka per topic", [
            (f"sum by (topic) (rate(kafka_server_brokertopicmetrics_messagesin_total{{topic=~\"pix.*\"}}[{RI}]))",
             "{{topic}}")], unit="ops"),
        Panel("Scorer records per second by outcome", [
            (f"sum by (outcome) (rate(pixring_stream_rows_total[{RI}]))", "{{outcome}}"),
            ("max(pixring_stream_rows_per_second)", "last batch (size / duration)")], unit="ops"),
        Panel("Micro-batch duration", [
            (f"histogram_quantile(0.5, sum by (le) (rate(pixring_stream_batch_duration_seconds_bucket[{RI}])))", "p50"),
            (f"histogram_quantile(0.95, sum by (le) (rate(pixring_stream_batch_duration_seconds_bucket[{RI}])))", "p95"),
            (f"histogram_quantile(0.99, sum by (le) (rate(pixring_stream_batch_duration_seconds_bucket[{RI}])))", "p99")],
              unit="s"),
        Panel("Produce -> decision latency (per record)", [
            (f"histogram_quantile(0.5, sum by (le) (rate(pixring_stream_latency_seconds_bucket[{RI}])))", "p50"),
            (f"histogram_quantile(0.95, sum by (le) (rate(pixring_stream_latency_seconds_bucket[{RI}])))", "p95"),
            (f"histogram_quantile(0.99, sum by (le) (rate(pixring_stream_latency_seconds_bucket[{RI}])))", "p99")],
              unit="s", description="Input record's Kafka timestamp to the scorer's decision; target p95 <= 3 s."),
        Panel("Delta sink rows per second by outcome", [
            (f"sum by (outcome) (rate(pixring_stream_sink_rows_total[{RI}]))", "{{outcome}}")], unit="ops"),
        Panel("Consumer lag (scorer) and log end offsets", [
            ("max(pixring_stream_kafka_lag)", "scorer lag (records)"),
            ("sum by (topic) (kafka_log_log_logendoffset{topic=~\"pix.*\"})", "end offset {{topic}}")]),
        Panel("Records per micro-batch", [("max(pixring_stream_batch_rows)", "rows")], width=8),
        Panel("Seconds since last micro-batch", [
            ("time() - max(pixring_stream_last_batch_timestamp_seconds)", "age")], kind="stat", unit="s", width=8),
        Panel("Feature state size", [("max(pixring_stream_state_receipts)", "receipts")], width=8),
        Panel("API requests per second by route and status", [
            (f"sum by (route, status) (rate(pixring_api_requests_total[{RI}]))", "{{route}} {{status}}")],
              unit="reqps"),
        Panel("API latency", [
            (f"histogram_quantile(0.5, sum by (le) (rate(pixring_api_request_seconds_bucket[{RI}])))", "p50"),
            (f"histogram_quantile(0.99, sum by (le) (rate(pixring_api_request_seconds_bucket[{RI}])))", "p99")],
              unit="s"),
        Panel("Kafka request latency (broker)", [
            ("max by (request, quantile) (kafka_network_requestmetrics_totaltimems)", "{{request}} q{{quantile}}")],
              unit="ms"),
        Panel("Targets up", [("up", "{{job}}")], kind="stat", unit="bool",
              description="1: Prometheus scraped the target at its last attempt."),
    ], ["pipeline"])


def alerts() -> dict[str, Any]:
    return dashboard("pixring-alerts", "pixring / alerts and model",
                     "Ring alerts, decisions, dead letters, the champion model in use, firing alert rules.", [
        Panel("Ring alerts per minute", [
            ("max(pixring_stream_alerts_per_minute)", "last 60 s"),
            (f"sum(rate(pixring_stream_alerts_total[{RI}])) * 60", "rate")], unit="short"),
        Panel("Decisions per second", [
            (f"sum by (decisao) (rate(pixring_stream_decisions_total[{RI}]))", "{{decisao}}")], unit="ops"),
        Panel("Champion model version", [("max(pixring_stream_model_version)", "version")], kind="stat", width=6,
              description="0: no model loaded (PixringModelNotLoaded fires)."),
        Panel("API model loaded", [("min(pixring_api_model_loaded)", "loaded")], kind="stat", width=6,
              unit="bool", description="0: the API scores without the model (PixringApiModelNotLoaded)."),
        Panel("Read model", [("max(pixring_api_read_model_transactions)", "transactions"),
                             ("max(pixring_api_read_model_rings)", "rings")], kind="stat", width=6),
        Panel("Model reloads (1h)", [("sum(increase(pixring_stream_model_loads_total[1h]))", "reloads")],
              kind="stat", width=6),
        Panel("Gold lookup reloads (1h)", [("sum(increase(pixring_stream_gold_reloads_total[1h]))", "reloads")],
              kind="stat", width=6),
        Panel("Dead-lettered share", [
            (f"sum(rate(pixring_stream_rows_total{{outcome=\"dlq\"}}[{RI}])) / sum(rate(pixring_stream_rows_total[{RI}]))",
             "dlq")], kind="stat", unit="percentunit", width=6),
        Panel("Messages into pix.alertas and the DLQ", [
            (f"sum by (topic) (rate(kafka_server_brokertopicmetrics_messagesin_total{{topic=~\"pix.alertas|pix.transacoes.dlq\"}}[{RI}]))",
             "{{topic}}")], unit="ops"),
        Panel("Firing alert rules", [("ALERTS{alertstate=\"firing\"}", "{{alertname}}")], kind="table"),
    ], ["alerts", "model"])


def drift() -> dict[str, Any]:
    note = "Not emitted yet by any pixring component: see docs/observability.md."
    return dashboard("pixring-drift", "pixring / graph, feature and score drift",
                     "Graph shape after each rebuild and PSI of live features and scores against the training data.", [
        Panel("Degree distribution (latest graph build)", [
            ("sum by (le) (pixring_graph_degree_bucket)", "{{le}}")], kind="heatmap", description=note),
        Panel("Community sizes (latest graph build)", [
            ("sum by (le) (pixring_graph_community_size_bucket)", "{{le}}")], kind="heatmap", description=note),
        Panel("Pass-through chain depth", [
            ("sum by (le) (pixring_graph_chain_depth_bucket)", "{{le}}")], kind="heatmap", description=note),
        Panel("Communities and ring candidates", [
            ("max(pixring_graph_communities)", "communities"),
            ("max(pixring_graph_ring_candidates)", "ring candidates")], description=note),
        Panel("Feature PSI vs training data", [("max by (feature) (pixring_feature_psi)", "{{feature}}")],
              description="PSI < 0.1 stable, 0.1-0.25 moderate, > 0.25 significant. " + note,
              extra={"fieldConfig": {"defaults": {"unit": "short", "thresholds": {"mode": "absolute", "steps": [
                  {"color": "green", "value": None}, {"color": "orange", "value": 0.1},
                  {"color": "red", "value": 0.25}]}}, "overrides": []}}),
        Panel("Score PSI vs training data", [("max(pixring_score_psi)", "score")], description=note),
        Panel("Hours since last graph build", [
            ("(time() - max(pixring_graph_build_timestamp_seconds)) / 3600", "hours")], kind="stat", unit="h",
              description=note),
    ], ["drift", "graph"])


DASHBOARDS = {"pixring-pipeline.json": pipeline, "pixring-alerts.json": alerts, "pixring-drift.json": drift}


def render() -> dict[str, str]:
    return {name: json.dumps(fn(), indent=2, sort_keys=False) + "\n" for name, fn in DASHBOARDS.items()}


def all_exprs(board: dict[str, Any]) -> list[str]:
    """Every PromQL expression of a dashboard, Grafana's interval variables replaced by ``1m``."""
    return [t["expr"].replace("$__rate_interval", "1m").replace("$__interval", "1m")
            for p in board["panels"] for t in p["targets"]]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--check", action="store_true", help="exit 1 if a committed dashboard is stale")
    args = ap.parse_args(argv)
    stale = []
    for name, text in render().items():
        path = OUT / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        sys.stderr.write(f"stale dashboards (run python -m infra.grafana.generate): {', '.join(stale)}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``pixring demo``: the whole pipeline end to end on the default data set, then where to look.

Stages, each idempotent so a second run reuses what is there: services up, datagen, ingest (files already
landed add nothing), refine (skipped while bronze is unchanged), graph build (skipped while silver is
unchanged), Neo4j load (hash-skipped), GNN train/register/embed (train skipped while a champion built on this
graph exists), then the streaming scorer and the API are started and transactions are replayed into Kafka.
The summary gives rows per layer, rings found vs planted, model metrics, alerts, latency and the URLs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pixring.settings import Settings, get_settings

log = logging.getLogger(__name__)


@dataclass
class DemoReport:
    """What the demo did: seconds per stage, the stages that reused earlier work, and the figures each stage
    reported."""

    raw: Path
    stages: dict[str, float] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    #: stages that found their work already done (same data, same build, same champion...) and reused it
    reused: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = ["== pixring demo: summary ==", "", "stages"]
        lines += [f"  {name:24s} {took:7.1f} s{'  (reused)' if name in self.reused else ''}"
                  for name, took in self.stages.items()]
        lines.append(f"  {'total':24s} {sum(self.stages.values()):7.1f} s")
        lines += ["", "figures"]
        lines += [f"  {name:40s} {value}" for name, value in self.figures.items()]
        return "\n".join(lines)


class Demo:
    """The demo's stages over one settings object (tests run it at a small scale in a temporary home)."""

    def __init__(self, settings: Settings, scale: float = 1.0, seed: int = 42, replay_seconds: float = 60.0,
                 replay_rate: float = 500.0, spark=None) -> None:
        """``spark``: the session to run the in-process stages on (default: :func:`pixring.spark.get_spark`'s;
        a test passes its own)."""
        self.settings = settings
        self.scale = scale
        self.seed = seed
        self.replay_seconds = replay_seconds
        self.replay_rate = replay_rate
        self.report = DemoReport(raw=settings.paths.data / f"raw-scale{scale:g}-seed{seed}")
        self._spark = spark
        self._stage = ""

    # ------------------------------------------------------------------------------------ plumbing
    @property
    def spark(self):
        if self._spark is None:
            from pixring.spark import get_spark

            self._spark = get_spark(self.settings)
        return self._spark

    def stage(self, name: str, fn: Callable[[], object]) -> object:
        print(f"==> {name}", flush=True)
        self._stage = name
        t0 = time.monotonic()
        result = fn()
        self.report.stages[name] = time.monotonic() - t0
        print(f"    {name}: {self.report.stages[name]:.1f} s", flush=True)
        return result

    def fig(self, name: str, value: Any) -> None:
        self.report.figures[name] = value

    def reused(self) -> None:
        """The running stage found its work done already."""
        self.report.reused.append(self._stage)

    # -------------------------------------------------------------------------------------- stages
    def services(self) -> None:
        """Start the services that do not answer yet. One that answers at its settings' address is used as it
        is, whoever runs it (the stack of another ``PIXRING_HOME``, a managed endpoint): starting it again
        here would only fail on its taken port."""
        from infra.stack import Stack

        stack = Stack(self.settings)
        down = [name for name, s in stack.services.items() if not s.on_demand and not s.probe_ready()]
        if down:
            stack.up(down)
        else:
            print("    every service answers already")
            self.reused()

    def datagen(self) -> None:
        from datagen.generator import generate

        raw = self.report.raw
        if (raw / "_manifest.json").exists():
            print(f"    reusing {raw}")
            self.reused()
            return
        print(f"    {generate(out=raw, scale=self.scale, seed=self.seed, fmt='csv', difficulty='normal', overwrite=True)}")

    def ingest(self) -> None:
        from lakehouse.ingest import ingest_files

        report = ingest_files(self.spark, self.settings, self.report.raw)
        print(f"    {report.rows:,} new bronze rows")
        if report.rows == 0:
            self.reused()

    def refine(self) -> None:
        from lakehouse.refine import refine

        report = refine(self.spark, self.settings, if_changed=True)
        print("    " + str(report).replace("\n", "\n    ") if report.skipped else "    refined (reconciled)")
        if report.skipped:
            self.reused()
        self._layer_counts()

    def _layer_counts(self) -> None:
        from lakehouse import delta
        from lakehouse.paths import table_path

        for layer, table in (("bronze", "transacoes_pix"), ("silver", "transacoes_pix"), ("bronze", "quarantine"),
                             ("silver", "usuarios"), ("gold", "features_usuario")):
            path = table_path(self.settings, layer, table)
            n = self.spark.read.format("delta").load(path).count() if delta.is_table(self.spark, path) else 0
            self.fig(f"rows {layer}/{table}", f"{n:,}")

    def graph(self) -> None:
        from graph.build import build_graph
        from graph.evaluate import evaluate

        report = build_graph(self.spark, self.settings)
        print(f"    graph build {report.build_id}{' (unchanged silver: reused)' if report.skipped else ''}")
        if report.skipped:
            self.reused()
        ev = evaluate(self.spark, self.settings, self.report.raw / "_truth")
        self.fig("rings planted / ring candidates", f"{ev.n_rings} / {ev.n_candidates}")
        self.fig("ring recall (graph candidates)", f"{ev.ring_recall:.1%}")
        self.fig("candidate precision (graph)", f"{ev.candidate_precision:.1%}")

    def neo4j(self) -> None:
        from graph.neo4j_load import load_neo4j

        report = load_neo4j(self.spark, self.settings)
        print("    " + str(report).replace("\n", "\n    "))
        if report.skipped_build:
            self.reused()
        self.fig("neo4j relationships written", f"{sum(report.rels_written.values()):,}")

    def _gnn_fresh(self) -> str | None:
        """The champion version when gold ``node_scores`` were written by it after the latest graph build."""
        from gnn.tracking import alias_version
        from graph.build import last_build
        from lakehouse import delta
        from lakehouse.paths import table_path

        version = alias_version(self.settings, self.settings.mlflow.model_name)
        path = table_path(self.settings, "gold", "node_scores")
        build = last_build(self.spark, self.settings)
        if version is None or build is None or not delta.is_table(self.spark, path):
            return None
        from pyspark.sql import functions as F

        row = self.spark.read.format("delta").load(path).agg(
            F.max("gerado_em").alias("at"), F.max("modelo_versao").alias("v")).first()
        fresh = row.at is not None and row.v == version and row.at >= build["built_at"]
        return version if fresh else None

    def gnn(self) -> None:
        from gnn.embed import run_embed
        from gnn.evaluate import evaluate_truth
        from gnn.train import TrainConfig, run_training

        version = self._gnn_fresh()
        if version is not None:
            print(f"    champion v{version} already scored the current graph: reused")
            self.reused()
        else:
            result = run_training(self.spark, self.settings, TrainConfig())
            print("    " + str(result).replace("\n", "\n    "))
            embedded = run_embed(self.spark, self.settings)
            print("    " + str(embedded).replace("\n", "\n    "))
        truth = evaluate_truth(self.settings, self.report.raw / "_truth")
        print("    " + str(truth).replace("\n", "\n    "))
        best = truth.best_baseline
        self.fig("gnn model version (champion)", truth.version)
        self.fig("gnn mule PR-AUC, unseen rings", f"{truth.pr_auc['gnn']:.3f} (best baseline {best} "
                 f"{truth.pr_auc[best]:.3f})")
        self.fig("gnn ring recall @ precision 0.80", f"{truth.ring_recall_p80['gnn']:.3f}")

    def serve(self) -> None:
        """Start the streaming scorer and the API as background services (``pixring down`` stops them)."""
        from infra.stack import Stack

        stack = Stack(self.settings)
        if all(stack.services[name].status().state == "ready" for name in ("stream", "api")):
            self.reused()
        stack.up(["stream", "api"])

    def replay(self) -> None:
        """Replay transactions into Kafka for ``replay_seconds`` and wait until the stream has processed them.

        The figures come from the stream's own Prometheus counters (records, decisions, alerts: a second
        demo replays the same ids, which the exactly-once Delta table does not insert again) and, for the
        latency, from its latency histogram.
        """
        from lakehouse.producer import produce

        before = self._metrics()
        report = produce(self.settings, self.report.raw, rate=self.replay_rate,
                         limit=int(self.replay_rate * self.replay_seconds))
        print("    " + str(report).replace("\n", "\n    "))
        scored, dlq = 'pixring_stream_rows_total{outcome="scored"}', 'pixring_stream_rows_total{outcome="dlq"}'
        stored = ('pixring_stream_sink_rows_total{outcome="inserted"}',
                  'pixring_stream_sink_rows_total{outcome="duplicate"}')
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            now = self._metrics()
            grew = {k: now.get(k, 0) - before.get(k, 0) for k in (scored, dlq, *stored)}
            # every record scored or in the DLQ (a replay of old transactions is late: DLQ), and the scored
            # ones written to gold/scored_transactions by the Delta sink (a few seconds behind)
            if (grew[scored] + grew[dlq] >= report.delivered
                    and sum(grew[k] for k in stored) >= grew[scored]):
                break
            time.sleep(1)
        after = self._metrics()
        delta = {k: after[k] - before.get(k, 0.0) for k in after}
        self.fig("replayed into Kafka", f"{report.delivered:,} at {report.achieved_rate:,.0f}/s")
        for key, value in sorted(delta.items()):
            if key.startswith(("pixring_stream_rows_total", "pixring_stream_decisions_total")) and value:
                self.fig("stream " + key.removeprefix("pixring_stream_").replace("_total", ""), f"{value:,.0f}")
        self.fig("ring alerts raised", f"{delta.get('pixring_stream_alerts_total', 0):,.0f}")
        self._latency(before, after)

    def _latency(self, before: dict[str, float], after: dict[str, float]) -> None:
        """Produce -> decision latency of this replay, from the stream's histogram (bucket upper bounds)."""
        from streaming.metrics import histogram_quantiles

        q = histogram_quantiles(after, before, "pixring_stream_latency_seconds", (0.5, 0.95, 0.99))
        self.fig("latency produce -> scored p50/p95/p99",
                 " / ".join(f"≤ {v:.1f} s" if v != float("inf") else "> 120 s" for v in q) if q else "n/a")

    def _metrics(self) -> dict[str, float]:
        """The stream's Prometheus samples (``name{labels}`` -> value); empty when it does not answer."""
        import urllib.request

        url = f"http://127.0.0.1:{self.settings.streaming.metrics_port}/metrics"
        out: dict[str, float] = {}
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                for line in resp.read().decode().splitlines():
                    if line.startswith("pixring_") and " " in line:
                        key, value = line.rsplit(" ", 1)
                        out[key] = float(value)
        except (OSError, ValueError) as exc:
            log.warning("stream metrics unavailable at %s: %s", url, exc)
        return out

    # ---------------------------------------------------------------------------------------- run
    def run(self) -> DemoReport:
        self.stage("services up", self.services)
        self.stage("datagen", self.datagen)
        self.stage("ingest (bronze)", self.ingest)
        self.stage("refine (silver, gold)", self.refine)
        self.stage("graph build + evaluate", self.graph)
        self.stage("neo4j load", self.neo4j)
        self.stage("gnn train, register, embed", self.gnn)
        self.stage("start stream + api", self.serve)
        self.stage(f"replay {self.replay_seconds:.0f} s into Kafka", self.replay)
        return self.report


def run_demo(scale: float = 1.0, seed: int = 42, settings: Settings | None = None) -> int:
    settings = settings or get_settings()
    report = Demo(settings, scale=scale, seed=seed).run()
    print()
    print(summary(settings, report))
    return 0


def summary(settings: Settings, report: DemoReport) -> str:
    """What ``pixring demo`` prints at the end: the report, then where to look."""
    return f"{report}\n\n== where to look ==\n{where(settings, report.raw)}"


def where(settings: Settings, raw: Path) -> str:
    from infra.browser import open_url
    from pixring.security import api_token_hint, neo4j_login_hint

    return "\n".join([
        f"  data root        {settings.paths.home}",
        f"  generated data   {raw}",
        f"  Kafka bootstrap  {settings.kafka.bootstrap}",
        f"  Neo4j Bolt       {settings.neo4j.bolt_uri}  ({neo4j_login_hint(settings)})",
        f"  Neo4j Browser    {open_url(settings)}",
        f"                   (log in: {neo4j_login_hint(settings)}; the guide lists the saved queries)",
        f"  MLflow UI        {settings.mlflow.uri}",
        f"  API docs         {settings.api.url}/docs  (bearer: {api_token_hint(settings)['texto']})",
        f"  investigator UI  {settings.api.url}/ui  (same token)",
        f"  Prometheus       {settings.prometheus.url}  (targets: {settings.prometheus.url}/targets)",
        f"  stream metrics   http://127.0.0.1:{settings.streaming.metrics_port}/metrics",
        f"  service logs     {settings.paths.logs}",
        "  stop everything  .venv/bin/pixring down",
    ])

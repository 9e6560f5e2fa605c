"""The scorer's benchmark harness (``bench/bench_stream.py`` / ``pixring bench stream`` run it): speed, quality, broker restart.

Starts ``pixring stream`` as a subprocess in its own ``PIXRING_HOME`` (gold/silver lookups linked read-only
from the main data root when they exist), with its own topics and, unless ``--model-name`` names an
existing champion, the reference toy model registered under a bench-only name. Then, for each rate, it
produces transactions at that rate for ``--seconds`` (event time = now, so the feature windows behave as
live) while a consumer reads the scored topic, after a warm-up of ``WARMUP_S`` at the first rate, and reports:

* achieved produce rate and the scorer's throughput (scored / elapsed);
* end-to-end latency = scored record's Kafka timestamp - input record's Kafka timestamp (both set by the
  producers on this machine at send time): p50 / p95 / p99;
* sustained = every record scored within the drain time and p95 <= the target (3 s).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from pixring import kafka
from pixring.contract import STREAM_SCHEMA_VERSION, TIMESTAMP_FORMAT, TIMEZONE
from pixring.settings import Settings, get_settings
from tests.helpers import free_port

log = logging.getLogger(__name__)

P95_TARGET_S = 3.0
#: seconds of traffic at the first rate before measuring (the first ~30 s after a cold start run slower)
WARMUP_S = 30.0
LINKED = (("silver", "chaves_pix"), ("gold", "node_scores"), ("gold", "ring_candidates"), ("gold", "communities"))


@dataclass
class RateResult:
    rate: float
    produced: int
    produce_rate: float
    scored: int
    throughput: float
    p50: float
    p95: float
    p99: float
    drained_s: float

    @property
    def sustained(self) -> bool:
        return self.scored >= self.produced and self.p95 <= P95_TARGET_S

    def line(self) -> str:
        return (f"  {self.rate:>7,.0f}/s  produced {self.produced:>7,d} at {self.produce_rate:>7,.0f}/s  scored "
                f"{self.scored:>7,d} ({self.throughput:>7,.0f}/s)  latency p50 {self.p50:5.2f} s  p95 {self.p95:5.2f} s"
                f"  p99 {self.p99:5.2f} s  drain {self.drained_s:5.1f} s  {'OK' if self.sustained else 'NOT sustained'}")


def _keys(source: str | None, n: int = 20_000) -> list[str]:
    """Clear Pix keys to pay between: the data set's (so gold lookups hit) or synthetic EVPs."""
    if source:
        from lakehouse.producer import load_rows

        table = load_rows(Path(source), None)
        keys = list(dict.fromkeys(table.column("chave_pix_origem").to_pylist()
                                  + table.column("chave_pix_destino").to_pylist()))
        if keys:
            return keys
    return [str(uuid.UUID(int=i * 104729 + 7)) for i in range(n)]


class _ScoredReader(threading.Thread):
    """Consumes the scored topic: per id, (input Kafka ts ms, scored Kafka ts ms)."""

    def __init__(self, settings: Settings, topic: str) -> None:
        super().__init__(daemon=True)
        self.consumer = kafka.consumer(settings.kafka, f"bench-{uuid.uuid4().hex[:8]}", **{"enable.auto.commit": False})
        self.consumer.subscribe([topic])
        self.seen: dict[str, tuple[int, int]] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for msg in self.consumer.consume(2000, 0.2):
                if msg.error():
                    continue
                doc = json.loads(msg.value())
                self.seen.setdefault(doc["id_transacao"], (int(doc["kafka_ts_ms"]), msg.timestamp()[1]))
        self.consumer.close()


def _produce(settings: Settings, topic: str, keys: list[str], rate: float, seconds: float, prefix: str) -> tuple[int, float]:
    tz = ZoneInfo(TIMEZONE)
    p = kafka.producer(settings.kafka, **{"queue.buffering.max.messages": 1_000_000})
    n = int(rate * seconds)
    rng = np.random.default_rng(42)
    pairs = rng.integers(0, len(keys), size=(n, 2))
    values = np.round(rng.lognormal(4.5, 1.0, size=n), 2)
    pacer = kafka.Pacer(rate, p)
    for i in range(n):
        o, d = keys[pairs[i, 0]], keys[pairs[i, 1]]
        doc = _message(f"{prefix}{i:09d}", datetime.now(tz), float(max(values[i], 0.01)), o, d)
        kafka.send(p, topic, json.dumps(doc, separators=(",", ":")).encode(), o.encode())
        pacer.tick()
    p.flush(60)
    return n, n / pacer.elapsed()


def _message(id_tx: str, ts: datetime, valor: float, origem: str, destino: str) -> dict:
    """A ``pix.transacoes`` value (the contract's message) for a live p2p transfer."""
    return {"schema_version": STREAM_SCHEMA_VERSION, "id_transacao": id_tx, "timestamp": ts.strftime(TIMESTAMP_FORMAT),
            "valor": valor, "chave_pix_origem": origem, "chave_pix_destino": destino,
            "tipo_transacao": "transferencia_p2p", "status": "concluida"}


def _bench_home(base: Settings, home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    for layer, name in LINKED:
        src = base.paths.lakehouse / layer / name
        dst = home / "lakehouse" / layer / name
        if src.exists() and not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.symlink_to(src, target_is_directory=True)


def _fresh_run(home: str | None, prefix: str) -> tuple[Settings, str, str | None, Path]:
    """(the main data root's settings, a unique tag, the temporary home to remove or None, the bench home)."""
    base = get_settings()
    tmp = tempfile.mkdtemp(prefix=prefix) if home is None else None
    bench_home = Path(home or tmp)
    _bench_home(base, bench_home)
    return base, uuid.uuid4().hex[:8], tmp, bench_home


def run_bench(rates: list[float], seconds: float, source: str | None, home: str | None, model_name: str | None,
              drain_s: float = 60.0) -> list[RateResult]:
    base, tag, tmp, bench_home = _fresh_run(home, "pixring-bench-stream-")
    port = 19000 + int(tag[:3], 16) % 900
    env = {**os.environ, "PIXRING_HOME": str(bench_home),
           "PIXRING_KAFKA_TOPIC_TRANSACTIONS": f"bench.tx.{tag}", "PIXRING_KAFKA_TOPIC_SCORED": f"bench.scored.{tag}",
           "PIXRING_KAFKA_TOPIC_ALERTS": f"bench.alerts.{tag}", "PIXRING_KAFKA_TOPIC_DLQ": f"bench.dlq.{tag}",
           "PIXRING_STREAMING_METRICS_PORT": str(port)}
    if model_name is None:
        from tests.helpers import register_toy_model

        model_name = f"pixring-bench-stream-{tag}"
        register_toy_model(base, model_name)
    env["PIXRING_MLFLOW_MODEL_NAME"] = model_name
    os.environ.update({k: v for k, v in env.items() if k.startswith("PIXRING_KAFKA_TOPIC")})
    settings = Settings()
    from streaming.scorer import ensure_topics

    ensure_topics(settings)
    keys = _keys(source)
    reader = _ScoredReader(settings, settings.kafka.topic_scored)
    reader.start()
    logf = (bench_home / "stream-bench.log").open("w")
    child = subprocess.Popen([sys.executable, "-m", "pixring.cli", "stream"], env=env, stdout=logf,
                             stderr=subprocess.STDOUT, start_new_session=True)
    results: list[RateResult] = []
    try:
        # warm-up (not reported): a first small burst until the scorer answers, then WARMUP_S at the first rate,
        # so the figures are of a running scorer, not of the JIT compiling Spark's and Delta's code paths
        total = 0
        for w_rate, w_seconds in ((50, 1), (rates[0], WARMUP_S)):
            n, _ = _produce(settings, settings.kafka.topic_transactions, keys, w_rate, w_seconds, f"W{tag}-{total}-")
            total += n
            deadline = time.monotonic() + 300
            while len(reader.seen) < total and time.monotonic() < deadline:
                if child.poll() is not None:
                    raise RuntimeError(f"scorer exited: see {bench_home / 'stream-bench.log'}")
                time.sleep(0.5)
        for r_i, rate in enumerate(rates):
            prefix = f"B{tag}{r_i}-"
            t0 = time.monotonic()
            n, achieved = _produce(settings, settings.kafka.topic_transactions, keys, rate, seconds, prefix)
            produced_end = time.monotonic()
            while time.monotonic() - produced_end < drain_s:
                done = sum(1 for k in list(reader.seen) if k.startswith(prefix))
                if done >= n:
                    break
                time.sleep(0.25)
            mine = [v for k, v in list(reader.seen.items()) if k.startswith(prefix)]
            lat = np.array([(s - i) / 1000.0 for i, s in mine]) if mine else np.array([float("inf")])
            elapsed = (max(s for _, s in mine) / 1000.0 - (time.time() - (time.monotonic() - t0))) if mine else 0
            res = RateResult(rate, n, achieved, len(mine), len(mine) / max(elapsed, 1e-9),
                             *np.percentile(lat, [50, 95, 99]).tolist(), time.monotonic() - produced_end)
            results.append(res)
            print(res.line(), flush=True)
            if res.scored < n * 0.5:
                break  # far beyond capacity: higher rates would only queue up
        try:
            metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
            for line in metrics.splitlines():
                if line.startswith(("pixring_stream_batch_duration_seconds_sum", "pixring_stream_batch_duration_seconds_count",
                                    "pixring_stream_model_version", "pixring_stream_kafka_lag",
                                    "pixring_stream_sink_rows_total", "pixring_stream_sink_batch_duration_seconds_sum",
                                    "pixring_stream_sink_batch_duration_seconds_count")):
                    print("  metric", line)
        except OSError:
            pass
    finally:
        reader.stop.set()
        os.killpg(child.pid, 15)
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, 9)
        logf.close()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return results


def main(args: argparse.Namespace) -> int:
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    print(f"stream-bench: rates {rates}, {args.seconds:g} s each, {os.cpu_count()} cores", flush=True)
    results = run_bench(rates, args.seconds, args.source, args.home, getattr(args, "model_name", None))
    ok = [r for r in results if r.sustained]
    best = max((r.rate for r in ok), default=0)
    print(f"highest sustained rate (all scored, p95 <= {P95_TARGET_S:g} s): {best:,.0f} tx/s")
    return 0


# ------------------------------------------------------------------------------------------------ quality
def run_quality(source: str, home: str | None, model_name: str | None, rate: float = 20_000.0) -> dict:
    """Replay a datagen data set through ``pixring stream --available-now`` against the main data root's gold
    tables and champion; compare decisions with ``_truth/transacoes_fraudulentas.csv``."""
    import csv

    base, tag, tmp, bench_home = _fresh_run(home, "pixring-bench-quality-")
    env = {**os.environ, "PIXRING_HOME": str(bench_home), "PIXRING_KAFKA_TOPIC_TRANSACTIONS": f"quality.tx.{tag}",
           "PIXRING_KAFKA_TOPIC_SCORED": f"quality.scored.{tag}", "PIXRING_KAFKA_TOPIC_ALERTS": f"quality.alerts.{tag}",
           "PIXRING_KAFKA_TOPIC_DLQ": f"quality.dlq.{tag}", "PIXRING_MLFLOW_MODEL_NAME": model_name or base.mlflow.model_name,
           "PIXRING_STREAMING_MAX_OFFSETS_PER_TRIGGER": "100000"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        settings = Settings()
        from lakehouse.producer import produce

        print(produce(settings, Path(source), rate=rate, limit=None), flush=True)
        t0 = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "pixring.cli", "stream", "--available-now", "--no-metrics"],
                              env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-3000:])
        print(done.stdout.strip(), f"\n  ({time.monotonic() - t0:.1f} s including Spark start)", flush=True)
        from lakehouse.paths import table_path
        from pixring.spark import get_spark

        spark = get_spark(settings)
        rows = (spark.read.format("delta").load(table_path(settings, "gold", "scored_transactions"))
                .select("id_transacao", "decisao", "motivos").toPandas())
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    truth_file = Path(source) / "_truth" / "transacoes_fraudulentas.csv"
    with truth_file.open() as fh:
        fraud = {r["id_transacao"] for r in csv.DictReader(fh) if r.get("id_ring")}
    flagged = rows["decisao"].isin(["review", "block"])
    is_fraud = rows["id_transacao"].isin(fraud)
    n_fraud, n_legit = int(is_fraud.sum()), int((~is_fraud).sum())
    out = {
        "scored": len(rows), "fraud": n_fraud, "legit": n_legit,
        "fraud_flagged": float((flagged & is_fraud).sum() / max(n_fraud, 1)),
        "legit_flagged": float((flagged & ~is_fraud).sum() / max(n_legit, 1)),
        "fraud_block": float(((rows["decisao"] == "block") & is_fraud).sum() / max(n_fraud, 1)),
    }
    reasons: dict[str, list[int]] = {}
    for motivos, f, fl in zip(rows["motivos"], is_fraud, flagged):
        for m in (motivos if motivos is not None else []):
            reasons.setdefault(m, [0, 0])[0 if f else 1] += 1
    out["reasons"] = reasons
    print(f"quality: {out['scored']:,d} scored; {n_fraud} ring-fraud tx: {out['fraud_flagged']:.1%} review/block "
          f"({out['fraud_block']:.1%} block) [target >= 90 %]; {n_legit:,d} legit: {out['legit_flagged']:.2%} "
          f"review/block [target <= 1 %]")
    for m, (f, lg) in sorted(reasons.items()):
        print(f"  reason {m:22s} fraud {f:5d}  legit {lg:6d}")
    return out


# ------------------------------------------------------------------------------------------ broker restart
def run_broker_restart(rate: float = 500.0, seconds: float = 60.0, restart_after: float = 20.0,
                       down_s: float = 10.0, drain_s: float = 300.0) -> dict:
    """Restart a *private* Kafka broker (own home and ports, never the shared one) under load: produce at
    ``rate`` for ``seconds``, stop the broker ``restart_after`` s in for ``down_s`` s, start it again; then
    check every transaction reached the scored topic and ``gold/scored_transactions`` exactly once."""
    from infra.services import KafkaService
    from lakehouse.paths import table_path
    from tests.helpers import register_toy_model
    from streaming.scorer import ensure_topics

    base = get_settings()
    tag = uuid.uuid4().hex[:8]
    home = Path(tempfile.mkdtemp(prefix="pixring-bench-broker-"))
    _bench_home(base, home)
    kport = free_port()
    env = {**os.environ, "PIXRING_HOME": str(home), "PIXRING_KAFKA_PORT": str(kport),
           "PIXRING_KAFKA_CONTROLLER_PORT": str(free_port()), "PIXRING_PROMETHEUS_KAFKA_EXPORTER_PORT": str(free_port()),
           "PIXRING_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kport}", "PIXRING_STREAMING_METRICS_PORT": str(free_port()),
           "PIXRING_MLFLOW_MODEL_NAME": f"pixring-bench-broker-{tag}"}
    saved = {k: os.environ.get(k) for k in env if k.startswith("PIXRING_")}
    os.environ.update({k: v for k, v in env.items() if k.startswith("PIXRING_")})
    settings = Settings()
    kafka = KafkaService(settings)
    child = None
    out: dict = {}
    try:
        try:
            print(f"private broker on :{kport}: started in {kafka.start():.1f} s", flush=True)
        except Exception:
            print(kafka.log_file.read_text()[-2000:] if kafka.log_file.exists() else "(no broker log)")
            raise
        register_toy_model(settings, settings.mlflow.model_name)
        ensure_topics(settings)
        logf = (home / "stream.log").open("w")
        child = subprocess.Popen([sys.executable, "-m", "pixring.cli", "stream"], env=env, stdout=logf,
                                 stderr=subprocess.STDOUT, start_new_session=True)
        keys = _keys(None)
        reader = _ScoredReader(settings, settings.kafka.topic_scored)
        reader.start()
        produced: list[int] = []
        prod = threading.Thread(target=lambda: produced.append(
            _produce_resilient(settings, keys, rate, seconds, f"K{tag}-")), daemon=True)
        t0 = time.monotonic()
        prod.start()
        while not reader.seen and time.monotonic() - t0 < 600:  # the scorer is up and scoring
            time.sleep(0.5)
        print(f"  t={time.monotonic() - t0:.0f} s: scorer is scoring", flush=True)
        time.sleep(restart_after)
        print(f"  t={time.monotonic() - t0:.0f} s: broker {kafka.stop()}", flush=True)
        time.sleep(down_s)
        print(f"  t={time.monotonic() - t0:.0f} s: broker restarted in {kafka.start():.1f} s", flush=True)
        prod.join()
        n = produced[0]
        deadline = time.monotonic() + drain_s
        while time.monotonic() < deadline and len([k for k in list(reader.seen) if k.startswith(f"K{tag}-")]) < n:
            if child.poll() is not None:
                break
            time.sleep(1)
        reader.stop.set()
        on_topic = len([k for k in list(reader.seen) if k.startswith(f"K{tag}-")])
        from pixring.spark import get_spark

        spark = get_spark(settings)
        path = table_path(settings, "gold", "scored_transactions")
        while True:  # the last batch's MERGE follows its publication: wait for it before stopping the scorer
            stats = spark.read.format("delta").load(path).selectExpr(
                "count(*) n", "count(distinct id_transacao) ids").first()
            if stats.n >= n or time.monotonic() > deadline or child.poll() is not None:
                break
            time.sleep(3)
        os.killpg(child.pid, 15)
        child.wait(60)
        child = None
        out = {"produced": n, "scored_topic_ids": on_topic, "delta_rows": stats.n, "delta_ids": stats.ids,
               "recovery_s": time.monotonic() - t0}
        ok = on_topic == n == stats.n == stats.ids
        print(f"broker restart under {rate:g} tx/s: produced {n:,d}; scored topic {on_topic:,d} distinct ids; "
              f"Delta {stats.n:,d} rows / {stats.ids:,d} ids -> {'no loss, no duplicate' if ok else 'MISMATCH'}")
        print(f"  (scorer log: {home / 'stream.log'} until cleanup)")
    finally:
        if child is not None:
            os.killpg(child.pid, 9)
        kafka.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(home, ignore_errors=True)
    return out


def _produce_resilient(settings: Settings, keys: list[str], rate: float, seconds: float, prefix: str) -> int:
    """Like :func:`_produce` but with a producer that rides out a broker outage (long message timeout)."""
    tz = ZoneInfo(TIMEZONE)
    p = kafka.producer(settings.kafka, **{"message.timeout.ms": 600_000, "queue.buffering.max.messages": 1_000_000})
    n = int(rate * seconds)
    failed: list[str] = []
    pacer = kafka.Pacer(rate, p)
    for i in range(n):
        o, d = keys[i % len(keys)], keys[(i * 7 + 3) % len(keys)]
        doc = _message(f"{prefix}{i:09d}", datetime.now(tz), 10.0 + i % 100, o, d)
        kafka.send(p, settings.kafka.topic_transactions, json.dumps(doc).encode(), o.encode(),
                   on_delivery=lambda err, _m: failed.append(str(err)) if err else None)
        p.poll(0)
        pacer.tick()
    p.flush(600)
    if failed:
        raise RuntimeError(f"{len(failed)} input messages were not delivered: {failed[:1]}")
    return n

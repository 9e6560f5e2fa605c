"""``pixring stream``: the Structured Streaming scorer of live Pix transactions.

Kafka ``pix.transacoes`` --(Spark Kafka source, checkpoint)--> ``foreachBatch`` (:class:`BatchScorer`):

1. parse every record against the explicit schema and the contract's id rule (:mod:`streaming.parse`), and
   check its event time against the clock (future tolerance) and the feature state (watermark); a failing
   record goes to the DLQ topic as it came (raw key and value bytes, cut to the size limit) with the reason in
   its headers, and never touches the state or any other sink;
2. tokenise the clear keys at once (HMAC, same secret and canonical form as silver) - nothing downstream ever
   sees a clear key;
3. look origin and destination up in silver ``chaves_pix`` (owner user, key age) and gold ``node_scores``,
   ``ring_candidates``, ``communities`` (:class:`streaming.lookup.GoldLookup`, re-read when their Delta
   version moves);
4. stateful features per key (:class:`streaming.features.ReceiptState`), in event order;
5. score with the MLflow champion (reloaded when the alias moves) plus :func:`gnn.serving.rules` /
   :func:`gnn.serving.decide`;
6. sinks: every transaction to ``pix.transacoes.scored``, ring alerts to ``pix.alertas`` (at-least-once:
   idempotent producer, flushed before the batch ends; a replayed batch publishes again and consumers
   de-duplicate by ``id_transacao`` / ``id_alerta``).

``gold/scored_transactions`` is written from the scored topic by a second query (:mod:`streaming.sink`,
insert-only MERGE on ``id_transacao``: exactly once per id, whatever is replayed), off the latency path.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import orjson
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from gnn.drift import DriftWindow
from gnn.serving import TX_FEATURES, decide, rules
from lakehouse import delta
from lakehouse.paths import checkpoint_path, slug, table_path
from pixring import kafka, logs
from pixring.contract import TIMEZONE
from pixring.durations import parse_duration
from pixring.errors import PixringError
from pixring.settings import Settings
from pixring.spark import kafka_stream
from streaming import sink as delta_sink
from streaming.features import ReceiptState, seconds, static_features
from streaming.lookup import GoldLookup
from streaming.metrics import StreamMetrics
from streaming.model import ChampionModel
from streaming.online_sink import OnlineWriter
from streaming.parse import Tx, parse_record
from streaming.schemas import SCORED_PROPERTIES, SCORED_TABLE, SCORED_TRANSACTIONS

log = logging.getLogger(__name__)

MAX_STREAM_ATTEMPTS = 3
#: clear key -> token memo entries kept (~200 bytes each; least recently used dropped first)
TOKEN_CACHE = 500_000


@dataclass
class BatchOutput:
    """What one micro-batch produces (also what the pure-logic tests look at)."""

    #: rows of streaming.schemas.SCORED_MESSAGE (valor a float, times as datetimes) = the scored messages
    scored: list[dict] = field(default_factory=list)
    scored_msgs: list[tuple[bytes, bytes]] = field(default_factory=list)
    alerts: list[tuple[bytes, bytes]] = field(default_factory=list)
    dlq: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]] = field(default_factory=list)
    duplicates: int = 0
    #: the model's inputs and outputs of the scored rows (for drift)
    features: pd.DataFrame | None = None
    scores: np.ndarray | None = None


@dataclass
class StreamReport:
    topic: str
    batches: int = 0
    records: int = 0
    scored: int = 0
    dlq: int = 0
    alerts: int = 0
    inserted: int = 0
    model_version: str = "none"
    gold_version: str = ""
    attempts: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        return "\n".join([
            f"stream {self.topic} -> scored/alerts/dlq + gold/{SCORED_TABLE} ({self.seconds:.1f} s, "
            f"{self.attempts} attempt(s))",
            f"  {self.batches} batches, {self.records:,d} records: {self.scored:,d} scored "
            f"({self.inserted:,d} new in Delta), {self.dlq:,d} to the DLQ, {self.alerts:,d} alerts",
            f"  model version {self.model_version}; lookups {self.gold_version}",
        ])


def _ms(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


def _bytes(v) -> bytes | None:
    return None if v is None else bytes(v)


def dlq_message(key: bytes | None, value: bytes | None, reason: str, origin: str, received_at: datetime,
                max_bytes: int) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
    """The DLQ record of a rejected input record: its key and value as received, the reason in the headers.

    A key or value longer than ``max_bytes`` is cut to its first ``max_bytes`` (a DLQ record the broker
    refuses would fail the batch again on every replay); ``pixring.tamanho`` / ``pixring.sha256`` then give the
    original's size and digest, and ``pixring.origem`` (``topic/partition/offset``) where it still is.
    """
    headers = [("pixring.motivo", reason.encode()), ("pixring.origem", origin.encode()),
               ("pixring.recebido_em", _ms(received_at).encode())]
    if value is not None and len(value) > max_bytes:
        headers += [("pixring.tamanho", str(len(value)).encode()),
                    ("pixring.sha256", hashlib.sha256(value).hexdigest().encode())]
        value = value[:max_bytes]
    if key is not None and len(key) > max_bytes:
        headers.append(("pixring.tamanho_chave", str(len(key)).encode()))
        key = key[:max_bytes]
    return key, value, headers


def local_from_micros(us: int, tz: ZoneInfo) -> datetime:
    """Epoch microseconds -> naive wall-clock time in ``tz`` (the Spark session time zone)."""
    return datetime.fromtimestamp(us / 1e6, tz).replace(tzinfo=None)


def decide_row(r: dict, feats: dict[str, float], score: float, scoring, version: str, gold_version: str,
               decided_at: datetime, decided_ms: int) -> None:
    """Complete a scored row in place: score, decision and reasons (:func:`gnn.serving.decide`), versions, time."""
    decision, reasons = decide(score, rules(feats, scoring), scoring)
    r.update({"score": score, "decisao": decision, "motivos": reasons, "modelo_versao": version,
              "gold_versao": gold_version, "pontuado_em": decided_at, "pontuado_em_ms": decided_ms})


def alert_messages(r: dict, o_ring, d_ring, decided_ms: int) -> list[tuple[bytes, bytes]]:
    """One alert per ring involved (origin and/or destination owner is a member) of a decided row."""
    rings: dict[str, tuple] = {}
    for side, ring, user in (("origem", o_ring, r["id_usuario_origem"]),
                             ("destino", d_ring, r["id_usuario_destino"])):
        if ring is None:
            continue
        entry = rings.setdefault(ring.id_anel, (ring, [], []))
        entry[1].append(user)
        entry[2].append(side)
    out = []
    for id_anel, (ring, members, sides) in rings.items():
        alert = {
            "id_alerta": f"{r['id_transacao']}:{id_anel}", "id_anel": id_anel, "risco_anel": ring.risco,
            "n_membros_anel": len(ring.membros), "membros_envolvidos": sorted(set(members)),
            "papel": sides, "id_transacao": r["id_transacao"], "timestamp": _ms(r["timestamp"]),
            "valor": float(r["valor"]),
            # money this transaction moves into the ring (0 when only the payer is a member) + the ring's
            "valor_em_risco": float(r["valor"]) if "destino" in sides else 0.0,
            "valor_em_risco_anel": ring.valor_em_risco,
            "chave_pix_origem": r["chave_pix_origem"], "chave_pix_destino": r["chave_pix_destino"],
            "decisao": r["decisao"], "score": r["score"], "motivos": r["motivos"],
            "modelo_versao": r["modelo_versao"], "gerado_em_ms": decided_ms,
        }
        out.append((id_anel.encode(), orjson.dumps(alert)))
    return out


class BatchScorer:
    """The ``foreachBatch`` function; holds the model, the lookups, the feature state and the producer."""

    def __init__(self, spark: SparkSession, settings: Settings, model: ChampionModel, lookup: GoldLookup,
                 state: ReceiptState, metrics: StreamMetrics, producer, report: StreamReport,
                 online: OnlineWriter | None = None) -> None:
        self.spark = spark
        self.settings = settings
        self.model = model
        self.lookup = lookup
        self.state = state
        self.metrics = metrics
        self.producer = producer
        self.report = report
        self.online = online  # the online store's writer (streaming.online_sink); None: not enabled
        self._key = settings.security.pii_secret.get_secret_value().encode("utf-8")
        self._token = lru_cache(maxsize=TOKEN_CACHE)(self._hmac)
        self._tz = ZoneInfo(spark.conf.get("spark.sql.session.timeZone", TIMEZONE))
        self._delivery_errors: list[str] = []
        self.drift = DriftWindow(settings.streaming.drift_window)
        spark.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
        spark.conf.set("spark.sql.execution.arrow.pyspark.fallback.enabled", "false")

    # ------------------------------------------------------------------------------------ pure logic
    def _hmac(self, clear: str) -> str:
        """HMAC token of a canonical clear key (``self._token`` is its memo: keys repeat)."""
        return hmac.new(self._key, clear.encode("utf-8"), hashlib.sha256).hexdigest()

    def score_records(self, records: pd.DataFrame) -> BatchOutput:
        """Kafka records (key, value, topic, partition, offset, ts_us) -> scored rows, messages, DLQ."""
        out = BatchOutput()
        now_local = datetime.now(self._tz).replace(tzinfo=None, microsecond=0)
        ss = self.settings.streaming
        not_after = now_local + timedelta(seconds=ss.max_future_seconds)
        max_bytes = ss.max_message_bytes

        def reject(rec, reason: str) -> None:
            out.dlq.append(dlq_message(_bytes(rec.key), _bytes(rec.value), reason,
                                       f"{rec.topic}/{rec.partition}/{rec.offset}", now_local, max_bytes))

        good: list[tuple[Tx, object]] = []
        seen: set[str] = set()
        mfc = self.settings.lakehouse.max_field_chars
        for rec in records.itertuples(index=False):
            parsed = parse_record(rec.value, mfc, max_bytes=max_bytes, not_after=not_after)
            if isinstance(parsed, str):
                reject(rec, parsed)
                continue
            if parsed.id_transacao in seen:
                out.duplicates += 1
                continue
            seen.add(parsed.id_transacao)
            good.append((parsed, rec))
        good.sort(key=lambda g: (g[0].timestamp, g[0].id_transacao))

        rows: list[dict] = []
        feature_rows: list[dict[str, float]] = []
        ring_pairs: list[tuple] = []
        lk, st = self.lookup, self.state
        owner, user_ring, user_score = lk.owner, lk.user_ring, lk.user_score
        for tx, rec in good:
            t = seconds(tx.timestamp)
            # older than the watermark: its windows would miss evicted receipts, so it is not scored and never
            # enters the state; a replayed record the state already holds was accepted before and scores again
            if st.is_late(t) and tx.id_transacao not in st.ids:
                reject(rec, "timestamp_atrasado:timestamp")
                continue
            ts_us = int(rec.ts_us) if rec.ts_us == rec.ts_us else 0
            o_tok, d_tok = self._token(tx.origem), self._token(tx.destino)
            o_user, _ = owner(o_tok)
            d_user, d_cadastro = owner(d_tok)
            d_ring = user_ring.get(d_user) if d_user else None
            o_ring = user_ring.get(o_user) if o_user else None
            feats = static_features(tx.timestamp, tx.valor, user_score.get(o_user) if o_user else None,
                                    user_score.get(d_user) if d_user else None,
                                    d_ring.risco if d_ring else None, d_cadastro)
            late = st.is_late(t)
            feats.update(st.features(t, tx.id_transacao, o_tok, d_tok, tx.valor))
            st.add(t, tx.id_transacao, o_tok, d_tok, tx.valor, tx.status)
            feature_rows.append(feats)
            ring_pairs.append((o_ring, d_ring))
            rows.append({
                "id_transacao": tx.id_transacao, "timestamp": tx.timestamp, "data": tx.timestamp.date(),
                "valor": tx.valor, "chave_pix_origem": o_tok,
                "chave_pix_destino": d_tok, "tipo_transacao": tx.tipo_transacao, "status": tx.status,
                "id_usuario_origem": o_user, "id_usuario_destino": d_user,
                "id_anel_origem": o_ring.id_anel if o_ring else None,
                "id_anel_destino": d_ring.id_anel if d_ring else None,
                **{k: v for k, v in feats.items() if k != "valor"}, "atrasada": late,
                "kafka_topic": rec.topic, "kafka_partition": int(rec.partition), "kafka_offset": int(rec.offset),
                "kafka_timestamp": local_from_micros(ts_us, self._tz) if ts_us else None,
                "kafka_ts_ms": ts_us // 1000,
            })
        st.evict()
        if not rows:
            return out

        features = pd.DataFrame(feature_rows, columns=list(TX_FEATURES))
        scores = self.model.predict(features)
        out.features, out.scores = features, scores
        scoring = self.settings.scoring
        decided_ms = int(time.time() * 1000)
        decided_at = local_from_micros(decided_ms * 1000, self._tz)
        version, gold_version = self.model.version, lk.version
        dumps = orjson.dumps
        for r, feats, (o_ring, d_ring), score in zip(rows, feature_rows, ring_pairs, scores.tolist()):
            decide_row(r, feats, score, scoring, version, gold_version, decided_at, decided_ms)
            out.scored.append(r)
            out.scored_msgs.append((r["id_transacao"].encode(), dumps(r)))
            if r["decisao"] != "allow":
                out.alerts.extend(alert_messages(r, o_ring, d_ring, decided_ms))
        return out

    # ------------------------------------------------------------------------------------- the sinks
    def _on_delivery(self, err, _msg) -> None:
        if err is not None:
            self._delivery_errors.append(str(err))

    def _publish(self, out: BatchOutput) -> None:
        k = self.settings.kafka
        p = self.producer
        for topic, msgs in ((k.topic_scored, out.scored_msgs), (k.topic_alerts, out.alerts)):
            for key, value in msgs:
                self._produce(p, topic, key, value, None)
        for key, value, headers in out.dlq:
            self._produce(p, k.topic_dlq, key, value, headers)
        p.poll(0)

    def _produce(self, p, topic: str, key, value, headers) -> None:
        kafka.send(p, topic, value, key, headers=headers, on_delivery=self._on_delivery)

    def __call__(self, batch: DataFrame, epoch_id: int) -> None:
        # every log record of this micro-batch carries ``scorer-b<epoch>`` (pixring.logs)
        with logs.bind(f"scorer-b{epoch_id}"):
            self._process(batch, epoch_id)

    def _process(self, batch: DataFrame, epoch_id: int) -> None:
        t0 = time.monotonic()
        marks = [t0]
        if self.model.maybe_refresh():
            self.metrics.model_loads.inc()
        self.metrics.model_version.set(float(self.model.version) if self.model.version.isdigit() else 0)
        if self.lookup.refresh():
            self.metrics.gold_reloads.inc()
        marks.append(time.monotonic())
        records = batch.select("key", "value", "topic", "partition", "offset",
                               F.unix_micros("timestamp").alias("ts_us")).toPandas()
        if records.empty:
            return
        marks.append(time.monotonic())
        out = self.score_records(records)
        marks.append(time.monotonic())
        self._delivery_errors.clear()
        self._publish(out)
        if self.online is not None:  # never raises for a down store: kept and replayed (streaming.online_sink)
            self.online.write(out.scored, self._tz)
        marks.append(time.monotonic())
        remaining = self.producer.flush(120)
        marks.append(time.monotonic())
        if remaining or self._delivery_errors:
            raise PixringError(f"batch {epoch_id}: {remaining} Kafka messages undelivered, "
                               f"{len(self._delivery_errors)} failed ({self._delivery_errors[:1]})")
        n = len(records)
        dt = time.monotonic() - t0
        m = self.metrics
        m.rows.labels("scored").inc(len(out.scored))
        m.rows.labels("dlq").inc(len(out.dlq))
        for reason, k in Counter(h[0][1].decode().split(":")[0] for _, _, h in out.dlq).items():
            m.dlq.labels(reason).inc(k)
        m.rows.labels("duplicate").inc(out.duplicates)
        for decision, k in Counter(r["decisao"] for r in out.scored).items():
            m.decisions.labels(decision).inc(k)
        for r in out.scored:
            if r["kafka_ts_ms"] > 0:
                m.latency.observe(max(0.0, (r["pontuado_em_ms"] - r["kafka_ts_ms"]) / 1000.0))
        m.record_alerts(len(out.alerts))
        if out.features is not None and self.model.reference:
            self.drift.add(out.features, out.scores)
            m.record_drift(self.drift.psi(self.model.reference))
        m.batch_seconds.observe(dt)
        m.batch_rows.set(n)
        m.rows_per_second.set(n / dt if dt > 0 else 0)
        m.state_receipts.set(len(self.state))
        m.last_batch.set(time.time())
        rep = self.report
        rep.batches += 1
        rep.records += n
        rep.scored += len(out.scored)
        rep.dlq += len(out.dlq)
        rep.alerts += len(out.alerts)
        rep.model_version, rep.gold_version = self.model.version, self.lookup.version
        phases = "/".join(f"{b - a:.2f}" for a, b in zip(marks, marks[1:]))
        log.info("epoch %d: %d records, %d scored, %d dlq, %d alerts in %.2f s "
                 "(refresh/read/score/publish/flush %s)", epoch_id, n, len(out.scored),
                 len(out.dlq), len(out.alerts), dt, phases)


# ------------------------------------------------------------------------------------------ running
def ensure_scored_table(spark: SparkSession, settings: Settings) -> str:
    path = table_path(settings, "gold", SCORED_TABLE)
    delta.ensure_table(spark, path, SCORED_TRANSACTIONS, properties=SCORED_PROPERTIES)
    return path


def load_state(spark: SparkSession, settings: Settings, state: ReceiptState) -> int:
    """Rebuild the feature state from the scored table: the last hour + watermark of event time.

    Rows stamped after the clock's future tolerance are left out (the scorer never writes one; a table written
    before that check could hold one, and the state must not start from it)."""
    path = table_path(settings, "gold", SCORED_TABLE)
    tz = ZoneInfo(spark.conf.get("spark.sql.session.timeZone", TIMEZONE))
    limit_us = int((time.time() + settings.streaming.max_future_seconds) * 1e6)
    df = (spark.read.format("delta").load(path).withColumn("_us", F.unix_micros("timestamp"))
          .filter(F.col("_us") <= limit_us))
    top = df.agg(F.max("_us")).first()[0]
    if top is None:
        return 0
    horizon_us = int(top - (3600 + state.watermark) * 1e6)
    rows = (df.filter(F.col("_us") >= horizon_us)
            .select("_us", "id_transacao", "chave_pix_origem", "chave_pix_destino", "valor", "status")
            .toLocalIterator())
    n = state.load((local_from_micros(r[0], tz), r[1], r[2], r[3], r[4], r[5]) for r in rows)
    log.info("feature state rebuilt from %d scored rows (%d receipts kept)", n, len(state))
    return n


def ensure_topics(settings: Settings) -> None:
    k = settings.kafka
    for topic in (k.topic_transactions, k.topic_scored, k.topic_alerts, k.topic_dlq):
        kafka.ensure_topic(k, topic)


def make_producer(settings: Settings):
    return kafka.producer(settings.kafka, **{"compression.type": "lz4", "message.timeout.ms": 120_000,
                                             "queue.buffering.max.messages": 1_000_000})


def _lag(query) -> float | None:
    try:
        progress = query.lastProgress
        if not progress:
            return None
        metrics = progress["sources"][0]["metrics"] or {}
        value = metrics.get("maxOffsetsBehindLatest")
        return float(value) if value is not None else None
    except Exception:  # noqa: BLE001 - progress shape varies between versions; a metric is best effort
        return None


def _stop(*queries) -> None:
    for q in queries:
        if q is not None and q.isActive:
            q.stop()


def _start_driver_query(spark: SparkSession, settings: Settings, model: ChampionModel, metrics: StreamMetrics,
                        producer, report: StreamReport, checkpoint: str, name: str, available_now: bool,
                        online: OnlineWriter | None = None):
    """The driver engine's query: the state rebuilt from the scored table, lookups in driver dicts."""
    ss = settings.streaming
    state = ReceiptState(parse_duration(ss.watermark))
    load_state(spark, settings, state)
    if online is not None:  # what a crash left pending is in the scored table: write it again
        online.seed(state.by_key, ZoneInfo(spark.conf.get("spark.sql.session.timeZone", TIMEZONE)))
    lookup = GoldLookup(spark, settings)
    lookup.refresh()
    scorer = BatchScorer(spark, settings, model, lookup, state, metrics, producer, report, online)
    source = kafka_stream(spark, settings, settings.kafka.topic_transactions, ss.max_offsets_per_trigger)
    writer = (source.writeStream.queryName(name).foreachBatch(scorer).option("checkpointLocation", checkpoint))
    writer = writer.trigger(availableNow=True) if available_now else writer.trigger(
        processingTime=f"{ss.trigger_seconds:g} seconds")
    return writer.start()


def run_stream(spark: SparkSession, settings: Settings, *, available_now: bool = False,
               max_seconds: float | None = None, allow_no_model: bool = False,
               serve_metrics: bool = True) -> StreamReport:
    """Run the scorer until stopped (Ctrl-C), until ``max_seconds`` or, with ``available_now``, until the
    records available at start are scored.

    Two queries share the session: the scorer (``pix.transacoes`` -> decisions on the scored, alert and DLQ
    topics) and the Delta sink (scored topic -> ``gold/scored_transactions``, :mod:`streaming.sink`). Each
    attempt first drains the scored topic into the table, then rebuilds the feature state from it; on the way
    out (stop, ``max_seconds``, available-now) the sink drains again, so the table holds every scored record.
    """
    from pyspark.errors import StreamingQueryException

    t0 = time.monotonic()
    spark.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
    ss = settings.streaming
    topic = settings.kafka.topic_transactions
    report = StreamReport(topic=topic)
    ensure_topics(settings)
    ensure_scored_table(spark, settings)
    metrics = StreamMetrics()
    if serve_metrics:
        try:
            metrics.serve(ss.metrics_port, ss.metrics_host)
        except OSError as exc:
            log.warning("metrics port %d unavailable: %s", ss.metrics_port, exc)
    model = ChampionModel(settings, required=not allow_no_model)
    model.maybe_refresh(force=True)
    if model.loads:
        metrics.model_loads.inc()
    producer = make_producer(settings)
    online = OnlineWriter(settings) if settings.redis.enabled else None
    sink = delta_sink.DeltaSink(spark, settings, metrics)
    safe = slug(topic)
    checkpoint = checkpoint_path(settings, f"scorer_{safe}")
    error = None
    for attempt in range(1, MAX_STREAM_ATTEMPTS + 1):
        report.attempts = attempt
        query = sink_query = None
        try:
            drained = delta_sink.drain(spark, settings, sink)
            if drained.messages:
                log.info("drained %d scored messages (%d new rows) before rebuilding the state",
                         drained.messages, drained.inserted)
            if ss.engine == "executors":  # the state lives in the query's own checkpoint (RocksDB)
                from streaming import executors

                query = executors.start(spark, settings, model, metrics, report,
                                        checkpoint_path(settings, f"scorer_exec_{safe}"), f"scorer_exec_{safe}",
                                        available_now=available_now)
            else:
                query = _start_driver_query(spark, settings, model, metrics, producer, report, checkpoint,
                                            f"scorer_{safe}", available_now, online)
            if not available_now:
                sink_query = delta_sink.start(spark, settings, sink)
            metrics.scoring.set(1)
            log.info("scoring %s (checkpoint %s, model %s@champion v%s)", topic, checkpoint, model.name,
                     model.version)
            while query.isActive:
                query.awaitTermination(1.0)
                lag = _lag(query)
                if lag is not None:
                    metrics.lag.set(lag)
                if sink_query is not None and not sink_query.isActive:
                    log.warning("the Delta sink query stopped: stopping the scorer")
                    query.stop()
                if max_seconds is not None and time.monotonic() - t0 > max_seconds:
                    log.info("max seconds reached: stopping")
                    query.stop()
            error = query.exception() or (sink_query.exception() if sink_query is not None else None)
        except KeyboardInterrupt:
            error = None
        except StreamingQueryException as exc:
            error = (query.exception() if query is not None else None) or exc
        finally:
            metrics.scoring.set(0)
            _stop(query, sink_query)
        if error is None:
            break
        log.warning("stream attempt %d/%d failed (%s); restarting from the checkpoint", attempt,
                    MAX_STREAM_ATTEMPTS, str(error).splitlines()[0][:300])
    else:
        raise PixringError(f"stream scoring failed {MAX_STREAM_ATTEMPTS} times; last error: "
                           f"{str(error).splitlines()[0][:300]}")
    producer.flush(60)
    if online is not None:
        online.drain()
    delta_sink.drain(spark, settings, sink)  # what the last batches published, into the table
    report.inserted = sink.report.inserted
    report.model_version = model.version
    report.seconds = time.monotonic() - t0
    return report

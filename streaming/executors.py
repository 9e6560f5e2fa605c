"""The scorer on Spark executors (``PIXRING_STREAMING_ENGINE=executors``): no per-record work on the driver.

One streaming query, every record-level step a Spark operator:

1. **parse + validate** (:func:`parsed`): a pandas UDF runs :func:`streaming.parse.parse_record` (the one
   definition of the schema-1 rules and DLQ reasons; not copied into Column expressions) on the executors, the
   future-time bound from the executor's clock; the clear keys are tokenised at once in Spark's own
   expressions (:func:`lakehouse.transforms.tokenise.tokenise`, HMAC-SHA256 with the pads broadcast as data);
2. **per-key state** (:class:`ReceiptProcessor`): each valid transaction is routed twice, to its destination
   key (it adds a receipt there and reads the destination's windows) and to its origin key (it reads
   ``repasse_origem`` from the origin's receipts), grouped by key into ``transformWithStateInPandas`` on the
   RocksDB state store, event-time mode with a watermark of ``PIXRING_STREAMING_WATERMARK``. The features are
   :func:`pixring.features.window_features` (the same function training and the API use). A transaction
   older than the watermark goes to the DLQ (``timestamp_atrasado``) and never enters the state; receipts
   older than ``watermark - 1 h`` are evicted, and an event-time timer clears a key that went quiet;
3. **micro-batch sink** (:class:`ExecutorBatch`, ``foreachBatch``): the driver only plans. Stream-static joins
   against silver ``chaves_pix`` and gold ``node_scores`` / ``ring_candidates`` (each re-read when its Delta
   version moves, cached on the executors), then ``mapInPandas`` scores on the executors with the champion
   (loaded once per executor process, reloaded when the version the driver resolved for the batch changes,
   signature verified there too) and :func:`streaming.scorer.decide_row` / :func:`alert_messages`; scored,
   alert and DLQ records leave through Spark's Kafka sink in one write (``topic`` column; DLQ reason in the
   ``headers`` column, as the driver engine writes them).

``gold/scored_transactions`` is still written exactly once per id by :mod:`streaming.sink` from the scored
topic. The online store write has one place per micro-batch: :meth:`ExecutorBatch.online_write`.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StatefulProcessor, StatefulProcessorHandle

from lakehouse.delta import is_table
from lakehouse.transforms.tokenise import tokenise
from pixring import kafka, logs
from pixring.contract import TIMEZONE
from pixring.durations import parse_duration
from pixring.features import WINDOW_1H_S, is_effective, window_features
from pixring.settings import Settings
from pixring.spark import kafka_stream
from streaming.lookup import GoldLookup, Ring
from streaming.parse import parse_record

log = logging.getLogger(__name__)

ROCKSDB = "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"

#: parse_record's result as a struct column (``motivo`` set: the record goes to the DLQ)
PARSED = ("motivo string, id_transacao string, timestamp timestamp, valor double, chave_pix_origem string, "
          "chave_pix_destino string, tipo_transacao string, status string")
#: the rows entering and leaving the stateful operator
STATE_ROW = ("k string, papel string, motivo string, id_transacao string, timestamp timestamp, ev_ms long, "
             "valor double, chave_pix_origem string, chave_pix_destino string, tipo_transacao string, "
             "status string, raw_key binary, raw_value binary, kafka_topic string, kafka_partition int, "
             "kafka_offset long, kafka_timestamp timestamp, kafka_ms long")
WINDOW_COLS = ("recebidos_10min_destino", "recebidos_1h_destino", "remetentes_distintos_1h_destino",
               "repasse_origem")
STATE_OUT = STATE_ROW + ", atrasada boolean, " + ", ".join(f"{c} double" for c in WINDOW_COLS)
#: receipts of one key: (event ms, id, sender token, valor, effective)
RECEIPT = "ms long, id string, sender string, valor double, eff boolean"
KAFKA_OUT = "topic string, key binary, value binary, decisao string"
HOUR_MS = int(WINDOW_1H_S * 1000)
#: the output's string and long columns (null for an invalid record)
_NULLABLE_OUT = tuple(c.split()[0] for c in STATE_OUT.split(", ") if c.split()[1] in ("string", "long"))
LATE = "timestamp_atrasado:timestamp"


# ------------------------------------------------------------------------------------------ 1. parse
def _parse_udf(max_field_chars: int, max_bytes: int, max_future_s: float, tz: str):
    import orjson

    names = [c.split()[0] for c in PARSED.split(", ")]

    @F.pandas_udf("string")
    def parse(values: pd.Series) -> pd.Series:
        not_after = datetime.now(ZoneInfo(tz)).replace(tzinfo=None, microsecond=0) + timedelta(seconds=max_future_s)
        out = []
        for v in values:
            p = parse_record(None if v is None else bytes(v), max_field_chars, max_bytes=max_bytes,
                             not_after=not_after)
            if isinstance(p, str):
                out.append(orjson.dumps({"motivo": p}).decode())
            else:
                out.append(orjson.dumps(dict(zip(names, (None, p.id_transacao, p.timestamp.isoformat(), p.valor,
                                                          p.origem, p.destino, p.tipo_transacao, p.status)))).decode())
        # a plain object column (not pandas 3's Arrow-backed strings): a JSON text per record, read by from_json
        return pd.Series(out, dtype=object)

    return parse


def parsed(source: DataFrame, settings: Settings, tz: str) -> DataFrame:
    """Kafka records -> :data:`STATE_ROW` rows: each valid one twice (``papel`` d / o, keyed by destination /
    origin token), each invalid one once (``papel`` x, keyed ``!<partition>``, ``motivo`` its DLQ reason)."""
    ss = settings.streaming
    parse = _parse_udf(settings.lakehouse.max_field_chars, ss.max_message_bytes, ss.max_future_seconds, tz)
    df = source.select(F.col("key").alias("raw_key"), F.col("value").alias("raw_value"),
                       F.col("topic").alias("kafka_topic"), F.col("partition").alias("kafka_partition"),
                       F.col("offset").alias("kafka_offset"), F.col("timestamp").alias("kafka_timestamp"),
                       F.unix_millis("timestamp").alias("kafka_ms"), F.from_json(parse("value"), PARSED).alias("p")).select("*", "p.*")
    df = tokenise(df.drop("p"), ["chave_pix_origem", "chave_pix_destino"], settings.security.pii_secret)
    valid = F.col("motivo").isNull()
    papel = F.explode(F.when(valid, F.array(F.lit("d"), F.lit("o"))).otherwise(F.array(F.lit("x"))))
    df = df.withColumn("papel", papel).withColumn(
        "k", F.when(F.col("papel") == "d", F.col("chave_pix_destino"))
        .when(F.col("papel") == "o", F.col("chave_pix_origem"))
        .otherwise(F.concat(F.lit("!"), F.col("kafka_partition").cast("string"))))
    return df.withColumn("ev_ms", F.unix_millis("timestamp")).select(*[c.split()[0] for c in STATE_ROW.split(", ")])


# ------------------------------------------------------------------------------------------ 2. state
class ReceiptProcessor(StatefulProcessor):
    """Per key: its receipts (as destination) in RocksDB; emits each row with its windowed features."""

    def init(self, handle: StatefulProcessorHandle) -> None:
        self.handle = handle
        self.receipts = handle.getListState("receipts", RECEIPT)

    def handleInputRows(self, key, rows, timerValues) -> Iterator[pd.DataFrame]:
        df = pd.concat(list(rows), ignore_index=True)
        df["motivo"] = df["motivo"].astype(object)  # all-null arrives as float64
        out_cols = [c.split()[0] for c in STATE_OUT.split(", ")]
        if str(key[0]).startswith("!"):  # invalid records: straight through, no state
            df["atrasada"] = False
            for c in WINDOW_COLS:
                df[c] = 0.0
            yield self._plain(df[out_cols])
            return
        wm = int(timerValues.getCurrentWatermarkInMs())
        receipts = [tuple(r) for r in self.receipts.get()] if self.receipts.exists() else []
        known = {r[1] for r in receipts}
        df = df.sort_values(["ev_ms", "id_transacao", "kafka_offset"]).drop_duplicates(["id_transacao", "papel"])
        late = (df["ev_ms"] < wm) & ~df["id_transacao"].isin(known) if wm > 0 else pd.Series(False, df.index)
        for r in df[~late & (df["papel"] == "d")].itertuples(index=False):
            if r.id_transacao not in known:
                known.add(r.id_transacao)
                receipts.append((int(r.ev_ms), r.id_transacao, r.chave_pix_origem, float(r.valor),
                                 is_effective(r.status)))
        if wm > 0:
            receipts = [r for r in receipts if r[0] >= wm - HOUR_MS]
        receipts.sort(key=lambda r: (r[0], r[1]))
        window = [(r[0] / 1000.0, r[1], r[2], r[3], r[4]) for r in receipts]
        feats = {c: [] for c in WINDOW_COLS}
        for r in df.itertuples(index=False):
            d_side = window if r.papel == "d" else None
            o_side = window if r.papel == "o" else None
            f = window_features(r.ev_ms / 1000.0, r.valor, d_side, o_side)
            for c in WINDOW_COLS:
                feats[c].append(f[c])
        df = df.assign(**feats, atrasada=False)
        df.loc[late, "motivo"] = LATE
        df = df[~(late & (df["papel"] == "o"))]  # one DLQ record per late transaction (from its destination)
        if receipts:
            self.receipts.put(receipts)
            for t in list(self.handle.listTimers()):
                self.handle.deleteTimer(t)
            self.handle.registerTimer(receipts[-1][0] + HOUR_MS + 1)
        elif self.receipts.exists():
            self.receipts.clear()
        yield self._plain(df[out_cols])

    @staticmethod
    def _plain(df: pd.DataFrame) -> pd.DataFrame:
        """pandas 3's Arrow-backed string columns as object columns (the operator's output is sent to the JVM
        as an Arrow struct, which takes plain arrays only)."""
        out = df.astype({c: object for c in df.columns if pd.api.types.is_string_dtype(df[c].dtype)})
        # an invalid record's parsed fields are all null, which pandas holds as float64 NaN: as object columns
        # of None (Spark's string/long converters would otherwise build pandas 3 Arrow-backed arrays)
        for c in _NULLABLE_OUT:
            if c in out.columns and not pd.api.types.is_object_dtype(out[c].dtype) and out[c].isna().any():
                out[c] = pd.Series([None if v != v else v for v in out[c].tolist()], index=out.index, dtype=object)
        return out

    def handleExpiredTimer(self, key, timerValues, expiredTimerInfo) -> Iterator[pd.DataFrame]:  # noqa: ARG002
        self.receipts.clear()  # every receipt of this key is older than watermark - 1 h
        return iter([])

    def close(self) -> None:
        pass


# ------------------------------------------------------------------------------------------ 3. the batch
def dlq_frame(rows: DataFrame, max_bytes: int) -> DataFrame:
    """DLQ records as Spark's Kafka sink writes them: key and value as received (cut to ``max_bytes``), the
    reason, origin and receive time in ``headers`` (plus size and digest of a cut value), as
    :func:`streaming.scorer.dlq_message`."""
    v, k = F.col("raw_value"), F.col("raw_key")
    big_v, big_k = F.length(v) > max_bytes, F.length(k) > max_bytes

    def h(name: str, value: Column) -> Column:
        return F.struct(F.lit(name).alias("key"), value.cast("binary").alias("value"))

    received = F.date_format(F.current_timestamp(), "yyyy-MM-dd'T'HH:mm:ss")
    origin = F.concat_ws("/", "kafka_topic", F.col("kafka_partition").cast("string"),
                         F.col("kafka_offset").cast("string"))
    headers = F.array(h("pixring.motivo", F.col("motivo")), h("pixring.origem", origin),
                      h("pixring.recebido_em", received),
                      h("pixring.tamanho", F.when(big_v, F.length(v).cast("string"))),
                      h("pixring.sha256", F.when(big_v, F.sha2(v, 256))),
                      h("pixring.tamanho_chave", F.when(big_k, F.length(k).cast("string"))))
    return rows.select(
        F.when(big_k, F.substring(k, 1, max_bytes)).otherwise(k).alias("key"),
        F.when(big_v, F.substring(v, 1, max_bytes)).otherwise(v).alias("value"),
        F.filter(headers, lambda x: x["value"].isNotNull()).alias("headers"),
        F.split(F.col("motivo"), ":").getItem(0).alias("decisao"))


_EXECUTOR_MODELS: dict[tuple[str, str], object] = {}


def executor_model(settings: Settings, version: str):
    """The champion ``version`` in this executor process: loaded (signature verified) once, kept until the
    driver resolves another version; None for ``none`` (rules only)."""
    from streaming.model import NO_MODEL, ChampionModel

    if version == NO_MODEL:
        return None
    key = (settings.mlflow.model_name, version)
    model = _EXECUTOR_MODELS.get(key)
    if model is None:
        model = ChampionModel(settings, required=False)
        model.load(version)
        model.version = version
        _EXECUTOR_MODELS.clear()  # one version per process: the previous one is released
        _EXECUTOR_MODELS[key] = model
    return model


def _ring(id_anel, risco, valor_em_risco, membros) -> Ring | None:
    if id_anel is None or id_anel != id_anel:
        return None
    return Ring(id_anel, float(risco), float(valor_em_risco or 0), tuple(membros if membros is not None else ()))


def _opt(v):
    return None if v is None or v != v or v is pd.NaT else v


def _score_fn(settings: Settings, version: str, gold_version: str, topics: tuple[str, str], tz: str):
    """The ``mapInPandas`` function of one micro-batch: rows with features -> scored and alert records."""
    import numpy as np
    import orjson

    from pixring.features import TX_FEATURES
    from streaming.features import static_features
    from streaming.scorer import alert_messages, decide_row

    scored_topic, alert_topic = topics

    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        model = executor_model(settings, version)
        for b in batches:
            if b.empty:
                continue
            feats_rows, rows, rings = [], [], []
            for r in b.itertuples(index=False):
                ts = r.timestamp.to_pydatetime()
                cad = _opt(r.cadastro_destino)
                feats = static_features(ts, r.valor, _opt(r.score_origem), _opt(r.score_destino),
                                        _opt(r.d_risco), None if cad is None else cad.to_pydatetime())
                for c in WINDOW_COLS:
                    feats[c] = float(_opt(getattr(r, c)) or 0.0)
                o_ring = _ring(r.o_id_anel, r.o_risco, r.o_valor_em_risco, r.o_membros)
                d_ring = _ring(r.d_id_anel, r.d_risco, r.d_valor_em_risco, r.d_membros)
                kts = _opt(r.kafka_timestamp)
                kafka_ms = int(r.kafka_ms) if _opt(r.kafka_ms) is not None else 0
                rows.append({
                    "id_transacao": r.id_transacao, "timestamp": ts, "data": ts.date(), "valor": float(r.valor),
                    "chave_pix_origem": r.chave_pix_origem, "chave_pix_destino": r.chave_pix_destino,
                    "tipo_transacao": r.tipo_transacao, "status": r.status,
                    "id_usuario_origem": _opt(r.id_usuario_origem), "id_usuario_destino": _opt(r.id_usuario_destino),
                    "id_anel_origem": o_ring.id_anel if o_ring else None,
                    "id_anel_destino": d_ring.id_anel if d_ring else None,
                    **{k: v for k, v in feats.items() if k != "valor"}, "atrasada": bool(r.atrasada),
                    "kafka_topic": r.kafka_topic, "kafka_partition": int(r.kafka_partition),
                    "kafka_offset": int(r.kafka_offset),
                    "kafka_timestamp": kts.to_pydatetime() if kts is not None and kafka_ms else None,
                    "kafka_ts_ms": kafka_ms,
                })
                feats_rows.append(feats)
                rings.append((o_ring, d_ring))
            features = pd.DataFrame(feats_rows, columns=list(TX_FEATURES))
            scores = model.predict(features) if model is not None else np.zeros(len(features))
            decided_ms = int(time.time() * 1000)
            decided_at = datetime.fromtimestamp(decided_ms / 1000, ZoneInfo(tz)).replace(tzinfo=None)
            out_t, out_k, out_v, out_d = [], [], [], []
            for r, feats, (o_ring, d_ring), s in zip(rows, feats_rows, rings, scores.tolist()):
                decide_row(r, feats, s, settings.scoring, version, gold_version, decided_at, decided_ms)
                out_t.append(scored_topic)
                out_k.append(r["id_transacao"].encode())
                out_v.append(orjson.dumps(r))
                out_d.append(r["decisao"])
                if r["decisao"] != "allow":
                    for k, v in alert_messages(r, o_ring, d_ring, decided_ms):
                        out_t.append(alert_topic)
                        out_k.append(k)
                        out_v.append(v)
                        out_d.append("alerta")
            yield pd.DataFrame({"topic": out_t, "key": out_k, "value": out_v, "decisao": out_d})

    return score


@dataclass
class Lookups(GoldLookup):
    """The stream-static join sides: :class:`streaming.lookup.GoldLookup`'s tables and version checks, each
    table a DataFrame re-read when its latest Delta version moves and cached on the executors (never collected
    to the driver)."""

    frames: dict[str, DataFrame] = field(default_factory=dict)

    def _summary(self) -> str:
        return "as DataFrames cached on the executors"

    def _set(self, name: str, path: str, version: int) -> None:
        old = self.frames.pop(name, None)
        if old is not None:
            old.unpersist()
        self.frames[name] = self._frame(name, path, version).persist()

    def _load_chaves_pix(self, path: str, version: int) -> None:
        self._set("chaves_pix", path, version)

    def _load_node_scores(self, path: str, version: int) -> None:
        self._set("node_scores", path, version)

    def _load_ring_candidates(self, path: str, version: int) -> None:
        self._set("ring_candidates", path, version)

    def _load_communities(self, path: str, version: int) -> None:
        self._set("communities", path, version)

    def _frame(self, name: str, path: str, version: int) -> DataFrame:
        spark = self.spark
        df = (spark.read.format("delta").option("versionAsOf", version).load(path)
              if version >= 0 and is_table(spark, path) else None)
        if name == "chaves_pix":
            return (df.select("chave_pix", "id_usuario", "data_cadastro") if df is not None else
                    spark.createDataFrame([], "chave_pix string, id_usuario string, data_cadastro timestamp"))
        if name == "node_scores":
            return (df.filter(F.col("tipo") == "usuario").select("id", F.col("score").cast("double"))
                    .dropDuplicates(["id"]) if df is not None else spark.createDataFrame([], "id string, score double"))
        if name == "ring_candidates":
            if df is None:
                return spark.createDataFrame([], "id_usuario string, id_anel string, risco double, "
                                                 "valor_em_risco double, membros array<string>")
            from pyspark.sql import Window

            m = df.select("id_anel", F.col("risco").cast("double"),
                          F.col("valor_em_risco").cast("double"), "membros",
                          F.explode("membros").alias("id_usuario"))
            w = Window.partitionBy("id_usuario").orderBy(F.desc("risco"), "id_anel")
            return m.withColumn("_n", F.row_number().over(w)).filter("_n = 1").drop("_n")
        # communities: not a model feature (the driver engine does not score with it either)
        return df.select("id_comunidade") if df is not None else spark.createDataFrame([], "id_comunidade string")

    def join(self, tx: DataFrame) -> DataFrame:
        keys, scores, rings = self.frames["chaves_pix"], self.frames["node_scores"], self.frames["ring_candidates"]
        o_key = keys.select(F.col("chave_pix").alias("chave_pix_origem"), F.col("id_usuario").alias("id_usuario_origem"))
        d_key = keys.select(F.col("chave_pix").alias("chave_pix_destino"),
                            F.col("id_usuario").alias("id_usuario_destino"),
                            F.col("data_cadastro").alias("cadastro_destino"))
        tx = tx.join(o_key, "chave_pix_origem", "left").join(d_key, "chave_pix_destino", "left")
        for side in ("origem", "destino"):
            tx = tx.join(scores.select(F.col("id").alias(f"id_usuario_{side}"), F.col("score").alias(f"score_{side}")),
                         f"id_usuario_{side}", "left")
        for p, side in (("o", "origem"), ("d", "destino")):
            tx = tx.join(rings.select(F.col("id_usuario").alias(f"id_usuario_{side}"),
                                      *[F.col(c).alias(f"{p}_{c}") for c in ("id_anel", "risco", "valor_em_risco",
                                                                              "membros")]),
                         f"id_usuario_{side}", "left")
        return tx


class ExecutorBatch:
    """``foreachBatch`` of the executor engine: plans the joins, scoring and the Kafka write; collects only
    per-batch counts."""

    def __init__(self, spark: SparkSession, settings: Settings, model, metrics, report) -> None:
        self.spark, self.settings, self.model, self.metrics, self.report = spark, settings, model, metrics, report
        self.lookups = Lookups(spark, settings)

    def online_write(self, scored: DataFrame, epoch_id: int) -> None:
        """The online store's place: one call per micro-batch with the batch's scored rows (a DataFrame on the
        executors; nothing is written here yet - the online store is connected by its own module)."""

    def __call__(self, batch: DataFrame, epoch_id: int) -> None:
        with logs.bind(f"scorer-b{epoch_id}"):
            self._process(batch, epoch_id)

    def _process(self, batch: DataFrame, epoch_id: int) -> None:
        t0 = time.monotonic()
        s, m = self.settings, self.metrics
        if self.model.maybe_refresh():  # the driver resolves (and verifies) the version of this batch
            m.model_loads.inc()
        m.model_version.set(float(self.model.version) if self.model.version.isdigit() else 0)
        if self.lookups.refresh():
            m.gold_reloads.inc()
        k = s.kafka
        b = batch.persist()
        try:
            good = b.filter(F.col("motivo").isNull())
            dest = good.filter(F.col("papel") == "d").dropDuplicates(["id_transacao"])
            orig = good.filter(F.col("papel") == "o").select("id_transacao", "repasse_origem").dropDuplicates(
                ["id_transacao"])
            tx = self.lookups.join(dest.drop("repasse_origem").join(orig, "id_transacao", "left"))
            fn = _score_fn(s, self.model.version, self.lookups.version, (k.topic_scored, k.topic_alerts),
                           self.spark.conf.get("spark.sql.session.timeZone", TIMEZONE))
            scored = tx.mapInPandas(fn, KAFKA_OUT)
            dlq = dlq_frame(b.filter(F.col("motivo").isNotNull()), s.streaming.max_message_bytes).withColumn(
                "topic", F.lit(k.topic_dlq))
            out = scored.withColumn("headers", F.lit(None).cast("array<struct<key:string,value:binary>>")) \
                .unionByName(dlq).persist()
            try:
                (out.select("topic", "key", "value", "headers").write.format("kafka")
                 .options(**kafka.spark_options(k)).option("kafka.enable.idempotence", "true")
                 .option("kafka.compression.type", "lz4").save())
                counts = Counter({(r[0], r[1]): r[2] for r in out.groupBy("topic", "decisao").count().collect()})
                self.online_write(scored, epoch_id)
            finally:
                out.unpersist()
        finally:
            b.unpersist()
        n_scored = sum(v for (t, _), v in counts.items() if t == k.topic_scored)
        n_dlq = sum(v for (t, _), v in counts.items() if t == k.topic_dlq)
        n_alerts = sum(v for (t, _), v in counts.items() if t == k.topic_alerts)
        dt = time.monotonic() - t0
        m.rows.labels("scored").inc(n_scored)
        m.rows.labels("dlq").inc(n_dlq)
        for (t, label), v in counts.items():
            if t == k.topic_dlq:
                m.dlq.labels(label).inc(v)
            elif t == k.topic_scored:
                m.decisions.labels(label).inc(v)
        m.record_alerts(n_alerts)
        m.batch_seconds.observe(dt)
        m.batch_rows.set(n_scored + n_dlq)
        m.rows_per_second.set((n_scored + n_dlq) / dt if dt > 0 else 0)
        m.last_batch.set(time.time())
        rep = self.report
        rep.batches += 1
        rep.records += n_scored + n_dlq
        rep.scored += n_scored
        rep.dlq += n_dlq
        rep.alerts += n_alerts
        rep.model_version, rep.gold_version = self.model.version, self.lookups.version
        log.info("epoch %d: %d scored, %d dlq, %d alerts in %.2f s (executors)", epoch_id, n_scored, n_dlq,
                 n_alerts, dt)


def start(spark: SparkSession, settings: Settings, model, metrics, report, checkpoint: str, name: str, *,
          available_now: bool = False):
    """Start the executor-engine scorer query; returns the ``StreamingQuery``."""
    ss = settings.streaming
    spark.conf.set("spark.sql.streaming.stateStore.providerClass", ROCKSDB)
    spark.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
    tz = spark.conf.get("spark.sql.session.timeZone", TIMEZONE)
    source = kafka_stream(spark, settings, settings.kafka.topic_transactions, ss.max_offsets_per_trigger)
    rows = parsed(source, settings, tz).withWatermark("timestamp", f"{int(parse_duration(ss.watermark))} seconds")
    featured = rows.groupBy("k").transformWithStateInPandas(
        statefulProcessor=ReceiptProcessor(), outputStructType=STATE_OUT, outputMode="Append", timeMode="EventTime")
    writer = (featured.writeStream.queryName(name).foreachBatch(ExecutorBatch(spark, settings, model, metrics, report))
              .option("checkpointLocation", checkpoint))
    writer = writer.trigger(availableNow=True) if available_now else writer.trigger(
        processingTime=f"{ss.trigger_seconds:g} seconds")
    return writer.start()

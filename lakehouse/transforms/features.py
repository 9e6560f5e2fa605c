"""Gold behaviour features per user and per Pix key, from silver transactions.

Every transaction is seen twice, as an ``out`` event of its origin and an ``in`` event of its destination.
Money flows (counts, values, velocity, forwarding) use *effective* transactions (``concluida`` or
``em_processamento``); rejected attempts are counted apart.

* velocity ``max_tx_<dir>_<1h|24h>``: the most transactions in any sliding window of that length
  (window ``[t - length, t]`` at every event);
* ``n_contrapartes_<dir>``: distinct counterparties (users for users, keys for keys);
* ``pct_noturno``: share of the entity's transactions between 20:00 and 06:00;
* ``idade_na_primeira_tx_h`` / ``idade_media_tx_h``: account (or key) age at its first / on average per
  transaction – mule accounts are young when they start receiving;
* ``valor_repassado_1h`` / ``pct_repasse_1h``: of the funds received, how much was sent on within the
  following hour (for each received transfer, ``min(value, sent in [t, t + 1h])``, capped overall by the
  total sent) – the layering signature of a mule;
* ``n_tx_dispositivo_novo`` (users): transfers made right after logging in from a new device.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import NumericType

from lakehouse.schemas import GOLD, GOLD_KEYS

EFFECTIVE = ("concluida", "em_processamento")
HOUR, DAY = 3600, 86400


def _events(tx: DataFrame, *, out_entity: str, in_entity: str, out_age: str, in_age: str) -> DataFrame:
    common = [
        F.col("timestamp").alias("ts"),
        F.unix_seconds(F.col("timestamp")).alias("epoch"),
        F.col("valor"),
        F.col("noturna"),
        F.col("status").isin(*EFFECTIVE).alias("efetiva"),
    ]
    out = tx.select(
        F.col(out_entity).alias("entity"), F.lit("out").alias("direcao"),
        F.col(in_entity).alias("contraparte"), F.col(out_age).alias("idade_h"),
        F.coalesce(F.col("dispositivo_novo"), F.lit(False)).alias("dispositivo_novo"), *common,
    )
    inc = tx.select(
        F.col(in_entity).alias("entity"), F.lit("in").alias("direcao"),
        F.col(out_entity).alias("contraparte"), F.col(in_age).alias("idade_h"),
        F.lit(False).alias("dispositivo_novo"), *common,
    )
    return out.unionByName(inc).filter(F.col("entity").isNotNull())


def user_events(tx: DataFrame) -> DataFrame:
    return _events(tx, out_entity="id_usuario_origem", in_entity="id_usuario_destino",
                   out_age="idade_conta_origem_h", in_age="idade_conta_destino_h")


def key_events(tx: DataFrame) -> DataFrame:
    return _events(tx, out_entity="chave_pix_origem", in_entity="chave_pix_destino",
                   out_age="idade_chave_origem_h", in_age="idade_chave_destino_h")


def _when(cond: Column, value: Column) -> Column:
    return F.when(cond, value)


def behaviour(events: DataFrame) -> DataFrame:
    """Per-entity behaviour features (see the module docstring) from ``_events`` rows."""
    eff = F.col("efetiva")
    out, inc = F.col("direcao") == "out", F.col("direcao") == "in"
    one_eff = F.when(eff, 1).otherwise(0)
    by_dir = Window.partitionBy("entity", "direcao").orderBy("epoch")
    by_entity = Window.partitionBy("entity").orderBy("epoch").rangeBetween(0, HOUR)
    sent_next_hour = F.sum(F.when(eff & out, F.col("valor")).otherwise(F.lit(0))).over(by_entity)
    windowed = events.select(
        "*",
        F.sum(one_eff).over(by_dir.rangeBetween(-HOUR, 0)).alias("_n1h"),
        F.sum(one_eff).over(by_dir.rangeBetween(-DAY, 0)).alias("_n24h"),
        F.sum(F.when(eff, F.col("valor")).otherwise(F.lit(0))).over(by_dir.rangeBetween(-DAY, 0)).alias("_v24h"),
        F.when(eff & inc, F.least(F.col("valor"), sent_next_hour)).alias("_fwd"),
    )
    agg = windowed.groupBy("entity").agg(
        F.count(_when(eff & out, F.lit(1))).alias("n_tx_out"),
        F.count(_when(eff & inc, F.lit(1))).alias("n_tx_in"),
        F.sum(_when(eff & out, F.col("valor"))).alias("valor_out"),
        F.sum(_when(eff & inc, F.col("valor"))).alias("valor_in"),
        F.max(_when(eff & out, F.col("_n1h"))).alias("max_tx_out_1h"),
        F.max(_when(eff & out, F.col("_n24h"))).alias("max_tx_out_24h"),
        F.max(_when(eff & inc, F.col("_n1h"))).alias("max_tx_in_1h"),
        F.max(_when(eff & inc, F.col("_n24h"))).alias("max_tx_in_24h"),
        F.max(_when(eff & out, F.col("_v24h"))).alias("max_valor_out_24h"),
        F.count_distinct(_when(eff & out, F.col("contraparte"))).alias("n_contrapartes_out"),
        F.count_distinct(_when(eff & inc, F.col("contraparte"))).alias("n_contrapartes_in"),
        F.avg(_when(eff, F.col("noturna").cast("double"))).alias("pct_noturno"),
        F.min_by(_when(eff, F.col("idade_h")), _when(eff, F.col("epoch"))).alias("idade_na_primeira_tx_h"),
        F.avg(_when(eff, F.col("idade_h"))).alias("idade_media_tx_h"),
        F.sum("_fwd").alias("_fwd"),
        F.count(_when(~eff & out, F.lit(1))).alias("n_tx_rejeitadas_out"),
        F.min(_when(eff, F.col("ts"))).alias("primeira_tx"),
        F.max(_when(eff, F.col("ts"))).alias("ultima_tx"),
        F.count(_when(eff & out & F.col("dispositivo_novo"), F.lit(1))).alias("n_tx_dispositivo_novo"),
    )
    valor_in = F.coalesce(F.col("valor_in"), F.lit(0))
    repassado = F.least(F.coalesce(F.col("_fwd"), F.lit(0)), F.coalesce(F.col("valor_out"), F.lit(0)))
    return agg.withColumns({
        "valor_repassado_1h": repassado,
        "pct_repasse_1h": F.when(valor_in > 0, (repassado / valor_in).cast("double")).otherwise(F.lit(0.0)),
        "pct_tx_dispositivo_novo": F.when(
            F.col("n_tx_out") > 0, F.col("n_tx_dispositivo_novo") / F.col("n_tx_out")
        ).otherwise(F.lit(0.0)),
    }).drop("_fwd")


def _finish(base: DataFrame, feats: DataFrame, key: str, table: str) -> DataFrame:
    """Every entity of ``base`` (also those without transactions), features zero-filled, in schema order."""
    schema = GOLD[table]
    joined = base.join(feats.withColumnRenamed("entity", key), key, "left")
    cols = []
    for field in schema.fields:
        c = F.col(field.name)
        if not field.nullable and isinstance(field.dataType, NumericType):
            c = F.coalesce(c, F.lit(0))
        cols.append(c.cast(field.dataType).alias(field.name))
    return joined.select(*cols)


def user_features(tx: DataFrame, usuarios: DataFrame, chaves: DataFrame, dispositivos: DataFrame) -> DataFrame:
    """gold ``features_usuario``: one row per silver user."""
    key = GOLD_KEYS["features_usuario"]
    n_chaves = chaves.filter(F.col("id_usuario").isNotNull()).groupBy("id_usuario").agg(
        F.count(F.lit(1)).alias("n_chaves"))
    n_disp = dispositivos.groupBy("id_usuario").agg(F.count_distinct("id_dispositivo").alias("n_dispositivos"))
    base = usuarios.select("id_usuario", "tipo_pessoa").join(n_chaves, "id_usuario", "left").join(
        n_disp, "id_usuario", "left")
    return _finish(base, behaviour(user_events(tx)), key, "features_usuario")


def key_features(tx: DataFrame, chaves: DataFrame) -> DataFrame:
    """gold ``features_chave``: one row per silver key (token)."""
    key = GOLD_KEYS["features_chave"]
    base = chaves.select("chave_pix", "tipo_chave", "id_usuario")
    feats = behaviour(key_events(tx)).drop("n_tx_dispositivo_novo", "pct_tx_dispositivo_novo")
    return _finish(base, feats, key, "features_chave")

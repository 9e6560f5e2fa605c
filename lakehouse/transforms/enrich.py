"""Enrichment of silver frames (all inputs already tokenised: joins run on tokens).

* keys get the id of their holder's account (``chaves_pix.cpf_cnpj`` token = ``usuarios.cpf_cnpj`` token);
* transactions get the origin and destination user ids and key types, key and account ages at the
  transaction, the device of the origin user's preceding successful login and whether that device was new.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lakehouse.schemas import SILVER


def _hours_between(later: Column, earlier: Column) -> Column:
    return (F.unix_seconds(later) - F.unix_seconds(earlier)) / F.lit(3600.0)


def key_owners(chaves: DataFrame, usuarios: DataFrame) -> DataFrame:
    """``chaves`` with ``id_usuario``: the holder's account (the lowest id if a document has several)."""
    owners = usuarios.groupBy("cpf_cnpj").agg(F.min("id_usuario").alias("id_usuario"))
    return chaves.join(owners, "cpf_cnpj", "left")


def _preceding_login(tx: DataFrame, logins: DataFrame) -> DataFrame:
    """Each transaction with the device and time of its origin user's latest successful login at or before it.

    Logins and transactions are interleaved per user in time order (a login at the same second comes
    first) and the last login seen is carried forward: one sort, no range join.
    """
    ok = logins.filter(F.col("status") == "sucesso").select(
        F.col("id_usuario").alias("_u"),
        F.col("timestamp").alias("_t"),
        F.lit(0).alias("_kind"),
        F.col("id_dispositivo").alias("_dev"),
        F.col("timestamp").alias("_login_t"),
    )
    tx_cols = tx.columns
    events = tx.select(
        *tx_cols,
        F.col("id_usuario_origem").alias("_u"),
        F.col("timestamp").alias("_t"),
        F.lit(1).alias("_kind"),
        F.lit(None).cast("string").alias("_dev"),
        F.lit(None).cast("timestamp").alias("_login_t"),
    ).unionByName(ok, allowMissingColumns=True)
    w = Window.partitionBy("_u").orderBy("_t", "_kind").rowsBetween(Window.unboundedPreceding, Window.currentRow)
    carried = events.select(
        *tx_cols,
        "_u",
        "_kind",
        F.last("_dev", ignorenulls=True).over(w).alias("id_dispositivo_login"),
        F.last("_login_t", ignorenulls=True).over(w).alias("timestamp_login"),
    )
    return carried.filter(F.col("_kind") == 1).withColumns({
        "id_dispositivo_login": F.when(F.col("_u").isNotNull(), F.col("id_dispositivo_login")),
        "timestamp_login": F.when(F.col("_u").isNotNull(), F.col("timestamp_login")),
    }).drop("_u", "_kind")


def device_first_seen(logins: DataFrame, dispositivos: DataFrame) -> DataFrame:
    """(id_usuario, id_dispositivo) -> first time seen: the earlier of its first successful login and its
    registration."""
    first_login = (
        logins.filter(F.col("status") == "sucesso")
        .groupBy("id_usuario", "id_dispositivo").agg(F.min("timestamp").alias("_seen"))
    )
    registered = dispositivos.select("id_usuario", "id_dispositivo", F.col("data_registro").alias("_seen"))
    return (
        first_login.unionByName(registered)
        .groupBy("id_usuario", "id_dispositivo").agg(F.min("_seen").alias("primeira_vez"))
    )


def enrich_transactions(
    tx: DataFrame,
    chaves: DataFrame,
    usuarios: DataFrame,
    logins: DataFrame,
    dispositivos: DataFrame,
    new_device_hours: float,
) -> DataFrame:
    """Tokenised, conformed transactions -> the silver ``transacoes_pix`` shape."""
    k = chaves.select("chave_pix", "tipo_chave", "data_cadastro", "id_usuario")
    u = usuarios.select("id_usuario", "data_cadastro")
    out = (
        tx.join(
            k.select(
                F.col("chave_pix").alias("chave_pix_origem"),
                F.col("tipo_chave").alias("tipo_chave_origem"),
                F.col("id_usuario").alias("id_usuario_origem"),
                F.col("data_cadastro").alias("_chave_origem_desde"),
            ),
            "chave_pix_origem", "left",
        )
        .join(
            k.select(
                F.col("chave_pix").alias("chave_pix_destino"),
                F.col("tipo_chave").alias("tipo_chave_destino"),
                F.col("id_usuario").alias("id_usuario_destino"),
                F.col("data_cadastro").alias("_chave_destino_desde"),
            ),
            "chave_pix_destino", "left",
        )
        .join(u.select(F.col("id_usuario").alias("id_usuario_origem"),
                       F.col("data_cadastro").alias("_conta_origem_desde")), "id_usuario_origem", "left")
        .join(u.select(F.col("id_usuario").alias("id_usuario_destino"),
                       F.col("data_cadastro").alias("_conta_destino_desde")), "id_usuario_destino", "left")
        .withColumns({
            "idade_chave_origem_h": _hours_between(F.col("timestamp"), F.col("_chave_origem_desde")),
            "idade_chave_destino_h": _hours_between(F.col("timestamp"), F.col("_chave_destino_desde")),
            "idade_conta_origem_h": _hours_between(F.col("timestamp"), F.col("_conta_origem_desde")),
            "idade_conta_destino_h": _hours_between(F.col("timestamp"), F.col("_conta_destino_desde")),
        })
    )
    out = _preceding_login(out, logins)
    seen = device_first_seen(logins, dispositivos).select(
        F.col("id_usuario").alias("id_usuario_origem"),
        F.col("id_dispositivo").alias("id_dispositivo_login"),
        "primeira_vez",
    )
    out = out.join(seen, ["id_usuario_origem", "id_dispositivo_login"], "left").withColumn(
        "dispositivo_novo",
        F.when(
            F.col("id_dispositivo_login").isNotNull(),
            F.coalesce(_hours_between(F.col("timestamp"), F.col("primeira_vez")) <= new_device_hours, F.lit(False)),
        ),
    )
    return out.select(*SILVER["transacoes_pix"].fieldNames())

"""Pure transforms: silver frames -> the typed property graph (vertices, edges) and per-node features.

Nothing here reads or writes a table; :mod:`graph.build` does. Vertices are typed (``usuario``, ``chave``,
``dispositivo``) and carry ``vid = xxhash64(tipo, id)``, a stable numeric id for GraphX. Edges:

* ``POSSUI``  user -> key        (silver ``chaves_pix.id_usuario``, the holder's account)
* ``USA``     user -> device     (registrations in ``dispositivos`` and logins in ``log_autenticacao``)
* ``PAGOU``   key -> key         (transactions aggregated per key pair: count, value, first/last)
* ``TRANSFERIU`` user -> user    (the user-to-user projection of the payments, aggregated per pair)
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from graph.schemas import MONEY

#: Transaction statuses whose money moved (``rejeitada`` attempts are kept as counts only).
EFFECTIVE: tuple[str, ...] = ("concluida", "em_processamento")


def vid(tipo: str | Column, col: str | Column) -> Column:
    """The GraphX vertex id of a typed vertex: ``xxhash64(tipo, id)`` (stable across builds and runs)."""
    t = F.lit(tipo) if isinstance(tipo, str) else tipo
    c = F.col(col) if isinstance(col, str) else col
    return F.xxhash64(t, c)


def effective(col: str = "status") -> Column:
    return F.col(col).isin(*EFFECTIVE)


def transfers(transacoes: DataFrame) -> DataFrame:
    """Effective user-to-user transfers (both sides known, not to oneself), the input of every motif.

    Columns: ``id_transacao, ts`` (epoch seconds), ``timestamp, valor`` (double), ``valor_dec``, ``src, dst``
    (user ids), ``chave_src, chave_dst``, ``idade_conta_dst_h, idade_chave_dst_h, dispositivo_novo``.
    """
    return (
        transacoes.where(effective())
        .where(F.col("id_usuario_origem").isNotNull() & F.col("id_usuario_destino").isNotNull())
        .where(F.col("id_usuario_origem") != F.col("id_usuario_destino"))
        .select(
            "id_transacao",
            F.unix_timestamp("timestamp").alias("ts"),
            "timestamp",
            F.col("valor").cast("double").alias("valor"),
            F.col("valor").cast(MONEY).alias("valor_dec"),
            F.col("id_usuario_origem").alias("src"),
            F.col("id_usuario_destino").alias("dst"),
            F.col("chave_pix_origem").alias("chave_src"),
            F.col("chave_pix_destino").alias("chave_dst"),
            F.col("idade_conta_destino_h").alias("idade_conta_dst_h"),
            F.col("idade_chave_destino_h").alias("idade_chave_dst_h"),
            F.coalesce(F.col("dispositivo_novo"), F.lit(False)).alias("dispositivo_novo"),
        )
    )


def device_bindings(dispositivos: DataFrame, logins: DataFrame) -> DataFrame:
    """One row per (device, user): registrations and logins together.

    Columns: ``id_dispositivo, id_usuario, primeiro, ultimo, n_registros, n_logins, n_falhas``.
    """
    reg = dispositivos.select(
        "id_dispositivo", "id_usuario", F.col("data_registro").alias("t"),
        F.lit(1).alias("r"), F.lit(0).alias("l"), F.lit(0).alias("f"),
    )
    log = logins.select(
        "id_dispositivo", "id_usuario", F.col("timestamp").alias("t"),
        F.lit(0).alias("r"), F.lit(1).alias("l"), (F.col("status") == "falha").cast("int").alias("f"),
    )
    return (
        reg.unionByName(log)
        .where(F.col("id_dispositivo").isNotNull() & F.col("id_usuario").isNotNull())
        .groupBy("id_dispositivo", "id_usuario")
        .agg(
            F.min("t").alias("primeiro"), F.max("t").alias("ultimo"),
            F.sum("r").cast("long").alias("n_registros"), F.sum("l").cast("long").alias("n_logins"),
            F.sum("f").cast("long").alias("n_falhas"),
        )
    )


def vertices(usuarios: DataFrame, chaves: DataFrame, dispositivos: DataFrame, bindings: DataFrame) -> DataFrame:
    """The typed vertices (without the algorithm columns): ``id, vid, tipo, tipo_pessoa, tipo_chave,
    tipo_dispositivo, data_cadastro``."""
    null_s = F.lit(None).cast("string")
    users = usuarios.select(
        F.col("id_usuario").alias("id"), F.lit("usuario").alias("tipo"), "tipo_pessoa",
        null_s.alias("tipo_chave"), null_s.alias("tipo_dispositivo"), "data_cadastro",
    )
    keys = chaves.select(
        F.col("chave_pix").alias("id"), F.lit("chave").alias("tipo"), "tipo_pessoa", "tipo_chave",
        null_s.alias("tipo_dispositivo"), "data_cadastro",
    )
    dev_info = dispositivos.groupBy("id_dispositivo").agg(
        F.min("tipo_dispositivo").alias("tipo_dispositivo"), F.min("data_registro").alias("data_cadastro")
    )
    devs = (
        bindings.select("id_dispositivo").distinct()
        .join(dev_info, "id_dispositivo", "full")
        .select(
            F.col("id_dispositivo").alias("id"), F.lit("dispositivo").alias("tipo"), null_s.alias("tipo_pessoa"),
            null_s.alias("tipo_chave"), "tipo_dispositivo", "data_cadastro",
        )
    )
    out = users.unionByName(keys).unionByName(devs)
    return out.select("id", vid(F.col("tipo"), F.col("id")).alias("vid"), *[c for c in out.columns if c != "id"])


_EDGE_COLS = ("src", "dst", "src_vid", "dst_vid", "tipo", "n", "valor_total", "primeiro", "ultimo", "n_rejeitadas")


def _with_vids(df: DataFrame, tipo: str, src_tipo: str, dst_tipo: str) -> DataFrame:
    return df.select(
        "src", "dst", vid(src_tipo, "src").alias("src_vid"), vid(dst_tipo, "dst").alias("dst_vid"),
        F.lit(tipo).alias("tipo"), F.col("n").cast("long").alias("n"), F.col("valor_total").cast(MONEY).alias("valor_total"),
        "primeiro", "ultimo", F.col("n_rejeitadas").cast("long").alias("n_rejeitadas"),
    )


def _payments(transacoes: DataFrame, src: str, dst: str) -> DataFrame:
    return (
        transacoes.where(F.col(src).isNotNull() & F.col(dst).isNotNull())
        .groupBy(F.col(src).alias("src"), F.col(dst).alias("dst"))
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.sum(F.when(effective(), F.col("valor"))).alias("valor_total"),
            F.min("timestamp").alias("primeiro"), F.max("timestamp").alias("ultimo"),
            F.sum((F.col("status") == "rejeitada").cast("int")).alias("n_rejeitadas"),
        )
    )


def edges(chaves: DataFrame, bindings: DataFrame, transacoes: DataFrame) -> DataFrame:
    """All typed edges: ``src, dst, src_vid, dst_vid, tipo, n, valor_total, primeiro, ultimo, n_rejeitadas``.

    ``PAGOU``/``TRANSFERIU`` count every attempt (``n``) and the rejected ones (``n_rejeitadas``); their
    ``valor_total`` is the money that moved (effective transactions). A transfer between two keys of the
    same user is a ``PAGOU`` edge but no ``TRANSFERIU`` self-loop.
    """
    possui = chaves.where(F.col("id_usuario").isNotNull()).select(
        F.col("id_usuario").alias("src"), F.col("chave_pix").alias("dst"), F.lit(1).alias("n"),
        F.lit(None).alias("valor_total"), F.col("data_cadastro").alias("primeiro"),
        F.col("data_cadastro").alias("ultimo"), F.lit(None).alias("n_rejeitadas"),
    )
    usa = bindings.select(
        F.col("id_usuario").alias("src"), F.col("id_dispositivo").alias("dst"),
        (F.col("n_registros") + F.col("n_logins")).alias("n"), F.lit(None).alias("valor_total"),
        "primeiro", "ultimo", F.col("n_falhas").alias("n_rejeitadas"),
    )
    pagou = _payments(transacoes, "chave_pix_origem", "chave_pix_destino")
    transferiu = _payments(
        transacoes.where(F.col("id_usuario_origem") != F.col("id_usuario_destino")), "id_usuario_origem", "id_usuario_destino"
    )
    return (
        _with_vids(possui, "POSSUI", "usuario", "chave")
        .unionByName(_with_vids(usa, "USA", "usuario", "dispositivo"))
        .unionByName(_with_vids(pagou, "PAGOU", "chave", "chave"))
        .unionByName(_with_vids(transferiu, "TRANSFERIU", "usuario", "usuario"))
    )


def degrees(edges_df: DataFrame) -> DataFrame:
    """``vid, grau_in, grau_out``: distinct edges (of any type) ending / starting at the vertex."""
    out = edges_df.groupBy(F.col("src_vid").alias("vid")).agg(F.count(F.lit(1)).alias("grau_out"))
    inn = edges_df.groupBy(F.col("dst_vid").alias("vid")).agg(F.count(F.lit(1)).alias("grau_in"))
    return out.join(inn, "vid", "full")


def money_graph(edges_df: DataFrame) -> DataFrame:
    """The directed money-flow edges (``PAGOU`` and ``TRANSFERIU``) as ``src, dst`` vids, for PageRank."""
    return edges_df.where(F.col("tipo").isin("PAGOU", "TRANSFERIU")).select(
        F.col("src_vid").alias("src"), F.col("dst_vid").alias("dst")
    )


def final_vertices(
    base: DataFrame, pagerank: DataFrame, deg: DataFrame, comunidade: DataFrame, build_id: str
) -> DataFrame:
    """Vertices with ``pagerank, grau_in, grau_out`` and the users' ``id_comunidade`` (``id, id_comunidade``)."""
    com = comunidade.select(F.col("id"), F.lit("usuario").alias("tipo"), "id_comunidade")
    return (
        base.join(pagerank, "vid", "left")
        .join(deg, "vid", "left")
        .join(com, ["id", "tipo"], "left")
        .select(
            "id", "vid", "tipo", "tipo_pessoa", "tipo_chave", "tipo_dispositivo", "data_cadastro", "id_comunidade",
            F.coalesce("pagerank", F.lit(0.0)).alias("pagerank"),
            F.coalesce("grau_in", F.lit(0)).cast("long").alias("grau_in"),
            F.coalesce("grau_out", F.lit(0)).cast("long").alias("grau_out"),
            F.lit(build_id).alias("build_id"),
        )
    )


def user_features(
    vertices_df: DataFrame,
    edges_df: DataFrame,
    bindings: DataFrame,
    motif_counts: DataFrame,
    membership: DataFrame,
    build_id: str,
    disp_max_usuarios: int,
) -> DataFrame:
    """Per-user graph features for the GNN (schema :data:`graph.schemas.GRAPH_FEATURES`).

    ``motif_counts``: ``id_usuario, n_repasses, valor_repassado, n_cadeias, n_ciclos, n_fan_in_jovem``;
    ``membership``: ``id_usuario, id_comunidade, tamanho_componente, risco_comunidade, em_anel``.
    """
    users = vertices_df.where(F.col("tipo") == "usuario").select(
        F.col("id").alias("id_usuario"), "pagerank", "grau_in", "grau_out"
    )
    n_keys = edges_df.where(F.col("tipo") == "POSSUI").groupBy(F.col("src").alias("id_usuario")).agg(
        F.count(F.lit(1)).alias("n_chaves"))
    per_dev = bindings.groupBy("id_dispositivo").agg(F.countDistinct("id_usuario").alias("k"))
    dev = (
        bindings.join(per_dev, "id_dispositivo")
        .groupBy("id_usuario")
        .agg(
            F.count(F.lit(1)).alias("n_dispositivos"),
            F.sum(((F.col("k") >= 2) & (F.col("k") <= disp_max_usuarios)).cast("long")).alias("n_disp_compartilhados"),
            F.max("k").alias("max_usuarios_disp"),
        )
    )
    tr = edges_df.where(F.col("tipo") == "TRANSFERIU")
    cin = tr.groupBy(F.col("dst").alias("id_usuario")).agg(F.count(F.lit(1)).alias("n_contrapartes_in"))
    cout = tr.groupBy(F.col("src").alias("id_usuario")).agg(F.count(F.lit(1)).alias("n_contrapartes_out"))
    df = (
        users.join(n_keys, "id_usuario", "left").join(dev, "id_usuario", "left")
        .join(cin, "id_usuario", "left").join(cout, "id_usuario", "left")
        .join(motif_counts, "id_usuario", "left").join(membership, "id_usuario", "left")
    )
    from graph.schemas import DOUBLE_FEATURES, FEATURE_COLUMNS

    cols = []
    for c in FEATURE_COLUMNS:
        dtype = "double" if c in DOUBLE_FEATURES else "long"
        zero = F.lit(0.0) if dtype == "double" else F.lit(0)
        cols.append(F.coalesce(F.col(c).cast(dtype), zero).alias(c))
    return df.select(
        "id_usuario", *cols, "id_comunidade", F.coalesce(F.col("em_anel"), F.lit(0)).cast("int").alias("em_anel"),
        F.lit(build_id).alias("build_id"),
    )

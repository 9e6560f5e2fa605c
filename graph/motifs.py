"""Ring motifs as DataFrame joins (the GraphFrames ``find`` patterns, written out; see ``docs/graph.md``).

Each motif is a shape rings leave in the graph and ordinary customers rarely do:

* ``repasse`` - ``(a)-[in]->(b); (b)-[out]->(c)``: b passes on nearly all the money that came in since its
  previous outgoing transfer (one payment or a batch). Mules exist to do exactly this; people keep most of
  what they receive.
* ``cadeia`` - ``(a)-[e1]->(b); (b)-[e2]->(c)`` with ``e2`` within a window after ``e1`` and its amount
  within a band of ``e1``'s: single-hop layering (the classic forwarding chain).
* ``ciclo`` - ``(a)->(b)->(c)->(a)`` (up to ``ciclo_max_len`` hops), each hop a ``cadeia`` pair: money
  goes round and comes back (investment scams, volume inflation). Ordinary money rarely comes back whole.

The three money motifs are found at every time scale of ``motif_janelas_h`` (15 minutes to 14 days by
default): a hop may take up to the largest window, and every instance carries ``janela_h``, the smallest
window its delay fits (a mule forwarding within minutes, a layering stack waiting days between hops).
One join at the largest window finds all of them; the class is a column, not another pass.
* ``dispositivo_compartilhado`` - ``(u1)-[USA]->(d); (u2)-[USA]->(d)``: one phone operating several
  accounts (the ring operator's phone, an attacker's device bound to taken-over accounts).
* ``fan_in_jovem`` - many distinct senders paying one young account (or young key) within a day: the
  collection point of fake sales and fake-relative scams.

Inputs are the frames of :func:`graph.transforms.transfers` (``tx``) and
:func:`graph.transforms.device_bindings` (``bindings``). All functions are pure. The motif instances are
few (a few per thousand transfers), so the suspicious subgraph is assembled from them on the driver
(:func:`graph.communities.suspicious_links`).
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from pixring.settings import GraphSettings

_UNBOUNDED = Window.unboundedPreceding


def window_class(delay_s, windows_h: tuple[float, ...]):
    """The smallest window (hours) of ``windows_h`` that ``delay_s`` (a Column of seconds) fits; null past all."""
    expr = None
    for w in sorted(windows_h):
        cond = delay_s <= F.lit(w * 3600.0)
        expr = F.when(cond, F.lit(float(w))) if expr is None else expr.when(cond, F.lit(float(w)))
    return expr.otherwise(F.lit(None).cast("double"))


def _band(ratio: str, lo: float, hi: float):
    return (F.col(ratio) >= lo) & (F.col(ratio) <= hi)


def repasses(tx: DataFrame, p: GraphSettings) -> DataFrame:
    """The ``repasse`` motif, one row per outgoing transfer that passes money on.

    For every user, incoming and outgoing transfers are put in time order. An outgoing transfer passes money
    on when its value is within ``[repasse_razao_min, repasse_razao_max]`` of either (A) what came in since
    the user's previous outgoing transfer, or (B) what came in during the latest run of incoming transfers,
    counting the outgoing transfers since that run up to this one (a forward split in two); the last money
    must have come in at most the largest of ``motif_janelas_h`` before, the first at most
    ``repasse_acumulo_h`` before the last.

    Columns: ``id_usuario`` (b), ``id_transacao, destino, ts, timestamp, valor, valor_dec`` (the outgoing
    transfer), ``valor_in, n_in, remetentes, transacoes_in, ts_in_primeiro, ts_in_ultimo, razao, regra``
    (A|B), ``idade_conta_h, idade_chave_h`` (the youngest of b's account / receiving key over the inputs),
    ``n_in_disp_novo`` (inputs sent right after a login from a new device), ``janela_h`` (the smallest
    window of ``motif_janelas_h`` the delay from the last input fits).
    """
    common = ["id_transacao", "ts", "timestamp", "valor", "valor_dec"]
    ins = tx.select(
        F.col("dst").alias("u"), F.col("src").alias("outro"), F.lit(0).alias("d"), *common,
        "idade_conta_dst_h", "idade_chave_dst_h", F.col("dispositivo_novo").cast("int").alias("disp_novo"),
    )
    outs = tx.select(
        F.col("src").alias("u"), F.col("dst").alias("outro"), F.lit(1).alias("d"), *common,
        F.lit(None).cast("double").alias("idade_conta_dst_h"), F.lit(None).cast("double").alias("idade_chave_dst_h"),
        F.lit(0).alias("disp_novo"),
    )
    w = Window.partitionBy("u").orderBy("ts", "d", "id_transacao")
    ev = (
        ins.unionByName(outs)
        .withColumn("seg", F.coalesce(F.sum("d").over(w.rowsBetween(_UNBOUNDED, -1)), F.lit(0)))
        .withColumn("prev_d", F.lag("d").over(w))
        .withColumn("run", F.sum(F.when((F.col("d") == 0) & (F.col("prev_d") == 1), 1).otherwise(0))
                    .over(w.rowsBetween(_UNBOUNDED, 0)))
    )
    inputs = ev.where(F.col("d") == 0)
    out_ev = ev.where(F.col("d") == 1)

    def agg_inputs(key: str) -> DataFrame:
        return inputs.groupBy("u", key).agg(
            F.sum("valor").alias("valor_in"), F.count(F.lit(1)).alias("n_in"),
            F.array_sort(F.collect_set("outro")).alias("remetentes"),
            F.array_sort(F.collect_list("id_transacao")).alias("transacoes_in"),
            F.min("ts").alias("ts_in_primeiro"), F.max("ts").alias("ts_in_ultimo"),
            F.min("idade_conta_dst_h").alias("idade_conta_h"), F.min("idade_chave_dst_h").alias("idade_chave_h"),
            F.sum("disp_novo").alias("n_in_disp_novo"),
        )

    win = p.motif_janela_max_s
    acc = p.repasse_acumulo_h * 3600.0

    def qualify(df: DataFrame, value: str, regra: str) -> DataFrame:
        return (
            df.withColumn("razao", F.col(value) / F.col("valor_in"))
            .where(_band("razao", p.repasse_razao_min, p.repasse_razao_max))
            .where((F.col("ts") - F.col("ts_in_ultimo")) <= win)
            .where((F.col("ts_in_ultimo") - F.col("ts_in_primeiro")) <= acc)
            .withColumn("regra", F.lit(regra))
            .withColumn("janela_h", window_class(F.col("ts") - F.col("ts_in_ultimo"), p.motif_janelas_h))
        )

    a = qualify(out_ev.join(agg_inputs("seg"), ["u", "seg"]), "valor", "A")
    w_run = Window.partitionBy("u", "run").orderBy("ts", "id_transacao").rowsBetween(_UNBOUNDED, 0)
    b = qualify(
        out_ev.withColumn("valor_run", F.sum("valor").over(w_run)).join(agg_inputs("run"), ["u", "run"]),
        "valor_run", "B",
    )
    cols = [
        F.col("u").alias("id_usuario"), "id_transacao", F.col("outro").alias("destino"), "ts", "timestamp", "valor",
        "valor_dec", "valor_in", "n_in", "remetentes", "transacoes_in", "ts_in_primeiro", "ts_in_ultimo", "razao",
        "regra", "idade_conta_h", "idade_chave_h", "n_in_disp_novo", "janela_h",
    ]
    both = a.select(*cols).unionByName(b.select(*cols))
    # one row per outgoing transfer: rule A (the tighter reading) wins
    pick = Window.partitionBy("id_transacao").orderBy("regra")
    return both.withColumn("_r", F.row_number().over(pick)).where(F.col("_r") == 1).drop("_r")


def fracao_repassada(tx: DataFrame, rep: DataFrame, pairs: DataFrame) -> DataFrame:
    """Per account that passed money on: ``id_usuario, valor_repassado`` (its outgoing transfers that are a
    ``repasse`` or the second hop of a ``cadeia``), ``valor_recebido`` (all money it received) and
    ``fracao_repassada`` (their ratio, the flow-through ratio)."""
    outs = (
        rep.select("id_usuario", "id_transacao", "valor")
        .unionByName(pairs.select(F.col("b").alias("id_usuario"), F.col("id2").alias("id_transacao"),
                                  F.col("v2").alias("valor")))
        .dropDuplicates(["id_transacao"])
        .groupBy("id_usuario").agg(F.sum("valor").alias("valor_repassado"))
    )
    inflow = tx.groupBy(F.col("dst").alias("id_usuario")).agg(F.sum("valor").alias("valor_recebido"))
    return outs.join(inflow, "id_usuario").withColumn(
        "fracao_repassada", F.col("valor_repassado") / F.col("valor_recebido"))


def only_pass_through_accounts(rep: DataFrame, pairs: DataFrame, frac: DataFrame,
                               p: GraphSettings) -> tuple[DataFrame, DataFrame]:
    """``repasses`` and ``cadeia`` pairs restricted to accounts whose flow-through ratio is at least
    ``repasse_fracao_min`` (a busy account's coincidental matches are dropped)."""
    keep = F.broadcast(frac.where(F.col("fracao_repassada") >= p.repasse_fracao_min).select("id_usuario"))
    return (rep.join(keep, "id_usuario", "left_semi"),
            pairs.join(keep.withColumnRenamed("id_usuario", "b"), "b", "left_semi"))


def transfer_pairs(tx: DataFrame, window_s: float, lo: float, hi: float) -> DataFrame:
    """``(a)-[e1]->(b); (b)-[e2]->(c)`` with ``0 < t2 - t1 <= window_s``, ``lo <= v2/v1 <= hi``, ``c != a``.

    The time condition is joined through buckets of ``window_s`` seconds so that a busy hub is never
    crossed with all of its own history. Columns: ``a, b, c, id1, id2, ts1, ts2, v1, v2``.
    """
    first = tx.select(
        F.col("src").alias("a"), F.col("dst").alias("b"), F.col("id_transacao").alias("id1"),
        F.col("ts").alias("ts1"), F.col("valor").alias("v1"), F.floor(F.col("ts") / window_s).alias("bucket"),
    )
    second = tx.select(
        F.col("src").alias("b"), F.col("dst").alias("c"), F.col("id_transacao").alias("id2"),
        F.col("ts").alias("ts2"), F.col("valor").alias("v2"),
        F.explode(F.array(F.floor(F.col("ts") / window_s), F.floor(F.col("ts") / window_s) - 1)).alias("bucket"),
    )
    return (
        first.join(second, ["b", "bucket"])
        .where((F.col("ts2") > F.col("ts1")) & ((F.col("ts2") - F.col("ts1")) <= window_s))
        .where(F.col("c") != F.col("a"))
        .withColumn("_r", F.col("v2") / F.col("v1"))
        .where(_band("_r", lo, hi))
        .select("a", "b", "c", "id1", "id2", "ts1", "ts2", "v1", "v2")
    )


def cadeias(tx: DataFrame, p: GraphSettings) -> DataFrame:
    """The ``cadeia`` motif: a -> b -> c with the amount kept, the second hop at most the largest of
    ``motif_janelas_h`` after the first; ``janela_h`` = the smallest window the delay fits (see module doc)."""
    pairs = transfer_pairs(tx, p.motif_janela_max_s, p.cadeia_razao_min, p.cadeia_razao_max)
    return pairs.withColumn("janela_h", window_class(F.col("ts2") - F.col("ts1"), p.motif_janelas_h))


def ciclos(pairs: DataFrame, p: GraphSettings) -> DataFrame:
    """The ``ciclo`` motif: closed walks of 3..``ciclo_max_len`` transfers, each consecutive two a ``cadeia``
    pair (``pairs``), every user visited once, within the largest of ``motif_janelas_h`` from first to last
    transfer.

    Columns: ``usuarios`` (in flow order, the first not repeated), ``transacoes``, ``ts_inicio, ts_fim,
    comprimento, janela_h`` (the smallest window the round trip fits). A cycle found from several starting
    transfers is kept once.
    """
    span = p.motif_janela_max_s
    step = pairs.select("id1", "id2", "c", "ts2")
    paths = pairs.select(
        F.array("a", "b", "c").alias("usuarios"), F.array("id1", "id2").alias("transacoes"),
        F.col("id2").alias("ultimo"), F.col("ts1").alias("ts_inicio"), F.col("ts2").alias("ts_fim"),
    )
    found = []
    for length in range(3, p.ciclo_max_len + 1):
        ext = (
            paths.join(step, paths["ultimo"] == step["id1"])
            .where((F.col("ts2") - F.col("ts_inicio")) <= span)
        )
        start = F.element_at("usuarios", 1)
        closes = ext.where(F.col("c") == start)
        found.append(closes.select(
            "usuarios", F.concat("transacoes", F.array("id2")).alias("transacoes"),
            "ts_inicio", F.col("ts2").alias("ts_fim"), F.lit(length).alias("comprimento"),
        ))
        if length == p.ciclo_max_len:
            break
        paths = ext.where(~F.array_contains("usuarios", F.col("c"))).select(
            F.concat("usuarios", F.array("c")).alias("usuarios"),
            F.concat("transacoes", F.array("id2")).alias("transacoes"),
            F.col("id2").alias("ultimo"), "ts_inicio", F.col("ts2").alias("ts_fim"),
        )
    out = found[0]
    for f in found[1:]:
        out = out.unionByName(f)
    w = Window.partitionBy("_k").orderBy("ts_inicio")
    return (
        out.withColumn("_k", F.array_sort("transacoes"))
        .withColumn("_r", F.row_number().over(w)).where(F.col("_r") == 1).drop("_k", "_r")
        .withColumn("janela_h", window_class(F.col("ts_fim") - F.col("ts_inicio"), p.motif_janelas_h))
    )


def dispositivos_compartilhados(bindings: DataFrame, p: GraphSettings) -> DataFrame:
    """The ``dispositivo_compartilhado`` motif, one row per device and pair of its users (``u1 < u2``).

    Devices bound to more than ``disp_max_usuarios`` users are left out (public terminals, test devices).
    Columns: ``id_dispositivo, u1, u2, compartilhado_em`` (when the second of the two was first seen on
    it), ``n_usuarios, n_falhas`` (failed logins from the device by either).
    """
    per = bindings.groupBy("id_dispositivo").agg(F.countDistinct("id_usuario").alias("n_usuarios"))
    b = bindings.join(per.where((F.col("n_usuarios") >= 2) & (F.col("n_usuarios") <= p.disp_max_usuarios)),
                      "id_dispositivo")
    left = b.select("id_dispositivo", "n_usuarios", F.col("id_usuario").alias("u1"), F.col("primeiro").alias("p1"),
                    F.col("n_falhas").alias("f1"))
    r = b.select("id_dispositivo", F.col("id_usuario").alias("u2"), F.col("primeiro").alias("p2"),
                 F.col("n_falhas").alias("f2"))
    return left.join(r, "id_dispositivo").where(F.col("u1") < F.col("u2")).select(
        "id_dispositivo", "u1", "u2", F.greatest("p1", "p2").alias("compartilhado_em"), "n_usuarios",
        (F.col("f1") + F.col("f2")).alias("n_falhas"),
    )


def fan_in_jovem(tx: DataFrame, p: GraphSettings) -> DataFrame:
    """The ``fan_in_jovem`` motif, one row per receiving user: at least ``fan_in_min_remetentes`` distinct
    senders within ``fan_in_janela_h`` while the receiving account was younger than ``conta_jovem_dias``
    or the receiving key younger than ``chave_jovem_dias``.

    Columns: ``id_usuario, n_remetentes`` (the most in one window), ``ts_inicio, ts_fim`` (first and last
    qualifying transfer), ``n_janelas`` (qualifying transfers).
    """
    w = Window.partitionBy("dst").orderBy("ts").rangeBetween(-int(p.fan_in_janela_h * 3600), 0)
    young = (F.col("idade_conta_dst_h") < p.conta_jovem_dias * 24) | (F.col("idade_chave_dst_h") < p.chave_jovem_dias * 24)
    return (
        tx.withColumn("n_rem", F.size(F.collect_set("src").over(w)))
        .where((F.col("n_rem") >= p.fan_in_min_remetentes) & young)
        .groupBy(F.col("dst").alias("id_usuario"))
        .agg(F.max("n_rem").alias("n_remetentes"), F.min("ts").alias("ts_inicio"), F.max("ts").alias("ts_fim"),
             F.count(F.lit(1)).alias("n_janelas"))
    )

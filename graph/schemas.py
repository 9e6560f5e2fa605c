"""Schemas of the gold graph tables written by ``pixring graph build``, once, as Spark ``StructType``s.

These are the contract with the Neo4j loader, the GNN and the streaming scorer: columns may be added,
never renamed or removed. Every table lives at ``table_path(settings, "gold", NAME)``.
"""

from __future__ import annotations

from typing import Final

from pyspark.sql.types import (
    ArrayType,
    DataType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from lakehouse.schemas import MONEY
from pixring.contract import EDGE_ENDPOINTS, NODE_LABELS

_S, _L, _D, _I, _TS = StringType(), LongType(), DoubleType(), IntegerType(), TimestampType()

#: Silver tables the graph is built from (their Delta versions are recorded per build).
SILVER_INPUTS: Final[tuple[str, ...]] = ("usuarios", "chaves_pix", "dispositivos", "log_autenticacao", "transacoes_pix")

VERTEX_TYPES: Final[tuple[str, ...]] = tuple(NODE_LABELS)
EDGE_TYPES: Final[tuple[str, ...]] = tuple(EDGE_ENDPOINTS)
COMMUNITY_STATUS: Final[tuple[str, ...]] = ("nova", "estavel", "fundida", "dividida")
LINEAGE_RELATIONS: Final[tuple[str, ...]] = ("mesmo", "fusao", "divisao")
MOTIFS: Final[tuple[str, ...]] = ("repasse", "cadeia", "ciclo", "dispositivo_compartilhado", "fan_in_jovem")


def _f(name: str, dtype: DataType, nullable: bool = True) -> StructField:
    return StructField(name, dtype, nullable)


GRAPH_VERTICES: Final[StructType] = StructType([
    _f("id", _S, False),  # id_usuario | key token | id_dispositivo
    _f("vid", _L, False),  # xxhash64(tipo, id): the GraphX vertex id
    _f("tipo", _S, False),  # usuario | chave | dispositivo
    _f("tipo_pessoa", _S),
    _f("tipo_chave", _S),
    _f("tipo_dispositivo", _S),
    _f("data_cadastro", _TS),
    _f("id_comunidade", _S),  # stable community / ring id (users of the suspicious subgraph)
    _f("pagerank", _D, False),
    _f("grau_in", _L, False),
    _f("grau_out", _L, False),
    _f("build_id", _S, False),
])

GRAPH_EDGES: Final[StructType] = StructType([
    _f("src", _S, False),
    _f("dst", _S, False),
    _f("src_vid", _L, False),
    _f("dst_vid", _L, False),
    _f("tipo", _S, False),  # POSSUI user->key | USA user->device | PAGOU key->key | TRANSFERIU user->user
    _f("n", _L, False),  # transactions (all attempts) | logins + registrations | 1 for POSSUI
    _f("valor_total", MONEY),  # effective (concluded / in process) value; null for POSSUI/USA
    _f("primeiro", _TS),
    _f("ultimo", _TS),
    _f("n_rejeitadas", _L),  # PAGOU/TRANSFERIU: attempts the limits rejected; USA: failed logins
    _f("build_id", _S, False),
])

COMMUNITIES: Final[StructType] = StructType([
    _f("id_comunidade", _S, False),
    _f("membros", ArrayType(_S), False),  # user ids, sorted
    _f("tamanho", _I, False),
    _f("densidade", _D, False),
    _f("n_ciclos", _I, False),
    _f("diametro", _I, False),
    _f("valor_interno", MONEY, False),  # money moved between members
    _f("risco", _D, False),  # 0-1
    _f("status", _S, False),  # nova | estavel | fundida | dividida
    _f("n_repassadores", _I, False),
    _f("n_repasses", _I, False),
    _f("n_cadeias", _I, False),
    _f("n_ciclos_temporais", _I, False),
    _f("n_disp_compartilhados", _I, False),
    _f("n_contas_jovens", _I, False),
    _f("n_fan_in_jovem", _I, False),
    _f("valor_repassado", MONEY, False),
    _f("primeiro", _TS),
    _f("ultimo", _TS),
    _f("evidencias", _S, False),  # JSON
    _f("build_id", _S, False),
])

RING_CANDIDATES: Final[StructType] = StructType([
    _f("id_anel", _S, False),  # = id_comunidade of the community it comes from (stable)
    _f("membros", ArrayType(_S), False),
    _f("evidencias", _S, False),  # JSON: motifs, counts, amounts, reasons
    _f("risco", _D, False),
    _f("tamanho", _I, False),
    _f("valor_em_risco", MONEY, False),  # money that came into the ring from outside / was passed on
    _f("status", _S, False),
    _f("nucleo", ArrayType(_S), False),  # suspected mules/collectors (forwarders and their payees)
    _f("build_id", _S, False),
])

#: Per user, numeric graph features for the GNN (0 when the user has no such structure).
FEATURE_COLUMNS: Final[tuple[str, ...]] = (
    "pagerank", "grau_in", "grau_out", "n_chaves", "n_dispositivos", "n_disp_compartilhados",
    "max_usuarios_disp", "n_contrapartes_in", "n_contrapartes_out", "n_repasses", "valor_repassado",
    "fracao_repassada",
    "n_cadeias", "n_ciclos", "n_fan_in_jovem", "tamanho_componente", "risco_comunidade",
)
DOUBLE_FEATURES: Final[frozenset[str]] = frozenset({"pagerank", "valor_repassado", "fracao_repassada", "risco_comunidade"})
GRAPH_FEATURES: Final[StructType] = StructType(
    [_f("id_usuario", _S, False)]
    + [_f(c, _D if c in DOUBLE_FEATURES else _L, False) for c in FEATURE_COLUMNS]
    + [_f("id_comunidade", _S), _f("em_anel", _I, False), _f("build_id", _S, False)]
)

#: Every motif instance found (evidence an investigator can open).
GRAPH_MOTIFS: Final[StructType] = StructType([
    _f("motivo", _S, False),
    _f("usuarios", ArrayType(_S), False),  # in flow order (repasse: forwarder first)
    _f("transacoes", ArrayType(_S)),
    _f("valor", MONEY),
    _f("inicio", _TS),
    _f("fim", _TS),
    _f("detalhe", _S),  # JSON
    _f("id_comunidade", _S),
    _f("build_id", _S, False),
])

GRAPH_BUILDS: Final[StructType] = StructType([
    _f("build_id", _S, False),
    _f("built_at", _TS, False),
    _f("silver_versions", _S, False),  # JSON {table: version}
    _f("counts", _S, False),  # JSON
    _f("params", _S, False),  # JSON of the GraphSettings used
    _f("segundos", _D, False),
    _f("base_build_id", _S),  # the build whose communities ids were matched against
])

RING_LINEAGE: Final[StructType] = StructType([
    _f("build_id", _S, False),
    _f("id_antigo", _S, False),
    _f("id_novo", _S, False),
    _f("relacao", _S, False),  # mesmo | fusao | divisao
    _f("overlap", _D, False),  # |old & new| / |old|
    _f("jaccard", _D, False),
    _f("n_comuns", _I, False),
])

GOLD_GRAPH: Final[dict[str, StructType]] = {
    "graph_vertices": GRAPH_VERTICES,
    "graph_edges": GRAPH_EDGES,
    "communities": COMMUNITIES,
    "ring_candidates": RING_CANDIDATES,
    "graph_features": GRAPH_FEATURES,
    "graph_motifs": GRAPH_MOTIFS,
    "graph_builds": GRAPH_BUILDS,
    "ring_lineage": RING_LINEAGE,
}

"""Gold tables written by ``pixring gnn embed``, once, as Spark ``StructType``s.

They are the contract with the streaming scorer, the API and Neo4j: columns may be added, never renamed
or removed. Every table lives at ``table_path(settings, "gold", NAME)`` and carries the registered model
version that produced it (``modelo_versao``), so a score can always be traced to its MLflow run.
"""

from __future__ import annotations

from typing import Final

from pyspark.sql.types import (
    ArrayType,
    DoubleType,
    FloatType,
    IntegerType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

_S, _D, _TS = StringType(), DoubleType(), TimestampType()

#: One row per graph vertex the model scored (users always; keys and devices when the model scores them).
NODE_SCORES: Final[StructType] = StructType([
    StructField("id", _S, False),  # graph_vertices.id: id_usuario | key token | id_dispositivo
    StructField("tipo", _S, False),  # usuario | chave | dispositivo
    StructField("score", _D, False),  # probability of being a mule/collector account, 0-1
    StructField("sinalizado", IntegerType(), False),  # 1 when score >= the model's operating threshold
    StructField("id_comunidade", _S),  # graph community / ring id, when any
    StructField("modelo_versao", _S, False),  # registered model version (MLflow), e.g. "3"
    StructField("gerado_em", _TS, False),
])

#: The model's node embeddings (the last hidden layer), for similarity search and downstream models.
NODE_EMBEDDINGS: Final[StructType] = StructType([
    StructField("id", _S, False),
    StructField("tipo", _S, False),
    StructField("embedding", ArrayType(FloatType(), False), False),
    StructField("modelo_versao", _S, False),
    StructField("gerado_em", _TS, False),
])

#: Per community / ring candidate: the model's view of the ring.
RING_SCORES: Final[StructType] = StructType([
    StructField("id_comunidade", _S, False),
    StructField("score", _D, False),  # e.g. mean of the members' top-half scores
    StructField("n_membros", IntegerType(), False),
    StructField("n_sinalizados", IntegerType(), False),
    StructField("modelo_versao", _S, False),
    StructField("gerado_em", _TS, False),
])

#: For each flagged account: the neighbours and edges that weighed most in its score (JSON list of
#: ``{"id", "tipo", "relacao", "peso"}``, heaviest first), served by the API.
NODE_EXPLANATIONS: Final[StructType] = StructType([
    StructField("id", _S, False),
    StructField("tipo", _S, False),
    StructField("score", _D, False),
    StructField("explicacao", _S, False),  # JSON
    StructField("metodo", _S, False),  # e.g. "captum.saliency" | "gradients"
    StructField("modelo_versao", _S, False),
    StructField("gerado_em", _TS, False),
])

GOLD_GNN: Final[dict[str, StructType]] = {
    "node_scores": NODE_SCORES,
    "node_embeddings": NODE_EMBEDDINGS,
    "ring_scores": RING_SCORES,
    "node_explanations": NODE_EXPLANATIONS,
}

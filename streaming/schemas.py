"""Schemas of the streaming scorer, once: the Kafka message it parses and the gold table it writes.

* :data:`TRANSACTION_MESSAGE` – the explicit schema of a ``pix.transacoes`` value (see
  :mod:`lakehouse.producer`); :mod:`streaming.parse` validates every record against it and sends the ones
  that fail to the DLQ with the reason.
* :data:`SCORED_TRANSACTIONS` – ``gold/scored_transactions``: one row per transaction id (MERGE on
  ``id_transacao``), keys only as HMAC tokens (never clear keys), the model's features, score, decision and
  reasons, and the versions of the model and gold tables that produced them.

Columns may be added, never renamed or removed (the API reads this table).
"""

from __future__ import annotations

from typing import Final

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DataType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from gnn.serving import TX_FEATURES
from lakehouse.schemas import MONEY
from pixring.contract import MESSAGE_FIELDS

SCORED_TABLE: Final[str] = "scored_transactions"

_S, _D, _TS = StringType(), DoubleType(), TimestampType()


def _f(name: str, dtype: DataType, nullable: bool = True) -> StructField:
    return StructField(name, dtype, nullable)


#: ``pix.transacoes`` value (:data:`pixring.contract.MESSAGE_FIELDS`; every field required, extra fields
#: ignored): ``valor`` a JSON number (> 0, at most two decimals), every other field a string; ``timestamp``
#: local time ``YYYY-MM-DDTHH:MM:SS``; the keys in CLEAR, tokenised before anything is written.
TRANSACTION_MESSAGE: Final[StructType] = StructType([
    _f("schema_version", IntegerType(), False),
    *(_f(name, _D if name == "valor" else _S, False) for name in MESSAGE_FIELDS),
])

#: ``gold/scored_transactions``.
SCORED_TRANSACTIONS: Final[StructType] = StructType([
    _f("id_transacao", _S, False),
    _f("timestamp", _TS, False),  # event time (local)
    _f("data", DateType(), False),
    _f("valor", MONEY, False),
    _f("chave_pix_origem", _S, False),  # HMAC token (64 hex)
    _f("chave_pix_destino", _S, False),  # HMAC token
    _f("tipo_transacao", _S, False),
    _f("status", _S, False),
    _f("id_usuario_origem", _S),  # owner of the key (silver chaves_pix), when known
    _f("id_usuario_destino", _S),
    _f("id_anel_origem", _S),  # ring_candidates.id_anel of the owner, when a ring member
    _f("id_anel_destino", _S),
    *[_f(name, _D, False) for name in TX_FEATURES if name != "valor"],  # the model's features (valor above)
    _f("score", _D, False),  # the model's probability, 0-1
    _f("decisao", _S, False),  # allow | review | block
    _f("motivos", ArrayType(_S, False), False),
    _f("modelo_versao", _S, False),  # registered model version ("none" when scored by rules only)
    _f("gold_versao", _S, False),  # Delta versions of the lookups, "chaves_pix@12,node_scores@3,..."
    _f("atrasada", BooleanType(), False),  # arrived later than the watermark: features may be partial
    _f("kafka_topic", _S, False),
    _f("kafka_partition", IntegerType(), False),
    _f("kafka_offset", LongType(), False),
    _f("kafka_timestamp", _TS),  # when the producer sent it
    _f("pontuado_em", _TS, False),  # when the scorer decided
])
SCORED_COLUMNS: Final[tuple[str, ...]] = tuple(f.name for f in SCORED_TRANSACTIONS.fields)

#: ``pix.transacoes.scored`` value: a row of :data:`SCORED_TRANSACTIONS` as JSON (times as local ISO text,
#: ``valor`` a number) plus the Kafka and decision instants in epoch milliseconds. The Delta sink
#: (:mod:`streaming.sink`) rebuilds the table's rows from it: ``kafka_timestamp`` and ``pontuado_em`` from the
#: ``*_ms`` fields (the text ones are for readers).
_MESSAGE_TEXT = frozenset({"timestamp", "data", "kafka_timestamp", "pontuado_em"})
SCORED_MESSAGE: Final[StructType] = StructType([
    *[_f(f.name, _S if f.name in _MESSAGE_TEXT else f.dataType, f.nullable) for f in SCORED_TRANSACTIONS.fields],
    _f("kafka_ts_ms", LongType(), False),  # the input record's Kafka timestamp (0: none)
    _f("pontuado_em_ms", LongType(), False),
])

#: Statistics only on metadata-like columns (tokens are not PII in clear, but min/max of them is useless).
SCORED_PROPERTIES: Final[dict[str, str]] = {
    "delta.dataSkippingStatsColumns": "id_transacao,timestamp,data,kafka_partition,kafka_offset,pontuado_em",
    "delta.autoOptimize.autoCompact": "true",
}

#: Stable DLQ reason codes (the reason travels in the DLQ record's headers, the raw bytes as its value).
DLQ_REASONS: Final[tuple[str, ...]] = (
    "valor_vazio", "json_invalido", "nao_objeto", "versao_ausente", "versao_desconhecida", "campo_ausente",
    "tipo_invalido", "campo_longo", "timestamp_invalido", "valor_invalido", "chave_invalida", "enum_desconhecido",
    "mensagem_grande", "utf8_invalido", "id_invalido", "timestamp_futuro", "timestamp_atrasado",
)

"""A tiny world for the scorer: silver keys, gold user scores and one ring, and transactions to replay.

Users U01-U10 are ordinary (score 0.05); U20 (mule) and U21 (collector) form ring ``ANEL-1`` (risco 0.8).
Each user owns one random key (an EVP made from its number).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from gnn.schemas import NODE_SCORES
from graph.schemas import RING_CANDIDATES
from lakehouse import delta
from lakehouse.paths import table_path
from lakehouse.schemas import SILVER
from lakehouse.transforms.tokenise import token
from tests.helpers import consume  # noqa: F401 - the streaming tests call world.consume

T0 = datetime(2026, 10, 1, 10, 0, 0)
ORDINARY = [f"U{i:02d}" for i in range(1, 11)]
RING = ["U20", "U21"]


def key(user: str) -> str:
    return str(uuid.UUID(int=int(user[1:]) * 7919 + 12345))


def build_gold(spark, settings, ring_risco: float = 0.8, ring_id: str = "ANEL-1") -> None:
    """Write silver chaves_pix, gold node_scores and ring_candidates (append: a new Delta version each)."""
    secret = settings.security.pii_secret
    now = datetime(2026, 10, 1, 0, 0, 0)
    keys = []
    for u in ORDINARY + RING:
        tok = token(key(u), secret)
        cadastro = datetime(2020, 1, 1) if u in ORDINARY else T0 - timedelta(hours=5)
        keys.append((tok, "aleatoria", "0" * 64, "PF", "X***", cadastro, "ativa", u, "b1", "h" * 64, now))
    path = table_path(settings, "silver", "chaves_pix")
    delta.ensure_table(spark, path, SILVER["chaves_pix"])
    spark.createDataFrame(keys, SILVER["chaves_pix"]).write.format("delta").mode("overwrite").save(path)

    scores = [(u, "usuario", 0.05, 0, None, "1", now) for u in ORDINARY]
    scores += [(u, "usuario", 0.9, 1, ring_id, "1", now) for u in RING]
    path = table_path(settings, "gold", "node_scores")
    spark.createDataFrame(scores, NODE_SCORES).write.format("delta").mode("overwrite").save(path)

    rings = [(ring_id, RING, "{}", ring_risco, 2, Decimal("5000.00"), "nova", RING, "b1")]
    path = table_path(settings, "gold", "ring_candidates")
    spark.createDataFrame(rings, RING_CANDIDATES).write.format("delta").mode("overwrite").save(path)


def tx(i: int, origin: str, dest: str, minutes: float, valor: float = 100.0, status: str = "concluida") -> dict:
    ts = T0 + timedelta(minutes=minutes)
    return {"schema_version": 1, "id_transacao": f"TX{i:010d}", "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%S"),
            "valor": valor, "chave_pix_origem": key(origin), "chave_pix_destino": key(dest),
            "tipo_transacao": "transferencia_p2p", "status": status}


def ordinary_and_ring(n: int) -> list[dict]:
    """``n`` transactions 30 s apart: every 10th pays the ring mule U20, the rest ordinary life (U01-U05 pay
    U06-U10, who never pay on: no forwarding)."""
    out = []
    for i in range(n):
        o = ORDINARY[i % 5]
        d = "U20" if i % 10 == 9 else ORDINARY[5 + (i * 3) % 5]
        out.append(tx(i + 1, o, d, minutes=i * 0.5, valor=50.0 + i % 40))
    return out


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])[topic].result(30)


def produce(bootstrap: str, topic: str, docs: list, raw: list[bytes] = ()) -> None:
    """Publish the JSON docs (key = origin key) and raw byte values (garbage) to ``topic``."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 5})
    for d in docs:
        p.produce(topic, key=str(d.get("chave_pix_origem", "")).encode(),
                  value=json.dumps(d).encode())
    for r in raw:
        p.produce(topic, key=b"garbage", value=r)
    assert p.flush(30) == 0

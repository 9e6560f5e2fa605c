"""Hand-made silver frames for the graph tests: a tiny bank with one planted ring and some ordinary life.

World (times relative to ``T0`` = 2026-10-01 10:00, America/Sao_Paulo):

* U01-U20 ordinary customers (accounts from 2020), paying each other now and then; U01 passes on, once,
  money it received (rent: old account, no shared device -> a low-risk community); U04 and U05 share the
  family tablet (old binding).
* the ring: victims U21-U25 pay two fresh mule accounts (U26, U27), who forward nearly all of it within
  minutes to a fresh collector (U28); the three are operated from one phone (DX) bound days before.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

T0 = datetime(2026, 10, 1, 10, 0, 0)
OLD = datetime(2020, 3, 1, 9, 0, 0)
VICTIMS = ["U21", "U22", "U23", "U24", "U25"]
MULES = ["U26", "U27"]
COLLECTOR = "U28"
RING_CORE = [*MULES, COLLECTOR]

USUARIOS_SCHEMA = "id_usuario string, tipo_pessoa string, data_cadastro timestamp, status string"
CHAVES_SCHEMA = ("chave_pix string, tipo_chave string, tipo_pessoa string, data_cadastro timestamp, status string, "
                 "id_usuario string")
DISPOSITIVOS_SCHEMA = ("id_dispositivo string, id_usuario string, tipo_dispositivo string, data_registro timestamp, "
                       "status string")
LOGINS_SCHEMA = "id_log string, id_usuario string, timestamp timestamp, tipo_autenticacao string, status string, id_dispositivo string"
TX_SCHEMA = ("id_transacao string, timestamp timestamp, valor decimal(15,2), chave_pix_origem string, "
             "chave_pix_destino string, tipo_transacao string, status string, id_usuario_origem string, "
             "id_usuario_destino string, idade_conta_destino_h double, idade_chave_destino_h double, "
             "dispositivo_novo boolean")


def key(user: str) -> str:
    """The user's key token (64 hex, like silver's HMAC tokens)."""
    return hashlib.sha256(user.encode()).hexdigest()


def users() -> list[str]:
    return [f"U{i:02d}" for i in range(1, 29)] + ["U29"]


def cadastro(user: str) -> datetime:
    if user in MULES:
        return T0 - timedelta(days=10)
    if user == COLLECTOR:
        return T0 - timedelta(days=20)
    return OLD


class World:
    """Rows of the five silver inputs; ``tx`` can grow (a second build sees more data)."""

    def __init__(self) -> None:
        self.tx: list[tuple] = []
        self._n = 0
        self.users = [(u, "PF", cadastro(u), "ativo") for u in users()]
        self.keys = [(key(u), "aleatoria", "PF", cadastro(u) + timedelta(minutes=5), "ativa", u) for u in users()]
        self.devices = [(f"D{u}", u, "android", cadastro(u) + timedelta(minutes=1), "ativo") for u in users()]
        self.devices += [("DFAM", "U04", "tablet", datetime(2021, 5, 1), "ativo"),
                         ("DFAM", "U05", "tablet", datetime(2021, 5, 1), "ativo")]
        self.devices += [("DX", u, "android", T0 - timedelta(days=2, hours=h), "ativo") for h, u in enumerate(RING_CORE)]
        self.logins = [(f"L{i}", u, T0 - timedelta(hours=1), "senha", "sucesso", f"D{u}") for i, u in enumerate(users())]
        self._ordinary_life()
        self._ring()

    def pay(self, src: str, dst: str, when: datetime, valor: float, status: str = "concluida") -> None:
        self._n += 1
        age = (when - cadastro(dst)).total_seconds() / 3600
        self.tx.append((f"TX{self._n:05d}", when, Decimal(f"{valor:.2f}"), key(src), key(dst), "transferencia_p2p", status,
                        src, dst, age, age - 1 / 12, False))

    def _ordinary_life(self) -> None:
        ordinary = [f"U{i:02d}" for i in range(2, 21)]
        for i in range(40):  # payments that never pass money on quickly
            a, b = ordinary[(i * 7) % 19], ordinary[(i * 11 + 3) % 19]
            if a != b:
                self.pay(a, b, T0 - timedelta(days=9) + timedelta(hours=5 * i), 37.0 + 13 * i)
        self.pay("U02", "U01", T0 + timedelta(days=3), 1000.00)  # rent: in, and out 30 minutes later
        self.pay("U01", "U03", T0 + timedelta(days=3, minutes=30), 980.00)

    def _ring(self) -> None:
        for i, (v, amount) in enumerate(zip(VICTIMS[:3], (300.0, 250.0, 450.0))):
            self.pay(v, "U26", T0 + timedelta(minutes=5 * i), amount)
        self.pay("U26", COLLECTOR, T0 + timedelta(minutes=40), 990.00)
        self.pay("U24", "U27", T0 + timedelta(hours=1), 500.00)
        self.pay("U25", "U27", T0 + timedelta(hours=1, minutes=3), 700.00)
        self.pay("U27", COLLECTOR, T0 + timedelta(hours=1, minutes=30), 1180.00)

    def more_ring_activity(self) -> None:
        """A new victim (U29) pays U26 the next day; U26 forwards it: the ring grows by one member."""
        self.pay("U29", "U26", T0 + timedelta(days=1), 640.00)
        self.pay("U26", COLLECTOR, T0 + timedelta(days=1, minutes=25), 630.00)

    def frames(self, spark):
        from graph.build import GraphInputs

        return GraphInputs(
            usuarios=spark.createDataFrame(self.users, USUARIOS_SCHEMA),
            chaves_pix=spark.createDataFrame(self.keys, CHAVES_SCHEMA),
            dispositivos=spark.createDataFrame(self.devices, DISPOSITIVOS_SCHEMA),
            log_autenticacao=spark.createDataFrame(self.logins, LOGINS_SCHEMA),
            transacoes_pix=spark.createDataFrame(self.tx, TX_SCHEMA),
        )


@pytest.fixture(scope="session")
def toy():
    """This module (the toy world and its constants) for the test modules: they cannot import conftest."""
    import sys

    return sys.modules[__name__]

"""A tiny, hand-made Pix data set (the seven files) with known answers, plus deliberately broken rows.

Six account holders: Ana (U1) takes over a new device and pays Carla; Carla (U3) and Diego (U4) are young
accounts that forward what they receive within the hour; Loja Boa (U5) is a company; Eva (U6) is the person
erased in the LGPD test. Every broken row carries the reason code it must be quarantined with.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from datagen.documents import cnpj_check_digits, cpf_check_digits
from pixring.contract import COLUMNS


def cpf(base: str) -> str:
    return base + cpf_check_digits(base)


def cnpj(base: str) -> str:
    return base + cnpj_check_digits(base)


ONE_MB = 1024 * 1024

USERS = {
    "U00000001": dict(doc=cpf("123456789"), nome="Ana Souza", email="Ana.Souza@Example.com",
                      tel="(11) 98765-0001", since="2024-01-10T10:00:00"),
    "U00000002": dict(doc=cpf("234567891"), nome="Bruno Lima", email="bruno.lima@example.com",
                      tel="+5521987650002", since="2023-05-02T12:00:00"),
    "U00000003": dict(doc=cpf("345678912"), nome="Carla Dias", email="carla.dias@example.com",
                      tel="+5531987650003", since="2026-09-01T08:00:00"),
    "U00000004": dict(doc=cpf("456789123"), nome="Diego Reis", email="diego.reis@example.com",
                      tel="+5541987650004", since="2026-09-02T08:00:00"),
    "U00000005": dict(doc=cnpj("123456780001"), nome="Loja Boa Ltda", email="contato@lojaboa.com.br",
                      tel="+5511333350005", since="2022-03-03T09:00:00"),
    "U00000006": dict(doc=cpf("567891234"), nome="Eva Melo", email="eva.melo@example.com",
                      tel="+5551987650006", since="2025-06-06T06:00:00"),
}
ERASED = "U00000006"

EVP2 = "0f8fad5b-d9cb-469f-a165-70867728950e"
EVP3 = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
UNKNOWN_EVP = "9b2d6f0e-1c3a-4b5d-8e7f-0a1b2c3d4e5f"


def _d(u: str) -> str:
    return USERS[u]["doc"]


# key -> (type, holder, registered)
KEYS = {
    _d("U00000001"): ("cpf", "U00000001", "2024-01-10T10:05:00"),
    "ana.souza@example.com": ("email", "U00000001", "2024-01-10T10:06:00"),
    "+5521987650002": ("telefone", "U00000002", "2023-05-02T12:05:00"),
    EVP2: ("aleatoria", "U00000002", "2023-05-02T12:06:00"),
    EVP3: ("aleatoria", "U00000003", "2026-09-01T09:00:00"),
    _d("U00000004"): ("cpf", "U00000004", "2026-09-02T08:10:00"),
    _d("U00000005"): ("cnpj", "U00000005", "2022-03-03T09:10:00"),
    _d("U00000006"): ("cpf", "U00000006", "2025-06-06T06:10:00"),
    "eva.melo@example.com": ("email", "U00000006", "2025-06-06T06:11:00"),
}


def k(u: str, kind: str) -> str:
    return next(key for key, (t, holder, _) in KEYS.items() if holder == u and t == kind)


# id, timestamp, valor, origin key, destination key, tipo, status
TX = [
    ("TX0000000001", "2026-09-10T09:10:00", "500.00", k("U00000001", "cpf"), EVP3, "transferencia_p2p", "concluida"),
    ("TX0000000002", "2026-09-10T09:20:00", "300.00", "+5521987650002", EVP3, "transferencia_p2p", "concluida"),
    ("TX0000000003", "2026-09-10T09:40:00", "780.00", EVP3, k("U00000004", "cpf"), "transferencia_p2p", "concluida"),
    ("TX0000000004", "2026-09-10T10:30:00", "700.00", k("U00000004", "cpf"), k("U00000005", "cnpj"),
     "pagamento_p2m", "concluida"),
    ("TX0000000005", "2026-09-10T22:30:00", "50.00", "eva.melo@example.com", "ana.souza@example.com",
     "transferencia_p2p", "concluida"),
    ("TX0000000006", "2026-09-10T23:00:00", "20.00", k("U00000001", "cpf"), k("U00000006", "cpf"),
     "transferencia_p2p", "concluida"),
    ("TX0000000007", "2026-09-11T12:00:00", "1500.00", k("U00000005", "cnpj"), EVP2, "transferencia_b2p", "concluida"),
    ("TX0000000008", "2026-09-11T13:00:00", "100.00", "+5521987650002", k("U00000004", "cpf"),
     "transferencia_p2p", "rejeitada"),
]

# the file rows that must be quarantined, with the reason each must carry
BROKEN_TX = [
    (["TX0000000101", "2026-09-12T10:00:00", "abc", EVP2, EVP3, "transferencia_p2p", "concluida"], "bad_number:valor"),
    (["TX0000000102", "2026-09-12T10:00:00", "-10.00", EVP2, EVP3, "transferencia_p2p", "concluida"],
     "not_positive:valor"),
    (["TX0000000103", "2026-13-45T25:00:00", "10.00", EVP2, EVP3, "transferencia_p2p", "concluida"],
     "bad_timestamp:timestamp"),
    (["TX0000000104", "2026-09-12T10:00:00", "10.00", EVP2, UNKNOWN_EVP, "transferencia_p2p", "concluida"],
     "unknown_key:chave_pix_destino"),
    (["TX0000000105", "2026-09-12T10:00:00", "10.00", EVP2, EVP3, "boleto", "concluida"],
     "bad_enum:tipo_transacao=boleto"),
    (["X'105", "2026-09-12T10:00:00", "10.00", EVP2, EVP3, "transferencia_p2p", "concluida"], "bad_id:id_transacao"),
    (["TX0000000106", "2026-09-12T10:00:00", "10.00", EVP2, "not a key", "transferencia_p2p", "concluida"],
     "bad_key_format:chave_pix_destino"),
    (["TX0000000107", "2026-09-12T10:00:00", "10.00"], "malformed_row"),  # too few fields
    (["TX0000000108", "", "10.00", EVP2, EVP3, "transferencia_p2p", "concluida"], "missing:timestamp"),
]
BROKEN_USERS = [
    (["U00000090", cpf("678912345"), "X" * ONE_MB, "big@example.com", "+5511987650090", "2024-01-01T00:00:00",
      "ativo"], "too_long:nome"),
    (["U00000091", "12345678900", "Doc Errado", "doc@example.com", "+5511987650091", "2024-01-01T00:00:00", "ativo"],
     "bad_document:cpf_cnpj"),
    (["U00000092", cpf("789123456"), "Mail Errado", "not-an-email", "+5511987650092", "2024-01-01T00:00:00",
      "ativo"], "bad_email:email"),
]
BROKEN_KEYS = [
    (["+5511911112222", "email", _d("U00000002"), "Bruno Lima", "2024-01-01T00:00:00", "ativa"],
     "bad_key_format:chave_pix"),
    ([cpf("891234567"), "cpf", _d("U00000002"), "Bruno Lima", "2024-01-01T00:00:00", "ativa"],
     "key_not_holder_document"),
]
BROKEN_LIMITS = [(["U00000002", "0", "100.00", "2024-01-01T00:00:00"], "not_positive:limite_diario")]
BROKEN_DEVICES = [(["D00000099", "U99999999", "android", "2024-01-01T00:00:00", "ativo"], "unknown_user:id_usuario")]
BROKEN_FRAUDS = [(["F00000099", "TX9999999999", "engenharia_social", "2026-09-20T00:00:00", "10.00", "em_analise"],
                  "unknown_transaction:id_transacao")]

#: Kafka messages of the pipeline test: (value, expected reason or None for a valid one)
STREAM_VALID = [
    ("TX0000000201", "2026-09-12T08:00:00", "25.50", "+5521987650002", EVP3, "transferencia_p2p", "concluida"),
    ("TX0000000202", "2026-09-12T08:30:00", "25.00", EVP3, k("U00000004", "cpf"), "transferencia_p2p", "concluida"),
    TX[0],  # TX0000000001 again through Kafka: a duplicate of the file row (the newer copy wins)
]
STREAM_BROKEN = [
    ("this is not json", "bad_json"),
    ('{"schema_version": 2, "id_transacao": "TX0000000301"}', "unsupported_schema_version"),
    (json.dumps({"schema_version": 1, "id_transacao": "TX0000000302", "timestamp": "2026-09-12T09:00:00",
                 "valor": 10, "chave_pix_origem": EVP2, "chave_pix_destino": EVP3,
                 "tipo_transacao": "transferencia_p2p", "status": "concluida", "hack": "x"}), "unexpected_fields"),
    (json.dumps({"schema_version": 1, "id_transacao": "TX0000000303", "timestamp": "2026-09-12T09:00:00",
                 "valor": "R$ 10", "chave_pix_origem": EVP2, "chave_pix_destino": EVP3,
                 "tipo_transacao": "transferencia_p2p", "status": "concluida"}), "bad_number:valor"),
]


@dataclass
class Dataset:
    rows: dict[str, list[list[str]]] = field(default_factory=dict)
    broken: dict[str, list[tuple[list[str], str]]] = field(default_factory=dict)

    def valid_count(self, table: str) -> int:
        return len(self.rows.get(table, []))


def batch1() -> Dataset:
    ds = Dataset()
    ds.rows["usuarios"] = [[u, d["doc"], d["nome"], d["email"], d["tel"], d["since"], "ativo"] for u, d in USERS.items()]
    ds.rows["chaves_pix"] = [
        [key, t, _d(holder), USERS[holder]["nome"], since, "ativa"] for key, (t, holder, since) in KEYS.items()
    ]
    ds.rows["dispositivos"] = [
        [f"D0000000{i}", u, "android", USERS[u]["since"], "ativo"] for i, u in enumerate(USERS, start=1)
    ] + [["D00000007", "U00000001", "ios", "2026-09-10T09:00:00", "ativo"]]
    ds.rows["limites_transacoes"] = [[u, "5000.00", "2000.00", d["since"]] for u, d in USERS.items()]
    ds.rows["log_autenticacao"] = [
        ["L0000000001", "U00000001", "2026-09-09T08:00:00", "biometria", "sucesso", "D00000001"],
        ["L0000000002", "U00000001", "2026-09-10T09:05:00", "token_sms", "sucesso", "D00000007"],
        ["L0000000003", "U00000002", "2026-09-10T09:15:00", "senha", "sucesso", "D00000002"],
        ["L0000000004", "U00000003", "2026-09-10T09:35:00", "senha", "sucesso", "D00000003"],
        ["L0000000005", "U00000004", "2026-09-10T10:25:00", "senha", "falha", "D00000004"],
        ["L0000000006", "U00000006", "2026-09-10T22:25:00", "biometria", "sucesso", "D00000006"],
    ]
    ds.rows["transacoes_pix"] = [list(t) for t in TX] + [list(TX[2])]  # TX0000000003 twice: a duplicate
    ds.rows["fraudes"] = [
        ["F00000001", "TX0000000001", "invasao_conta", "2026-09-12T10:00:00", "500.00", "confirmada"],
        ["F00000002", "TX0000000002", "golpe_falso_parente", "2026-09-13T10:00:00", "300.00", "em_analise"],
    ]
    ds.broken = {
        "transacoes_pix": BROKEN_TX, "usuarios": BROKEN_USERS, "chaves_pix": BROKEN_KEYS,
        "limites_transacoes": BROKEN_LIMITS, "dispositivos": BROKEN_DEVICES, "fraudes": BROKEN_FRAUDS,
    }
    return ds


def batch2() -> Dataset:
    """A second delivery: Ana raised her limits, Bruno's random key was deactivated, two new transactions
    and one re-sent (a duplicate)."""
    ds = Dataset()
    ds.rows["limites_transacoes"] = [["U00000001", "9000.00", "3000.00", "2026-09-15T10:00:00"]]
    ds.rows["chaves_pix"] = [[EVP2, "aleatoria", _d("U00000002"), "Bruno Lima", KEYS[EVP2][2], "inativa"]]
    ds.rows["transacoes_pix"] = [
        ["TX0000000009", "2026-09-16T09:00:00", "42.00", "+5521987650002", k("U00000004", "cpf"),
         "transferencia_p2p", "concluida"],
        ["TX0000000010", "2026-09-16T09:30:00", "40.00", k("U00000004", "cpf"), k("U00000005", "cnpj"),
         "pagamento_p2m", "concluida"],
        list(TX[3]),
    ]
    return ds


def write_csv(directory: Path, ds: Dataset) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for table, rows in ds.rows.items():
        with (directory / f"{table}.csv").open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(COLUMNS[table])
            w.writerows(rows)
            w.writerows(r for r, _ in ds.broken.get(table, []))
    return directory


def write_parquet(directory: Path, table: str, rows: list[list[str]]) -> Path:
    """One table as Parquet with datagen's physical types (timestamp[s], decimal128(15,2))."""
    from datetime import datetime
    from decimal import Decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    from pixring.contract import COLUMN_TYPES, MONEY_PRECISION, MONEY_SCALE

    directory.mkdir(parents=True, exist_ok=True)
    arrays, fields = [], []
    for i, col in enumerate(COLUMNS[table]):
        kind = COLUMN_TYPES[table][col]
        values = [r[i] for r in rows]
        if kind == "ts":
            arrays.append(pa.array([datetime.fromisoformat(v) for v in values], pa.timestamp("s")))
        elif kind == "money":
            arrays.append(pa.array([Decimal(v) for v in values], pa.decimal128(MONEY_PRECISION, MONEY_SCALE)))
        else:
            arrays.append(pa.array(values, pa.string()))
        fields.append(col)
    path = directory / f"{table}.parquet"
    pq.write_table(pa.table(arrays, names=fields), path)
    return path


def clear_pii() -> dict[str, set[str]]:
    """Every clear identifier of the data set, as it could appear after conforming."""
    docs = {d["doc"] for d in USERS.values()} | {r[0][1] for r in BROKEN_USERS} | {cpf("891234567")}
    emails = {d["email"].lower() for d in USERS.values()} | {r[0][3] for r in BROKEN_USERS}
    phones = {"+5511987650001"} | {d["tel"] for d in USERS.values() if d["tel"].startswith("+")}
    return {"documents": docs, "emails": emails, "phones": phones}


def env_for(home: Path, **env: str) -> dict[str, str]:
    """A subprocess environment for ``pixring`` rooted at ``home``."""
    out = dict(os.environ)
    out["PIXRING_HOME"] = str(home)
    out.update(env)
    return out

"""The data contract of the generated Pix data sets: file names, columns, enum values and the rules.

Everything a consumer (the lakehouse validation, the graph builder, the tests) needs to know about the
files ``datagen`` writes lives here, as plain module-level constants, so it can be imported without
pulling in numpy or Faker.

Conventions (also in ``docs/datagen.md``):

* timestamps are ISO-8601 ``YYYY-MM-DDTHH:MM:SS``, local time ``America/Sao_Paulo`` (no offset, no DST
  since 2019); in Parquet they are ``timestamp[s]`` without a time zone;
* money columns carry two decimals (CSV ``1234.50``; Parquet ``decimal128(15, 2)``);
* ``cpf_cnpj`` and the CPF/CNPJ keys are digits only (11 or 14 characters, leading zeros kept: read
  them as strings);
* ids are strings with stable prefixes (:data:`ID_PREFIX`).
"""

from __future__ import annotations

from typing import Final

# --------------------------------------------------------------------------------------------- files
#: The seven data sets of the seed (§10), in the order they are listed there.
FILES: Final[tuple[str, ...]] = (
    "transacoes_pix",
    "chaves_pix",
    "usuarios",
    "dispositivos",
    "fraudes",
    "limites_transacoes",
    "log_autenticacao",
)

#: Column names and order of every data set, exactly as the seed lists them.
COLUMNS: Final[dict[str, list[str]]] = {
    "transacoes_pix": [
        "id_transacao", "timestamp", "valor", "chave_pix_origem", "chave_pix_destino",
        "tipo_transacao", "status",
    ],
    "chaves_pix": ["chave_pix", "tipo_chave", "cpf_cnpj", "nome_titular", "data_cadastro", "status"],
    "usuarios": ["id_usuario", "cpf_cnpj", "nome", "email", "telefone", "data_cadastro", "status"],
    "dispositivos": ["id_dispositivo", "id_usuario", "tipo_dispositivo", "data_registro", "status"],
    "fraudes": ["id_fraude", "id_transacao", "tipo_fraude", "data_deteccao", "valor_fraude", "status"],
    "limites_transacoes": ["id_usuario", "limite_diario", "limite_por_transacao", "data_atualizacao"],
    "log_autenticacao": [
        "id_log", "id_usuario", "timestamp", "tipo_autenticacao", "status", "id_dispositivo",
    ],
}

#: Logical type of every column: ``str``, ``ts`` (timestamp) or ``money`` (two decimals).
COLUMN_TYPES: Final[dict[str, dict[str, str]]] = {
    "transacoes_pix": {
        "id_transacao": "str", "timestamp": "ts", "valor": "money", "chave_pix_origem": "str",
        "chave_pix_destino": "str", "tipo_transacao": "str", "status": "str",
    },
    "chaves_pix": {
        "chave_pix": "str", "tipo_chave": "str", "cpf_cnpj": "str", "nome_titular": "str",
        "data_cadastro": "ts", "status": "str",
    },
    "usuarios": {
        "id_usuario": "str", "cpf_cnpj": "str", "nome": "str", "email": "str", "telefone": "str",
        "data_cadastro": "ts", "status": "str",
    },
    "dispositivos": {
        "id_dispositivo": "str", "id_usuario": "str", "tipo_dispositivo": "str",
        "data_registro": "ts", "status": "str",
    },
    "fraudes": {
        "id_fraude": "str", "id_transacao": "str", "tipo_fraude": "str", "data_deteccao": "ts",
        "valor_fraude": "money", "status": "str",
    },
    "limites_transacoes": {
        "id_usuario": "str", "limite_diario": "money", "limite_por_transacao": "money",
        "data_atualizacao": "ts",
    },
    "log_autenticacao": {
        "id_log": "str", "id_usuario": "str", "timestamp": "ts", "tipo_autenticacao": "str",
        "status": "str", "id_dispositivo": "str",
    },
}

#: Primary key of every data set. ``dispositivos`` is a table of device *bindings*: one physical
#: device (``id_dispositivo``, a fingerprint) may be registered to several users (a shared device).
PRIMARY_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "transacoes_pix": ("id_transacao",),
    "chaves_pix": ("chave_pix",),
    "usuarios": ("id_usuario",),
    "dispositivos": ("id_dispositivo", "id_usuario"),
    "fraudes": ("id_fraude",),
    "limites_transacoes": ("id_usuario",),
    "log_autenticacao": ("id_log",),
}

#: Ground truth, written under ``DIR/_truth/`` (always CSV). Never to be read for training.
TRUTH_DIR: Final[str] = "_truth"
TRUTH_COLUMNS: Final[dict[str, list[str]]] = {
    "transacoes_fraudulentas": ["id_transacao", "id_ring", "tipologia", "papel_origem", "papel_destino"],
    "rings": [
        "id_ring", "tipologia", "n_membros", "n_vitimas", "n_mulas", "n_coletores", "n_transacoes",
        "valor_total", "inicio", "fim", "dispositivos_compartilhados",
    ],
    "ring_membros": ["id_ring", "id_usuario", "chave_pix", "papel"],
}

# ------------------------------------------------------------------------------------------- ids
#: Prefix of every natural id; the rest is a zero-padded sequence number.
ID_PREFIX: Final[dict[str, str]] = {
    "id_transacao": "TX",
    "id_usuario": "U",
    "id_dispositivo": "D",
    "id_log": "L",
    "id_fraude": "F",
    "id_ring": "R",
}
ID_WIDTH: Final[dict[str, int]] = {
    "id_transacao": 10,
    "id_usuario": 8,
    "id_dispositivo": 8,
    "id_log": 10,
    "id_fraude": 8,
    "id_ring": 5,
}

# ----------------------------------------------------------------------------------------- enums
TIPO_CHAVE: Final[tuple[str, ...]] = ("cpf", "cnpj", "email", "telefone", "aleatoria")
STATUS_CHAVE: Final[tuple[str, ...]] = ("ativa", "inativa")

STATUS_USUARIO: Final[tuple[str, ...]] = ("ativo", "inativo", "bloqueado")

TIPO_DISPOSITIVO: Final[tuple[str, ...]] = ("android", "ios", "tablet", "web")
STATUS_DISPOSITIVO: Final[tuple[str, ...]] = ("ativo", "inativo")

#: ``transferencia_p2p`` person to person by key; ``pagamento_p2m`` person to merchant by key;
#: ``qr_estatico`` / ``qr_dinamico`` payment through a static / dynamic QR code;
#: ``transferencia_b2p`` company to person (salaries, refunds); ``transferencia_b2b`` company to company.
TIPO_TRANSACAO: Final[tuple[str, ...]] = (
    "transferencia_p2p",
    "pagamento_p2m",
    "qr_estatico",
    "qr_dinamico",
    "transferencia_b2p",
    "transferencia_b2b",
)
#: ``em_processamento`` only for the last two minutes before the end of the window (the snapshot).
STATUS_TRANSACAO: Final[tuple[str, ...]] = ("concluida", "rejeitada", "em_processamento")

#: What the claimant (victim) alleges in a MED claim.
TIPO_FRAUDE: Final[tuple[str, ...]] = (
    "golpe_venda_falsa",
    "engenharia_social",
    "golpe_investimento",
    "invasao_conta",
    "sequestro_relampago",
    "golpe_falso_parente",
)
STATUS_FRAUDE: Final[tuple[str, ...]] = ("confirmada", "em_analise", "improcedente")

TIPO_AUTENTICACAO: Final[tuple[str, ...]] = ("senha", "biometria", "reconhecimento_facial", "token_sms")
STATUS_AUTENTICACAO: Final[tuple[str, ...]] = ("sucesso", "falha")

#: Ground-truth ring typologies and member roles.
TIPOLOGIA: Final[tuple[str, ...]] = (
    "coleta_fan_in",
    "camadas",
    "ciclo",
    "invasao_conta",
    "sequestro_relampago",
    "falso_parente",
)
#: The MED claim type a victim of each typology files.
TIPOLOGIA_TIPO_FRAUDE: Final[dict[str, str]] = {
    "coleta_fan_in": "golpe_venda_falsa",
    "camadas": "engenharia_social",
    "ciclo": "golpe_investimento",
    "invasao_conta": "invasao_conta",
    "sequestro_relampago": "sequestro_relampago",
    "falso_parente": "golpe_falso_parente",
}
PAPEL: Final[tuple[str, ...]] = ("vitima", "mula", "coletor")
#: Roles that make a user part of the "mule" set (the positives of mule detection).
PAPEIS_MULA: Final[tuple[str, ...]] = ("mula", "coletor")

#: Enum columns -> allowed values, for validation.
ENUMS: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    ("transacoes_pix", "tipo_transacao"): TIPO_TRANSACAO,
    ("transacoes_pix", "status"): STATUS_TRANSACAO,
    ("chaves_pix", "tipo_chave"): TIPO_CHAVE,
    ("chaves_pix", "status"): STATUS_CHAVE,
    ("usuarios", "status"): STATUS_USUARIO,
    ("dispositivos", "tipo_dispositivo"): TIPO_DISPOSITIVO,
    ("dispositivos", "status"): STATUS_DISPOSITIVO,
    ("fraudes", "tipo_fraude"): TIPO_FRAUDE,
    ("fraudes", "status"): STATUS_FRAUDE,
    ("log_autenticacao", "tipo_autenticacao"): TIPO_AUTENTICACAO,
    ("log_autenticacao", "status"): STATUS_AUTENTICACAO,
}

# ----------------------------------------------------------------------------------------- rules
#: Pix key caps per account holder (DICT rule).
MAX_KEYS_PF: Final[int] = 5
MAX_KEYS_PJ: Final[int] = 20

#: BCB night rule: for individuals (CPF holders), outgoing Pix between 20:00 and 06:00 add up to at
#: most R$ 1,000 per night period, unless the user changed their limits (``data_atualizacao`` after
#: ``data_cadastro``) at least :data:`LIMIT_CHANGE_DELAY_HOURS` hours before the transaction; then only
#: ``limite_diario`` and ``limite_por_transacao`` apply at night too.
NIGHT_LIMIT_PF: Final[float] = 1000.00
NIGHT_START_HOUR: Final[int] = 20
NIGHT_END_HOUR: Final[int] = 6
LIMIT_CHANGE_DELAY_HOURS: Final[int] = 24
#: Every transaction attempt is checked, in timestamp order, against the sender's limits:
#: ``valor <= limite_por_transacao``; the calendar-day sum of the sender's ``concluida`` and
#: ``em_processamento`` outgoing values ``<= limite_diario``; and the night rule above. An attempt that
#: would break any of them is ``rejeitada`` (and does not count towards the sums); nothing else is.

#: Generation window: ``WINDOW_DAYS`` days ending at the reference date (inclusive, local time).
REFERENCE_DATE: Final[str] = "2026-10-31"
WINDOW_DAYS: Final[int] = 56
TIMEZONE: Final[str] = "America/Sao_Paulo"
#: Pix launch dates: DICT key registration opened 2020-10-05; payments from 2020-11-16.
DICT_START: Final[str] = "2020-10-05"

DIFFICULTIES: Final[tuple[str, ...]] = ("easy", "normal", "hard")
FORMATS: Final[tuple[str, ...]] = ("csv", "parquet")


def is_night_hour(hour: int) -> bool:
    """True when ``hour`` (0-23) falls in the night period 20:00-06:00."""
    return hour >= NIGHT_START_HOUR or hour < NIGHT_END_HOUR

"""The contract shared by every stage: what an id looks like, the seven input files (columns, types,
primary keys, enums), the ground-truth files, the Pix rules (night period, key caps), the money type,
the time zone, the Kafka transaction message and the Neo4j model (labels, relationship types, load marker).

This module imports no stage (datagen, lakehouse, graph, gnn, streaming, api): every stage imports it.

Ids
---
A bank's extract carries its own ids, so the contract does not require the generator's prefixes
(``TX0000000001``, ``U00000001``): an id is *opaque*, 1 to :data:`ID_MAX_LEN` characters of
:data:`ID_CHARS`, starting with a letter or digit. A real Pix end-to-end id (``E`` + the payer PSP's
8-digit ISPB + ``yyyyMMddHHmm`` + 11 alphanumerics, 32 characters, :data:`E2E_ID_RE`) is one such id.
Quotes, backslashes, spaces and control characters are never part of an id.
"""

from __future__ import annotations

import re
from typing import Final

#: Longest id accepted (a Pix E2E id is 32 characters; bank customer ids are shorter).
ID_MAX_LEN: Final[int] = 64
#: Characters an id may hold (after the first, which is a letter or a digit).
ID_CHARS: Final[str] = "A-Za-z0-9._:-"
#: The id rule, as a regular expression usable by Python ``re`` and Spark ``rlike`` alike.
#: It ends with ``(?![\s\S])``, not ``$``: Java's ``$`` (Spark ``rlike``) also matches before a final newline.
ID_RE: Final[str] = rf"^[A-Za-z0-9][{ID_CHARS}]{{0,{ID_MAX_LEN - 1}}}(?![\s\S])"
#: A Pix end-to-end id (``id_transacao`` of a real extract): E + ISPB(8) + yyyyMMddHHmm + 11 alphanumerics.
E2E_ID_RE: Final[str] = r"^E[0-9]{8}[0-9]{12}[A-Za-z0-9]{11}(?![\s\S])"
#: Columns of the input files that hold ids (checked against :data:`ID_RE`, reason ``bad_id:<column>``).
ID_COLUMNS: Final[frozenset[str]] = frozenset(
    {"id_transacao", "id_usuario", "id_dispositivo", "id_log", "id_fraude"})

_ID = re.compile(ID_RE)
_E2E = re.compile(E2E_ID_RE)


def is_valid_id(value: object) -> bool:
    """True when ``value`` is a string that satisfies :data:`ID_RE`."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def is_e2e_id(value: object) -> bool:
    """True when ``value`` is a well-formed Pix end-to-end id (:data:`E2E_ID_RE`)."""
    return isinstance(value, str) and _E2E.fullmatch(value) is not None


# ------------------------------------------------------------------------------------------ files
#: The seven input data sets, in the order the design lists them.
FILES: Final[tuple[str, ...]] = (
    "transacoes_pix",
    "chaves_pix",
    "usuarios",
    "dispositivos",
    "fraudes",
    "limites_transacoes",
    "log_autenticacao",
)

#: Column names and order of every data set.
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

#: Logical type of every column: ``str``, ``ts`` (timestamp, local time :data:`TIMEZONE`) or ``money``
#: (:data:`MONEY_PRECISION`, :data:`MONEY_SCALE`).
TIMESTAMP_COLUMNS: Final[frozenset[str]] = frozenset(
    {"timestamp", "data_cadastro", "data_registro", "data_deteccao", "data_atualizacao"})
MONEY_COLUMNS: Final[frozenset[str]] = frozenset({"valor", "valor_fraude", "limite_diario", "limite_por_transacao"})
COLUMN_TYPES: Final[dict[str, dict[str, str]]] = {
    table: {c: "ts" if c in TIMESTAMP_COLUMNS else "money" if c in MONEY_COLUMNS else "str" for c in cols}
    for table, cols in COLUMNS.items()
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

#: Ground truth, under ``DIR/_truth/`` (always CSV). Only evaluation reads it, never training.
TRUTH_DIR: Final[str] = "_truth"
TRUTH_COLUMNS: Final[dict[str, list[str]]] = {
    "transacoes_fraudulentas": ["id_transacao", "id_ring", "tipologia", "papel_origem", "papel_destino"],
    #: the generic truth a bank gives: one row per ring member (mula / coletor, victims excluded)
    "rings": ["ring_id", "id_usuario", "typology"],
    "rings_resumo": [
        "id_ring", "tipologia", "n_membros", "n_vitimas", "n_mulas", "n_coletores", "n_transacoes",
        "valor_total", "inicio", "fim", "dispositivos_compartilhados", "colocacao", "modo_valor",
        "limite_estruturacao", "atraso_mediano_min", "atividade_normal",
    ],
    "ring_membros": ["id_ring", "id_usuario", "chave_pix", "papel"],
    #: money trace: a forward passes on ``fracao`` of what each of its input transactions moved
    "fluxos": ["id_transacao", "id_transacao_entrada", "fracao"],
    "lookalikes": ["id_grupo", "tipo", "id_usuario", "papel"],
}

# ------------------------------------------------------------------------------------------ enums
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
#: ``em_processamento`` only for the last minutes before the end of an extract (the snapshot).
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
#: The six Pix scam typologies (victims pay mules, who forward within minutes or hours).
TIPOLOGIAS_PIX: Final[tuple[str, ...]] = (
    "coleta_fan_in",
    "camadas",
    "ciclo",
    "invasao_conta",
    "sequestro_relampago",
    "falso_parente",
)
#: The laundering structures of the AML literature (IBM AMLSim, AMLworld), hops over minutes to weeks.
TIPOLOGIAS_AML: Final[tuple[str, ...]] = (
    "aml_fan_out",
    "aml_fan_in",
    "aml_cycle",
    "aml_bipartite",
    "aml_stack",
    "aml_scatter_gather",
    "aml_gather_scatter",
    "aml_random_walk",
)
TIPOLOGIA: Final[tuple[str, ...]] = TIPOLOGIAS_PIX + TIPOLOGIAS_AML
#: Legitimate structures that look like rings (``_truth/lookalikes.csv``; never ring members).
LOOKALIKES: Final[tuple[str, ...]] = (
    "comerciante_muitos_pagadores",
    "folha_pagamento",
    "familia_dispositivo",
    "amigos_ciclo",
    "corretor",
)
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

# ------------------------------------------------------------------------------------------ rules
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


def is_night_hour(hour):
    """The Pix night period 20:00-06:00 for a local ``hour`` (0-23).

    Element-wise, so one rule serves a Python ``int`` (a ``bool`` back), a numpy or pandas array and a
    Spark ``Column`` alike.
    """
    return (hour >= NIGHT_START_HOUR) | (hour < NIGHT_END_HOUR)


# ------------------------------------------------------------------------------- time and money
#: Every timestamp of the contract is local time here, without an offset (no DST since 2019).
TIMEZONE: Final[str] = "America/Sao_Paulo"
#: Text forms of a timestamp, as Python ``strptime`` formats (Spark patterns in the lakehouse).
TIMESTAMP_FORMAT: Final[str] = "%Y-%m-%dT%H:%M:%S"
#: The money type everywhere (input files, silver, gold, the scored table): ``decimal(18, 2)``; a single
#: transaction needs far less, but sums over a graph or a ring must fit the same type.
MONEY_PRECISION: Final[int] = 18
MONEY_SCALE: Final[int] = 2

# ---------------------------------------------------------------------------- the Kafka message
#: ``schema_version`` of the ``pix.transacoes`` JSON value the producer writes.
STREAM_SCHEMA_VERSION: Final[int] = 1
#: Versions a consumer accepts (others go to the DLQ as ``unsupported_schema_version``).
SUPPORTED_SCHEMA_VERSIONS: Final[frozenset[int]] = frozenset({STREAM_SCHEMA_VERSION})
#: Fields of the value besides ``schema_version``, every one required, in this order: the columns of
#: ``transacoes_pix`` (``valor`` a JSON number with at most two decimals; every other field a string,
#: ``timestamp`` as :data:`TIMESTAMP_FORMAT`; the keys in clear, tokenised before anything is written).
MESSAGE_FIELDS: Final[tuple[str, ...]] = tuple(COLUMNS["transacoes_pix"])

# ---------------------------------------------------------------------------------- the Neo4j model
#: Graph vertex type (``graph_vertices.tipo``, API kind, GNN node type) -> Neo4j label.
NODE_LABELS: Final[dict[str, str]] = {"usuario": "Usuario", "chave": "Chave", "dispositivo": "Dispositivo"}
#: The label of a ring candidate (API kind ``anel``) and the member relationship.
RING_LABEL: Final[str] = "Anel"
MEMBER_OF: Final[str] = "MEMBRO_DE"
#: Relationship type (``graph_edges.tipo``) -> (vertex type of the source, of the target).
EDGE_ENDPOINTS: Final[dict[str, tuple[str, str]]] = {
    "POSSUI": ("usuario", "chave"),
    "USA": ("usuario", "dispositivo"),
    "PAGOU": ("chave", "chave"),
    "TRANSFERIU": ("usuario", "usuario"),
}
#: The same as Neo4j labels: relationship type -> (label of the source, label of the target).
REL_ENDPOINTS: Final[dict[str, tuple[str, str]]] = {
    rel: (NODE_LABELS[src], NODE_LABELS[dst]) for rel, (src, dst) in EDGE_ENDPOINTS.items()
}
#: One marker node ``(:PixringCarga {id: 'graph'})`` records the last graph build fully loaded
#: (``build_id``, ``carregado_em``); the API's projection reloads when it moves.
LOAD_MARKER_LABEL: Final[str] = "PixringCarga"
LOAD_MARKER_ID: Final[str] = "graph"

# ------------------------------------------------------------------------------------ investigator cases
#: What a case is opened on (API ``tipo``; the Neo4j label comes from :data:`NODE_LABELS` / :data:`RING_LABEL`).
CASE_TARGETS: Final[tuple[str, ...]] = ("anel", "usuario")
#: An investigator's disposition: ``mula_confirmada`` (a training positive from its date), ``descartado``
#: (a training negative from its date), ``precisa_informacao`` (the case stays open, no label).
DISPOSICOES: Final[tuple[str, ...]] = ("mula_confirmada", "descartado", "precisa_informacao")
#: Dispositions that become labels, and the label they give.
DISPOSICAO_ROTULO: Final[dict[str, int]] = {"mula_confirmada": 1, "descartado": 0}
#: The event that opens a case (then one event per disposition).
CASE_OPENED: Final[str] = "aberto"
#: A case's status = its latest event: ``aberto`` or a disposition. Nothing opened yet: ``nova``.
CASE_STATUS: Final[tuple[str, ...]] = ("nova", CASE_OPENED, *DISPOSICOES)
#: Statuses that close a case (it leaves the analysts' queue).
CASE_CLOSED: Final[frozenset[str]] = frozenset(DISPOSICAO_ROTULO)
#: gold ``cases``: append-only, one row per event (opening or disposition), the full history. ``usuarios``
#: are the accounts the event covers (the ring's members when it was recorded, or the one account), so a
#: ring disposition still labels its members after the next graph build renames or drops the ring.
#: ``notas`` is the investigator's free text: stored here, never logged. ``em`` is a UTC instant.
CASES_TABLE: Final[str] = "cases"
CASES_COLUMNS: Final[dict[str, str]] = {
    "id_evento": "str", "id_caso": "str", "tipo": "str", "id_alvo": "str", "evento": "str", "status": "str",
    "usuarios": "list<str>", "notas": "str", "por": "str", "em": "ts",
}
#: Neo4j properties a case mirrors onto its ring / account node (the node's own ``status`` is the account's).
CASE_STATUS_PROP: Final[str] = "status_caso"
CASE_ID_PROP: Final[str] = "id_caso"
CASE_AT_PROP: Final[str] = "status_caso_em"

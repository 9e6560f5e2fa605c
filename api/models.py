"""Pydantic payloads of the API (requests and responses, as documented in OpenAPI)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

ID_PATTERN = r"^[A-Za-z0-9_.:@+\-]{1,128}$"


class Kind(StrEnum):
    usuario = "usuario"
    chave = "chave"
    dispositivo = "dispositivo"


class Node(BaseModel):
    key: str = Field(description="`<tipo>:<id>`, unique in the response")
    tipo: str
    id: str
    nivel: int = Field(description="hops from the centre")
    label: str | None = None
    parcial: bool = Field(False, description="has more relationships than `per_node`: only the heaviest were followed")
    props: dict[str, Any] = {}


class Edge(BaseModel):
    id: str
    tipo: str = Field(description="POSSUI | USA | PAGOU | TRANSFERIU | MEMBRO_DE")
    source: str
    target: str
    props: dict[str, Any] = {}


class SubgraphOut(BaseModel):
    center: str
    hops: int
    nodes: list[Node]
    edges: list[Edge]
    truncated: bool = Field(description="a node or edge limit stopped the expansion")
    limits: dict[str, int]


class RingSummary(BaseModel):
    id: str
    risco: float | None = None
    tamanho: int | None = None
    valor_em_risco: float | None = None
    ativo: bool | None = None
    status: str | None = Field(None, description="gold community status: nova | estavel | fundida | dividida")
    build_id: str | None = None
    score_gnn: float | None = None


class RingPage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[RingSummary]


class Member(BaseModel):
    id: str
    props: dict[str, Any] = {}
    score_gnn: float | None = None
    nucleo: bool = False
    nome: str | None = Field(None, description="masked name (silver)")


class Flow(BaseModel):
    de: str
    para: str
    n: int | None = None
    valor_total: float | None = None
    primeiro: str | None = None
    ultimo: str | None = None
    interno: bool


class RingDetail(BaseModel):
    ring: RingSummary
    membros: list[Member]
    fluxos: list[Flow]
    valor_interno: float
    valor_entrada: float
    valor_saida: float
    evidencias: Any = None
    motivos: list[dict[str, Any]] = Field([], description="motif instances of the ring (gold graph_motifs)")
    gnn: dict[str, Any] = Field({}, description="ring score and member explanations (gold ring_scores, node_explanations)")


class TraceHop(BaseModel):
    hop: int
    id_transacao: str
    de: str | None
    para: str | None
    timestamp: datetime
    valor: float
    valor_rastreado: float


class TraceAccount(BaseModel):
    id_usuario: str
    hop: int
    recebido: float
    repassado: float
    retido: float = Field(description="traced money provably still in the account: recoverable there")
    saiu_sem_rastreio: float = Field(0.0, description="traced money the account may have sent on outside the trace")


class TraceOut(BaseModel):
    id_transacao: str
    valor_inicial: float
    janela_min: float
    max_hops: int
    hops: list[TraceHop]
    contas: list[TraceAccount]
    valor_recuperavel: float
    truncado: bool


class ScoreIn(BaseModel):
    """One Pix transaction to score inline. Keys may be clear (canonicalised and tokenised with the PII
    secret) or silver tokens (64 hex)."""

    model_config = ConfigDict(extra="forbid")

    id_transacao: str | None = Field(None, pattern=ID_PATTERN)
    timestamp: datetime | None = Field(None, description="default: now; naive times are UTC")
    valor: float = Field(gt=0, le=1e9, allow_inf_nan=False)
    chave_pix_origem: str = Field(min_length=1, max_length=128)
    chave_pix_destino: str = Field(min_length=1, max_length=128)


class ScoreOut(BaseModel):
    id_transacao: str | None = None
    score: float
    decisao: str = Field(description="allow | review | block")
    motivos: list[str]
    features: dict[str, float]
    modelo_versao: str | None = None
    fonte: str = Field(description="api (scored now) | stream (the streaming scorer's record)")
    degradado: bool = Field(False, description="true: the online store did not answer; the features named in "
                            "features_ausentes are defaults, not the transaction's")
    features_ausentes: list[str] = Field(default_factory=list, description="features the answer could not compute")


class Alert(BaseModel):
    id_transacao: str
    timestamp: datetime | None
    score: float
    decisao: str
    motivos: list[str]
    modelo_versao: str | None = None
    valor: float | None = None
    id_usuario_destino: str | None = None


class AlertPage(BaseModel):
    since: datetime
    items: list[Alert]
    next_since: datetime | None = Field(None, description="pass as `since` to read on")


class UserOut(BaseModel):
    id: str
    tipo_pessoa: str | None = None
    status: str | None = None
    data_cadastro: datetime | None = None
    pii: dict[str, Any] = Field(description="masked for investigator, clear (bronze, audited) for investigator_pii")
    pii_clara: bool
    chaves: list[str]
    score_gnn: float | None = None
    id_anel: str | None = None
    explicacao: Any = None

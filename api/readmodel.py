"""The API's read model: an in-process, in-memory view of the silver/gold Delta tables the API serves.

Loaded at start-up with ``deltalake`` (delta-rs, no Spark, no JVM) and refreshed in the background when a
table's Delta version moves (checked every ``settings.api.refresh_seconds``). Every lookup is a dict access
or a binary search, so it answers in microseconds. Tables (all optional: a missing one is empty and
reported by :meth:`ReadModel.status`):

==============================  =========================================================================
``silver/transacoes_pix``       transactions (ids, times, amounts, key tokens, owners): fund tracing
                                (effective ones) and the windowed features of ``POST /v1/score`` (every
                                attempt, as training and the stream count them)
``silver/chaves_pix``           key token -> owner, creation time, type
``silver/usuarios``             masked profile (tokens and masked name only)
``gold/node_scores``            GNN score per node (``gnn embed``)
``gold/node_explanations``      GNN explanation per flagged node
``gold/ring_candidates``        rings: members, risk, status, amount at risk, evidence
``gold/ring_scores``            GNN view of each ring
``gold/graph_motifs``           motif instances per community (evidence)
``gold/scored_transactions``    the streaming scorer's output: score, decision, reasons per transaction
``gold/graph_vertices``         degrees only (``tipo``, ``grau_in``, ``grau_out``): graph drift metrics
``gold/communities``            sizes only: graph drift metrics
``gold/graph_builds``           when the latest graph build finished
==============================  =========================================================================

The graph drift gauges of ``/metrics`` (:class:`GraphStats`: degree distribution, community sizes, depth of
pass-through chains, counts, time of the build) come from the same snapshot: the batch ``graph build`` cannot
be scraped, the API that serves its output can.

Times are kept as naive UTC datetimes (Delta stores UTC instants).
"""

from __future__ import annotations

import bisect
import json
import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pixring.features import Receipt, event_seconds, is_effective

from api.background import every

log = logging.getLogger(__name__)

EFFECTIVE = frozenset({"concluida", "em_processamento"})
ALERT_DECISIONS = frozenset({"review", "block"})

TABLES: dict[str, tuple[str, str]] = {
    "transacoes": ("silver", "transacoes_pix"),
    "chaves": ("silver", "chaves_pix"),
    "usuarios": ("silver", "usuarios"),
    "node_scores": ("gold", "node_scores"),
    "node_explanations": ("gold", "node_explanations"),
    "ring_candidates": ("gold", "ring_candidates"),
    "ring_scores": ("gold", "ring_scores"),
    "graph_motifs": ("gold", "graph_motifs"),
    "scored": ("gold", "scored_transactions"),
    "graph_vertices": ("gold", "graph_vertices"),
    "communities": ("gold", "communities"),
    "graph_builds": ("gold", "graph_builds"),
}
#: Columns read per table (those present; a missing column reads as None).
COLUMNS: dict[str, tuple[str, ...]] = {
    "transacoes": ("id_transacao", "timestamp", "valor", "chave_pix_origem", "chave_pix_destino", "status",
                   "id_usuario_origem", "id_usuario_destino", "tipo_transacao"),
    "chaves": ("chave_pix", "id_usuario", "data_cadastro", "tipo_chave", "status"),
    "usuarios": ("id_usuario", "tipo_pessoa", "nome", "email_dominio", "status", "data_cadastro"),
    "node_scores": ("id", "tipo", "score", "sinalizado", "id_comunidade", "modelo_versao", "gerado_em"),
    "node_explanations": ("id", "tipo", "score", "explicacao", "metodo", "modelo_versao"),
    "ring_candidates": ("id_anel", "membros", "evidencias", "risco", "tamanho", "valor_em_risco", "status",
                        "nucleo", "build_id"),
    "ring_scores": ("id_comunidade", "score", "n_membros", "n_sinalizados", "modelo_versao"),
    "graph_motifs": ("motivo", "usuarios", "transacoes", "valor", "inicio", "fim", "detalhe", "id_comunidade"),
    "scored": ("id_transacao", "timestamp", "score", "decisao", "decision", "motivos", "reasons",
               "modelo_versao", "chave_pix_destino", "id_usuario_destino", "valor"),
    "graph_vertices": ("tipo", "grau_in", "grau_out"),
    "communities": ("tamanho",),
    "graph_builds": ("build_id", "built_at"),
}
#: ``le`` bounds of the graph drift histograms (the last bucket, ``+Inf``, is implied)
DEGREE_BUCKETS: tuple[float, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256)
COMMUNITY_SIZE_BUCKETS: tuple[float, ...] = (2, 3, 5, 10, 20, 50, 100)
CHAIN_DEPTH_BUCKETS: tuple[float, ...] = (2, 3, 4, 5, 6, 8, 10)


def cumulative(values: list[float], bounds: tuple[float, ...]) -> list[tuple[str, int]]:
    """Prometheus-style cumulative buckets ``[(le, count of values <= le), ..., ("+Inf", len)]``."""
    ordered = sorted(values)
    out = [(f"{b:g}", bisect.bisect_right(ordered, b)) for b in bounds]
    return out + [("+Inf", len(ordered))]


def chain_depths(chains: list[list[str]]) -> list[int]:
    """Depth (hops) of each pass-through chain formed by linking ``cadeia`` motifs (a->b->c pairs): the
    longest path of each weakly connected group of their hops (a group with a cycle counts its accounts)."""
    import networkx as nx

    g = nx.DiGraph()
    for users in chains:
        g.add_edges_from(zip(users, users[1:]))
    depths = []
    for nodes in nx.weakly_connected_components(g):
        sub = g.subgraph(nodes)
        depths.append(nx.dag_longest_path_length(sub) if nx.is_directed_acyclic_graph(sub) else len(nodes))
    return depths


@dataclass
class GraphStats:
    """What ``/metrics`` exports about the latest graph build (drift between builds shows on the dashboard)."""

    #: tipo (usuario | chave | dispositivo) -> cumulative buckets of in+out degree
    degree: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    community_size: list[tuple[str, int]] = field(default_factory=list)
    chain_depth: list[tuple[str, int]] = field(default_factory=list)
    communities: int = 0
    ring_candidates: int = 0
    built_at: float | None = None  # epoch seconds of the latest build

    @classmethod
    def of(cls, raw: dict[str, list[dict[str, Any]]], n_rings: int) -> GraphStats:
        by_type: dict[str, list[float]] = defaultdict(list)
        for row in raw.get("graph_vertices", []):
            by_type[row.get("tipo") or "?"].append(float((row.get("grau_in") or 0) + (row.get("grau_out") or 0)))
        sizes = [float(r["tamanho"]) for r in raw.get("communities", []) if r.get("tamanho") is not None]
        chains = [list(r.get("usuarios") or []) for r in raw.get("graph_motifs", []) if r.get("motivo") == "cadeia"]
        builds = [naive_utc(r.get("built_at")) for r in raw.get("graph_builds", [])]
        latest = max((b for b in builds if b is not None), default=None)
        return cls(
            degree={t: cumulative(v, DEGREE_BUCKETS) for t, v in sorted(by_type.items())},
            community_size=cumulative(sizes, COMMUNITY_SIZE_BUCKETS),
            chain_depth=cumulative([float(d) for d in chain_depths(chains)], CHAIN_DEPTH_BUCKETS),
            communities=len(sizes), ring_candidates=n_rings,
            built_at=latest.replace(tzinfo=UTC).timestamp() if latest else None,
        )



def naive_utc(value: Any) -> datetime | None:
    """A datetime as naive UTC (aware values are converted first); other values -> None."""
    if not isinstance(value, datetime):
        return None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _float(value: Any, default: float = 0.0) -> float:
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


@dataclass(frozen=True, slots=True)
class Tx:
    id: str
    ts: datetime
    valor: float
    chave_origem: str | None
    chave_destino: str | None
    usuario_origem: str | None
    usuario_destino: str | None
    status: str | None
    tipo: str | None


@dataclass
class Snapshot:
    """One immutable load of all tables; the API swaps snapshots atomically on refresh."""

    versions: dict[str, int | None] = field(default_factory=dict)
    loaded_at: datetime | None = None
    seconds: float = 0.0
    tx: dict[str, Tx] = field(default_factory=dict)
    out_by_user: dict[str, list[Tx]] = field(default_factory=dict)
    out_ts_by_user: dict[str, list[datetime]] = field(default_factory=dict)
    #: key token -> every payment to it (any status: rejected attempts count in the windows), as
    #: :data:`pixring.features.Receipt` tuples sorted by (seconds of naive UTC, id)
    received: dict[str, list[Receipt]] = field(default_factory=dict)
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys_by_user: dict[str, list[str]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    scores: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    explanations: dict[str, dict[str, Any]] = field(default_factory=dict)
    rings: dict[str, dict[str, Any]] = field(default_factory=dict)
    user_ring: dict[str, str] = field(default_factory=dict)
    ring_scores: dict[str, dict[str, Any]] = field(default_factory=dict)
    motifs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    scored: dict[str, dict[str, Any]] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    alert_ts: list[datetime] = field(default_factory=list)
    graph: GraphStats = field(default_factory=lambda: GraphStats())

    # --- lookups -----------------------------------------------------------------------------------

    def key_owner(self, token: str) -> str | None:
        k = self.keys.get(token)
        return k["id_usuario"] if k else None

    def user_score(self, user: str | None) -> float:
        s = self.scores.get(("usuario", user)) if user else None
        return _float(s["score"]) if s else 0.0

    def ring_risk_of_user(self, user: str | None) -> float:
        ring = self.user_ring.get(user) if user else None
        return _float(self.rings[ring]["risco"]) if ring else 0.0

    def receipts(self, token: str) -> list[Receipt] | None:
        """The payments to ``token`` for :func:`pixring.features.window_features` (None: none known)."""
        return self.received.get(token)

    def outgoing_after(self, user: str, after: datetime, until: datetime) -> list[Tx]:
        """Effective transfers sent by ``user`` in ``(after, until]``, in time order."""
        ts = self.out_ts_by_user.get(user)
        if not ts:
            return []
        lo, hi = bisect.bisect_right(ts, after), bisect.bisect_right(ts, until)
        return self.out_by_user[user][lo:hi]

    def alerts_since(self, since: datetime, limit: int) -> list[dict[str, Any]]:
        lo = bisect.bisect_left(self.alert_ts, since)
        return self.alerts[lo:lo + limit]


def _read_table(root: Path, layer: str, name: str, columns: tuple[str, ...]) -> tuple[list[dict[str, Any]], int | None]:
    """Rows (only the wanted columns that exist) and the Delta version; ([], None) when the table is absent."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    path = root / layer / name
    if not (path / "_delta_log").is_dir():
        return [], None
    try:
        dt = DeltaTable(str(path))
    except TableNotFoundError:
        return [], None
    present = [c for c in columns if c in dt.schema().to_arrow().names]
    table = dt.to_pyarrow_dataset().to_table(columns=present)
    rows = table.to_pylist()
    return rows, dt.version()


def table_versions(root: Path) -> dict[str, int | None]:
    """The current Delta version of every read-model table (None when absent): cheap, for refresh checks."""
    from deltalake import DeltaTable

    out: dict[str, int | None] = {}
    for name, (layer, table) in TABLES.items():
        path = root / layer / table
        try:
            out[name] = DeltaTable(str(path)).version() if (path / "_delta_log").is_dir() else None
        except Exception:  # noqa: BLE001 - a table being rewritten: try again next round
            out[name] = None
    return out


def build_snapshot(raw: dict[str, list[dict[str, Any]]], versions: dict[str, int | None] | None = None,
                   receipts: bool = True) -> Snapshot:
    """Index the raw rows of every table (pure: unit-testable without Delta). ``receipts=False``: no per-key
    receipts (the online store serves the windows of ``POST /v1/score``)."""
    s = Snapshot(versions=dict(versions or {}))
    for row in raw.get("transacoes", []):
        ts = naive_utc(row.get("timestamp"))
        if ts is None or not row.get("id_transacao"):
            continue
        tx = Tx(row["id_transacao"], ts, _float(row.get("valor")), row.get("chave_pix_origem"),
                row.get("chave_pix_destino"), row.get("id_usuario_origem"), row.get("id_usuario_destino"),
                row.get("status"), row.get("tipo_transacao"))
        s.tx[tx.id] = tx
    ordered = sorted(s.tx.values(), key=lambda t: (t.ts, t.id))
    out: dict[str, list[Tx]] = defaultdict(list)
    received: dict[str, list[Receipt]] = defaultdict(list)
    for tx in ordered:
        if receipts and tx.chave_destino:  # every attempt: the features count rejected ones too (pixring.features)
            received[tx.chave_destino].append(
                (event_seconds(tx.ts), tx.id, tx.chave_origem, tx.valor, is_effective(tx.status)))
        if tx.status is not None and tx.status not in EFFECTIVE:
            continue
        if tx.usuario_origem:
            out[tx.usuario_origem].append(tx)
    s.out_by_user = dict(out)
    s.out_ts_by_user = {u: [t.ts for t in txs] for u, txs in out.items()}
    s.received = dict(received)

    by_user: dict[str, list[str]] = defaultdict(list)
    for row in raw.get("chaves", []):
        if row.get("chave_pix"):
            s.keys[row["chave_pix"]] = {**row, "data_cadastro": naive_utc(row.get("data_cadastro"))}
            if row.get("id_usuario"):
                by_user[row["id_usuario"]].append(row["chave_pix"])
    s.keys_by_user = dict(by_user)
    for row in raw.get("usuarios", []):
        if row.get("id_usuario"):
            s.users[row["id_usuario"]] = {**row, "data_cadastro": naive_utc(row.get("data_cadastro"))}
    for row in raw.get("node_scores", []):
        if row.get("id") and row.get("tipo"):
            s.scores[(row["tipo"], row["id"])] = row
    for row in raw.get("node_explanations", []):
        if row.get("id"):
            s.explanations[row["id"]] = {**row, "explicacao": _json(row.get("explicacao"))}
    for row in raw.get("ring_candidates", []):
        if not row.get("id_anel"):
            continue
        ring = {**row, "evidencias": _json(row.get("evidencias")), "risco": _float(row.get("risco")),
                "valor_em_risco": _float(row.get("valor_em_risco")),
                "membros": list(row.get("membros") or []), "nucleo": list(row.get("nucleo") or [])}
        s.rings[row["id_anel"]] = ring
    for ring_id, ring in sorted(s.rings.items(), key=lambda kv: kv[1]["risco"]):
        for member in ring["membros"]:
            s.user_ring[member] = ring_id  # riskiest ring wins (sorted ascending, last write)
    for row in raw.get("ring_scores", []):
        if row.get("id_comunidade"):
            s.ring_scores[row["id_comunidade"]] = row
    motifs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in raw.get("graph_motifs", []):
        if row.get("id_comunidade"):
            motifs[row["id_comunidade"]].append({
                **row, "valor": _float(row.get("valor"), 0.0) if row.get("valor") is not None else None,
                "inicio": naive_utc(row.get("inicio")), "fim": naive_utc(row.get("fim")),
                "detalhe": _json(row.get("detalhe"))})
    s.motifs = dict(motifs)
    for row in raw.get("scored", []):
        if not row.get("id_transacao"):
            continue
        reasons = row.get("motivos", row.get("reasons"))
        reasons = _json(reasons) if isinstance(reasons, str) else reasons
        rec = {"id_transacao": row["id_transacao"], "timestamp": naive_utc(row.get("timestamp")),
               "score": _float(row.get("score")), "decisao": row.get("decisao") or row.get("decision"),
               "motivos": list(reasons or []), "modelo_versao": row.get("modelo_versao"),
               "valor": row.get("valor") and _float(row.get("valor")),
               "chave_pix_destino": row.get("chave_pix_destino"),
               "id_usuario_destino": row.get("id_usuario_destino")}
        s.scored[rec["id_transacao"]] = rec
    s.alerts = sorted((r for r in s.scored.values() if r["decisao"] in ALERT_DECISIONS and r["timestamp"]),
                      key=lambda r: (r["timestamp"], r["id_transacao"]))
    s.alert_ts = [r["timestamp"] for r in s.alerts]
    s.graph = GraphStats.of(raw, len(s.rings))
    s.loaded_at = datetime.now(UTC).replace(tzinfo=None)
    return s


def load_snapshot(root: Path, receipts: bool = True) -> Snapshot:
    """Read every table under the lakehouse ``root`` and index it."""
    t0 = time.monotonic()
    raw: dict[str, list[dict[str, Any]]] = {}
    versions: dict[str, int | None] = {}
    for name, (layer, table) in TABLES.items():
        try:
            raw[name], versions[name] = _read_table(root, layer, table, COLUMNS[name])
        except Exception as exc:  # noqa: BLE001 - one unreadable table must not take the API down
            log.warning("read model: %s/%s unreadable (%s); served empty", layer, table, type(exc).__name__)
            raw[name], versions[name] = [], None
    snap = build_snapshot(raw, versions, receipts)
    snap.seconds = time.monotonic() - t0
    log.info("read model loaded in %.2fs: %d transactions, %d keys, %d rings, %d scored",
             snap.seconds, len(snap.tx), len(snap.keys), len(snap.rings), len(snap.scored))
    return snap


class ReadModel:
    """Holds the current :class:`Snapshot` and refreshes it in a daemon thread when tables change."""

    def __init__(self, root: Path, refresh_seconds: float = 60.0, receipts: bool = True) -> None:
        self.root = Path(root)
        self.receipts = receipts
        self.refresh_seconds = refresh_seconds
        self.snapshot = Snapshot()
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def ready(self) -> bool:
        return self.snapshot.loaded_at is not None

    def load(self) -> None:
        try:
            self.snapshot = load_snapshot(self.root, self.receipts)
            self.error = None
        except Exception as exc:
            self.error = type(exc).__name__
            log.exception("read model load failed")

    def refresh_if_changed(self) -> bool:
        """Reload when any table's Delta version moved; True when it reloaded."""
        if table_versions(self.root) == self.snapshot.versions and self.ready:
            return False
        self.load()
        return True

    def start(self) -> None:
        self._thread = every(self.refresh_seconds, self.refresh_if_changed, self._stop, "readmodel-refresh")

    def stop(self) -> None:
        self._stop.set()

    def status(self) -> dict[str, Any]:
        s = self.snapshot
        return {"loaded_at": s.loaded_at, "seconds": round(s.seconds, 3), "versions": s.versions,
                "transactions": len(s.tx), "rings": len(s.rings), "scored": len(s.scored), "error": self.error}

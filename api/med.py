"""A MED 2.0 request: the traced paths of a victim's transaction (or of every victim payment into a ring) with
the recoverable amount per account and per hop, as JSON, CSV or a printable page (``/ui/med.html``).

The trace is :func:`api.trace.trace_many` (the API's fund tracing rule) run with MED 2.0's per-hop window and
hop limit (``PIXRING_API_MED_WINDOW_HOURS``, ``PIXRING_API_MED_MAX_HOPS``). Amounts add up by construction:
per account ``recebido = repassado + saiu_sem_rastreio + recuperavel``; per hop the recoverable total is the sum
of its accounts'; the request's total is the sum of the hops'. A ring's victim payments are the effective
transfers into its members from accounts outside it.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from api.readmodel import Snapshot
from api.trace import TraceResult, trace_many

#: the CSV's columns, one row per account reached
CSV_COLUMNS: tuple[str, ...] = ("hop", "id_usuario", "membro_anel", "caminho", "recebido", "repassado",
                                "saiu_sem_rastreio", "recuperavel")
MAX_PATHS = 500


def victim_payments(snap: Snapshot, members: set[str], limit: int) -> list[str]:
    """Effective transfers into ``members`` from accounts outside them (the victims' payments), oldest first."""
    out = []
    for sender, txs in snap.out_by_user.items():
        if sender in members:
            continue
        out.extend(t for t in txs if t.usuario_destino in members)
    out.sort(key=lambda t: (t.ts, t.id))
    return [t.id for t in out[:limit]]


def _paths(res: TraceResult) -> list[list[str]]:
    """Victim-to-leaf account paths of the trace (each transfer's ``de -> para``), at most :data:`MAX_PATHS`."""
    children: dict[str, list[str]] = {}
    roots: list[str] = []
    for h in res.hops:
        de = h["de"] or "?"
        if h["hop"] == 1 and de not in roots:
            roots.append(de)
        if h["para"] not in children.setdefault(de, []):
            children[de].append(h["para"])
    paths: list[list[str]] = []
    stack = [[r] for r in reversed(roots)]
    while stack and len(paths) < MAX_PATHS:
        p = stack.pop()
        nxt = [c for c in children.get(p[-1], []) if c not in p]
        if not nxt:
            paths.append(p)
        stack.extend(p + [c] for c in reversed(nxt))
    return paths


def request(snap: Snapshot, tipo: str, ident: str, tx_ids: list[str], *, window_h: float, max_hops: int,
            max_accounts: int, max_transfers: int, members: set[str] | None = None) -> dict[str, Any] | None:
    """The MED request's body (None when no transaction is known)."""
    res = trace_many(snap, tx_ids, window=timedelta(hours=window_h), max_hops=max_hops, max_accounts=max_accounts,
                     max_transfers=max_transfers)
    if res is None:
        return None
    members = members or set()
    paths = _paths(res)
    path_of = {}
    for p in paths:
        for i, acc in enumerate(p[1:], start=1):  # p[0] is the victim
            path_of.setdefault(acc, p[:i + 1])
    contas = []
    for c in sorted(res.contas.values(), key=lambda c: (c["hop"], -c["retido"], c["id_usuario"])):
        contas.append({"hop": c["hop"], "id_usuario": c["id_usuario"], "membro_anel": c["id_usuario"] in members,
                       "caminho": path_of.get(c["id_usuario"], [c["id_usuario"]]), "recebido": c["recebido"],
                       "repassado": round(c["repassado"], 2), "saiu_sem_rastreio": float(c["saiu_sem_rastreio"]),
                       "recuperavel": float(c["retido"])})
    por_hop: dict[int, dict[str, Any]] = {}
    for c in contas:
        h = por_hop.setdefault(c["hop"], {"hop": c["hop"], "contas": 0, "recebido": 0.0, "recuperavel": 0.0})
        h["contas"] += 1
        h["recebido"] += c["recebido"]
        h["recuperavel"] += c["recuperavel"]
    hops = [{**h, "recebido": round(h["recebido"], 2), "recuperavel": round(h["recuperavel"], 2)}
            for _, h in sorted(por_hop.items())]
    return {
        "tipo": tipo, "id": ident, "gerado_em": datetime.now(UTC).replace(tzinfo=None),
        "janela_horas": window_h, "max_hops": max_hops,
        "transacoes_origem": [{"id_transacao": t.id, "timestamp": t.ts, "de": t.usuario_origem,
                               "para": t.usuario_destino, "valor": round(t.valor, 2)} for t in res.origens],
        "valor_contestado": res.valor_inicial,
        "valor_recuperavel": round(sum(h["recuperavel"] for h in hops), 2),
        "por_hop": hops, "contas": contas, "caminhos": paths, "transferencias": res.hops,
        "truncado": res.truncado or len(paths) >= MAX_PATHS,
    }


def to_csv(body: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for c in body["contas"]:
        w.writerow([c["hop"], c["id_usuario"], str(c["membro_anel"]).lower(), ">".join(c["caminho"]),
                    f"{c['recebido']:.2f}", f"{c['repassado']:.2f}", f"{c['saiu_sem_rastreio']:.2f}",
                    f"{c['recuperavel']:.2f}"])
    return buf.getvalue()

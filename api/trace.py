"""Fund tracing from one transaction, MED 2.0 style: follow the money forward through the accounts it was
forwarded to, apportioning the traced amount per hop, and say how much is still recoverable.

Rule (documented in ``docs/api.md``): the traced amount that reaches an account at time *t* leaves it with
that account's next effective transfers sent in ``(t, t + window]``, in time order, each carrying
``min(what is left to trace, what is still unassigned of that transfer)`` ("first out is tainted", the
conservative rule banks use to block the most). A transfer is never assigned twice, so parallel branches
do not double count. What an account keeps is *retained* there, less what it later sent anywhere outside
the trace (after the window or past the last hop: that money may be gone, ``saiu_sem_rastreio``); the rest is
recoverable (it can be blocked at that account). Tracing stops after ``max_hops`` transfers (the first one included) or ``max_accounts`` accounts.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from api.readmodel import Snapshot, Tx

CENT = 0.005


@dataclass
class TraceResult:
    origem: Tx
    valor_inicial: float
    #: every traced transaction (one for :func:`trace`)
    origens: list[Tx] = field(default_factory=list)
    hops: list[dict[str, Any]] = field(default_factory=list)
    contas: dict[str, dict[str, Any]] = field(default_factory=dict)
    truncado: bool = False

    @property
    def recuperavel(self) -> float:
        return round(sum(c["retido"] for c in self.contas.values()), 2)


def trace(snap: Snapshot, tx_id: str, *, window: timedelta, max_hops: int, max_accounts: int,
          max_transfers: int = 2000) -> TraceResult | None:
    """The forward trace of ``tx_id``; None when the transaction is unknown."""
    return trace_many(snap, [tx_id], window=window, max_hops=max_hops, max_accounts=max_accounts,
                      max_transfers=max_transfers)


def trace_many(snap: Snapshot, tx_ids: list[str], *, window: timedelta, max_hops: int, max_accounts: int,
               max_transfers: int = 2000) -> TraceResult | None:
    """One joint forward trace of several transactions (a ring's incoming victim payments), in time order:
    they share the rule's bookkeeping, so a transfer two of them reach is assigned once and an account's
    recoverable amount is counted once. ``origem`` is the first; None when none is known."""
    starts = sorted((snap.tx[t] for t in dict.fromkeys(tx_ids) if t in snap.tx), key=lambda t: (t.ts, t.id))
    if not starts:
        return None
    res = TraceResult(origem=starts[0], valor_inicial=round(sum(t.valor for t in starts), 2), origens=starts)
    assigned: dict[str, float] = {}  # transfer id -> traced amount already assigned to it
    arrivals: dict[str, datetime] = {}  # account -> first arrival of traced money
    # queue of (account, traced amount, arrival time, hop of arrival)
    queue: deque[tuple[str, float, datetime, int]] = deque()
    for start in starts:
        if start.usuario_destino:
            queue.append((start.usuario_destino, start.valor, start.ts, 1))
            res.hops.append(_hop(1, start, start.valor, start.valor))
    while queue:
        account, amount, arrived, hop = queue.popleft()
        acc = res.contas.setdefault(account, {"id_usuario": account, "hop": hop, "recebido": 0.0,
                                              "repassado": 0.0, "retido": 0.0})
        acc["recebido"] += amount
        arrivals[account] = min(arrivals.get(account, arrived), arrived)
        left = amount
        if hop < max_hops:
            for out in snap.outgoing_after(account, arrived, arrived + window):
                if left < CENT:
                    break
                free = out.valor - assigned.get(out.id, 0.0)
                if free < CENT or out.usuario_destino is None or out.usuario_destino == account:
                    continue
                if out.usuario_destino not in res.contas and len(res.contas) + len(queue) >= max_accounts:
                    res.truncado = True
                    break
                if len(res.hops) >= max_transfers:
                    res.truncado = True
                    break
                take = min(left, free)
                assigned[out.id] = assigned.get(out.id, 0.0) + take
                left -= take
                acc["repassado"] += take
                res.hops.append(_hop(hop + 1, out, out.valor, take))
                queue.append((out.usuario_destino, take, out.ts, hop + 1))
        acc["retido"] += left
    # money an account sent on *outside* the trace (after the window, past the last hop) may have carried the
    # traced money away: it is drained first, so only what provably stayed is recoverable
    for account, acc in res.contas.items():
        first = arrivals[account]
        untraced = sum(max(0.0, o.valor - assigned.get(o.id, 0.0))
                       for o in snap.outgoing_after(account, first, datetime.max))
        acc["saiu_sem_rastreio"] = min(acc["retido"], untraced)
        acc["retido"] -= acc["saiu_sem_rastreio"]
        for k in ("recebido", "repassado", "retido", "saiu_sem_rastreio"):
            acc[k] = round(acc[k], 2)
    return res


def _hop(hop: int, tx: Tx, valor: float, rastreado: float) -> dict[str, Any]:
    return {"hop": hop, "id_transacao": tx.id, "de": tx.usuario_origem, "para": tx.usuario_destino,
            "timestamp": tx.ts, "valor": round(valor, 2), "valor_rastreado": round(rastreado, 2)}

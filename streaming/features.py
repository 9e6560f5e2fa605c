"""Per-key stateful features of :mod:`gnn.serving`, exact across micro-batches and restarts.

The state is the list of recent *receipts* per receiving key token: ``(event time, id_transacao, sender
token, valor, effective)`` of every transaction paying the key. Definitions follow :mod:`gnn.features` (the
batch computation the model was trained on): the counts and distinct senders take every attempt (any
status), ``repasse_origem`` sums only effective ones (status not ``rejeitada``); windows are half-open and
strictly before the transaction's instant ``T`` (ties at ``T`` never count). So

* a micro-batch is processed in event order and each transaction sees the earlier ones of the same batch;
* replaying a batch after a crash gives the same features (receipts are de-duplicated by id, and the ones
  of the replayed batch that are already in the state sort after or before each transaction exactly as
  they did the first time);
* after a restart the state is rebuilt from ``gold/scored_transactions`` (the last hour + watermark), which
  holds every receipt the state ever held: the scored table *is* the durable state store.

Watermark: receipts older than ``max event time - (1 h + watermark)`` are evicted. A transaction older than
``max event time - watermark`` is still scored (a Pix is never dropped) but flagged ``atrasada``: its window
may miss evicted receipts.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from datetime import datetime

from gnn.serving import TX_DEFAULTS
from pixring.contract import is_night_hour

EPOCH = datetime(1970, 1, 1)
MIN_10, HOUR = 600.0, 3600.0
#: ``repasse_origem``: the origin received at least this share of the amount within the hour before.
REPASSE_RAZAO = 0.90
#: Statuses whose money arrived (summed by ``repasse_origem``).
EFFECTIVE = frozenset({"concluida", "em_processamento"})



def seconds(ts: datetime) -> float:
    """Event time as seconds since 1970-01-01 of the naive local clock (no time-zone arithmetic)."""
    return (ts - EPOCH).total_seconds()


Receipt = tuple[float, str, str, float, bool]  # (event seconds, id, sender token, valor, effective)


class ReceiptState:
    """Recent receipts per receiving key, kept sorted by (event time, id)."""

    def __init__(self, watermark_seconds: float) -> None:
        self.watermark = watermark_seconds
        self.by_key: dict[str, list[Receipt]] = {}
        self.ids: dict[str, float] = {}  # id_transacao -> event seconds (de-duplication)
        self.max_event = float("-inf")
        self._evicted_at = float("-inf")

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def horizon(self) -> float:
        return self.max_event - HOUR - self.watermark

    def add(self, t: float, id_tx: str, sender: str, receiver: str, valor: float, status: str) -> None:
        """Record one transaction (idempotent by id)."""
        self.max_event = max(self.max_event, t)
        if id_tx in self.ids:
            return
        self.ids[id_tx] = t
        bisect.insort(self.by_key.setdefault(receiver, []), (t, id_tx, sender, valor, status in EFFECTIVE))

    def is_late(self, t: float) -> bool:
        return t < self.max_event - self.watermark

    def features(self, t: float, id_tx: str, origem: str, destino: str, valor: float) -> dict[str, float]:  # noqa: ARG002
        """The four stateful features for a transaction at ``t`` (receipts strictly before ``t``)."""
        out = {"recebidos_10min_destino": 0.0, "recebidos_1h_destino": 0.0,
               "remetentes_distintos_1h_destino": 0.0, "repasse_origem": 0.0}
        lst = self.by_key.get(destino)
        if lst:
            hi = bisect.bisect_left(lst, (t,))
            lo1 = bisect.bisect_left(lst, (t - HOUR,))
            lo10 = bisect.bisect_left(lst, (t - MIN_10,))
            out["recebidos_10min_destino"] = float(max(0, hi - lo10))
            out["recebidos_1h_destino"] = float(max(0, hi - lo1))
            out["remetentes_distintos_1h_destino"] = float(len({r[2] for r in lst[lo1:hi]}))
        src = self.by_key.get(origem)
        if src:
            hi = bisect.bisect_left(src, (t,))
            lo = bisect.bisect_left(src, (t - HOUR,))
            received = sum(r[3] for r in src[lo:hi] if r[4])
            out["repasse_origem"] = 1.0 if received > 0 and received >= REPASSE_RAZAO * valor - 1e-9 else 0.0
        return out

    def evict(self, force: bool = False) -> int:
        """Drop receipts before the horizon (at most once per simulated minute unless forced)."""
        horizon = self.horizon
        if not force and horizon - self._evicted_at < 60:
            return 0
        self._evicted_at = horizon
        dropped = 0
        for key in list(self.by_key):
            lst = self.by_key[key]
            cut = bisect.bisect_left(lst, (horizon,))
            if cut:
                for r in lst[:cut]:
                    self.ids.pop(r[1], None)
                dropped += cut
                if cut == len(lst):
                    del self.by_key[key]
                else:
                    self.by_key[key] = lst[cut:]
        return dropped

    def load(self, rows: Iterable[tuple[datetime, str, str, str, float, str]]) -> int:
        """Rebuild from scored rows ``(timestamp, id, origin token, destination token, valor, status)``."""
        n = 0
        for ts, id_tx, origem, destino, valor, status in rows:
            self.add(seconds(ts), id_tx, origem, destino, float(valor), status)
            n += 1
        self.evict(force=True)
        return n


def static_features(ts: datetime, valor: float, score_origem: float | None, score_destino: float | None,
                    risco_anel_destino: float | None, cadastro_destino: datetime | None) -> dict[str, float]:
    """The features that need no state: amount, night period, gold scores, key age."""
    hour = ts.hour
    out = dict(TX_DEFAULTS)
    out["valor"] = float(valor)
    out["noturna"] = 1.0 if is_night_hour(hour) else 0.0
    out["score_origem"] = float(score_origem or 0.0)
    out["score_destino"] = float(score_destino or 0.0)
    out["risco_anel_destino"] = float(risco_anel_destino or 0.0)
    if cadastro_destino is not None:
        out["idade_chave_destino_h"] = max(0.0, (ts - cadastro_destino).total_seconds() / 3600.0)
    return out

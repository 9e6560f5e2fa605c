"""Per-key stateful features of :mod:`gnn.serving`, exact across micro-batches and restarts.

The state is the list of recent *receipts* per receiving key token: ``(event time, id_transacao, sender
token, valor, effective)`` of every transaction paying the key. The features themselves are computed by
:mod:`pixring.features` (the one definition training and the API use too): the counts and distinct senders
take every attempt (any status), ``repasse_origem`` sums only effective ones (status not ``rejeitada``);
windows are half-open and strictly before the transaction's instant ``T`` (ties at ``T`` never count). So

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

from pixring.features import WINDOW_1H_S as HOUR
from pixring.features import Receipt, is_effective, window_features
from pixring.features import event_seconds as seconds
from pixring.features import static_features as _static_features


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
        bisect.insort(self.by_key.setdefault(receiver, []), (t, id_tx, sender, valor, is_effective(status)))

    def is_late(self, t: float) -> bool:
        return t < self.max_event - self.watermark

    def features(self, t: float, id_tx: str, origem: str, destino: str, valor: float) -> dict[str, float]:  # noqa: ARG002
        """The four windowed features for a transaction at ``t`` (:func:`pixring.features.window_features`)."""
        return window_features(t, valor, self.by_key.get(destino), self.by_key.get(origem))

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
    """The features that need no state (:func:`pixring.features.static_features`); ``ts`` is local time."""
    age = (ts - cadastro_destino).total_seconds() / HOUR if cadastro_destino is not None else None
    return _static_features(ts.hour, valor, score_origem, score_destino, risco_anel_destino, age)

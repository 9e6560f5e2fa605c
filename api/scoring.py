"""Inline scoring: the MLflow champion (loaded at start-up, reloaded when the alias moves), the
transaction features computed from the read model, and the shared rules/decision of :mod:`gnn.serving`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from gnn.serving import TX_FEATURES, decide, rules
from pixring.contract import TIMEZONE, is_night_hour
from pixring import online
from pixring.features import TX_DEFAULTS, WINDOWED, event_seconds, static_features, window_features
from pixring.settings import ScoringSettings

from api.background import every
from api.readmodel import Snapshot

log = logging.getLogger(__name__)

LOCAL_TZ = ZoneInfo(TIMEZONE)


@dataclass(frozen=True)
class TxInput:
    """One transaction to score: key tokens, amount and time (naive UTC)."""

    valor: float
    ts: datetime
    chave_origem: str
    chave_destino: str


def local_hour(ts_utc: datetime) -> int:
    """The hour in Brasília time (:data:`pixring.contract.TIMEZONE`) of a naive UTC instant."""
    return ts_utc.replace(tzinfo=UTC).astimezone(LOCAL_TZ).hour


def is_night(ts_utc: datetime) -> bool:
    """20:00-06:00 Brasília time (the Pix night period)."""
    return is_night_hour(local_hour(ts_utc))


def features(snap: Snapshot, tx: TxInput) -> dict[str, float]:
    """:data:`pixring.features.TX_FEATURES` of one transaction from the read model (defaults when unknown).

    The rules are :mod:`pixring.features`' (the ones training and the stream use): the local hour for
    ``noturna``, the read model's receipts (every attempt, any status) for the windows.
    """
    owner_o, owner_d = snap.key_owner(tx.chave_origem), snap.key_owner(tx.chave_destino)
    key = snap.keys.get(tx.chave_destino)
    cadastro = key.get("data_cadastro") if key else None
    age = (tx.ts - cadastro).total_seconds() / 3600.0 if cadastro else None
    f = static_features(local_hour(tx.ts), tx.valor, snap.user_score(owner_o), snap.user_score(owner_d),
                        snap.ring_risk_of_user(owner_d), age)
    f.update(window_features(event_seconds(tx.ts), tx.valor, snap.receipts(tx.chave_destino),
                             snap.receipts(tx.chave_origem)))
    return f


class OnlineUnavailable(Exception):
    """The online store did not answer and ``PIXRING_REDIS_ON_FAILURE=unavailable``: ``POST /v1/score`` says 503."""


async def online_view(store, tx: TxInput, timeout: float) -> online.OnlineView | None:
    """Both keys' entries and receipts of ``[T - 1 h, T)`` in one pipeline; None when the store does not answer."""
    from redis import RedisError

    try:
        pipe = store.pipeline(transaction=False)
        online.queue_read(pipe, online.epoch_us(tx.ts) / 1e6, tx.chave_destino, tx.chave_origem)
        return online.view_of(await asyncio.wait_for(pipe.execute(), timeout))
    except (RedisError, OSError, TimeoutError) as exc:
        log.warning("online store unavailable (%s): degraded features", type(exc).__name__)
        return None


def features_online(snap: Snapshot, tx: TxInput, view: online.OnlineView | None) -> tuple[dict[str, float], list[str]]:
    """:data:`pixring.features.TX_FEATURES` from the online store (:mod:`pixring.online`) and the names of those
    it could not give (empty when all came).

    The windows come from the store's receipts only (the read model holds none when the store is enabled);
    owner, score, ring risk and key age from the store's key entries, else from the read model's gold tables
    (they do not grow with history). Without the store (``view`` None) the windowed features are
    :data:`pixring.features.TX_DEFAULTS` and named as missing: the answer says it is degraded.
    """
    t_us = online.epoch_us(tx.ts)
    d = view.destino if view else None
    o = view.origem if view else None
    owner_d = (d.owner if d else None) or snap.key_owner(tx.chave_destino)
    owner_o = (o.owner if o else None) or snap.key_owner(tx.chave_origem)
    score_d = d.score if d and d.score is not None else snap.user_score(owner_d)
    score_o = o.score if o and o.score is not None else snap.user_score(owner_o)
    risk_d = d.ring_risk if d and d.ring_risk is not None else snap.ring_risk_of_user(owner_d)
    if d and d.cadastro_us is not None:
        age = d.age_hours(t_us)
    else:
        key = snap.keys.get(tx.chave_destino)
        cadastro = key.get("data_cadastro") if key else None
        age = (tx.ts - cadastro).total_seconds() / 3600.0 if cadastro else None
    f = static_features(local_hour(tx.ts), tx.valor, score_o, score_d, risk_d, age)
    if view is None:
        f.update({name: TX_DEFAULTS[name] for name in WINDOWED})
        return f, list(WINDOWED)
    f.update(window_features(t_us / 1e6, tx.valor, view.receipts_destino, view.receipts_origem))
    return f, []


class ModelHolder:
    """The champion pyfunc of ``model_name``; :meth:`refresh` reloads it when the alias points elsewhere."""

    def __init__(self, tracking_uri: str, model_name: str, alias: str = "champion", settings=None) -> None:
        #: whose model signing key verifies a version before it is loaded (default: the process settings)
        self.settings = settings
        self.tracking_uri = tracking_uri
        self.model_name = model_name
        self.alias = alias
        self.model: Any = None
        #: the model's own rows path (``TxModel.predict_rows``) when it has one: no DataFrame per request
        self.predict_rows: Any = None
        self.version: str | None = None
        self.error: str | None = None
        #: the version last refused (unsigned or changed): not downloaded again until the alias moves
        self.refused: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        #: requests waiting for the next batched prediction (:meth:`predict_soon`; event-loop thread only),
        #: the loop they wait on and whether that loop has a flush scheduled
        self._pending: list[tuple[dict[str, float], asyncio.Future]] = []
        self._pending_loop: asyncio.AbstractEventLoop | None = None
        self._flush_scheduled = False
        self.batches = 0
        self.batched_rows = 0

    @property
    def ready(self) -> bool:
        return self.model is not None

    def _client(self):
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def refresh(self) -> bool:
        """Load the champion when its version changed; True when a new model was loaded."""
        import mlflow

        try:
            mv = self._client().get_model_version_by_alias(self.model_name, self.alias)
        except Exception as exc:  # noqa: BLE001 - no model yet: scoring answers 503 until there is one
            self.error = f"no {self.alias} for {self.model_name} ({type(exc).__name__})"
            log.warning("model: %s", self.error)
            return False
        if (mv.version == self.version and self.model is not None) or mv.version == self.refused:
            return False
        from pixring.modelsign import ModelRefused, load_verified
        from pixring.settings import get_settings

        t0 = time.monotonic()
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        try:
            model = load_verified(self.settings or get_settings(), self.model_name, str(mv.version),
                                  tracking_uri=self.tracking_uri)
        except ModelRefused as exc:  # the previous model (if any) keeps serving; /v1/score 503 without one
            self.error, self.refused = str(exc), mv.version
            log.error("model: %s", exc)
            return False
        rows = getattr(_python_model(model), "predict_rows", None)
        with self._lock:
            self.model, self.predict_rows, self.version, self.error = model, rows, str(mv.version), None
        log.info("model %s v%s loaded in %.1fs", self.model_name, mv.version, time.monotonic() - t0)
        return True

    def start(self, every_seconds: float) -> None:
        every(every_seconds, self.refresh, self._stop, "model-refresh")

    def stop(self) -> None:
        self._stop.set()

    def predict(self, feats: dict[str, float]) -> tuple[float, str]:
        """(probability, model version) for one feature row."""
        probs, version = self.predict_many([feats])
        return probs[0], version

    def predict_many(self, feats: list[dict[str, float]]) -> tuple[list[float], str]:
        """(probabilities, model version) for feature rows, in one model call."""
        import pandas as pd

        with self._lock:
            model, rows_path, version = self.model, self.predict_rows, self.version
        if model is None:
            raise RuntimeError("no model loaded")
        values = [[float(f[c]) for c in TX_FEATURES] for f in feats]
        if rows_path is not None:
            return [float(p) for p in rows_path(values)], str(version)
        out = model.predict(pd.DataFrame(values, columns=list(TX_FEATURES)))
        probs = []
        for i in range(len(values)):
            value = out.iloc[i] if hasattr(out, "iloc") else out[i]
            if hasattr(value, "__len__") and not isinstance(value, str):
                value = value[-1]
            probs.append(float(value))
        return probs, str(version)

    async def predict_soon(self, feats: dict[str, float]) -> tuple[float, str]:
        """:meth:`predict` from the event loop, batched with the other requests of the same loop turn.

        The first request of a turn schedules one :meth:`predict_many` for the next turn
        (``loop.call_soon``); the requests that reach this point before it runs join its batch. Alone, a
        request waits one loop turn (microseconds); with 32 concurrent callers the head's ~0.8 ms per call is
        shared by the batch instead of paid by each request. Same model call, same probabilities.
        """
        loop = asyncio.get_running_loop()
        if loop is not self._pending_loop:  # another loop (a restarted server, tests): the old one's waiters
            self._pending, self._pending_loop, self._flush_scheduled = [], loop, False  # are gone with it
        fut: asyncio.Future = loop.create_future()
        self._pending.append((feats, fut))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return await fut

    def _flush(self) -> None:
        batch, self._pending, self._flush_scheduled = self._pending, [], False
        live = [(f, fut) for f, fut in batch if not fut.done()]  # a cancelled request (client gone) is dropped
        if not live:
            return
        try:
            probs, version = self.predict_many([f for f, _ in live])
            if len(probs) != len(live):
                raise RuntimeError(f"the model returned {len(probs)} probabilities for {len(live)} rows")
        except Exception as exc:  # noqa: BLE001 - every waiting request gets the error
            for _, fut in live:
                fut.set_exception(exc)
            return
        self.batches += 1
        self.batched_rows += len(live)
        for (_, fut), p in zip(live, probs, strict=True):
            fut.set_result((p, version))


def _python_model(model: Any) -> Any:
    """The ``PythonModel`` inside a pyfunc (None for other flavours)."""
    try:
        return model.unwrap_python_model()
    except Exception:  # noqa: BLE001 - not a python_function model built from a PythonModel
        return None


def _scored(feats: dict[str, float], prob: float, version: str, scoring: ScoringSettings) -> dict[str, Any]:
    decision, reasons = decide(prob, rules(feats, scoring), scoring)
    return {"score": prob, "decisao": decision, "motivos": reasons, "features": feats, "modelo_versao": version}


def score(snap: Snapshot, holder: ModelHolder, tx: TxInput, scoring: ScoringSettings) -> dict[str, Any]:
    """Features, model probability, rules and decision for one transaction."""
    feats = features(snap, tx)
    prob, version = holder.predict(feats)
    return _scored(feats, prob, version, scoring)


async def score_soon(snap: Snapshot, holder: ModelHolder, tx: TxInput, scoring: ScoringSettings) -> dict[str, Any]:
    """:func:`score` from the event loop, the model call batched with concurrent requests
    (:meth:`ModelHolder.predict_soon`)."""
    feats = features(snap, tx)
    prob, version = await holder.predict_soon(feats)
    return _scored(feats, prob, version, scoring)


async def score_online(snap: Snapshot, store, holder: ModelHolder, tx: TxInput, scoring: ScoringSettings,
                       timeout: float, on_failure: str = "degrade") -> dict[str, Any]:
    """:func:`score_soon` with the features of the online store; a store that does not answer gives a degraded
    answer (``degradado`` true, ``features_ausentes`` named) or, with ``on_failure="unavailable"``,
    :class:`OnlineUnavailable`."""
    feats, missing = features_online(snap, tx, await online_view(store, tx, timeout))
    if missing and on_failure == "unavailable":
        raise OnlineUnavailable("online store unavailable")
    prob, version = await holder.predict_soon(feats)
    return {**_scored(feats, prob, version, scoring), "degradado": bool(missing), "features_ausentes": missing}

"""The stream's writer of the online store (:mod:`pixring.online`): each micro-batch's scored rows -> Redis.

:class:`OnlineWriter` (the driver scorer, one call per batch) and :func:`write_spark` (a Spark frame, written
from the executors, one pipeline per partition) write the same idempotent commands (:func:`pixring.online.write_ops`).

Redis unavailable (stopped, restarting, full): the scorer keeps scoring and the batch's commands wait in
:attr:`OnlineWriter.pending`, replayed in order before the next batch's, so nothing is lost while the process
lives; past ``max_pending_batches`` the scorer waits for the store (back-pressure) rather than drop anything.
At start the writer re-seeds the store with the receipts of the rebuilt feature state (the last hour +
watermark of ``gold/scored_transactions``), which covers what a crash lost from the pending queue. The
executor path retries a partition a few times, then fails the task, so Spark replays it.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pixring import online
from pixring.features import EPOCH
from pixring.settings import Settings

log = logging.getLogger(__name__)

#: seconds between retries while the pending queue is full (the scorer waits), and between warnings
BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)
WARN_EVERY_S = 30.0


def _utc_us(local: datetime, tz: ZoneInfo) -> int:
    """A naive wall-clock time of ``tz`` as epoch microseconds UTC."""
    off = tz.utcoffset(local) or timedelta(0)
    return online.epoch_us(local) - off // timedelta(microseconds=1)


def rows_of(frame: Any, tz: ZoneInfo | None = None) -> list[dict[str, Any]]:
    """Rows with :data:`pixring.online.WRITE_COLUMNS` from a pandas frame or a list of dicts; ``ts_us`` from a
    naive ``timestamp`` in ``tz`` (the Spark session time zone) when the rows have none."""
    if hasattr(frame, "to_dict"):
        cols = [c for c in (*online.WRITE_COLUMNS, "timestamp") if c in frame.columns]
        records = frame[cols].to_dict("records")
    else:
        records = list(frame)
    out = []
    for r in records:
        if r.get("ts_us") is None:
            ts = r.get("timestamp")
            if ts is None:
                continue
            if hasattr(ts, "to_pydatetime"):
                ts = ts.to_pydatetime()
            if ts.tzinfo is not None:
                ts = ts.astimezone(UTC).replace(tzinfo=None)
                r = {**r, "ts_us": online.epoch_us(ts)}
            else:
                r = {**r, "ts_us": _utc_us(ts, tz or ZoneInfo("UTC"))}
        out.append(r)
    return out


class OnlineWriter:
    """Writes each batch's rows to the store; keeps them for replay while it is unavailable."""

    def __init__(self, settings: Settings, client=None) -> None:
        import redis

        self.settings = settings
        self.client = client or online.client(settings)
        self.errors = (redis.RedisError, OSError)
        r = settings.redis
        from pixring.durations import parse_duration

        self.watermark = parse_duration(settings.streaming.watermark)
        self.receipts_ttl, self.keys_ttl, self.max_pending = r.receipts_ttl_seconds, r.keys_ttl_seconds, r.max_pending_batches
        self.pending: deque[list[online.Op]] = deque()
        self.written_batches = 0
        self.failures = 0
        self._down_since: float | None = None
        self._warned = 0.0

    def ops(self, rows: Iterable[dict[str, Any]]) -> list[online.Op]:
        return online.write_ops(rows, watermark_seconds=self.watermark, receipts_ttl=self.receipts_ttl,
                                keys_ttl=self.keys_ttl)

    def write(self, frame: Any, tz: ZoneInfo | None = None) -> bool:
        """Queue one batch (pandas frame or row dicts) and flush what is pending; True when all is written.

        Never raises for an unavailable store: the batch waits in :attr:`pending` (the scorer goes on); when
        the queue is full this call waits until the store takes it."""
        ops = self.ops(rows_of(frame, tz))
        if ops:
            self.pending.append(ops)
        if self.flush():
            return True
        attempt = 0
        while len(self.pending) > self.max_pending:  # back-pressure: never drop a batch
            time.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
            attempt += 1
            if self.flush():
                return True
        return False

    def flush(self) -> bool:
        """Write every pending batch, oldest first; False (the rest kept) at the first failure."""
        while self.pending:
            ops = self.pending[0]
            try:
                pipe = self.client.pipeline(transaction=False)
                online.apply(pipe, ops)
                pipe.execute()
            except self.errors as exc:
                self._failed(exc)
                return False
            self.pending.popleft()
            self.written_batches += 1
        if self._down_since is not None:
            log.info("online store back after %.1f s: pending batches replayed", time.monotonic() - self._down_since)
            self._down_since = None
        return True

    def _failed(self, exc: BaseException) -> None:
        self.failures += 1
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = now
        if now - self._warned >= WARN_EVERY_S:
            self._warned = now
            log.warning("online store unavailable (%s): %d batch(es) pending, replayed when it is back",
                        type(exc).__name__, len(self.pending))

    def drain(self, timeout_s: float = 30.0) -> bool:
        """Flush with retries for up to ``timeout_s`` (on the way out); False when batches stay pending."""
        deadline = time.monotonic() + timeout_s
        attempt = 0
        while not self.flush():
            if time.monotonic() > deadline:
                log.error("online store: %d batch(es) not written on exit (re-seeded from the scored table "
                          "at the next start)", len(self.pending))
                return False
            time.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
            attempt += 1
        return True

    def seed(self, by_key: dict[str, Sequence[tuple]], tz: ZoneInfo, chunk: int = 5_000) -> int:
        """Write the receipts of a rebuilt feature state (``ReceiptState.by_key``: receiver token -> receipts in
        ``tz`` wall-clock seconds); idempotent with what the batches wrote. Returns the receipts queued."""
        rows: list[dict[str, Any]] = []
        for dest, receipts in by_key.items():
            for t, id_tx, sender, valor, effective in receipts:
                local = EPOCH + timedelta(microseconds=round(t * 1e6))
                rows.append({"id_transacao": id_tx, "ts_us": _utc_us(local, tz), "chave_pix_origem": sender,
                             "chave_pix_destino": dest, "valor": valor,
                             "status": None if effective else "rejeitada"})
        for i in range(0, len(rows), chunk):
            self.pending.append(self.ops(rows[i:i + chunk]))
        self.flush()
        return len(rows)


def write_spark(df, settings: Settings, attempts: int = 5) -> None:
    """Write a Spark frame of scored rows (:data:`pixring.online.WRITE_COLUMNS`, or ``timestamp`` instead of
    ``ts_us``) from the executors: one client and pipeline per partition, retried ``attempts`` times, then the
    task fails (Spark retries it; the writes are idempotent)."""
    from pyspark.sql import functions as F

    if "ts_us" not in df.columns:
        df = df.withColumn("ts_us", F.unix_micros("timestamp"))
    df = df.select(*[c for c in online.WRITE_COLUMNS if c in df.columns])
    redis_settings = settings.redis
    watermark = settings.streaming.watermark

    def _partition(rows) -> None:
        import redis

        from pixring.durations import parse_duration

        ops = online.write_ops((r.asDict() for r in rows), watermark_seconds=parse_duration(watermark),
                               receipts_ttl=redis_settings.receipts_ttl_seconds,
                               keys_ttl=redis_settings.keys_ttl_seconds)
        if not ops:
            return
        cli = online.client(redis_settings)
        for attempt in range(attempts):
            try:
                pipe = cli.pipeline(transaction=False)
                online.apply(pipe, ops)
                pipe.execute()
                return
            except (redis.RedisError, OSError):
                if attempt == attempts - 1:
                    raise
                time.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])

    df.foreachPartition(_partition)

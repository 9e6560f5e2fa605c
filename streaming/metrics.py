"""Prometheus metrics of the scorer, served on ``settings.streaming.metrics_port`` (``/metrics``).

Own registry (not the process default) so that two scorers in one process, e.g. in tests, never clash.
"""

from __future__ import annotations

import collections
import logging
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

log = logging.getLogger(__name__)

#: seconds; 3 s is the issue's p95 target, so it is a bucket bound
LATENCY_BUCKETS = (0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 30, 60, 120)


class StreamMetrics:
    """Counters, gauges and histograms of one scorer."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.rows = Counter("pixring_stream_rows", "Kafka records processed, by outcome", ["outcome"], registry=r)
        self.dlq = Counter("pixring_stream_dlq", "Records sent to the DLQ, by reason code (streaming.schemas."
                           "DLQ_REASONS)", ["motivo"], registry=r)
        self.decisions = Counter("pixring_stream_decisions", "Scored transactions by decision", ["decisao"],
                                 registry=r)
        self.alerts = Counter("pixring_stream_alerts", "Ring alerts published", registry=r)
        self.alerts_per_min = Gauge("pixring_stream_alerts_per_minute", "Alerts published in the last 60 s",
                                    registry=r)
        self.rows_per_second = Gauge("pixring_stream_rows_per_second",
                                     "Records per second of the last micro-batch (its size / its duration)",
                                     registry=r)
        self.batch_seconds = Histogram(
            "pixring_stream_batch_duration_seconds", "Micro-batch processing time (foreachBatch)", registry=r,
            buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60))
        self.latency = Histogram(
            "pixring_stream_latency_seconds", "Input record's Kafka timestamp -> the scorer's decision, per record",
            registry=r, buckets=LATENCY_BUCKETS)
        self.scoring = Gauge("pixring_stream_scoring", "1 while the scorer query runs (start-up done: Spark, "
                             "drain, feature state, lookups, model), else 0", registry=r)
        self.batch_rows = Gauge("pixring_stream_batch_rows", "Records in the last micro-batch", registry=r)
        self.lag = Gauge("pixring_stream_kafka_lag", "Kafka offsets behind the latest (max over partitions)",
                         registry=r)
        self.model_version = Gauge("pixring_stream_model_version",
                                   "Registered version of the champion model in use (0: none)", registry=r)
        self.model_loads = Counter("pixring_stream_model_loads", "Champion model (re)loads", registry=r)
        self.gold_reloads = Counter("pixring_stream_gold_reloads", "Gold lookup reloads", registry=r)
        self.state_receipts = Gauge("pixring_stream_state_receipts", "Receipts held in the feature state",
                                    registry=r)
        self.last_batch = Gauge("pixring_stream_last_batch_timestamp_seconds", "When the last batch ended",
                                registry=r)
        self.feature_psi = Gauge("pixring_feature_psi", "PSI of a model feature over the latest scored "
                                 "transactions against the champion's training data", ["feature"], registry=r)
        self.score_psi = Gauge("pixring_score_psi", "PSI of the model score over the latest scored transactions "
                               "against the champion's training data", registry=r)
        self.sink_rows = Counter("pixring_stream_sink_rows", "Scored messages written to gold/scored_transactions "
                                 "by the Delta sink, by outcome (inserted | duplicate | invalid)", ["outcome"],
                                 registry=r)
        self.sink_seconds = Histogram(
            "pixring_stream_sink_batch_duration_seconds", "Delta sink micro-batch time (MERGE)", registry=r,
            buckets=(0.5, 1, 2, 5, 10, 30, 60, 120))
        self._alert_times: collections.deque[tuple[float, int]] = collections.deque()

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        """Start the HTTP endpoint (a daemon thread) on ``host`` (``settings.streaming.metrics_host``)."""
        start_http_server(port, addr=host, registry=self.registry)
        log.info("metrics on %s:%d/metrics", host, port)

    def record_drift(self, values: dict[str, float]) -> None:
        """Set the PSI gauges from :meth:`gnn.drift.DriftWindow.psi` (``score`` is the model score)."""
        for name, value in values.items():
            if value != value:  # NaN: no rows
                continue
            if name == "score":
                self.score_psi.set(value)
            else:
                self.feature_psi.labels(name).set(value)

    def record_alerts(self, n: int) -> None:
        now = time.monotonic()
        self.alerts.inc(n)
        self._alert_times.append((now, n))
        while self._alert_times and self._alert_times[0][0] < now - 60:
            self._alert_times.popleft()
        self.alerts_per_min.set(sum(k for _, k in self._alert_times))


def histogram_quantiles(now: dict[str, float], before: dict[str, float], name: str,
                        quantiles: tuple[float, ...]) -> list[float] | None:
    """Upper bucket bounds holding each quantile of a Prometheus histogram's observations between two scrapes.

    Args:
        now, before: scraped samples, ``'<name>_bucket{le="1.0"}' -> cumulative count`` (other keys ignored).
        name: the histogram's name.
        quantiles: e.g. ``(0.5, 0.95, 0.99)``.

    Returns:
        One bound per quantile (``inf`` when it lies beyond the last finite bucket), or None without
        observations in between.
    """
    prefix = f'{name}_bucket{{le="'
    buckets = sorted((float(key[len(prefix):-2]), value - before.get(key, 0.0))
                     for key, value in now.items() if key.startswith(prefix) and key.endswith('"}'))
    total = buckets[-1][1] if buckets else 0.0
    if total <= 0:
        return None
    return [next(le for le, count in buckets if count >= q * total) for q in quantiles]

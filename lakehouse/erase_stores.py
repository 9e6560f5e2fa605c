"""The erasure outside Delta: Neo4j, MLflow artifacts, Kafka and the API (erase and scan), for
:mod:`lakehouse.erase`.

* **Neo4j**: every node whose ``id`` is an erased value, or with a string property holding one (a ring's
  JSON evidence) or a list property holding one, is ``DETACH DELETE``d (its relationships go with it).
* **MLflow**: every artifact of every run and logged model of the experiment is read through the tracking
  server; a Parquet or CSV file loses the rows that mention the person and is written back in place, a text
  file (JSON, Markdown, YAML) gets each occurrence replaced by ``[apagado]``. A binary artifact (a pickle, a
  checkpoint) that holds an erased value cannot be rewritten: it is reported (retrain, then delete the run).
* **Kafka** allows no deletion of single records. On a topic whose ``cleanup.policy`` includes ``compact``
  the erasure writes a tombstone (null value) for each key the person's records can carry (their Pix keys as
  produced, account and transaction ids): compaction then removes every earlier record of those keys. On a
  ``delete`` topic (pixring's default: ``pix.transacoes`` is keyed by the payer's key, the DLQ by the source
  key) the records stay until ``retention.ms`` passes; the report says until when.
* **API**: nothing is stored there; ``--verify`` asks it for the person's ids and transactions (410/404 is
  absent).
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from pixring import ledger, modelsign
from pixring.settings import Settings

log = logging.getLogger(__name__)

REDACTED = "[apagado]"
TEXT_SUFFIXES = frozenset({".json", ".md", ".txt", ".yaml", ".yml", ".html", ".log"})
TEXT_NAMES = frozenset({"MLmodel", "requirements.txt", "conda.yaml", "python_env.yaml"})

#: nodes that mention a needle: by id, by a string property holding it quoted (JSON) or equal to it, or by
#: a list property holding it (the needles are a bound parameter, never text of the query)
_NEO4J_MATCH = (
    "MATCH (n) WHERE n.id IN $needles OR any(k IN keys(n) WHERE "
    "(n[k] IS :: STRING AND (n[k] IN $needles OR any(x IN $quoted WHERE n[k] CONTAINS x))) "
    "OR (n[k] IS :: LIST<ANY> AND any(e IN n[k] WHERE e IN $needles))) "
)
NEO4J_COUNT = _NEO4J_MATCH + "RETURN count(n) AS n"
NEO4J_DELETE = _NEO4J_MATCH + "DETACH DELETE n RETURN count(*) AS n"


def _params(erased: ledger.Erased) -> dict[str, list[str]]:
    needles = sorted(erased.needles)
    return {"needles": needles, "quoted": [f'"{v}"' for v in needles]}


# ----------------------------------------------------------------------------------------------- Neo4j
def _neo4j(settings: Settings, cypher: str, erased: ledger.Erased) -> int:
    from pixring import neo4jdriver

    n = settings.neo4j
    with neo4jdriver.driver(n, notifications_min_severity="OFF") as driver:
        records = driver.execute_query(cypher, **_params(erased), database_=n.database).records
    return int(records[0]["n"]) if records else 0


def neo4j_erase(settings: Settings, erased: ledger.Erased) -> int:
    return _neo4j(settings, NEO4J_DELETE, erased)


def neo4j_count(settings: Settings, erased: ledger.Erased) -> int:
    return _neo4j(settings, NEO4J_COUNT, erased)


# ---------------------------------------------------------------------------------------------- MLflow
def _repositories(settings: Settings) -> Iterator[tuple[str, Any]]:
    """``(name, artifact repository)`` of every run and logged model of the experiment."""
    import mlflow
    from mlflow.entities import ViewType
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(settings.mlflow.uri)
    client = MlflowClient(settings.mlflow.uri)
    exp = client.get_experiment_by_name(settings.mlflow.experiment)
    if exp is None:
        return
    token = None
    while True:
        runs = client.search_runs([exp.experiment_id], run_view_type=ViewType.ALL, max_results=500, page_token=token)
        for run in runs:
            yield f"run {run.info.run_id}", get_artifact_repository(run.info.artifact_uri)
        token = runs.token
        if not token:
            break
    token = None
    while True:
        models = client.search_logged_models(experiment_ids=[exp.experiment_id], max_results=500, page_token=token)
        for m in models:
            yield f"model {m.model_id}", get_artifact_repository(m.artifact_location)
        token = models.token
        if not token:
            break


def _files(repo: Any, path: str | None = None) -> Iterator[str]:
    for fi in repo.list_artifacts(path):
        if fi.is_dir:
            yield from _files(repo, fi.path)
        else:
            yield fi.path


def _table_hits(local: Path, erased: ledger.Erased) -> tuple[int, Any]:
    import pandas as pd

    pdf = pd.read_parquet(local) if local.suffix == ".parquet" else pd.read_csv(local, dtype=str)
    kept = ledger.without_erased_pandas(pdf, erased)
    return len(pdf) - len(kept), kept


def _text_hits(text: str, needles: Iterable[str]) -> int:
    return sum(text.count(n) for n in needles)


def _artifact(repo: Any, path: str, erased: ledger.Erased, rewrite: bool, tmp: Path) -> tuple[int, str | None]:
    """Occurrences of the person in one artifact and, with ``rewrite``, the artifact written back without
    them; ``(hits, problem)`` where problem says why it could not be rewritten."""
    local = Path(repo.download_artifacts(path, str(tmp)))
    name = local.name
    if local.suffix in (".parquet", ".csv"):
        hits, kept = _table_hits(local, erased)
        if hits and rewrite:
            kept.to_parquet(local, index=False) if local.suffix == ".parquet" else kept.to_csv(local, index=False)
    elif local.suffix in TEXT_SUFFIXES or name in TEXT_NAMES:
        text = local.read_text(encoding="utf-8", errors="replace")
        hits = _text_hits(text, erased.needles)
        if hits and rewrite:
            for n in sorted(erased.needles, key=len, reverse=True):
                text = text.replace(n, REDACTED)
            local.write_text(text, encoding="utf-8")
    else:
        data = local.read_bytes()
        hits = sum(data.count(n.encode("utf-8")) for n in erased.needles)
        return hits, ("binary artifact: retrain and delete the run" if hits else None)
    if hits and rewrite:
        parent = str(Path(path).parent)
        repo.log_artifact(str(local), None if parent == "." else parent)
    return hits, None


def mlflow_scan(settings: Settings, erased: ledger.Erased, rewrite: bool = False) -> tuple[dict[str, int], list[str]]:
    """``({"run X: path": hits}, problems)`` over every artifact; ``rewrite`` writes them back without the person."""
    hits: dict[str, int] = {}
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="pixring-erase-") as tmp:
        for i, (name, repo) in enumerate(_repositories(settings)):
            for path in _files(repo):
                where = Path(tmp) / str(i)
                where.mkdir(exist_ok=True)
                n, problem = _artifact(repo, path, erased, rewrite, where)
                if n:
                    hits[f"{name}: {path}"] = n
                if problem:
                    problems.append(f"{name}: {path}: {problem}")
    return hits, problems


# ----------------------------------------------------------------------------------------------- Kafka
def _topics(settings: Settings) -> list[str]:
    k = settings.kafka
    return [k.topic_transactions, k.topic_scored, k.topic_alerts, k.topic_dlq]


def kafka_configs(settings: Settings) -> dict[str, dict[str, str]]:
    """``topic -> {cleanup.policy, retention.ms}`` of pixring's topics that exist."""
    from confluent_kafka.admin import ConfigResource

    from pixring import kafka

    admin = kafka.admin(settings.kafka)  # the security settings every client shares
    existing = set(admin.list_topics(timeout=10).topics)
    out: dict[str, dict[str, str]] = {}
    for topic in (t for t in _topics(settings) if t in existing):
        fut = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)])
        entries = next(iter(fut.values())).result(10)
        out[topic] = {k: entries[k].value for k in ("cleanup.policy", "retention.ms") if k in entries}
    return out


def kafka_erase(settings: Settings, keys: Iterable[str], entry: ledger.Entry) -> dict[str, str]:
    """Tombstones on compacted topics; the retention deadline on the others."""
    from pixring import kafka

    out: dict[str, str] = {}
    keys = sorted({k for k in keys if k})
    for topic, conf in kafka_configs(settings).items():
        if "compact" in conf.get("cleanup.policy", ""):
            producer = kafka.producer(settings.kafka)
            for key in keys:
                producer.produce(topic, key=key.encode("utf-8"), value=None)
            left = producer.flush(30)
            out[f"kafka {topic}"] = f"{len(keys) - left} tombstone(s) written (compaction removes the earlier records)"
        else:
            ms = int(conf.get("retention.ms", "-1"))
            until = "never (retention.ms = -1): set a retention" if ms < 0 else \
                f"{entry.erased_at + timedelta(milliseconds=ms):%Y-%m-%d %H:%M} UTC (retention {ms / 3_600_000:g} h)"
            out[f"kafka {topic}"] = f"delete policy: Kafka removes no single record; the person's records expire by {until}"
    return out


# ------------------------------------------------------------------------------------------------- API
def api_scan(settings: Settings, erased: ledger.Erased, limit: int = 50) -> tuple[bool | None, str]:
    """Ask the running API for the person's accounts and transactions: present when one answers 200."""
    import httpx

    token = settings.api.token_investigator.get_secret_value()
    paths = [f"/v1/graph/usuario/{i}" for i in sorted(erased.ids)[:limit]]
    paths += [f"/v1/users/{i}" for i in sorted(erased.ids)[:limit]]
    paths += [f"/v1/transactions/{t}" for t in sorted(erased.transactions)[:limit]]
    if not paths:
        return False, "no account or transaction id to ask for"
    codes: dict[int, int] = {}
    try:
        with httpx.Client(base_url=settings.api.url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
            for p in paths:
                code = client.get(p).status_code
                codes[code] = codes.get(code, 0) + 1
    except httpx.HTTPError as exc:
        return None, f"API not reachable at {settings.api.url} ({type(exc).__name__})"
    summary = ", ".join(f"{n} x {c}" for c, n in sorted(codes.items()))
    if codes.get(200):
        return True, f"{len(paths)} look-up(s): {summary}"
    if set(codes) - {404, 410}:
        return None, f"{len(paths)} look-up(s): {summary} (not answered: check the token)"
    return False, f"{len(paths)} look-up(s): {summary}"


# ------------------------------------------------------------------------------------------ both sides
def erase_all(settings: Settings, erased: ledger.Erased, kafka_keys: Iterable[str], entry: ledger.Entry
              ) -> tuple[dict[str, str], dict[str, str]]:
    """Erase from Neo4j, MLflow and Kafka; ``(done per store, errors per store)`` (one store failing does not
    stop the others)."""
    done: dict[str, str] = {}
    errors: dict[str, str] = {}
    try:
        done["neo4j"] = f"{neo4j_erase(settings, erased):,d} node(s) deleted"
    except Exception as exc:  # noqa: BLE001 - reported, the command exits non-zero
        errors["neo4j"] = f"{type(exc).__name__}: {str(exc)[:200]}"
    try:
        intact = modelsign.intact_versions(settings)
        hits, problems = mlflow_scan(settings, erased, rewrite=True)
        modelsign.resign(settings, intact)  # the rewritten artifacts of pixring's own models stay loadable
        done["mlflow"] = f"{len(hits)} artifact(s) rewritten ({sum(hits.values()):,d} mention(s) removed)"
        if problems:
            errors["mlflow"] = "; ".join(problems[:5])
    except Exception as exc:  # noqa: BLE001
        errors["mlflow"] = f"{type(exc).__name__}: {str(exc)[:200]}"
    try:
        done.update(kafka_erase(settings, kafka_keys, entry))
    except Exception as exc:  # noqa: BLE001
        errors["kafka"] = f"{type(exc).__name__}: {str(exc)[:200]}"
    return done, errors


def scan_all(settings: Settings, erased: ledger.Erased) -> list[tuple[str, bool | None, str]]:
    """``--verify``: Neo4j, MLflow artifacts, the API, and Kafka (retention, not scanned)."""
    out: list[tuple[str, bool | None, str]] = []
    try:
        n = neo4j_count(settings, erased)
        out.append(("neo4j", n > 0, f"{n:,d} node(s)"))
    except Exception as exc:  # noqa: BLE001
        out.append(("neo4j", None, f"not reachable ({type(exc).__name__})"))
    try:
        hits, _ = mlflow_scan(settings, erased)
        out.append(("mlflow artifacts", bool(hits), json.dumps(sorted(hits)[:5]) if hits else "no artifact"))
    except Exception as exc:  # noqa: BLE001
        out.append(("mlflow artifacts", None, f"not reachable ({type(exc).__name__})"))
    out.append(("api", *api_scan(settings, erased)))
    try:
        for topic, conf in kafka_configs(settings).items():
            ms = int(conf.get("retention.ms", "-1"))
            out.append((f"kafka {topic}", None, f"not scanned: {conf.get('cleanup.policy')} policy, retention "
                                                f"{'unbounded' if ms < 0 else f'{ms / 3_600_000:g} h'}"))
    except Exception as exc:  # noqa: BLE001
        out.append(("kafka", None, f"not reachable ({type(exc).__name__})"))
    return out

"""``pixring demo``: the whole pipeline end to end on the default data set, then where to look.

Each stage is idempotent, so a second run reuses what is there. Stages are added here as the
packages that own them land.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from pixring.settings import Settings, get_settings

log = logging.getLogger(__name__)


def _stage(name: str, fn: Callable[[], object], summary: dict[str, str]) -> object:
    print(f"==> {name}", flush=True)
    t0 = time.monotonic()
    result = fn()
    summary[name] = f"{time.monotonic() - t0:6.1f}s"
    return result


def run_demo(scale: float = 1.0, seed: int = 42, settings: Settings | None = None) -> int:
    from infra.stack import Stack

    settings = settings or get_settings()
    stack = Stack(settings)
    summary: dict[str, str] = {}
    raw = settings.paths.data / f"raw-scale{scale:g}-seed{seed}"

    _stage("services up", lambda: stack.up(), summary)

    def _datagen() -> object:
        from datagen.generator import generate

        if (raw / "transacoes_pix.csv").exists():
            print(f"    reusing {raw}")
            return None
        report = generate(out=raw, scale=scale, seed=seed, fmt="csv", difficulty="normal", overwrite=False)
        print(f"    {report}")
        return report

    _stage("datagen", _datagen, summary)

    print("\n== pixring demo: summary ==")
    for name, took in summary.items():
        print(f"  {name:20s} {took}")
    print("\n== where to look ==")
    _where(settings, raw)
    return 0


def _where(settings: Settings, raw: Path) -> None:
    print(f"  data root        {settings.paths.home}")
    print(f"  generated data   {raw}")
    print(f"  Kafka bootstrap  {settings.kafka.bootstrap}")
    print(f"  Neo4j Bolt       {settings.neo4j.bolt_uri}  (user {settings.neo4j.user}, password from PIXRING_NEO4J_PASSWORD)")
    print(f"  MLflow UI        {settings.mlflow.uri}")
    print(f"  service logs     {settings.paths.logs}")
    print("  stop everything  .venv/bin/pixring down")

"""``POST /v1/score`` with the features read from the online store, and the API worker's memory with and without it.

Starts its own redis-server on a free port (``tests.helpers.RedisProc``: the config ``pixring up`` writes), fills
it with every silver transaction of ``PIXRING_HOME``'s lakehouse through the stream's writer
(``streaming.online_sink.OnlineWriter``, receipts only, no trimming: ``--keep-days``), then runs ``pixring api``
twice on a free port: with ``PIXRING_REDIS_ENABLED=true`` (the read model keeps no receipts) and without (the
in-memory receipts), and for each prints the resident memory of the API process once ready and the
``POST /v1/score`` latency of ``bench/bench_api.py`` (``--clients`` closed-loop clients). Target (issue 22):
p99 <= 20 ms at 32 clients from the online store.

    heavy .venv/bin/python bench/bench_online.py --clients 32 --seconds 15
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from tests.helpers import RedisProc, free_port  # noqa: E402 - after the sys.path lines


def fill(settings, proc: RedisProc, keep_days: float) -> int:
    from deltalake import DeltaTable

    from pixring import online
    from streaming.online_sink import OnlineWriter

    path = settings.paths.lakehouse / "silver" / "transacoes_pix"
    if not (path / "_delta_log").is_dir():
        raise SystemExit(f"no silver transactions at {path}: run `pixring datagen`, `ingest` and `refine` first")
    table = DeltaTable(str(path)).to_pyarrow_dataset().to_table(
        columns=["id_transacao", "timestamp", "valor", "chave_pix_origem", "chave_pix_destino", "status"])

    class _W:
        redis = proc.settings
        streaming = type(settings.streaming)(watermark=f"{keep_days}d")

    writer = OnlineWriter(_W)
    n = 0
    for batch in table.to_batches(50_000):
        rows = batch.to_pylist()
        for r in rows:
            ts = r.pop("timestamp")
            r["ts_us"] = online.epoch_us(ts.replace(tzinfo=None) - (ts.utcoffset() or ts - ts))
            r["valor"] = float(r["valor"])
        writer.write(rows)
        n += len(rows)
    writer.drain()
    return n


def rss_mb(pid: int) -> float:
    import psutil

    p = psutil.Process(pid)
    return sum(c.memory_info().rss for c in [p, *p.children(recursive=True)]) / 2**20


def run_api(env: dict[str, str], port: int, args) -> None:
    import httpx

    import bench_api

    proc = subprocess.Popen([sys.executable, "-m", "pixring.cli", "api"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                r = httpx.get(f"{url}/readyz", timeout=2)
                if r.status_code == 200 and r.json()["model"]["loaded"]:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            print("API not ready")
            return
        print(f"  API process RSS once ready: {rss_mb(proc.pid):.0f} MiB")
        bench_api.main(["--url", url, "--only", "POST /v1/score", "--clients", str(args.clients),
                        "--seconds", str(args.seconds)])
        print(f"  API process RSS after the load: {rss_mb(proc.pid):.0f} MiB")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--keep-days", type=float, default=3650.0, help="receipts kept (the stream keeps 1 h + watermark)")
    args = ap.parse_args(argv)

    from bench_api import _ensure_model

    from pixring.settings import get_settings

    settings = get_settings()
    model_name, note = _ensure_model(settings)
    with tempfile.TemporaryDirectory() as home:
        proc = RedisProc(Path(home))
        proc.settings = proc.settings.model_copy(update={"maxmemory": "3gb"})
        proc.start()
        try:
            t0 = time.monotonic()
            n = fill(settings, proc, args.keep_days)
            print(f"online store filled with {n:,d} receipts in {time.monotonic() - t0:.1f}s; model: {note}")
            base = {**os.environ, "PIXRING_MLFLOW_MODEL_NAME": model_name, "PIXRING_API_WORKERS": "1"}
            for label, extra in (("online store (PIXRING_REDIS_ENABLED=true)", {
                    "PIXRING_REDIS_ENABLED": "true", "PIXRING_REDIS_PORT": str(proc.port),
                    "PIXRING_REDIS_PASSWORD": proc.settings.password.get_secret_value()}),
                    ("in-memory receipts (PIXRING_REDIS_ENABLED=false)", {"PIXRING_REDIS_ENABLED": "false"})):
                port = free_port()
                print(label)
                run_api({**base, **extra, "PIXRING_API_PORT": str(port)}, port, args)
        finally:
            proc.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

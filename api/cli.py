"""``pixring api`` (serve with uvicorn) and ``pixring api-bench`` (the latency benchmark)."""

from __future__ import annotations

import argparse
import os


def _cmd_api(args: argparse.Namespace) -> int:
    # One OpenMP thread per API process, set before the model loads the OpenMP runtime (it reads the variable
    # once, for every thread). scikit-learn predicts even a single row in an OpenMP region; waking a second
    # thread on this busy 2-core machine cost more than the prediction: one row from a request thread took
    # p50 5.3 / p99 18 ms with the default and 1.9 / 2.9 ms with one thread. Requests run in parallel instead.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import uvicorn

    from api.app import create_app
    from pixring.settings import get_settings

    settings = get_settings()
    host = args.host or settings.api.host
    port = args.port or settings.api.port
    workers = args.workers or settings.api.workers
    # access_log off: raw paths can hold a clear Pix key; the metrics middleware logs route templates only
    # log_config=None: uvicorn's own records go through pixring's handler (same format, with ``corr``)
    common = {"host": host, "port": port, "access_log": False, "log_level": "info", "timeout_keep_alive": 30,
              "log_config": None}
    if workers > 1:  # each worker process builds its own app (driver pool, read model, model)
        uvicorn.run("api.app:create_app", factory=True, workers=workers, **common)
    else:
        uvicorn.run(create_app(settings), **common)
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "bench" / "bench_api.py"
    spec = importlib.util.spec_from_file_location("bench_api", path)
    if spec is None or spec.loader is None or not path.exists():
        from pixring.errors import PixringError

        raise PixringError(f"{path} not found (run from a source checkout)")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    bench_main = module.main

    argv = ["--clients", str(args.clients), "--seconds", str(args.seconds), "--workers", str(args.workers)]
    if args.url:
        argv += ["--url", args.url]
    return bench_main(argv)


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("api", help="serve the FastAPI investigation and scoring API (uvicorn)")
    p.add_argument("--host", default=None, help="default settings.api.host")
    p.add_argument("--port", type=int, default=None, help="default settings.api.port")
    p.add_argument("--workers", type=int, default=None, help="processes (default settings.api.workers)")
    p.set_defaults(handler=_cmd_api)
    p = sub.add_parser("api-bench", help="benchmark the API: subgraph p99 with concurrent clients, /v1/score p99")
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--seconds", type=float, default=15.0, help="per endpoint")
    p.add_argument("--url", default=None, help="an API already running (default: start one in a subprocess)")
    p.add_argument("--workers", type=int, default=1, help="API worker processes of the API the bench starts")
    p.set_defaults(handler=_cmd_bench)

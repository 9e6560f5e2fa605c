"""``pixring api``: serve the API with uvicorn (the latency benchmark is ``pixring bench api``)."""

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


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("api", help="serve the FastAPI investigation and scoring API (uvicorn)")
    p.add_argument("--host", default=None, help="default settings.api.host")
    p.add_argument("--port", type=int, default=None, help="default settings.api.port")
    p.add_argument("--workers", type=int, default=None, help="processes (default settings.api.workers)")
    p.set_defaults(handler=_cmd_api)

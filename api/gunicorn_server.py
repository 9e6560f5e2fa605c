"""``pixring api --workers N`` under gunicorn (``PIXRING_API_SERVER=gunicorn``, the default).

gunicorn's arbiter with ``reuse_port``: each worker, after the fork, binds its own ``SO_REUSEPORT`` socket on
the port (gunicorn >= 26 creates the listeners in the worker when ``reuse_port`` is on), so the kernel spreads
connections over the workers by address hash; uvicorn's worker class (``uvicorn-worker``) serves the app in
each. What the arbiter gives: dead workers replaced, a worker that fails to boot stops the API (exit 3)
instead of a restart loop, SIGTERM reaches every worker once and each gets ``graceful_timeout`` before
SIGKILL, heartbeats (a worker stuck past ``timeout`` is killed and replaced), SIGHUP / SIGTTIN / SIGTTOU.
pixring adds the worker board (``api/workers.py``: ``/readyz`` counts every worker), one OpenMP thread per
worker (set by ``pixring api``), pixring's log handler for uvicorn's records (no access log) and
``PR_SET_PDEATHSIG`` (workers get SIGTERM if the arbiter dies, whatever kills it).
"""

from __future__ import annotations

import logging
import math
import os
import signal
import sys
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from uvicorn_worker import UvicornWorker

from api.workers import WorkerBoard, WorkerServer

log = logging.getLogger(__name__)

#: seconds a worker may go without a heartbeat (uvicorn sends one per second-ish tick once serving) before the
#: arbiter kills and replaces it; generous, since the app's start-up (read model, model) runs before serving
HEARTBEAT_TIMEOUT_S = 180


class PixringWorker(UvicornWorker):
    """uvicorn's gunicorn worker with pixring's logging, graceful timeout and the worker board."""

    CONFIG_KWARGS: dict[str, Any] = {"loop": "auto", "http": "auto", "access_log": False, "log_level": "info"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # uvicorn's records to pixring's root handler (format with ``corr``); its access log stays off (raw paths
        # can hold a clear Pix key; the metrics middleware logs route templates only)
        lg = logging.getLogger("uvicorn.error")
        lg.handlers, lg.propagate = [], True
        # on SIGTERM requests in flight get the graceful timeout, then they are cancelled (the arbiter's SIGKILL
        # comes after the same timeout)
        self.config.timeout_graceful_shutdown = self.cfg.graceful_timeout

    async def _serve(self) -> None:
        app = self.wsgi
        board: WorkerBoard = self.app.board
        app.state.ctx.extra["workers"] = board  # /readyz counts every worker on it
        self.config.app = app
        server = WorkerServer(self.config, board, app.state.ctx)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)


class PixringGunicorn(BaseApplication):
    def __init__(self, settings, host: str, port: int, workers: int) -> None:
        self.settings = settings
        self.board = WorkerBoard.for_port(settings.paths.run, port, workers)
        a = settings.api
        board = self.board
        self.options: dict[str, Any] = {
            "bind": [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"],
            "workers": workers,
            "worker_class": f"{PixringWorker.__module__}.{PixringWorker.__qualname__}",
            "reuse_port": True,
            "backlog": 2048,
            "keepalive": 30,
            "graceful_timeout": math.ceil(a.graceful_timeout_seconds),  # gunicorn counts whole seconds
            "timeout": HEARTBEAT_TIMEOUT_S,
            "accesslog": None,
            "proc_name": "pixring-api",
            "control_socket_disable": True,  # one fixed path per user: two APIs (tests, the bench) would share it
            "on_starting": lambda _arbiter: board.clear(),  # no file of an earlier run counts
            "child_exit": lambda _arbiter, worker: board.drop(worker.pid),  # reaped: off the board
            "post_fork": lambda _arbiter, _worker: _die_with_parent(),
        }
        if a.tls:
            self.options |= {"certfile": str(a.tls_cert), "keyfile": str(a.tls_key)}
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from api.app import create_app

        return create_app(self.settings)


def _die_with_parent() -> None:
    """In a freshly forked worker: SIGTERM when the arbiter dies (Linux prctl ``PR_SET_PDEATHSIG``)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))
    if os.getppid() == 1:  # the arbiter died between the fork and the prctl
        os.kill(os.getpid(), signal.SIGTERM)


def serve(settings, host: str, port: int, workers: int) -> int:
    log.info("API: %d gunicorn/uvicorn workers on %s:%d (SO_REUSEPORT per worker)", workers, host, port)
    PixringGunicorn(settings, host, port, workers).run()  # the arbiter exits the process itself
    return 0

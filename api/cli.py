"""``pixring api``: serve the API with uvicorn (the latency benchmark is ``pixring bench api``)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from pixring.errors import PixringError

if TYPE_CHECKING:
    from api.workers import WorkerBoard

log = logging.getLogger(__name__)


def _cmd_api(args: argparse.Namespace) -> int:
    # One OpenMP thread per API process, set before the model loads the OpenMP runtime (it reads the variable
    # once, for every thread). scikit-learn predicts even a single row in an OpenMP region; waking a second
    # thread on this busy 2-core machine cost more than the prediction: one row from a request thread took
    # p50 5.3 / p99 18 ms with the default and 1.9 / 2.9 ms with one thread. Requests run in parallel instead.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import uvicorn

    from api.app import create_app
    from api.workers import WorkerBoard, WorkerServer
    from pixring.settings import get_settings

    settings = get_settings()
    host = args.host or settings.api.host
    port = args.port or settings.api.port
    workers = args.workers or settings.api.workers
    graceful = settings.api.graceful_timeout_seconds
    # access_log off: raw paths can hold a clear Pix key; the metrics middleware logs route templates only
    # log_config=None: uvicorn's own records go through pixring's handler (same format, with ``corr``)
    # timeout_graceful_shutdown: on SIGTERM requests in flight get this long, then they are cancelled
    common = {"access_log": False, "log_level": "info", "timeout_keep_alive": 30, "log_config": None,
              "timeout_graceful_shutdown": graceful}
    if settings.api.tls:  # HTTPS with PIXRING_API_TLS_CERT / _KEY (Python's default TLS context: 1.2 and up)
        common |= {"ssl_certfile": str(settings.api.tls_cert), "ssl_keyfile": str(settings.api.tls_key)}
    if args.reuse_port:  # one worker of a multi-worker API (below): its own socket on the shared port
        app = create_app(settings)
        board = WorkerBoard.for_port(settings.paths.run, port, workers)
        app.state.ctx.extra["workers"] = board  # /readyz counts every worker on it
        server = WorkerServer(uvicorn.Config(app, host=host, port=port, **common), board, app.state.ctx)
        sock = _bound_socket(host, port, reuse_port=True)
        sock.listen(2048)
        server.run(sockets=[sock])
        return 0
    if workers > 1:
        if port == 0:
            raise PixringError("--workers N needs a fixed port (with port 0 each worker would get its own)")
        _bound_socket(host, port, reuse_port=False).close()  # fails when anything, another API too, listens there
        if settings.api.server == "gunicorn":
            from api.gunicorn_server import serve

            return serve(settings, host, port, workers)
        board = WorkerBoard.for_port(settings.paths.run, port, workers)
        cmd = [sys.executable, "-m", "pixring.cli", "api", "--host", host, "--port", str(port),
               "--workers", str(workers), "--reuse-port"]
        log.info("API: %d worker processes on %s:%d (SO_REUSEPORT)", workers, host, port)
        return Supervisor(cmd, workers, board, graceful_s=graceful).run()
    uvicorn.run(create_app(settings), host=host, port=port, **common)
    return 0


def _bound_socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    """A TCP socket bound to ``host:port``; SO_REUSEADDR always (connections of an earlier run in TIME_WAIT
    do not count), SO_REUSEPORT for a worker (without it the bind fails when anything listens there)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PixringError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    return sock


class Supervisor:
    """``workers`` processes of ``cmd``, each an API worker listening on its own ``SO_REUSEPORT`` socket of the
    same port (``PIXRING_API_SERVER=supervisor``; gunicorn's arbiter does the same with ``reuse_port``,
    api/gunicorn_server.py; uvicorn's own ``workers=`` shares one socket, see docs/api.md).

    - A worker that exits while the API runs is replaced. One that exits with an error before it ever
      listened (a boot failure: bad settings, an import error) stops the API with its exit code instead of
      being restarted in a loop.
    - SIGTERM / SIGINT: every worker gets SIGTERM (even on Ctrl-C: a second SIGINT makes uvicorn skip
      draining), has ``graceful_s`` to finish its requests, and is killed ``KILL_MARGIN_S`` later if still alive.
    - A worker gets SIGTERM if the supervisor itself dies, whatever kills it (``PR_SET_PDEATHSIG``).
    """

    KILL_MARGIN_S = 5.0

    def __init__(self, cmd: list[str], workers: int, board: WorkerBoard, *, graceful_s: float,
                 poll_s: float = 0.2) -> None:
        self.cmd, self.workers, self.board = cmd, workers, board
        self.graceful_s, self.poll_s = graceful_s, poll_s
        self.children: list[subprocess.Popen] = []
        self.asked: list[int] = []
        self.replaced = 0
        self._termed: set[int] = set()
        self._preexec = _die_with_parent()

    def _spawn(self) -> subprocess.Popen:
        return subprocess.Popen(self.cmd, preexec_fn=self._preexec)

    def _stop_all(self) -> None:
        """SIGTERM, once, to every worker (a second one would cut a worker's shutdown short)."""
        for c in self.children:
            if c.pid in self._termed:
                continue
            self._termed.add(c.pid)
            if c.poll() is None:
                c.send_signal(signal.SIGTERM)

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.asked.append(signum)
        self._stop_all()

    def run(self) -> int:
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:  # the handlers are in place before the first worker exists: none is left behind
            self.board.clear()
            for _ in range(self.workers):
                if not self.asked:
                    self.children.append(self._spawn())
            log.info("API workers: pids %s", [c.pid for c in self.children])
            failed = self._watch()
            self._stop_all()
            self._reap()
        finally:
            for s, h in previous.items():
                signal.signal(s, h)
            for c in self.children:
                self.board.drop(c.pid)
        if failed is not None:
            return failed
        # uvicorn re-raises the signal it shut down on, so a stopped worker reports -SIGTERM (or 0)
        return 0 if all(c.returncode in (0, -signal.SIGTERM, -signal.SIGINT) for c in self.children) else 1

    def _watch(self) -> int | None:
        """Until asked to stop: replace workers that exit. The exit code to stop with on a boot failure."""
        while not self.asked:
            for i, c in enumerate(self.children):
                if self.asked or c.poll() is None:
                    continue
                listened = self.board.state(c.pid) is not None
                self.board.drop(c.pid)
                if not listened and c.returncode > 0:
                    log.error("API worker %d exited with %s before it listened: stopping the API", c.pid,
                              c.returncode)
                    return c.returncode
                self.children[i] = self._spawn()
                self.replaced += 1
                log.warning("API worker %d exited with %s: replaced by %d", c.pid, c.returncode,
                            self.children[i].pid)
            time.sleep(self.poll_s)
        return None

    def _reap(self) -> None:
        """Wait for every worker, ``graceful_s + KILL_MARGIN_S`` in all from now; SIGKILL those still alive."""
        deadline = time.monotonic() + self.graceful_s + self.KILL_MARGIN_S
        for c in self.children:
            try:
                c.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("API worker %d did not stop in %.0f s: killed", c.pid,
                            self.graceful_s + self.KILL_MARGIN_S)
                c.kill()
                c.wait()


def _die_with_parent() -> Callable[[], None]:
    """For a worker, run between fork and exec: SIGTERM when the supervisor dies, whatever kills it (Linux
    prctl). Resolved here, in the parent: the child runs one C call and imports nothing (a lock held by another
    thread at fork time would never be released in the child)."""
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig, sigterm = 1, int(signal.SIGTERM)

    def preexec() -> None:
        prctl(pr_set_pdeathsig, sigterm)

    return preexec


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("api", help="serve the FastAPI investigation and scoring API (uvicorn)")
    p.add_argument("--host", default=None, help="default settings.api.host")
    p.add_argument("--port", type=int, default=None, help="default settings.api.port")
    p.add_argument("--workers", type=int, default=None, help="processes (default settings.api.workers)")
    p.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)  # one worker of --workers N
    p.set_defaults(handler=_cmd_api)

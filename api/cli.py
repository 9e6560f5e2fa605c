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

from pixring.errors import PixringError

log = logging.getLogger(__name__)


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
    common = {"access_log": False, "log_level": "info", "timeout_keep_alive": 30, "log_config": None}
    if args.reuse_port:  # one worker of a multi-worker API (below): its own socket on the shared port
        server = uvicorn.Server(uvicorn.Config(create_app(settings), host=host, port=port, **common))
        sock = _bound_socket(host, port, reuse_port=True)
        sock.listen(2048)
        server.run(sockets=[sock])
        return 0
    if workers > 1:
        return _supervise(host, port, workers)
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


def _supervise(host: str, port: int, workers: int) -> int:
    """``workers`` API processes, each listening on its own ``SO_REUSEPORT`` socket of the same port.

    Why not uvicorn's ``workers=``: its processes share one listening socket, and each accepts every
    connection pending when it wakes, so a burst of keep-alive clients lands on one process (32 connections
    opened together: 32/0, 31/1, 26/6 in most tries) while the other idles. With one socket per process the
    kernel spreads connections across them by address hash. A process that exits stops the others (the
    service manager sees the API down, with that process's exit code); SIGTERM / SIGINT stop every worker
    (SIGTERM, 30 s, then SIGKILL); a worker gets SIGTERM if the supervisor itself dies.
    """
    if port == 0:
        raise PixringError("--workers N needs a fixed port (with port 0 each worker would get its own)")
    _bound_socket(host, port, reuse_port=False).close()  # fails when anything, another API too, listens there
    cmd = [sys.executable, "-m", "pixring.cli", "api", "--host", host, "--port", str(port), "--reuse-port"]
    children: list[subprocess.Popen] = []
    asked: list[int] = []

    def stop_all() -> None:
        for c in children:
            if c.poll() is None:
                c.send_signal(signal.SIGTERM)  # SIGTERM even on Ctrl-C: a second SIGINT makes uvicorn skip draining

    def on_signal(signum: int, _frame: object) -> None:
        asked.append(signum)
        stop_all()

    signal.signal(signal.SIGTERM, on_signal)  # before the first worker exists: none is left behind
    signal.signal(signal.SIGINT, on_signal)
    for _ in range(workers):
        if not asked:
            children.append(subprocess.Popen(cmd, preexec_fn=_die_with_parent))
    log.info("API: %d worker processes on %s:%d (SO_REUSEPORT), pids %s", len(children), host, port,
             [c.pid for c in children])
    while not asked and all(c.poll() is None for c in children):
        time.sleep(0.2)
    crashed = [c for c in children if c.poll() is not None] if not asked else []
    if crashed:
        log.error("API worker %d exited with %s: stopping the others", crashed[0].pid, crashed[0].returncode)
        stop_all()
    for c in children:
        try:
            c.wait(timeout=30)
        except subprocess.TimeoutExpired:
            log.warning("API worker %d did not stop in 30 s: killed", c.pid)
            c.kill()
            c.wait()
    if crashed:
        code = crashed[0].returncode
        return code if code > 0 else 1
    # uvicorn re-raises the signal it shut down on, so a stopped worker reports -SIGTERM (or 0)
    return 0 if all(c.returncode in (0, -signal.SIGTERM, -signal.SIGINT) for c in children) else 1


def _die_with_parent() -> None:
    """In a worker, before exec: SIGTERM when the supervisor dies, whatever kills it (Linux prctl)."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("api", help="serve the FastAPI investigation and scoring API (uvicorn)")
    p.add_argument("--host", default=None, help="default settings.api.host")
    p.add_argument("--port", type=int, default=None, help="default settings.api.port")
    p.add_argument("--workers", type=int, default=None, help="processes (default settings.api.workers)")
    p.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)  # one worker of --workers N
    p.set_defaults(handler=_cmd_api)

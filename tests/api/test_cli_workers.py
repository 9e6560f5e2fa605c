"""``pixring api --workers N``: N processes, each with its own SO_REUSEPORT socket, ready only when all are
(real processes, under the configured ``PIXRING_API_SERVER``: gunicorn by default); pixring's own supervisor's
replacement, boot-failure and graceful-timeout rules (fake workers)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import psutil
import pytest

from api.cli import Supervisor
from api.workers import WorkerBoard
from tests.helpers import free_port


def _readyz(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=5) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def _wait_ready(url: str, proc: subprocess.Popen, workers: int, timeout_s: float = 180.0) -> dict:
    """Until ``/readyz`` says 200 with every worker listening and ready (the state the tests need)."""
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"pixring api exited with {proc.returncode}"
        try:
            last = _readyz(url)
        except OSError as exc:  # not listening yet
            last = exc
        else:
            if last[0] == 200:
                w = last[1]["workers"]
                assert w == {"expected": workers, "listening": workers, "ready": workers}, last
                return last[1]
        time.sleep(0.2)
    raise AssertionError(f"{url}/readyz not ready in {timeout_s}s: {last}")


def _workers(proc: subprocess.Popen) -> list[psutil.Process]:
    return psutil.Process(proc.pid).children()


def _start(api_settings, tmp_path, name: str) -> tuple[subprocess.Popen, list[psutil.Process], int]:
    port = free_port()
    env = {**os.environ, "PIXRING_HOME": str(api_settings.paths.home), "PIXRING_API_PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "-m", "pixring.cli", "api", "--workers", "2"], env=env,
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"{name}.log", "w"),  # noqa: SIM115
                            start_new_session=True)
    _wait_ready(f"http://127.0.0.1:{port}", proc, 2)
    children = _workers(proc)
    assert len(children) == 2
    return proc, children, port


def _stop(proc: subprocess.Popen, children: list[psutil.Process]) -> None:
    proc.send_signal(signal.SIGTERM)  # the parent only: it passes the signal on
    assert proc.wait(timeout=60) == 0
    assert not psutil.wait_procs(children, timeout=10)[1]


@pytest.mark.neo4j
def test_workers_share_a_burst_of_connections_and_stop_together(api_settings, tmp_path) -> None:
    proc, children, port = _start(api_settings, tmp_path, "burst")
    try:
        # 32 keep-alive connections opened together (what a pool of clients does) once /readyz says both workers
        # listen: uvicorn's own workers= (one shared socket) put most or all of them on one process; here the
        # kernel spreads them over both sockets
        conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(32)]
        for c in conns:
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        for c in conns:
            assert c.recv(4096).startswith(b"HTTP/1.1 200")
        per_child = [sum(1 for k in psutil.Process(ch.pid).net_connections("tcp")
                         if k.status == psutil.CONN_ESTABLISHED and k.laddr.port == port) for ch in children]
        for c in conns:
            c.close()
        assert sum(per_child) == 32 and min(per_child) > 0, per_child
        _stop(proc, children)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def _cli(api_settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PIXRING_HOME": str(api_settings.paths.home)}
    return subprocess.run([sys.executable, "-m", "pixring.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def _answers_by_worker(port: int, token: str, children: list[psutil.Process], n: int = 40) -> dict[int, set[int]]:
    """``n`` requests, each on a new connection, with ``token``: worker pid -> the statuses it answered."""
    out: dict[int, set[int]] = {}
    for _ in range(n):
        with socket.create_connection(("127.0.0.1", port)) as c:
            c.sendall(f"GET /v1/rings HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
            status = int(c.recv(4096).split(b" ", 2)[1])
            mine = c.getsockname()[1]  # the connection is still open: find the worker holding its other end
            pid = next(ch.pid for ch in children for k in psutil.Process(ch.pid).net_connections("tcp")
                       if k.raddr and k.raddr.port == mine and k.laddr.port == port)
        out.setdefault(pid, set()).add(status)
    return out


@pytest.mark.neo4j
def test_a_revoked_token_is_refused_by_every_worker(api_settings, tmp_path) -> None:
    minted = [_cli(api_settings, "token", "--subject", f"ana{i}@banco", "--role", "investigator") for i in (1, 2)]
    assert all(m.returncode == 0 for m in minted), [m.stderr for m in minted]
    (revoked, kept), jti = (m.stdout.strip() for m in minted), minted[0].stderr.split("jti ", 1)[1].split()[0]
    proc, children, port = _start(api_settings, tmp_path, "revoke")
    try:
        before = _answers_by_worker(port, revoked, children)
        assert set(before) == {c.pid for c in children} and all(v == {200} for v in before.values()), before
        r = _cli(api_settings, "token", "--revoke", jti)
        assert r.returncode == 0 and r.stdout.strip() == f"revoked {jti}", r.stderr
        after = _answers_by_worker(port, revoked, children)
        assert set(after) == {c.pid for c in children} and all(v == {401} for v in after.values()), after
        # the other token of the same role still works everywhere; revoking by the token itself works too
        assert all(v == {200} for v in _answers_by_worker(port, kept, children).values())
        r = _cli(api_settings, "token", "--revoke", kept)
        assert r.returncode == 0 and r.stdout.startswith("revoked "), r.stderr
        assert all(v == {401} for v in _answers_by_worker(port, kept, children).values())
        assert _cli(api_settings, "token", "--revoke", jti).stdout.strip() == f"{jti} was already revoked"
        listed = api_settings.paths.home / "auth" / "revoked-jti"
        assert listed.stat().st_mode & 0o077 == 0 and len(listed.read_text().splitlines()) == 2
        _stop(proc, children)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.neo4j
def test_a_dead_worker_is_replaced_and_a_dead_supervisor_takes_its_workers(api_settings, tmp_path) -> None:
    proc, children, port = _start(api_settings, tmp_path, "crash")
    url = f"http://127.0.0.1:{port}"
    try:
        children[0].kill()
        children[0].wait(timeout=10)  # gone (the supervisor reaps it: psutil cannot give a non-child's code)
        deadline = time.monotonic() + 180
        while len({c.pid for c in _workers(proc)} - {children[0].pid}) < 2:  # the replacement exists
            assert time.monotonic() < deadline and proc.poll() is None, "no replacement"
            time.sleep(0.2)
        _wait_ready(url, proc, 2)  # and listens: the API is whole again, the supervisor never stopped
        now = _workers(proc)
        assert len(now) == 2 and children[1].pid in {c.pid for c in now}
        _stop(proc, now)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    proc, children, _ = _start(api_settings, tmp_path, "orphans")
    try:
        proc.kill()  # the supervisor only, and with no chance to pass anything on
        proc.wait(timeout=10)
        assert not psutil.wait_procs(children, timeout=30)[1]  # PR_SET_PDEATHSIG: they got SIGTERM
    finally:
        for ch in children:
            if ch.is_running():
                ch.kill()


def test_a_taken_port_is_a_clear_error(api_settings) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        env = {**os.environ, "PIXRING_HOME": str(api_settings.paths.home)}
        r = subprocess.run([sys.executable, "-m", "pixring.cli", "api", "--workers", "2", "--port", str(port)],
                           env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in r.stderr


@pytest.mark.neo4j
@pytest.mark.mlflow
def test_readyz_counts_every_worker_on_the_board(client, live_api, tmp_path) -> None:
    ctx = live_api.app.state.ctx
    board = WorkerBoard(tmp_path / "board", 2)
    board.clear()
    board.mark(101, "ready")
    board.mark(102, "listening")  # listens, read model still loading
    ctx.extra["workers"] = board
    try:
        r = client.get("/readyz")
        assert r.status_code == 503 and r.json()["workers"] == {"expected": 2, "listening": 2, "ready": 1}
        board.mark(102, "ready")
        r = client.get("/readyz")
        assert r.status_code == 200 and r.json()["workers"] == {"expected": 2, "listening": 2, "ready": 2}
        board.drop(101)  # reaped by the supervisor: its replacement is not there yet
        r = client.get("/readyz")
        assert r.status_code == 503 and r.json()["workers"] == {"expected": 2, "listening": 1, "ready": 1}
    finally:
        del ctx.extra["workers"]
    r = client.get("/readyz")  # one process alone answers for itself
    assert r.status_code == 200 and r.json()["workers"] == {"expected": 1, "listening": 1, "ready": 1}


# --- the supervisor's rules, with fake workers (real processes, no API) ------------------------------------

def _fake_worker(board: WorkerBoard, *, on_term: str) -> list[str]:
    """A worker that puts itself on the board as ready, then on SIGTERM exits 0 or ignores it."""
    handler = "signal.SIG_IGN" if on_term == "ignore" else "lambda *_: sys.exit(0)"
    code = (f"import os, signal, sys, time; signal.signal(signal.SIGTERM, {handler}); "
            f"from api.workers import WorkerBoard; WorkerBoard({str(board.directory)!r}, 2).mark(os.getpid(), "
            "'ready'); time.sleep(600)")
    return [sys.executable, "-c", code]


def _sigterm_when(sup: Supervisor, condition, timeout_s: float = 60.0) -> threading.Thread:
    """SIGTERM to this process, where ``sup`` runs in the main thread, once ``condition()`` (or after
    ``timeout_s``: the test's assertions then fail) and only while ``sup`` handles SIGTERM."""

    def run() -> None:
        deadline = time.monotonic() + timeout_s
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.05)
        if signal.getsignal(signal.SIGTERM) == sup._on_signal:
            os.kill(os.getpid(), signal.SIGTERM)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_a_worker_that_fails_before_it_listens_stops_the_supervisor_with_its_code(tmp_path) -> None:
    board = WorkerBoard(tmp_path / "board", 2)
    sup = Supervisor([sys.executable, "-c", "raise SystemExit(3)"], 2, board, graceful_s=1, poll_s=0.05)
    assert sup.run() == 3  # a boot failure is not restarted in a loop
    assert sup.replaced == 0 and all(c.returncode is not None for c in sup.children)
    assert board.counts() == {"expected": 2, "listening": 0, "ready": 0}


def test_a_worker_that_ignores_sigterm_is_killed_after_the_graceful_timeout(tmp_path) -> None:
    board = WorkerBoard(tmp_path / "board", 2)
    sup = Supervisor(_fake_worker(board, on_term="ignore"), 2, board, graceful_s=0.5, poll_s=0.05)
    sup.KILL_MARGIN_S = 0.5
    _sigterm_when(sup, lambda: board.counts()["ready"] == 2)
    t0 = time.monotonic()
    assert sup.run() == 1  # killed workers: not a clean stop
    assert time.monotonic() - t0 >= 1.0
    assert [c.returncode for c in sup.children] == [-signal.SIGKILL] * 2
    assert board.counts()["listening"] == 0  # the supervisor takes reaped workers off the board


def test_a_worker_that_exits_after_it_listened_is_replaced(tmp_path) -> None:
    board = WorkerBoard(tmp_path / "board", 2)
    sup = Supervisor(_fake_worker(board, on_term="exit"), 2, board, graceful_s=5, poll_s=0.05)
    first: list[int] = []

    def killed_one_and_replaced() -> bool:
        if not first and board.counts()["ready"] == 2:
            first.append(sup.children[0].pid)
            os.kill(first[0], signal.SIGKILL)
        return bool(first) and sup.replaced == 1 and board.counts()["ready"] == 2

    _sigterm_when(sup, killed_one_and_replaced)
    assert sup.run() == 0  # stopped on SIGTERM: the workers exited 0
    assert sup.replaced == 1 and first[0] not in {c.pid for c in sup.children}
    assert [c.returncode for c in sup.children] == [0, 0]

"""``pixring api --workers N``: N processes, each with its own SO_REUSEPORT socket (real processes)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import psutil

from tests.api.conftest import _free_port


def _wait_healthy(url: str, proc: subprocess.Popen, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"pixring api exited with {proc.returncode}"
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url}/healthz did not answer in {timeout_s}s")


def _start(api_settings, tmp_path, name: str) -> tuple[subprocess.Popen, list[psutil.Process], int]:
    port = _free_port()
    env = {**os.environ, "PIXRING_HOME": str(api_settings.paths.home), "PIXRING_API_PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "-m", "pixring.cli", "api", "--workers", "2"], env=env,
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"{name}.log", "w"),  # noqa: SIM115
                            start_new_session=True)
    _wait_healthy(f"http://127.0.0.1:{port}", proc)
    children = psutil.Process(proc.pid).children()
    assert len(children) == 2
    return proc, children, port


def test_workers_share_a_burst_of_connections_and_stop_together(api_settings, tmp_path) -> None:
    proc, children, port = _start(api_settings, tmp_path, "burst")
    try:
        # 32 keep-alive connections opened together (what a pool of clients does): uvicorn's own workers= put
        # most or all of them on one process; here the kernel spreads them over both sockets
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
        proc.send_signal(signal.SIGTERM)  # the parent only: it passes the signal on
        assert proc.wait(timeout=30) == 0
        gone, alive = psutil.wait_procs(children, timeout=10)
        assert not alive
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_a_dead_worker_stops_the_api_and_a_dead_supervisor_its_workers(api_settings, tmp_path) -> None:
    proc, children, _ = _start(api_settings, tmp_path, "crash")
    try:
        children[0].kill()
        assert proc.wait(timeout=40) == 1  # not 0: the service manager sees the API down
        assert not psutil.wait_procs(children, timeout=10)[1]
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

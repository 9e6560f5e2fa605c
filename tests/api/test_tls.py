"""``pixring api`` serves HTTPS when ``PIXRING_API_TLS_CERT`` / ``_KEY`` are set (the real CLI, a self-signed
certificate made with openssl, a free port); plain HTTP on that port gets no answer."""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import subprocess
import sys
import time

import pytest
from tests.helpers import free_port

pytestmark = [pytest.mark.slow]


def test_api_over_https(tmp_path) -> None:
    cert, key = tmp_path / "api.crt", tmp_path / "api.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=pixring",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PIXRING_")},
           "PIXRING_HOME": str(tmp_path / "home"), "PIXRING_API_TLS_CERT": str(cert), "PIXRING_API_TLS_KEY": str(key),
           "PIXRING_API_GRAPH_PROJECTION": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "pixring.cli", "api", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ctx = ssl.create_default_context(cafile=str(cert))
    try:
        deadline, status = time.monotonic() + 120, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=5)
                conn.request("GET", "/healthz")
                status = conn.getresponse().status
                conn.close()
                break
            except OSError:
                time.sleep(0.5)
        assert status == 200, proc.stderr.read().decode()[-2000:] if proc.poll() is not None else "no answer"
        # the handshake verified the certificate against the one the API was given; TLS 1.2 or 1.3
        with socket.create_connection(("127.0.0.1", port)) as raw, ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            assert s.version() in ("TLSv1.2", "TLSv1.3")
        # plain HTTP: no HTTP answer
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        with pytest.raises((http.client.HTTPException, OSError)):
            conn.request("GET", "/healthz")
            conn.getresponse()
    finally:
        proc.terminate()
        proc.wait(timeout=60)

"""A local certificate authority and the server certificates it signs, made with ``openssl`` (and a PKCS#12
keystore for a JVM service), for the TLS listeners ``pixring up`` can start on a laptop.

Everything lives in one folder under the data root (``$PIXRING_HOME/<service>/tls``, 0700, files 0600):
``ca.pem`` (what clients trust; ``PIXRING_KAFKA_SSL_CA_LOCATION``), ``ca.key``, ``server.pem`` / ``server.key``
(SANs: ``localhost``, ``127.0.0.1``, ``::1`` and the service's host), ``server.p12`` and its password in
``server.p12.pass``. Made once, reused on every start; delete the folder to mint new ones. On a cluster the
certificates come from the bank's PKI and none of this runs.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pixring.errors import PixringError

log = logging.getLogger(__name__)

#: validity of the local CA and server certificates, days
DAYS = 825


@dataclass(frozen=True)
class ServerTls:
    """The files of one service's TLS listener."""

    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def cert(self) -> Path:
        return self.directory / "server.pem"

    @property
    def key(self) -> Path:
        return self.directory / "server.key"

    @property
    def keystore(self) -> Path:
        return self.directory / "server.p12"

    @property
    def keystore_password(self) -> str:
        return (self.directory / "server.p12.pass").read_text().strip()


def _openssl(*args: str, cwd: Path) -> None:
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise PixringError(f"openssl {args[0]} failed (exit {r.returncode}): {r.stderr.strip()[-300:]}")


def _san(hosts: tuple[str, ...]) -> str:
    names = []
    for h in dict.fromkeys(("localhost", "127.0.0.1", "::1", *hosts)):
        try:
            ipaddress.ip_address(h)
            names.append(f"IP:{h}")
        except ValueError:
            names.append(f"DNS:{h}")
    return ",".join(names)


def ensure_server_tls(directory: Path, common_name: str, hosts: tuple[str, ...] = ()) -> ServerTls:
    """The CA and a server certificate for ``hosts`` in ``directory``, made now unless they exist."""
    tls = ServerTls(directory)
    if tls.keystore.exists() and tls.ca.exists():
        return tls
    old = os.umask(0o077)
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        d = directory
        _openssl("req", "-x509", "-newkey", "rsa:3072", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
                 "-days", str(DAYS), "-subj", f"/CN=pixring local CA ({common_name})",
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                 cwd=d)
        _openssl("req", "-newkey", "rsa:3072", "-nodes", "-keyout", "server.key", "-out", "server.csr",
                 "-subj", f"/CN={common_name}", cwd=d)
        (d / "server.ext").write_text(f"subjectAltName={_san(hosts)}\nextendedKeyUsage=serverAuth\n"
                                      "keyUsage=critical,digitalSignature,keyEncipherment\n")
        _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", "server.pem", "-days", str(DAYS), "-sha256", "-extfile", "server.ext", cwd=d)
        password = secrets.token_urlsafe(24)
        (d / "server.p12.pass").write_text(password)
        _openssl("pkcs12", "-export", "-in", "server.pem", "-inkey", "server.key", "-certfile", "ca.pem",
                 "-name", common_name, "-out", "server.p12.tmp", "-passout", f"file:{d / 'server.p12.pass'}",
                 cwd=d)
        (d / "server.p12.tmp").replace(tls.keystore)
        for name in ("server.csr", "server.ext", "ca.srl"):
            (d / name).unlink(missing_ok=True)
    finally:
        os.umask(old)
    log.info("made a local CA and a TLS certificate for %s in %s", common_name, directory)
    return tls

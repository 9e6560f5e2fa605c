"""PII in the API: key tokens, masking, the audited clear-PII lookup into bronze, and the audit log.

Silver, gold and Neo4j hold only HMAC tokens and masked names; clear PII exists only in bronze. The
``investigator_pii`` role reads it *at request time* from ``bronze/usuarios`` (latest record of the user),
never caches it, and every such read appends one JSON line to ``$PIXRING_HOME/logs/api-audit.log``. An LGPD
erasure (``pixring erase``) removes the person from bronze, so the API stops returning them at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

log = logging.getLogger(__name__)

TOKEN_RE = re.compile(r"^[0-9a-f]{64}$")
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_DOC_RE = re.compile(r"^[0-9./\- ]+$")
PII_FIELDS = ("nome", "cpf_cnpj", "email", "telefone")


def canonical_key(value: str) -> str:
    """The canonical form of a Pix key, as silver tokenises it (``lakehouse.transforms.conform.pix_key``)."""
    v = value.strip()
    d = re.sub(r"[^0-9]", "", v)
    if "@" in v or _UUID_RE.match(v.lower()):
        return v.lower()
    if v.startswith("+"):
        return "+" + d
    if _DOC_RE.match(v) and len(d) in (11, 14):
        return d
    return v


def key_token(value: str, secret: SecretStr) -> str:
    """A key as its silver token: a 64-hex token is returned as is, a clear key is canonicalised and HMAC'd."""
    v = value.strip()
    if TOKEN_RE.match(v):
        return v
    key = secret.get_secret_value().encode("utf-8")
    return hmac.new(key, canonical_key(v).encode("utf-8"), hashlib.sha256).hexdigest()


def clear_user(bronze_root: Path, id_usuario: str) -> dict[str, Any] | None:
    """The latest bronze ``usuarios`` record of one user (clear PII), or None when absent/erased."""
    from deltalake import DeltaTable

    path = bronze_root / "usuarios"
    if not (path / "_delta_log").is_dir():
        return None
    import pyarrow.compute as pc

    ds = DeltaTable(str(path)).to_pyarrow_dataset()
    cols = [c for c in ("id_usuario", *PII_FIELDS, "_ingested_at") if c in ds.schema.names]
    rows = ds.to_table(columns=cols, filter=pc.field("id_usuario") == id_usuario).to_pylist()
    if not rows:
        return None
    latest = max(rows, key=lambda r: r.get("_ingested_at") or datetime.min.replace(tzinfo=UTC))
    return {k: latest.get(k) for k in PII_FIELDS}


class AuditLog:
    """Append-only JSON lines: who (role, subject: a JWT's person or ``static:<role>``, token fingerprint) read
    which person's clear PII or looked a clear value up, when, through what.

    The entry holds ids and tokens (pseudonymous) and field names, never the PII values. The file is 0600
    (the process umask, :mod:`pixring.security`).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def write(self, *, role: str, subject: str, token: str, action: str, resource: str, fields: tuple[str, ...],
              found: bool, request_id: str) -> None:
        entry = {"ts": datetime.now(UTC).isoformat(), "role": role, "subject": subject, "token": token,
                 "action": action, "resource": resource, "fields": list(fields), "found": found,
                 "request_id": request_id}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(entry, sort_keys=True)
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")

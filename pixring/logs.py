"""Structured logs with correlation ids, configured once by the CLI (:func:`configure`).

Every log record carries ``corr``, the correlation id of the work it belongs to: an API request (its
``X-Request-ID``, also in the response and in the PII audit log), a micro-batch of the stream
(``scorer-b<epoch>``), or one CLI command (``cli-<command>-<hex>``). ``PIXRING_LOG_FORMAT=json`` writes
one JSON object per line (``ts``, ``level``, ``logger``, ``corr``, ``msg``, ``exc``); ``text`` (the default
on a terminal) writes the same fields as a line. Services started by ``pixring up`` log JSON.

Nothing here logs values: callers keep secrets and PII out of their messages (see docs/observability.md).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

#: the correlation id of the current request / batch / command ("-" outside any)
correlation_id: ContextVar[str] = ContextVar("pixring_correlation_id", default="-")

#: what an incoming ``X-Request-ID`` may be (anything else is replaced, never logged)
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(corr)s]: %(message)s"
NOISY = ("py4j", "urllib3", "neo4j", "httpx")

_factory_installed = False


def new_id(prefix: str = "") -> str:
    """A fresh correlation id (16 hex digits, after ``prefix`` when given)."""
    return f"{prefix}{uuid.uuid4().hex[:16]}"


def valid_or_new(candidate: str | None) -> str:
    """``candidate`` when it is a safe id (letters, digits, ``._:-``, at most 64), else a new one."""
    return candidate if candidate and _VALID_ID.match(candidate) else new_id()


@contextmanager
def bind(cid: str) -> Iterator[str]:
    """Run a block under correlation id ``cid`` (threads started inside do not inherit it)."""
    token = correlation_id.set(cid)
    try:
        yield cid
    finally:
        correlation_id.reset(token)


def install_record_factory() -> None:
    """Stamp ``corr`` on every record at creation, whatever handler sees it (idempotent)."""
    global _factory_installed
    if _factory_installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.corr = correlation_id.get()
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``ts`` (UTC, ISO), ``level``, ``logger``, ``corr``, ``msg`` [, ``exc``]."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "corr": getattr(record, "corr", "-"),
            "msg": record.getMessage(),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure(verbose: bool = False, fmt: str = "text", stream=None) -> None:
    """The process's logging: one stderr handler, ``text`` or ``json``, ``corr`` on every record."""
    if fmt not in ("text", "json"):
        raise ValueError(f"log format must be text or json, not {fmt!r}")
    install_record_factory()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)

"""Parse and validate one ``pix.transacoes`` record against :data:`streaming.schemas.TRANSACTION_MESSAGE`.

Pure Python (no Spark, no state): the scorer runs it on the driver over each micro-batch, and it runs as it
is inside a Spark Python operator (``mapInPandas`` / ``applyInPandasWithState``). A record either becomes a
:class:`Tx` (keys conformed exactly as silver conforms them, still in clear: the caller tokenises them at
once) or a reason code ``"<code>"`` / ``"<code>:<field>"`` for the DLQ. Nothing raises, whatever the bytes.

Before anything reaches a sink: the value is at most ``max_bytes`` long, UTF-8 JSON (RFC 8259: no ``NaN``),
``id_transacao`` follows the contract's id rule (:func:`pixring.contract.is_valid_id`: no quote, backslash,
space or control character ever gets further), and the event time is not after ``not_after`` (the caller's
clock plus its tolerance). Lateness against the feature state's watermark is the caller's check
(:meth:`streaming.features.ReceiptState.is_late`): it needs the state.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime

import orjson

from pixring.contract import STATUS_TRANSACAO, SUPPORTED_SCHEMA_VERSIONS, TIPO_TRANSACAO, is_valid_id
from streaming.schemas import TRANSACTION_MESSAGE

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_EMAIL = re.compile(r"^[a-z0-9._%+\-]+@[a-z0-9.\-]+\.[a-z]{2,}$")
_PHONE = re.compile(r"^\+55[1-9]{2}[0-9]{8,9}$")
_DOC_CHARS = re.compile(r"^[0-9./\- ]+$")
_NON_DIGIT = re.compile(r"[^0-9]")
_TS_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S")
MAX_EMAIL_KEY = 77
MAX_VALOR = 1e13
#: default longest value accepted (``PIXRING_STREAMING_MAX_MESSAGE_BYTES``); a schema-1 record is ~300 bytes
MAX_MESSAGE_BYTES = 65_536

_STRING_FIELDS = tuple(f.name for f in TRANSACTION_MESSAGE.fields if f.dataType.typeName() == "string")
_REQUIRED = tuple(f.name for f in TRANSACTION_MESSAGE.fields)


@dataclass(frozen=True)
class Tx:
    """A valid transaction; ``origem``/``destino`` are canonical CLEAR keys (tokenise before writing)."""

    id_transacao: str
    timestamp: datetime
    valor: float
    origem: str
    destino: str
    tipo_transacao: str
    status: str


def canonical_key(v: str) -> str:
    """The canonical form of a Pix key (same rules as :func:`lakehouse.transforms.conform.pix_key`)."""
    v = v.strip()
    low = v.lower()
    digits = _NON_DIGIT.sub("", v)
    if "@" in v or _UUID.match(low):
        return low
    if v.startswith("+"):
        return "+" + digits
    if _DOC_CHARS.match(v) and len(digits) in (11, 14):
        return digits
    return v


def _check_digit(d: str, weights: range | tuple[int, ...]) -> int:
    r = sum(int(c) * w for c, w in zip(d, weights)) % 11
    return 0 if r < 2 else 11 - r


def _valid_cpf(d: str) -> bool:
    return (len(d) == 11 and d.isdigit() and len(set(d)) > 1
            and _check_digit(d, range(10, 1, -1)) == int(d[9]) and _check_digit(d, range(11, 1, -1)) == int(d[10]))


def _valid_cnpj(d: str) -> bool:
    w1 = (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
    return (len(d) == 14 and d.isdigit() and len(set(d)) > 1
            and _check_digit(d, w1) == int(d[12]) and _check_digit(d, (6, *w1)) == int(d[13]))


def key_type(canonical: str) -> str | None:
    """cpf | cnpj | email | telefone | aleatoria for a well-formed canonical key, else None."""
    if _valid_cpf(canonical):
        return "cpf"
    if _valid_cnpj(canonical):
        return "cnpj"
    if _EMAIL.match(canonical) and len(canonical) <= MAX_EMAIL_KEY:
        return "email"
    if _PHONE.match(canonical):
        return "telefone"
    if _UUID.match(canonical):
        return "aleatoria"
    return None


#: raw key -> canonical key memo entries kept (least recently used dropped first)
KEY_CACHE = 500_000


@lru_cache(maxsize=KEY_CACHE)
def valid_key(raw: str) -> str | None:
    """The canonical form of a well-formed Pix key, else None (memoised: a few keys make most traffic)."""
    canon = canonical_key(raw)
    return canon if key_type(canon) is not None else None


def _parse_ts(v: str) -> datetime | None:
    # fast path: the zero-padded form every producer writes (fromisoformat is C, strptime ~20 us)
    if len(v) == 19 and v[10] in "T " and v[4] == v[7] == "-" and v[13] == v[16] == ":":
        try:
            ts = datetime.fromisoformat(v)
        except ValueError:
            ts = None
        if ts is not None and ts.tzinfo is None:
            return ts
    for fmt in _TS_FORMATS:
        try:
            return datetime.strptime(v, fmt)
        except ValueError:
            continue
    return None


def parse_record(value: bytes | None, max_field_chars: int = 512, *, max_bytes: int = MAX_MESSAGE_BYTES,
                 not_after: datetime | None = None) -> Tx | str:
    """A :class:`Tx`, or the DLQ reason why ``value`` is not a valid schema-1 transaction.

    ``not_after``: latest event time accepted (naive local time, like the record's); None: no bound.
    """
    if not value:
        return "valor_vazio"
    if len(value) > max_bytes:
        return "mensagem_grande"
    try:
        doc = orjson.loads(value)  # UTF-8 JSON (RFC 8259); NaN/Infinity literals are not JSON
    except (UnicodeDecodeError, ValueError, RecursionError):
        try:
            bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return "utf8_invalido"
        return "json_invalido"
    if not isinstance(doc, dict):
        return "nao_objeto"
    version = doc.get("schema_version")
    if version is None:
        return "versao_ausente"
    if isinstance(version, bool) or not isinstance(version, int) or version not in SUPPORTED_SCHEMA_VERSIONS:
        return "versao_desconhecida"
    for name in _REQUIRED:
        if doc.get(name) is None:
            return f"campo_ausente:{name}"
    for name in _STRING_FIELDS:
        v = doc[name]
        if not isinstance(v, str):
            return f"tipo_invalido:{name}"
        if not v.strip():
            return f"campo_ausente:{name}"
        if len(v) > max_field_chars:
            return f"campo_longo:{name}"
    valor = doc["valor"]
    if isinstance(valor, bool) or not isinstance(valor, (int, float)):
        return "tipo_invalido:valor"
    valor = float(valor)
    if not math.isfinite(valor) or valor <= 0 or valor >= MAX_VALOR or abs(valor * 100 - round(valor * 100)) > 1e-6:
        return "valor_invalido:valor"
    id_tx = doc["id_transacao"].strip(" ")  # spaces only, as silver's trim: "TX1\n" is not "TX1"
    if not is_valid_id(id_tx):
        return "id_invalido:id_transacao"
    ts = _parse_ts(doc["timestamp"].strip())
    if ts is None:
        return "timestamp_invalido:timestamp"
    if not_after is not None and ts > not_after:
        return "timestamp_futuro:timestamp"
    keys = {}
    for name in ("chave_pix_origem", "chave_pix_destino"):
        canon = valid_key(doc[name])
        if canon is None:
            return f"chave_invalida:{name}"
        keys[name] = canon
    tipo, status = doc["tipo_transacao"].strip(), doc["status"].strip()
    if tipo not in TIPO_TRANSACAO:
        return "enum_desconhecido:tipo_transacao"
    if status not in STATUS_TRANSACAO:
        return "enum_desconhecido:status"
    return Tx(id_tx, ts, round(valor, 2), keys["chave_pix_origem"],
              keys["chave_pix_destino"], tipo, status)

"""The online store: what inline scoring needs per Pix key, written by the stream, read by ``POST /v1/score``.

Redis (``pixring up`` runs one on loopback with a password and persistence; a remote one from
:class:`pixring.settings.RedisSettings`). The stream (:mod:`streaming.online_sink`) writes each micro-batch,
the API (:mod:`api.scoring`) reads one pipeline per request. This module is the contract both sides share:
the key layout, the encoding, the factory and the pure conversions. It imports no stage.

Key layout (``<token>`` is a key's HMAC token, never a clear key; :data:`PREFIX` versions the layout):

``pixring:v1:r:<token>``  sorted set, the key's *receipts* (:data:`pixring.features.Receipt`): one member per
                          transaction paying the key, any status; member ``id \\x1f origin token \\x1f valor \\x1f
                          effective(0|1)``, score = event instant in epoch seconds (UTC, ``ts_us / 1e6``, the
                          same double as :func:`pixring.features.event_seconds` of the naive UTC time). Members of
                          one instant sort by id (Redis orders ties by member), as the features' receipts do.
                          Trimmed to the last hour + watermark of event time at each write; TTL
                          ``receipts_ttl_seconds`` after its last write.
``pixring:v1:k:<token>``  hash, the key's owner and gold values: ``u`` owner ``id_usuario``, ``s`` the owner's
                          GNN score, ``rr`` the riskiest ring's ``risco`` of the owner (written when the key was
                          a destination), ``cad`` the key's ``data_cadastro`` in epoch microseconds (written when
                          known). TTL ``keys_ttl_seconds``.

Writes are idempotent (ZADD of the same member, HSET of the same values): a replayed micro-batch writes the
same state. A read of the window ``[T - 1 h, T)`` returns exactly the receipts
:func:`pixring.features.window_features` counts, so features from the store equal the definition's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from pixring.features import EPOCH, WINDOW_1H_S, Receipt, is_effective
from pixring.settings import RedisSettings, Settings

PREFIX: Final[str] = "pixring:v1:"
SEP: Final[str] = "\x1f"
#: hash fields of a key entry
OWNER, SCORE, RING_RISK, CADASTRO = "u", "s", "rr", "cad"

#: the columns a frame handed to the writer carries (``ts_us``: event instant, epoch microseconds UTC)
WRITE_COLUMNS: Final[tuple[str, ...]] = (
    "id_transacao", "ts_us", "chave_pix_origem", "chave_pix_destino", "valor", "status",
    "id_usuario_origem", "id_usuario_destino", "score_origem", "score_destino", "risco_anel_destino",
    "idade_chave_destino_h",
)

Op = tuple[Any, ...]  # (redis method name, *args)


def receipts_key(token: str) -> str:
    return f"{PREFIX}r:{token}"


def key_key(token: str) -> str:
    return f"{PREFIX}k:{token}"


def encode_receipt(id_tx: str, origin: str | None, valor: float, effective: bool) -> str:
    return SEP.join((id_tx, origin or "", repr(float(valor)), "1" if effective else "0"))


def decode_receipt(member: str | bytes, score: float) -> Receipt:
    if isinstance(member, bytes):
        member = member.decode("utf-8")
    id_tx, origin, valor, eff = member.split(SEP)
    return (float(score), id_tx, origin or None, float(valor), eff == "1")


def epoch_us(ts: datetime) -> int:
    """A naive UTC datetime as epoch microseconds (exact)."""
    return (ts - EPOCH) // timedelta(microseconds=1)


def client(settings: Settings | RedisSettings, *, timeout: float | None = None, asyncio: bool = False, **kwargs: Any):
    """A Redis client of the online store (``redis.asyncio`` with ``asyncio=True``); hiredis parses when present.

    ``timeout``: socket connect/read timeout in seconds (default: the store's write timeout). The password comes
    from settings, never from the URL. Also the factory for other users of the same Redis (e.g. a shared rate
    limit): use a key prefix of your own, not :data:`PREFIX`.
    """
    if asyncio:
        import redis.asyncio as redis_mod
    else:
        import redis as redis_mod

    r = getattr(settings, "redis", settings)
    t = r.write_timeout_seconds if timeout is None else timeout
    common: dict[str, Any] = {"password": r.password.get_secret_value(), "username": r.username,
                              "socket_timeout": t, "socket_connect_timeout": t, "decode_responses": True,
                              "health_check_interval": 30, **kwargs}
    if r.url:
        return redis_mod.Redis.from_url(r.url, **common)
    return redis_mod.Redis(host=r.host, port=r.port, db=r.db, ssl=r.tls, **common)


# ------------------------------------------------------------------------------------------- writing
def _num(v: Any) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


def write_ops(rows: Iterable[dict[str, Any]], *, watermark_seconds: float, receipts_ttl: int,
              keys_ttl: int) -> list[Op]:
    """The Redis commands that write ``rows`` (dicts with :data:`WRITE_COLUMNS`), idempotent, in order.

    Per row: the receipt into the destination's sorted set; the destination's owner, score, ring risk and (when
    ``idade_chave_destino_h`` > 0) creation time, and the origin's owner and score, into their hashes (the last
    row of the batch wins). Then each touched sorted set is trimmed to the batch's newest instant minus
    1 h + watermark and every touched entry gets its TTL.
    """
    zadds: dict[str, dict[str, float]] = {}
    hashes: dict[str, dict[str, str]] = {}
    newest = -math.inf
    for row in rows:
        id_tx, dest, ts_us = _str(row.get("id_transacao")), _str(row.get("chave_pix_destino")), row.get("ts_us")
        if id_tx is None or dest is None or ts_us is None:
            continue
        t = int(ts_us) / 1e6
        newest = max(newest, t)
        origin = _str(row.get("chave_pix_origem"))
        member = encode_receipt(id_tx, origin, float(row["valor"]), is_effective(row.get("status")))
        zadds.setdefault(receipts_key(dest), {})[member] = t
        d_user = _str(row.get("id_usuario_destino"))
        if d_user is not None:
            h = hashes.setdefault(key_key(dest), {})
            h[OWNER] = d_user
            h[SCORE] = repr(_num(row.get("score_destino")) or 0.0)
            h[RING_RISK] = repr(_num(row.get("risco_anel_destino")) or 0.0)
            age = _num(row.get("idade_chave_destino_h"))
            if age is not None and age > 0:  # 0 is also a clamped future creation: not recoverable
                h[CADASTRO] = str(int(ts_us) - round(age * 3600.0 * 1e6))
        o_user = _str(row.get("id_usuario_origem"))
        if origin is not None and o_user is not None:
            h = hashes.setdefault(key_key(origin), {})
            h[OWNER] = o_user
            h[SCORE] = repr(_num(row.get("score_origem")) or 0.0)
    ops: list[Op] = []
    horizon = newest - WINDOW_1H_S - watermark_seconds
    for key, mapping in zadds.items():
        ops.append(("zadd", key, mapping))
        ops.append(("zremrangebyscore", key, "-inf", f"({horizon!r}"))
        ops.append(("expire", key, receipts_ttl))
    for key, mapping in hashes.items():
        ops.append(("hset", key, None, None, mapping))
        ops.append(("expire", key, keys_ttl))
    return ops


def apply(pipe, ops: Sequence[Op]) -> None:
    """Queue ``ops`` on a (non-transactional) pipeline."""
    for name, *args in ops:
        if name == "hset":
            key, _, _, mapping = args
            pipe.hset(key, mapping=mapping)
        else:
            getattr(pipe, name)(*args)


# ------------------------------------------------------------------------------------------- reading
@dataclass(frozen=True, slots=True)
class KeyEntry:
    """A key's hash (None: field not written)."""

    owner: str | None = None
    score: float | None = None
    ring_risk: float | None = None
    cadastro_us: int | None = None

    @classmethod
    def of(cls, h: dict[str, str] | None) -> KeyEntry | None:
        if not h:
            return None
        cad = h.get(CADASTRO)
        return cls(h.get(OWNER) or None, _num(h.get(SCORE)), _num(h.get(RING_RISK)),
                   int(cad) if cad is not None else None)

    def age_hours(self, t_us: int) -> float | None:
        """The key's age at ``t_us`` in hours, as :func:`pixring.features.static_features` takes it."""
        if self.cadastro_us is None:
            return None
        return timedelta(microseconds=t_us - self.cadastro_us).total_seconds() / 3600.0


@dataclass(frozen=True, slots=True)
class OnlineView:
    """What the store holds for one transaction: both keys' entries and their receipts in ``[T - 1 h, T)``."""

    destino: KeyEntry | None
    origem: KeyEntry | None
    receipts_destino: list[Receipt]
    receipts_origem: list[Receipt]


def queue_read(pipe, t: float, destino: str, origem: str) -> None:
    """Queue the four reads of one transaction at ``t`` (epoch seconds) on a pipeline (:func:`view_of` parses)."""
    lo, hi = t - WINDOW_1H_S, f"({t!r}"
    pipe.hgetall(key_key(destino))
    pipe.hgetall(key_key(origem))
    pipe.zrangebyscore(receipts_key(destino), lo, hi, withscores=True)
    pipe.zrangebyscore(receipts_key(origem), lo, hi, withscores=True)


def view_of(results: Sequence[Any]) -> OnlineView:
    hd, ho, rd, ro = results
    return OnlineView(KeyEntry.of(hd), KeyEntry.of(ho), [decode_receipt(m, s) for m, s in rd],
                      [decode_receipt(m, s) for m, s in ro])

"""Who calls the API and how much they may send or look up.

Identities (:class:`Authenticator`): a bearer token is either
- a per-person **signed JWT** (HS256 with ``settings.api.jwt_secret``, minted by ``pixring token``): claims
  ``sub`` (the person), ``role``, ``iss``, ``aud``, ``iat``, ``exp`` and ``jti``, all required; valid for at
  most ``jwt_max_ttl_hours``. The audit log names its ``sub``.
- a **static role token** (``PIXRING_API_TOKEN_*``), compared in constant time. In ``PIXRING_ENV=local`` all
  three roles have one; outside local only the ``service`` role (a machine, no PII) is accepted this way, so
  every investigator is a named person.

:class:`Guard` is pure ASGI middleware in front of every ``/v1/`` route: it authenticates from the headers
*before* any body is read (401 otherwise), answers 413 to a ``Content-Length`` above
``settings.api.max_body_bytes`` without reading it, and buffers a body without a length only up to that bound.
The route's role check (403) stays a dependency (:mod:`api.deps`).

:class:`RateLimiter` bounds look-ups by a clear value per caller (``GET /v1/graph/chave/<clear key>``
could otherwise confirm guessed CPFs, phones and e-mails one by one); each such look-up is audited.

:class:`RevocationList`: single JWTs revoked by ``jti`` (``pixring token --revoke``), a file under the data root
that every API worker re-reads when it changes (one ``stat`` a request), so a revoked token gets 401 everywhere.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import os
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import jwt

from pixring.errors import PixringError
from pixring.settings import ApiSettings

#: a JWT subject: what the audit log records (an e-mail, a login, a service account name)
SUBJECT_RE = re.compile(r"^[A-Za-z0-9._@+:-]{1,128}$")
JWT_ALGORITHM = "HS256"
JWT_LEEWAY_S = 30
#: a token id (``jti``): pixring mints 32 hex digits; another issuer's ids are accepted in this form
JTI_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
#: the revocation list, under the data root
REVOCATION_FILE = Path("auth") / "revoked-jti"


class Role(StrEnum):
    SERVICE = "service"
    INVESTIGATOR = "investigator"
    INVESTIGATOR_PII = "investigator_pii"


@dataclass(frozen=True)
class Principal:
    role: Role
    #: a short non-reversible id of the bearer token (never the token)
    fingerprint: str
    request_id: str
    #: who: the JWT's ``sub``, or ``static:<role>`` for a static role token
    subject: str = ""


class AuthError(Exception):
    """401: no, malformed, expired or unknown credentials (the message is safe to return)."""


def token_fingerprint(token: str) -> str:
    """A short non-reversible id of a bearer token for the audit log (never the token)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:12]


def mint_token(api: ApiSettings, subject: str, role: Role | str, ttl_hours: float, *,
               now: float | None = None) -> str:
    """A signed JWT for one person and role, valid ``ttl_hours`` (at most ``api.jwt_max_ttl_hours``)."""
    if not SUBJECT_RE.match(subject):
        raise PixringError("subject: 1-128 characters of A-Z a-z 0-9 . _ @ + : -")
    try:
        role = Role(role)
    except ValueError:
        raise PixringError(f"role must be one of {', '.join(r.value for r in Role)}") from None
    if not 0 < ttl_hours <= api.jwt_max_ttl_hours:
        raise PixringError(f"ttl must be in (0, {api.jwt_max_ttl_hours:g}] hours (PIXRING_API_JWT_MAX_TTL_HOURS)")
    iat = int(time.time() if now is None else now)
    claims = {"sub": subject, "role": role.value, "iss": api.jwt_issuer, "aud": api.jwt_audience, "iat": iat,
              "exp": iat + int(ttl_hours * 3600), "jti": uuid.uuid4().hex}
    return jwt.encode(claims, api.jwt_secret.get_secret_value(), algorithm=JWT_ALGORITHM)


class RevocationList:
    """Revoked token ids in a file (one ``<jti> <revoked at, epoch s>`` a line, 0600 under the 0700 data root).

    :meth:`revoke` rewrites the file atomically under an exclusive lock and drops entries older than
    ``keep_s`` (the longest token lifetime plus the leeway: any token with such a ``jti`` has expired by then).
    :meth:`is_revoked` re-reads the file when its ``stat`` changes, so every API process sees a revocation at
    its next request. A missing file: nothing revoked. An unreadable one: every JWT refused (fail closed).
    """

    def __init__(self, path: Path, keep_s: float) -> None:
        self.path = path
        self.keep_s = keep_s
        self._seen: tuple[int, int, int] | None = None
        self._ids: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    @classmethod
    def for_settings(cls, home: Path, api: ApiSettings) -> RevocationList:
        return cls(home / REVOCATION_FILE, api.jwt_max_ttl_hours * 3600 + JWT_LEEWAY_S)

    def _read(self) -> dict[str, float]:
        try:
            text = self.path.read_text(encoding="ascii")
        except FileNotFoundError:
            return {}
        out: dict[str, float] = {}
        for line in text.splitlines():
            jti, _, at = line.partition(" ")
            if JTI_RE.match(jti):
                try:
                    out[jti] = float(at)
                except ValueError:
                    out[jti] = time.time()  # a damaged time: keep the revocation
        return out

    def revoke(self, jti: str, *, now: float | None = None) -> bool:
        """Add ``jti``; False when it was already revoked."""
        if not JTI_RE.match(jti):
            raise PixringError("a token id (jti): 1-128 characters of A-Z a-z 0-9 _ -")
        t = time.time() if now is None else now
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = self.path.with_name(self.path.name + ".lock")
        with open(lock, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            entries = {k: v for k, v in self._read().items() if v > t - self.keep_s}
            new = jti not in entries
            entries.setdefault(jti, t)
            tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write("".join(f"{k} {v:.3f}\n" for k, v in entries.items()))
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        return new

    def is_revoked(self, jti: str) -> bool:
        try:
            st = self.path.stat()
            seen = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            seen = (0, 0, 0)
        if seen != self._seen:
            with self._lock:
                try:
                    ids = frozenset(self._read())
                except OSError as exc:
                    raise AuthError("token revocation list unreadable") from exc
                self._ids, self._seen = ids, seen
        return jti in self._ids


def token_id(api: ApiSettings, token: str) -> str:
    """The ``jti`` of a token pixring signed (signature, issuer and audience checked; expiry not: a token that
    has expired may still be revoked, harmlessly)."""
    try:
        claims = jwt.decode(token.strip(), api.jwt_secret.get_secret_value(), algorithms=[JWT_ALGORITHM],
                            audience=api.jwt_audience, issuer=api.jwt_issuer,
                            options={"verify_exp": False, "require": ["jti"]})
    except jwt.PyJWTError as exc:
        raise PixringError(f"not a token signed with PIXRING_API_JWT_SECRET: {type(exc).__name__}") from None
    return str(claims["jti"])


class Authenticator:
    """Bearer token -> (role, subject); :class:`AuthError` otherwise (also for a revoked JWT)."""

    def __init__(self, api: ApiSettings, *, local: bool, revoked: RevocationList | None = None) -> None:
        self.api = api
        self.revoked = revoked
        statics = [(Role.SERVICE, api.token_service)]
        if local:
            statics += [(Role.INVESTIGATOR, api.token_investigator), (Role.INVESTIGATOR_PII, api.token_investigator_pii)]
        self._static = [(r, s.get_secret_value().encode("utf-8")) for r, s in statics]

    def authenticate(self, authorization: str | None, request_id: str) -> Principal:
        if not authorization:
            raise AuthError("bearer token required")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError("bearer token required")
        if token.count(".") == 2:
            role, subject = self._jwt(token)
        else:
            role, subject = self._static_role(token), None
        return Principal(role, token_fingerprint(token), request_id, subject or f"static:{role.value}")

    def _static_role(self, token: str) -> Role:
        given = token.encode("utf-8")
        role = None
        for r, secret in self._static:  # every comparison runs: no early exit on a match
            if hmac.compare_digest(given, secret):
                role = r
        if role is None:
            raise AuthError("invalid token")
        return role

    def _jwt(self, token: str) -> tuple[Role, str]:
        a = self.api
        try:
            claims: dict[str, Any] = jwt.decode(
                token, a.jwt_secret.get_secret_value(), algorithms=[JWT_ALGORITHM], audience=a.jwt_audience,
                issuer=a.jwt_issuer, leeway=JWT_LEEWAY_S,
                options={"require": ["sub", "role", "iss", "aud", "iat", "exp", "jti"]})
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.PyJWTError:
            raise AuthError("invalid token") from None
        subject, role = claims.get("sub"), claims.get("role")
        if not isinstance(subject, str) or not SUBJECT_RE.match(subject):
            raise AuthError("invalid token")
        if role not in {r.value for r in Role}:
            raise AuthError("invalid token")
        if not isinstance(claims["iat"], int | float) or claims["exp"] - claims["iat"] > a.jwt_max_ttl_hours * 3600:
            raise AuthError("token lifetime above the maximum")
        jti = claims["jti"]
        if not isinstance(jti, str) or not JTI_RE.match(jti):
            raise AuthError("invalid token")
        if self.revoked is not None and self.revoked.is_revoked(jti):
            raise AuthError("token revoked")
        return Role(role), subject


class RateLimiter:
    """At most ``limit`` events per ``window_s`` per key (sliding window, this process)."""

    def __init__(self, limit: int, window_s: float = 60.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, *, now: float | None = None) -> float:
        """0 when allowed (and counted), else the seconds until the next event would be allowed."""
        t = time.monotonic() if now is None else now
        with self._lock:
            q = self._events.setdefault(key, deque())
            while q and q[0] <= t - self.window_s:
                q.popleft()
            if len(q) >= self.limit:
                return max(0.001, q[0] + self.window_s - t)
            q.append(t)
            if len(self._events) > 10_000:  # forget idle callers
                for k in [k for k, v in self._events.items() if not v or v[-1] <= t - self.window_s]:
                    del self._events[k]
            return 0.0


def _name_route(scope) -> None:
    """``scope["route"]`` for a request answered before routing, so metrics and logs name its template."""
    from starlette.routing import Match

    routes, sub = getattr(getattr(scope.get("app"), "router", None), "routes", ()), dict(scope)
    while routes:
        for route in routes:
            match, child = route.matches(sub)
            if match is Match.FULL:
                if getattr(route, "path", None) is not None:
                    scope["route"] = route
                    return
                sub = {**sub, **child}  # an included router: look inside it
                inner = getattr(route, "original_router", route)  # FastAPI's _IncludedRouter wraps one
                routes = getattr(inner, "routes", ())
                break
        else:
            return


class Guard:
    """Pure ASGI middleware: authentication and body bounds before any route (see the module docstring)."""

    PREFIX = "/v1/"

    def __init__(self, app, authenticator: Authenticator, max_body_bytes: int) -> None:
        self.app = app
        self.auth = authenticator
        self.max_body = max_body_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from api import problems
        from pixring import logs

        headers = {k: v for k, v in scope.get("headers", ()) if k in (b"authorization", b"content-length",
                                                                        b"transfer-encoding")}
        path = scope.get("path", "")
        if path.startswith(self.PREFIX):
            raw = headers.get(b"authorization")
            try:
                principal = self.auth.authenticate(raw.decode("latin-1") if raw else None, logs.correlation_id.get())
            except AuthError as exc:
                _name_route(scope)
                await problems.problem(401, str(exc), instance=path,
                                       headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)
                return
            scope.setdefault("state", {})["principal"] = principal
        length = headers.get(b"content-length")
        if length is not None:
            try:
                n = int(length)
            except ValueError:
                n = -1
            if n < 0:
                await problems.problem(400, "invalid Content-Length", instance=path)(scope, receive, send)
                return
            if n > self.max_body:
                _name_route(scope)
                await self._too_large(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)
            return
        # a body without a length: read it up to the bound, then hand the app what was read
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            size += len(message.get("body", b""))
            if size > self.max_body:
                await self._too_large(scope, receive, send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body, sent = b"".join(chunks), False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope, receive, send) -> None:
        from api import problems

        response = problems.problem(413, f"request body above {self.max_body} bytes", instance=scope.get("path"),
                                    headers={"Connection": "close"})
        await response(scope, receive, send)

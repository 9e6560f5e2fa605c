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
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jwt

from pixring.errors import PixringError
from pixring.settings import ApiSettings

#: a JWT subject: what the audit log records (an e-mail, a login, a service account name)
SUBJECT_RE = re.compile(r"^[A-Za-z0-9._@+:-]{1,128}$")
JWT_ALGORITHM = "HS256"
JWT_LEEWAY_S = 30


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


class Authenticator:
    """Bearer token -> (role, subject); :class:`AuthError` otherwise."""

    def __init__(self, api: ApiSettings, *, local: bool) -> None:
        self.api = api
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

"""Auth (401/403), PII masking by role and its audit trail, no PII in logs, injection attempts change nothing."""

from __future__ import annotations

import json
import logging

import pytest

from tests.api.conftest import count_world

pytestmark = [pytest.mark.neo4j, pytest.mark.mlflow]


def _routes(world) -> list[tuple[str, str, dict | None]]:
    body = {"valor": 10.0, "chave_pix_origem": world.keys["V1"], "chave_pix_destino": world.keys["M1"]}
    return [
        ("GET", f"/v1/graph/usuario/{world.uid('M1')}", None),
        ("GET", "/v1/rings", None),
        ("GET", f"/v1/rings/{world.ring}", None),
        ("GET", f"/v1/transactions/{world.tx['1']}", None),
        ("GET", f"/v1/transactions/{world.tx['1']}/trace", None),
        ("GET", "/v1/alerts?since=2026-10-01T00:00:00Z", None),
        ("GET", f"/v1/users/{world.uid('M1')}", None),
        ("POST", "/v1/score", body),
    ]


#: which roles may call each route (by index in _routes)
ALLOWED = {
    "service": {3, 5, 7},
    "investigator": {0, 1, 2, 3, 4, 5, 6},
    "investigator_pii": {0, 1, 2, 3, 4, 5, 6},
}


def test_no_or_bad_token_is_401(client, world) -> None:
    for method, path, body in _routes(world):
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic dXNlcjpwYXNz"}):
            r = client.request(method, path, json=body, headers=headers)
            assert r.status_code == 401, (path, headers)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.headers.get("www-authenticate") == "Bearer"


def test_roles_get_200_or_403(client, live_api, world) -> None:
    for role, allowed in ALLOWED.items():
        for i, (method, path, body) in enumerate(_routes(world)):
            r = client.request(method, path, json=body, headers=live_api.headers(role))
            if i in allowed:
                assert r.status_code == 200, (role, path, r.text)
            else:
                assert r.status_code == 403, (role, path)
                assert r.json()["title"] == "Forbidden"


def _audit_lines(live_api) -> list[dict]:
    path = live_api.settings.paths.logs / "api-audit.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_pii_masked_for_investigator_clear_and_audited_for_pii_role(client, live_api, world, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    uid = world.uid("M1")
    before = len(_audit_lines(live_api))
    masked = client.get(f"/v1/users/{uid}", headers=live_api.headers("investigator")).json()
    assert masked["pii_clara"] is False and masked["pii"]["nome"] == "M*** P***"
    assert "cpf_cnpj" not in masked["pii"] and world.keys["M1"] in masked["chaves"]
    assert masked["id_anel"] == world.ring and masked["score_gnn"] == 0.9
    assert len(_audit_lines(live_api)) == before  # masked reads are not PII reads

    resp = client.get(f"/v1/users/{uid}", headers={**live_api.headers("investigator_pii"), "X-Request-ID": "case-77"})
    clear, clear_id = resp.json(), resp.headers["x-request-id"]
    assert clear_id == "case-77"
    assert clear["pii_clara"] is True and clear["pii"]["nome"] == world.names["M1"]
    assert clear["pii"]["email"] == world.clear_keys["M1"] and clear["pii"]["cpf_cnpj"]
    lines = _audit_lines(live_api)
    assert len(lines) == before + 1
    entry = lines[-1]
    assert entry["request_id"] == clear_id  # the audit entry names the request, as its logs do
    assert entry["role"] == "investigator_pii" and entry["resource"] == f"usuario:{uid}" and entry["found"]
    assert entry["action"] == "read_clear_pii" and "nome" in entry["fields"]
    raw = (live_api.settings.paths.logs / "api-audit.log").read_text()
    token = live_api.tokens["investigator_pii"]
    for secret in (world.names["M1"], world.clear_keys["M1"], clear["pii"]["cpf_cnpj"], token):
        assert secret not in raw
    # graph answers never carry clear PII, whatever the role
    g = client.get(f"/v1/graph/usuario/{uid}?hops=2", headers=live_api.headers("investigator_pii")).text
    assert world.names["M1"] not in g and world.clear_keys["M1"] not in g
    # a clear key in the URL reaches no log
    client.get(f"/v1/graph/chave/{world.clear_keys['X']}", headers=live_api.headers("investigator"))
    # (the test's own HTTP client logs its URLs: it is the caller, not the API)
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore")))
    assert "GET /v1/graph/{kind}/{ident} 200" in logged
    for secret in (world.names["M1"], world.clear_keys["M1"], world.clear_keys["X"], token):
        assert secret not in logged


def test_every_request_has_a_correlation_id_in_its_logs_and_response(client, live_api, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="api.app")
    h = live_api.headers("investigator")
    given = client.get("/v1/rings", headers={**h, "X-Request-ID": "inv-2026.11:a_1"})
    made = client.get("/v1/rings", headers=h)
    forged = client.get("/v1/rings", headers={**h, "X-Request-ID": "x\tforged"})
    denied = client.get("/v1/rings", headers={"X-Request-ID": "no-token-1"})
    assert given.headers["x-request-id"] == "inv-2026.11:a_1"
    assert denied.status_code == 401 and denied.headers["x-request-id"] == "no-token-1"
    for r in (made, forged):
        cid = r.headers["x-request-id"]
        assert len(cid) == 16 and int(cid, 16) >= 0
    ids = {r.headers["x-request-id"] for r in (given, made, forged, denied)}
    assert len(ids) == 4
    seen = {r.corr for r in caplog.records if r.name == "api.app" and r.getMessage().startswith("GET /v1/rings")}
    assert ids <= seen


INJECTIONS = [
    "x' OR '1'='1",
    "x\"}) DETACH DELETE n //",
    "}) MATCH (n) DETACH DELETE n RETURN 1 //",
    "1 OR 1=1",
    "../../etc/passwd",
    "%27%20OR%201%3D1",
    "$id",
]


def test_injection_attempts_change_nothing(client, live_api, world, neo4j_driver) -> None:
    h = live_api.headers("investigator")
    before = count_world(neo4j_driver, world)
    total_before = neo4j_driver.execute_query("MATCH (n) RETURN count(n) AS c").records[0]["c"]
    for attempt in INJECTIONS:
        for path in (f"/v1/graph/usuario/{attempt}", f"/v1/graph/chave/{attempt}", f"/v1/rings/{attempt}",
                     f"/v1/transactions/{attempt}/trace", f"/v1/users/{attempt}"):
            r = client.get(path, headers=h)
            assert r.status_code in (404, 422), (path, r.status_code)
        for params in ({"build_id": attempt}, {"order": attempt}, {"state": attempt}, {"min_risk": attempt}):
            r = client.get("/v1/rings", params=params, headers=h)
            assert r.status_code == 422, params
        r = client.get(f"/v1/graph/usuario/{world.uid('M1')}", params={"since": attempt}, headers=h)
        assert r.status_code == 422
    # the ring id itself with Cypher appended is just an unknown id
    assert client.get(f"/v1/rings/{world.ring}' OR 1=1", headers=h).status_code in (404, 422)
    assert count_world(neo4j_driver, world) == before
    assert neo4j_driver.execute_query("MATCH (n) RETURN count(n) AS c").records[0]["c"] >= total_before - 0
    assert client.get(f"/v1/rings/{world.ring}", headers=h).status_code == 200


# --- identities: signed JWTs beside the static role tokens ---------------------------------------------------


def _jwt(live_api, key: str | None = None, **over) -> str:
    """An investigator's JWT signed with ``key`` (default: the API's), its claims overridden by ``over``."""
    import time

    import jwt as pyjwt

    a = live_api.settings.api
    now = int(time.time())
    claims = {"sub": "ana", "role": "investigator", "iss": a.jwt_issuer, "aud": a.jwt_audience, "iat": now,
              "exp": now + 600, "jti": "t1"} | over
    return pyjwt.encode(claims, key or a.jwt_secret.get_secret_value(), algorithm="HS256")


def test_a_minted_jwt_names_its_person_in_the_audit_log(client, live_api, world) -> None:
    from api.security import mint_token

    token = mint_token(live_api.settings.api, "ana.souza@banco", "investigator_pii", 1)
    before = len(_audit_lines(live_api))
    r = client.get(f"/v1/users/{world.uid('C')}", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["pii_clara"] is True
    entry = _audit_lines(live_api)[before]
    assert entry["subject"] == "ana.souza@banco" and entry["role"] == "investigator_pii"
    assert entry["token"] != token and len(entry["token"]) == 12
    # a JWT's role is enforced like a static token's
    svc = mint_token(live_api.settings.api, "scorer-1", "service", 1)
    assert client.get(f"/v1/users/{world.uid('C')}", headers={"Authorization": f"Bearer {svc}"}).status_code == 403
    # the static tokens of local name their role
    client.get(f"/v1/users/{world.uid('C')}", headers=live_api.headers("investigator_pii"))
    assert _audit_lines(live_api)[-1]["subject"] == "static:investigator_pii"


@pytest.mark.parametrize(("over", "detail"), [
    ({"exp": 1_000_000, "iat": 999_000}, "token expired"),
    ({"key": "another-key-of-at-least-thirty-two-bytes!"}, "invalid token"),
    ({"role": "admin"}, "invalid token"),
    ({"aud": "someone-else"}, "invalid token"),
    ({"sub": "a b\nforged"}, "invalid token"),
    ({"exp": 4_102_444_800}, "token lifetime above the maximum"),
])
def test_bad_jwts_are_401(client, live_api, world, over, detail) -> None:
    token = _jwt(live_api, **over)
    r = client.get("/v1/rings", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.json()["detail"] == detail
    assert r.headers.get("www-authenticate") == "Bearer"


def test_unsigned_jwt_is_401(client, live_api) -> None:
    import base64
    import json as _json

    def b64(d: dict) -> str:
        return base64.urlsafe_b64encode(_json.dumps(d).encode()).rstrip(b"=").decode()

    a = live_api.settings.api
    claims = {"sub": "x", "role": "investigator_pii", "iss": a.jwt_issuer, "aud": a.jwt_audience, "iat": 1,
              "exp": 9_999_999_999, "jti": "j"}
    token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    assert client.get("/v1/rings", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_outside_local_only_the_service_static_token_and_jwts_are_accepted(live_api) -> None:
    from api.security import Authenticator, AuthError, Role, mint_token

    a = live_api.settings.api
    auth = Authenticator(a, local=False)
    assert auth.authenticate(f"Bearer {a.token_service.get_secret_value()}", "r").role is Role.SERVICE
    for static in (a.token_investigator, a.token_investigator_pii):
        with pytest.raises(AuthError, match="invalid token"):
            auth.authenticate(f"Bearer {static.get_secret_value()}", "r")
    p = auth.authenticate(f"Bearer {mint_token(a, 'rui@banco', 'investigator', 2)}", "r")
    assert (p.role, p.subject) == (Role.INVESTIGATOR, "rui@banco")


# --- limits: bodies, clear-value look-ups ------------------------------------------------------------------


def _raw(live_api, head: str, body: bytes = b"", timeout: float = 5.0) -> tuple[int, bytes]:
    """One request over a raw socket; (status, whole answer). Returns as soon as the server answers."""
    import socket
    from urllib.parse import urlsplit

    u = urlsplit(live_api.url)
    with socket.create_connection((u.hostname, u.port), timeout=timeout) as s:
        s.sendall(head.encode("latin-1") + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1]), data


def test_a_too_large_body_is_413_before_it_is_sent(live_api) -> None:
    token = live_api.tokens["service"]
    # 50 MB announced, not one byte sent: the answer comes at once (a server reading the body would hang)
    status, data = _raw(live_api, "POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                  f"Authorization: Bearer {token}\r\nContent-Length: 50000000\r\n\r\n")
    assert status == 413 and b"application/problem+json" in data
    # no token: 401 before the body, whatever its size
    status, _ = _raw(live_api, "POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                               "Content-Length: 50000000\r\n\r\n")
    assert status == 401


def test_a_chunked_body_is_bounded_too(live_api, world) -> None:
    token = live_api.tokens["service"]
    head = ("POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\n\r\n")
    big = b"x" * (live_api.settings.api.max_body_bytes + 1)
    status, _ = _raw(live_api, head, b"%x\r\n%s\r\n0\r\n\r\n" % (len(big), big))
    assert status == 413
    body = json.dumps({"valor": 10.0, "chave_pix_origem": world.keys["V1"],
                       "chave_pix_destino": world.keys["M1"]}).encode()
    status, _ = _raw(live_api, head, b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
    assert status == 200


def test_clear_key_look_ups_are_audited_and_rate_limited_per_caller(client, live_api, world) -> None:
    import uuid

    from api.security import mint_token

    a = live_api.settings.api
    who = f"probe-{uuid.uuid4().hex[:8]}"
    h = {"Authorization": f"Bearer {mint_token(a, who, 'investigator', 1)}"}
    guesses = [world.clear_keys["X"]] + [f"guess{i}@exemplo.com.br" for i in range(a.clear_lookups_per_minute - 1)]
    codes = [client.get(f"/v1/graph/chave/{g}", headers=h).status_code for g in guesses]
    assert codes[0] == 200 and set(codes[1:]) == {404}
    over = client.get("/v1/graph/chave/one-more@exemplo.com.br", headers=h)
    assert over.status_code == 429 and int(over.headers["retry-after"]) >= 1
    assert over.headers["content-type"].startswith("application/problem+json")
    # a token look-up is not a clear value: not limited; another caller has their own budget
    assert client.get(f"/v1/graph/chave/{world.keys['X']}", headers=h).status_code == 200
    other = {"Authorization": f"Bearer {mint_token(a, who + '-b', 'investigator', 1)}"}
    assert client.get(f"/v1/graph/chave/{world.clear_keys['X']}", headers=other).status_code == 200
    mine = [e for e in _audit_lines(live_api) if e["subject"] == who]
    assert len(mine) == a.clear_lookups_per_minute
    assert {e["action"] for e in mine} == {"lookup_clear_key"}
    assert mine[0]["resource"] == f"chave:{world.keys['X']}" and mine[0]["found"] is True
    assert [e["found"] for e in mine[1:]] == [False] * (a.clear_lookups_per_minute - 1)
    raw = (live_api.settings.paths.logs / "api-audit.log").read_text()
    assert world.clear_keys["X"] not in raw and "guess1@" not in raw

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

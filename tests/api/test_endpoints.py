"""Each endpoint's answers on the toy world (real Neo4j, real Delta read model, real MLflow model)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.neo4j, pytest.mark.mlflow]

INV = "investigator"


def test_health_ready_and_metrics(client, live_api) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["neo4j"] and body["read_model"] and body["model"]["loaded"]
    assert body["read_model_status"]["transactions"] == 6
    client.get("/v1/rings", headers=live_api.headers(INV))
    metrics = client.get("/metrics").text
    assert 'pixring_api_requests_total{method="GET",route="/v1/rings",status="200"}' in metrics
    assert "pixring_api_read_model_transactions 6.0" in metrics
    # graph drift gauges of the latest build (degrees 2, 5, 5 for the users; one community of 3)
    assert 'pixring_graph_degree_bucket{le="2",tipo="usuario"} 1.0' in metrics
    assert 'pixring_graph_degree_bucket{le="8",tipo="usuario"} 3.0' in metrics
    assert 'pixring_graph_community_size_bucket{le="3"} 1.0' in metrics
    assert "pixring_graph_communities 1.0" in metrics and "pixring_graph_ring_candidates 1.0" in metrics
    assert "pixring_graph_build_timestamp_seconds " in metrics


def test_subgraph_of_a_key_two_hops(client, live_api, world) -> None:
    r = client.get(f"/v1/graph/chave/{world.keys['M1']}", params={"hops": 2}, headers=live_api.headers(INV))
    assert r.status_code == 200, r.text
    g = r.json()
    keys = {n["key"] for n in g["nodes"]}
    assert g["center"] == f"chave:{world.keys['M1']}"
    assert {f"usuario:{world.uid('M1')}", f"dispositivo:{world.device}", f"anel:{world.ring}",
            f"usuario:{world.uid('V1')}", f"usuario:{world.uid('C')}"} <= keys
    assert f"usuario:{world.uid('X')}" not in keys  # three hops away
    assert all(e["source"] in keys and e["target"] in keys for e in g["edges"])
    assert not g["truncated"]
    levels = {n["key"]: n["nivel"] for n in g["nodes"]}
    assert levels[f"usuario:{world.uid('M1')}"] == 1 and levels[f"dispositivo:{world.device}"] == 2


def test_subgraph_by_clear_key_matches_the_token(client, live_api, world) -> None:
    by_token = client.get(f"/v1/graph/chave/{world.keys['C']}?hops=1", headers=live_api.headers(INV)).json()
    by_clear = client.get(f"/v1/graph/chave/{world.clear_keys['C']}?hops=1", headers=live_api.headers(INV)).json()
    assert by_clear["center"] == by_token["center"]
    assert {n["key"] for n in by_clear["nodes"]} == {n["key"] for n in by_token["nodes"]}


def test_subgraph_time_window_and_limits(client, live_api, world) -> None:
    h = live_api.headers(INV)
    full = client.get(f"/v1/graph/usuario/{world.uid('M1')}?hops=1", headers=h).json()
    assert {n["tipo"] for n in full["nodes"]} == {"usuario", "chave", "dispositivo", "anel"}
    late = client.get(f"/v1/graph/usuario/{world.uid('M1')}",
                      params={"hops": 1, "since": "2026-10-20T00:00:00Z"}, headers=h).json()
    # only timeless relationships (POSSUI, MEMBRO_DE) are active after the money moved
    assert {n["key"] for n in late["nodes"]} == {f"usuario:{world.uid('M1')}", f"chave:{world.keys['M1']}",
                                                  f"anel:{world.ring}"}
    small = client.get(f"/v1/graph/usuario/{world.uid('C')}", params={"hops": 3, "max_nodes": 3}, headers=h).json()
    assert small["truncated"] and len(small["nodes"]) == 3 and small["limits"]["max_nodes"] == 3
    capped = client.get(f"/v1/graph/usuario/{world.uid('C')}", params={"hops": 1, "max_nodes": 10**9,
                                                                          "max_edges": 10**9}, headers=h).json()
    assert capped["limits"] == {"max_nodes": live_api.settings.api.max_nodes,
                                "max_edges": live_api.settings.api.max_edges, "per_node": 25}
    hub = client.get(f"/v1/graph/usuario/{world.uid('C')}", params={"hops": 1, "per_node": 2}, headers=h).json()
    assert len(hub["edges"]) == 2 and hub["nodes"][0]["parcial"] and not hub["truncated"]
    # the heaviest relationships are kept: C received 950 from M1 and 480 from M2
    assert {n["id"] for n in hub["nodes"]} == {world.uid(s) for s in ("C", "M1", "M2")}
    few_edges = client.get(f"/v1/graph/usuario/{world.uid('C')}", params={"hops": 2, "max_edges": 2}, headers=h).json()
    assert few_edges["truncated"] and len(few_edges["edges"]) <= 2


@pytest.mark.parametrize("params", [{"hops": 0}, {"hops": 4}, {"hops": "x"}, {"max_nodes": 0},
                                    {"since": "not-a-date"},
                                    {"since": "2026-10-02T00:00:00Z", "until": "2026-10-01T00:00:00Z"},
                                    # an offset-aware and a naive bound compare in UTC
                                    {"since": "2026-10-02T00:00:00-03:00", "until": "2026-10-02T02:00:00"},
                                    # found by the schema fuzzer: no UTC equivalent inside years 1-9999
                                    {"since": "0001-01-01T00:00:00+05:00"}])
def test_subgraph_bad_parameters_are_422_problems(client, live_api, world, params) -> None:
    r = client.get(f"/v1/graph/usuario/{world.uid('M1')}", params=params, headers=live_api.headers(INV))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 422


def test_unknown_ids_are_404_problems(client, live_api, world) -> None:
    h = live_api.headers(INV)
    for path in (f"/v1/graph/usuario/{world.p}nobody", f"/v1/graph/dispositivo/{world.p}none",
                 f"/v1/rings/{world.p}none", f"/v1/transactions/{world.p}none",
                 f"/v1/transactions/{world.p}none/trace", f"/v1/users/{world.p}nobody"):
        r = client.get(path, headers=h)
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("application/problem+json")
    assert client.get("/v1/graph/planeta/x", headers=h).status_code == 422


def test_rings_list_filters_and_pagination(client, live_api, world) -> None:
    h = live_api.headers(INV)
    page = client.get("/v1/rings", params={"build_id": world.build_id}, headers=h).json()
    assert page["total"] == 1
    ring = page["items"][0]
    assert ring["id"] == world.ring and ring["risco"] == 0.93 and ring["tamanho"] == 3
    assert ring["valor_em_risco"] == 1500.0 and ring["status"] == "nova" and ring["score_gnn"] == 0.9
    assert client.get("/v1/rings", params={"build_id": world.build_id, "min_risk": 0.95},
                      headers=h).json()["total"] == 0
    assert client.get("/v1/rings", params={"build_id": world.build_id, "state": "retirado"},
                      headers=h).json()["total"] == 0
    assert client.get("/v1/rings", params={"build_id": world.build_id, "offset": 1},
                      headers=h).json()["items"] == []
    everything = client.get("/v1/rings", params={"limit": 2, "order": "valor_em_risco"}, headers=h).json()
    assert len(everything["items"]) <= 2 and everything["total"] >= 1
    assert client.get("/v1/rings", params={"limit": 500}, headers=h).status_code == 422


def test_ring_detail_members_flow_and_evidence(client, live_api, world) -> None:
    r = client.get(f"/v1/rings/{world.ring}", headers=live_api.headers(INV))
    assert r.status_code == 200, r.text
    d = r.json()
    assert {m["id"] for m in d["membros"]} == {world.uid(s) for s in ("M1", "M2", "C")}
    assert all(m["nucleo"] for m in d["membros"])
    assert d["valor_entrada"] == 1500.0 and d["valor_interno"] == 1430.0 and d["valor_saida"] == 300.0
    assert {m["motivo"] for m in d["motivos"]} == {"repasse", "dispositivo_compartilhado"}
    assert d["evidencias"]["motivos"] == ["repasse", "dispositivo_compartilhado"]
    assert d["gnn"]["ring_score"]["score"] == 0.9
    assert d["gnn"]["explicacoes"][world.uid("C")]["explicacao"][0]["id"] == world.device


def test_fund_trace_apportions_and_finds_the_recoverable_amount(client, live_api, world) -> None:
    h = live_api.headers(INV)
    t = client.get(f"/v1/transactions/{world.tx['1']}/trace", headers=h).json()
    assert t["valor_inicial"] == 1000.0
    assert [(x["de"], x["para"], x["valor_rastreado"]) for x in t["hops"]] == [
        (world.uid("V1"), world.uid("M1"), 1000.0), (world.uid("M1"), world.uid("C"), 950.0),
        (world.uid("C"), world.uid("X"), 300.0)]
    contas = {c["id_usuario"]: c for c in t["contas"]}
    assert contas[world.uid("M1")]["retido"] == 50.0 and contas[world.uid("C")]["retido"] == 650.0
    assert t["valor_recuperavel"] == 1000.0
    # stop after two transfers: C's later payment to X leaves the trace, so 300 may be gone
    short = client.get(f"/v1/transactions/{world.tx['1']}/trace", params={"max_hops": 2}, headers=h).json()
    assert short["valor_recuperavel"] == 700.0
    assert {c["id_usuario"]: c["saiu_sem_rastreio"] for c in short["contas"]}[world.uid("C")] == 300.0
    # a 10-minute window: M1 forwarded after 20 minutes, so the money is not followed
    tight = client.get(f"/v1/transactions/{world.tx['1']}/trace", params={"window_min": 10}, headers=h).json()
    assert len(tight["hops"]) == 1 and tight["valor_recuperavel"] == 50.0
    assert client.get(f"/v1/transactions/{world.tx['1']}/trace", params={"max_hops": 7},
                      headers=h).status_code == 422


def test_transaction_score_from_the_stream_or_scored_now(client, live_api, world) -> None:
    h = live_api.headers(INV)
    s = client.get(f"/v1/transactions/{world.tx['1']}", headers=h).json()
    assert s["fonte"] == "stream" and s["decisao"] == "block" and "destino_em_anel" in s["motivos"]
    now = client.get(f"/v1/transactions/{world.tx['3']}", headers=h).json()  # M1 -> C, not in the stream table
    assert now["fonte"] == "api"
    assert now["score"] == pytest.approx(0.02 + 0.95 * 0.95)
    assert now["decisao"] == "block" and "destino_em_anel" in now["motivos"]


def test_alerts_since(client, live_api, world) -> None:
    h = live_api.headers("service")
    page = client.get("/v1/alerts", params={"since": "2026-10-01T12:59:00Z"}, headers=h).json()
    mine = [a["id_transacao"] for a in page["items"]]
    assert mine == [world.tx["1"], world.tx["2"]]  # the allowed one is no alert
    one = client.get("/v1/alerts", params={"since": "2026-10-01T12:59:00Z", "limit": 1}, headers=h).json()
    assert len(one["items"]) == 1 and one["next_since"] is not None
    assert client.get("/v1/alerts", params={"since": "2026-10-02T00:00:00Z"}, headers=h).json()["items"] == []
    r = client.get("/v1/alerts", params={"since": "0001-01-01T00:00:00+05:00"}, headers=h)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert client.get("/v1/alerts", headers=h).status_code == 422


def test_score_inline_uses_the_model_features_and_rules(client, live_api, world) -> None:
    h = live_api.headers("service")
    body = {"id_transacao": "x1", "timestamp": "2026-10-01T13:01:00Z", "valor": 700.0,
            "chave_pix_origem": world.clear_keys["V2"], "chave_pix_destino": world.clear_keys["M1"]}
    r = client.post("/v1/score", json=body, headers=h)
    assert r.status_code == 200, r.text
    s = r.json()
    f = s["features"]
    assert f["score_destino"] == 0.9 and f["score_origem"] == 0.04 and f["risco_anel_destino"] == 0.93
    assert f["recebidos_10min_destino"] == 1 and f["remetentes_distintos_1h_destino"] == 1
    assert 2.0 < f["idade_chave_destino_h"] < 2.1 and f["noturna"] == 0 and f["repasse_origem"] == 0
    assert s["score"] == pytest.approx(0.02 + 0.95 * 0.9)
    assert s["decisao"] == "block" and s["motivos"][0] == "modelo_revisao"
    assert {"destino_em_anel", "chave_destino_jovem"} <= set(s["motivos"])
    same = client.post("/v1/score", json={**body, "chave_pix_origem": world.keys["V2"],
                                          "chave_pix_destino": world.keys["M1"]}, headers=h).json()
    assert same["features"] == f
    # the collector forwarding at night (Brasília 22:00 = 01:00 UTC), to an unknown key
    night = client.post("/v1/score", json={"timestamp": "2026-10-02T01:00:00Z", "valor": 1500.0,
                                           "chave_pix_origem": world.keys["C"],
                                           "chave_pix_destino": "desconhecido@exemplo.com"}, headers=h).json()
    assert night["features"]["noturna"] == 1 and night["features"]["idade_chave_destino_h"] == -1
    assert night["decisao"] == "review" and "limite_noturno" in night["motivos"]
    for bad in ({**body, "valor": -1}, {**body, "valor": 0}, {**body, "extra": 1}, {"valor": 10},
                {**body, "timestamp": "ontem"}):
        assert client.post("/v1/score", json=bad, headers=h).status_code == 422


def test_concurrent_scores_each_get_their_own_answer(client, live_api, world) -> None:
    """Requests arriving together are predicted in one model call (ModelHolder.predict_soon); each caller
    still gets the answer of its own payload, the same as when it comes alone."""
    import asyncio

    import httpx

    h = live_api.headers("service")
    bodies = [{"id_transacao": f"c{i}", "timestamp": "2026-10-01T13:01:00Z", "valor": 100.0 + 97 * i,
               "chave_pix_origem": world.clear_keys["V2"],
               "chave_pix_destino": world.clear_keys["M1" if i % 2 else "V1"]} for i in range(16)]
    alone = [client.post("/v1/score", json=b, headers=h).json() for b in bodies]

    async def together():
        async with httpx.AsyncClient(base_url=live_api.url, timeout=30) as ac:
            rs = await asyncio.gather(*(ac.post("/v1/score", json=b, headers=h) for b in bodies))
        return [r.json() for r in rs]

    for a, t in zip(alone, asyncio.run(together()), strict=True):
        assert t["id_transacao"] == a["id_transacao"]
        assert (t["score"], t["decisao"], t["motivos"], t["features"]) == (
            a["score"], a["decisao"], a["motivos"], a["features"])
    assert len({a["score"] for a in alone}) > 1  # the payloads do not all score alike
    metrics = client.get("/metrics").text
    per_call = [float(line.split()[-1]) for line in metrics.splitlines()
                if line.startswith("pixring_api_score_rows_per_model_call ")]
    assert per_call and per_call[0] >= 1.0

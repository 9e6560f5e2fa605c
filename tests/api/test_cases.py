"""Cases on the toy world: the queue, opening a case, dispositions in Delta (append-only) and on the Neo4j node."""

from __future__ import annotations

import json

import pytest

from pixring.contract import CASE_STATUS_PROP, CASES_TABLE

pytestmark = [pytest.mark.neo4j, pytest.mark.mlflow]

INV = "investigator"
SECRET_NOTE = "titular Marcos P. confirmou por telefone 11 9XXXX"


def _history(live_api) -> list[dict]:
    from deltalake import DeltaTable

    path = live_api.settings.paths.lakehouse / "gold" / CASES_TABLE
    return DeltaTable(str(path)).to_pyarrow_table().to_pylist()


def test_queue_orders_by_priority_within_capacity(client, live_api, world) -> None:
    r = client.get("/v1/cases/queue", headers=live_api.headers(INV))
    assert r.status_code == 200, r.text
    q = r.json()
    assert q["capacidade"] == live_api.settings.api.analyst_capacity
    assert 0 < len(q["itens"]) <= q["capacidade"]
    ring = next(i for i in q["itens"] if i["tipo"] == "anel")
    assert ring["id"] == world.ring and ring["prioridade"] == pytest.approx(0.93 * 1500.0)
    pr = [i["prioridade"] for i in q["itens"]]
    assert pr == sorted(pr, reverse=True)
    # flagged members of a queued ring are not queued again on their own
    assert not {i["id"] for i in q["itens"] if i["tipo"] == "usuario"} & {world.uid(s) for s in ("M1", "M2", "C")}


def test_roles_and_unknown_targets(client, live_api, world) -> None:
    assert client.get("/v1/cases/queue").status_code == 401
    assert client.get("/v1/cases/queue", headers=live_api.headers("service")).status_code == 403
    r = client.post("/v1/cases", json={"tipo": "anel", "id": "nope-ring"}, headers=live_api.headers(INV))
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    r = client.post("/v1/cases", json={"tipo": "planeta", "id": world.ring}, headers=live_api.headers(INV))
    assert r.status_code == 422
    assert client.get("/v1/cases/CS-NOPE", headers=live_api.headers(INV)).status_code == 404


def test_open_confirm_history_in_delta_and_neo4j(client, live_api, world, neo4j_driver, caplog) -> None:
    h = live_api.headers(INV)
    caplog.set_level("DEBUG")
    r = client.post("/v1/cases", json={"tipo": "anel", "id": world.ring, "notas": SECRET_NOTE}, headers=h)
    assert r.status_code == 201, r.text
    case = r.json()
    cid = case["id_caso"]
    assert case["status"] == "aberto" and sorted(case["usuarios"]) == sorted(world.uid(s) for s in ("M1", "M2", "C"))
    # a second opening while the case is open is a conflict
    assert client.post("/v1/cases", json={"tipo": "anel", "id": world.ring}, headers=h).status_code == 409
    queued = {i["id"]: i for i in client.get("/v1/cases/queue", headers=h).json()["itens"]}
    assert queued[world.ring]["id_caso"] == cid and queued[world.ring]["status"] == "aberto"

    r = client.post(f"/v1/cases/{cid}/disposicoes", json={"disposicao": "precisa_informacao"}, headers=h)
    assert r.status_code == 201 and r.json()["status"] == "precisa_informacao"
    r = client.post(f"/v1/cases/{cid}/disposicoes", json={"disposicao": "mula_confirmada", "notas": "ok"}, headers=h)
    assert r.status_code == 201, r.text
    got = client.get(f"/v1/cases/{cid}", headers=h).json()
    assert got["status"] == "mula_confirmada" and got["tipo"] == "anel" and got["id"] == world.ring
    assert [e["disposicao"] for e in got["historico"]] == ["aberto", "precisa_informacao", "mula_confirmada"]
    assert got["historico"][0]["notas"] == SECRET_NOTE and got["historico"][0]["por"] == "static:investigator"

    rows = [x for x in _history(live_api) if x["id_caso"] == cid]
    assert sorted(x["evento"] for x in rows) == ["aberto", "mula_confirmada", "precisa_informacao"]
    rec = neo4j_driver.execute_query(f"MATCH (a:Anel {{id: $id}}) RETURN a.{CASE_STATUS_PROP} AS s, a.id_caso AS c",
                                     id=world.ring).records[0]
    assert rec["s"] == "mula_confirmada" and rec["c"] == cid
    # a closed case leaves the queue; a new case can be opened on it
    assert world.ring not in {i["id"] for i in client.get("/v1/cases/queue", headers=h).json()["itens"]}

    # the notes are never logged, neither by the app nor in the audit log
    assert SECRET_NOTE not in caplog.text
    audit = (live_api.settings.paths.logs / "api-audit.log").read_text()
    actions = [json.loads(line)["action"] for line in audit.splitlines() if cid in line]
    assert {"case_open", "case_mula_confirmada", "case_read"} <= set(actions)
    assert SECRET_NOTE not in audit


def test_dismiss_an_account(client, live_api, world, neo4j_driver) -> None:
    h = live_api.headers(INV)
    r = client.post("/v1/cases", json={"tipo": "usuario", "id": world.uid("X")}, headers=h)
    assert r.status_code == 201, r.text
    cid = r.json()["id_caso"]
    assert r.json()["usuarios"] == [world.uid("X")]
    assert client.post(f"/v1/cases/{cid}/disposicoes", json={"disposicao": "descartado"}, headers=h).status_code == 201
    assert client.post(f"/v1/cases/{cid}/disposicoes", json={"disposicao": "talvez"}, headers=h).status_code == 422
    rec = neo4j_driver.execute_query(f"MATCH (u:Usuario {{id: $id}}) RETURN u.{CASE_STATUS_PROP} AS s",
                                     id=world.uid("X")).records[0]
    assert rec["s"] == "descartado"


def test_med_request_of_the_planted_ring_adds_up(client, live_api, world) -> None:
    h = live_api.headers(INV)
    r = client.get(f"/v1/med/anel/{world.ring}", headers=h)
    assert r.status_code == 200, r.text
    med = r.json()
    assert med["max_hops"] == live_api.settings.api.med_max_hops
    # the victims' payments into the ring are what is claimed back
    assert {t["id_transacao"] for t in med["transacoes_origem"]} == {world.tx["1"], world.tx["2"]}
    assert med["valor_contestado"] == pytest.approx(1500.0)
    contas = {c["id_usuario"]: c for c in med["contas"]}
    assert {world.uid(s) for s in ("M1", "M2", "C")} <= set(contas)
    assert all(contas[world.uid(s)]["membro_anel"] for s in ("M1", "M2", "C"))
    for c in med["contas"]:  # every account: what came in left, left untraced or can be blocked
        assert 0 <= c["recuperavel"] <= c["recebido"] + 0.01
        assert c["recebido"] == pytest.approx(c["repassado"] + c["saiu_sem_rastreio"] + c["recuperavel"], abs=0.02)
    # M1 kept 50, M2 20, C 1130 (it forwarded 300 once, not once per victim), X the 300
    assert contas[world.uid("M1")]["recuperavel"] == pytest.approx(50.0)
    assert contas[world.uid("M2")]["recuperavel"] == pytest.approx(20.0)
    assert contas[world.uid("C")]["recuperavel"] == pytest.approx(1130.0)
    assert contas[world.uid("X")]["recuperavel"] == pytest.approx(300.0)
    assert contas[world.uid("X")]["caminho"][-2:] == [world.uid("C"), world.uid("X")]
    assert contas[world.uid("M2")]["caminho"] == [world.uid("V2"), world.uid("M2")]  # from the victim
    for hop in med["por_hop"]:
        members = [c for c in med["contas"] if c["hop"] == hop["hop"]]
        assert hop["recuperavel"] == pytest.approx(sum(c["recuperavel"] for c in members), abs=0.01)
        assert hop["recuperavel"] <= hop["recebido"] + 0.01
    assert med["valor_recuperavel"] == pytest.approx(sum(h["recuperavel"] for h in med["por_hop"]), abs=0.01)
    assert med["valor_recuperavel"] == pytest.approx(1500.0)  # nothing left the traced accounts

    r = client.get(f"/v1/med/anel/{world.ring}", params={"formato": "csv"}, headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert sum(float(x["recuperavel"]) for x in rows) == pytest.approx(med["valor_recuperavel"], abs=0.01)
    assert {x["id_usuario"] for x in rows} == set(contas)


def test_med_request_of_a_victim_transaction(client, live_api, world) -> None:
    h = live_api.headers(INV)
    med = client.get(f"/v1/med/transacao/{world.tx['1']}", headers=h).json()
    assert med["valor_contestado"] == pytest.approx(1000.0)
    contas = {c["id_usuario"]: c for c in med["contas"]}
    assert contas[world.uid("M1")]["recuperavel"] == pytest.approx(50.0)
    assert contas[world.uid("C")]["recuperavel"] == pytest.approx(650.0)
    assert med["valor_recuperavel"] == pytest.approx(1000.0)
    assert [world.uid("V1"), world.uid("M1"), world.uid("C"), world.uid("X")] in med["caminhos"]
    assert client.get("/v1/med/transacao/nope", headers=h).status_code == 404
    assert client.get(f"/v1/med/transacao/{world.tx['1']}", headers=live_api.headers("service")).status_code == 403

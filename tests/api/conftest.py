"""A toy world for the API tests: a tiny lakehouse (real Delta tables written with delta-rs), a toy ring in
the real Neo4j (unique ids, deleted afterwards), a toy champion model in the real MLflow server, and the
API served by a real uvicorn on a free port.

World (T0 = 2026-10-01 13:00 UTC): victims V1, V2 pay mules M1, M2, who forward to collector C within
minutes; C pays X an hour later. M1, M2 and C share device D and form ring R.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from pixring.settings import MLflowSettings, PathSettings, Settings
from tests.helpers import free_port

T0 = datetime(2026, 10, 1, 13, 0, 0)


@dataclass
class World:
    p: str  # unique id prefix
    users: dict[str, str]  # short name -> id_usuario
    clear_keys: dict[str, str]  # short name -> clear e-mail key
    keys: dict[str, str]  # short name -> token
    device: str
    ring: str
    build_id: str
    tx: dict[str, str]  # short name -> id_transacao
    names: dict[str, str]  # short name -> clear name (bronze only)

    def uid(self, short: str) -> str:
        return self.users[short]


def _ts(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC)


@pytest.fixture(scope="session")
def world() -> World:
    import uuid

    from api.pii import key_token
    from pixring.settings import get_settings

    p = "T" + uuid.uuid4().hex[:8]
    shorts = ["V1", "V2", "M1", "M2", "C", "X"]
    users = {s: f"{p}{s}" for s in shorts}
    clear = {s: f"{p.lower()}-{s.lower()}@exemplo.com.br" for s in shorts}
    secret = get_settings().security.pii_secret
    keys = {s: key_token(clear[s], secret) for s in shorts}
    names = {"V1": "Valéria Souza", "V2": "Vitor Lima", "M1": "Marcos Pereira", "M2": "Maria Alves",
             "C": "Carlos Nunes", "X": "Xavier Dias"}
    tx = {n: f"{p}tx{n}" for n in ("1", "2", "3", "4", "5", "6")}
    return World(p, users, clear, keys, f"{p}D", f"{p}R", f"b{p}", tx, names)


def _transactions(w: World) -> list[tuple]:
    return [  # (name, from, to, minutes after T0, valor)
        ("1", "V1", "M1", 0, "1000.00"),
        ("2", "V2", "M2", 5, "500.00"),
        ("3", "M1", "C", 20, "950.00"),
        ("4", "M2", "C", 25, "480.00"),
        ("5", "C", "X", 60, "300.00"),
        ("6", "X", "V1", -2 * 24 * 60, "50.00"),
    ]


def write_lakehouse(root: Path, w: World) -> None:
    """Silver, gold and bronze tables of the toy world, as real Delta tables."""
    from deltalake import write_deltalake

    def put(layer: str, name: str, table: pa.Table) -> None:
        write_deltalake(str(root / layer / name), table, mode="overwrite")

    tsu = pa.timestamp("us", tz="UTC")
    rows = _transactions(w)
    put("silver", "transacoes_pix", pa.table({
        "id_transacao": [w.tx[n] for n, *_ in rows],
        "timestamp": pa.array([_ts(T0 + timedelta(minutes=m)) for *_, m, _v in rows], tsu),
        "valor": pa.array([Decimal(v) for *_, v in rows], pa.decimal128(15, 2)),
        "chave_pix_origem": [w.keys[a] for _n, a, *_ in rows],
        "chave_pix_destino": [w.keys[b] for _n, _a, b, *_ in rows],
        "tipo_transacao": ["transferencia"] * len(rows),
        "status": ["concluida"] * len(rows),
        "id_usuario_origem": [w.uid(a) for _n, a, *_ in rows],
        "id_usuario_destino": [w.uid(b) for _n, _a, b, *_ in rows],
    }))
    shorts = list(w.users)
    young = {"M1", "M2", "C"}
    put("silver", "chaves_pix", pa.table({
        "chave_pix": [w.keys[s] for s in shorts], "tipo_chave": ["email"] * len(shorts),
        "id_usuario": [w.uid(s) for s in shorts], "status": ["ativa"] * len(shorts),
        "data_cadastro": pa.array([_ts(T0 - (timedelta(hours=2) if s in young else timedelta(days=900)))
                                   for s in shorts], tsu),
    }))
    masked = {s: " ".join(part[0] + "***" for part in w.names[s].split()) for s in shorts}
    put("silver", "usuarios", pa.table({
        "id_usuario": [w.uid(s) for s in shorts], "tipo_pessoa": ["PF"] * len(shorts),
        "nome": [masked[s] for s in shorts], "email_dominio": ["exemplo.com.br"] * len(shorts),
        "status": ["ativo"] * len(shorts),
        "data_cadastro": pa.array([_ts(T0 - timedelta(days=400))] * len(shorts), tsu),
    }))
    put("bronze", "usuarios", pa.table({
        "id_usuario": [w.uid(s) for s in shorts], "cpf_cnpj": [f"0000000{i:04d}" for i in range(len(shorts))],
        "nome": [w.names[s] for s in shorts], "email": [w.clear_keys[s] for s in shorts],
        "telefone": [f"+5511900000{i:03d}" for i in range(len(shorts))],
        "_ingested_at": pa.array([_ts(T0)] * len(shorts), tsu),
    }))
    scores = {"V1": 0.05, "V2": 0.04, "M1": 0.9, "M2": 0.85, "C": 0.95, "X": 0.1}
    gen = pa.array([_ts(T0)] * len(shorts), tsu)
    put("gold", "node_scores", pa.table({
        "id": [w.uid(s) for s in shorts], "tipo": ["usuario"] * len(shorts),
        "score": [scores[s] for s in shorts], "sinalizado": [int(scores[s] >= 0.5) for s in shorts],
        "id_comunidade": [w.ring if s in young else None for s in shorts],
        "modelo_versao": ["1"] * len(shorts), "gerado_em": gen,
    }))
    put("gold", "node_explanations", pa.table({
        "id": [w.uid("C")], "tipo": ["usuario"], "score": [0.95],
        "explicacao": [json.dumps([{"id": w.device, "tipo": "dispositivo", "relacao": "USA", "peso": 0.7}])],
        "metodo": ["gradients"], "modelo_versao": ["1"], "gerado_em": pa.array([_ts(T0)], tsu),
    }))
    put("gold", "ring_candidates", pa.table({
        "id_anel": [w.ring], "membros": [[w.uid("M1"), w.uid("M2"), w.uid("C")]],
        "evidencias": [json.dumps({"motivos": ["repasse", "dispositivo_compartilhado"]})], "risco": [0.93],
        "tamanho": [3], "valor_em_risco": pa.array([Decimal("1500.00")], pa.decimal128(18, 2)),
        "status": ["nova"], "nucleo": [[w.uid("M1"), w.uid("M2"), w.uid("C")]], "build_id": [w.build_id],
    }))
    put("gold", "ring_scores", pa.table({
        "id_comunidade": [w.ring], "score": [0.9], "n_membros": pa.array([3], pa.int32()),
        "n_sinalizados": pa.array([3], pa.int32()), "modelo_versao": ["1"], "gerado_em": pa.array([_ts(T0)], tsu),
    }))
    put("gold", "graph_motifs", pa.table({
        "motivo": ["repasse", "dispositivo_compartilhado"],
        "usuarios": [[w.uid("M1"), w.uid("C")], [w.uid("M1"), w.uid("M2"), w.uid("C")]],
        "transacoes": [[w.tx["1"], w.tx["3"]], []],
        "valor": pa.array([Decimal("950.00"), None], pa.decimal128(18, 2)),
        "inicio": pa.array([_ts(T0), None], tsu), "fim": pa.array([_ts(T0 + timedelta(minutes=20)), None], tsu),
        "detalhe": ["{}", json.dumps({"id_dispositivo": w.device})], "id_comunidade": [w.ring, w.ring],
        "build_id": [w.build_id] * 2,
    }))
    put("gold", "graph_vertices", pa.table({
        "id": [w.uid("M1"), w.uid("M2"), w.uid("C"), w.keys["M1"]], "tipo": ["usuario"] * 3 + ["chave"],
        "grau_in": pa.array([1, 2, 5, 1], pa.int64()), "grau_out": pa.array([1, 3, 0, 0], pa.int64()),
        "build_id": [w.build_id] * 4,
    }))
    put("gold", "communities", pa.table({
        "id_comunidade": [w.ring], "tamanho": pa.array([3], pa.int32()), "build_id": [w.build_id]}))
    put("gold", "graph_builds", pa.table({"build_id": [w.build_id], "built_at": pa.array([_ts(T0)], tsu)}))
    put("gold", "scored_transactions", pa.table({
        "id_transacao": [w.tx["1"], w.tx["2"], w.tx["6"]],
        "timestamp": pa.array([_ts(T0), _ts(T0 + timedelta(minutes=5)), _ts(T0 - timedelta(days=2))], tsu),
        "score": [0.97, 0.6, 0.01], "decisao": ["block", "review", "allow"],
        "motivos": [["modelo_bloqueio", "destino_em_anel"], ["modelo_revisao"], []],
        "modelo_versao": ["1", "1", "1"],
    }))


def write_neo4j(driver, w: World) -> None:
    """The toy graph, shaped like graph.neo4j_load writes it (naive UTC datetimes)."""
    t = T0
    nodes = ([{"label": "Usuario", "id": w.uid(s), "props": {"tipo_pessoa": "PF"}} for s in w.users]
             + [{"label": "Chave", "id": w.keys[s], "props": {"tipo_chave": "email"}} for s in w.users]
             + [{"label": "Dispositivo", "id": w.device, "props": {"tipo_dispositivo": "android"}}])
    for label in ("Usuario", "Chave", "Dispositivo"):
        driver.execute_query(f"UNWIND $rows AS r MERGE (n:{label} {{id: r.id}}) SET n += r.props",
                             rows=[n for n in nodes if n["label"] == label])
    driver.execute_query(
        "MERGE (a:Anel {id: $id}) SET a.risco = 0.93, a.tamanho = 3, a.valor_em_risco = 1500.0, a.ativo = true, "
        "a.build_id = $b, a.evidencias = $e",
        id=w.ring, b=w.build_id, e=json.dumps({"motivos": ["repasse", "dispositivo_compartilhado"]}))
    driver.execute_query("UNWIND $rows AS r MATCH (u:Usuario {id: r.u}), (k:Chave {id: r.k}) MERGE (u)-[:POSSUI]->(k)",
                         rows=[{"u": w.uid(s), "k": w.keys[s]} for s in w.users])
    driver.execute_query(
        "UNWIND $us AS u MATCH (x:Usuario {id: u}), (d:Dispositivo {id: $d}) "
        "MERGE (x)-[r:USA]->(d) SET r.n = 3, r.primeiro = $p, r.ultimo = $q",
        us=[w.uid(s) for s in ("M1", "M2", "C")], d=w.device, p=t - timedelta(days=3), q=t + timedelta(days=1))
    driver.execute_query("UNWIND $us AS u MATCH (x:Usuario {id: u}), (a:Anel {id: $r}) MERGE (x)-[:MEMBRO_DE]->(a)",
                         us=[w.uid(s) for s in ("M1", "M2", "C")], r=w.ring)
    rows = [{"a": a, "b": b, "ts": t + timedelta(minutes=m), "v": float(v)} for _n, a, b, m, v in _transactions(w)]
    driver.execute_query(
        "UNWIND $rows AS r MATCH (x:Usuario {id: r.ua}), (y:Usuario {id: r.ub}) "
        "MERGE (x)-[e:TRANSFERIU]->(y) SET e.n = 1, e.valor_total = r.v, e.primeiro = r.ts, e.ultimo = r.ts",
        rows=[{**r, "ua": w.uid(r["a"]), "ub": w.uid(r["b"])} for r in rows])
    driver.execute_query(
        "UNWIND $rows AS r MATCH (x:Chave {id: r.ka}), (y:Chave {id: r.kb}) "
        "MERGE (x)-[e:PAGOU]->(y) SET e.n = 1, e.valor_total = r.v, e.primeiro = r.ts, e.ultimo = r.ts",
        rows=[{**r, "ka": w.keys[r["a"]], "kb": w.keys[r["b"]]} for r in rows])


def all_ids(w: World) -> list[str]:
    return [*w.users.values(), *w.keys.values(), w.device, w.ring]


def count_world(driver, w: World) -> tuple[int, int]:
    rec = driver.execute_query(
        "MATCH (n) WHERE n.id IN $ids OPTIONAL MATCH (n)-[r]-() RETURN count(DISTINCT n) AS n, count(DISTINCT r) AS r",
        ids=all_ids(w)).records[0]
    return rec["n"], rec["r"]


@pytest.fixture(scope="session")
def toy_graph(neo4j_driver, world: World) -> Iterator[World]:
    write_neo4j(neo4j_driver, world)
    yield world
    neo4j_driver.execute_query("MATCH (n) WHERE n.id IN $ids DETACH DELETE n", ids=all_ids(world))


@pytest.fixture(scope="session")
def toy_model(mlflow_uri: str, world: World, settings: Settings) -> str:
    """A real pyfunc (tests/toy_model.py) registered in the real MLflow server under a unique name, alias
    ``champion``, signed as pixring's registration signs (the API loads only signed versions)."""
    from mlflow import MlflowClient

    from tests.helpers import register_toy_model

    name = f"pixring-api-test-{world.p.lower()}"
    register_toy_model(settings, name)
    client = MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    yield name
    try:
        client.delete_registered_model(name)
    except Exception:  # noqa: BLE001 - best effort cleanup of a unique name
        pass


@pytest.fixture(scope="session")
def api_settings(tmp_path_factory, world: World, toy_model: str, settings: Settings) -> Settings:
    home = tmp_path_factory.mktemp("apihome")
    s = Settings()
    s.paths = PathSettings(home=home)
    s.mlflow = MLflowSettings(tracking_uri=settings.mlflow.uri, model_name=toy_model)
    write_lakehouse(s.paths.lakehouse, world)
    return s


@dataclass
class LiveApi:
    url: str
    settings: Settings
    app: object
    tokens: dict[str, str]

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def serve(app) -> tuple[int, object, threading.Thread]:
    """``app`` served by a real uvicorn in a thread on a free port, once it listens: (port, server, thread)."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, access_log=False,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 90
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("API did not start")
        time.sleep(0.05)
    return port, server, thread


@pytest.fixture(scope="session")
def live_api(api_settings: Settings, toy_graph: World) -> Iterator[LiveApi]:
    """The API served by a real uvicorn in a thread (lifespan loads the toy lakehouse and model)."""
    from api.app import create_app

    app = create_app(api_settings, background=False)
    port, server, thread = serve(app)
    a = api_settings.api
    tokens = {"service": a.token_service.get_secret_value(), "investigator": a.token_investigator.get_secret_value(),
              "investigator_pii": a.token_investigator_pii.get_secret_value()}
    yield LiveApi(f"http://127.0.0.1:{port}", api_settings, app, tokens)
    server.should_exit = True
    thread.join(timeout=15)


@pytest.fixture(scope="session")
def client(live_api: LiveApi) -> Iterator:
    import httpx

    with httpx.Client(base_url=live_api.url, timeout=30) as c:
        yield c

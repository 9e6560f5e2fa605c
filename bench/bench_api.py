"""API latency benchmark (``pixring bench api`` or ``python bench/bench_api.py``).

Starts ``pixring api`` in a subprocess on a free port (or uses ``--url``), waits for ``/readyz``, then drives
each endpoint with ``--clients`` concurrent closed-loop clients for ``--seconds`` and prints p50/p95/p99 and
requests/s. Ids are sampled from the real data (Neo4j users, silver keys and transactions, gold rings), so
the subgraph queries do not hit one cached neighbourhood. Targets (issue 8): 2-hop subgraph p99 <= 50 ms
with 32 clients; ``POST /v1/score`` p99 <= 20 ms.

When the champion model (``settings.mlflow.model_name``) is not registered yet, the benchmark registers the
test suite's toy pyfunc (``tests/toy_model.py``: same TX_FEATURES contract) under a bench name and says so.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import orjson
import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers import free_port, register_toy_model  # noqa: E402 - after the sys.path line


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def _ensure_model(settings) -> tuple[str, str]:
    """(model name to serve, what it is)."""
    from mlflow import MlflowClient

    uri = settings.mlflow.uri
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        mv = client.get_model_version_by_alias(settings.mlflow.model_name, "champion")
        return settings.mlflow.model_name, f"champion {settings.mlflow.model_name} v{mv.version}"
    except Exception:  # noqa: BLE001
        pass
    name = "pixring-bench-toy"
    try:
        mv = client.get_model_version_by_alias(name, "champion")
        return name, f"toy pyfunc {name} v{mv.version} (no champion of {settings.mlflow.model_name} yet)"
    except Exception:  # noqa: BLE001
        pass
    version = register_toy_model(settings, name)
    return name, f"toy pyfunc {name} v{version} (no champion of {settings.mlflow.model_name} yet)"


def _samples(settings, n: int = 400) -> dict[str, list[Any]]:
    """Ids from the real data: users and keys with relationships, transactions, rings."""
    from deltalake import DeltaTable
    from neo4j import GraphDatabase

    rnd = random.Random(7)
    nn = settings.neo4j
    with GraphDatabase.driver(nn.bolt_uri, auth=(nn.user, nn.password.get_secret_value())) as d:
        users = [r["id"] for r in d.execute_query(
            "MATCH (u:Usuario)-[:TRANSFERIU]-() WITH DISTINCT u LIMIT 20000 RETURN u.id AS id").records]
        keys = [r["id"] for r in d.execute_query(
            "MATCH (k:Chave)-[:PAGOU]-() WITH DISTINCT k LIMIT 20000 RETURN k.id AS id").records]
        rings = [r["id"] for r in d.execute_query("MATCH (a:Anel {ativo: true}) RETURN a.id AS id").records]
    tx_path = settings.paths.lakehouse / "silver" / "transacoes_pix"
    tx = DeltaTable(str(tx_path)).to_pyarrow_dataset().to_table(
        columns=["id_transacao", "chave_pix_origem", "chave_pix_destino", "valor", "timestamp"]).to_pylist()
    tx = rnd.sample(tx, min(n, len(tx)))
    return {"users": rnd.sample(users, min(n, len(users))), "keys": rnd.sample(keys, min(n, len(keys))),
            "rings": rings, "tx": tx}


class _Conn:
    """One keep-alive HTTP/1.1 connection on asyncio streams: a load generator that costs ~0.1 ms of CPU per
    request (httpx costs 1-2 ms, which on this 2-core machine is taken from the API and Neo4j under test)."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        extra = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n" if body is not None else ""
        self.writer.write(f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.head}{extra}\r\n".encode()
                          + (body or b""))
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        if m is None:  # uvicorn sends a length for every response of this API; anything else is a bench error
            raise RuntimeError(f"response without Content-Length: {head[:200]!r}")
        payload = await self.reader.readexactly(int(m.group(1)))
        if re.search(rb"(?im)^connection:\s*close", head):
            await self.close()
        return status, payload

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


async def _drive(url: str, headers: dict[str, str], make, clients: int, seconds: float) -> dict[str, Any]:
    """``clients`` closed-loop clients, each on its own keep-alive connection, for ``seconds``.

    Latency is taken from writing the request to reading the last byte of the body; a non-2xx status or a
    connection error is counted in ``codes`` (and its latency kept) and the client goes on."""
    u = urlsplit(url)
    lat: list[float] = []
    codes: dict[int | str, int] = {}
    nbytes = 0
    stop = time.monotonic() + seconds

    async def worker(seed: int) -> None:
        nonlocal nbytes
        rnd = random.Random(seed)
        conn = _Conn(u.hostname or "127.0.0.1", u.port or 80, headers)
        try:
            while time.monotonic() < stop:
                method, path, kw = make(rnd)
                path = quote(path, safe="/")
                if kw.get("params"):
                    path = f"{path}?{urlencode(kw['params'])}"
                body = orjson.dumps(kw["json"]) if "json" in kw else None
                t0 = time.perf_counter()
                try:
                    code, payload = await conn.request(method, path, body)
                    nbytes += len(payload)
                except (OSError, asyncio.IncompleteReadError, RuntimeError) as exc:  # counted, the run goes on
                    code = type(exc).__name__
                    await conn.close()
                lat.append((time.perf_counter() - t0) * 1000)
                codes[code] = codes.get(code, 0) + 1
        finally:
            await conn.close()

    t0 = time.monotonic()
    await asyncio.gather(*(worker(i) for i in range(clients)))
    wall = time.monotonic() - t0
    return {"n": len(lat), "rps": len(lat) / wall, "p50": _pct(lat, .5), "p95": _pct(lat, .95),
            "p99": _pct(lat, .99), "mean": statistics.fmean(lat) if lat else float("nan"), "codes": codes,
            "kb": nbytes / max(1, len(lat)) / 1024}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--url", default=None)
    ap.add_argument("--workers", type=int, default=1, help="API worker processes when the bench starts the API")
    ap.add_argument("--warmup", type=float, default=2.0,
                    help="seconds of unreported load on each case first (JIT, page cache, query plans)")
    ap.add_argument("--only", default=None, help="run only the cases whose name contains this text")
    ap.add_argument("--case", action="append", default=None, help="run only the case of this exact name (repeatable)")
    ap.add_argument("--no-projection", action="store_true",
                    help="the API the bench starts reads every subgraph hop from Neo4j (no in-memory projection)")
    args = ap.parse_args(argv)

    from pixring.settings import get_settings

    settings = get_settings()
    proc = None
    url = args.url
    if url is None:
        model_name, model_note = _ensure_model(settings)
        port = free_port()
        env = {**os.environ, "PIXRING_API_PORT": str(port), "PIXRING_MLFLOW_MODEL_NAME": model_name,
               "PIXRING_API_WORKERS": str(args.workers),
               "PIXRING_API_GRAPH_PROJECTION": "false" if args.no_projection else "true"}
        settings.paths.logs.mkdir(parents=True, exist_ok=True)
        log = open(settings.paths.logs / "api-bench-server.log", "w")  # noqa: SIM115
        t_start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "pixring.cli", "api"], env=env, cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
    else:
        model_note = "the served model"
    try:
        import httpx

        deadline = time.monotonic() + 180
        listening = None
        while True:
            try:
                r = httpx.get(f"{url}/readyz", timeout=2)
                listening = listening or time.monotonic()
                if r.status_code == 200 and r.json()["model"]["loaded"]:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or (proc is not None and proc.poll() is not None):
                print("API did not become ready (see var/logs/api-bench-server.log)")
                return 1
            time.sleep(0.2)
        if proc is not None:
            print(f"api start-up: listening after {listening - t_start:.1f}s, ready (read model + model) "
                  f"after {time.monotonic() - t_start:.1f}s")
        ready = httpx.get(f"{url}/readyz", timeout=5).json()
        gp = ready.get("graph_projection") or {}
        print(f"model: {model_note}; API workers: {args.workers if proc is not None else '?'}; subgraphs from "
              + (f"the in-memory projection ({gp['nodes']} nodes, {gp['relationships']} relationships, loaded in "
                 f"{gp['seconds']}s)" if gp.get("served") else "Neo4j (no projection)"))
        s = _samples(settings)
        print(f"samples: {len(s['users'])} users, {len(s['keys'])} keys, {len(s['tx'])} transactions, "
              f"{len(s['rings'])} rings")
        a = settings.api
        inv = {"Authorization": f"Bearer {a.token_investigator.get_secret_value()}"}
        svc = {"Authorization": f"Bearer {a.token_service.get_secret_value()}"}

        def score_body(rnd: random.Random) -> dict[str, Any]:
            t = rnd.choice(s["tx"])
            return {"valor": float(t["valor"]), "timestamp": t["timestamp"].isoformat(),
                    "chave_pix_origem": t["chave_pix_origem"], "chave_pix_destino": t["chave_pix_destino"]}

        cases = [
            ("GET /healthz (framework floor)", {}, args.clients, lambda r: ("GET", "/healthz", {})),
            ("GET /v1/graph/usuario/{id}?hops=2", inv, args.clients,
             lambda r: ("GET", f"/v1/graph/usuario/{r.choice(s['users'])}", {"params": {"hops": 2}})),
            ("GET /v1/graph/usuario/{id}?hops=2 (1 client)", inv, 1,
             lambda r: ("GET", f"/v1/graph/usuario/{r.choice(s['users'])}", {"params": {"hops": 2}})),
            ("GET /v1/graph/chave/{token}?hops=2", inv, args.clients,
             lambda r: ("GET", f"/v1/graph/chave/{r.choice(s['keys'])}", {"params": {"hops": 2}})),
            ("POST /v1/score", svc, args.clients, lambda r: ("POST", "/v1/score", {"json": score_body(r)})),
            ("POST /v1/score (1 client)", svc, 1, lambda r: ("POST", "/v1/score", {"json": score_body(r)})),
            ("POST /v1/score (4 clients)", svc, 4, lambda r: ("POST", "/v1/score", {"json": score_body(r)})),
            ("GET /v1/rings", inv, args.clients, lambda r: ("GET", "/v1/rings", {"params": {"limit": 25}})),
            ("GET /v1/transactions/{id}/trace", inv, args.clients,
             lambda r: ("GET", f"/v1/transactions/{r.choice(s['tx'])['id_transacao']}/trace", {})),
            ("GET /v1/transactions/{id}", inv, args.clients,
             lambda r: ("GET", f"/v1/transactions/{r.choice(s['tx'])['id_transacao']}", {})),
            ("GET /v1/alerts", inv, args.clients,
             lambda r: ("GET", "/v1/alerts", {"params": {"since": "2000-01-01T00:00:00Z", "limit": 100}})),
        ]
        if s["rings"]:
            cases.insert(4, ("GET /v1/rings/{id}", inv, args.clients,
                             lambda r: ("GET", f"/v1/rings/{r.choice(s['rings'])}", {})))
        if args.only:
            cases = [c for c in cases if args.only in c[0]]
        if args.case:
            cases = [c for c in cases if c[0] in args.case]
        if args.warmup > 0:
            for _name, headers, clients, make in cases:
                uvloop.run(_drive(url, headers, make, clients, args.warmup))
        print(f"machine load average (1, 5, 15 min): {os.getloadavg()}, cores: {os.cpu_count()}")
        print(f"{'endpoint':42s} {'clients':>7s} {'req/s':>8s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s} {'KiB':>6s}  codes")
        for name, headers, clients, make in cases:
            res = uvloop.run(_drive(url, headers, make, clients, args.seconds))
            print(f"{name:42s} {clients:7d} {res['rps']:8.0f} {res['p50']:8.1f} {res['p95']:8.1f} "
                  f"{res['p99']:8.1f} {res['kb']:6.1f}  {res['codes']}", flush=True)
        print(f"machine load average after: {os.getloadavg()}")
        return 0
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    sys.exit(main())

"""Scale-out of the executor engine: a backlog in 12 partitions caught up with ``local[1]`` vs ``local[2]``.

    heavy heavy .venv/bin/python bench/bench_stream_scaleout.py --messages 200000 --runs 3

(two ``heavy`` slots: the ``local[2]`` run needs both cores). One backlog of ``--messages`` transactions
(event time = now, keys of the main data set's silver when linked, else synthetic EVPs) is produced once into
a 12-partition topic; each run is ``pixring stream --available-now`` with ``PIXRING_STREAMING_ENGINE=executors``
in a fresh ``PIXRING_HOME`` (own checkpoint and output topics) and prints:

* catch-up seconds: the sum of the micro-batch durations the scorer logs (start-up of the JVM and the final
  Delta drain excluded), and tx/s = messages / catch-up;
* driver CPU share: the CPU of the driver (its Python process plus the JVM's threads that are not executor
  task threads, GC and JIT included) over the CPU of the whole process tree (JVM, driver, Python workers),
  sampled from ``/proc`` every 0.5 s during the run.

The medians of ``--runs`` runs per master, and the ratio of the local[1] median over the local[2] median.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PARTITIONS = 12
EPOCH_RE = re.compile(r"epoch \d+: .* in ([0-9.]+) s \(executors\)")
TICK = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(_children(p))
    return out


def _cpu(path: str) -> tuple[str, float]:
    with open(path) as f:
        raw = f.read()
    comm = raw[raw.index("(") + 1:raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2:].split()
    return comm, (int(fields[11]) + int(fields[12])) / TICK


class CpuSampler(threading.Thread):
    """Cumulative CPU seconds per process and per JVM thread of a process tree (max seen per id)."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.proc: dict[int, tuple[str, float]] = {}
        self.jvm_threads: dict[tuple[int, int], tuple[str, float]] = {}
        self.stop = threading.Event()

    def sample(self) -> None:
        for pid in _tree(self.root):
            try:
                comm, cpu = _cpu(f"/proc/{pid}/stat")
            except (OSError, ValueError):
                continue
            self.proc[pid] = (comm, max(cpu, self.proc.get(pid, ("", 0.0))[1]))
            if comm == "java":
                try:
                    tids = os.listdir(f"/proc/{pid}/task")
                except OSError:
                    continue
                for tid in tids:
                    try:
                        tcomm, tcpu = _cpu(f"/proc/{pid}/task/{tid}/stat")
                    except (OSError, ValueError):
                        continue
                    key = (pid, int(tid))
                    self.jvm_threads[key] = (tcomm, max(tcpu, self.jvm_threads.get(key, ("", 0.0))[1]))

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            time.sleep(0.5)

    def shares(self) -> tuple[float, float]:
        """(total CPU s of the tree, driver CPU s)."""
        total = sum(c for _, c in self.proc.values())
        driver_py = self.proc.get(self.root, ("", 0.0))[1]
        driver_jvm = sum(c for comm, c in self.jvm_threads.values() if not comm.startswith("Executor task"))
        return total, driver_py + driver_jvm


def produce_backlog(settings, topic: str, n: int, keys: list[str]) -> None:
    import numpy as np

    from bench.stream_harness import _message
    from pixring import kafka
    from pixring.contract import TIMEZONE
    from tests.streaming.world import create_topic

    create_topic(settings.kafka.bootstrap, topic, PARTITIONS)
    p = kafka.producer(settings.kafka, **{"queue.buffering.max.messages": 1_000_000, "linger.ms": 50,
                                          "compression.type": "lz4"})
    rng = np.random.default_rng(7)
    pairs = rng.integers(0, len(keys), size=(n, 2))
    values = np.round(rng.lognormal(4.5, 1.0, size=n), 2)
    now = datetime.now(ZoneInfo(TIMEZONE))
    for i in range(n):
        o, d = keys[pairs[i, 0]], keys[pairs[i, 1]]
        doc = _message(f"S{i:09d}", now, float(max(values[i], 0.01)), o, d)
        kafka.send(p, topic, json.dumps(doc, separators=(",", ":")).encode(), o.encode())
        if i % 50_000 == 0:
            p.poll(0)
    assert p.flush(120) == 0


def one_run(base_env: dict[str, str], master: str, home: Path, tag: str) -> dict:
    from bench.stream_harness import _bench_home
    from pixring.settings import get_settings

    _bench_home(get_settings(), home)
    env = {**base_env, "PIXRING_HOME": str(home), "PIXRING_SPARK_MASTER": master,
           "PIXRING_STREAMING_ENGINE": "executors", "PIXRING_SPARK_SHUFFLE_PARTITIONS": str(PARTITIONS),
           "PIXRING_KAFKA_TOPIC_SCORED": f"bench.so.scored.{tag}", "PIXRING_KAFKA_TOPIC_ALERTS": f"bench.so.alerts.{tag}",
           "PIXRING_KAFKA_TOPIC_DLQ": f"bench.so.dlq.{tag}"}
    log_path = home / "stream.log"
    t0 = time.monotonic()
    with log_path.open("w") as logf:
        child = subprocess.Popen([sys.executable, "-m", "pixring.cli", "stream", "--available-now", "--no-metrics"],
                                 env=env, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        sampler = CpuSampler(child.pid)
        sampler.start()
        rc = child.wait()
        sampler.stop.set()
        sampler.join()
    wall = time.monotonic() - t0
    text = log_path.read_text()
    if rc != 0:
        raise RuntimeError(f"scorer failed ({rc}): {text[-3000:]}")
    batches = [float(x) for x in EPOCH_RE.findall(text)]
    total, driver = sampler.shares()
    m = re.search(r"([0-9,]+) records: ([0-9,]+) scored", text)
    return {"master": master, "catch_up_s": sum(batches), "batches": len(batches), "wall_s": wall,
            "scored": int(m.group(2).replace(",", "")) if m else -1, "cpu_s": total, "driver_cpu_s": driver}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-offsets", type=int, default=50_000, help="records per micro-batch")
    parser.add_argument("--masters", default="local[1],local[2]")
    args = parser.parse_args()
    from bench.stream_harness import _keys
    from pixring.settings import Settings, get_settings
    from tests.helpers import register_toy_model

    base = get_settings()
    tag = uuid.uuid4().hex[:8]
    topic = f"bench.so.tx.{tag}"
    model = f"pixring-bench-scaleout-{tag}"
    register_toy_model(base, model)
    os.environ["PIXRING_KAFKA_TOPIC_TRANSACTIONS"] = topic
    settings = Settings()
    keys = _keys(None)
    t0 = time.monotonic()
    produce_backlog(settings, topic, args.messages, keys)
    print(f"scale-out bench: {args.messages:,d} messages in {PARTITIONS} partitions (produced in "
          f"{time.monotonic() - t0:.1f} s), {args.runs} runs per master, {os.cpu_count()} cores", flush=True)
    base_env = {**os.environ, "PIXRING_MLFLOW_MODEL_NAME": model, "PIXRING_KAFKA_TOPIC_TRANSACTIONS": topic,
                "PIXRING_STREAMING_MAX_OFFSETS_PER_TRIGGER": str(args.max_offsets)}
    tmp = Path(tempfile.mkdtemp(prefix="pixring-bench-scaleout-"))
    results: dict[str, list[dict]] = {}
    try:
        for run in range(args.runs):
            for master in args.masters.split(","):
                r = one_run(base_env, master, tmp / f"{run}-{master.strip('local[]')}", f"{tag}.{run}.{master.strip('local[]')}")
                results.setdefault(master, []).append(r)
                print(f"  run {run + 1} {master}: catch-up {r['catch_up_s']:.1f} s over {r['batches']} batches "
                      f"({args.messages / max(r['catch_up_s'], 1e-9):,.0f} tx/s), wall {r['wall_s']:.1f} s, scored "
                      f"{r['scored']:,d}, driver CPU {r['driver_cpu_s']:.1f} of {r['cpu_s']:.1f} s "
                      f"({100 * r['driver_cpu_s'] / max(r['cpu_s'], 1e-9):.1f} %)", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    med = {}
    for master, rs in results.items():
        c = statistics.median(r["catch_up_s"] for r in rs)
        share = statistics.median(100 * r["driver_cpu_s"] / max(r["cpu_s"], 1e-9) for r in rs)
        med[master] = c
        print(f"median {master}: catch-up {c:.1f} s = {args.messages / c:,.0f} tx/s; driver CPU share {share:.1f} %")
    masters = args.masters.split(",")
    if len(masters) == 2:
        print(f"ratio {masters[0]} / {masters[1]} catch-up: {med[masters[0]] / med[masters[1]]:.2f} (target >= 1.7)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Detection benchmark: the leave-one-typology-out protocol over seeds and difficulties (one command).

    .venv/bin/python bench/bench_detection.py --scale 1 --seeds 1 2 3 --difficulties normal hard diverse
    .venv/bin/python bench/bench_detection.py --scale 0.3 --seeds 1 --difficulties normal   # a quick look

For every (difficulty, seed): ``pixring datagen`` (skipped when its output is there) -> ``ingest`` -> ``refine`` -> ``graph build`` in a data root of
its own under ``--work`` (subprocesses; a stage whose output is there is reused unless ``--fresh``), then
:func:`gnn.protocol.run_protocol` on its gold tables with its ``_truth`` (every scorer side by side, per
typology), and ``gnn train``'s time for one full training run (:func:`gnn.train.compute_scores`, no MLflow).
Prints each run's per-typology table and, at the end, the medians over seeds per difficulty with the targets:

* LOTO worst-typology AP >= 0.60, mean AP >= 0.80, mean ring recall >= 0.80 (the GNN; every scorer shown);
* graph candidates ring recall >= 0.80 with candidate precision >= 0.80 (on ``diverse``);
* one full ``gnn train`` (compute) <= 180 s at scale 1;
* ``gnn evaluate``'s unseen-ring PR-AUC (time split of the confirmed claims) >= 0.95 on ``normal``.

``--json FILE`` writes every figure. Run it under ``heavy`` on a shared machine (Spark and training).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGETS = {"gnn_worst_ap": 0.60, "gnn_mean_ap": 0.80, "gnn_mean_ring_recall": 0.80,
           "candidates_ring_recall": 0.80, "candidates_precision": 0.80, "train_s": 180.0,
           "unseen_ring_pr_auc": 0.95}


def _pixring(home: Path, *args: str) -> None:
    env = {**os.environ, "PIXRING_HOME": str(home)}
    cmd = [str(ROOT / ".venv" / "bin" / "pixring"), *args]
    t = time.monotonic()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    print(f"    {' '.join(args[:2])}: {time.monotonic() - t:.0f}s", flush=True)


def prepare(work: Path, scale: float, seed: int, difficulty: str, fresh: bool) -> tuple[Path, Path]:
    """The data root and datagen output of one run (pipeline up to the gold graph)."""
    name = f"s{scale:g}-{difficulty}-seed{seed}"
    home, raw = work / name / "home", work / name / "raw"
    done = work / name / "graph.done"
    if fresh or not done.exists():
        home.mkdir(parents=True, exist_ok=True)
        jars = ROOT / "var" / "jars"
        if jars.exists() and not (home / "jars").exists():
            (home / "jars").symlink_to(jars)
        if fresh or not (raw / "_truth").is_dir():
            _pixring(home, "datagen", "--scale", str(scale), "--seed", str(seed), "--difficulty", difficulty,
                     "--out", str(raw), "--overwrite")
        _pixring(home, "ingest", "--from", str(raw))
        _pixring(home, "refine")
        _pixring(home, "graph", "build", "--force")
        done.write_text("ok")
    return home, raw


def frames_of(home: Path, fresh: bool):
    """The GNN's input frames of a data root (pickled next to it after the first Spark read)."""
    cache = home.parent / "frames.pkl"
    if cache.exists() and not fresh and cache.stat().st_mtime >= (home.parent / "graph.done").stat().st_mtime:
        return pickle.loads(cache.read_bytes())
    os.environ["PIXRING_HOME"] = str(home)
    from gnn.data import read_frames
    from pixring.settings import Settings
    from pixring.spark import get_spark

    frames = read_frames(get_spark(), Settings())
    cache.write_bytes(pickle.dumps(frames))
    return frames


def unseen_ring_pr_auc(scores, raw: Path) -> float:
    """``gnn evaluate``'s headline on the run's scores: PR-AUC on the mules of rings no training label touched."""
    import pandas as pd

    from gnn.evaluate import score_truth
    from pixring.contract import TRUTH_DIR

    members = pd.read_csv(raw / TRUTH_DIR / "ring_membros.csv", dtype=str)
    return score_truth(scores, members).pr_auc["gnn"]


def one(frames, raw: Path, seed: int, epochs: int | None, gfp: bool = False, gfp_all: bool = False) -> dict:
    from gnn.protocol import SCORERS, run_protocol
    from graph.evaluate import read_ring_truth as read_truth
    from gnn.train import TrainConfig, compute_scores
    from pixring.settings import Settings

    settings = Settings()
    cfg = TrainConfig(seed=seed) if epochs is None else TrainConfig(seed=seed, epochs=epochs)
    rep = run_protocol(frames, read_truth(raw), cfg, settings,
                       scorers=(*SCORERS, "gbm_gfp") if gfp else SCORERS, gfp=gfp_all)
    t = time.monotonic()
    result = compute_scores(frames, cfg, settings)
    train_s = time.monotonic() - t
    unseen = unseen_ring_pr_auc(result.scores, raw)
    print(rep, flush=True)
    print(f"  one full gnn train (compute, no MLflow): {train_s:.1f}s; `gnn evaluate` unseen-ring PR-AUC "
          f"(time split of the confirmed claims, as before): {unseen:.3f}", flush=True)
    return {"summary": rep.summary(), "table": rep.table(), "train_s": train_s, "protocol_s": rep.seconds,
            "unseen_ring_pr_auc": unseen,
            "rows": [{"typology": r.typology, "n_rings": r.n_rings, "n_members": r.n_members, "ap": r.ap,
                      "ring_recall": r.ring_recall, "candidate_recall": r.candidate_recall,
                      "candidate_precision": r.candidate_precision} for r in rep.rows]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--difficulties", nargs="+", default=["normal", "hard", "diverse"])
    ap.add_argument("--work", type=Path, default=Path("/tmp/pixring-bench-detection"))
    ap.add_argument("--epochs", type=int, default=None, help="GNN epochs (TrainConfig's default when left out)")
    ap.add_argument("--fresh", action="store_true", help="regenerate data and rebuild even when present")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--gfp", action="store_true",
                    help="also the GBM with gnn/gfp.py's features (scorer gbm_gfp), beside the default one")
    ap.add_argument("--gfp-all", action="store_true",
                    help="the GNN and the GBM both with gnn/gfp.py's features (the protocol only; `gnn train` as usual)")
    args = ap.parse_args(argv)
    results: dict[str, list[dict]] = {}
    for diff in args.difficulties:
        for seed in args.seeds:
            print(f"== {diff}, seed {seed}, scale {args.scale:g}", flush=True)
            home, raw = prepare(args.work, args.scale, seed, diff, args.fresh)
            results.setdefault(diff, []).append({"seed": seed, **one(frames_of(home, args.fresh), raw, seed, args.epochs,
                                                                   args.gfp, args.gfp_all)})
    print("\nmedians over seeds", args.seeds, f"(scale {args.scale:g})")
    keys = [("gnn_worst_ap", "loto_gnn_worst_ap"), ("gnn_mean_ap", "loto_gnn_mean_ap"),
            ("gnn_mean_ring_recall", "loto_gnn_mean_ring_recall"), ("gbm_worst_ap", "loto_gbm_worst_ap"),
            ("gbm_mean_ap", "loto_gbm_mean_ap"), ("gbm_mean_ring_recall", "loto_gbm_mean_ring_recall"),
            *((("gbm_gfp_worst_ap", "loto_gbm_gfp_worst_ap"), ("gbm_gfp_mean_ap", "loto_gbm_gfp_mean_ap"),
               ("gbm_gfp_mean_ring_recall", "loto_gbm_gfp_mean_ring_recall")) if args.gfp else ()),
            ("in_degree_worst_ap", "loto_in_degree_worst_ap"),
            ("rules_worst_ap", "loto_rules_worst_ap"), ("graph_worst_ap", "loto_graph_worst_ap"),
            ("candidates_ring_recall", "loto_candidates_ring_recall"),
            ("candidates_precision", "loto_candidates_precision")]
    medians: dict[str, dict[str, float]] = {}
    for diff, runs in results.items():
        med = {k: statistics.median(r["summary"][src] for r in runs) for k, src in keys}
        med["train_s"] = statistics.median(r["train_s"] for r in runs)
        med["unseen_ring_pr_auc"] = statistics.median(r["unseen_ring_pr_auc"] for r in runs)
        medians[diff] = med
        cells = []
        for k, v in med.items():
            target = TARGETS.get(k)
            mark = "" if target is None else (" ok" if (v <= target if k == "train_s" else v >= target) else " MISSED")
            cells.append(f"{k} {v:.3f}{mark}")
        print(f"  {diff}: " + ", ".join(cells))
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "runs": results,
                                         "medians": medians}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Investigator labels benchmark: what N confirmed ring dispositions, on top of the MED claims, do to the GNN's
AP on rings no training label touched.

    .venv/bin/python bench/bench_cases.py --scale 0.3 --n 0 10 30 --seeds 1 2 3
    .venv/bin/python bench/bench_cases.py --scale 0.2 --n 0 10 --seeds 1          # a quick look

One datagen world (``--data-seed``, ``--difficulty``) through ingest -> refine -> graph build (reused from
``bench/bench_detection.py``'s ``prepare``, under ``--work``). The truth's rings whose mules no MED claim before
the cut labels ("unseen" at the cut) are dealt, per seed, into a **disposition pool** and an **evaluation set**
(half each). For each N, N ``mula_confirmada`` dispositions dated one day before the cut are drawn from the
pool: N accounts (mules / collectors of pool rings, ``--unit usuario``, the default) or N whole pool rings
(``--unit anel``, as a ring case covers its members); N above what the pool holds is capped (the
output says how many were made). Then the GNN is trained
(:func:`gnn.train.compute_scores`: the time split of the claims, investigator labels by their date). The
figure is the AP of the GNN (and of the GBM baseline on the same labels) on the evaluation set's members, over
the users training did not label, the pool's members left out whatever N is, so every N is scored on the same
positives and population. Medians over ``--seeds`` (the training seed and the deal) per N.

``--json FILE`` writes every run. Run it under ``heavy`` (Spark and training).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _rings(raw: Path) -> dict[str, set[str]]:
    import pandas as pd

    from pixring.contract import PAPEIS_MULA, TRUTH_DIR

    m = pd.read_csv(raw / TRUTH_DIR / "ring_membros.csv", dtype=str)
    m = m[m["papel"].isin(PAPEIS_MULA)]
    return {r: set(g["id_usuario"]) for r, g in m.groupby("id_ring")}


def one(frames, rings: dict[str, set[str]], n_values: list[int], seed: int, epochs: int | None,
        unit: str = "usuario") -> list[dict]:
    import pandas as pd

    from gnn import metrics
    from gnn.data import cutoff, mule_labels
    from gnn.train import TrainConfig, compute_scores
    from pixring.settings import Settings

    settings = Settings()
    cut = cutoff(frames, 0.7)
    lab = mule_labels(frames)
    known = set(lab.loc[pd.to_datetime(lab["detectado_em"]) < cut, "id_usuario"])
    unseen = sorted(r for r, m in rings.items() if not (m & known))
    rnd = random.Random(seed)
    rnd.shuffle(unseen)
    pool, evals = unseen[: len(unseen) // 2], unseen[len(unseen) // 2:]
    pool_users = set().union(*(rings[r] for r in pool)) if pool else set()
    eval_users = set().union(*(rings[r] for r in evals)) if evals else set()
    # a disposition covers a whole ring (a ring case) or one account (an account case) of the pool
    units = [sorted(rings[r]) for r in pool] if unit == "anel" else [[u] for u in sorted(pool_users)]
    random.Random(seed + 1000).shuffle(units)
    cfg = TrainConfig(seed=seed) if epochs is None else TrainConfig(seed=seed, epochs=epochs)
    out = []
    for n in n_values:
        chosen = units[:n]
        casos = pd.DataFrame([{"id_caso": f"B{i}", "evento": "mula_confirmada", "usuarios": us,
                               "em": cut - pd.Timedelta(days=1)} for i, us in enumerate(chosen)],
                             columns=["id_caso", "evento", "usuarios", "em"])
        t = time.monotonic()
        res = compute_scores(replace(frames, casos=casos), cfg, settings)
        s = res.scores
        ids = s["id_usuario"]
        pop = ((s["y_train"] == 0) & ~ids.isin(pool_users)).to_numpy()
        y = ids.isin(eval_users).to_numpy().astype(int)
        row = {"seed": seed, "n": n, "n_dispositions": len(chosen), "n_pool": len(pool), "n_eval_rings": len(evals),
               "n_eval_mules": int(y[pop].sum()), "population": int(pop.sum()),
               "investigator_labels": res.split.n_investigator_labels, "train_s": time.monotonic() - t}
        for scorer in ("gnn", "gbm"):
            row[f"{scorer}_ap"] = metrics.pr_auc(y[pop], s[scorer].to_numpy(dtype=float)[pop])
        print(f"  seed {seed} N={n:3d} ({len(chosen)} {unit} dispositions, {row['investigator_labels']} labels): unseen-ring AP "
              f"gnn {row['gnn_ap']:.3f} gbm {row['gbm_ap']:.3f} on {row['n_eval_rings']} rings / "
              f"{row['n_eval_mules']} mules ({row['train_s']:.0f}s)", flush=True)
        out.append(row)
    return out


def main(argv: list[str] | None = None) -> int:
    from bench.bench_detection import frames_of, prepare

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=0.3)
    ap.add_argument("--data-seed", type=int, default=1)
    ap.add_argument("--difficulty", default="normal")
    ap.add_argument("--n", type=int, nargs="+", default=[0, 10, 30])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--unit", choices=("usuario", "anel"), default="usuario",
                    help="what one disposition covers: one account of a pool ring, or a whole pool ring")
    ap.add_argument("--epochs", type=int, default=None, help="GNN epochs (TrainConfig's default when left out)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/pixring-bench-cases"))
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    home, raw = prepare(args.work, args.scale, args.data_seed, args.difficulty, args.fresh)
    frames = frames_of(home, args.fresh)
    rings = _rings(raw)
    print(f"== scale {args.scale:g}, {args.difficulty}, data seed {args.data_seed}: {len(rings)} truth rings", flush=True)
    runs = []
    for seed in args.seeds:
        runs += one(frames, rings, args.n, seed, args.epochs, args.unit)
    print(f"\nmedians over seeds {args.seeds} (scale {args.scale:g}, {args.difficulty}):")
    medians = {}
    for n in args.n:
        rs = [r for r in runs if r["n"] == n]
        medians[n] = {k: statistics.median(r[k] for r in rs) for k in ("gnn_ap", "gbm_ap", "n_dispositions",
                                                                        "investigator_labels", "n_eval_mules")}
        m = medians[n]
        print(f"  N={n:3d} (median {m['n_dispositions']:.0f} {args.unit} dispositions, {m['investigator_labels']:.0f} labels): "
              f"unseen-ring AP gnn {m['gnn_ap']:.3f}, gbm {m['gbm_ap']:.3f} ({m['n_eval_mules']:.0f} evaluation mules)")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "runs": runs,
                                         "medians": medians}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

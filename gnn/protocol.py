"""The evaluation protocol: leave-one-typology-out (LOTO), every scorer side by side, worst typology first.

A detector that learned one generator's rings scores well on that generator's rings and badly on a bank's.
The protocol measures what transfers: for each typology ``T`` of the truth,

* training labels = the members of the rings of every *other* typology (``T``'s rings stay in the graph,
  unlabelled: negatives like every other unlabelled user);
* population = every user except those training positives; positives = the members of ``T``'s rings;
* per scorer: average precision (AP) there, and **ring recall** = share of ``T``'s rings with at least half of
  their members among the top ``k`` of the population (``k`` = number of positives);
* **graph candidates** (motif candidates of the graph build plus the candidates seeded from the GNN's scores,
  :mod:`graph.candidates`; and beside it the same with only the motif candidates the GNN backs, a member at or
  above its operating threshold, :func:`graph.candidates.supported_by_scores`): share of ``T``'s rings with at least half of their members inside one candidate,
  and the share of candidates that hold a member of some truth ring (candidate precision).

Scorers: ``in_degree`` (distinct payers, no learning), ``rules`` (the Pix rules, no learning), ``gbm`` (gradient
boosted trees on the users' graph + behaviour features, the Graph-Feature-Preprocessor style baseline),
``gnn`` (the training procedure of :class:`gnn.train.TrainConfig`), ``graph`` (the motif ring candidates'
per-user verdict). The GBM and the GNN are retrained for every held-out typology; nothing else is.

The truth is a bank's confirmed rings (:func:`graph.evaluate.read_ring_truth`): a CSV ``ring_id,id_usuario[,typology]`` or the
datagen ``_truth/`` folder. Without a typology column the rings are dealt into ``folds`` groups
(leave-one-group-out), so the same protocol scores a bank's own list. The headline figure is the worst
typology's AP. Pure (frames in, report out): :mod:`gnn.cli` reads the tables, ``bench/bench_detection.py``
runs it over seeds and difficulties.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from gnn import baselines, metrics
from gnn.data import USER, Frames, GraphBundle, build_graph
from pixring.errors import PixringError

log = logging.getLogger(__name__)

SCORERS: tuple[str, ...] = ("in_degree", "rules", "gbm", "gnn", "graph")
#: scorers run only when asked (``scorers=(*SCORERS, "gbm_gfp")``): the GBM on the gold features plus
#: :mod:`gnn.gfp`'s per-payment-then-per-user features, measured beside the default GBM on the same folds
OPTIONAL_SCORERS: tuple[str, ...] = ("gbm_gfp",)
LEARNED: frozenset[str] = frozenset({"gbm", "gnn", "gbm_gfp"})


# --------------------------------------------------------------------------------------------- the report


@dataclass
class TypologyResult:
    typology: str
    n_rings: int
    n_members: int  # positives in the population
    n_train_pos: int
    ap: dict[str, float] = field(default_factory=dict)
    ring_recall: dict[str, float] = field(default_factory=dict)
    candidate_recall: float = 0.0
    candidate_recall_motif: float = 0.0
    n_candidates: int = 0
    candidate_precision: float = 0.0
    #: the same with only the motif candidates the GNN backs (a member at or above its operating threshold)
    candidate_recall_backed: float = 0.0
    candidate_precision_backed: float = 0.0


@dataclass
class ProtocolReport:
    rows: list[TypologyResult]
    n_users: int
    seconds: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    def worst_ap(self, scorer: str = "gnn") -> float:
        return min((r.ap[scorer] for r in self.rows), default=0.0)

    def worst_typology(self, scorer: str = "gnn") -> str:
        return min(self.rows, key=lambda r: r.ap[scorer]).typology if self.rows else "-"

    def mean_ap(self, scorer: str = "gnn") -> float:
        return float(np.mean([r.ap[scorer] for r in self.rows])) if self.rows else 0.0

    def mean_ring_recall(self, scorer: str = "gnn") -> float:
        return float(np.mean([r.ring_recall[scorer] for r in self.rows])) if self.rows else 0.0

    def candidate_recall(self) -> float:
        """Over every ring of the truth (each scored when its typology was held out)."""
        n = sum(r.n_rings for r in self.rows)
        return sum(r.candidate_recall * r.n_rings for r in self.rows) / n if n else 0.0

    def candidate_precision(self) -> float:
        return float(np.mean([r.candidate_precision for r in self.rows])) if self.rows else 0.0

    def scorers(self) -> tuple[str, ...]:
        """:data:`SCORERS` then the optional scorers this run has."""
        extra = [s for s in OPTIONAL_SCORERS if self.rows and s in self.rows[0].ap]
        return (*SCORERS, *extra)

    def summary(self) -> dict[str, float]:
        """Flat figures (MLflow metrics, bench JSON)."""
        out: dict[str, float] = {}
        for s in self.scorers():
            out[f"loto_{s}_worst_ap"] = self.worst_ap(s)
            out[f"loto_{s}_mean_ap"] = self.mean_ap(s)
            out[f"loto_{s}_mean_ring_recall"] = self.mean_ring_recall(s)
        out["loto_candidates_ring_recall"] = self.candidate_recall()
        out["loto_candidates_precision"] = self.candidate_precision()
        n = sum(r.n_rings for r in self.rows)
        out["loto_candidates_backed_ring_recall"] = (sum(r.candidate_recall_backed * r.n_rings for r in self.rows) / n
                                                     if n else 0.0)
        out["loto_candidates_backed_precision"] = (float(np.mean([r.candidate_precision_backed for r in self.rows]))
                                                   if self.rows else 0.0)
        return out

    def table(self) -> str:
        """The per-typology markdown table: AP / ring recall of every scorer, graph candidates."""
        scorers = self.scorers()
        head = "| typology | rings | members | " + " | ".join(f"{s} AP / recall" for s in scorers) + \
            " | graph candidates: ring recall (motif only) |"
        lines = [head, "|" + "---|" * (4 + len(scorers))]
        for r in sorted(self.rows, key=lambda r: r.ap["gnn"]):
            cells = " | ".join(f"{r.ap[s]:.3f} / {r.ring_recall[s]:.2f}" for s in scorers)
            lines.append(f"| {r.typology} | {r.n_rings} | {r.n_members} | {cells} | "
                         f"{r.candidate_recall:.2f} ({r.candidate_recall_motif:.2f}) |")
        cells = " | ".join(f"**{self.worst_ap(s):.3f}** / {min(r.ring_recall[s] for r in self.rows):.2f}"
                           for s in scorers) if self.rows else ""
        lines.append(f"| **worst** | | | {cells} | |")
        cells = " | ".join(f"{self.mean_ap(s):.3f} / {self.mean_ring_recall(s):.2f}" for s in scorers)
        lines.append(f"| mean | {sum(r.n_rings for r in self.rows)} | {sum(r.n_members for r in self.rows)} | "
                     f"{cells} | {self.candidate_recall():.2f} |")
        return "\n".join(lines)

    def __str__(self) -> str:
        return "\n".join([
            f"leave-one-typology-out: {len(self.rows)} typologies, {sum(r.n_rings for r in self.rows)} rings, "
            f"{self.n_users:,} users ({self.seconds:.0f}s)",
            f"  headline: GNN worst-typology AP {self.worst_ap('gnn'):.3f} ({self.worst_typology('gnn')}), "
            f"mean AP {self.mean_ap('gnn'):.3f}, mean ring recall {self.mean_ring_recall('gnn'):.3f}; "
            f"GBM worst {self.worst_ap('gbm'):.3f}, mean {self.mean_ap('gbm'):.3f}"
            + ("".join(f"; {s} worst {self.worst_ap(s):.3f}, mean {self.mean_ap(s):.3f}"
                       for s in self.scorers() if s in OPTIONAL_SCORERS)),
            f"  graph candidates (motif + score-seeded): ring recall {self.candidate_recall():.3f}, "
            f"candidate precision {self.candidate_precision():.3f}; only the motif candidates the GNN backs: ring "
            f"recall {self.summary()['loto_candidates_backed_ring_recall']:.3f}, precision "
            f"{self.summary()['loto_candidates_backed_precision']:.3f}",
            self.table(),
        ])


# --------------------------------------------------------------------------------------------- the run


def top_k(s: np.ndarray, k: int) -> np.ndarray:
    """Mask of the ``k`` highest scores; a tie across the k-th place is left out whole (no arbitrary order:
    a constant scorer flags nobody)."""
    if k <= 0 or len(s) == 0:
        return np.zeros(len(s), dtype=bool)
    kth = np.sort(s)[::-1][min(k, len(s)) - 1]
    return s >= kth if int((s >= kth).sum()) <= k else s > kth


def _top_k_recall(ids: np.ndarray, s: np.ndarray, k: int, rings: dict[str, set[str]]) -> float:
    if k <= 0 or not rings:
        return 0.0
    return metrics.ring_recall(set(ids[top_k(s, k)]), rings)[0]


def _candidate_recall(rings: dict[str, set[str]], groups: list[set[str]]) -> float:
    if not rings:
        return 0.0
    hit = 0
    for m in rings.values():
        hit += any(len(m & g) >= 0.5 * len(m) for g in groups)
    return hit / len(rings)


def gnn_scores(bundle: GraphBundle, frames: Frames, y_train: np.ndarray, cfg) -> tuple[np.ndarray, float]:
    """Train the GNN of ``cfg`` on ``y_train``; ``(user scores, operating threshold)`` (precision
    ``cfg.flag_precision`` on the training labels, as :func:`gnn.train.compute_scores` sets it)."""
    from gnn.train import build_model, evaluate, ring_peer_mask, set_seed, train, train_minibatch

    y = torch.as_tensor(y_train, dtype=torch.float32)
    set_seed(cfg.seed, cfg.threads)
    model = build_model(bundle.data, cfg)
    mask = ring_peer_mask(bundle, frames.ring_candidates, y) if cfg.ring_peers == "exclude" else None
    (train_minibatch if cfg.minibatch else train)(model, bundle.data, y, cfg, None, mask)
    s, _ = evaluate(model, bundle.data)
    keep = np.ones(len(s), dtype=bool) if mask is None else mask.numpy()
    thr, _ = metrics.threshold_at_precision(y_train[keep], s[keep], cfg.flag_precision)
    return s, (thr if np.isfinite(thr) else 0.5)


def run_protocol(frames: Frames, truth: pd.DataFrame, cfg, settings, scorers: tuple[str, ...] = SCORERS,
                 typologies: list[str] | None = None, structure: bool = False, gfp: bool = False) -> ProtocolReport:
    """Leave-one-typology-out over ``truth`` (see the module doc).

    Args:
        frames: the gold/silver inputs (:func:`gnn.data.read_frames`).
        truth: :func:`read_truth`'s frame.
        cfg: the GNN's :class:`gnn.train.TrainConfig` (the procedure evaluated).
        settings: pixring settings (the rules' thresholds).
        scorers: which scorers to run (every one of :data:`SCORERS` by default; the rest score 0); add
            ``"gbm_gfp"`` (:data:`OPTIONAL_SCORERS`) for the GBM with :mod:`gnn.gfp`'s features beside it.
        typologies: hold out only these (all by default).
        structure: give the GBM and the GNN :mod:`gnn.structure`'s user features too.
        gfp: give the GBM and the GNN :mod:`gnn.gfp`'s user features too (then ``gbm`` and ``gbm_gfp`` are the same).
    """
    from graph.candidates import score_candidates, supported_by_scores

    t0 = time.monotonic()
    bundle, _ = build_graph(frames, structure=structure, gfp=gfp)
    ids = np.asarray(bundle.ids[USER])
    known = set(ids)
    truth = truth[truth["id_usuario"].isin(known)]
    if truth.empty:
        raise PixringError("none of the truth's users is in the graph (wrong truth for this data?)")
    rings_of = {t: {r: set(g["id_usuario"]) for r, g in tg.groupby("ring_id")} for t, tg in truth.groupby("typology")}
    every_member = set(truth["id_usuario"])
    fixed: dict[str, np.ndarray] = {}
    if "in_degree" in scorers:
        fixed["in_degree"] = bundle.raw[USER]["g_n_contrapartes_in"].to_numpy(dtype=float)
    if "rules" in scorers:
        fixed["rules"] = baselines.rules_scores(bundle, frames.transacoes_pix, settings.scoring)
    if "graph" in scorers:
        fixed["graph"] = baselines.ring_candidate_scores(bundle, frames.ring_candidates)
    gfp_x = None
    if "gbm_gfp" in scorers:
        from gnn.gfp import gfp_features

        gfp_x = bundle.raw[USER].to_numpy(dtype=float) if gfp else np.hstack([
            bundle.raw[USER].to_numpy(dtype=float),
            gfp_features(frames.transacoes_pix, bundle.ids[USER]).to_numpy(dtype=float)])
    run_scorers = (*SCORERS, *(s for s in OPTIONAL_SCORERS if s in scorers))
    motif_groups = [set(m if m is not None else []) for m in frames.ring_candidates["membros"]]
    scores_idx = pd.Index(ids)
    rows = []
    for typ in typologies or sorted(rings_of):
        held = rings_of[typ]
        train_members = set(truth.loc[truth["typology"] != typ, "id_usuario"])
        held_members = set().union(*held.values()) - train_members
        y_train = np.isin(ids, list(train_members)).astype(float)
        pop = y_train == 0
        y = np.isin(ids, list(held_members)).astype(int)
        res = TypologyResult(typology=typ, n_rings=len(held), n_members=int(y[pop].sum()),
                             n_train_pos=int(y_train.sum()))
        cols = dict(fixed)
        thr = float("nan")
        if "gbm" in scorers:
            cols["gbm"] = baselines.gbm_scores(bundle, y_train, cfg.seed) if y_train.sum() else np.zeros(len(ids))
        if gfp_x is not None:
            cols["gbm_gfp"] = (baselines.gbm_scores(bundle, y_train, cfg.seed, x=gfp_x) if y_train.sum()
                               else np.zeros(len(ids)))
        if "gnn" in scorers:
            if y_train.sum():
                cols["gnn"], thr = gnn_scores(bundle, frames, y_train, cfg)
            else:
                cols["gnn"] = np.zeros(len(ids))
        held_pop = {r: m - train_members for r, m in held.items() if m - train_members}
        for s in run_scorers:
            v = cols.get(s, np.zeros(len(ids)))
            res.ap[s] = metrics.pr_auc(y[pop], v[pop])
            res.ring_recall[s] = _top_k_recall(ids[pop], v[pop], res.n_members, held_pop)
        groups, backed = list(motif_groups), list(motif_groups)
        if "gnn" in cols and np.isfinite(thr):
            gs = pd.Series(cols["gnn"], index=scores_idx)
            seeded = [set(c.membros) for c in score_candidates(gs, frames.graph_edges, thr)]
            groups += seeded
            # the alternative measured beside it: motif candidates the model does not back are not proposed
            backed = [g for g, ok in zip(motif_groups, supported_by_scores(motif_groups, gs, thr)) if ok] + seeded
        res.candidate_recall_backed = _candidate_recall(held_pop, backed)
        res.candidate_precision_backed = (sum(bool(g & every_member) for g in backed) / len(backed)) if backed else 0.0
        res.candidate_recall = _candidate_recall(held_pop, groups)
        res.candidate_recall_motif = _candidate_recall(held_pop, motif_groups)
        res.n_candidates = len(groups)
        res.candidate_precision = (sum(bool(g & every_member) for g in groups) / len(groups)) if groups else 0.0
        log.info("LOTO %s: %d rings, %d members; AP %s", typ, res.n_rings, res.n_members,
                 {k: round(v, 3) for k, v in res.ap.items()})
        rows.append(res)
    return ProtocolReport(rows=rows, n_users=len(ids), seconds=time.monotonic() - t0,
                          meta={"scorers": list(scorers)})

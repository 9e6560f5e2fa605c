"""``pixring gnn evaluate --truth DIR``: a registered version's user scores against datagen's ground truth.

The truth is read here only (never in training). The scores are the ones the version's training run saved
(``user_scores.parquet``: the GNN and every baseline on the same users and split). Measures:

* **unseen rings**: rings none of whose mules was a training label (no confirmed case before the cut touched
  them). Population = every user except the mules of seen rings; positives = the mules and collectors of
  unseen rings. PR-AUC of each scorer there; GNN vs the best baseline.
* **ring recall at precision >= 0.80**: on that population, the lowest threshold whose account-level precision is
  >= 0.80; a ring counts when at least half of its mules are flagged.
* the same over every ring and user (training labels included: an optimistic view, for reference).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gnn import metrics
from pixring.contract import PAPEIS_MULA

SCORERS = ("gnn", "gbm", "ring_candidates", "rules")
MULE_ROLES = PAPEIS_MULA


@dataclass
class TruthReport:
    version: str
    n_rings: int
    n_unseen_rings: int
    n_never_confirmed_rings: int
    n_unseen_mules: int
    population: int
    pr_auc: dict[str, float] = field(default_factory=dict)
    roc_auc: dict[str, float] = field(default_factory=dict)
    ring_recall_p80: dict[str, float] = field(default_factory=dict)
    precision_at_t: dict[str, float] = field(default_factory=dict)
    recall_at_t: dict[str, float] = field(default_factory=dict)
    all_pr_auc: dict[str, float] = field(default_factory=dict)
    all_ring_recall_p80: dict[str, float] = field(default_factory=dict)
    never_confirmed_recall: dict[str, float] = field(default_factory=dict)

    @property
    def best_baseline(self) -> str:
        return max((s for s in SCORERS if s != "gnn"), key=lambda s: self.pr_auc.get(s, 0.0))

    def __str__(self) -> str:
        b = self.best_baseline
        lines = [
            f"gnn evaluate (model version {self.version}): {self.n_rings} planted rings, {self.n_unseen_rings} unseen "
            f"by training ({self.n_never_confirmed_rings} never confirmed at all); {self.n_unseen_mules} mules on "
            f"unseen rings among {self.population:,} users",
            f"  GNN mule PR-AUC on unseen rings:                       {self.pr_auc['gnn']:.3f}",
            f"  GNN ring recall at account precision >= 0.80 (unseen): {self.ring_recall_p80['gnn']:.3f} "
            f"(precision {self.precision_at_t['gnn']:.3f}, account recall {self.recall_at_t['gnn']:.3f})",
            f"  GNN vs best baseline ({b}) PR-AUC:                {self.pr_auc['gnn']:.3f} vs {self.pr_auc[b]:.3f} "
            f"({'GNN better' if self.pr_auc['gnn'] > self.pr_auc[b] else 'baseline better or equal'})",
            "  scorer            PR-AUC  ROC-AUC  ring-recall@p0.8  | all rings: PR-AUC ring-recall@p0.8 | never-confirmed rings recalled",
        ]
        for s in SCORERS:
            lines.append(f"  {s:16s}  {self.pr_auc[s]:.3f}   {self.roc_auc[s]:.3f}    {self.ring_recall_p80[s]:.3f}"
                         f"             |  {self.all_pr_auc[s]:.3f}  {self.all_ring_recall_p80[s]:.3f}"
                         f"               | {self.never_confirmed_recall[s]:.3f}")
        return "\n".join(lines)


def _flag_and_rings(y: np.ndarray, s: np.ndarray, ids: np.ndarray, rings: dict[str, set[str]]) -> tuple[float, float, float]:
    t, rec = metrics.threshold_at_precision(y, s, 0.8)
    if not np.isfinite(t):
        return 0.0, 0.0, 0.0
    flagged_mask = s >= t
    prec = float(y[flagged_mask].mean()) if flagged_mask.any() else 0.0
    return metrics.ring_recall(set(ids[flagged_mask]), rings)[0], prec, rec


def score_truth(scores: pd.DataFrame, members: pd.DataFrame, version: str = "?") -> TruthReport:
    """The measures from the run's per-user scores and the truth's ``ring_membros`` (pure)."""
    mules = members[members["papel"].isin(MULE_ROLES)]
    rings = {r: set(g["id_usuario"]) for r, g in mules.groupby("id_ring")}
    train_pos = set(scores.loc[scores["y_train"] == 1, "id_usuario"])
    any_pos = train_pos | set(scores.loc[scores["y_test"] == 1, "id_usuario"])
    seen = {r for r, m in rings.items() if m & train_pos}
    unseen = {r: m for r, m in rings.items() if r not in seen}
    never = {r: m for r, m in rings.items() if not (m & any_pos)}
    seen_mules = set().union(*(rings[r] for r in seen)) if seen else set()
    unseen_mules = set().union(*unseen.values()) if unseen else set()
    all_mules = set().union(*rings.values()) if rings else set()

    ids = scores["id_usuario"].to_numpy()
    pop = ~scores["id_usuario"].isin(seen_mules).to_numpy()
    y = scores["id_usuario"].isin(unseen_mules).to_numpy().astype(int)
    y_all = scores["id_usuario"].isin(all_mules).to_numpy().astype(int)
    rep = TruthReport(version=version, n_rings=len(rings), n_unseen_rings=len(unseen),
                      n_never_confirmed_rings=len(never), n_unseen_mules=int(y[pop].sum()), population=int(pop.sum()))
    for s in SCORERS:
        v = scores[s].to_numpy(dtype=float)
        rep.pr_auc[s] = metrics.pr_auc(y[pop], v[pop])
        rep.roc_auc[s] = metrics.roc_auc(y[pop], v[pop])
        rr, prec, rec = _flag_and_rings(y[pop], v[pop], ids[pop], unseen)
        rep.ring_recall_p80[s], rep.precision_at_t[s], rep.recall_at_t[s] = rr, prec, rec
        t, _ = metrics.threshold_at_precision(y[pop], v[pop], 0.8)
        flagged = set(ids[pop][v[pop] >= t]) if np.isfinite(t) else set()
        rep.never_confirmed_recall[s] = metrics.ring_recall(flagged, never)[0] if never else 0.0
        rep.all_pr_auc[s] = metrics.pr_auc(y_all, v)
        rep.all_ring_recall_p80[s] = _flag_and_rings(y_all, v, ids, rings)[0]
    return rep


def evaluate_truth(settings, truth_dir: Path | str, model_name: str | None = None,
                   version: str | None = None) -> TruthReport:
    """Evaluate the champion (or ``version``) of the registered model against ``truth_dir``."""
    from gnn import tracking
    from graph.evaluate import read_truth

    members, _ = read_truth(Path(truth_dir))
    name = model_name or settings.mlflow.model_name
    version, scores = tracking.load_user_scores(settings, name, version)
    return score_truth(scores, members, version)

"""The run's human-readable artifacts: PR curves and the model card (fairness by segment, features)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from gnn.serving import TX_FEATURES

log = logging.getLogger(__name__)

AGE_BANDS = [(-1, 30, "< 30 dias"), (30, 180, "30-180 dias"), (180, 730, "6-24 meses"), (730, 1e9, ">= 2 anos")]


def pr_curve_png(result, path: Path) -> Path | None:
    """PR curves of the GNN and the baselines on the holdout; None when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.info("matplotlib not installed: no PR curve image")
        return None
    from sklearn.metrics import precision_recall_curve

    s = result.scores
    m = s["in_test"] == 1
    y = s.loc[m, "y_test"].to_numpy()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    if y.sum() > 0:
        for name in ("gnn", "gbm", "ring_candidates", "rules"):
            p, r, _ = precision_recall_curve(y, s.loc[m, name].to_numpy())
            ax.plot(r, p, label=f"{name} (AP {result.metrics.get(f'{name}_pr_auc', 0):.3f})")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title("mule accounts confirmed after the cut")
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def fairness(scores: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """False-positive rate at the operating threshold per segment, on the holdout's negatives."""
    neg = scores[(scores["in_test"] == 1) & (scores["y_test"] == 0)].copy()
    neg["fp"] = (neg["gnn"] >= threshold).astype(int)
    neg["tipo_pessoa"] = np.where(neg["pj"] > 0, "PJ", "PF")
    neg["idade_conta"] = "?"
    for lo, hi, label in AGE_BANDS:
        neg.loc[(neg["idade_conta_d"] >= lo) & (neg["idade_conta_d"] < hi), "idade_conta"] = label
    rows = []
    for seg in ("tipo_pessoa", "idade_conta"):
        for value, g in neg.groupby(seg):
            rows.append({"segmento": seg, "valor": value, "negativos": len(g), "falsos_positivos": int(g["fp"].sum()),
                         "fpr": float(g["fp"].mean()) if len(g) else 0.0})
    return pd.DataFrame(rows)


def model_card(result) -> str:
    """Markdown: what the model is, data and split, metrics vs baselines, fairness, features, limits."""
    m, cfg, sp = result.metrics, result.cfg, result.split
    fair = fairness(result.scores, result.checkpoint.threshold)
    ck = result.checkpoint
    lines = [
        "# Model card: pixring mule-account GNN + transaction head", "",
        "**What**: heterogeneous GraphSAGE (users, Pix keys, devices; edge attributes n, amount, rejections, "
        "duration) scoring each user as a mule/collector account; a gradient-boosting head on TX_FEATURES "
        "turns the users' scores plus the transaction's own features into the served transaction probability.", "",
        "**Labels**: silver `fraudes` only (status `confirmada`): the destination user of a confirmed fraudulent "
        "transaction is a mule, known from `data_deteccao`. No generator ground truth is used in training.", "",
        f"**Split**: train on labels detected before {sp.cut} (the {cfg.cut_quantile:.0%} quantile of detection "
        f"dates; {sp.n_train_pos} users), evaluate on users first confirmed after it ({sp.n_test_pos}), the "
        "training positives excluded.", "",
        "## Holdout metrics (users confirmed after the cut)", "",
        "| model | PR-AUC | ROC-AUC | recall @ precision 0.9 | ring recall @ precision 0.8 |", "|---|---|---|---|---|",
    ]
    for name in ("gnn", "gbm", "ring_candidates", "rules"):
        lines.append(f"| {name} | {m.get(f'{name}_pr_auc', 0):.3f} | {m.get(f'{name}_roc_auc', 0):.3f} | "
                     f"{m.get(f'{name}_recall_at_p90', 0):.3f} | {m.get(f'{name}_ring_recall', 0):.3f} |")
    lines += ["", f"Transaction head, transactions after the cut: PR-AUC {m.get('tx_pr_auc', 0):.3f}, "
              f"ROC-AUC {m.get('tx_roc_auc', 0):.3f}.", "",
              f"## Fairness: false-positive rate at the operating threshold ({ck.threshold:.3f})", "",
              "| segment | value | negatives | false positives | FPR |", "|---|---|---|---|---|"]
    for r in fair.itertuples():
        lines.append(f"| {r.segmento} | {r.valor} | {r.negativos} | {r.falsos_positivos} | {r.fpr:.4f} |")
    lines += ["", "Region is not derivable: silver holds phones and e-mails only as HMAC tokens (no DDD / UF), "
              "and no address field exists; an FPR by region needs the bank's own customer region.", "",
              "## Features", "",
              *(f"* `{t}` ({len(cols)}): " + ", ".join(f"`{c}`" for c in cols) for t, cols in ck.scaler["columns"].items()),
              "* edges: POSSUI, USA, PAGOU, TRANSFERIU and their reverses; attributes log n, log amount, "
              "log rejections, log duration (h)",
              "* transaction head: " + ", ".join(f"`{c}`" for c in TX_FEATURES), "",
              "## Limits", "",
              "* Positive labels are a sample of the mules (confirmed claims reach victims' first-hop mules and "
              "their payees); unlabelled users are treated as negatives (PU learning).",
              "* Transductive: the graph (features, structure) is the current one; only labels are time-split.",
              "* Synthetic data (datagen): figures say how the model separates planted rings, not production quality."]
    return "\n".join(lines) + "\n"

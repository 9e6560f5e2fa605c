"""``pixring gnn train``: the GNN, its baselines and the transaction head, tracked and registered in MLflow.

Steps (:func:`run_training`): read gold/silver -> HeteroData -> time split of the fraudes labels -> train the
GNN (full batch, or sampled mini-batches) -> score users -> baselines on the same split -> transaction head on
TX_FEATURES of training-period transactions -> MLflow run (params, per-epoch metrics, final metrics, PR curve,
model card, user scores) -> registered pyfunc version with alias ``challenger`` -> ``champion`` when it beats
the current champion on this run's evaluation (or there is none).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from gnn import baselines, drift, metrics
from gnn.checkpoint import Checkpoint
from gnn.data import USER, Frames, GraphBundle, Split, build_graph, make_split
from gnn.features import ring_risk_by_user, tx_features
from gnn.model import HeteroSAGE
from gnn.sampling import NeighbourSampler
from gnn.serving import TX_FEATURES

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Hyper-parameters of one training run (all logged as MLflow params)."""

    hidden: int = 32
    num_layers: int = 2
    dropout: float = 0.3
    #: dropout on the input features while training: with few labels the model otherwise leans on amounts alone
    #: and misses rings whose money never moved (unseen-ring PR-AUC 0.78-0.93 over seeds without, 0.93-0.95 with)
    input_dropout: float = 0.4
    lr: float = 0.01
    weight_decay: float = 1e-3
    epochs: int = 60
    seed: int = 42
    cut_quantile: float = 0.7
    pos_weight_max: float = 200.0
    minibatch: bool = False
    fanouts: tuple[int, ...] = (10, 10)
    batch_size: int = 2048
    threads: int = 2
    log_every: int = 5
    #: operating threshold: the lowest score reaching this precision on the training labels
    flag_precision: float = 0.8
    #: positive-unlabelled learning, for the unlabelled members of a ring candidate that holds a training positive
    #: (likely mules not yet confirmed): "exclude" (left out of the loss) or "negative" (taught as clean)
    ring_peers: str = "exclude"


def set_seed(seed: int, threads: int = 2) -> None:
    """Fixed seeds everywhere, CPU threads bounded."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)


def build_model(data, cfg: TrainConfig) -> HeteroSAGE:
    """An untrained model for ``data``'s node types and relations."""
    in_dims = {t: int(data[t].x.size(1)) for t in data.node_types}
    edge_dim = int(next(iter(data.edge_attr_dict.values())).size(1))
    return HeteroSAGE(in_dims, list(data.edge_types), edge_dim, cfg.hidden, cfg.num_layers, cfg.dropout,
                      input_dropout=cfg.input_dropout)


def _loss_fn(y: Tensor, cap: float, mask: Tensor | None = None) -> Callable[[Tensor, Tensor, Tensor | None], Tensor]:
    """Weighted BCE over the users in ``mask`` (all when None): ``loss(logits, y, index)``, ``index`` selecting
    the users of a mini-batch (None = every user, full batch)."""
    keep = torch.ones_like(y, dtype=torch.bool) if mask is None else mask
    pos = float(y[keep].sum())
    pw = min((int(keep.sum()) - pos) / max(pos, 1.0), cap)
    bce = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pw), reduction="none")
    w = keep.float()

    def loss(logits: Tensor, target: Tensor, index: Tensor | None = None) -> Tensor:
        wi = w if index is None else w[index]
        return (bce(logits, target) * wi).sum() / wi.sum().clamp(min=1.0)

    return loss


def ring_peer_mask(bundle: GraphBundle, ring_candidates: pd.DataFrame, y_train: Tensor) -> Tensor:
    """``[N_users]`` bool, False for the unlabelled members of ring candidates holding a training positive.

    Positive-unlabelled data: a confirmed case labels the mule a victim's money reached; the other members of the
    same candidate ring are more likely unconfirmed mules than clean accounts, so teaching them as negatives
    would teach the model "was claimed against" rather than "is a mule". They are left out of the loss.
    """
    keep = torch.ones(len(y_train), dtype=torch.bool)
    if ring_candidates.empty:
        return keep
    pos_ids = set(np.asarray(bundle.ids[USER])[y_train.numpy() > 0])
    peers: set[str] = set()
    for members in ring_candidates["membros"]:
        m = set(members if members is not None else [])
        if m & pos_ids:
            peers |= m - pos_ids
    idx = bundle.index_of(USER, sorted(peers))
    keep[torch.as_tensor(idx[idx >= 0], dtype=torch.long)] = False
    return keep


def train(model: HeteroSAGE, data, y: Tensor, cfg: TrainConfig,
          on_epoch: Callable[[int, dict[str, float]], None] | None = None, mask: Tensor | None = None) -> list[float]:
    """Full-batch training on every user in ``mask`` (all when None; unlabelled users are negatives, positives
    weighted by ``pos_weight``).

    Returns the loss per epoch; ``on_epoch(epoch, metrics)`` is called every ``cfg.log_every`` epochs.
    """
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    loss_fn = _loss_fn(y, cfg.pos_weight_max, mask)
    losses = []
    for epoch in range(cfg.epochs):
        model.train()
        opt.zero_grad()
        logits, _ = model(data.x_dict, data.edge_index_dict, data.edge_attr_dict)
        loss = loss_fn(logits, y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if on_epoch and (epoch % cfg.log_every == 0 or epoch == cfg.epochs - 1):
            on_epoch(epoch, {"loss": losses[-1]})
    return losses


def train_minibatch(model: HeteroSAGE, data, y: Tensor, cfg: TrainConfig,
                    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
                    mask: Tensor | None = None) -> list[float]:
    """Mini-batch training on sampled subgraphs (:class:`gnn.sampling.NeighbourSampler`); loss per epoch."""
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    loss_fn = _loss_fn(y, cfg.pos_weight_max, mask)
    sampler = NeighbourSampler(data, list(cfg.fanouts), cfg.batch_size, seed=cfg.seed)
    losses = []
    for epoch in range(cfg.epochs):
        model.train()
        total, n = 0.0, 0
        for batch in sampler:
            opt.zero_grad()
            logits, _ = model(batch.x_dict, batch.edge_index_dict, batch.edge_attr_dict)
            bs = batch.batch_size
            seeds = batch[USER].n_id[:bs]
            loss = loss_fn(logits[:bs], y[seeds], seeds)
            loss.backward()
            opt.step()
            total += loss.item() * bs
            n += bs
        losses.append(total / max(n, 1))
        if on_epoch and (epoch % cfg.log_every == 0 or epoch == cfg.epochs - 1):
            on_epoch(epoch, {"loss": losses[-1]})
    return losses


@torch.no_grad()
def evaluate(model: HeteroSAGE, data) -> tuple[np.ndarray, dict[str, Tensor]]:
    """Scores (probabilities) of the users ``[N_users]`` and every node's embedding."""
    model.eval()
    logits, emb = model(data.x_dict, data.edge_index_dict, data.edge_attr_dict)
    return torch.sigmoid(logits).numpy().astype(float), emb


def score_graph(ckpt: Checkpoint, frames: Frames) -> tuple[GraphBundle, np.ndarray, dict[str, Tensor], HeteroSAGE]:
    """Build the graph with the checkpoint's scaler and score it: ``(bundle, user scores, embeddings, model)``."""
    bundle, _ = build_graph(frames, ckpt.scaler_obj())
    model = ckpt.model()
    scores, emb = evaluate(model, bundle.data)
    return bundle, scores, emb, model


# ------------------------------------------------------------------------------------ transaction head


def tx_training_set(frames: Frames, user_scores: pd.Series, cut: pd.Timestamp) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray]:
    """TX_FEATURES and labels of the transactions before / after the cut (labels: confirmed cases known then)."""
    tx = frames.transacoes_pix
    feats = tx_features(tx, user_scores, ring_risk_by_user(frames.ring_candidates))
    f = frames.fraudes
    f = f[f["status"] == "confirmada"]
    det = pd.to_datetime(f["data_deteccao"])
    known = set(f.loc[(det < cut).to_numpy(), "id_transacao"])
    later = set(f.loc[(det >= cut).to_numpy(), "id_transacao"])
    ts = pd.to_datetime(tx["timestamp"])
    before = (ts < cut).to_numpy()
    y_all_known = tx["id_transacao"].isin(known).to_numpy().astype(int)
    y_later = tx["id_transacao"].isin(later | known).to_numpy().astype(int)
    return feats[before], y_all_known[before], feats[~before], y_later[~before]


def fit_tx_head(x: pd.DataFrame, y: np.ndarray, seed: int):
    """A small gradient-boosting classifier on TX_FEATURES (probabilities left uncalibrated-by-weighting)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    clf = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, max_leaf_nodes=15,
                                         l2_regularization=1.0, random_state=seed)
    clf.fit(x[list(TX_FEATURES)].to_numpy(dtype=float), y)
    return clf


# ----------------------------------------------------------------------------------------------- the run


@dataclass
class TrainResult:
    cfg: TrainConfig
    split: Split
    scores: pd.DataFrame  # per user: id_usuario, gnn, rules, gbm, ring_candidates, y_train, y_test, in_test
    metrics: dict[str, float]
    history: list[dict[str, float]]
    checkpoint: Checkpoint
    head: Any
    tx_sample: pd.DataFrame
    #: training distribution of the transaction features and scores (:mod:`gnn.drift`), served for PSI
    reference: dict = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    version: str | None = None
    champion: bool = False
    run_id: str | None = None
    model_name: str | None = None

    def __str__(self) -> str:
        m = self.metrics
        lines = [f"gnn train: model {self.model_name} version {self.version} "
                 f"({'champion' if self.champion else 'challenger'}), run {self.run_id}",
                 f"  cut {self.split.cut} | train positives {self.split.n_train_pos} | later positives {self.split.n_test_pos}",
                 f"  investigator labels {self.split.n_investigator_labels} ({self.split.n_investigator_pos} confirmed, "
                 f"{self.split.n_investigator_neg} dismissed; {self.split.n_investigator_after_cut} after the cut, unused)",
                 f"  training {self.seconds.get('train', 0):.1f}s, total {self.seconds.get('total', 0):.1f}s"]
        for name in ("gnn", "gbm", "rules", "ring_candidates"):
            lines.append(f"  {name:16s} PR-AUC {m.get(f'{name}_pr_auc', 0):.3f}  ROC-AUC {m.get(f'{name}_roc_auc', 0):.3f}  "
                         f"recall@p0.9 {m.get(f'{name}_recall_at_p90', 0):.3f}  ring recall {m.get(f'{name}_ring_recall', 0):.3f}")
        lines.append(f"  tx head PR-AUC (later transactions) {m.get('tx_pr_auc', 0):.3f}")
        return "\n".join(lines)


def later_rings(frames: Frames, bundle: GraphBundle, cut: pd.Timestamp) -> dict[str, set[str]]:
    """The bank's view of rings for ring-level recall: ring candidates (graph) restricted to users confirmed
    after the cut; a candidate counts as a ring when it holds such users."""
    from gnn.data import mule_labels

    lab = mule_labels(frames)
    later = set(lab.loc[(pd.to_datetime(lab["detectado_em"]) >= cut).to_numpy(), "id_usuario"])
    comm = bundle.community.dropna()
    rings: dict[str, set[str]] = {}
    for u, c in comm.items():
        if u in later:
            rings.setdefault(c, set()).add(u)
    return rings


def compute_scores(frames: Frames, cfg: TrainConfig, settings,
                   on_epoch: Callable[[int, dict[str, float]], None] | None = None) -> TrainResult:
    """Everything but MLflow: graph, split, GNN, baselines, holdout metrics, transaction head."""
    t0 = time.monotonic()
    set_seed(cfg.seed, cfg.threads)
    bundle, scaler = build_graph(frames)
    split = make_split(frames, bundle, cfg.cut_quantile)
    log.info("split at %s: %d train positives, %d later positives", split.cut, split.n_train_pos, split.n_test_pos)
    data = bundle.data
    history: list[dict[str, float]] = []
    test_mask = split.test_mask.numpy()
    y_test = split.y_test.numpy()
    set_seed(cfg.seed, cfg.threads)
    model = build_model(data, cfg)

    def epoch_hook(epoch: int, m: dict[str, float]) -> None:
        s, _ = evaluate(model, data)
        m = dict(m, holdout_pr_auc=metrics.pr_auc(y_test[test_mask], s[test_mask]),
                 train_pr_auc=metrics.pr_auc(split.y_train.numpy(), s))
        history.append({"epoch": epoch, **m})
        if on_epoch:
            on_epoch(epoch, m)

    t1 = time.monotonic()
    mask = None
    if cfg.ring_peers == "exclude":
        mask = ring_peer_mask(bundle, frames.ring_candidates, split.y_train)
        if split.known_negative is not None:
            mask = mask | split.known_negative  # a dismissed peer is a negative the investigator vouched for
        log.info("positive-unlabelled: %d unlabelled ring-candidate peers of training positives left out of the loss",
                 int((~mask).sum()))
    (train_minibatch if cfg.minibatch else train)(model, data, split.y_train, cfg, epoch_hook, mask)
    t_train = time.monotonic() - t1
    gnn_scores, _ = evaluate(model, data)

    y_tr = split.y_train.numpy()
    keep = np.ones(len(y_tr), dtype=bool) if mask is None else mask.numpy()
    thr, _ = metrics.threshold_at_precision(y_tr[keep], gnn_scores[keep], cfg.flag_precision)
    if not np.isfinite(thr):
        thr = 0.5
    cols = {
        "gnn": gnn_scores,
        "rules": baselines.rules_scores(bundle, frames.transacoes_pix, settings.scoring),
        "gbm": baselines.gbm_scores(bundle, y_tr, cfg.seed),
        "ring_candidates": baselines.ring_candidate_scores(bundle, frames.ring_candidates),
    }
    raw_u = bundle.raw[USER]
    scores = pd.DataFrame({"id_usuario": bundle.ids[USER], **cols, "y_train": y_tr.astype(int),
                           "y_test": y_test.astype(int), "in_test": test_mask.astype(int),
                           "pj": raw_u["pj"].to_numpy(), "idade_conta_d": raw_u["idade_conta_d"].to_numpy(),
                           "id_comunidade": bundle.community.to_numpy()})
    rings = later_rings(frames, bundle, split.cut)
    out: dict[str, float] = {"threshold": thr, "n_train_pos": split.n_train_pos, "n_test_pos": split.n_test_pos,
                             "cut_epoch_s": split.cut.timestamp(),
                             "n_investigator_labels": split.n_investigator_labels,
                             "n_investigator_pos": split.n_investigator_pos,
                             "n_investigator_neg": split.n_investigator_neg,
                             "n_investigator_after_cut": split.n_investigator_after_cut}
    for name in cols:
        s = scores[name].to_numpy()
        for k, v in metrics.summary(y_test[test_mask], s[test_mask]).items():
            out[f"{name}_{k}"] = v
        t80, _ = metrics.threshold_at_precision(y_test[test_mask], s[test_mask], 0.8)
        flagged = set(scores.loc[test_mask & (s >= t80), "id_usuario"]) if np.isfinite(t80) else set()
        out[f"{name}_ring_recall"] = metrics.ring_recall(flagged, rings)[0]
    best_base = max(out[f"{b}_pr_auc"] for b in ("rules", "gbm", "ring_candidates"))
    out["gnn_minus_best_baseline_pr_auc"] = out["gnn_pr_auc"] - best_base

    user_scores = pd.Series(gnn_scores, index=bundle.ids[USER])
    x_tr, y_tx, x_te, y_tx_te = tx_training_set(frames, user_scores, split.cut)
    head = fit_tx_head(x_tr, y_tx, cfg.seed) if y_tx.sum() > 0 else None
    if head is None:
        from pixring.errors import PixringError

        raise PixringError("no confirmed fraudulent transaction before the cut: cannot train the transaction head")
    if len(x_te):
        p = head.predict_proba(x_te[list(TX_FEATURES)].to_numpy(dtype=float))[:, 1]
        out["tx_pr_auc"] = metrics.pr_auc(y_tx_te, p)
        out["tx_roc_auc"] = metrics.roc_auc(y_tx_te, p)
    out["tx_train_rows"], out["tx_train_pos"] = float(len(x_tr)), float(y_tx.sum())
    x_ref = x_tr[list(TX_FEATURES)].astype(float)
    reference = drift.reference_from(x_ref, head.predict_proba(x_ref.to_numpy(dtype=float))[:, 1])

    ckpt = Checkpoint(
        state_dict={k: v.detach().clone() for k, v in model.state_dict().items()},
        config=asdict(cfg), scaler=scaler.as_dict(), threshold=float(thr),
        in_dims={t: int(data[t].x.size(1)) for t in data.node_types},
        edge_types=[tuple(e) for e in data.edge_types],
        edge_dim=int(next(iter(data.edge_attr_dict.values())).size(1)),
    )
    sample = x_tr.head(200) if len(x_tr) else pd.DataFrame(columns=list(TX_FEATURES))
    return TrainResult(cfg=cfg, split=split, scores=scores, metrics=out, history=history, checkpoint=ckpt,
                       head=head, tx_sample=sample[list(TX_FEATURES)].astype(float), reference=reference,
                       seconds={"train": t_train, "total": time.monotonic() - t0})


def holdout_pr_auc(ckpt: Checkpoint, frames: Frames, split: Split) -> float:
    """A (e.g. champion's) checkpoint's PR-AUC on this run's holdout (same split, same graph)."""
    _, s, _, _ = score_graph(ckpt, frames)
    mask = split.test_mask.numpy()
    return metrics.pr_auc(split.y_test.numpy()[mask], s[mask])


def config_of(ckpt: Checkpoint) -> TrainConfig:
    """The training procedure a checkpoint came from (fields unknown to this code dropped, lists as tuples)."""
    known = {f for f in TrainConfig.__dataclass_fields__}
    return TrainConfig(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in ckpt.config.items() if k in known})


def protocol_gate(frames: Frames, truth: pd.DataFrame, cfg: TrainConfig, champion_cfg: TrainConfig | None,
                  settings) -> tuple[float, float]:
    """The champion gate on the protocol's metric: ``(challenger, champion)`` leave-one-typology-out
    worst-typology AP of the GNN procedures (each retrained per held-out typology on the same graph and truth;
    champion -1 when there is none). The comparison is of procedures, not of fixed weights: LOTO retrains."""
    from gnn.protocol import run_protocol

    new = run_protocol(frames, truth, cfg, settings, scorers=("gnn",))
    log.info("protocol, challenger:\n%s", new.table())
    if champion_cfg is None:
        return new.worst_ap("gnn"), -1.0
    old = run_protocol(frames, truth, champion_cfg, settings, scorers=("gnn",))
    log.info("protocol, champion:\n%s", old.table())
    return new.worst_ap("gnn"), old.worst_ap("gnn")


def run_training(spark, settings, cfg: TrainConfig, model_name: str | None = None,
                 frames: Frames | None = None, truth: pd.DataFrame | None = None) -> TrainResult:
    """The job: read, train, evaluate, track, register, apply the champion rule.

    With ``truth`` (confirmed rings, :func:`graph.evaluate.read_ring_truth`) the champion rule is the
    protocol's: the new version becomes champion when its procedure's leave-one-typology-out worst-typology AP
    is strictly higher than the champion's on the same graph and truth. Without it, the bank's time-split
    holdout PR-AUC decides (no truth needed).
    """
    from gnn import tracking
    from gnn.data import read_frames

    frames = frames or read_frames(spark, settings)
    name = model_name or settings.mlflow.model_name
    with tracking.Run(settings, run_name=f"gnn-{time.strftime('%Y%m%d-%H%M%S')}") as run:
        run.log_params({**{k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()},
                        "model_name": name, "champion_gate": "loto_worst_ap" if truth is not None else "holdout_pr_auc"})
        result = compute_scores(frames, cfg, settings, on_epoch=run.log_epoch)
        result.model_name, result.run_id = name, run.run_id
        run.log_metrics(result.metrics)
        run.log_params({"investigator_labels": result.split.n_investigator_labels})
        run.log_report_artifacts(result)
        result.version = run.register_model(name, result)
        champion = tracking.champion_checkpoint(settings, name)
        promote = True
        if truth is not None:
            champ_cfg = config_of(champion[1]) if champion is not None else None
            mine, theirs = protocol_gate(frames, truth, cfg, champ_cfg, settings)
            result.metrics["loto_gnn_worst_ap"] = mine
            run.log_metrics({"loto_gnn_worst_ap": mine, "champion_loto_gnn_worst_ap": theirs})
            promote = champion is None or mine > theirs
            log.info("challenger v%s LOTO worst-typology AP %.4f vs champion %.4f -> %s", result.version, mine,
                     theirs, "promote" if promote else "keep")
        elif champion is not None:
            champ_version, champ_ckpt = champion
            try:
                champ_score = holdout_pr_auc(champ_ckpt, frames, result.split)
            except Exception as exc:  # noqa: BLE001 - an incompatible older model: the new one replaces it
                log.warning("champion v%s could not be evaluated on this split (%s); it is replaced", champ_version, exc)
                champ_score = -1.0
            run.log_metrics({"champion_holdout_pr_auc": champ_score})
            promote = result.metrics["gnn_pr_auc"] > champ_score
            log.info("challenger v%s PR-AUC %.4f vs champion v%s %.4f -> %s", result.version,
                     result.metrics["gnn_pr_auc"], champ_version, champ_score, "promote" if promote else "keep")
        tracking.set_aliases(settings, name, result.version, champion=promote)
        result.champion = promote
    return result

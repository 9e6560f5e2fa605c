"""Gold (and silver labels) -> pandas -> a PyG ``HeteroData`` of users, keys and devices.

Reading is the only Spark part (:func:`read_frames`); everything after it is pure pandas/torch so the tests
can feed small frames. Labels come from silver ``fraudes`` (confirmed MED cases, with their detection
date) joined to silver ``transacoes_pix``: the destination user of a confirmed fraudulent transaction is a
positive (mule) label, known from the case's ``data_deteccao``; and from the investigators' dispositions in
gold ``cases`` (:func:`investigator_labels`): ``mula_confirmada`` is a positive, ``descartado`` a negative, each
known from its date ``em``. datagen's ``_truth/`` is never read here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch_geometric.data import HeteroData

from gnn.gfp import gfp_features
from gnn.structure import structure_features
from graph.schemas import FEATURE_COLUMNS
from pixring.contract import CASES_TABLE, DISPOSICAO_ROTULO, EDGE_ENDPOINTS, TIMEZONE

log = logging.getLogger(__name__)

USER, KEY, DEVICE = "usuario", "chave", "dispositivo"
NODE_TYPES: tuple[str, ...] = (USER, KEY, DEVICE)
#: gold graph_edges.tipo -> (src type, dst type)
RELATIONS: dict[str, tuple[str, str]] = EDGE_ENDPOINTS
EDGE_ATTRS: tuple[str, ...] = ("log_n", "log_valor", "log_rejeitadas", "log_duracao_h")
CONFIRMED = "confirmada"

BEHAVIOUR = (
    "n_tx_out", "n_tx_in", "valor_out", "valor_in", "max_tx_out_1h", "max_tx_out_24h", "max_tx_in_1h",
    "max_tx_in_24h", "max_valor_out_24h", "n_contrapartes_out", "n_contrapartes_in", "pct_noturno",
    "idade_na_primeira_tx_h", "idade_media_tx_h", "valor_repassado_1h", "pct_repasse_1h", "n_tx_rejeitadas_out",
)
USER_BEHAVIOUR = (*BEHAVIOUR, "n_tx_dispositivo_novo", "pct_tx_dispositivo_novo", "n_chaves", "n_dispositivos")
KEY_TYPES = ("cpf", "cnpj", "email", "telefone", "aleatoria")
DEVICE_TYPES = ("android", "ios", "web", "tablet")

#: What each reader selects (Decimal columns are cast to double before pandas).
GOLD_COLUMNS: dict[str, list[str]] = {
    "graph_vertices": ["id", "tipo", "tipo_pessoa", "tipo_chave", "tipo_dispositivo", "data_cadastro",
                       "id_comunidade", "pagerank", "grau_in", "grau_out"],
    "graph_edges": ["src", "dst", "tipo", "n", "valor_total", "primeiro", "ultimo", "n_rejeitadas"],
    "graph_features": ["id_usuario", *FEATURE_COLUMNS, "id_comunidade", "em_anel"],
    "features_usuario": ["id_usuario", *USER_BEHAVIOUR],
    "features_chave": ["chave_pix", *BEHAVIOUR],
    "ring_candidates": ["id_anel", "membros", "nucleo", "risco"],
}
#: gold ``cases`` (optional: no table, no investigator labels); the notes are never read
CASES_READ: list[str] = ["id_caso", "evento", "usuarios", "em"]
SILVER_COLUMNS: dict[str, list[str]] = {
    "fraudes": ["id_fraude", "id_transacao", "data_deteccao", "status"],
    "transacoes_pix": ["id_transacao", "timestamp", "valor", "chave_pix_origem", "chave_pix_destino", "status",
                       "id_usuario_origem", "id_usuario_destino", "idade_chave_destino_h"],
}


@dataclass
class Frames:
    """The pandas inputs of training and embedding (gold graph + features, silver labels)."""

    graph_vertices: pd.DataFrame
    graph_edges: pd.DataFrame
    graph_features: pd.DataFrame
    features_usuario: pd.DataFrame
    features_chave: pd.DataFrame
    ring_candidates: pd.DataFrame
    fraudes: pd.DataFrame
    transacoes_pix: pd.DataFrame
    #: investigator case events (gold ``cases``: ``id_caso, evento, usuarios, em``); empty when none
    casos: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CASES_READ))
    meta: dict[str, Any] = field(default_factory=dict)


def read_frames(spark, settings, with_labels: bool = True) -> Frames:
    """Read the gold/silver tables with Spark (Decimals as doubles) into pandas."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DecimalType

    from lakehouse import delta
    from lakehouse.paths import table_path
    from pixring.errors import PixringError

    from pixring import ledger

    spark.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
    erased = ledger.load(settings)

    def load(layer: str, name: str, cols: list[str]) -> pd.DataFrame:
        path = table_path(settings, layer, name)
        if not delta.is_table(spark, path):
            raise PixringError(f"no {layer} {name} table at {path}: run refine / `pixring graph build` first")
        df = ledger.without_erased(spark.read.format("delta").load(path), erased)  # nobody erased is trained on
        df = df.select(*[F.col(c).cast("double") if isinstance(df.schema[c].dataType, DecimalType) else F.col(c)
                         for c in cols])
        return df.toPandas()

    out = {name: load("gold", name, cols) for name, cols in GOLD_COLUMNS.items()}
    for name, cols in SILVER_COLUMNS.items():
        out[name] = load("silver", name, cols) if with_labels or name == "transacoes_pix" else pd.DataFrame(columns=cols)
    if with_labels and delta.is_table(spark, table_path(settings, "gold", CASES_TABLE)):
        out["casos"] = load("gold", CASES_TABLE, CASES_READ)
    return Frames(**out)


# ------------------------------------------------------------------------------------------------- labels


def confirmed_cases(frames: Frames) -> pd.DataFrame:
    """Confirmed MED cases joined to their transaction: ``id_transacao, data_deteccao, id_usuario_destino``."""
    f = frames.fraudes
    f = f[f["status"] == CONFIRMED][["id_transacao", "data_deteccao"]]
    tx = frames.transacoes_pix[["id_transacao", "id_usuario_origem", "id_usuario_destino"]]
    return f.merge(tx, on="id_transacao", how="inner")


def cutoff(frames: Frames, quantile: float) -> pd.Timestamp:
    """The split instant: the ``quantile`` of the confirmed cases' detection dates."""
    cases = confirmed_cases(frames)
    if cases.empty:
        from pixring.errors import PixringError

        raise PixringError("no confirmed fraud cases (silver fraudes, status 'confirmada') to learn from")
    return pd.Timestamp(pd.to_datetime(cases["data_deteccao"]).quantile(quantile, interpolation="lower"))


def _local(values: pd.Series) -> pd.Series:
    """Times as every frame holds them: naive local time (:data:`TIMEZONE`, the Spark session's zone);
    offset-aware values are converted first."""
    ts = pd.to_datetime(values)
    return ts.dt.tz_convert(TIMEZONE).dt.tz_localize(None) if ts.dt.tz is not None else ts


def investigator_events(frames: Frames) -> pd.DataFrame:
    """Every labelling disposition per covered account: ``id_usuario, rotulo (1/0), em`` (naive local), by time."""
    c = getattr(frames, "casos", None)  # frames pickled before the field existed have none
    if c is None or c.empty:
        return pd.DataFrame({"id_usuario": pd.Series(dtype=object), "rotulo": pd.Series(dtype=int),
                             "em": pd.Series(dtype="datetime64[ns]")})
    c = c[c["evento"].isin(list(DISPOSICAO_ROTULO))][["evento", "usuarios", "em"]]
    c = c.explode("usuarios").dropna(subset=["usuarios"]).rename(columns={"usuarios": "id_usuario"})
    out = pd.DataFrame({"id_usuario": c["id_usuario"].astype(str).to_numpy(),
                        "rotulo": c["evento"].map(DISPOSICAO_ROTULO).astype(int).to_numpy(),
                        "em": _local(c["em"]).to_numpy()})
    return out.sort_values(["em", "id_usuario"], kind="stable").reset_index(drop=True)


def investigator_labels(frames: Frames, before: pd.Timestamp | None = None) -> pd.DataFrame:
    """Per account, its latest labelling disposition dated before ``before`` (all when None):
    ``id_usuario, rotulo, em``. A later disposition replaces an earlier one (the investigator changed their mind)."""
    ev = investigator_events(frames)
    if before is not None:
        ev = ev[ev["em"] < _as_naive(before)]
    return ev.groupby("id_usuario", as_index=False).last()[["id_usuario", "rotulo", "em"]]


def _as_naive(ts: pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(ts)
    return ts.tz_convert(TIMEZONE).tz_localize(None) if ts.tzinfo is not None else ts


def mule_labels(frames: Frames) -> pd.DataFrame:
    """Per positive user, the first time it was known positive: a confirmed MED case paying it (``data_deteccao``)
    or an investigator's ``mula_confirmada`` (``em``): ``id_usuario, detectado_em``."""
    cases = confirmed_cases(frames).dropna(subset=["id_usuario_destino"])
    med = pd.DataFrame({"id_usuario": cases["id_usuario_destino"].to_numpy(),
                        "detectado_em": pd.to_datetime(cases["data_deteccao"]).to_numpy()})
    inv = investigator_events(frames)
    inv = inv[inv["rotulo"] == 1]
    if not inv.empty:
        med = pd.concat([med, pd.DataFrame({"id_usuario": inv["id_usuario"].to_numpy(),
                                            "detectado_em": inv["em"].to_numpy()})], ignore_index=True)
    return med.groupby("id_usuario", as_index=False)["detectado_em"].min()


# ------------------------------------------------------------------------------------------------ features


def _slog(x: pd.Series | np.ndarray) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    return np.sign(a) * np.log1p(np.abs(a))


def reference_time(frames: Frames) -> pd.Timestamp:
    """The graph's "now": the last transaction (ages are measured against it)."""
    ts = pd.to_datetime(frames.transacoes_pix["timestamp"])
    if ts.empty or ts.isna().all():
        ts = pd.to_datetime(frames.graph_edges["ultimo"]).dropna()
    return pd.Timestamp(ts.max()) if not ts.empty else pd.Timestamp("2026-01-01")


def _age_days(dates: pd.Series, now: pd.Timestamp) -> np.ndarray:
    d = pd.to_datetime(dates)
    return ((now - d).dt.total_seconds() / 86400.0).fillna(-1.0).clip(lower=-1.0).to_numpy()


def _onehot(values: pd.Series, cats: tuple[str, ...], prefix: str) -> pd.DataFrame:
    return pd.DataFrame({f"{prefix}_{c}": (values == c).astype(float).to_numpy() for c in cats}, index=values.index)


def raw_node_features(frames: Frames, structure: bool = False, gfp: bool = False) -> dict[str, pd.DataFrame]:
    """Numeric features per node type, indexed by node id (before scaling).

    users: graph_features (17) + features_usuario behaviour + PJ flag + account age + the risk of the ring
    candidates holding the user as a member / in the core (0 when none) + the temporal flow structure of
    :mod:`gnn.structure` when ``structure`` (``s_`` columns: time-respecting cycles, forwards, scatter-gather,
    in -> out; off by default: it did not win the protocol when measured, see docs/gnn.md) + the counterparty
    activity of :mod:`gnn.gfp` when ``gfp`` (``gfp_`` columns; off by default, see docs/gnn.md);
    keys: features_chave behaviour + key type one-hot + key age;
    devices: type one-hot + users bound + logins + failed logins + age.
    """
    now = reference_time(frames)
    v = frames.graph_vertices
    # sorted by id: the node order (and so a seeded run) does not depend on how Spark returned the rows
    users = v[v["tipo"] == USER].drop_duplicates("id").set_index("id").sort_index()
    keys = v[v["tipo"] == KEY].drop_duplicates("id").set_index("id").sort_index()
    devices = v[v["tipo"] == DEVICE].drop_duplicates("id").set_index("id").sort_index()

    gf = frames.graph_features.drop_duplicates("id_usuario").set_index("id_usuario")[list(FEATURE_COLUMNS)]
    fu = frames.features_usuario.drop_duplicates("id_usuario").set_index("id_usuario")[list(USER_BEHAVIOUR)]
    u = pd.DataFrame(index=users.index)
    u = u.join(gf.add_prefix("g_")).join(fu.add_prefix("b_"))
    for c in ("b_idade_na_primeira_tx_h", "b_idade_media_tx_h"):
        u[c + "_nulo"] = u[c].isna().astype(float)
    u = u.fillna(0.0).astype(float)
    u["pj"] = (users["tipo_pessoa"] == "PJ").astype(float)
    rc = frames.ring_candidates
    for col, name in (("membros", "anel_membro"), ("nucleo", "anel_nucleo")):
        ex = rc[[col, "risco"]].explode(col).dropna(subset=[col]) if len(rc) else pd.DataFrame(columns=[col, "risco"])
        u[name] = ex.groupby(col)["risco"].max().reindex(u.index).fillna(0.0).astype(float).to_numpy()
    u["idade_conta_d"] = _age_days(users["data_cadastro"], now)
    if structure:
        u = u.join(structure_features(frames.transacoes_pix, u.index).add_prefix("s_"))
    if gfp:
        u = u.join(gfp_features(frames.transacoes_pix, u.index))

    fc = frames.features_chave.drop_duplicates("chave_pix").set_index("chave_pix")[list(BEHAVIOUR)]
    k = pd.DataFrame(index=keys.index).join(fc.add_prefix("b_"))
    for c in ("b_idade_na_primeira_tx_h", "b_idade_media_tx_h"):
        k[c + "_nulo"] = k[c].isna().astype(float)
    k = k.fillna(0.0).astype(float)
    k = k.join(_onehot(keys["tipo_chave"], KEY_TYPES, "tipo"))
    k["idade_chave_d"] = _age_days(keys["data_cadastro"], now)
    k["grau_in"], k["grau_out"] = keys["grau_in"].astype(float), keys["grau_out"].astype(float)

    e = frames.graph_edges
    usa = e[e["tipo"] == "USA"]
    per_dev = usa.groupby("dst").agg(n_usuarios=("src", "nunique"), n_logins=("n", "sum"),
                                     n_falhas=("n_rejeitadas", "sum"))
    d = pd.DataFrame(index=devices.index).join(per_dev).fillna(0.0).astype(float)
    d = d.join(_onehot(devices["tipo_dispositivo"], DEVICE_TYPES, "tipo"))
    d["idade_disp_d"] = _age_days(devices["data_cadastro"], now)
    return {USER: u, KEY: k, DEVICE: d}


@dataclass
class Scaler:
    """Signed log1p then z-score, per node type; fitted once at training and shipped with the weights."""

    columns: dict[str, list[str]]
    mean: dict[str, list[float]]
    std: dict[str, list[float]]

    @classmethod
    def fit(cls, raw: dict[str, pd.DataFrame]) -> Scaler:
        cols, mean, std = {}, {}, {}
        for t, df in raw.items():
            a = _slog(df.to_numpy()) if len(df) else np.zeros((1, df.shape[1]))
            cols[t] = list(df.columns)
            mean[t] = a.mean(axis=0).tolist()
            std[t] = np.where(a.std(axis=0) > 1e-9, a.std(axis=0), 1.0).tolist()
        return cls(cols, mean, std)

    def transform(self, raw: dict[str, pd.DataFrame]) -> dict[str, torch.Tensor]:
        out = {}
        for t, df in raw.items():
            df = df.reindex(columns=self.columns[t], fill_value=0.0)
            a = (_slog(df.to_numpy()) - np.asarray(self.mean[t])) / np.asarray(self.std[t])
            out[t] = torch.tensor(np.clip(a, -10, 10), dtype=torch.float32).reshape(len(df), len(self.columns[t]))
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"columns": self.columns, "mean": self.mean, "std": self.std}


@dataclass
class GraphBundle:
    """The HeteroData plus what maps its rows back to ids."""

    data: HeteroData
    ids: dict[str, pd.Index]  # node type -> ids in row order
    raw: dict[str, pd.DataFrame]  # unscaled features (baselines, fairness)
    community: pd.Series  # user id -> id_comunidade (or None)

    def index_of(self, node_type: str, ids: pd.Series | list[str]) -> np.ndarray:
        """Row positions of ``ids`` (-1 for unknown ids)."""
        return self.ids[node_type].get_indexer(pd.Index(ids))


def edge_tensors(edges: pd.DataFrame, ids: dict[str, pd.Index]) -> dict[tuple[str, str, str], tuple[torch.Tensor, torch.Tensor]]:
    """``(edge_index [2, E], edge_attr [E, 4])`` per relation, with ``rev_<REL>`` reverse relations."""
    out = {}
    edges = edges.sort_values(["tipo", "src", "dst"], kind="stable")
    for rel, (st, dt) in RELATIONS.items():
        part = edges[edges["tipo"] == rel]
        src = ids[st].get_indexer(part["src"])
        dst = ids[dt].get_indexer(part["dst"])
        ok = (src >= 0) & (dst >= 0)
        part = part[ok]
        dur_h = ((pd.to_datetime(part["ultimo"]) - pd.to_datetime(part["primeiro"])).dt.total_seconds() / 3600).fillna(0)
        attr = np.stack([
            _slog(part["n"].fillna(0)), _slog(part["valor_total"].fillna(0)) / 5.0,
            _slog(part["n_rejeitadas"].fillna(0)), _slog(dur_h.clip(lower=0)) / 3.0,
        ], axis=1) if len(part) else np.zeros((0, len(EDGE_ATTRS)))
        ei = torch.tensor(np.stack([src[ok], dst[ok]]), dtype=torch.long).reshape(2, -1)
        ea = torch.tensor(attr, dtype=torch.float32).reshape(-1, len(EDGE_ATTRS))
        out[(st, rel, dt)] = (ei, ea)
        out[(dt, f"rev_{rel}", st)] = (ei.flip(0), ea)
    return out


def build_graph(frames: Frames, scaler: Scaler | None = None,
                structure: bool | None = None, gfp: bool | None = None) -> tuple[GraphBundle, Scaler]:
    """The HeteroData of the gold graph (features scaled by ``scaler``, fitted here when None).

    ``structure``: add :mod:`gnn.structure`'s user features; None = as the ``scaler`` was fitted (its ``s_``
    columns), off without a scaler."""
    if structure is None:
        structure = scaler is not None and any(c.startswith("s_") for c in scaler.columns[USER])
    if gfp is None:
        gfp = scaler is not None and any(c.startswith("gfp_") for c in scaler.columns[USER])
    raw = raw_node_features(frames, structure, gfp)
    scaler = scaler or Scaler.fit(raw)
    x = scaler.transform(raw)
    ids = {t: raw[t].index for t in NODE_TYPES}
    data = HeteroData()
    for t in NODE_TYPES:
        data[t].x = x[t]
    for et, (ei, ea) in edge_tensors(frames.graph_edges, ids).items():
        data[et].edge_index = ei
        data[et].edge_attr = ea
    v = frames.graph_vertices
    comm = v[v["tipo"] == USER].drop_duplicates("id").set_index("id")["id_comunidade"].reindex(ids[USER])
    log.info("graph: %s", {t: int(data[t].num_nodes) for t in NODE_TYPES})
    return GraphBundle(data=data, ids=ids, raw=raw, community=comm), scaler


@dataclass
class Split:
    """Time split of the user labels: train on what was known before ``cut``, test on what came after."""

    cut: pd.Timestamp
    y_train: torch.Tensor  # [N_users] 1 = confirmed mule known before the cut
    test_mask: torch.Tensor  # users neither known positive nor dismissed by an investigator before the cut
    y_test: torch.Tensor  # 1 = first confirmed after the cut (the bank's later view)
    n_train_pos: int
    n_test_pos: int
    #: [N_users] True = dismissed by an investigator before the cut: a known negative (always in the loss)
    known_negative: torch.Tensor | None = None
    #: investigator labels used in training (latest disposition before the cut, accounts in the graph)
    n_investigator_pos: int = 0
    n_investigator_neg: int = 0
    #: labelling dispositions dated at or after the cut: not trained on (evaluation's later view only)
    n_investigator_after_cut: int = 0

    @property
    def n_investigator_labels(self) -> int:
        return self.n_investigator_pos + self.n_investigator_neg


def make_split(frames: Frames, bundle: GraphBundle, quantile: float = 0.7) -> Split:
    """Split at the ``quantile`` of the confirmed MED cases' detection dates (the claims alone set the cut).

    Training (what was known before the cut): MED positives, investigator ``mula_confirmada`` positives and
    ``descartado`` negatives, each by its date; an account's latest disposition before the cut overrides its
    claims. Evaluation: positives first known at or after the cut, among the accounts training did not label
    (neither positive nor dismissed), unless an investigator's latest word on them is ``descartado``.
    """
    cut = cutoff(frames, quantile)
    labels = mule_labels(frames)
    det = pd.to_datetime(labels["detectado_em"])
    n = len(bundle.ids[USER])
    inv = investigator_labels(frames, before=cut)
    dismissed = set(inv.loc[inv["rotulo"] == 0, "id_usuario"])
    pos_before = set(labels.loc[(det < cut).to_numpy(), "id_usuario"]) - dismissed
    before = bundle.index_of(USER, sorted(pos_before))
    y_train = torch.zeros(n)
    y_train[before[before >= 0]] = 1.0
    neg_idx = bundle.index_of(USER, sorted(dismissed))
    known_negative = torch.zeros(n, dtype=torch.bool)
    known_negative[torch.as_tensor(neg_idx[neg_idx >= 0], dtype=torch.long)] = True
    final = investigator_labels(frames)
    dismissed_last = set(final.loc[final["rotulo"] == 0, "id_usuario"])
    after = bundle.index_of(USER, sorted(set(labels.loc[(det >= cut).to_numpy(), "id_usuario"]) - dismissed_last))
    test_mask = (y_train == 0) & ~known_negative
    y_test = torch.zeros(n)
    y_test[after[after >= 0]] = 1.0
    y_test = y_test * test_mask.float()
    inv_in = inv[bundle.index_of(USER, inv["id_usuario"]) >= 0]
    ev = investigator_events(frames)
    return Split(cut=cut, y_train=y_train, test_mask=test_mask, y_test=y_test,
                 n_train_pos=int(y_train.sum()), n_test_pos=int(y_test.sum()), known_negative=known_negative,
                 n_investigator_pos=int((inv_in["rotulo"] == 1).sum()),
                 n_investigator_neg=int((inv_in["rotulo"] == 0).sum()),
                 n_investigator_after_cut=int((ev["em"] >= _as_naive(cut)).sum()))

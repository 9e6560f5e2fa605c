"""``pixring graph evaluate --truth DIR``: the gold ring candidates against datagen's ground truth.

The ground truth (``DIR/ring_membros.csv``, ``DIR/rings.csv``, written by ``pixring datagen`` under
``_truth/``) is read here and only here: the build never sees it. Measures:

* **ring recall** - share of planted rings with a ring candidate covering at least half of their mule set
  (``mula`` and ``coletor`` members; victims are ordinary users);
* **candidate precision** - share of ring candidates that overlap the mule set of some planted ring (and,
  looser, that contain any ring member, victims included);
* user level - share of all mules inside some candidate, share of candidate members (and of the
  candidates' ``nucleo``, the suspected mules) that are mules;
* the same recall per typology, and the ceiling given by all communities (any risk).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pyspark.sql import SparkSession

from lakehouse import delta
from lakehouse.paths import table_path
from pixring.contract import PAPEIS_MULA, TRUTH_COLUMNS, TRUTH_DIR
from pixring.errors import PixringError
from pixring.settings import Settings

MULE_ROLES = PAPEIS_MULA
#: the generic truth: one row per confirmed ring member (a bank's own list, or datagen's rings.csv)
RING_TRUTH: tuple[str, ...] = tuple(TRUTH_COLUMNS["rings"])


@dataclass
class EvalReport:
    build_id: str | None
    n_rings: int
    n_candidates: int
    ring_recall: float
    candidate_precision: float
    candidate_precision_any_member: float
    mule_recall: float
    member_precision: float
    nucleo_precision: float
    community_ceiling: float
    per_typology: dict[str, tuple[int, int]] = field(default_factory=dict)
    missed: list[dict[str, Any]] = field(default_factory=list)
    #: of ``n_candidates``, those seeded from the model's scores (``--scores``)
    n_score_candidates: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("missed",)}

    def __str__(self) -> str:
        lines = [
            f"graph evaluate (build {self.build_id}): {self.n_rings} planted rings, {self.n_candidates} ring candidates"
            + (f" ({self.n_score_candidates} seeded from the model's scores)" if self.n_score_candidates else ""),
            f"  ring recall (a candidate covers >= half of the ring's mules): {self.ring_recall:6.1%}",
            f"  candidate precision (overlaps a planted ring's mules):        {self.candidate_precision:6.1%}",
            f"  candidate precision (contains any ring member, victims too):  {self.candidate_precision_any_member:6.1%}",
            f"  mules inside some candidate:                                  {self.mule_recall:6.1%}",
            f"  candidate members that are mules:                             {self.member_precision:6.1%}",
            f"  candidate core (suspected mules) that are mules:              {self.nucleo_precision:6.1%}",
            f"  ceiling (recall over all communities, any risk):              {self.community_ceiling:6.1%}",
            "  per typology (recalled / planted): "
            + ", ".join(f"{t} {a}/{b}" for t, (a, b) in sorted(self.per_typology.items())),
        ]
        for m in self.missed:
            lines.append(f"  missed {m['id_ring']} ({m['tipologia']}, {m['n_mulas']} mules): best coverage "
                         f"{m['cobertura']:.0%}")
        return "\n".join(lines)


def _coverage(mules: set[str], groups: list[set[str]]) -> float:
    return max((len(mules & g) / len(mules) for g in groups), default=0.0) if mules else 0.0


def score_candidates(truth_members: pd.DataFrame, truth_rings: pd.DataFrame, candidates: list[dict[str, Any]],
                     communities: list[set[str]] | None = None, build_id: str | None = None) -> EvalReport:
    """The measures, from the truth frames and the candidates (``membros``, ``nucleo``). Pure."""
    mules_of: dict[str, set[str]] = defaultdict(set)
    members_of: dict[str, set[str]] = defaultdict(set)
    for r in truth_members.itertuples():
        members_of[r.id_ring].add(r.id_usuario)
        if r.papel in MULE_ROLES:
            mules_of[r.id_ring].add(r.id_usuario)
    all_mules = set().union(*mules_of.values()) if mules_of else set()
    all_members = set().union(*members_of.values()) if members_of else set()
    typ = dict(zip(truth_rings["id_ring"], truth_rings["tipologia"]))
    cand_sets = [set(c["membros"]) for c in candidates]
    hits, per_typ, missed = 0, defaultdict(lambda: [0, 0]), []
    for rid in sorted(members_of):
        cov = _coverage(mules_of[rid], cand_sets)
        ok = cov >= 0.5
        hits += ok
        per_typ[typ.get(rid, "?")][1] += 1
        per_typ[typ.get(rid, "?")][0] += ok
        if not ok:
            missed.append({"id_ring": rid, "tipologia": typ.get(rid, "?"), "n_mulas": len(mules_of[rid]), "cobertura": cov})
    n_rings = len(members_of)
    covered = set().union(*cand_sets) if cand_sets else set()
    nucleo = set().union(*[set(c.get("nucleo") or []) for c in candidates]) if candidates else set()
    ceiling = (sum(_coverage(mules_of[r], communities) >= 0.5 for r in members_of) / n_rings) if communities and n_rings else 0.0
    return EvalReport(
        build_id=build_id, n_rings=n_rings, n_candidates=len(candidates),
        ring_recall=hits / n_rings if n_rings else 0.0,
        candidate_precision=(sum(bool(s & all_mules) for s in cand_sets) / len(cand_sets)) if cand_sets else 0.0,
        candidate_precision_any_member=(sum(bool(s & all_members) for s in cand_sets) / len(cand_sets)) if cand_sets else 0.0,
        mule_recall=len(covered & all_mules) / len(all_mules) if all_mules else 0.0,
        member_precision=len(covered & all_mules) / len(covered) if covered else 0.0,
        nucleo_precision=len(nucleo & all_mules) / len(nucleo) if nucleo else 0.0,
        community_ceiling=ceiling,
        per_typology={k: (v[0], v[1]) for k, v in per_typ.items()},
        missed=missed,
    )


def read_truth(truth_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    d = Path(truth_dir)
    if (d / TRUTH_DIR).is_dir():  # the datagen output folder itself
        d = d / TRUTH_DIR
    files = d / "ring_membros.csv", d / "rings_resumo.csv"  # rings.csv is the generic ring_id,id_usuario,typology
    for f in files:
        if not f.is_file():
            raise PixringError(f"no ground truth at {f} (give the datagen output's _truth folder)")
    return pd.read_csv(files[0], dtype=str), pd.read_csv(files[1], dtype={"id_ring": str, "tipologia": str})


# ------------------------------------------------------------------------------ a generic truth (bank or datagen)

def read_ring_truth(path: Path | str, folds: int = 5) -> pd.DataFrame:
    """A truth as ``ring_id, id_usuario, typology`` (one row per ring member, deduplicated).

    Accepted: a CSV file with ``ring_id,id_usuario[,typology]``; a folder holding such a ``rings.csv``; a
    datagen output or ``_truth`` folder (``ring_membros.csv``: members whose ``papel`` is mula/coletor,
    typology from ``rings_resumo.csv`` or ``rings.csv``). Without a typology, rings are dealt into ``folds``
    groups ``fold1..`` by a hash of their id (stable across runs).
    """
    p = Path(path)
    if p.is_dir() and (p / TRUTH_DIR).is_dir():
        p = p / TRUTH_DIR
    if p.is_dir():
        if (p / "ring_membros.csv").is_file():
            members = pd.read_csv(p / "ring_membros.csv", dtype=str)
            if "papel" in members:
                members = members[members["papel"].isin(MULE_ROLES)]
            members = members.rename(columns={"id_ring": "ring_id"})
            for rings_file in (p / "rings_resumo.csv", p / "rings.csv"):  # per-ring summary, or the generic file
                if not rings_file.is_file():
                    continue
                rings = pd.read_csv(rings_file, dtype=str).rename(columns={"id_ring": "ring_id", "tipologia": "typology"})
                if {"ring_id", "typology"} <= set(rings.columns):
                    typ = rings.drop_duplicates("ring_id").set_index("ring_id")["typology"]
                    members = members.assign(typology=members["ring_id"].map(typ))
                    break
            return _normalise(members, folds, str(p))
        if (p / "rings.csv").is_file():
            p = p / "rings.csv"
        else:
            raise PixringError(f"no truth in {p}: expected ring_membros.csv (datagen) or rings.csv "
                               "(ring_id,id_usuario[,typology])")
    if not p.is_file():
        raise PixringError(f"no truth file at {p}")
    return _normalise(pd.read_csv(p, dtype=str), folds, str(p))


def _normalise(df: pd.DataFrame, folds: int, where: str) -> pd.DataFrame:
    df = df.rename(columns={"id_ring": "ring_id", "tipologia": "typology"})
    missing = [c for c in ("ring_id", "id_usuario") if c not in df.columns]
    if missing:
        raise PixringError(f"truth {where}: missing columns {missing} (need ring_id,id_usuario[,typology])")
    df = df.dropna(subset=["ring_id", "id_usuario"])
    if df.empty:
        raise PixringError(f"truth {where}: no ring members")
    if "typology" not in df.columns or df["typology"].isna().all():
        rings = sorted(df["ring_id"].unique())
        k = max(2, min(folds, len(rings)))
        fold = {r: f"fold{int(hashlib.sha1(r.encode()).hexdigest(), 16) % k + 1}" for r in rings}
        df = df.assign(typology=df["ring_id"].map(fold))
    df = df.assign(typology=df["typology"].fillna("?"))
    return df[list(RING_TRUTH)].drop_duplicates(["ring_id", "id_usuario"]).reset_index(drop=True)


def truth_frames(path: Path | str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(members, rings)`` as :func:`score_candidates` reads them, from datagen's ``_truth`` (victims kept) or a
    generic truth (:func:`read_ring_truth`: every listed member counts as a mule)."""
    try:
        return read_truth(Path(path))
    except PixringError:
        g = read_ring_truth(path)
    members = g.rename(columns={"ring_id": "id_ring"}).assign(papel=MULE_ROLES[0])[["id_ring", "id_usuario", "papel"]]
    rings = g.drop_duplicates("ring_id").rename(columns={"ring_id": "id_ring", "typology": "tipologia"})
    return members, rings[["id_ring", "tipologia"]]


def score_seeded(spark: SparkSession, settings: Settings) -> list[dict[str, Any]]:
    """Candidates seeded from gold ``node_scores`` (``gnn embed``; seeds = the users it flagged, i.e. at or above
    the model's operating threshold), :func:`graph.candidates.score_candidates`."""
    from graph.candidates import score_candidates as from_scores

    ns_path = table_path(settings, "gold", "node_scores")
    if not delta.is_table(spark, ns_path):
        raise PixringError("no gold node_scores yet: run `pixring gnn embed` first (or leave out --scores)")
    ns = spark.read.format("delta").load(ns_path).select("id", "score", "sinalizado").toPandas()
    flagged = ns.loc[ns["sinalizado"] == 1, "score"]
    if flagged.empty:
        return []
    edges = (spark.read.format("delta").load(table_path(settings, "gold", "graph_edges"))
             .where("tipo IN ('TRANSFERIU', 'USA')").select("src", "dst", "tipo").toPandas())
    found = from_scores(ns.set_index("id")["score"], edges, float(flagged.min()), overlap_min=settings.graph.overlap_min)
    return [{"id_anel": c.id_anel, "membros": c.membros, "nucleo": c.nucleo} for c in found]


def evaluate(spark: SparkSession, settings: Settings, truth_dir: Path | str, with_scores: bool = False) -> EvalReport:
    """Score the current gold ``ring_candidates`` (and ``communities``; with ``with_scores`` also the candidates
    seeded from the GNN's ``node_scores``) against a truth (datagen's or a bank's, :func:`truth_frames`)."""
    members, rings = truth_frames(truth_dir)
    path = table_path(settings, "gold", "ring_candidates")
    if not delta.is_table(spark, path):
        raise PixringError("no gold ring_candidates yet: run `pixring graph build` first")
    cands = [r.asDict() for r in spark.read.format("delta").load(path).select("id_anel", "membros", "nucleo", "build_id").collect()]
    n_motif = len(cands)
    if with_scores:
        cands += score_seeded(spark, settings)
    com_path = table_path(settings, "gold", "communities")
    comms = [set(r["membros"]) for r in spark.read.format("delta").load(com_path).select("membros").collect()] \
        if delta.is_table(spark, com_path) else None
    build_id = cands[0]["build_id"] if cands else None
    report = score_candidates(members, rings, cands, comms, build_id)
    report.n_score_candidates = len(cands) - n_motif
    return report

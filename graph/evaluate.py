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

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pyspark.sql import SparkSession

from lakehouse import delta
from lakehouse.paths import table_path
from pixring.contract import PAPEIS_MULA, TRUTH_DIR
from pixring.errors import PixringError
from pixring.settings import Settings

MULE_ROLES = PAPEIS_MULA


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

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("missed",)}

    def __str__(self) -> str:
        lines = [
            f"graph evaluate (build {self.build_id}): {self.n_rings} planted rings, {self.n_candidates} ring candidates",
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
    files = d / "ring_membros.csv", d / "rings.csv"
    for f in files:
        if not f.is_file():
            raise PixringError(f"no ground truth at {f} (give the datagen output's _truth folder)")
    return pd.read_csv(files[0], dtype=str), pd.read_csv(files[1], dtype={"id_ring": str, "tipologia": str})


def evaluate(spark: SparkSession, settings: Settings, truth_dir: Path | str) -> EvalReport:
    """Score the current gold ``ring_candidates`` (and ``communities``) against the ground truth."""
    members, rings = read_truth(Path(truth_dir))
    path = table_path(settings, "gold", "ring_candidates")
    if not delta.is_table(spark, path):
        raise PixringError("no gold ring_candidates yet: run `pixring graph build` first")
    cands = [r.asDict() for r in spark.read.format("delta").load(path).select("id_anel", "membros", "nucleo", "build_id").collect()]
    com_path = table_path(settings, "gold", "communities")
    comms = [set(r["membros"]) for r in spark.read.format("delta").load(com_path).select("membros").collect()] \
        if delta.is_table(spark, com_path) else None
    build_id = cands[0]["build_id"] if cands else None
    return score_candidates(members, rings, cands, comms, build_id)

"""Gold/silver lookups of the scorer, re-read when a table's Delta version moves (no restart needed).

Per micro-batch the scorer calls :meth:`GoldLookup.refresh`: it lists the ``_delta_log`` of each table (no
Spark job) and reloads only the tables whose latest version changed. Lookups are small dictionaries on the
driver (tens of thousands of keys and users here; on a cluster they would be a broadcast, see
docs/streaming.md):

* silver ``chaves_pix``: key token -> (owner ``id_usuario``, ``data_cadastro``);
* gold ``node_scores`` (``tipo = 'usuario'``): user -> score, community;
* gold ``ring_candidates``: member user -> (``id_anel``, ``risco``, ``valor_em_risco``, members);
* gold ``communities``: member user -> ``id_comunidade`` (when node_scores has none).

A table that does not exist yet is an empty lookup (version -1): the stream still scores with defaults.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse.delta import is_table, latest_version
from lakehouse.paths import table_path
from pixring.contract import TIMEZONE
from pixring.settings import Settings

log = logging.getLogger(__name__)

SOURCES: tuple[tuple[str, str], ...] = (
    ("silver", "chaves_pix"), ("gold", "node_scores"), ("gold", "ring_candidates"), ("gold", "communities"),
)


@dataclass(frozen=True)
class Ring:
    id_anel: str
    risco: float
    valor_em_risco: float
    membros: tuple[str, ...]


@dataclass
class GoldLookup:
    """The lookups and the versions they were read at."""

    spark: SparkSession
    settings: Settings
    versions: dict[str, int] = field(default_factory=dict)
    key_owner: dict[str, tuple[str | None, datetime | None]] = field(default_factory=dict)
    user_score: dict[str, float] = field(default_factory=dict)
    user_ring: dict[str, Ring] = field(default_factory=dict)
    user_community: dict[str, str] = field(default_factory=dict)
    reloads: int = 0

    @property
    def version(self) -> str:
        return ",".join(f"{name}@{self.versions.get(name, -1)}" for _, name in SOURCES)

    def refresh(self) -> bool:
        """Reload the tables whose Delta version changed; True when anything was reloaded."""
        changed = False
        for layer, name in SOURCES:
            path = table_path(self.settings, layer, name)
            v = latest_version(self.spark, path)
            if v == self.versions.get(name) and name in self.versions:
                continue
            getattr(self, f"_load_{name}")(path, v)
            self.versions[name] = v
            changed = True
        if changed:
            self.reloads += 1
            log.info("lookups reloaded: %s (%s)", self.version, self._summary())
        return changed

    def _summary(self) -> str:
        return f"{len(self.key_owner)} keys, {len(self.user_score)} scored users, {len(self.user_ring)} ring members"

    def _read(self, path: str, version: int):
        if version < 0 or not is_table(self.spark, path):
            return None
        return self.spark.read.format("delta").option("versionAsOf", version).load(path)

    def _load_chaves_pix(self, path: str, version: int) -> None:
        df = self._read(path, version)
        out: dict[str, tuple[str | None, datetime | None]] = {}
        if df is not None:
            tz = ZoneInfo(self.spark.conf.get("spark.sql.session.timeZone", TIMEZONE))
            for r in df.select("chave_pix", "id_usuario", F.unix_micros("data_cadastro")).toLocalIterator():
                when = None if r[2] is None else datetime.fromtimestamp(r[2] / 1e6, tz).replace(tzinfo=None)
                out[r[0]] = (r[1], when)
        self.key_owner = out

    def _load_node_scores(self, path: str, version: int) -> None:
        df = self._read(path, version)
        scores: dict[str, float] = {}
        comms: dict[str, str] = {}
        if df is not None:
            for r in df.filter(F.col("tipo") == "usuario").select("id", "score", "id_comunidade").toLocalIterator():
                scores[r[0]] = float(r[1])
                if r[2]:
                    comms[r[0]] = r[2]
        self.user_score = scores
        self._node_communities = comms
        self._merge_communities()

    def _load_communities(self, path: str, version: int) -> None:
        df = self._read(path, version)
        comms: dict[str, str] = {}
        if df is not None:
            for r in df.select("id_comunidade", "membros").toLocalIterator():
                for m in r[1] or ():
                    comms[m] = r[0]
        self._graph_communities = comms
        self._merge_communities()

    def _merge_communities(self) -> None:
        self.user_community = {**getattr(self, "_graph_communities", {}), **getattr(self, "_node_communities", {})}

    def _load_ring_candidates(self, path: str, version: int) -> None:
        df = self._read(path, version)
        rings: dict[str, Ring] = {}
        if df is not None:
            for r in df.select("id_anel", "risco", "valor_em_risco", "membros").toLocalIterator():
                ring = Ring(r[0], float(r[1]), float(r[2] or 0), tuple(r[3] or ()))
                for m in ring.membros:
                    if m not in rings or rings[m].risco < ring.risco:
                        rings[m] = ring
        self.user_ring = rings

    def owner(self, token: str) -> tuple[str | None, datetime | None]:
        return self.key_owner.get(token, (None, None))

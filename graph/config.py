"""Knobs of the graph build, read from the environment with a ``PIXRING_GRAPH_`` prefix.

Every threshold of a motif or of the ring score lives here, with why it has its default, so that an
analyst can tighten or loosen the detector without touching code (``PIXRING_GRAPH_REPASSE_JANELA_MIN=60``).
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GraphSettings(BaseSettings):
    """Motif windows, score weights and the community/ring-id rules of ``pixring graph build``."""

    model_config = SettingsConfigDict(env_prefix="PIXRING_GRAPH_", extra="ignore", env_file=None)

    # --- repasse / cadeia: a mule passes on what it received, fast and nearly whole ----------------
    #: the outgoing transfer must leave at most this many minutes after the last money came in
    repasse_janela_min: float = Field(120.0, gt=0)
    #: the money passed on may have come in over at most this many hours (batched fake-sale payments)
    repasse_acumulo_h: float = Field(96.0, gt=0)
    #: out / in must fall in [min, max]: a mule keeps a small cut (or nothing)
    repasse_razao_min: float = Field(0.90, gt=0)
    repasse_razao_max: float = Field(1.02, gt=0)
    #: a pass-through counts only for an account that passed on at least this share of all the money it
    #: received in the data (the AML "flow-through ratio"): a mule exists to move money, so nearly all of
    #: its inflow goes out again; a shop or a person whose one payment happens to match keeps most of it
    repasse_fracao_min: float = Field(0.25, ge=0, le=1)
    #: the a->b->c chain motif (single transfer in, single out): window and amount band
    cadeia_janela_min: float = Field(120.0, gt=0)
    cadeia_razao_min: float = Field(0.90, gt=0)
    cadeia_razao_max: float = Field(1.02, gt=0)

    # --- ciclo: money that comes back to where it started, hop after hop --------------------------
    ciclo_max_len: int = Field(5, ge=3, le=6)
    #: the whole round trip within this many hours
    ciclo_janela_h: float = Field(24.0, gt=0)

    # --- fan-in to a young account -----------------------------------------------------------------
    fan_in_min_remetentes: int = Field(3, ge=2)
    fan_in_janela_h: float = Field(24.0, gt=0)
    conta_jovem_dias: float = Field(90.0, gt=0)
    chave_jovem_dias: float = Field(30.0, gt=0)

    # --- shared devices ------------------------------------------------------------------------------
    #: a device bound to more users than this is a public terminal or noise: no user-user links from it
    disp_max_usuarios: int = Field(12, ge=2)
    #: a shared device counts as recent when it became shared at most this many days before the motifs
    disp_recente_dias: float = Field(30.0, gt=0)

    # --- communities, rings ------------------------------------------------------------------------
    #: components of the suspicious subgraph larger than this are split by label propagation
    comunidade_max: int = Field(40, ge=3)
    lpa_passos: int = Field(5, ge=1)
    pagerank_iter: int = Field(10, ge=1)
    pagerank_reset: float = Field(0.15, gt=0, lt=1)
    #: a community with at least this risk is a ring candidate
    risco_min_anel: float = Field(0.5, ge=0, le=1)
    #: rebuilds: a new community inherits an old id when it holds at least this share of the old one's
    #: members (or the old one holds this share of the new one's)
    overlap_min: float = Field(0.5, gt=0, le=1)
    #: largest community for which networkx counts simple cycles (bounded length) and the diameter
    nx_max_membros: int = Field(400, ge=3)


def graph_settings(settings: object) -> GraphSettings:
    """``settings.graph`` when the project settings carry it, else the environment's values."""
    found = getattr(settings, "graph", None)
    return found if isinstance(found, GraphSettings) else GraphSettings()

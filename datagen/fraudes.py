"""``fraudes``: MED claims, the only label a bank (and the pipeline) has.

Each record is a claim through MED (Mecanismo Especial de Devolução) on an existing transaction.
Victims report the transfers they made (most of them, with a delay that depends on the scam);
MED 2.0 then traces the money through the chain, so forwarding hops of a reported ring get claims
too. A claim needs days of analysis: recent ones are still ``em_analise``. Claims on legitimate
transactions (buyers' remorse, disputes, mistaken reports) fill the file to its exact size and end
``improcedente`` (or ``em_analise`` when recent). Rejected attempts moved no money and are never
claimed. Only ``confirmada`` claims point at planted fraud, but not every planted fraud is confirmed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from datagen.rings import PAPEL_CODE, RingPlan
from datagen.schema import TIPOLOGIA_TIPO_FRAUDE
from datagen.timeline import DAY, HOUR, MINUTE, REF_END
from datagen.traffic import ClaimCandidate, FraudOutcome
from pixring.contract import TIPOLOGIA, TIPO_FRAUDE

#: median report delay (hours) of the victims of each typology
_REPORT_DELAY_H = {
    "coleta_fan_in": 60.0,
    "camadas": 30.0,
    "ciclo": 150.0,
    "invasao_conta": 5.0,
    "sequestro_relampago": 8.0,
    "falso_parente": 20.0,
}
P_VICTIM_REPORTS = 0.9
P_TRACED = 0.85
#: claim type alleged on legitimate transactions, by transaction type (index of TIPO_TRANSACAO)
_LEGIT_CLAIM_P = {
    0: [0.15, 0.25, 0.05, 0.20, 0.05, 0.30],  # p2p
    1: [0.70, 0.15, 0.05, 0.10, 0.0, 0.0],  # p2m
    2: [0.70, 0.15, 0.05, 0.10, 0.0, 0.0],  # qr estatico
    3: [0.70, 0.15, 0.05, 0.10, 0.0, 0.0],  # qr dinamico
    4: [0.0, 0.5, 0.0, 0.5, 0.0, 0.0],  # b2p
    5: [0.0, 0.5, 0.0, 0.5, 0.0, 0.0],  # b2b
}
CONFIRMADA, EM_ANALISE, IMPROCEDENTE = 0, 1, 2


@dataclass
class Claims:
    id_transacao: np.ndarray
    tipo_fraude: np.ndarray  # index into TIPO_FRAUDE
    data_deteccao: np.ndarray
    cents: np.ndarray
    status: np.ndarray  # index into STATUS_FRAUDE
    on_fraud: np.ndarray  # bool, for statistics only


def _analysis_done(rng: np.random.Generator, claim_t: int) -> bool:
    return claim_t + int(rng.uniform(1.0, 8.0) * DAY) <= REF_END


def build_claims(plan: RingPlan, outcome: FraudOutcome, pool: list[ClaimCandidate], n_claims: int,
                 rng: np.random.Generator) -> Claims:
    """Exactly ``n_claims`` claims, each on a distinct existing transaction."""
    rows: list[tuple[int, str, int, int, int, bool]] = []  # (t, id, tipo_fraude, cents, status, fraud)
    # what the victims of each ring allege and how soon they report (the typology's, unless the ring
    # drew its own: the scam behind an AML laundering structure; one funded from outside Pix has no victim)
    ring_claim = {r.rid: TIPO_FRAUDE.index(r.tipo_fraude or TIPOLOGIA_TIPO_FRAUDE[r.tipologia])
                  for r in plan.rings if r.n_v}
    ring_delay = {r.rid: r.report_delay_h or _REPORT_DELAY_H[r.tipologia] for r in plan.rings if r.n_v}
    concluded = outcome.status == 0
    victim = plan.papel_o == PAPEL_CODE["vitima"]
    root: dict[int, int] = {}
    for i in np.flatnonzero(victim & concluded).tolist():
        rid = int(plan.ring[i])
        if rng.random() >= P_VICTIM_REPORTS:
            continue
        delay = max(10 * MINUTE, int(rng.lognormal(math.log(ring_delay[rid] * HOUR), 0.9)))
        t = int(plan.ts[i]) + delay
        if t > REF_END:
            continue
        root[rid] = min(root.get(rid, t), t)
        st = CONFIRMADA if _analysis_done(rng, t) else EM_ANALISE
        rows.append((t, str(outcome.ids[i]), ring_claim[rid], int(outcome.cents[i]), st, True))
    for i in np.flatnonzero(~victim & concluded).tolist():
        rid = int(plan.ring[i])
        if rid not in root or rng.random() >= P_TRACED:
            continue
        t = max(root[rid], int(plan.ts[i])) + int(rng.uniform(1.0, 72.0) * HOUR)
        if t > REF_END:
            continue
        st = CONFIRMADA if _analysis_done(rng, t) else EM_ANALISE
        rows.append((t, str(outcome.ids[i]), ring_claim[rid], int(outcome.cents[i]), st, True))
    n_legit = n_claims - len(rows)
    if n_legit < 0:  # pragma: no cover - claims are 4x the fraudulent transactions
        rows = sorted(rows)[:n_claims]
        n_legit = 0
    if n_legit > len(pool):
        raise RuntimeError("not enough legitimate transactions to draw the claims from")
    pick = np.sort(rng.choice(len(pool), size=n_legit, replace=False)) if n_legit else []
    for j in list(pick):
        c = pool[int(j)]
        delay = int(rng.lognormal(math.log(40.0 * HOUR), 1.1)) + 10 * MINUTE
        t = c.ts + delay
        if t > REF_END:
            t = c.ts + int(rng.random() * max(REF_END - c.ts, 1))
        p = np.array(_LEGIT_CLAIM_P[c.tipo])
        tf = int(rng.choice(len(TIPO_FRAUDE), p=p / p.sum()))
        st = IMPROCEDENTE if _analysis_done(rng, t) else EM_ANALISE
        rows.append((t, c.id_transacao, tf, c.cents, st, False))
    rows.sort(key=lambda x: (x[0], x[1]))
    return Claims(
        id_transacao=np.array([r[1] for r in rows], dtype=object),
        tipo_fraude=np.array([r[2] for r in rows], dtype=np.int64),
        data_deteccao=np.array([r[0] for r in rows], dtype=np.int64),
        cents=np.array([r[3] for r in rows], dtype=np.int64),
        status=np.array([r[4] for r in rows], dtype=np.int64),
        on_fraud=np.array([r[5] for r in rows], dtype=bool),
    )


__all__ = ["Claims", "build_claims", "TIPOLOGIA"]

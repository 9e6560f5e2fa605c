"""Legitimate look-alikes: ordinary structures with the shape of a ring, so that shape alone does not
name fraud (``diverse``; ``Difficulty.lookalike_frac`` of the transactions).

* ``comerciante_muitos_pagadores`` - a shop or seller with a burst of 10-30 payers (an event, a
  raffle) within days, who then pays 1-2 suppliers a share of the takings (fan-in, then out);
* ``folha_pagamento`` - a company pays 5-25 employees on paydays, minutes apart (fan-out);
* ``familia_dispositivo`` - a household that shares a device: one member sends allowances to the
  others every week or two, they send some back (fan-out and back, shared device);
* ``amigos_ciclo`` - 3-8 friends settle bills round a cycle (A pays B, B pays C ... back to A, hops
  minutes to two days apart) or all pay the one who paid (cycles and fan-in);
* ``corretor`` - a broker (rent, used cars, tickets) receives from 3-12 clients and passes each
  payment on minutes to five days later, minus a 2-10 % commission (a chain with fees, like layering).

Members are old, active accounts outside every ring (never in ``_truth/rings.csv``); they are listed in
``_truth/lookalikes.csv`` so an evaluation can count the false positives they draw. Amounts stay within
the sender's limits (a payroll company's are raised to fit), times are in daytime hours; these are
ordinary transactions for the traffic generator (limits enforced, keys and logins as for any other).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from datagen.population import Limits, Users
from datagen.timeline import DAY, HOUR, MINUTE, REF_END, WINDOW_DAYS, WINDOW_START, payday_strength
from pixring.contract import LOOKALIKES, TIPO_TRANSACAO

P2P, P2M, QRE = (TIPO_TRANSACAO.index(t) for t in ("transferencia_p2p", "pagamento_p2m", "qr_estatico"))
B2P, B2B = (TIPO_TRANSACAO.index(t) for t in ("transferencia_b2p", "transferencia_b2b"))


@dataclass
class LookalikePlan:
    """The look-alike transactions (sorted by time) and who is in which group."""

    ts: np.ndarray
    sender: np.ndarray
    receiver: np.ndarray
    cents: np.ndarray
    tipo: np.ndarray
    #: (group number, kind, user index, role)
    members: list[tuple[int, str, int, str]] = field(default_factory=list)

    @property
    def n_tx(self) -> int:
        return int(self.ts.size)

    @staticmethod
    def empty() -> LookalikePlan:
        z = np.zeros(0, dtype=np.int64)
        return LookalikePlan(z, z, z, z, z)


class _Builder:
    def __init__(self, users: Users, limits: Limits, rng: np.random.Generator) -> None:
        self.u, self.lim, self.rng = users, limits, rng
        ok = (users.active & (users.ring < 0) & (users.cadastro < WINDOW_START - 60 * DAY)
              & (users.pix_since < 0))
        self.free = ok.copy()
        self.rows: list[tuple[int, int, int, int, int]] = []
        self.members: list[tuple[int, str, int, str]] = []
        self.group = 0
        self.payday_idx = np.flatnonzero(payday_strength() >= 1.0)

    # ------------------------------------------------------------------------------ helpers
    def take(self, cond: np.ndarray, k: int) -> list[int]:
        pool = np.flatnonzero(self.free & cond)
        if pool.size < k:
            return []
        pick = self.rng.choice(pool, size=k, replace=False)
        self.free[pick] = False
        return [int(x) for x in pick]

    def day_time(self, day: int, lo_h: int = 8, hi_h: int = 20) -> int:
        return WINDOW_START + day * DAY + int(self.rng.integers(lo_h * HOUR, hi_h * HOUR))

    def pay(self, t: int, s: int, r: int, cents: int, tipo: int | None = None) -> None:
        u = self.u
        if tipo is None:
            tipo = (B2B if u.is_pj[r] else B2P) if u.is_pj[s] else (P2M if u.is_pj[r] else P2P)
        c = int(min(max(cents, 500), self.lim.lim_tx[s] * 0.9))
        if WINDOW_START < t < REF_END - HOUR:
            self.rows.append((t, s, r, c, tipo))

    def add(self, kind: str, roles: list[tuple[int, str]]) -> None:
        self.group += 1
        self.members.extend((self.group, kind, u, p) for u, p in roles)

    def _reais(self, median: float, sigma: float) -> int:
        return int(round(float(self.rng.lognormal(math.log(median), sigma)), 1) * 100)

    # ------------------------------------------------------------------------------ kinds
    def merchant(self) -> None:
        u, rng = self.u, self.rng
        shop = self.take((u.is_pj & (u.segment <= 1)) | u.informal, 1)
        n = int(rng.integers(10, 31))
        payers = self.take(~u.is_pj, n)
        sup = self.take(u.is_pj, int(rng.integers(1, 3)))
        if not shop or not payers or not sup:
            return
        m = shop[0]
        price = self._reais(60.0, 0.6)
        d0 = int(rng.integers(2, WINDOW_DAYS - 10))
        span = int(rng.integers(1, 6))
        takings = 0
        for p in payers:
            c = int(price * rng.uniform(0.8, 1.2))
            self.pay(self.day_time(d0 + int(rng.integers(0, span)), 9, 22), p, m, c,
                     QRE if rng.random() < 0.4 else None)
            takings += c
        for s in sup:
            self.pay(self.day_time(d0 + span + int(rng.integers(0, 3))), m, s,
                     int(takings * rng.uniform(0.4, 0.9) / len(sup)))
        self.add("comerciante_muitos_pagadores", [(m, "centro")] + [(p, "pagador") for p in payers]
                 + [(s, "fornecedor") for s in sup])

    def payroll(self) -> None:
        u, rng = self.u, self.rng
        co = self.take(u.is_pj, 1)
        staff = self.take(~u.is_pj & (u.employer < 0), int(rng.integers(5, 26)))
        if not co or not staff:
            return
        c = co[0]
        salary = {e: self._reais(2200.0, 0.35) for e in staff}
        need = sum(salary.values())
        self.lim.lim_tx[c] = max(int(self.lim.lim_tx[c]), int(max(salary.values()) * 1.2))
        self.lim.lim_day[c] = max(int(self.lim.lim_day[c]), int(need * 1.3))
        days = self.payday_idx if self.payday_idx.size else np.array([5, 35])
        for d in days.tolist():
            t = self.day_time(int(d), 8, 11)
            for e in staff:
                self.pay(t, c, e, salary[e], B2P)
                t += int(rng.integers(20, 6 * MINUTE))
        self.add("folha_pagamento", [(c, "empresa")] + [(e, "funcionario") for e in staff])

    def family(self) -> None:
        u, rng = self.u, self.rng
        hh = u.household
        ids = np.unique(hh[(hh >= 0) & self.free])
        for h in rng.permutation(ids).tolist():
            mem = np.flatnonzero(hh == h)
            if mem.size >= 2 and self.free[mem].all():
                break
        else:
            return
        self.free[mem] = False
        head, rest = int(mem[0]), [int(x) for x in mem[1:]]
        every = int(rng.integers(7, 15))
        for d in range(int(rng.integers(0, every)), WINDOW_DAYS, every):
            for m in rest:
                self.pay(self.day_time(d), head, m, self._reais(150.0, 0.6))
        for m in rest:
            for _ in range(int(rng.integers(1, 4))):
                self.pay(self.day_time(int(rng.integers(0, WINDOW_DAYS))), m, head, self._reais(80.0, 0.7))
        self.add("familia_dispositivo", [(head, "responsavel")] + [(m, "familiar") for m in rest])

    def friends(self) -> None:
        u, rng = self.u, self.rng
        n = int(rng.integers(3, 9))
        group = self.take(~u.is_pj, n)
        if not group:
            return
        for _ in range(int(rng.integers(1, 4))):
            d = int(rng.integers(1, WINDOW_DAYS - 3))
            bill = self._reais(120.0, 0.7)
            order = [group[int(i)] for i in rng.permutation(n)]
            t = self.day_time(d, 10, 19)
            if rng.random() < 0.6:  # round the cycle: each pays the next one
                for a, b in zip(order, order[1:] + order[:1]):
                    self.pay(t, a, b, int(bill * rng.uniform(0.8, 1.2)))
                    t += int(math.exp(rng.uniform(math.log(5 * MINUTE), math.log(2 * DAY))))
            else:  # everybody pays the one who paid the bill
                for a in order[1:]:
                    self.pay(t + int(rng.integers(MINUTE, DAY)), a, order[0], int(bill * rng.uniform(0.9, 1.1)))
        self.add("amigos_ciclo", [(g, "amigo") for g in group])

    def broker(self) -> None:
        u, rng = self.u, self.rng
        b = self.take(~u.is_pj | (u.segment == 0), 1)
        n = int(rng.integers(3, 13))
        clients = self.take(~u.is_pj, n)
        payees = self.take(np.ones(u.n, dtype=bool), max(1, int(round(n * rng.uniform(0.3, 1.0)))))
        if not b or not clients or not payees:
            return
        br = b[0]
        amounts = {c: min(self._reais(1500.0, 0.7), int(self.lim.lim_tx[c] * 0.9)) for c in clients}
        self.lim.lim_tx[br] = max(int(self.lim.lim_tx[br]), int(max(amounts.values()) * 1.1))
        self.lim.lim_day[br] = max(int(self.lim.lim_day[br]), int(sum(amounts.values()) * 1.1))
        for i, c in enumerate(clients):
            t = self.day_time(int(rng.integers(1, WINDOW_DAYS - 6)))
            self.pay(t, c, br, amounts[c])
            delay = int(math.exp(rng.uniform(math.log(10 * MINUTE), math.log(5 * DAY))))
            t2 = t + delay
            if (t2 % DAY) // HOUR < 8 or (t2 % DAY) // HOUR >= 20:  # brokers work daytime
                t2 = t2 - t2 % DAY + DAY + 9 * HOUR + int(rng.integers(0, 8 * HOUR))
            self.pay(t2, br, payees[i % len(payees)], int(amounts[c] * rng.uniform(0.90, 0.98)))
        self.add("corretor", [(br, "corretor")] + [(c, "cliente") for c in clients]
                 + [(p, "beneficiario") for p in payees])


def plan_lookalikes(users: Users, limits: Limits, n_tx: int, rng: np.random.Generator) -> LookalikePlan:
    """About ``n_tx`` look-alike transactions, the five kinds in balanced rounds (random order)."""
    if n_tx <= 0:
        return LookalikePlan.empty()
    b = _Builder(users, limits, rng)
    kinds = {"comerciante_muitos_pagadores": b.merchant, "folha_pagamento": b.payroll,
             "familia_dispositivo": b.family, "amigos_ciclo": b.friends, "corretor": b.broker}
    assert set(kinds) == set(LOOKALIKES)
    stalls = 0
    while len(b.rows) < n_tx and stalls < 3:
        before = len(b.rows)
        for i in rng.permutation(len(LOOKALIKES)).tolist():
            kinds[LOOKALIKES[i]]()
            if len(b.rows) >= n_tx:
                break
        stalls = stalls + 1 if len(b.rows) == before else 0
    rows = sorted(b.rows)
    a = np.array(rows, dtype=np.int64).reshape(-1, 5)
    return LookalikePlan(ts=a[:, 0], sender=a[:, 1], receiver=a[:, 2], cents=a[:, 3], tipo=a[:, 4],
                         members=b.members)

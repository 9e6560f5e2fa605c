"""Fraud rings: recruit mules among the users, shape the flows of each typology, plant the transactions.

The planner works before the reference tables are final, because rings change them: fresh mule
accounts get a recent ``data_cadastro``, mules register fresh keys (a new phone number for the
fake-relative scam), share devices, raise their limits days before bursting; account takeover binds
an attacker's device to the victims. :func:`plan_rings` returns all of that as requests
(:class:`~datagen.population.KeyRequest`, :class:`~datagen.population.SharedDevice`, limit overrides)
plus the fraudulent transactions themselves, which the traffic generator merges into the stream.

Typologies (``schema.TIPOLOGIA``):

* ``coleta_fan_in`` - fake sales: many victims pay a layer of 1-4 mules, who pass the money on in
  batches to 1-2 collectors;
* ``camadas`` - layering: victims of a social-engineering wave pay mule 1, the sum is forwarded within
  minutes along a chain of 2-6 mules to a collector, amounts roughly preserved;
* ``ciclo`` - an "investment" scam: victims pay A, money goes round A->B->C(->...)->A once or twice,
  then out to a collector;
* ``invasao_conta`` - account takeover: failed logins from a new device, the device gets bound, then
  large transfers to mules, who forward to a collector;
* ``sequestro_relampago`` - lightning kidnapping: night bursts from the victim's phone to mules; the
  R$ 1,000 night cap rejects most attempts;
* ``falso_parente`` - fake relative: a mule registers a new phone-number key, victims pay it, the
  mule forwards to a collector.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from datagen.plan import Difficulty
from datagen.population import (
    K_CNPJ,
    K_CPF,
    K_EMAIL,
    K_EVP,
    K_TEL,
    R_COLETOR,
    R_MULA,
    R_VITIMA,
    KeyRequest,
    Limits,
    SharedDevice,
    Users,
)
from datagen.timeline import DAY, HOUR, HOUR_PROFILES, MINUTE, REF_END, WINDOW_END, WINDOW_START
from pixring.contract import TIPOLOGIAS_PIX, TIPO_TRANSACAO, is_night_hour

log = logging.getLogger(__name__)

T_P2P = TIPO_TRANSACAO.index("transferencia_p2p")
T_P2M = TIPO_TRANSACAO.index("pagamento_p2m")
T_QR_E = TIPO_TRANSACAO.index("qr_estatico")
T_B2P = TIPO_TRANSACAO.index("transferencia_b2p")
T_B2B = TIPO_TRANSACAO.index("transferencia_b2b")

#: tx-count range per typology and relative frequency (by number of rings).
K_RANGE: dict[str, tuple[int, int]] = {
    "coleta_fan_in": (2, 30),
    "camadas": (3, 20),
    "ciclo": (5, 20),
    "invasao_conta": (2, 14),
    "sequestro_relampago": (3, 16),
    "falso_parente": (2, 14),
}
K_TYPICAL: dict[str, tuple[int, int]] = {
    "coleta_fan_in": (6, 24),
    "camadas": (4, 12),
    "ciclo": (6, 14),
    "invasao_conta": (3, 9),
    "sequestro_relampago": (4, 11),
    "falso_parente": (3, 10),
}
WEIGHTS: dict[str, float] = {
    "coleta_fan_in": 0.24,
    "camadas": 0.18,
    "ciclo": 0.10,
    "invasao_conta": 0.16,
    "sequestro_relampago": 0.14,
    "falso_parente": 0.18,
}
PAPEL_CODE = {"vitima": 0, "mula": 1, "coletor": 2}


@dataclass
class _Tx:
    t: int
    src: tuple[str, int]  # slot: ("v"|"m"|"c", i)
    dst: tuple[str, int]
    cents: int
    tipo: int
    auth: int = -1  # login auth override (index in TIPO_AUTENTICACAO), -1 = default
    dev_attacker: bool = False  # login from the ring's attacker device
    inputs: tuple[int, ...] = ()  # a forward: the ring transactions whose money it passes on
    frac: float = 0.0  # ... and the share of it (0 = a fixed amount)


@dataclass
class Ring:
    """One ring's plan; slots are mapped to users by :func:`plan_rings`."""

    rid: int
    tipologia: str
    n_v: int = 0
    n_m: int = 0
    n_c: int = 0
    txs: list[_Tx] = field(default_factory=list)
    fails: list[tuple[int, int]] = field(default_factory=list)  # (victim slot, t) failed logins
    users: dict[tuple[str, int], int] = field(default_factory=dict)
    key_req: dict[tuple[str, int], int] = field(default_factory=dict)  # slot -> KeyRequest index
    shared: list[int] = field(default_factory=list)  # SharedDevice indices
    slot_device: dict[tuple[str, int], int] = field(default_factory=dict)  # slot -> SharedDevice idx
    attacker_device: int = -1
    #: where the money comes from: scam victims' transfers ("vitimas") or from outside Pix ("externa")
    colocacao: str = "vitimas"
    #: how amounts move: "conservado" (minus small fees), "dividido" (split) or "estruturado" (below a limit)
    modo_valor: str = "conservado"
    #: the structuring threshold in cents ("estruturado"), else 0
    limiar: int = 0
    #: typical hop delay in seconds (AML structures), 0 = the difficulty's forwarding delay
    tempo: int = 0
    #: the claim a victim files and its median report delay; None = the typology's
    tipo_fraude: str | None = None
    report_delay_h: float | None = None
    #: members' ordinary activity (x an average user); None = the difficulty's ``mule_background``
    atividade: float | None = None

    def victim(self) -> tuple[str, int]:
        self.n_v += 1
        return ("v", self.n_v - 1)

    def mule(self) -> tuple[str, int]:
        self.n_m += 1
        return ("m", self.n_m - 1)

    def coletor(self) -> tuple[str, int]:
        self.n_c += 1
        return ("c", self.n_c - 1)

    @property
    def n_members(self) -> int:
        return self.n_v + self.n_m + self.n_c


@dataclass
class RingPlan:
    """Everything the rings add to the data set."""

    rings: list[Ring]
    key_requests: list[KeyRequest]
    shared_devices: list[SharedDevice]
    # fraudulent transactions, sorted by time (arrays of equal length)
    ts: np.ndarray
    sender: np.ndarray
    receiver: np.ndarray
    cents: np.ndarray
    tipo: np.ndarray
    ring: np.ndarray
    papel_o: np.ndarray
    papel_d: np.ndarray
    okey_req: np.ndarray  # KeyRequest index or -1 (sender's primary key)
    dkey_req: np.ndarray
    dev_req: np.ndarray  # SharedDevice index for the login, or -1 (sender's own device)
    auth: np.ndarray
    # failed logins planted by account takeover
    fail_user: np.ndarray
    fail_ts: np.ndarray
    fail_dev_req: np.ndarray
    # forwards: the plan indices whose concluded amounts they pass on, and the share (0 = fixed)
    fwd_inputs: list[tuple[int, ...]] = field(default_factory=list)
    fwd_frac: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def n_tx(self) -> int:
        return int(self.ts.size)


# ------------------------------------------------------------------------------------------ helpers
def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _delay(rng: np.random.Generator, diff: Difficulty) -> int:
    lo, hi = diff.forward_delay_min
    return int(_log_uniform(rng, lo, hi) * MINUTE) + int(rng.integers(0, 60))


def _daytime(rng: np.random.Generator, day_start: int, profile: str = "pessoa_util") -> int:
    h = int(rng.choice(24, p=HOUR_PROFILES[profile]))
    return day_start + h * HOUR + int(rng.integers(0, HOUR))


def _cents(x: float) -> int:
    return max(100, int(round(x * 100)))


def _price(rng: np.random.Generator, median: float, sigma: float) -> int:
    """A scam amount in cents: lognormal, often a 'price' (ends in ,00 or ,90)."""
    v = float(rng.lognormal(math.log(median), sigma))
    r = rng.random()
    if r < 0.45:
        v = round(v / 10.0) * 10.0
    elif r < 0.7:
        v = round(v / 10.0) * 10.0 - 0.10
    return _cents(max(v, 20.0))


def _split(rng: np.random.Generator, total: int, parts: int, lo: int = 1) -> list[int]:
    """``total`` split into ``parts`` integers each >= ``lo`` (random)."""
    base = [lo] * parts
    rest = total - lo * parts
    if rest > 0:
        add = rng.multinomial(rest, np.full(parts, 1.0 / parts))
        base = [b + int(a) for b, a in zip(base, add)]
    return base


def _forward(r: Ring, rng: np.random.Generator, diff: Difficulty, src: tuple[str, int],
             dst: tuple[str, int], inputs: list[int], tipo: int = T_P2P,
             keep: tuple[float, float] = (0.95, 1.0)) -> int:
    """Append a forwarding transfer of a share ``keep`` of what ``src`` received in ``inputs``
    (indices into ``r.txs``), some minutes after the last of them; returns its index.

    The planned amount assumes every input goes through; the traffic generator recomputes it from
    the inputs that were actually concluded, so money is conserved along the chains.
    """
    t = max(r.txs[i].t for i in inputs) + _delay(rng, diff)
    frac = float(rng.uniform(*keep))
    c = max(100, int(sum(r.txs[i].cents for i in inputs) * frac))
    r.txs.append(_Tx(t, src, dst, c, tipo, inputs=tuple(inputs), frac=frac))
    return len(r.txs) - 1


def _split_last(r: Ring, idx: int, rng: np.random.Generator, max_gap: int) -> None:
    """The mule splits forward ``idx`` in two transfers (to stay under the radar / its limits)."""
    last = r.txs[idx]
    half = last.cents // 2
    last.cents -= half
    last.frac /= 2.0
    r.txs.append(_Tx(last.t + int(rng.integers(60, max_gap)), last.src, last.dst, half, last.tipo,
                     inputs=last.inputs, frac=last.frac))


# ---------------------------------------------------------------------------------------- builders
def _fan_in(r: Ring, k: int, rng: np.random.Generator, diff: Difficulty, t0: int, lim: dict) -> None:
    if k <= 3:
        n_m, n_c = 1, 1
    else:
        n_m = int(np.clip(round(k / rng.uniform(3.5, 7.0)), 1, 6))
        n_c = 1 if n_m <= 2 else int(rng.integers(1, 3))
    mules = [r.mule() for _ in range(n_m)]
    cols = [r.coletor() for _ in range(n_c)]
    f = [1] * n_m
    for _ in range(int(rng.integers(0, n_m + 1))):
        j = int(rng.integers(0, n_m))
        if f[j] < 3 and k - (sum(f) + 1) >= n_m:
            f[j] += 1
    n_pay = k - sum(f)
    max_v = 30 - n_m - n_c
    n_rep = min(int(rng.binomial(n_pay, 0.12)), n_pay - 1)
    n_rep = max(n_rep, n_pay - max_v)
    n_vict = n_pay - n_rep
    victims = [r.victim() for _ in range(n_vict)]
    payer = victims + [victims[int(rng.integers(0, n_vict))] for _ in range(n_rep)]
    span_days = int(rng.integers(1, 5))
    times = sorted(_daytime(rng, t0 + int(rng.integers(0, span_days)) * DAY) for _ in range(n_pay))
    # every mule gets at least one payment; a returning buyer pays the same mule again
    target = [mules[i % n_m] for i in range(n_pay)]
    target = [target[i] for i in rng.permutation(n_pay)]
    first_target: dict[tuple[str, int], tuple[str, int]] = {}
    for t, v in zip(times, payer):
        nxt = target.pop()
        m = first_target.setdefault(v, nxt)
        c = _price(rng, 300.0, 0.75)
        if v in lim:
            c = min(c, int(lim[v] * 0.95))
        r.txs.append(_Tx(t, v, m, c, T_QR_E if rng.random() < 0.4 else T_P2P))
    per_mule = {m: [i for i, tx in enumerate(r.txs) if tx.dst == m] for m in mules}
    for m in mules:  # a repeated payer may have pinned a mule twice: move one payment over
        if not per_mule[m]:
            donor = max(mules, key=lambda x: (len(per_mule[x]), -x[1]))
            i = per_mule[donor].pop()
            r.txs[i].dst = m
            per_mule[m].append(i)
    for j, m in enumerate(mules):
        pays = sorted(per_mule[m], key=lambda i: r.txs[i].t)
        batches = np.array_split(np.arange(len(pays)), min(f[j], len(pays)))
        col = cols[j % n_c]
        last = -1
        for b in batches:
            last = _forward(r, rng, diff, m, col, [pays[int(i)] for i in b])
        for _ in range(f[j] - len(batches)):  # leftover forwards: split the last transfer
            _split_last(r, last, rng, 600)


def _camadas(r: Ring, k: int, rng: np.random.Generator, diff: Difficulty, t0: int, lim: dict) -> None:
    hops = int(min(rng.integers(2, 7), k - 1))
    n_pay = k - hops
    max_v = 30 - hops - 1
    n_vict = min(n_pay, max_v)
    victims = [r.victim() for _ in range(n_vict)]
    chain = [r.mule() for _ in range(hops)]
    col = r.coletor()
    t_start = _daytime(rng, t0)
    for i in range(n_pay):
        v = victims[i % n_vict]
        t = t_start + int(rng.uniform(0, 4 * HOUR)) if i else t_start
        c = _price(rng, 700.0, 0.8)
        if v in lim:
            c = min(c, int(lim[v] * 0.95))
        r.txs.append(_Tx(t, v, chain[0], c, T_P2P))
    inputs = list(range(len(r.txs)))
    for i in range(hops):
        dst = chain[i + 1] if i + 1 < hops else col
        inputs = [_forward(r, rng, diff, chain[i], dst, inputs, keep=(0.97, 1.0))]


def _ciclo(r: Ring, k: int, rng: np.random.Generator, diff: Difficulty, t0: int, lim: dict) -> None:
    options = [(L, R) for L in (3, 4, 5) for R in (1, 2) if 1 <= k - L * R - 1 <= 12]
    if not options:
        options = [(L, R) for L in (3, 4, 5) for R in (1, 2) if k - L * R - 1 >= 1]
    L, R = options[int(rng.integers(0, len(options)))]
    n_pay = k - L * R - 1
    n_vict = min(n_pay, 30 - L - 1)
    victims = [r.victim() for _ in range(n_vict)]
    cyc = [r.mule() for _ in range(L)]
    col = r.coletor()
    t_start = _daytime(rng, t0)
    for i in range(n_pay):
        v = victims[i % n_vict]
        t = t_start + int(rng.uniform(0, 30 * HOUR)) if i else t_start
        c = _price(rng, 900.0, 0.7)
        if v in lim:
            c = min(c, int(lim[v] * 0.95))
        r.txs.append(_Tx(t, v, cyc[0], c, T_P2P))
    inputs = list(range(len(r.txs)))
    for _ in range(R):
        for i in range(L):
            inputs = [_forward(r, rng, diff, cyc[i], cyc[(i + 1) % L], inputs, keep=(0.985, 1.0))]
    _forward(r, rng, diff, cyc[0], col, inputs)


def _ato(r: Ring, k: int, rng: np.random.Generator, diff: Difficulty, t0: int, lim: dict) -> None:
    n_m = int(min(rng.integers(1, 4), k // 2))
    n_pay = k - n_m  # >= n_m, so every mule receives at least one transfer
    n_vict = int(np.clip(math.ceil(n_pay / rng.uniform(1.0, 3.0)), 1, min(n_pay, 5)))
    while n_pay > 4 * n_vict:
        n_vict += 1
    victims = [r.victim() for _ in range(n_vict)]
    mules = [r.mule() for _ in range(n_m)]
    col = r.coletor()
    per_v = _split(rng, n_pay, n_vict)
    per_mule: dict[tuple[str, int], list[int]] = {m: [] for m in mules}
    j = 0
    for v, nv in zip(victims, per_v):
        tv = _daytime(rng, t0 + int(rng.integers(0, 2)) * DAY, "empresa")
        n_fail = int(rng.integers(2, 7))
        t_fail = tv - int(rng.integers(8, 60)) * MINUTE
        for _ in range(n_fail):
            r.fails.append((v[1], t_fail))
            t_fail += int(rng.integers(20, 240))
        t = max(tv, t_fail + int(rng.integers(60, 300)))
        cap = lim.get(v, 500_000)
        spent = 0
        for i in range(nv):
            m = mules[j % n_m]
            j += 1
            want = float(rng.lognormal(math.log(2500.0 if i == 0 else 1200.0), 0.6)) * 100
            c = int(min(want, cap * rng.uniform(0.5, 0.97), max(cap - spent, 0) * 0.9))
            c = max(c, 10_000)
            spent += c
            r.txs.append(_Tx(t, v, m, c, T_P2P, auth=3 if i == 0 else -1, dev_attacker=True))
            per_mule[m].append(len(r.txs) - 1)
            t += int(rng.integers(60, 9 * MINUTE))
    for m in mules:
        _forward(r, rng, diff, m, col, per_mule[m])


def _sequestro(r: Ring, k: int, rng: np.random.Generator, diff: Difficulty, t0: int, lim: dict) -> None:
    n_m = 1 if k < 6 else int(rng.integers(1, 3))
    n_pay = k - n_m
    n_vict = 1 if n_pay < 5 else int(rng.integers(1, 3))
    victims = [r.victim() for _ in range(n_vict)]
    mules = [r.mule() for _ in range(n_m)]
    col = r.coletor()
    per_v = _split(rng, n_pay, n_vict, lo=2) if n_pay >= 2 * n_vict else [n_pay]
    hour = int(rng.choice([20, 21, 22, 23, 0, 1, 2]))
    per_mule: dict[tuple[str, int], list[int]] = {m: [] for m in mules}
    j = 0
    for v, nv in zip(victims, per_v):
        t = t0 + hour * HOUR + int(rng.integers(0, HOUR))
        for i in range(nv):
            m = mules[j % n_m]
            j += 1
            c = int(rng.choice([100_000, 100_000, 90_000, 80_000, 50_000, 30_000, 150_000, 200_000]))
            r.txs.append(_Tx(t, v, m, c, T_P2P))
            per_mule[m].append(len(r.txs) - 1)
            t += int(rng.integers(90, 12 * MINUTE))
        hour = (hour + 1) % 24 if hour >= 20 or hour < 5 else hour
    for m in mules:  # forwards whatever the night cap let through
        _forward(r, rng, diff, m, col, per_mule[m])


def _falso_parente(r: Ring, k: int, rng: np.random.Generator, diff: Difficulty, t0: int,
                   lim: dict) -> None:
    mule = r.mule()
    col = r.coletor()
    n_f = int(min(rng.integers(1, 4), k - 1))
    n_pay = k - n_f
    n_rep = min(int(rng.binomial(n_pay, 0.25)), n_pay // 2)
    n_vict = n_pay - n_rep
    victims = [r.victim() for _ in range(n_vict)]
    span_days = int(rng.integers(1, 3))
    for i, v in enumerate(victims):
        t = _daytime(rng, t0 + int(rng.integers(0, span_days)) * DAY)
        c = _price(rng, 600.0, 0.6)
        if v in lim:
            c = min(c, int(lim[v] * 0.95))
        r.txs.append(_Tx(t, v, mule, c, T_P2P))
        if i < n_rep:  # "one more bill, mom"
            t2 = t + int(rng.integers(15, 150)) * MINUTE
            c2 = _price(rng, 600.0, 0.5)
            if v in lim:
                c2 = min(c2, int(lim[v] * 0.5))
            r.txs.append(_Tx(t2, v, mule, c2, T_P2P))
    pays = sorted(range(len(r.txs)), key=lambda i: r.txs[i].t)
    batches = np.array_split(np.arange(len(pays)), min(n_f, len(pays)))
    last = -1
    for b in batches:
        last = _forward(r, rng, diff, mule, col, [pays[int(i)] for i in b])
    for _ in range(n_f - len(batches)):
        _split_last(r, last, rng, 900)


_BUILDERS = {
    "coleta_fan_in": _fan_in,
    "camadas": _camadas,
    "ciclo": _ciclo,
    "invasao_conta": _ato,
    "sequestro_relampago": _sequestro,
    "falso_parente": _falso_parente,
}


# ---------------------------------------------------------------------------------------- planning
def partition_budget(budget: int, rng: np.random.Generator) -> list[tuple[str, int]]:
    """Split ``budget`` fraudulent transactions into rings ``(typology, n_tx)`` summing exactly to it.

    The first rings cycle through every typology (in a random order) so that all appear whenever
    the budget allows.
    """
    if budget < 2:
        raise ValueError("at least two fraudulent transactions are needed to plant a ring")
    names = list(TIPOLOGIAS_PIX)
    w = np.array([WEIGHTS[t] for t in names])
    first = [names[i] for i in rng.permutation(len(names))]
    out: list[tuple[str, int]] = []
    rem = budget
    while rem > 0:
        t = first.pop(0) if first else names[int(rng.choice(len(names), p=w / w.sum()))]
        lo, hi = K_RANGE[t]
        a, b = K_TYPICAL[t]
        k = min(int(rng.integers(a, b + 1)), rem)
        if rem - k == 1:
            k = k + 1 if k + 1 <= hi else k - 1
        if k < lo or k > hi or rem - k == 1:
            t = "coleta_fan_in"
            k = rem if rem <= 30 else 15
        out.append((t, k))
        rem -= k
    return out


def balanced_specs(budget: int, rng: np.random.Generator, typologies: tuple[str, ...],
                   done: list[int]) -> Iterator[tuple[str, int]]:
    """``(typology, n_tx)`` of each ring to plant, in balanced rounds (each round every selected
    typology once, in a random order), until the transactions planted so far (``done``, appended by
    the caller) reach ``budget``. ``n_tx`` is exact for the Pix typologies and 0 for the AML
    structures, whose transaction count follows from their drawn shape."""
    rnd: list[str] = []
    while sum(done) < budget:
        if not rnd:
            rnd = [typologies[int(i)] for i in rng.permutation(len(typologies))]
        tip = rnd.pop(0)
        if tip in K_RANGE:
            lo, hi = K_RANGE[tip]
            a, b = K_TYPICAL[tip]
            yield tip, int(np.clip(min(int(rng.integers(a, b + 1)), budget - sum(done)), lo, hi))
        else:
            yield tip, 0


def plan_rings(users: Users, limits: Limits, budget: int, rng: np.random.Generator,
               diff: Difficulty, typologies: tuple[str, ...] | None = None) -> RingPlan:
    """Plan rings worth ``budget`` fraudulent transactions and recruit their members.

    With the default mix (``typologies`` and ``diff.typologies`` None) exactly ``budget``; with a
    selection, balanced rounds of the selected typologies until ``budget`` is reached (the last
    ring may pass it by its size).

    Side effects on ``users``: roles and ring ids are set; fresh mule accounts get a recent
    ``cadastro``; fresh mules lose any employer; with ``diff.mule_background_range`` each ring's
    members get their ordinary activity (``users.mule_bg``). On ``limits``: mules raise their limits
    days before.
    """
    from datagen.aml import AML_BUILDERS  # the AML structures build on this module's helpers

    builders = {**_BUILDERS, **AML_BUILDERS}
    done: list[int] = []
    selection = typologies if typologies is not None else diff.typologies
    parts = iter(partition_budget(budget, rng)) if selection is None else balanced_specs(budget, rng, selection, done)
    n = users.n
    base_ok = users.active & (users.household < 0) & ~users.new_popular & ~users.informal & (users.pix_since < 0)
    old = (users.cadastro < WINDOW_START - 60 * DAY) & (users.pix_since < 0)
    victim_pool = rng.permutation(np.flatnonzero(users.active & ~users.is_pj & old & ~users.new_popular))
    v_ptr = 0
    mule_pool = list(rng.permutation(np.flatnonzero(base_ok & ~users.is_pj)))
    pj_pool = list(rng.permutation(np.flatnonzero(base_ok & users.is_pj & (users.segment <= 1))))
    taken = np.zeros(n, dtype=bool)

    def take(pool: list, cond=None) -> int:  # type: ignore[no-untyped-def]
        while pool:
            u = int(pool.pop())
            if not taken[u] and (cond is None or cond(u)):
                taken[u] = True
                return u
        raise RuntimeError("not enough users to recruit ring members; use a larger scale")

    rings: list[Ring] = []
    key_requests: list[KeyRequest] = []
    shared: list[SharedDevice] = []
    rows: list[tuple] = []
    fails: list[tuple[int, int, int]] = []

    for rid, (tip, k) in enumerate(parts):
        r = Ring(rid=rid, tipologia=tip)
        # victims first (their limits bound the amounts)
        if tip == "sequestro_relampago":
            lo_day, hi_day = WINDOW_START + 2 * DAY, WINDOW_END - 2 * DAY
        else:
            lo_day, hi_day = WINDOW_START + 3 * DAY, WINDOW_END - 5 * DAY
        t0 = lo_day + int(rng.integers(0, (hi_day - lo_day) // DAY + 1)) * DAY
        # pre-assign victims lazily: builders call r.victim(); we map afterwards, but the limits of
        # victims shape amounts, so draw a provisional victim list now
        provisional: list[int] = []
        pos: list[int] = []
        p = v_ptr
        while len(provisional) < 30 and p < victim_pool.size:
            u = int(victim_pool[p])
            if not taken[u]:
                provisional.append(u)
                pos.append(p)
            p += 1
        lim_by_slot = {("v", i): int(min(limits.lim_tx[u], limits.lim_day[u])) for i, u in enumerate(provisional)}
        builders[tip](r, k, rng, diff, t0, lim_by_slot)
        assert tip not in K_RANGE or len(r.txs) == k, (tip, k, len(r.txs))
        assert 3 <= r.n_members <= 30, (tip, k, r.n_members)
        done.append(len(r.txs))
        if r.n_v > len(provisional):
            raise RuntimeError("not enough users to recruit ring victims; use a larger scale")
        for i in range(r.n_v):
            r.users[("v", i)] = provisional[i]
            taken[provisional[i]] = True
        if r.n_v:
            v_ptr = pos[r.n_v - 1] + 1
        if diff.mule_background_range is not None:
            r.atividade = float(rng.uniform(*diff.mule_background_range))
        # shift the whole ring back if it runs past the end of the window
        t_max = max(tx.t for tx in r.txs)
        if t_max > REF_END - 10 * MINUTE:
            shift = ((t_max - (REF_END - 10 * MINUTE)) // DAY + 1) * DAY
            for tx in r.txs:
                tx.t -= shift
            r.fails = [(v, t - shift) for v, t in r.fails]
        t_min = min(tx.t for tx in r.txs)
        if t_min < WINDOW_START + HOUR:  # pragma: no cover - builders start >= 2 days in
            raise RuntimeError("ring starts before the window")

        # mules and collectors: fresh accounts or rented old ones
        first_in: dict[tuple[str, int], int] = {}
        for tx in r.txs:
            for s in (tx.src, tx.dst):
                first_in[s] = min(first_in.get(s, tx.t), tx.t)
        for slot in [("m", i) for i in range(r.n_m)] + [("c", i) for i in range(r.n_c)]:
            t_first = first_in[slot]
            rented = rng.random() < diff.mule_rented_frac
            if slot[0] == "c" and rng.random() < 0.25 and pj_pool:
                u = take(pj_pool, (lambda x: users.cadastro[x] < t_first - 30 * DAY) if rented else None)
            else:
                u = take(mule_pool, (lambda x: users.cadastro[x] < t_first - 60 * DAY) if rented else None)
            if not rented:
                users.cadastro[u] = t_first - int(_log_uniform(rng, 2.0, 50.0) * DAY) - int(rng.integers(0, DAY))
                users.employer[u] = -1
            r.users[slot] = u
            users.role[u] = R_MULA if slot[0] == "m" else R_COLETOR
            users.ring[u] = rid
            if r.atividade is not None:
                users.mule_bg[u] = r.atividade
            # the key the ring uses: a fresh account registers it at opening; a rented account (and
            # any fake-relative mule: "mudei de numero") registers a new one shortly before the burst
            doc_k = K_CNPJ if users.is_pj[u] else K_CPF
            if not rented and not (tip == "falso_parente" and slot[0] == "m"):
                tipo = int(rng.choice([K_EVP, K_EMAIL, K_TEL, doc_k], p=[0.45, 0.15, 0.2, 0.2]))
                t_key = int(users.cadastro[u]) + int(rng.integers(2 * MINUTE, 30 * MINUTE))
                req = KeyRequest(user=u, tipo=tipo, cadastro=t_key, primary=True)
            elif not (tip == "falso_parente" and slot[0] == "m") and rng.random() < 0.5:
                req = None  # a rented account lends its existing key too
            else:
                tipo = K_TEL if tip == "falso_parente" and slot[0] == "m" else \
                    int(rng.choice([K_EVP, K_EMAIL, K_TEL], p=[0.6, 0.15, 0.25]))
                lead = _log_uniform(rng, 1.0, 240.0) * HOUR if tip == "falso_parente" else \
                    _log_uniform(rng, 2.0, 400.0) * HOUR
                t_key = max(int(users.cadastro[u]) + HOUR, t_first - int(lead))
                req = KeyRequest(user=u, tipo=tipo, cadastro=t_key, new_number=tipo == K_TEL)
            if req is not None:
                r.key_req[slot] = len(key_requests)
                key_requests.append(req)
            # limits: raised (at least a day before the burst) only when the flows need it
            if not rented:  # a freshly opened account has the default configuration
                limits.updated[u] = users.cadastro[u]
            out_txs = [tx for tx in r.txs if tx.src == slot]
            need_tx = max([tx.cents for tx in out_txs], default=0)
            by_day: dict[int, int] = {}
            for tx in out_txs:
                by_day[tx.t // DAY] = by_day.get(tx.t // DAY, 0) + tx.cents
            need_day = max(by_day.values(), default=0)
            night_free = limits.updated[u] > users.cadastro[u] and limits.updated[u] + 24 * HOUR <= t_first
            night_out = not users.is_pj[u] and any(is_night_hour((tx.t % DAY) // HOUR) for tx in out_txs)
            if need_tx > limits.lim_tx[u] or need_day > limits.lim_day[u] or (night_out and not night_free):
                lim_tx = max(int(limits.lim_tx[u]), int(math.ceil(need_tx * 1.1 / 100_000.0)) * 100_000)
                lim_day = max(int(limits.lim_day[u]), int(math.ceil(need_day * 1.3 / 100_000.0)) * 100_000,
                              lim_tx)
                limits.lim_tx[u], limits.lim_day[u] = lim_tx, lim_day
                upd_hi = t_first - 26 * HOUR
                upd_lo = int(users.cadastro[u]) + HOUR
                limits.updated[u] = upd_lo + int(max(upd_hi - upd_lo, 0) * rng.uniform(0.3, 1.0))
        for slot in [("v", i) for i in range(r.n_v)]:
            u = r.users[slot]
            users.role[u] = R_VITIMA
            users.ring[u] = rid

        # shared devices among mules/collectors (the operator's phone)
        mule_slots = [("m", i) for i in range(r.n_m)] + [("c", i) for i in range(r.n_c)]
        if len(mule_slots) >= 2 and rng.random() < diff.ring_device_share:
            n_dev = 1 if len(mule_slots) <= 4 else 2
            for d in range(n_dev):
                size = max(2, int(round(len(mule_slots) * rng.uniform(0.5, 1.0))))
                pick = [mule_slots[i] for i in sorted(rng.choice(len(mule_slots), size=size, replace=False))]
                binds = []
                for s in pick:
                    u = r.users[s]
                    t_reg = max(int(users.cadastro[u]) + HOUR, first_in[s] - int(_log_uniform(rng, 1.0, 200.0) * HOUR))
                    binds.append((u, t_reg))
                    r.slot_device.setdefault(s, len(shared))
                r.shared.append(len(shared))
                shared.append(SharedDevice(bindings=binds, tipo=0))
        # account takeover: the attacker's device gets bound to each victim at the takeover
        if tip == "invasao_conta":
            binds = []
            for i in range(r.n_v):
                u = r.users[("v", i)]
                t_first = min(tx.t for tx in r.txs if tx.src == ("v", i))
                binds.append((u, t_first - int(rng.integers(210, 400))))  # login: t - 30..200 s
            if rng.random() < 0.5:  # the same phone also operates the mules
                for i in range(r.n_m):
                    u = r.users[("m", i)]
                    if ("m", i) not in r.slot_device:
                        binds.append((u, max(int(users.cadastro[u]) + HOUR, first_in[("m", i)] - 2 * HOUR)))
                        r.slot_device[("m", i)] = len(shared)
            r.attacker_device = len(shared)
            r.shared.append(len(shared))
            shared.append(SharedDevice(bindings=binds, tipo=0))
            for v, t in r.fails:
                fails.append((r.users[("v", v)], t, r.attacker_device))

        for local, tx in enumerate(r.txs):
            su, du = r.users[tx.src], r.users[tx.dst]
            okr = r.key_req.get(tx.src, -1) if tx.src[0] != "v" else -1
            dkr = r.key_req.get(tx.dst, -1)
            if tx.dev_attacker:
                dev = r.attacker_device
            elif tx.src[0] != "v":
                dev = r.slot_device.get(tx.src, -1)
            else:
                dev = -1
            tipo = tx.tipo
            if users.is_pj[su] and tipo == T_P2P:  # a shell firm passing money on
                tipo = T_B2B if users.is_pj[du] else T_B2P
            elif users.is_pj[du] and tipo == T_P2P:
                tipo = T_P2M
            rows.append((tx.t, su, du, tx.cents, tipo, rid, PAPEL_CODE[_papel(tx.src)],
                         PAPEL_CODE[_papel(tx.dst)], okr, dkr, dev, tx.auth, local))
        rings.append(r)

    rows.sort(key=lambda x: (x[0], x[1], x[2], x[3], x[5], x[12]))
    a = np.array(rows, dtype=np.int64).reshape(-1, 13)
    # forwards: inputs as plan indices
    glob = {(int(rid), int(loc)): g for g, (rid, loc) in enumerate(zip(a[:, 5].tolist(), a[:, 12].tolist()))}
    fwd_inputs: list[tuple[int, ...]] = []
    fwd_frac = np.zeros(a.shape[0])
    for g, (rid, loc) in enumerate(zip(a[:, 5].tolist(), a[:, 12].tolist())):
        tx = rings[rid].txs[loc]
        fwd_inputs.append(tuple(glob[(rid, i)] for i in tx.inputs))
        fwd_frac[g] = tx.frac
        assert all(x < g for x in fwd_inputs[-1]), "a forward must come after its inputs"
    f = np.array(sorted(fails), dtype=np.int64).reshape(-1, 3)
    plan = RingPlan(rings=rings, key_requests=key_requests, shared_devices=shared,
                    ts=a[:, 0], sender=a[:, 1], receiver=a[:, 2], cents=a[:, 3], tipo=a[:, 4],
                    ring=a[:, 5], papel_o=a[:, 6], papel_d=a[:, 7], okey_req=a[:, 8], dkey_req=a[:, 9],
                    dev_req=a[:, 10], auth=a[:, 11], fail_user=f[:, 0], fail_ts=f[:, 1],
                    fail_dev_req=f[:, 2], fwd_inputs=fwd_inputs, fwd_frac=fwd_frac)
    log.debug("rings: %d, fraudulent tx: %d, mules: %d", len(rings), plan.n_tx, int(users.is_mule.sum()))
    return plan


def _papel(slot: tuple[str, int]) -> str:
    return {"v": "vitima", "m": "mula", "c": "coletor"}[slot[0]]

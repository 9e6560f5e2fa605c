"""The laundering structures of the AML literature as Pix rings (``schema.TIPOLOGIAS_AML``).

The eight structures of IBM's AMLSim and of AMLworld (Altman et al., "Realistic Synthetic Financial
Transactions for Anti-Money Laundering Models", NeurIPS 2023), on the accounts of the population:

* ``aml_fan_out`` - one account distributes the money to 2-29 others;
* ``aml_fan_in`` - 2-29 accounts send to one;
* ``aml_cycle`` - the money goes round 3-30 accounts back to the first, once or twice, and sometimes
  out to a last account;
* ``aml_bipartite`` - originators each pay several beneficiaries (a random bipartite graph);
* ``aml_stack`` - stacked bipartite layers (3-4 layers of 2 or more accounts), each layer passing on
  what it received to the next;
* ``aml_scatter_gather`` - one account scatters to intermediates who gather it into one account;
* ``aml_gather_scatter`` - several accounts gather into one hub that scatters to beneficiaries;
* ``aml_random_walk`` - the money wanders between the members (every member at least once, some
  twice) before it lands in a last account.

Each ring draws its own parameters from wide ranges, so that no one threshold names a typology:

* size: 3-30 members counting victims (log-uniform, smallest per structure in :data:`MIN_ACCOUNTS`);
* placement (``colocacao``): scam victims' transfers into the entry accounts (``vitimas``, the
  victims then file MED claims; ``Difficulty.aml_victim_frac``), or money that comes from outside
  Pix (``externa``: cash, TED; then no claim ever touches the ring);
* hop delay: a typical delay (``tempo``) log-uniform from 3 minutes to 9 days (less for deep
  structures, so a ring fits the window), each hop 0.5-1.5 times it, between 1 minute and 14 days;
* amounts (``modo_valor``): ``conservado`` (each hop keeps a 0-3 % fee), ``dividido`` (60 % of the
  transfers split in 2-3 pieces) or ``estruturado`` (pieces kept below a threshold, ``limiar``: R$ 1,000 - the
  night cap -, 2,000, 5,000 or 10,000; at most :data:`MAX_PIECES` pieces, what does not fit stays in
  the account).

Every hop passes on a share of what its inputs actually moved (``_Tx.inputs`` / ``frac``, resolved by
the traffic generator), so the money trace in ``_truth/fluxos.csv`` adds up. Roles: an account that
sends in the ring is a ``mula``, one that only receives is a ``coletor``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from datagen.plan import Difficulty
from datagen.rings import T_P2P, Ring, _daytime, _log_uniform, _price, _Tx
from datagen.timeline import DAY, HOUR, MINUTE, REF_END, WINDOW_START

Slot = tuple[str, int]

#: smallest structure of each typology (accounts, victims not counted)
MIN_ACCOUNTS: dict[str, int] = {
    "aml_fan_out": 3,
    "aml_fan_in": 3,
    "aml_cycle": 3,
    "aml_bipartite": 4,
    "aml_stack": 6,
    "aml_scatter_gather": 4,
    "aml_gather_scatter": 5,
    "aml_random_walk": 4,
}
MAX_MEMBERS = 30
MIN_HOP = MINUTE
MAX_HOP = 14 * DAY
#: typical hop delay of a ring, log-uniform (a hop is 0.5-1.5 times it)
TEMPO_RANGE = (3 * MINUTE, 9 * DAY)
#: the part of the window the hops of one ring may take (placement and margins come on top)
_HOPS_SPAN = 42 * DAY
#: structuring thresholds (cents): R$ 1,000 (the night cap), 2,000, 5,000, 10,000
LIMIARES = (100_000, 200_000, 500_000, 1_000_000)
MODOS = ("conservado", "dividido", "estruturado")
MAX_PIECES = 6
#: what a victim of a laundering ring was told (the claim they file) and its median report delay (h)
_SCAM_CLAIMS = (("golpe_venda_falsa", 60.0), ("engenharia_social", 30.0), ("golpe_investimento", 150.0),
                ("golpe_falso_parente", 20.0))


class _Flow:
    """One AML ring being built: its drawn parameters and the hop primitives."""

    def __init__(self, r: Ring, rng: np.random.Generator, diff: Difficulty, lim: dict[Slot, int]) -> None:
        self.r, self.rng, self.lim = r, rng, lim
        r.colocacao = "vitimas" if rng.random() < diff.aml_victim_frac else "externa"
        self.n_v = int(rng.integers(1, 9)) if r.colocacao == "vitimas" else 0
        r.modo_valor = MODOS[int(rng.integers(0, len(MODOS)))]
        if r.modo_valor == "estruturado":
            r.limiar = int(LIMIARES[int(rng.integers(0, len(LIMIARES)))])
        if r.colocacao == "vitimas":
            r.tipo_fraude, r.report_delay_h = _SCAM_CLAIMS[int(rng.integers(0, len(_SCAM_CLAIMS)))]

    # ------------------------------------------------------------------------------ parameters
    def n_accounts(self, lo: int) -> int:
        """Accounts of the structure: log-uniform in [lo, 30 - victims]."""
        hi = MAX_MEMBERS - self.n_v
        return int(min(hi, math.floor(_log_uniform(self.rng, lo, hi + 1))))

    def set_depth(self, depth: int) -> None:
        """Draw the ring's typical hop delay, short enough for ``depth`` sequential hops to fit."""
        lo, hi = TEMPO_RANGE
        hi = max(lo * 1.5, min(hi, _HOPS_SPAN / (3.3 * max(depth, 1))))
        self.r.tempo = int(_log_uniform(self.rng, lo, hi))

    def _hop(self) -> int:
        return int(np.clip(self.r.tempo * self.rng.uniform(0.5, 1.5), MIN_HOP, MAX_HOP))

    def _gap(self, frac: float, cap: int) -> int:
        return int(min(cap, max(60.0, self.rng.uniform(0.0, frac) * self.r.tempo)))

    def _external_amount(self) -> int:
        """Money from outside Pix an entry account sends on: large or rounded amounts."""
        v = float(self.rng.lognormal(math.log(2500.0), 0.7))
        step = 1000.0 if v > 5000 else 100.0
        return max(10_000, int(round(v / step) * step * 100))

    # ------------------------------------------------------------------------------ flows
    def place(self, entries: list[Slot], t0: int) -> tuple[dict[Slot, list[int]], int]:
        """Money into the entry accounts: victims' transfers (``vitimas``) or nothing seen in Pix
        (``externa``). Returns each entry's input transactions and when the money is there."""
        r, rng = self.r, self.rng
        inputs: dict[Slot, list[int]] = {e: [] for e in entries}
        if r.colocacao == "externa":
            return inputs, _daytime(rng, t0)
        victims = [r.victim() for _ in range(self.n_v)]
        n_pay = max(len(victims), len(entries)) + int(rng.binomial(len(victims), 0.2))
        order = [entries[int(i)] for i in rng.permutation(len(entries))]
        t_last = t0
        for j in range(n_pay):
            v = victims[j % len(victims)]
            e = order[j % len(order)]
            t = _daytime(rng, t0 + int(rng.integers(0, 3)) * DAY)
            c = _price(rng, 900.0, 0.8)
            if v in self.lim:
                c = min(c, int(self.lim[v] * 0.95))
            if r.limiar:
                c = min(c, int(r.limiar * rng.uniform(0.85, 0.98)))
            r.txs.append(_Tx(t, v, e, max(c, 2_000), T_P2P))
            inputs[e].append(len(r.txs) - 1)
            t_last = max(t_last, t)
        return inputs, t_last

    def out(self, src: Slot, dsts: list[Slot], inputs: list[int], t_ready: int) -> dict[Slot, list[int]]:
        """``src`` passes on to ``dsts`` what it received in ``inputs`` (a 0-3 % fee kept, shares at
        random), one hop later; with no inputs it sends money from outside Pix. Each share is one
        transfer, or pieces (``dividido``; ``estruturado``: below ``limiar``)."""
        r, rng = self.r, self.rng
        w = rng.dirichlet(np.full(len(dsts), 3.0)) if len(dsts) > 1 else np.ones(1)
        if inputs:
            t_in = max(r.txs[i].t for i in inputs)
            total = sum(r.txs[i].cents for i in inputs)
            keep = float(rng.uniform(0.97, 1.0))
        else:
            t_in, total, keep = t_ready, 0, 1.0
        t = t_in + self._hop()
        res: dict[Slot, list[int]] = {}
        for d, share in zip(dsts, w.tolist()):
            planned = total * keep * share if inputs else float(self._external_amount())
            n = 1
            if r.modo_valor == "dividido" and rng.random() < 0.6:
                n = int(rng.integers(2, 4))
            elif r.modo_valor == "estruturado":
                n = int(min(MAX_PIECES, max(1, math.ceil(planned / (r.limiar * 0.98)))))
            piece = planned / n
            if r.limiar and piece > r.limiar * 0.98:  # what does not fit in MAX_PIECES stays put
                piece = r.limiar * float(rng.uniform(0.9, 0.98))
            td = t + (self._gap(0.3, 3 * HOUR) if res else 0)
            idx = []
            for j in range(n):
                tj = min(td + j * self._gap(0.5, 6 * HOUR), t_in + MAX_HOP)
                if inputs:
                    frac = piece / total
                    r.txs.append(_Tx(tj, src, d, max(100, int(total * frac)), T_P2P, inputs=tuple(inputs),
                                     frac=frac))
                else:
                    c = max(10_000, int(piece // 1_000) * 1_000)  # round reais
                    r.txs.append(_Tx(tj, src, d, c, T_P2P))
                idx.append(len(r.txs) - 1)
            res[d] = idx
        return res

    def fit_window(self) -> None:
        """Move the ring by whole days (the hour of each transfer kept) to a random place where it
        fits the window."""
        r, rng = self.r, self.rng
        t_min = min(tx.t for tx in r.txs)
        t_max = max(tx.t for tx in r.txs)
        lo, hi = WINDOW_START + 2 * DAY, REF_END - 30 * MINUTE
        base = -((t_min - lo) // DAY) * DAY  # the shift that puts the first transfer on the first day
        room = (hi - (t_max + base)) // DAY
        if room < 0:  # pragma: no cover - the hop delays are drawn to fit
            raise RuntimeError(f"{r.tipologia} ring spans {(t_max - t_min) / DAY:.1f} days: longer than the window")
        shift = base + int(rng.integers(0, room + 1)) * DAY
        for tx in r.txs:
            tx.t += shift


# --------------------------------------------------------------------------------------- builders
def _fan_out(f: _Flow, t0: int) -> None:
    r = f.r
    n = f.n_accounts(MIN_ACCOUNTS["aml_fan_out"])
    hub = r.mule()
    benes = [r.coletor() for _ in range(n - 1)]
    f.set_depth(1)
    inp, t = f.place([hub], t0)
    f.out(hub, benes, inp[hub], t)


def _fan_in(f: _Flow, t0: int) -> None:
    r = f.r
    n = f.n_accounts(MIN_ACCOUNTS["aml_fan_in"])
    sources = [r.mule() for _ in range(n - 1)]
    hub = r.coletor()
    f.set_depth(1)
    inp, t = f.place(sources, t0)
    for s in sources:
        f.out(s, [hub], inp[s], t)


def _cycle(f: _Flow, t0: int) -> None:
    r, rng = f.r, f.rng
    n = f.n_accounts(MIN_ACCOUNTS["aml_cycle"])
    exit_ = n >= 4 and rng.random() < 0.5
    size = n - int(exit_)
    rounds = 2 if size <= 10 and rng.random() < 0.35 else 1
    ring = [r.mule() for _ in range(size)]
    col = r.coletor() if exit_ else None
    f.set_depth(size * rounds + int(exit_))
    inp, t = f.place([ring[0]], t0)
    cur = inp[ring[0]]
    for _ in range(rounds):
        for i in range(size):
            nxt = ring[(i + 1) % size]
            cur = f.out(ring[i], [nxt], cur, t)[nxt]
    if col is not None:
        f.out(ring[0], [col], cur, t)


def _bipartite_edges(rng: np.random.Generator, n_src: int, n_dst: int, max_deg: int) -> list[list[int]]:
    """Each source pays 1..max_deg destinations; every destination is paid at least once."""
    out = [sorted(rng.choice(n_dst, size=int(rng.integers(1, min(max_deg, n_dst) + 1)), replace=False).tolist())
           for _ in range(n_src)]
    paid = {d for ds in out for d in ds}
    for d in range(n_dst):
        if d not in paid:
            out[int(rng.integers(0, n_src))].append(d)
    return [sorted(ds) for ds in out]


def _bipartite(f: _Flow, t0: int) -> None:
    r, rng = f.r, f.rng
    n = f.n_accounts(MIN_ACCOUNTS["aml_bipartite"])
    n_o = int(rng.integers(2, n - 1))
    origs = [r.mule() for _ in range(n_o)]
    benes = [r.coletor() for _ in range(n - n_o)]
    f.set_depth(1)
    edges = _bipartite_edges(rng, n_o, len(benes), 4)
    inp, t = f.place(origs, t0)
    for o, ds in zip(origs, edges):
        f.out(o, [benes[d] for d in ds], inp[o], t)


def _stack(f: _Flow, t0: int) -> None:
    r, rng = f.r, f.rng
    n = f.n_accounts(MIN_ACCOUNTS["aml_stack"])
    n_layers = 3 if n < 9 else int(rng.integers(3, 5))
    sizes = [2] * n_layers
    for i in rng.integers(0, n_layers, size=n - 2 * n_layers).tolist():
        sizes[i] += 1
    layers = [[r.mule() for _ in range(s)] for s in sizes[:-1]] + [[r.coletor() for _ in range(sizes[-1])]]
    f.set_depth(n_layers - 1)
    pending, t = f.place(layers[0], t0)
    for a, b in zip(layers[:-1], layers[1:]):
        for d in b:
            pending[d] = []
        for src, ds in zip(a, _bipartite_edges(rng, len(a), len(b), 3)):
            for d, idx in f.out(src, [b[j] for j in ds], pending[src], t).items():
                pending[d].extend(idx)


def _scatter_gather(f: _Flow, t0: int) -> None:
    r = f.r
    n = f.n_accounts(MIN_ACCOUNTS["aml_scatter_gather"])
    orig = r.mule()
    mids = [r.mule() for _ in range(n - 2)]
    bene = r.coletor()
    f.set_depth(2)
    inp, t = f.place([orig], t0)
    got = f.out(orig, mids, inp[orig], t)
    for m in mids:
        f.out(m, [bene], got[m], t)


def _gather_scatter(f: _Flow, t0: int) -> None:
    r, rng = f.r, f.rng
    n = f.n_accounts(MIN_ACCOUNTS["aml_gather_scatter"])
    n_s = int(rng.integers(2, n - 2))
    sources = [r.mule() for _ in range(n_s)]
    hub = r.mule()
    benes = [r.coletor() for _ in range(n - 1 - n_s)]
    f.set_depth(2)
    inp, t = f.place(sources, t0)
    at_hub: list[int] = []
    for s in sources:
        at_hub.extend(f.out(s, [hub], inp[s], t)[hub])
    f.out(hub, benes, at_hub, t)


def _random_walk(f: _Flow, t0: int) -> None:
    r, rng = f.r, f.rng
    n = f.n_accounts(MIN_ACCOUNTS["aml_random_walk"])
    walkers = [r.mule() for _ in range(n - 1)]
    last = r.coletor()
    seq = [0] + (1 + rng.permutation(len(walkers) - 1)).tolist()
    for _ in range(int(rng.integers(0, len(walkers) + 1))):  # revisits
        nxt = int(rng.integers(0, len(walkers) - 1))
        seq.append(nxt if nxt < seq[-1] else nxt + 1)
    f.set_depth(len(seq))
    pending, t = f.place([walkers[0]], t0)
    for w in walkers[1:]:
        pending[w] = []
    path = [walkers[i] for i in seq] + [last]
    for a, b in zip(path[:-1], path[1:]):
        got = f.out(a, [b], pending[a], t)
        pending[a] = []
        if b is not last:
            pending[b].extend(got[b])


def _builder(shape: Callable[[_Flow, int], None]) -> Callable[..., None]:
    def build(r: Ring, k: int, rng: np.random.Generator, diff: Difficulty, t0: int, lim: dict) -> None:
        f = _Flow(r, rng, diff, lim)
        shape(f, t0)
        f.fit_window()

    build.__doc__ = shape.__doc__
    return build


#: typology -> builder, with the signature of ``rings._BUILDERS`` (``k`` is not used: the size of
#: an AML ring follows from its drawn shape)
AML_BUILDERS: dict[str, Callable[..., None]] = {
    "aml_fan_out": _builder(_fan_out),
    "aml_fan_in": _builder(_fan_in),
    "aml_cycle": _builder(_cycle),
    "aml_bipartite": _builder(_bipartite),
    "aml_stack": _builder(_stack),
    "aml_scatter_gather": _builder(_scatter_gather),
    "aml_gather_scatter": _builder(_gather_scatter),
    "aml_random_walk": _builder(_random_walk),
}

"""Transactions and authentication logs, generated one day at a time and streamed to the writers.

For every day of the window: draw that day's legitimate transactions (types, parties, instants,
amounts), add passthrough follow-ups, merge the planted fraudulent transactions of the day, check
every attempt against the sender's limits in timestamp order (``rejeitada`` when a limit would be
broken), give each transaction the login that precedes it, add the day's other logins (sessions
without a transfer, typos, new devices, the account-takeover attempts), and write. Memory stays
bounded by one day of data plus small per-user state.
"""

from __future__ import annotations

import logging
import math
import sys
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from datagen.plan import Difficulty
from datagen.lookalikes import LookalikePlan
from datagen.population import Devices, Keys, Limits, Users
from datagen.rings import RingPlan
from datagen.timeline import (
    DAY,
    HOUR,
    MINUTE,
    REF_END,
    WINDOW_DAYS,
    WINDOW_START,
    day_weights,
    is_weekend_like,
    payday_strength,
    sample_times,
    window_days,
)
from datagen.writer import TableWriter
from pixring.contract import NIGHT_LIMIT_PF, NIGHT_START_HOUR, TIPO_AUTENTICACAO, TIPO_TRANSACAO, is_night_hour

log = logging.getLogger(__name__)

P2P, P2M, QRE, QRD, B2P, B2B = range(6)
_BASE_SHARE = np.array([0.43, 0.16, 0.11, 0.15, 0.11, 0.04])
#: amount model per type: (median R$, sigma)
_AMOUNT = {P2P: (90.0, 1.35), P2M: (75.0, 1.1), QRE: (28.0, 0.9), QRD: (140.0, 1.1),
           B2P: (900.0, 1.0), B2B: (3000.0, 1.4)}
#: share of person-to-person transfers that are large (rent, a used car, family support)
_P2P_LARGE = (0.06, 2200.0, 0.9)
_SEG_AMOUNT_PF = np.array([0.6, 1.0, 2.3])
A_SENHA, A_BIO, A_FACE, A_TOKEN = range(4)
_NIGHT_CAP = int(round(NIGHT_LIMIT_PF * 100))
S_CONCLUIDA, S_REJEITADA, S_PROCESSANDO = 0, 1, 2
_TIPO_NAMES = np.array(TIPO_TRANSACAO, dtype=object)
_STATUS_NAMES = np.array(("concluida", "rejeitada", "em_processamento"), dtype=object)
_AUTH_NAMES = np.array(TIPO_AUTENTICACAO, dtype=object)
_LOGIN_STATUS = np.array(("sucesso", "falha"), dtype=object)
_CLAIM_TYPE_FACTOR = np.array([1.0, 1.5, 0.5, 1.5, 0.1, 0.3])
_MAX_LOGIN_LEAD = 3 * HOUR  # no login is generated more than this before its day


@dataclass
class ClaimCandidate:
    id_transacao: str
    ts: int
    cents: int
    tipo: int


@dataclass
class FraudOutcome:
    """What happened to each planted fraudulent transaction (in plan order)."""

    ids: np.ndarray
    status: np.ndarray
    cents: np.ndarray  # as written (forwards carry what their inputs actually moved)


@dataclass
class StreamResult:
    n_tx: int = 0
    n_logs: int = 0
    n_rejected: int = 0
    fraud: FraudOutcome | None = None
    claim_pool: list[ClaimCandidate] = field(default_factory=list)


class _LimitState:
    """Running sums of each user's outgoing amounts for the current day and night period."""

    def __init__(self) -> None:
        self.day: dict[int, tuple[int, int]] = {}
        self.night: dict[int, tuple[int, int]] = {}


@dataclass
class FlowState:
    """Planted forwards pass on what their inputs actually moved: per plan index, the inputs, the
    share forwarded, and the concluded amount of each planted transaction processed so far."""

    inputs: list[tuple[int, ...]]
    frac: list[float]
    moved: list[int]


def enforce_limits(ts: np.ndarray, sender: np.ndarray, cents: np.ndarray, lim_tx: np.ndarray,
                   lim_day: np.ndarray, is_pf: np.ndarray, night_free_from: np.ndarray,
                   state: _LimitState, fidx: np.ndarray | None = None,
                   flow: FlowState | None = None) -> np.ndarray:
    """Status of each attempt (rows sorted by time): rejected when a limit would be broken.

    ``lim_*``, ``is_pf`` and ``night_free_from`` are per-user arrays; ``state`` carries the sums over
    from the previous chunk. With ``fidx``/``flow``, planted forwards get their amount from what
    their inputs moved (``cents`` is updated in place).
    """
    n = ts.size
    status = np.zeros(n, dtype=np.int8)
    if n == 0:
        return status
    hour = (ts % DAY) // HOUR
    night = is_night_hour(hour)
    nid = (ts - NIGHT_START_HOUR * HOUR) // DAY  # night period 20:00-06:00, identified by the day it starts
    did = ts // DAY
    u_l = sender.tolist()
    c_l = cents.tolist()
    ltx = lim_tx[sender].tolist()
    lday = lim_day[sender].tolist()
    capped = (is_pf[sender] & night & (ts < night_free_from[sender])).tolist()
    nid_l = nid.tolist()
    did_l = did.tolist()
    day_state, night_state = state.day, state.night
    out = [0] * n
    f_l = fidx.tolist() if fidx is not None and flow is not None else [-1] * n
    dynamic = False
    for i in range(n):
        fi = f_l[i]
        if fi >= 0:
            fr = flow.frac[fi]  # type: ignore[union-attr]
            if fr > 0.0:
                total = sum(flow.moved[j] for j in flow.inputs[fi])  # type: ignore[union-attr]
                # nothing came through (all inputs rejected): the mule only probes with R$ 1.00
                c_l[i] = max(100, int(total * fr))
                dynamic = True
            flow.moved[fi] = 0  # type: ignore[union-attr]
        c = c_l[i]
        if c > ltx[i]:
            out[i] = 1
            continue
        u = u_l[i]
        d = did_l[i]
        ds = day_state.get(u)
        dsum = ds[1] if ds is not None and ds[0] == d else 0
        if dsum + c > lday[i]:
            out[i] = 1
            continue
        if capped[i]:
            ni = nid_l[i]
            ns = night_state.get(u)
            nsum = ns[1] if ns is not None and ns[0] == ni else 0
            if nsum + c > _NIGHT_CAP:
                out[i] = 1
                continue
            night_state[u] = (ni, nsum + c)
        day_state[u] = (d, dsum + c)
        if fi >= 0:
            flow.moved[fi] = c  # type: ignore[union-attr]
    status[:] = out
    if dynamic:
        cents[:] = c_l
    return status


class TrafficStream:
    """Generates and writes ``transacoes_pix`` and ``log_autenticacao`` day by day."""

    def __init__(self, users: Users, keys: Keys, devices: Devices, limits: Limits, plan: RingPlan,
                 key_of_request: np.ndarray, fp_of_shared: np.ndarray, diff: Difficulty,
                 n_tx: int, n_logs: int, n_claims: int, rng: np.random.Generator,
                 lookalikes: LookalikePlan | None = None) -> None:
        self.u, self.k, self.d, self.lim, self.plan = users, keys, devices, limits, plan
        # legitimate look-alike structures: planned legitimate transactions, part of each day's count
        self.la = lookalikes if lookalikes is not None else LookalikePlan.empty()
        self.la_day = ((self.la.ts - WINDOW_START) // DAY).astype(np.int64)
        self.la_per_day = np.bincount(self.la_day, minlength=WINDOW_DAYS)
        self.key_of_request = key_of_request
        self.fp_of_shared = fp_of_shared
        self.diff = diff
        self.rng = rng
        self.n_tx, self.n_logs, self.n_claims = n_tx, n_logs, n_claims
        self.days = window_days()
        self.day_w = day_weights()
        self.payday = payday_strength()

        n_fraud = plan.n_tx
        self.fraud_day = ((plan.ts - WINDOW_START) // DAY).astype(np.int64)
        self.legit_per_day = self.la_per_day + rng.multinomial(n_tx - n_fraud - self.la.n_tx, self.day_w)
        # logins: one per transaction + special ones + filler sessions
        self.special = self._special_logins()
        n_filler = n_logs - n_tx - int(self.special["ts"].size)
        if n_filler < 0:
            raise RuntimeError("log budget smaller than transactions + special logins")
        self.filler_per_day = rng.multinomial(n_filler, self.day_w)
        self.claims_per_day = rng.multinomial(n_claims, self.legit_per_day / max(1, self.legit_per_day.sum()))

        u = users
        # mules' ordinary activity: they pay like others (camouflage) but are rarely paid by strangers
        bg = np.where(np.isnan(u.mule_bg), diff.mule_background, u.mule_bg)
        self.mule_factor = np.where(u.is_mule, bg, 1.0)
        self.recv_factor = np.where(u.is_mule, 0.25 * bg, 1.0)
        self.is_pf = ~u.is_pj
        self.night_free = limits.night_free_from(u.cadastro)
        self.state = _LimitState()
        self.active_from = np.maximum(users.cadastro, keys.cadastro[keys.primary()])
        # each employee's salary (R$), by income segment
        self.salary = rng.lognormal(math.log(2000.0), 0.4, size=users.n) * _SEG_AMOUNT_PF[users.segment] \
            * np.where(users.is_pj, 0.0, 1.0)

    # ----------------------------------------------------------------------------- special logins
    def _special_logins(self) -> dict[str, np.ndarray]:
        """Failed logins of account takeovers and the logins that register a legitimate new device."""
        rng, p, d = self.rng, self.plan, self.d
        users_l: list[int] = []
        ts_l: list[int] = []
        fp_l: list[int] = []
        auth_l: list[int] = []
        st_l: list[int] = []
        for u, t, sd in zip(p.fail_user.tolist(), p.fail_ts.tolist(), p.fail_dev_req.tolist()):
            users_l.append(u); ts_l.append(t); fp_l.append(int(self.fp_of_shared[sd]))
            auth_l.append(A_SENHA); st_l.append(1)
        for u, b, t in d.new_device:
            fp = int(d.fp[b])
            if rng.random() < 0.4:  # a typo on the new phone first
                users_l.append(u); ts_l.append(t - int(rng.integers(30, 400))); fp_l.append(fp)
                auth_l.append(A_SENHA); st_l.append(1)
            users_l.append(u); ts_l.append(t); fp_l.append(fp); auth_l.append(A_TOKEN); st_l.append(0)
        arr = {
            "user": np.array(users_l, dtype=np.int64), "ts": np.array(ts_l, dtype=np.int64),
            "fp": np.array(fp_l, dtype=np.int64), "auth": np.array(auth_l, dtype=np.int64),
            "status": np.array(st_l, dtype=np.int64),
        }
        arr["day"] = (arr["ts"] - WINDOW_START) // DAY
        return arr

    # ------------------------------------------------------------------------------------ helpers
    def _eligible(self, day_start: int) -> np.ndarray:
        """Users who can pay or be paid on that day: active, account open and first key registered."""
        return self.u.active & (self.active_from + HOUR < day_start)

    def _draw(self, weights: np.ndarray, n: int) -> np.ndarray:
        """``n`` user indices drawn with probability proportional to ``weights``."""
        cw = np.cumsum(weights)
        if n == 0 or cw[-1] <= 0:
            return np.zeros(0, dtype=np.int64)
        x = self.rng.random(n) * cw[-1]
        return np.minimum(np.searchsorted(cw, x, side="right"), weights.size - 1).astype(np.int64)

    def _pick_keys(self, who: np.ndarray, ts: np.ndarray, p_primary: float) -> np.ndarray:
        k = self.k
        start = k.indptr[who]
        cnt = k.indptr[who + 1] - start
        j = np.where(self.rng.random(who.size) < p_primary, 0,
                     (self.rng.random(who.size) * cnt).astype(np.int64))
        kid = k.index[start + j]
        bad = (k.cadastro[kid] > ts) | ~k.active[kid]
        kid[bad] = k.index[start[bad]]
        return kid

    def _pick_devices(self, who: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """A binding index per login: the user's own device most of the time."""
        d = self.d
        start = d.indptr[who]
        cnt = d.indptr[who + 1] - start
        j = np.where(self.rng.random(who.size) < 0.72, 0,
                     (self.rng.random(who.size) * np.maximum(cnt, 1)).astype(np.int64))
        b = d.index[start + j]
        bad = d.registro[b] > ts
        b[bad] = d.index[start[bad]]
        return b

    def _auth_for(self, fp: np.ndarray) -> np.ndarray:
        tipo = self.d.fp_tipo[fp]
        r = self.rng.random(fp.size)
        mobile = np.where(r < 0.55, A_BIO, np.where(r < 0.85, A_SENHA, A_FACE))
        web = np.where(r < 0.7, A_SENHA, A_TOKEN)
        return np.where(tipo == 3, web, mobile)

    def _amounts(self, tipo: np.ndarray, sender: np.ndarray, receiver: np.ndarray,
                 ts: np.ndarray) -> np.ndarray:
        rng, u = self.rng, self.u
        med = np.array([_AMOUNT[t][0] for t in range(6)])[tipo]
        sig = np.array([_AMOUNT[t][1] for t in range(6)])[tipo]
        v = np.exp(np.log(med) + sig * rng.standard_normal(tipo.size))
        seg_pf = _SEG_AMOUNT_PF[u.segment]
        mult = np.where(tipo == B2P, np.where(u.is_pj[receiver], 1.0, seg_pf[receiver]),
                        np.where(u.is_pj[sender], 1.0, seg_pf[sender]))
        v = v * mult
        service = (tipo == P2P) & u.informal[receiver]
        v = np.where(service, np.exp(np.log(220.0) + 0.8 * rng.standard_normal(tipo.size)), v)
        large = (tipo == P2P) & (rng.random(tipo.size) < _P2P_LARGE[0])
        v = np.where(large, np.exp(np.log(_P2P_LARGE[1]) + _P2P_LARGE[2] * rng.standard_normal(tipo.size)), v)
        # salaries: each employee's own amount, paid on paydays
        pay = self.payday[int((ts[0] - WINDOW_START) // DAY)] if ts.size else 0.0
        is_sal = (tipo == B2P) & (rng.random(tipo.size) < 0.25 + 0.75 * pay)
        v = np.where(is_sal, self.salary[receiver] * np.where(pay >= 1.0, 1.0, 0.45), v)
        hour = (ts % DAY) // HOUR
        night = is_night_hour(hour)
        v = np.where(night & (tipo <= QRD), v * 0.6, v)
        r = rng.random(tipo.size)
        p2p_like = (tipo == P2P) | (tipo == B2P)
        v = np.where(p2p_like & (r < 0.25), np.round(v / 10.0) * 10.0, v)
        v = np.where(p2p_like & (r >= 0.25) & (r < 0.38), np.round(v / 50.0) * 50.0, v)
        cents = np.maximum(np.round(v * 100.0), 50).astype(np.int64)
        # legitimate users know their limits: most shrink an amount that would not pass
        lt = self.lim.lim_tx[sender]
        over = (cents > lt) & (rng.random(tipo.size) < 0.85)
        cents = np.where(over, (lt * rng.uniform(0.3, 0.95, tipo.size)).astype(np.int64), cents)
        capped = self.is_pf[sender] & night & (ts < self.night_free[sender])
        over_n = capped & (cents > _NIGHT_CAP) & (rng.random(tipo.size) < 0.85)
        cents = np.where(over_n, (_NIGHT_CAP * rng.uniform(0.1, 0.95, tipo.size)).astype(np.int64), cents)
        return np.maximum(cents, 50)

    # ----------------------------------------------------------------------------- legit traffic
    def _legit_day(self, di: int, n: int) -> dict[str, np.ndarray]:
        rng, u = self.rng, self.u
        day_start = WINDOW_START + di * DAY
        elig = self._eligible(day_start)
        share = _BASE_SHARE.copy()
        share[B2P] += 0.25 * self.payday[di]
        weekend = is_weekend_like(self.days[di])
        if weekend:
            share[B2P] *= 0.15
            share[B2B] *= 0.15
            share[QRE] *= 1.3
        share /= share.sum()
        counts = rng.multinomial(n, share)
        pf_w = np.where(elig & self.is_pf, u.activity * self.mule_factor, 0.0)
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

        # person to person: usual payees first, else anyone (popularity)
        m = int(counts[P2P])
        snd = self._draw(pf_w, m)
        rcv_pop = self._draw(np.where(elig & self.is_pf, u.p2p_pop * self.recv_factor, 0.0), m)
        col = rng.integers(0, u.contacts.shape[1], size=m)
        rcv_c = u.contacts[snd, col]
        ok_c = (rcv_c >= 0)
        ok_c[ok_c] = elig[rcv_c[ok_c]]
        ok_c[ok_c] = rng.random(int(ok_c.sum())) < self.recv_factor[rcv_c[ok_c]]
        use_c = ok_c & (rng.random(m) < 0.55)
        rcv = np.where(use_c, rcv_c, rcv_pop)
        prof = "pessoa_fds" if weekend else "pessoa_util"
        parts.append((snd, rcv, np.full(m, P2P), sample_times(rng, day_start, m, prof)))

        # person to merchant and QR codes
        merch = np.where(elig, u.merchant_pop * self.recv_factor, 0.0)
        pj = u.is_pj
        w_p2m = np.where(pj, merch, 0.0)
        w_qre = np.where((pj & (u.segment <= 1)) | u.informal, merch, 0.0)
        w_qrd = np.where(pj, merch * np.array([0.2, 1.0, 1.6])[u.segment], 0.0)
        for tipo, w in ((P2M, w_p2m), (QRE, w_qre), (QRD, w_qrd)):
            m = int(counts[tipo])
            s = self._draw(pf_w, m)
            r = self._draw(w, m)
            parts.append((s, r, np.full(m, tipo), sample_times(rng, day_start, m, "comercio")))

        # company to person: salaries (paydays) and payments to individuals
        m = int(counts[B2P])
        emp_ok = (u.employer >= 0) & elig
        emp_ok[emp_ok] = elig[u.employer[emp_ok]]
        r = self._draw(np.where(emp_ok, 1.0, 0.0), m)
        s = u.employer[r] if r.size else r
        parts.append((s, r, np.full(r.size, B2P), sample_times(rng, day_start, r.size, "empresa")))

        # company to company
        m = int(counts[B2B])
        pj_w = np.where(elig & pj, u.activity, 0.0)
        s = self._draw(pj_w, m)
        r = self._draw(w_p2m, m)
        parts.append((s, r, np.full(m, B2B), sample_times(rng, day_start, m, "empresa")))

        snd = np.concatenate([p[0] for p in parts]).astype(np.int64)
        rcv = np.concatenate([p[1] for p in parts]).astype(np.int64)
        tipo = np.concatenate([p[2] for p in parts]).astype(np.int64)
        ts = np.concatenate([p[3] for p in parts]).astype(np.int64)
        if snd.size < n:  # a type without eligible parties (tiny scales): fill with p2p
            extra = n - snd.size
            s2 = self._draw(pf_w, extra)
            r2 = self._draw(np.where(elig & self.is_pf, u.p2p_pop, 0.0), extra)
            snd = np.concatenate([snd, s2]); rcv = np.concatenate([rcv, r2])
            tipo = np.concatenate([tipo, np.full(extra, P2P)])
            ts = np.concatenate([ts, sample_times(rng, day_start, extra, "pessoa_util")])
        self._fix_self_payments(snd, rcv, elig)
        cents = self._amounts(tipo, snd, rcv, ts)
        snd, rcv, tipo, ts, cents = self._passthrough(snd, rcv, tipo, ts, cents, day_start, elig)
        return {"snd": snd, "rcv": rcv, "tipo": tipo, "ts": ts, "cents": cents}

    def _fix_self_payments(self, snd: np.ndarray, rcv: np.ndarray, elig: np.ndarray) -> None:
        bad = np.flatnonzero(snd == rcv)
        if bad.size == 0:
            return
        pool = np.flatnonzero(elig & self.is_pf)
        for _ in range(8):
            rcv[bad] = pool[self.rng.integers(0, pool.size, size=bad.size)]
            bad = bad[snd[bad] == rcv[bad]]
            if bad.size == 0:
                return
        for i in bad.tolist():  # pragma: no cover - tiny populations only
            rcv[i] = pool[(np.searchsorted(pool, snd[i]) + 1) % pool.size]

    def _passthrough(self, snd: np.ndarray, rcv: np.ndarray, tipo: np.ndarray, ts: np.ndarray,
                     cents: np.ndarray, day_start: int, elig: np.ndarray) -> tuple[np.ndarray, ...]:
        """Some individuals pass money on minutes after receiving it (rent, shared bills): replace a
        few independent draws by such follow-ups, so fast forwarding alone does not mean mule."""
        rng, u = self.rng, self.u
        cand = np.flatnonzero(u.passthrough[rcv] & elig[rcv] & ((tipo == P2P) | (tipo == B2P)))
        if cand.size == 0:
            return snd, rcv, tipo, ts, cents
        cand = cand[rng.random(cand.size) < 0.6]
        delay = np.exp(rng.uniform(math.log(3), math.log(120), cand.size)) * MINUTE
        t_new = ts[cand] + delay.astype(np.int64)
        keep = t_new < day_start + DAY
        cand, t_new = cand[keep], t_new[keep]
        f = cand.size
        if f == 0 or f > snd.size // 3:
            return snd, rcv, tipo, ts, cents
        new_s = rcv[cand]
        col = rng.integers(0, u.contacts.shape[1], size=f)
        new_r = u.contacts[new_s, col]
        okr = new_r >= 0
        okr[okr] = elig[new_r[okr]] & (new_r[okr] != new_s[okr])
        if not okr.any():
            return snd, rcv, tipo, ts, cents
        cand, t_new, new_s, new_r = cand[okr], t_new[okr], new_s[okr], new_r[okr]
        f = cand.size
        new_c = np.maximum((cents[cand] * rng.uniform(0.5, 1.0, f)).astype(np.int64), 50)
        lt = self.lim.lim_tx[new_s]
        new_c = np.minimum(new_c, lt)
        # drop f other draws (not parents) to keep the day's count exact
        parent = np.zeros(snd.size, dtype=bool)
        parent[cand] = True
        droppable = np.flatnonzero(~parent)
        drop = rng.choice(droppable, size=f, replace=False)
        keep_mask = np.ones(snd.size, dtype=bool)
        keep_mask[drop] = False
        return (np.concatenate([snd[keep_mask], new_s]), np.concatenate([rcv[keep_mask], new_r]),
                np.concatenate([tipo[keep_mask], np.full(f, P2P)]), np.concatenate([ts[keep_mask], t_new]),
                np.concatenate([cents[keep_mask], new_c]))

    # --------------------------------------------------------------------------------------- run
    def run(self, tx_writer: TableWriter, log_writer: TableWriter, tx_seq_start: int = 1) -> StreamResult:
        rng, p = self.rng, self.plan
        res = StreamResult()
        fraud_ids = np.empty(p.n_tx, dtype=object)
        fraud_status = np.zeros(p.n_tx, dtype=np.int8)
        ext = np.concatenate([self.key_of_request, [-1]]).astype(np.int64)  # index -1 -> -1
        fraud_okey = ext[p.okey_req]
        fraud_dkey = ext[p.dkey_req]
        flow = FlowState(inputs=p.fwd_inputs, frac=p.fwd_frac.tolist(), moved=[0] * p.n_tx)
        fraud_cents = p.cents.copy()
        tx_seq = tx_seq_start
        log_buf: list[dict[str, np.ndarray]] = []
        log_seq = 1
        n_rej = 0
        bar = tqdm(range(WINDOW_DAYS), desc="datagen days", unit="day", disable=not sys.stderr.isatty(),
                   leave=False)
        for di in bar:
            day_start = WINDOW_START + di * DAY
            leg = self._legit_day(di, int(self.legit_per_day[di] - self.la_per_day[di]))
            li = np.flatnonzero(self.la_day == di)
            if li.size:
                for key, col in (("snd", self.la.sender), ("rcv", self.la.receiver), ("tipo", self.la.tipo),
                                 ("ts", self.la.ts), ("cents", self.la.cents)):
                    leg[key] = np.concatenate([leg[key], col[li]])
            fi = np.flatnonzero(self.fraud_day == di)
            n_l = leg["ts"].size
            snd = np.concatenate([leg["snd"], p.sender[fi]])
            rcv = np.concatenate([leg["rcv"], p.receiver[fi]])
            tipo = np.concatenate([leg["tipo"], p.tipo[fi]])
            ts = np.concatenate([leg["ts"], p.ts[fi]])
            cents = np.concatenate([leg["cents"], p.cents[fi]])
            fidx = np.concatenate([np.full(n_l, -1, dtype=np.int64), fi])
            # keys
            okey = self._pick_keys(snd, ts, 0.6)
            dkey = self._pick_keys(rcv, ts, 0.55)
            fo, fd = fraud_okey[fi], fraud_dkey[fi]
            okey[n_l:] = np.where(fo >= 0, fo, self._pick_keys(p.sender[fi], p.ts[fi], 1.0))
            dkey[n_l:] = np.where(fd >= 0, fd, dkey[n_l:])
            # time order
            order = np.lexsort((fidx, rcv, snd, ts))
            snd, rcv, tipo, ts, cents, fidx, okey, dkey = (a[order] for a in (snd, rcv, tipo, ts, cents, fidx, okey, dkey))
            status = enforce_limits(ts, snd, cents, self.lim.lim_tx, self.lim.lim_day, self.is_pf,
                                    self.night_free, self.state, fidx, flow)
            status[(status == S_CONCLUIDA) & (ts > REF_END - 120)] = S_PROCESSANDO
            n = ts.size
            n_rej += int((status == S_REJEITADA).sum())
            ids = np.array([f"TX{s:010d}" for s in range(tx_seq, tx_seq + n)], dtype=object)
            tx_seq += n
            is_f = fidx >= 0
            fraud_ids[fidx[is_f]] = ids[is_f]
            fraud_status[fidx[is_f]] = status[is_f]
            fraud_cents[fidx[is_f]] = cents[is_f]
            tx_writer.write({
                "id_transacao": ids, "timestamp": ts, "valor": cents,
                "chave_pix_origem": self.k.value[okey], "chave_pix_destino": self.k.value[dkey],
                "tipo_transacao": _TIPO_NAMES[tipo], "status": _STATUS_NAMES[status],
            })
            self._claim_candidates(res, di, ids, ts, cents, tipo, status, is_f)

            # logins: one before each transaction
            lead = np.minimum(rng.exponential(110.0, n) + 4, 25 * MINUTE).astype(np.int64)
            lts = ts - lead
            b = self._pick_devices(snd, lts)
            lfp = self.d.fp[b]
            lauth = self._auth_for(lfp)
            fdev = np.full(n, -1, dtype=np.int64)
            fdev[is_f] = p.dev_req[fidx[is_f]]
            has_dev = fdev >= 0
            lfp[has_dev] = self.fp_of_shared[fdev[has_dev]]
            fauth = np.full(n, -1, dtype=np.int64)
            fauth[is_f] = p.auth[fidx[is_f]]
            lauth = np.where(fauth >= 0, fauth, lauth)
            lts = np.where(fauth >= 0, ts - rng.integers(30, 200, n), lts)
            logs = {"user": snd, "ts": lts, "fp": lfp, "auth": lauth, "status": np.zeros(n, dtype=np.int64)}
            # filler sessions (balance checks, typos) and special logins of the day
            m = int(self.filler_per_day[di])
            elig = self._eligible(day_start)
            fw = np.where(elig, 0.3 + self.u.activity * self.mule_factor, 0.0)
            fu = self._draw(fw, m)
            fts = sample_times(rng, day_start, m, "pessoa_fds" if is_weekend_like(self.days[di]) else "pessoa_util")
            fb = self._pick_devices(fu, fts)
            ffp = self.d.fp[fb]
            fst = (rng.random(m) < 0.06).astype(np.int64)
            fauth = self._auth_for(ffp)
            sp = self.special
            si = np.flatnonzero(sp["day"] == di)
            chunk = {
                "user": np.concatenate([logs["user"], fu, sp["user"][si]]),
                "ts": np.concatenate([logs["ts"], fts, sp["ts"][si]]),
                "fp": np.concatenate([logs["fp"], ffp, sp["fp"][si]]),
                "auth": np.concatenate([logs["auth"], fauth, sp["auth"][si]]),
                "status": np.concatenate([logs["status"], fst, sp["status"][si]]),
            }
            log_buf.append(chunk)
            log_seq = self._flush_logs(log_writer, log_buf, day_start - _MAX_LOGIN_LEAD, log_seq)
            res.n_tx += n
        bar.close()
        log_seq = self._flush_logs(log_writer, log_buf, None, log_seq)
        res.n_logs = log_seq - 1
        res.n_rejected = n_rej
        res.fraud = FraudOutcome(ids=fraud_ids, status=fraud_status, cents=fraud_cents)
        return res

    def _flush_logs(self, writer: TableWriter, buf: list[dict[str, np.ndarray]], before: int | None,
                    seq: int) -> int:
        """Write buffered logins older than ``before`` (all when None), sorted by time."""
        if not buf:
            return seq
        merged = {k: np.concatenate([c[k] for c in buf]) for k in buf[0]}
        buf.clear()
        ready = np.ones(merged["ts"].size, dtype=bool) if before is None else merged["ts"] < before
        rest = {k: v[~ready] for k, v in merged.items()}
        if rest["ts"].size:
            buf.append(rest)
        out = {k: v[ready] for k, v in merged.items()}
        n = out["ts"].size
        if n == 0:
            return seq
        o = np.lexsort((out["fp"], out["user"], out["ts"]))
        out = {k: v[o] for k, v in out.items()}
        writer.write({
            "id_log": np.array([f"L{s:010d}" for s in range(seq, seq + n)], dtype=object),
            "id_usuario": self.u.ids[out["user"]],
            "timestamp": out["ts"],
            "tipo_autenticacao": _AUTH_NAMES[out["auth"]],
            "status": _LOGIN_STATUS[out["status"]],
            "id_dispositivo": self.d.fp_ids[out["fp"]],
        })
        return seq + n

    def _claim_candidates(self, res: StreamResult, di: int, ids: np.ndarray, ts: np.ndarray,
                          cents: np.ndarray, tipo: np.ndarray, status: np.ndarray, is_f: np.ndarray) -> None:
        """Keep a random, value-weighted sample of the day's concluded legitimate transactions: the
        pool from which the claims on legitimate transactions (unfounded / under analysis) are drawn."""
        k = int(self.claims_per_day[di])
        cand = np.flatnonzero(~is_f & (status == S_CONCLUIDA))
        if k == 0 or cand.size == 0:
            return
        k = min(k, cand.size)
        w = np.sqrt(cents[cand].astype(float)) * _CLAIM_TYPE_FACTOR[tipo[cand]]
        pick = np.sort(self.rng.choice(cand, size=k, replace=False, p=w / w.sum()))
        for i in pick.tolist():
            res.claim_pool.append(ClaimCandidate(str(ids[i]), int(ts[i]), int(cents[i]), int(tipo[i])))

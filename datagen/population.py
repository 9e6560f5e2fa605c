"""The population: users (individuals and companies), their Pix keys, devices and limits.

Built in two steps: :func:`build_users` draws the people and companies with their behaviour
(activity, popularity, employer, household, contacts); after the rings are planned (they recruit
mules among these users and may reset their account dates), :func:`build_limits`,
:func:`build_keys` and :func:`build_devices` finish the reference tables, honouring what the rings
need (fresh keys, shared devices, raised limits).

Internally a user is an index ``0..n-1``; public ids (``U00000001``...) are assigned in order of
``data_cadastro`` as a bank's sequence would, by :meth:`Users.assign_ids`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from faker import Faker
from faker.providers.person.pt_BR import Provider as _PersonBR

from datagen import documents as docs
from datagen.plan import Difficulty
from datagen.schema import ID_PREFIX, ID_WIDTH
from datagen.timeline import DAY, DICT_START_S, HOUR, MINUTE, WINDOW_END, WINDOW_START, date_to_s
from pixring.contract import MAX_KEYS_PF, MAX_KEYS_PJ

log = logging.getLogger(__name__)

# user status codes (index into schema.STATUS_USUARIO)
ATIVO, INATIVO, BLOQUEADO = 0, 1, 2
# key type codes (index into schema.TIPO_CHAVE)
K_CPF, K_CNPJ, K_EMAIL, K_TEL, K_EVP = range(5)
# roles
R_NONE, R_VITIMA, R_MULA, R_COLETOR = 0, 1, 2, 3

N_CONTACTS = 6
_OLDEST_ACCOUNT_S = date_to_s(dt.date(2018, 1, 1))

_SMALL_BUSINESS = (
    "Padaria", "Mercadinho", "Salão", "Barbearia", "Oficina", "Lanchonete", "Açaí", "Pet Shop",
    "Papelaria", "Hortifruti", "Distribuidora", "Lava Jato", "Doceria", "Pizzaria", "Loja", "Ateliê",
    "Studio", "Empório", "Restaurante", "Farmácia", "Depósito", "Quitanda", "Bazar", "Sorveteria",
)
_EMAIL_DOMAINS = (
    ("gmail.com", 0.55), ("hotmail.com", 0.14), ("outlook.com.br", 0.08), ("yahoo.com.br", 0.06),
    ("icloud.com", 0.06), ("uol.com.br", 0.04), ("bol.com.br", 0.03), ("terra.com.br", 0.02),
    ("live.com", 0.02),
)


def _fmt_ids(prefix_key: str, ranks: np.ndarray) -> np.ndarray:
    """Sequence numbers (1-based) -> ``PREFIX000123`` strings."""
    p, w = ID_PREFIX[prefix_key], ID_WIDTH[prefix_key]
    return np.array([f"{p}{r:0{w}d}" for r in ranks.tolist()], dtype=object)


@dataclass
class Users:
    """Column arrays of the users; index ``i`` is the internal user id."""

    n: int
    is_pj: np.ndarray
    segment: np.ndarray  # PF: 0 low, 1 middle, 2 high income; PJ: 0 micro, 1 small, 2 medium/large
    doc: np.ndarray
    nome: np.ndarray
    email: np.ndarray
    telefone: np.ndarray
    cadastro: np.ndarray
    status: np.ndarray
    activity: np.ndarray  # outgoing intensity
    p2p_pop: np.ndarray  # incoming person-to-person popularity (PF)
    merchant_pop: np.ndarray  # incoming merchant popularity (PJ, and PF informal sellers)
    informal: np.ndarray  # PF that sells informally (static QR)
    employer: np.ndarray  # PJ index or -1
    household: np.ndarray  # household id or -1
    contacts: np.ndarray  # (n, N_CONTACTS) user indices or -1
    passthrough: np.ndarray  # PF that forwards money soon after receiving it
    new_popular: np.ndarray  # new account that is a busy receiver (camouflage)
    pix_since: np.ndarray  # first key of a late adopter (old account), else -1
    role: np.ndarray = field(default=None)  # type: ignore[assignment]
    ring: np.ndarray = field(default=None)  # type: ignore[assignment]
    #: a ring member's ordinary activity (x an average user) when drawn per ring, else NaN
    mule_bg: np.ndarray = field(default=None)  # type: ignore[assignment]
    ids: np.ndarray = field(default=None)  # type: ignore[assignment]
    order: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.role is None:
            self.role = np.zeros(self.n, dtype=np.int8)
        if self.ring is None:
            self.ring = np.full(self.n, -1, dtype=np.int64)
        if self.mule_bg is None:
            self.mule_bg = np.full(self.n, np.nan)

    @property
    def active(self) -> np.ndarray:
        return self.status == ATIVO

    @property
    def is_mule(self) -> np.ndarray:
        return (self.role == R_MULA) | (self.role == R_COLETOR)

    def assign_ids(self) -> None:
        """Public ids in order of account opening (ties broken by internal index)."""
        self.order = np.lexsort((np.arange(self.n), self.cadastro))
        rank = np.empty(self.n, dtype=np.int64)
        rank[self.order] = np.arange(1, self.n + 1)
        self.ids = _fmt_ids("id_usuario", rank)


def _name_pools(fake: Faker) -> dict[str, np.ndarray]:
    male = np.array(sorted(set(_PersonBR.first_names_male)), dtype=object)
    female = np.array(sorted(set(_PersonBR.first_names_female)), dtype=object)
    last = np.array(sorted(set(_PersonBR.last_names)), dtype=object)
    companies = np.array([fake.company() for _ in range(1500)], dtype=object)
    return {"male": male, "female": female, "last": last, "company": companies}


def _slug_vec(values: np.ndarray) -> np.ndarray:
    cache: dict[str, str] = {}
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values.tolist()):
        s = cache.get(v)
        if s is None:
            s = cache[v] = docs.slug(v)
        out[i] = s
    return out


def _dedupe(values: np.ndarray, rng: np.random.Generator, make: Callable[[int, int], str]) -> np.ndarray:
    """Make ``values`` unique: rows that repeat an earlier value are rebuilt by ``make(i, salt)``."""
    values = values.copy()
    seen: set[str] = set()
    for i, v in enumerate(values.tolist()):
        while v in seen:
            v = make(i, int(rng.integers(10, 100_000)))
        seen.add(v)
        values[i] = v
    return values


def _account_dates(rng: np.random.Generator, n: int, new_frac: float) -> tuple[np.ndarray, np.ndarray]:
    """Account opening instants: a growing customer base, plus a share opened in the last ~10 weeks."""
    new = rng.random(n) < new_frac
    lo, hi = _OLDEST_ACCOUNT_S, WINDOW_END - 70 * DAY
    old_t = lo + ((hi - lo) * rng.random(n) ** 0.75).astype(np.int64)
    new_t = rng.integers(WINDOW_END - 70 * DAY, WINDOW_END - 2 * DAY, size=n)
    return np.where(new, new_t, old_t).astype(np.int64), new


def build_users(n: int, rng: np.random.Generator, fake: Faker, diff: Difficulty) -> Users:
    """Draw ``n`` users (about 8.5 % companies) with their behavioural attributes."""
    n_pj = max(1, int(round(0.085 * n)))
    is_pj = np.zeros(n, dtype=bool)
    is_pj[rng.permutation(n)[:n_pj]] = True
    pf = ~is_pj
    segment = np.where(is_pj, rng.choice(3, size=n, p=[0.72, 0.22, 0.06]),
                       rng.choice(3, size=n, p=[0.45, 0.40, 0.15])).astype(np.int8)
    status = rng.choice(3, size=n, p=[0.97, 0.02, 0.01]).astype(np.int8)
    cadastro, is_new = _account_dates(rng, n, diff.new_account_frac)

    # documents
    doc = np.empty(n, dtype=object)
    doc[pf] = docs.generate_cpfs(rng, int(pf.sum()))
    doc[is_pj] = docs.generate_cnpjs(rng, n_pj)

    # names
    pools = _name_pools(fake)
    female = rng.random(n) < 0.52
    first = np.where(female, rng.choice(pools["female"], size=n), rng.choice(pools["male"], size=n))
    last1 = rng.choice(pools["last"], size=n)
    last2 = rng.choice(pools["last"], size=n)
    two = rng.random(n) < 0.6
    pf_name = np.where(two, first + " " + last2 + " " + last1, first + " " + last1)
    biz = rng.choice(np.array(_SMALL_BUSINESS, dtype=object), size=n)
    micro_name = np.where(rng.random(n) < 0.5, biz + " " + first, biz + " " + last1)
    micro_name = np.where(rng.random(n) < 0.35, micro_name + " - ME", micro_name)
    company = rng.choice(pools["company"], size=n)
    pj_name = np.where((segment == 0) & (rng.random(n) < 0.8), micro_name, company)
    nome = np.where(is_pj, pj_name, pf_name)

    # e-mails
    dom_names = np.array([d for d, _ in _EMAIL_DOMAINS], dtype=object)
    dom_p = np.array([p for _, p in _EMAIL_DOMAINS])
    domain = rng.choice(dom_names, size=n, p=dom_p / dom_p.sum())
    s_first, s_last = _slug_vec(first), _slug_vec(last1)
    sep = rng.choice(np.array([".", "_", ""], dtype=object), size=n, p=[0.5, 0.15, 0.35])
    num = rng.integers(1, 1000, size=n)
    with_num = rng.random(n) < 0.55
    local = s_first + sep + s_last
    local = np.where(with_num, local + np.array([str(x) for x in num.tolist()], dtype=object), local)
    s_nome = np.full(n, "", dtype=object)
    s_nome[is_pj] = [s[:24] for s in _slug_vec(nome[is_pj]).tolist()]
    pj_local = np.where(rng.random(n) < 0.5, "contato", "financeiro")
    pj_email = np.where(segment == 0, s_nome + "@" + domain, pj_local + "@" + s_nome + ".com.br")
    email = np.where(is_pj, pj_email, local + "@" + domain)

    def _remake(i: int, salt: int) -> str:
        loc, dom = email[i].split("@", 1)
        if is_pj[i] and segment[i] > 0:
            return f"{loc}@{dom[:-7]}{salt % 1000}.com.br"
        return f"{loc}{salt}@{dom}"

    email = _dedupe(email, rng, _remake)
    telefone = docs.generate_mobiles(rng, n)

    # behaviour
    seg_act_pf = np.array([0.8, 1.0, 1.35])
    activity = rng.lognormal(0.0, 0.85, size=n) * np.where(is_pj, 0.0, seg_act_pf[segment])
    pj_size = np.array([1.0, 4.0, 25.0])
    pj_activity = rng.lognormal(0.0, 0.9, size=n) * pj_size[segment]
    activity = np.where(is_pj, pj_activity, activity)
    p2p_pop = np.where(pf, rng.lognormal(0.0, 1.35, size=n), 0.0)
    merchant_pop = np.where(is_pj, rng.lognormal(0.0, 1.1, size=n) * pj_size[segment], 0.0)
    informal = pf & (rng.random(n) < diff.informal_seller_frac)
    merchant_pop = np.where(informal, rng.lognormal(0.0, 0.8, size=n) * 1.5, merchant_pop)

    # camouflage: some new legitimate accounts are busy receivers (new small merchants / sellers)
    new_popular = is_new & (rng.random(n) < diff.new_popular_frac)
    boost = rng.uniform(4.0, 14.0, size=n)
    informal = informal | (new_popular & pf)
    # the self-employed (cleaners, builders, manicures...) are also paid person-to-person
    p2p_pop = np.where(informal, p2p_pop * 3.0 + 1.0, p2p_pop)
    merchant_pop = np.where(new_popular & pf, np.maximum(merchant_pop, 1.0) * boost, merchant_pop)
    merchant_pop = np.where(new_popular & is_pj, np.maximum(merchant_pop, 1.0) * boost, merchant_pop)
    p2p_pop = np.where(new_popular & pf, p2p_pop * boost, p2p_pop)

    # employment: 22 % of individuals receive their salary by Pix from one of the companies
    pj_idx = np.flatnonzero(is_pj)
    w_emp = pj_size[segment[pj_idx]] ** 1.3
    employer = np.full(n, -1, dtype=np.int64)
    employed = pf & (rng.random(n) < 0.22)
    employer[employed] = rng.choice(pj_idx, size=int(employed.sum()), p=w_emp / w_emp.sum())

    household = _households(rng, pf & (status == ATIVO), diff.household_frac)
    contacts = _contacts(rng, pf & (status == ATIVO), p2p_pop, household)
    passthrough = pf & (rng.random(n) < diff.legit_passthrough_frac)
    # late adopters: old accounts whose first Pix key is recent (they start paying from then on)
    late = ~is_new & (rng.random(n) < diff.late_key_frac)
    pix_since = np.where(late, rng.integers(WINDOW_END - 150 * DAY, WINDOW_END - 3 * DAY, size=n), -1)

    users = Users(n=n, is_pj=is_pj, segment=segment, doc=doc, nome=nome, email=email,
                  telefone=telefone, cadastro=cadastro, status=status, activity=activity,
                  p2p_pop=p2p_pop, merchant_pop=merchant_pop, informal=informal, employer=employer,
                  household=household, contacts=contacts, passthrough=passthrough,
                  new_popular=new_popular, pix_since=pix_since.astype(np.int64))
    log.debug("users: %d (%d companies, %d new, %d new busy receivers)", n, n_pj, int(is_new.sum()),
              int(new_popular.sum()))
    return users


def _households(rng: np.random.Generator, eligible: np.ndarray, frac: float) -> np.ndarray:
    """Group ``frac`` of the eligible individuals into households of 2-4 people."""
    household = np.full(eligible.size, -1, dtype=np.int64)
    cand = np.flatnonzero(eligible)
    cand = cand[rng.random(cand.size) < frac]
    cand = rng.permutation(cand)
    pos, hid = 0, 0
    sizes = rng.choice([2, 3, 4], size=cand.size // 2 + 1, p=[0.5, 0.32, 0.18])
    for s in sizes.tolist():
        if pos + s > cand.size:
            break
        household[cand[pos:pos + s]] = hid
        pos += s
        hid += 1
    return household


def _contacts(rng: np.random.Generator, eligible: np.ndarray, pop: np.ndarray,
              household: np.ndarray) -> np.ndarray:
    """Each individual's usual payees: household first, then neighbours (a local community of
    ~100 people) and a couple of people anywhere, weighted by popularity."""
    n = eligible.size
    out = np.full((n, N_CONTACTS), -1, dtype=np.int64)
    idx = np.flatnonzero(eligible)
    if idx.size < 2:
        return out
    n_comm = max(1, idx.size // 100)
    comm = rng.integers(0, n_comm, size=idx.size)
    order = np.argsort(comm, kind="stable")
    sorted_members = idx[order]
    starts = np.searchsorted(comm[order], np.arange(n_comm))
    sizes = np.bincount(comm, minlength=n_comm)
    c_of = comm
    # 4 local contacts, weighted by popularity (every neighbourhood has its hubs)
    w_sorted = pop[sorted_members]
    cw = np.cumsum(w_sorted)
    c_sum = np.bincount(comm, weights=pop[idx], minlength=n_comm)
    c_start = np.concatenate([[0.0], cw])[starts]
    u = rng.random((idx.size, 4))
    x = c_start[c_of][:, None] + u * c_sum[c_of][:, None]
    pos = np.searchsorted(cw, x, side="right")
    pos = np.clip(pos, starts[c_of][:, None], (starts[c_of] + sizes[c_of] - 1)[:, None])
    local = sorted_members[pos]
    # 2 global contacts by popularity
    w = pop[idx]
    glob = rng.choice(idx, size=(idx.size, 2), p=w / w.sum())
    block = np.concatenate([local, glob], axis=1)
    # household members take the first slots
    hh = household[idx]
    if (hh >= 0).any():
        members: dict[int, list[int]] = {}
        for i, h in zip(idx[hh >= 0].tolist(), hh[hh >= 0].tolist()):
            members.setdefault(h, []).append(i)
        for row, (i, h) in enumerate(zip(idx.tolist(), hh.tolist())):
            if h < 0:
                continue
            others = [m for m in members[h] if m != i][:3]
            block[row, :len(others)] = others
    self_loop = block == idx[:, None]
    block[self_loop] = -1
    out[idx] = block
    return out


# ------------------------------------------------------------------------------------------ limits
@dataclass
class Limits:
    """Per-user limits in cents and the instant they were last changed."""

    lim_tx: np.ndarray
    lim_day: np.ndarray
    updated: np.ndarray

    def night_free_from(self, cadastro: np.ndarray) -> np.ndarray:
        """Instant from which the PF night cap no longer applies (changed limits + 24 h), else +inf."""
        changed = self.updated > cadastro
        return np.where(changed, self.updated + 24 * HOUR, np.iinfo(np.int64).max)


_PF_TX = np.array([[100_000, 200_000, 300_000], [200_000, 500_000, 1_000_000],
                   [1_000_000, 2_000_000, 5_000_000]])  # cents, by segment
_PJ_TX = np.array([[500_000, 1_000_000, 2_000_000], [2_000_000, 5_000_000, 10_000_000],
                   [10_000_000, 30_000_000, 50_000_000]])


def build_limits(users: Users, rng: np.random.Generator, diff: Difficulty) -> Limits:
    """Limits by income/size segment; a share of users changed theirs (the instant is kept)."""
    n = users.n
    col = rng.choice(3, size=n, p=[0.3, 0.5, 0.2])
    lim_tx = np.where(users.is_pj, _PJ_TX[users.segment, col], _PF_TX[users.segment, col]).astype(np.int64)
    mult = rng.choice(np.array([1, 2, 3, 5]), size=n, p=[0.35, 0.35, 0.2, 0.1])
    lim_day = lim_tx * mult
    changed = rng.random(n) < diff.limit_change_frac
    # most changes long ago; some during the window (they take effect 24 h later)
    span = np.maximum(WINDOW_END - HOUR - (users.cadastro + DAY), HOUR)
    when = users.cadastro + DAY + (span * (1.0 - rng.random(n) ** 2.5)).astype(np.int64)
    updated = np.where(changed, when, users.cadastro).astype(np.int64)
    return Limits(lim_tx=lim_tx, lim_day=lim_day, updated=updated)


# -------------------------------------------------------------------------------------------- keys
@dataclass
class KeyRequest:
    """A key a ring needs: owner, type, registration instant, and whether a phone key is a new number."""

    user: int
    tipo: int
    cadastro: int
    new_number: bool = False
    #: the user's first key (a fresh account registers it at opening) rather than an extra one
    primary: bool = False


@dataclass
class Keys:
    value: np.ndarray  # object
    tipo: np.ndarray  # int8
    owner: np.ndarray  # int64
    cadastro: np.ndarray  # int64
    active: np.ndarray  # bool
    indptr: np.ndarray  # CSR by owner, each user's keys sorted by cadastro (first = primary)
    index: np.ndarray
    order: np.ndarray = field(default=None)  # type: ignore[assignment]  # file row order

    @property
    def n(self) -> int:
        return int(self.value.size)

    def primary(self) -> np.ndarray:
        """Each user's first (oldest, always active) key."""
        return self.index[self.indptr[:-1]]


def _first_key_time(rng: np.random.Generator, cadastro: np.ndarray) -> np.ndarray:
    """First key: at account opening, or in the months after DICT opened for older accounts."""
    n = cadastro.size
    early = DICT_START_S + (rng.exponential(40.0, size=n) * DAY).astype(np.int64)
    at_open = cadastro + rng.integers(2 * MINUTE, 30 * MINUTE, size=n)
    return np.where(cadastro < DICT_START_S, np.minimum(early, WINDOW_START - DAY), at_open)


def build_keys(users: Users, total: int, rng: np.random.Generator, requests: list[KeyRequest],
               recent_frac: float = 0.3) -> tuple[Keys, list[int]]:
    """Exactly ``total`` keys: one primary key per user, the rings' requested keys, the rest spread
    over users (companies hold more) within the DICT caps (5 per individual, 20 per company).

    Returns the keys and, for each request, the index of the key created for it.
    """
    n = users.n
    cap = np.where(users.is_pj, MAX_KEYS_PJ, MAX_KEYS_PF)
    extra_reqs = [r for r in requests if not r.primary]
    req_count = np.bincount(np.array([r.user for r in extra_reqs], dtype=np.int64), minlength=n) \
        if extra_reqs else np.zeros(n, dtype=np.int64)
    extra_total = total - n - len(extra_reqs)
    if extra_total < 0:
        raise RuntimeError("key budget smaller than users + ring keys")
    room = cap - 1 - req_count
    if (room < 0).any():
        raise RuntimeError("a ring asked for more keys than a user may hold")
    w = np.where(users.is_pj, 3.0 * np.array([1.0, 2.0, 4.0])[users.segment], 1.0)
    w = w * (room > 0)
    extra = np.zeros(n, dtype=np.int64)
    left = extra_total
    while left > 0:
        ww = w * (room - extra > 0)
        if ww.sum() <= 0:
            raise RuntimeError("not enough key capacity for the key budget")
        add = rng.multinomial(left, ww / ww.sum())
        extra = np.minimum(extra + add, room)
        left = extra_total - int(extra.sum())

    first_t = _first_key_time(rng, users.cadastro)
    first_t = np.where(users.pix_since >= 0, np.maximum(users.pix_since, users.cadastro + HOUR), first_t)
    p_first_pf = np.array([0.42, 0.0, 0.13, 0.25, 0.20])
    p_first_pj = np.array([0.0, 0.68, 0.10, 0.04, 0.18])
    t_first_pf = rng.choice(5, size=n, p=p_first_pf)
    t_first_pj = rng.choice(5, size=n, p=p_first_pj)
    first_type = np.where(users.is_pj, t_first_pj, t_first_pf)

    owner_l: list[int] = []
    tipo_l: list[int] = []
    cad_l: list[int] = []
    newnum_l: list[bool] = []
    by_user: dict[int, list[int]] = {}
    for j, r in enumerate(requests):
        by_user.setdefault(r.user, []).append(j)

    u_extra = rng.random(int(extra.sum()) + 1)  # timing of extra keys
    u_pos = 0
    doc_type = np.where(users.is_pj, K_CNPJ, K_CPF)
    req_index = [-1] * len(requests)
    for i in range(n):
        used: set[int] = set()
        t0 = int(first_t[i])
        ft = int(first_type[i])
        first_new = False
        mine = by_user.get(i, [])
        for j in mine:
            if requests[j].primary:
                t0, ft, first_new = int(requests[j].cadastro), requests[j].tipo, requests[j].new_number
                req_index[j] = len(owner_l)
        owner_l.append(i); tipo_l.append(ft); cad_l.append(t0); newnum_l.append(bool(first_new and ft == K_TEL))
        used.add(ft)
        for j in mine:
            r = requests[j]
            if r.primary:
                continue
            tipo = r.tipo
            if tipo in used and tipo != K_EVP and not (tipo == K_TEL and r.new_number):
                tipo = K_EVP
            if tipo == K_TEL and not r.new_number and K_TEL in used:
                tipo = K_EVP
            used.add(tipo)
            req_index[j] = len(owner_l)
            owner_l.append(i); tipo_l.append(tipo); cad_l.append(max(int(r.cadastro), t0 + MINUTE))
            newnum_l.append(bool(r.new_number and tipo == K_TEL))
        k = int(extra[i])
        if k:
            span = max(WINDOW_END - DAY - t0, HOUR)
            recent_lo = max(t0, WINDOW_END - 120 * DAY)
            for _ in range(k):
                # prefer the holder's document, phone, e-mail before more random keys
                choices = [t for t in (int(doc_type[i]), K_TEL, K_EMAIL) if t not in used]
                tipo = choices[0] if choices and rng.random() < 0.7 else K_EVP
                used.add(tipo)
                uu = u_extra[u_pos]; u_pos += 1
                if rng.random() < recent_frac:  # people keep adding keys: a share is recent
                    t = recent_lo + MINUTE + int(max(WINDOW_END - DAY - recent_lo, HOUR) * uu)
                else:
                    t = t0 + MINUTE + int(span * uu)
                owner_l.append(i); tipo_l.append(tipo); cad_l.append(t)
                newnum_l.append(tipo == K_TEL and rng.random() < 0.08)  # changed number
    owner = np.array(owner_l, dtype=np.int64)
    tipo = np.array(tipo_l, dtype=np.int8)
    cadastro = np.array(cad_l, dtype=np.int64)
    newnum = np.array(newnum_l, dtype=bool)
    assert owner.size == total, (owner.size, total)

    value = np.empty(total, dtype=object)
    m = tipo == K_CPF
    value[m] = users.doc[owner[m]]
    m = tipo == K_CNPJ
    value[m] = users.doc[owner[m]]
    m = tipo == K_EMAIL
    value[m] = users.email[owner[m]]
    m = (tipo == K_TEL) & ~newnum
    value[m] = users.telefone[owner[m]]
    m = (tipo == K_TEL) & newnum
    value[m] = docs.generate_mobiles(rng, int(m.sum()), exclude=users.telefone)
    m = tipo == K_EVP
    value[m] = docs.generate_evps(rng, int(m.sum()))

    # inactive keys: all keys of inactive/blocked users, ~2 % of other secondary keys
    is_primary = np.zeros(total, dtype=bool)
    order = np.lexsort((np.arange(total), cadastro, owner))
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=n), out=indptr[1:])
    is_primary[order[indptr[:-1]]] = True
    is_req = np.zeros(total, dtype=bool)
    is_req[[x for x in req_index if x >= 0]] = True
    active = users.active[owner] & ~(~is_primary & ~is_req & (rng.random(total) < 0.02))

    keys = Keys(value=value, tipo=tipo, owner=owner, cadastro=cadastro, active=active,
                indptr=indptr, index=order)
    keys.order = np.lexsort((users.ids[owner] if users.ids is not None else owner, cadastro))
    return keys, req_index


# ----------------------------------------------------------------------------------------- devices
@dataclass
class SharedDevice:
    """A device (fingerprint) a ring registers to several accounts: ``[(user, registered_at), ...]``."""

    bindings: list[tuple[int, int]]
    tipo: int = 0
    legit_use: bool = False


@dataclass
class Devices:
    """Device bindings. A fingerprint (``id_dispositivo``) may be bound to several users."""

    fp: np.ndarray  # fingerprint index per binding
    user: np.ndarray
    registro: np.ndarray
    active: np.ndarray  # bool
    legit: np.ndarray  # usable by ordinary logins
    fp_tipo: np.ndarray  # per fingerprint
    fp_ids: np.ndarray = field(default=None)  # type: ignore[assignment]
    # per-user CSR of legit-usable active bindings, primary first
    indptr: np.ndarray = field(default=None)  # type: ignore[assignment]
    index: np.ndarray = field(default=None)  # type: ignore[assignment]
    order: np.ndarray = field(default=None)  # type: ignore[assignment]  # file row order
    new_device: list[tuple[int, int, int]] = field(default_factory=list)  # (user, binding, t) in window

    @property
    def n(self) -> int:
        return int(self.user.size)

    def primary(self) -> np.ndarray:
        return self.index[self.indptr[:-1]]


def build_devices(users: Users, total: int, rng: np.random.Generator, diff: Difficulty,
                  shared: list[SharedDevice]) -> tuple[Devices, list[int]]:
    """Exactly ``total`` bindings: one own device per user, household tablets/phones shared by the
    family, the rings' shared devices, legitimate new devices during the window, extra devices.

    Returns the devices and the fingerprint index of each requested shared device.
    """
    n = users.n
    p_tipo = np.array([0.70, 0.19, 0.04, 0.07])
    b_fp: list[np.ndarray] = []
    b_user: list[np.ndarray] = []
    b_reg: list[np.ndarray] = []
    b_act: list[np.ndarray] = []
    b_legit: list[np.ndarray] = []
    fp_tipo: list[np.ndarray] = []
    n_fp = 0

    # 1. own primary device: registered at opening, or replaced phone some time before the window
    cad = users.cadastro
    replaced = cad + (rng.random(n) * np.maximum(WINDOW_START - DAY - cad, 0)).astype(np.int64)
    reg = np.where(rng.random(n) < 0.6, replaced, cad + rng.integers(MINUTE, 20 * MINUTE, size=n))
    reg = np.maximum(reg, cad + MINUTE)
    b_fp.append(np.arange(n)); b_user.append(np.arange(n)); b_reg.append(reg.astype(np.int64))
    b_act.append(np.ones(n, dtype=bool)); b_legit.append(np.ones(n, dtype=bool))
    fp_tipo.append(rng.choice(4, size=n, p=p_tipo).astype(np.int8))
    n_fp = n
    used = n

    # 2. ring shared devices
    ring_fp: list[int] = []
    for sd in shared:
        us = np.array([b[0] for b in sd.bindings], dtype=np.int64)
        rs = np.array([b[1] for b in sd.bindings], dtype=np.int64)
        b_fp.append(np.full(us.size, n_fp)); b_user.append(us); b_reg.append(rs)
        b_act.append(np.ones(us.size, dtype=bool)); b_legit.append(np.full(us.size, sd.legit_use))
        fp_tipo.append(np.array([sd.tipo], dtype=np.int8))
        ring_fp.append(n_fp)
        n_fp += 1
        used += us.size
    budget = total - used
    if budget < 0:
        raise RuntimeError("device budget smaller than users + ring devices")

    # 3. household shared devices (a tablet or an old phone used by the family)
    hh = users.household
    hids = np.unique(hh[hh >= 0])
    rows_u: list[int] = []
    rows_f: list[int] = []
    rows_r: list[int] = []
    if hids.size:
        members_sorted = np.argsort(hh, kind="stable")
        hh_sorted = hh[members_sorted]
        starts = np.searchsorted(hh_sorted, hids)
        ends = np.searchsorted(hh_sorted, hids, side="right")
        for h, s, e in zip(hids.tolist(), starts.tolist(), ends.tolist()):
            mem = members_sorted[s:e]
            if budget - len(rows_u) < mem.size:
                break
            t = int(cad[mem].max()) + int(rng.integers(HOUR, 30 * DAY))
            t = min(t, max(int(cad[mem].max()) + HOUR, WINDOW_START - DAY))
            for m in mem.tolist():
                rows_u.append(m); rows_f.append(n_fp); rows_r.append(t)
            n_fp += 1
            fp_tipo.append(np.array([rng.choice(4, p=[0.45, 0.15, 0.35, 0.05])], dtype=np.int8))
    if rows_u:
        k = len(rows_u)
        b_fp.append(np.array(rows_f)); b_user.append(np.array(rows_u)); b_reg.append(np.array(rows_r))
        b_act.append(np.ones(k, dtype=bool)); b_legit.append(np.ones(k, dtype=bool))
        budget -= k

    # 4. legitimate new devices during the window (new phone): camouflage for account takeover
    elig = np.flatnonzero(users.active & (cad < WINDOW_START - 30 * DAY))
    k_new = min(budget, int(round(diff.legit_new_device_frac * n)), elig.size)
    new_dev: list[tuple[int, int, int]] = []
    if k_new > 0:
        who = np.sort(rng.choice(elig, size=k_new, replace=False))
        t = rng.integers(WINDOW_START + HOUR, WINDOW_END - DAY, size=k_new)
        first_b = sum(x.size for x in b_user)
        b_fp.append(np.arange(n_fp, n_fp + k_new)); b_user.append(who); b_reg.append(t)
        b_act.append(np.ones(k_new, dtype=bool)); b_legit.append(np.ones(k_new, dtype=bool))
        fp_tipo.append(rng.choice(4, size=k_new, p=p_tipo).astype(np.int8))
        new_dev = [(int(u), first_b + j, int(tt)) for j, (u, tt) in enumerate(zip(who.tolist(), t.tolist()))]
        n_fp += k_new
        budget -= k_new

    # 5. extra devices (second phone, tablet, web browser; old phones now inactive)
    if budget > 0:
        w = np.where(users.is_pj, 2.0, 1.0) * (0.5 + users.activity)
        who = rng.choice(n, size=budget, p=w / w.sum())
        who = np.sort(who)
        start = cad[who] + MINUTE
        reg = start + (rng.random(budget) * np.maximum(WINDOW_START - DAY - start, HOUR)).astype(np.int64)
        reg = np.where(cad[who] >= WINDOW_START - DAY, cad[who] + rng.integers(MINUTE, HOUR, size=budget), reg)
        act = rng.random(budget) < 0.62
        b_fp.append(np.arange(n_fp, n_fp + budget)); b_user.append(who); b_reg.append(reg)
        b_act.append(act); b_legit.append(act.copy())
        fp_tipo.append(rng.choice(4, size=budget, p=[0.55, 0.15, 0.10, 0.20]).astype(np.int8))
        n_fp += budget

    dev = Devices(fp=np.concatenate(b_fp).astype(np.int64), user=np.concatenate(b_user).astype(np.int64),
                  registro=np.concatenate(b_reg).astype(np.int64), active=np.concatenate(b_act),
                  legit=np.concatenate(b_legit), fp_tipo=np.concatenate(fp_tipo), new_device=new_dev)
    assert dev.n == total, (dev.n, total)
    # inactive / blocked users' devices are inactive
    dev.active &= users.active[dev.user]
    dev.legit &= dev.active

    # fingerprint ids in order of first registration
    first_reg = np.full(n_fp, np.iinfo(np.int64).max)
    np.minimum.at(first_reg, dev.fp, dev.registro)
    fp_order = np.lexsort((np.arange(n_fp), first_reg))
    fp_rank = np.empty(n_fp, dtype=np.int64)
    fp_rank[fp_order] = np.arange(1, n_fp + 1)
    dev.fp_ids = _fmt_ids("id_dispositivo", fp_rank)
    dev.order = np.lexsort((dev.registro, fp_rank[dev.fp]))

    # CSR of usable devices per user: own device (primary) first
    usable = np.flatnonzero(dev.legit)
    is_own = (dev.fp[usable] == dev.user[usable]).astype(np.int8)
    o = np.lexsort((usable, -is_own, dev.user[usable]))
    dev.index = usable[o]
    dev.indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(dev.user[usable], minlength=n), out=dev.indptr[1:])
    return dev, ring_fp

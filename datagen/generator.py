"""Entry point: :func:`generate` writes the seven data sets and the ground truth into a directory.

Order of work: plan counts -> users -> base limits -> rings (recruit mules and victims, shape the
flows) -> ids -> keys -> devices -> reference tables written -> transactions and logins streamed day
by day -> MED claims -> ground truth -> manifest. Everything goes to a temporary directory beside
``out`` that is renamed into place at the end, so a failed or interrupted run leaves nothing
half-written.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from faker import Faker

from pixring.errors import PixringError

from datagen import fraudes as fraudes_mod
from datagen import population as pop
from datagen.plan import Difficulty, difficulty_params, parse_typologies, plan_counts, validate_format
from datagen.lookalikes import plan_lookalikes
from datagen.rings import RingPlan, plan_rings
from datagen.schema import REFERENCE_DATE, WINDOW_DAYS
from datagen.timeline import WINDOW_END, WINDOW_START, to_iso
from datagen.traffic import FraudOutcome, TrafficStream
from datagen.writer import TableWriter, write_csv, write_table
from pixring.contract import (
    PAPEIS_MULA,
    PAPEL,
    STATUS_CHAVE,
    STATUS_DISPOSITIVO,
    STATUS_FRAUDE,
    STATUS_USUARIO,
    TIMEZONE,
    TIPO_CHAVE,
    TIPO_DISPOSITIVO,
    TIPO_FRAUDE,
    TIPOLOGIAS_PIX,
    TRUTH_COLUMNS,
    TRUTH_DIR,
)

log = logging.getLogger(__name__)

MANIFEST = "_manifest.json"
GENERATOR_VERSION = 1

_TRUTH_README = """# Ground truth - DO NOT USE FOR TRAINING

These files are written by `pixring datagen` next to the seven data sets. They say which
transactions are fraudulent and which users belong to which ring, with their role:

* `rings.csv` - the generic truth, in the form a bank gives its confirmed rings: `ring_id,
  id_usuario, typology`, one row per account of a ring (`mula` and `coletor`; victims are not ring
  members). `pixring graph evaluate` / `gnn evaluate` read this form from any source;
* `ring_membros.csv` - `id_ring, id_usuario, chave_pix, papel` with papel in vitima / mula / coletor
  (the "mule set" of a ring is its `mula` and `coletor` members; victims are ordinary users);
* `rings_resumo.csv` - one row per ring: typology, member counts, number of its transactions, money
  taken from its victims (`valor_total`, concluded transfers), first/last instant, number of shared
  devices, where the money came from (`colocacao`: vitimas / externa), how amounts moved
  (`modo_valor`: conservado / dividido / estruturado, with `limite_estruturacao`), the median
  forwarding delay in minutes and the members' ordinary activity (x an average user);
* `transacoes_fraudulentas.csv` - every planted fraudulent transaction (including attempts the
  limits rejected): `id_transacao, id_ring, tipologia, papel_origem, papel_destino`;
* `fluxos.csv` - the money trace: a forward `id_transacao` passes on `fracao` of what each
  `id_transacao_entrada` moved (its amount is that share of the concluded inputs' sum, at least R$ 1.00);
* `lookalikes.csv` - legitimate structures that look like rings (merchants with many payers,
  payroll, families sharing a device, friends settling bills in cycles, brokers): `id_grupo, tipo,
  id_usuario, papel`. They are *not* fraud: a detector that flags them is wrong.

A bank does not have this. The pipeline (lakehouse, graph, GNN, scorer) must never read it for
training or feature building: the only label it may learn from is `fraudes` (MED claims). Use this
directory only to *evaluate* (precision/recall of flagged users, rings recovered, ...).
"""


@dataclass
class GenerationReport:
    """What :func:`generate` wrote."""

    out: Path
    scale: float
    seed: int
    fmt: str
    difficulty: str
    counts: dict[str, int]
    n_fraud_tx: int
    n_fraud_rejected: int
    n_rings: int
    n_mules: int
    n_victims: int
    n_claims_confirmed: int
    n_tx_rejected: int
    elapsed_s: float
    typologies: dict[str, int] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.counts.values())

    @property
    def rows_per_s(self) -> float:
        return self.total_rows / self.elapsed_s if self.elapsed_s > 0 else float("inf")

    def __str__(self) -> str:
        width = max(len(k) for k in self.counts)
        lines = [f"datagen: scale={self.scale:g} seed={self.seed} format={self.fmt} "
                 f"difficulty={self.difficulty} -> {self.out}"]
        for name, n in self.counts.items():
            lines.append(f"  {name:<{width}} {n:>12,}")
        lines.append(f"  fraudulent transactions: {self.n_fraud_tx:,} "
                     f"({self.n_fraud_rejected:,} rejected by limits); rings: {self.n_rings:,} "
                     f"({', '.join(f'{k} {v}' for k, v in self.typologies.items())})")
        lines.append(f"  mules+collectors: {self.n_mules:,}; victims: {self.n_victims:,}; "
                     f"confirmed claims: {self.n_claims_confirmed:,}; rejected transactions: "
                     f"{self.n_tx_rejected:,}")
        lines.append(f"  {self.total_rows:,} rows in {self.elapsed_s:.1f} s "
                     f"({self.rows_per_s:,.0f} rows/s)")
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------ output dir
def _looks_generated(path: Path) -> bool:
    return (path / MANIFEST).exists() or (path / "transacoes_pix.csv").exists() \
        or (path / "transacoes_pix.parquet").exists()


def _prepare_out(out: Path, overwrite: bool) -> Path:
    """Validate ``out`` and create the temporary directory beside it; returns the temp dir."""
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise PixringError(f"--out {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise PixringError(f"--out {out} is not empty; pass --overwrite to replace it")
        if not _looks_generated(out):
            raise PixringError(f"--out {out} is not empty and does not look like a datagen output; "
                               "refusing to overwrite it")
    parent = out.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PixringError(f"cannot create {parent}: {exc.strerror or exc}") from exc
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PixringError(f"--out {out}: directory {parent} is not writable")
    tmp = parent / f".{out.name}.tmp-{os.getpid()}"
    try:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        (tmp / TRUTH_DIR).mkdir()
    except OSError as exc:
        raise PixringError(f"--out {out}: cannot write in {parent}: {exc.strerror or exc}") from exc
    return tmp


def _commit(tmp: Path, out: Path) -> None:
    """Move the finished temp dir into place (replacing an old output atomically enough)."""
    out = Path(out).expanduser()
    old = None
    if out.exists():
        if any(out.iterdir()):
            old = out.absolute().parent / f".{out.name}.old-{os.getpid()}"
            out.rename(old)
        else:
            out.rmdir()
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ------------------------------------------------------------------------------------------ generate
def generate(out: Path, scale: float = 1.0, seed: int = 42, fmt: str = "csv",
             difficulty: str = "normal", overwrite: bool = False,
             typologies: str | list[str] | tuple[str, ...] | None = None) -> GenerationReport:
    """Generate the seven Pix data sets plus ``_truth/`` into ``out``.

    Raises :class:`PixringError` for bad input (scale <= 0, unknown format/difficulty, negative
    seed, unwritable or non-empty ``out`` without ``overwrite``). The same arguments always produce
    byte-identical files.
    """
    counts = plan_counts(scale)
    fmt = validate_format(fmt)
    diff = difficulty_params(difficulty)
    selected = parse_typologies(typologies)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise PixringError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    out = Path(out)
    tmp = _prepare_out(out, overwrite)
    t_start = time.perf_counter()
    try:
        report = _generate_into(tmp, counts, float(scale), seed, fmt, diff, selected)
        _commit(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    report.out = out
    report.elapsed_s = time.perf_counter() - t_start
    log.info("datagen done: %d rows in %.1f s (%.0f rows/s)", report.total_rows, report.elapsed_s,
             report.rows_per_s)
    return report


def _generate_into(tmp: Path, counts: dict[str, int], scale: float, seed: int, fmt: str,
                   diff: Difficulty, selected: tuple[str, ...] | None = None) -> GenerationReport:
    ss = np.random.SeedSequence(seed)
    # the first seven streams are those of every earlier version (spawn(n) extends, never reshuffles)
    r_users, r_limits, r_rings, r_keys, r_dev, r_traffic, r_claims, r_look = (
        np.random.Generator(np.random.PCG64(s)) for s in ss.spawn(8))
    fake = Faker("pt_BR")
    fake.seed_instance(seed)

    log.info("datagen: %d users, %d transactions (%d fraudulent), difficulty %s", counts["usuarios"],
             counts["transacoes_pix"], counts["transacoes_fraudulentas"], diff.name)
    users = pop.build_users(counts["usuarios"], r_users, fake, diff)
    limits = pop.build_limits(users, r_limits, diff)
    budget = max(2, int(round(counts["transacoes_fraudulentas"] * diff.fraud_mult)))
    plan = plan_rings(users, limits, budget, r_rings, diff, selected)
    look = plan_lookalikes(users, limits, int(round(counts["transacoes_pix"] * diff.lookalike_frac)), r_look)
    users.assign_ids()
    keys, req_index = pop.build_keys(users, counts["chaves_pix"], r_keys, plan.key_requests,
                                     diff.recent_key_frac)
    devices, ring_fp = pop.build_devices(users, counts["dispositivos"], r_dev, diff, plan.shared_devices)
    key_of_request = np.array(req_index, dtype=np.int64)
    fp_of_shared = np.array(ring_fp, dtype=np.int64)

    written: dict[str, int] = {}
    written["usuarios"] = _write_users(tmp, fmt, users)
    written["chaves_pix"] = _write_keys(tmp, fmt, users, keys)
    written["dispositivos"] = _write_devices(tmp, fmt, users, devices)
    written["limites_transacoes"] = _write_limits(tmp, fmt, users, limits)

    log.info("datagen: streaming %d days of transactions and logins", WINDOW_DAYS)
    stream = TrafficStream(users, keys, devices, limits, plan, key_of_request, fp_of_shared, diff,
                           counts["transacoes_pix"], counts["log_autenticacao"], counts["fraudes"],
                           r_traffic, look)
    with TableWriter(tmp, "transacoes_pix", fmt) as txw, TableWriter(tmp, "log_autenticacao", fmt) as lgw:
        res = stream.run(txw, lgw)
        written["transacoes_pix"] = txw.rows
        written["log_autenticacao"] = lgw.rows

    claims = fraudes_mod.build_claims(plan, res.fraud, res.claim_pool, counts["fraudes"], r_claims)
    written["fraudes"] = write_table(tmp, "fraudes", fmt, {
        "id_fraude": np.array([f"F{i:08d}" for i in range(1, claims.id_transacao.size + 1)], dtype=object),
        "id_transacao": claims.id_transacao,
        "tipo_fraude": np.array(TIPO_FRAUDE, dtype=object)[claims.tipo_fraude],
        "data_deteccao": claims.data_deteccao,
        "valor_fraude": claims.cents,
        "status": np.array(STATUS_FRAUDE, dtype=object)[claims.status],
    })
    n_rings, typologies = _write_truth(tmp / TRUTH_DIR, plan, res.fraud, users, keys, key_of_request, diff)
    write_csv(tmp / TRUTH_DIR / "lookalikes.csv", pd.DataFrame(
        [(f"G{g:05d}", kind, users.ids[u], papel) for g, kind, u, papel in look.members],
        columns=TRUTH_COLUMNS["lookalikes"]))

    order = ["transacoes_pix", "chaves_pix", "usuarios", "dispositivos", "fraudes",
             "limites_transacoes", "log_autenticacao"]
    written = {k: written[k] for k in order}
    for k in order:
        if written[k] != counts[k]:  # pragma: no cover - guarded by construction
            raise RuntimeError(f"{k}: wrote {written[k]} rows, planned {counts[k]}")
    manifest = {
        "generator": "pixring.datagen",
        "version": GENERATOR_VERSION,
        "seed": seed,
        "scale": scale,
        "difficulty": diff.name,
        "format": fmt,
        "reference_date": REFERENCE_DATE,
        "window_start": str(to_iso(np.array([WINDOW_START]))[0]),
        "window_end_exclusive": str(to_iso(np.array([WINDOW_END]))[0]),
        "timezone": TIMEZONE,
        "counts": written,
        "fraudulent_transactions": plan.n_tx,
        "rings": n_rings,
        "typologies": list(selected or diff.typologies or TIPOLOGIAS_PIX),
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return GenerationReport(
        out=tmp, scale=scale, seed=seed, fmt=fmt, difficulty=diff.name, counts=written,
        n_fraud_tx=plan.n_tx, n_fraud_rejected=int((res.fraud.status == 1).sum()), n_rings=n_rings,
        n_mules=int(users.is_mule.sum()), n_victims=int((users.role == pop.R_VITIMA).sum()),
        n_claims_confirmed=int((claims.status == fraudes_mod.CONFIRMADA).sum()),
        n_tx_rejected=res.n_rejected, elapsed_s=0.0, typologies=typologies)


# ------------------------------------------------------------------------------------------ writers
def _write_users(tmp: Path, fmt: str, u: pop.Users) -> int:
    o = u.order
    return write_table(tmp, "usuarios", fmt, {
        "id_usuario": u.ids[o], "cpf_cnpj": u.doc[o], "nome": u.nome[o], "email": u.email[o],
        "telefone": u.telefone[o], "data_cadastro": u.cadastro[o],
        "status": np.array(STATUS_USUARIO, dtype=object)[u.status[o]],
    })


def _write_keys(tmp: Path, fmt: str, u: pop.Users, k: pop.Keys) -> int:
    o = k.order
    own = k.owner[o]
    return write_table(tmp, "chaves_pix", fmt, {
        "chave_pix": k.value[o], "tipo_chave": np.array(TIPO_CHAVE, dtype=object)[k.tipo[o]],
        "cpf_cnpj": u.doc[own], "nome_titular": u.nome[own], "data_cadastro": k.cadastro[o],
        "status": np.array(STATUS_CHAVE, dtype=object)[np.where(k.active[o], 0, 1)],
    })


def _write_devices(tmp: Path, fmt: str, u: pop.Users, d: pop.Devices) -> int:
    o = d.order
    return write_table(tmp, "dispositivos", fmt, {
        "id_dispositivo": d.fp_ids[d.fp[o]], "id_usuario": u.ids[d.user[o]],
        "tipo_dispositivo": np.array(TIPO_DISPOSITIVO, dtype=object)[d.fp_tipo[d.fp[o]]],
        "data_registro": d.registro[o],
        "status": np.array(STATUS_DISPOSITIVO, dtype=object)[np.where(d.active[o], 0, 1)],
    })


def _write_limits(tmp: Path, fmt: str, u: pop.Users, lim: pop.Limits) -> int:
    o = u.order
    return write_table(tmp, "limites_transacoes", fmt, {
        "id_usuario": u.ids[o], "limite_diario": lim.lim_day[o], "limite_por_transacao": lim.lim_tx[o],
        "data_atualizacao": lim.updated[o],
    })


def _write_truth(tdir: Path, plan: RingPlan, outcome: FraudOutcome, users: pop.Users, keys: pop.Keys,
                 key_of_request: np.ndarray, diff: Difficulty) -> tuple[int, dict[str, int]]:
    rings = plan.rings
    first_t = {r.rid: int(plan.ts[plan.ring == r.rid].min()) for r in rings}
    order = sorted(rings, key=lambda r: (first_t[r.rid], r.rid))
    rid_str = {r.rid: f"R{i:05d}" for i, r in enumerate(order, start=1)}
    papel = np.array(PAPEL, dtype=object)
    tip_of = {r.rid: r.tipologia for r in rings}
    tx = pd.DataFrame({
        "id_transacao": outcome.ids,
        "id_ring": [rid_str[int(x)] for x in plan.ring.tolist()],
        "tipologia": [tip_of[int(x)] for x in plan.ring.tolist()],
        "papel_origem": papel[plan.papel_o],
        "papel_destino": papel[plan.papel_d],
    })
    tx = tx.sort_values("id_transacao", kind="stable")[TRUTH_COLUMNS["transacoes_fraudulentas"]]
    write_csv(tdir / "transacoes_fraudulentas.csv", tx)

    # the money trace: each forward, the transactions whose money it passes on, and the share
    flow = [(str(outcome.ids[g]), str(outcome.ids[i]), frac)
            for g, (ins, frac) in enumerate(zip(plan.fwd_inputs, plan.fwd_frac.tolist())) if frac > 0 for i in ins]
    flows = pd.DataFrame(flow, columns=TRUTH_COLUMNS["fluxos"]).sort_values(
        ["id_transacao", "id_transacao_entrada"], kind="stable")
    flows["fracao"] = flows["fracao"].map(lambda x: f"{x:.6f}")
    write_csv(tdir / "fluxos.csv", flows)
    hop = {r.rid: [] for r in rings}  # forwarding delays, for the summary
    for g, ins in enumerate(plan.fwd_inputs):
        if ins:
            hop[int(plan.ring[g])].append(int(plan.ts[g]) - max(int(plan.ts[i]) for i in ins))

    primary = keys.primary()
    members = []
    ring_rows = []
    typologies: dict[str, int] = {}
    for r in order:
        m = plan.ring == r.rid
        n_shared = len(r.shared)
        ring_rows.append({
            "id_ring": rid_str[r.rid], "tipologia": r.tipologia, "n_membros": r.n_members,
            "n_vitimas": r.n_v, "n_mulas": r.n_m, "n_coletores": r.n_c, "n_transacoes": int(m.sum()),
            # money taken from the victims (their concluded transfers)
            "valor_total": float(outcome.cents[m & (outcome.status != 1) & (plan.papel_o == 0)].sum()) / 100.0,
            "inicio": str(to_iso(np.array([plan.ts[m].min()]))[0]),
            "fim": str(to_iso(np.array([plan.ts[m].max()]))[0]),
            "dispositivos_compartilhados": n_shared,
            "colocacao": r.colocacao, "modo_valor": r.modo_valor,
            "limite_estruturacao": f"{r.limiar / 100.0:.2f}" if r.limiar else "",
            "atraso_mediano_min": f"{float(np.median(hop[r.rid])) / 60.0:.1f}" if hop[r.rid] else "",
            "atividade_normal": f"{r.atividade if r.atividade is not None else diff.mule_background:.2f}",
        })
        typologies[r.tipologia] = typologies.get(r.tipologia, 0) + 1
        for kind, cnt, name in (("v", r.n_v, "vitima"), ("m", r.n_m, "mula"), ("c", r.n_c, "coletor")):
            for i in range(cnt):
                u = r.users[(kind, i)]
                kr = r.key_req.get((kind, i), -1)
                key = keys.value[key_of_request[kr]] if kr >= 0 else keys.value[primary[u]]
                members.append({"id_ring": rid_str[r.rid], "id_usuario": users.ids[u], "chave_pix": key,
                                "papel": name})
    write_csv(tdir / "rings_resumo.csv", pd.DataFrame(ring_rows, columns=TRUTH_COLUMNS["rings_resumo"]))
    mem = pd.DataFrame(members, columns=TRUTH_COLUMNS["ring_membros"])
    write_csv(tdir / "ring_membros.csv", mem)
    # the generic truth a bank would give: ring id, account, typology; the ring's own accounts only
    generic = mem[mem["papel"].isin(PAPEIS_MULA)].rename(columns={"id_ring": "ring_id"})
    generic = generic.assign(typology=generic["ring_id"].map({rid_str[r.rid]: r.tipologia for r in rings}))
    write_csv(tdir / "rings.csv", generic[TRUTH_COLUMNS["rings"]])
    (tdir / "README.md").write_text(_TRUTH_README, encoding="utf-8")
    typologies = {k: typologies[k] for k in sorted(typologies)}
    return len(rings), typologies

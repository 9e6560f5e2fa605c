"""Turn datagen's output into an extract shaped like a bank's, and break a share of its rows on purpose.

The bank shape (:func:`convert`): the bank's own file and column names, real Pix end-to-end ids
(``E`` + ISPB + ``yyyyMMddHHmm`` + 11 alphanumerics), opaque customer, device, login and claim ids, CPFs and
CNPJs with punctuation (``847.170.421-82``), date-only columns, timestamps with an offset, ``;`` as the
separator, decimal commas (``1.234,56``), Latin-1, the bank's own enum codes (``PIX_TRANSF``), an extra
column the contract does not have and a column the extract lacks (a constant in the mapping). It also
writes the mapping file (:data:`MAPPING_NAME`) that brings it back to the contract.

:func:`break_rows` copies such an extract with a share of the transactions, logins and device rows
broken in known ways and returns, per contract table, the id of every row that must be quarantined and
the reason it must carry (a Counter: a conflict quarantines both versions of one id).

Used by ``tests/lakehouse/test_bank_extract.py`` and ``bench/bench_check.py``.
"""

from __future__ import annotations

import csv
import hashlib
import random
from collections import Counter
from datetime import datetime
from pathlib import Path

import yaml

from pixring.contract import COLUMNS

ISPB = "18236120"
ENCODING = "latin-1"
MAPPING_NAME = "mapping.yaml"

#: contract table -> (bank file, {contract column: bank column})
FILES: dict[str, tuple[str, dict[str, str]]] = {
    "transacoes_pix": ("PIX_TRANSACOES.csv", {
        "id_transacao": "id_fim_a_fim", "timestamp": "dt_hora", "valor": "vl_transacao",
        "chave_pix_origem": "chave_pagador", "chave_pix_destino": "chave_recebedor", "tipo_transacao": "cd_tipo",
        "status": "cd_situacao"}),
    "chaves_pix": ("CHAVES_DICT.csv", {
        "chave_pix": "ds_chave", "tipo_chave": "tp_chave", "cpf_cnpj": "nr_documento_titular",
        "nome_titular": "nm_titular", "data_cadastro": "dt_registro", "status": "st_chave"}),
    "usuarios": ("CLIENTES.csv", {
        "id_usuario": "cd_cliente", "cpf_cnpj": "nr_cpf_cnpj", "nome": "nm_cliente", "email": "ds_email",
        "telefone": "nr_telefone", "data_cadastro": "dt_abertura", "status": "st_cliente"}),
    "dispositivos": ("DISPOSITIVOS.csv", {
        "id_dispositivo": "cd_dispositivo", "id_usuario": "cd_cliente", "tipo_dispositivo": "tp_plataforma",
        "data_registro": "dt_vinculo"}),  # no status column: a constant in the mapping
    "fraudes": ("MED_NOTIFICACOES.csv", {
        "id_fraude": "nr_protocolo", "id_transacao": "id_fim_a_fim", "tipo_fraude": "cd_motivo",
        "data_deteccao": "dt_notificacao", "valor_fraude": "vl_contestado", "status": "st_analise"}),
    "limites_transacoes": ("LIMITES.csv", {
        "id_usuario": "cd_cliente", "limite_diario": "vl_limite_diario", "limite_por_transacao": "vl_limite_transacao",
        "data_atualizacao": "dt_alteracao"}),
    "log_autenticacao": ("LOG_ACESSO.csv", {
        "id_log": "id_evento", "id_usuario": "cd_cliente", "timestamp": "dt_evento", "tipo_autenticacao": "tp_fator",
        "status": "cd_resultado", "id_dispositivo": "cd_dispositivo"}),
}
#: An extra column of the bank's customer file (listed under ``ignore`` in the mapping).
EXTRA = ("usuarios", "cd_agencia")
#: The one contract column the bank does not deliver, and its constant.
CONSTANT = ("dispositivos", "status", "ativo")

#: contract table -> contract column -> {contract value: bank code}
CODES: dict[str, dict[str, dict[str, str]]] = {
    "transacoes_pix": {
        "tipo_transacao": {"transferencia_p2p": "PIX_TRANSF", "pagamento_p2m": "PIX_PAGTO", "qr_estatico": "PIX_QRS",
                           "qr_dinamico": "PIX_QRD", "transferencia_b2p": "PIX_PJPF", "transferencia_b2b": "PIX_PJPJ"},
        "status": {"concluida": "LIQUIDADA", "rejeitada": "REJEITADA", "em_processamento": "PENDENTE"},
    },
    "chaves_pix": {
        "tipo_chave": {"cpf": "CPF", "cnpj": "CNPJ", "email": "EMAIL", "telefone": "CELULAR", "aleatoria": "EVP"},
        "status": {"ativa": "A", "inativa": "I"},
    },
    "usuarios": {"status": {"ativo": "ATIVO", "inativo": "ENCERRADO", "bloqueado": "BLOQUEADO"}},
    "dispositivos": {"tipo_dispositivo": {"android": "ANDROID", "ios": "IOS", "tablet": "TABLET", "web": "WEB"}},
    "fraudes": {
        "tipo_fraude": {"golpe_venda_falsa": "MED01", "engenharia_social": "MED02", "golpe_investimento": "MED03",
                        "invasao_conta": "MED04", "sequestro_relampago": "MED05", "golpe_falso_parente": "MED06"},
        "status": {"confirmada": "PROCEDENTE", "em_analise": "EM_ANALISE", "improcedente": "IMPROCEDENTE"},
    },
    "log_autenticacao": {
        "tipo_autenticacao": {"senha": "SENHA", "biometria": "BIOMETRIA", "reconhecimento_facial": "FACEID",
                              "token_sms": "SMS"},
        "status": {"sucesso": "OK", "falha": "NOK"},
    },
}
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _h(kind: str, value: str) -> bytes:
    return hashlib.sha256(f"{kind}:{value}".encode()).digest()


def e2e_id(tx_id: str, ts: str) -> str:
    """A Pix end-to-end id: E + the payer PSP's ISPB + yyyyMMddHHmm + 11 alphanumerics."""
    when = datetime.fromisoformat(ts)
    tail = "".join(_ALNUM[b % len(_ALNUM)] for b in _h("e2e", tx_id)[:11])
    return f"E{ISPB}{when:%Y%m%d%H%M}{tail}"


def customer_id(user: str) -> str:
    n = int.from_bytes(_h("cli", user)[:8], "big") % 10**12
    return f"{n:012d}-{n % 7}"


def device_id(device: str) -> str:
    h = _h("dev", device).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def log_id(log: str) -> str:
    return "ACS." + _h("log", log).hex()[:16].upper()


def claim_id(claim: str) -> str:
    return "MED:2026:" + _h("med", claim).hex()[:10]


def punctuate(doc: str) -> str:
    if len(doc) == 11 and doc.isdigit():
        return f"{doc[:3]}.{doc[3:6]}.{doc[6:9]}-{doc[9:]}"
    if len(doc) == 14 and doc.isdigit():
        return f"{doc[:2]}.{doc[2:5]}.{doc[5:8]}/{doc[8:12]}-{doc[12:]}"
    return doc


def national_phone(e164: str) -> str:
    """``+5511987654321`` -> ``(11) 98765-4321``."""
    d = e164[3:]
    return f"({d[:2]}) {d[2:-4]}-{d[-4:]}" if e164.startswith("+55") and len(d) in (10, 11) else e164


def decimal_comma(value: str) -> str:
    whole, _, cents = value.partition(".")
    sign = "-" if whole.startswith("-") else ""
    whole = whole.lstrip("-")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return f"{sign}{'.'.join(groups)},{(cents or '00').ljust(2, '0')}"


def _read(src: Path, table: str) -> list[dict[str, str]]:
    with (src / f"{table}.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _convert_row(table: str, row: dict[str, str], tx_ids: dict[str, str]) -> dict[str, str]:
    out = dict(row)
    for col, codes in CODES.get(table, {}).items():
        out[col] = codes[row[col]]
    if "id_usuario" in out:
        out["id_usuario"] = customer_id(row["id_usuario"])
    if "id_dispositivo" in out:
        out["id_dispositivo"] = device_id(row["id_dispositivo"])
    if "id_transacao" in out:
        out["id_transacao"] = tx_ids[row["id_transacao"]]
    if "cpf_cnpj" in out:
        out["cpf_cnpj"] = punctuate(row["cpf_cnpj"])
    for col in ("valor", "valor_fraude", "limite_diario", "limite_por_transacao"):
        if col in out:
            out[col] = decimal_comma(row[col])
    if table == "transacoes_pix":
        out["timestamp"] = row["timestamp"] + "-03:00"  # with the offset (São Paulo has no DST since 2019)
    elif table in ("usuarios", "chaves_pix"):
        out["data_cadastro"] = row["data_cadastro"][:10]  # a date without a time
    elif table == "fraudes":
        out["data_deteccao"] = row["data_deteccao"][:10]
    elif table == "log_autenticacao":
        out["timestamp"] = row["timestamp"].replace("T", " ")
        out["id_log"] = log_id(row["id_log"])
    elif table == "dispositivos":
        out["data_registro"] = row["data_registro"].replace("T", " ")
    elif table == "limites_transacoes":
        out["data_atualizacao"] = row["data_atualizacao"].replace("T", " ")[:16]  # without seconds
    if table == "chaves_pix" and row["tipo_chave"] in ("cpf", "cnpj"):
        out["chave_pix"] = punctuate(row["chave_pix"])  # the same key stays digits in the transactions
    if table == "usuarios":
        out["telefone"] = national_phone(row["telefone"])
    if table == "fraudes":
        out["id_fraude"] = claim_id(row["id_fraude"])
    return out


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding=ENCODING) as fh:
        w = csv.writer(fh, delimiter=";", lineterminator="\r\n")
        w.writerow(header)
        w.writerows(rows)


def _bank_row(table: str, row: dict[str, str], index: int) -> list[str]:
    cols = [c for c in COLUMNS[table] if c in FILES[table][1]]
    values = [row[c] for c in cols]
    if table == EXTRA[0]:
        values.append(f"{index % 9000 + 1000}")
    return values


def bank_header(table: str) -> list[str]:
    names = FILES[table][1]
    header = [names[c] for c in COLUMNS[table] if c in names]
    return header + ([EXTRA[1]] if table == EXTRA[0] else [])


def mapping() -> dict:
    files = {}
    for table, (name, names) in FILES.items():
        entry: dict = {"file": name, "columns": {bank: contract for contract, bank in names.items()}}
        if table in CODES:
            entry["values"] = {col: {code: value for value, code in codes.items()} for col, codes in CODES[table].items()}
        if table == EXTRA[0]:
            entry["ignore"] = [EXTRA[1]]
        if table == CONSTANT[0]:
            entry["constants"] = {CONSTANT[1]: CONSTANT[2]}
        files[table] = entry
    return {"source": "banco-exemplo", "csv": {"separator": ";", "decimal": ",", "encoding": ENCODING},
            "files": files}


def convert(src: Path, out: Path) -> Path:
    """Write the bank-shaped extract of the datagen output ``src`` (CSV) into ``out``, with its mapping file."""
    out.mkdir(parents=True, exist_ok=True)
    txs = _read(src, "transacoes_pix")
    tx_ids = {r["id_transacao"]: e2e_id(r["id_transacao"], r["timestamp"]) for r in txs}
    for table in FILES:
        rows = txs if table == "transacoes_pix" else _read(src, table)
        bank = [_bank_row(table, _convert_row(table, r, tx_ids), i) for i, r in enumerate(rows)]
        _write(out / FILES[table][0], bank_header(table), bank)
    (out / MAPPING_NAME).write_text(yaml.safe_dump(mapping(), sort_keys=False, allow_unicode=True), encoding="utf-8")
    return out / MAPPING_NAME


# --------------------------------------------------------------------------------------- broken rows
def _read_bank(src: Path, table: str) -> tuple[list[str], list[list[str]]]:
    with (src / FILES[table][0]).open(newline="", encoding=ENCODING) as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    return rows[0], rows[1:]


def _tx_breaks(header: list[str]) -> list[tuple[str, object]]:
    i = {c: header.index(n) for c, n in FILES["transacoes_pix"][1].items()}

    def setter(col: str, value: str):
        def apply(row: list[str]) -> list[str]:
            row = list(row)
            row[i[col]] = value
            return row
        return apply

    return [
        ("bad_enum:tipo_transacao=PIX_SAQUE", setter("tipo_transacao", "PIX_SAQUE")),
        ("bad_enum:status", setter("status", "84717042182")),  # a CPF in the wrong column: never in a reason
        ("bad_timestamp:timestamp", setter("timestamp", "31/13/2026 25:00")),
        ("bad_number:valor", setter("valor", "12,3,4")),
        ("not_positive:valor", setter("valor", "-10,00")),
        ("unknown_key:chave_pix_destino", setter("chave_pix_destino", "9b2d6f0e-1c3a-4b5d-8e7f-0a1b2c3d4e5f")),
        ("missing:timestamp", setter("timestamp", "")),
        ("malformed_row", lambda row: row[:-1]),
        ("bad_id:id_transacao", None),  # the id gets a quote and a backslash: set below (it is the row's marker)
        ("conflict:id_transacao", None),  # another row's id, other content: both versions quarantined
    ]


def break_rows(src: Path, out: Path, fraction: float = 0.05, seed: int = 5) -> dict[str, Counter]:
    """Copy the bank extract ``src`` to ``out`` with ``fraction`` of the transactions, logins and device
    bindings broken; returns {contract table: Counter((contract id, reason))} of the rows that must be
    quarantined (the id as it is in the file, or the malformed line's first field)."""
    import shutil

    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    for name in [f for f, _ in FILES.values()] + [MAPPING_NAME]:
        shutil.copyfile(src / name, out / name)
    expected: dict[str, Counter] = {t: Counter() for t in FILES}

    # transactions: leave the ones with a fraud claim alone (a claim on a quarantined transaction would follow it)
    _, claims = _read_bank(src, "fraudes")
    claimed = {r[1] for r in claims}
    header, rows = _read_bank(src, "transacoes_pix")
    id_col = header.index(FILES["transacoes_pix"][1]["id_transacao"])
    value_col = header.index(FILES["transacoes_pix"][1]["valor"])
    candidates = [k for k, r in enumerate(rows) if r[id_col] not in claimed]
    picked = rng.sample(candidates, int(len(rows) * fraction))
    breaks = _tx_breaks(header)
    extra_rows: list[list[str]] = []
    for n, k in enumerate(picked):
        reason, apply = breaks[n % len(breaks)]
        row = rows[k]
        if reason.startswith("bad_id"):
            row = list(row)
            row[id_col] = row[id_col][:-2] + "'\\"
            rows[k] = row
        elif reason.startswith("conflict"):
            twin = list(row)
            twin[value_col] = decimal_comma(f"{rng.randint(1, 99999)}.{rng.randint(0, 99):02d}")
            extra_rows.append(twin)
            expected["transacoes_pix"][(row[id_col], reason)] += 1  # the original version is quarantined too
        else:
            rows[k] = apply(row)
            if reason == "malformed_row":  # Spark fills the absent last field with NULL: it is missing too
                expected["transacoes_pix"][(rows[k][id_col], "missing:status")] += 1
        expected["transacoes_pix"][(rows[k][id_col], reason)] += 1
    _write(out / FILES["transacoes_pix"][0], header, rows + extra_rows)

    for table, kinds in (
        ("log_autenticacao", [("bad_enum:tipo_autenticacao=PIN", "tipo_autenticacao", "PIN"),
                              ("unknown_user:id_usuario", "id_usuario", "999999999999-0"),
                              ("bad_timestamp:timestamp", "timestamp", "2026-02-30 10:00:00"),
                              ("missing:id_dispositivo", "id_dispositivo", "")]),
        ("dispositivos", [("bad_enum:tipo_dispositivo=SMARTWATCH", "tipo_dispositivo", "SMARTWATCH"),
                          ("unknown_user:id_usuario", "id_usuario", "999999999999-0"),
                          ("bad_timestamp:data_registro", "data_registro", "ontem")]),
    ):
        header, rows = _read_bank(src, table)
        names = FILES[table][1]
        key_col = header.index(names[COLUMNS[table][0]])
        for n, k in enumerate(rng.sample(range(len(rows)), int(len(rows) * fraction))):
            reason, col, value = kinds[n % len(kinds)]
            row = list(rows[k])
            row[header.index(names[col])] = value
            rows[k] = row
            expected[table][(row[key_col], reason)] += 1
        _write(out / FILES[table][0], header, rows)
    return expected

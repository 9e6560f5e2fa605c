"""Schema, referential integrity and temporal consistency across the seven files."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pandas as pd

from datagen import documents as docs
from datagen.plan import plan_counts
from datagen.schema import ID_PREFIX
from pixring.contract import COLUMNS, ENUMS, FILES, MAX_KEYS_PF, MAX_KEYS_PJ, TRUTH_COLUMNS, TRUTH_DIR

TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
MONEY_RE = re.compile(r"^\d+\.\d{2}$")
WINDOW = (pd.Timestamp("2026-09-06T00:00:00"), pd.Timestamp("2026-10-31T23:59:59"))


def test_files_and_columns_exactly_as_the_seed(small_out: Path, tables: dict[str, pd.DataFrame]) -> None:
    assert sorted(p.name for p in small_out.glob("*.csv")) == sorted(f"{f}.csv" for f in FILES)
    for name in FILES:
        header = (small_out / f"{name}.csv").read_text(encoding="utf-8").split("\n", 1)[0]
        assert header.split(",") == COLUMNS[name], name
    for name, cols in TRUTH_COLUMNS.items():
        assert list(tables[f"_truth/{name}"].columns) == cols
    readme = (small_out / TRUTH_DIR / "README.md").read_text()
    assert "never" in readme.lower() and "training" in readme.lower()


def test_counts_match_plan(tables: dict[str, pd.DataFrame]) -> None:
    plan = plan_counts(0.1)
    for name in FILES:
        assert len(tables[name]) == plan[name], name
    assert len(tables["_truth/transacoes_fraudulentas"]) == plan["transacoes_fraudulentas"] == 25


def test_enums_ids_and_formats(tables: dict[str, pd.DataFrame]) -> None:
    for (name, col), allowed in ENUMS.items():
        assert set(tables[name][col]) <= set(allowed), (name, col, set(tables[name][col]) - set(allowed))
    for name, col in (("transacoes_pix", "id_transacao"), ("usuarios", "id_usuario"),
                      ("log_autenticacao", "id_log"), ("fraudes", "id_fraude")):
        ids = tables[name][col]
        assert ids.is_unique
        assert ids.str.match(rf"^{ID_PREFIX[col]}\d+$").all()
    assert tables["dispositivos"]["id_dispositivo"].str.match(r"^D\d{8}$").all()
    for name in FILES:
        for col in COLUMNS[name]:
            s = tables[name][col]
            assert (s != "").all(), (name, col)
            if col in ("timestamp", "data_cadastro", "data_registro", "data_deteccao", "data_atualizacao"):
                assert s.str.match(TS_RE).all(), (name, col)
            if col in ("valor", "valor_fraude", "limite_diario", "limite_por_transacao"):
                assert s.str.match(MONEY_RE).all(), (name, col)
                assert (s.astype(float) > 0).all()
    # all transactions and claims fall in the window; transactions are written in time order
    tx = tables["transacoes_pix"]
    ts = pd.to_datetime(tx["timestamp"])
    assert ts.min() >= WINDOW[0] and ts.max() <= WINDOW[1]
    assert ts.is_monotonic_increasing
    assert pd.to_datetime(tables["log_autenticacao"]["timestamp"]).is_monotonic_increasing
    assert pd.to_datetime(tables["fraudes"]["data_deteccao"]).max() <= WINDOW[1]


def test_documents_and_keys(tables: dict[str, pd.DataFrame]) -> None:
    users, keys = tables["usuarios"], tables["chaves_pix"]
    assert users["cpf_cnpj"].is_unique and users["email"].is_unique and users["telefone"].is_unique
    is_cpf = users["cpf_cnpj"].str.len() == 11
    assert users.loc[is_cpf, "cpf_cnpj"].map(docs.is_valid_cpf).all()
    assert users.loc[~is_cpf, "cpf_cnpj"].map(docs.is_valid_cnpj).all()
    assert (users.loc[~is_cpf, "cpf_cnpj"].str.len() == 14).all()
    assert 0.03 < (~is_cpf).mean() < 0.2  # companies exist, individuals dominate
    assert users["telefone"].map(docs.is_valid_mobile_e164).all()
    assert users["email"].map(docs.is_valid_email).all()

    assert keys["chave_pix"].is_unique
    # every key belongs to an existing user, and its holder's name is that user's
    by_doc = users.set_index("cpf_cnpj")
    assert keys["cpf_cnpj"].isin(by_doc.index).all()
    assert (keys["nome_titular"].values == by_doc.loc[keys["cpf_cnpj"], "nome"].values).all()
    # CPF/CNPJ keys equal their owner's document; formats of the other key types
    for tipo, check in (("cpf", docs.is_valid_cpf), ("cnpj", docs.is_valid_cnpj),
                        ("telefone", docs.is_valid_mobile_e164), ("email", docs.is_valid_email),
                        ("aleatoria", docs.is_valid_evp)):
        k = keys[keys["tipo_chave"] == tipo]
        assert len(k) > 0, tipo
        assert k["chave_pix"].map(check).all(), tipo
        if tipo in ("cpf", "cnpj"):
            assert (k["chave_pix"] == k["cpf_cnpj"]).all()
    assert set(keys.loc[keys["tipo_chave"] == "cpf", "cpf_cnpj"].str.len()) == {11}
    assert set(keys.loc[keys["tipo_chave"] == "cnpj", "cpf_cnpj"].str.len()) == {14}
    # DICT caps: 5 keys per individual, 20 per company; every user has at least one key
    per_owner = keys.groupby("cpf_cnpj").size()
    assert per_owner.reindex(users["cpf_cnpj"]).notna().all()
    assert per_owner[per_owner.index.str.len() == 11].max() <= MAX_KEYS_PF
    assert per_owner[per_owner.index.str.len() == 14].max() <= MAX_KEYS_PJ
    # keys are registered after the account is opened
    opened = pd.to_datetime(by_doc.loc[keys["cpf_cnpj"], "data_cadastro"]).values
    assert (pd.to_datetime(keys["data_cadastro"]).values >= opened).all()


def test_devices_limits_and_logs_reference_users(tables: dict[str, pd.DataFrame]) -> None:
    users = tables["usuarios"]
    uid = set(users["id_usuario"])
    dev, lim, logs = tables["dispositivos"], tables["limites_transacoes"], tables["log_autenticacao"]
    assert set(dev["id_usuario"]) <= uid
    assert not dev.duplicated(["id_dispositivo", "id_usuario"]).any()
    assert set(dev["id_usuario"]) == uid  # everyone has at least one device
    assert dev.groupby("id_usuario").size().max() > 1  # some users have several
    assert lim["id_usuario"].is_unique and set(lim["id_usuario"]) == uid
    opened = users.set_index("id_usuario")["data_cadastro"]
    assert (dev["data_registro"].values >= opened.loc[dev["id_usuario"]].values).all()
    assert (lim["data_atualizacao"].values >= opened.loc[lim["id_usuario"]].values).all()
    # every login is by an existing user on a device bound to that user
    pairs = set(zip(dev["id_dispositivo"], dev["id_usuario"]))
    assert all(p in pairs for p in zip(logs["id_dispositivo"], logs["id_usuario"]))
    # a successful login happens on a device already registered (failed attempts may precede it)
    reg = dev.set_index(["id_dispositivo", "id_usuario"])["data_registro"]
    ok = logs[logs["status"] == "sucesso"]
    reg_at = reg.loc[list(zip(ok["id_dispositivo"], ok["id_usuario"]))].values
    assert (reg_at <= ok["timestamp"].values).all()
    assert 0.01 < (logs["status"] == "falha").mean() < 0.15


def test_transactions_reference_existing_active_keys(tables: dict[str, pd.DataFrame],
                                                      tx_users: pd.DataFrame) -> None:
    keys = tables["chaves_pix"].set_index("chave_pix")
    tx = tx_users
    assert tx["src"].notna().all() and tx["dst"].notna().all()
    assert (tx["src"] != tx["dst"]).all()
    for col in ("chave_pix_origem", "chave_pix_destino"):
        k = keys.loc[tx[col]]
        assert (k["status"].values == "ativa").all()
        assert (k["data_cadastro"].values <= tx["timestamp"].values).all(), col
    users = tables["usuarios"].set_index("id_usuario")
    assert (users.loc[tx["src"], "status"].values == "ativo").all()
    assert (users.loc[tx["src"], "data_cadastro"].values < tx["timestamp"].values).all()
    assert (users.loc[tx["dst"], "data_cadastro"].values < tx["timestamp"].values).all()
    types = Counter(tx["tipo_transacao"])
    assert {"transferencia_p2p", "pagamento_p2m", "qr_estatico", "qr_dinamico"} <= set(types)
    assert types["transferencia_p2p"] == max(types.values())


def test_every_transfer_follows_a_login(tables: dict[str, pd.DataFrame], tx_users: pd.DataFrame) -> None:
    logs = tables["log_autenticacao"]
    ok = logs[logs["status"] == "sucesso"].copy()
    ok["ts"] = pd.to_datetime(ok["timestamp"])
    ok = ok.sort_values("ts")[["id_usuario", "ts"]].rename(columns={"id_usuario": "src", "ts": "login"})
    tx = tx_users.sort_values("ts")[["id_transacao", "src", "ts"]]
    m = pd.merge_asof(tx, ok, left_on="ts", right_on="login", by="src", direction="backward")
    assert m["login"].notna().all()
    assert ((m["ts"] - m["login"]) <= pd.Timedelta(minutes=30)).all()


def test_realism_signals(tables: dict[str, pd.DataFrame], tx_users: pd.DataFrame) -> None:
    tx = tx_users
    # heavy-tailed values
    v = tx["cents"] / 100
    assert v.mean() > 1.5 * v.median() and v.quantile(0.99) > 20 * v.median()
    # hour-of-day profile: the small hours are quiet
    hour = tx["ts"].dt.hour
    assert (hour.isin([2, 3, 4])).mean() < 0.03
    assert (hour.between(10, 20)).mean() > 0.6
    # weekday profile and payday peaks: Sunday below Friday, the 5th business day above the median day
    per_day = tx.groupby(tx["ts"].dt.date).size()
    dow = per_day.groupby(pd.to_datetime(per_day.index).day_of_week).mean()
    assert dow[6] < dow[4]
    assert per_day[pd.Timestamp("2026-10-07").date()] > per_day.median()
    # shared devices: families and rings
    dev = tables["dispositivos"]
    assert (dev.groupby("id_dispositivo")["id_usuario"].nunique() > 1).any()
    # some users are new: opened during the window
    opened = pd.to_datetime(tables["usuarios"]["data_cadastro"])
    assert (opened >= WINDOW[0]).mean() > 0.02

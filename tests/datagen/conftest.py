"""Fixtures for the datagen tests: one small generated data set shared by the whole session.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from datagen.generator import GenerationReport, generate
from pixring.contract import FILES, TRUTH_COLUMNS, TRUTH_DIR
from datagen.writer import read_table

SMALL_SCALE = 0.1
SMALL_SEED = 7


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationReport]:
    """A scale-0.1 CSV data set (5,000 transactions, 25 fraudulent) at ``normal`` difficulty."""
    out = tmp_path_factory.mktemp("datagen") / "small"
    report = generate(out=out, scale=SMALL_SCALE, seed=SMALL_SEED, fmt="csv", difficulty="normal")
    return out, report


@pytest.fixture(scope="session")
def small_out(small_run: tuple[Path, GenerationReport]) -> Path:
    return small_run[0]


@pytest.fixture(scope="session")
def tables(small_out: Path) -> dict[str, pd.DataFrame]:
    """The seven data sets as all-string DataFrames, plus the ground truth (``_truth/...``)."""
    out = {name: read_table(small_out, name) for name in FILES}
    for name in TRUTH_COLUMNS:
        out[f"_truth/{name}"] = pd.read_csv(small_out / TRUTH_DIR / f"{name}.csv", dtype=str,
                                            keep_default_na=False)
    return out


def to_cents(values: pd.Series) -> pd.Series:
    """``"123.45"`` strings -> integer cents, exactly."""
    parts = values.str.split(".", n=1, expand=True)
    return parts[0].astype("int64") * 100 + parts[1].astype("int64")


@pytest.fixture(scope="session")
def tx_users(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Transactions with sender/receiver user ids (via key -> document -> user) and integer cents."""
    tx = tables["transacoes_pix"].copy()
    keys = tables["chaves_pix"]
    users = tables["usuarios"]
    doc_user = dict(zip(users["cpf_cnpj"], users["id_usuario"]))
    key_user = {k: doc_user[d] for k, d in zip(keys["chave_pix"], keys["cpf_cnpj"])}
    tx["src"] = tx["chave_pix_origem"].map(key_user)
    tx["dst"] = tx["chave_pix_destino"].map(key_user)
    tx["cents"] = to_cents(tx["valor"])
    tx["ts"] = pd.to_datetime(tx["timestamp"], format="%Y-%m-%dT%H:%M:%S")
    return tx

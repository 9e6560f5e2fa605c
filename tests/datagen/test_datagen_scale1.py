"""One real generation at scale 1: the seed's exact counts, every typology planted."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from datagen.generator import generate
from pixring.contract import TIPOLOGIAS_PIX, TRUTH_DIR


def _rows(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for _ in fh) - 1


def test_scale_1_exact_counts(tmp_path: Path) -> None:
    out = tmp_path / "s1"
    report = generate(out, scale=1.0, seed=42)
    expected = {
        "transacoes_pix": 50_000, "chaves_pix": 25_000, "usuarios": 20_000, "dispositivos": 30_000,
        "fraudes": 1_000, "limites_transacoes": 20_000, "log_autenticacao": 100_000,
    }
    for name, n in expected.items():
        assert _rows(out / f"{name}.csv") == n, name
    assert report.counts == expected
    ftx = pd.read_csv(out / TRUTH_DIR / "transacoes_fraudulentas.csv")
    assert len(ftx) == 250 == report.n_fraud_tx
    assert set(ftx["tipologia"]) == set(TIPOLOGIAS_PIX)
    rings = pd.read_csv(out / TRUTH_DIR / "rings_resumo.csv")
    assert rings["n_membros"].between(3, 30).all()
    assert (rings["dispositivos_compartilhados"] > 0).mean() > 0.3

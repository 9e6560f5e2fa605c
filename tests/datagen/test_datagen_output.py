"""Determinism, Parquet, the CLI contract and bad input (exit code 2, nothing half-written)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from datagen.generator import generate
from datagen.plan import plan_counts
from pixring.contract import COLUMNS, FILES
from pixring.cli import main
from pixring.errors import PixringError

TINY = 0.03


def _digest(path: Path) -> dict[str, str]:
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_output(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", scale=TINY, seed=11)
    b = generate(tmp_path / "b", scale=TINY, seed=11)
    da, db = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert set(da) >= {f"{f}.csv" for f in FILES} | {"_truth/rings.csv", "_manifest.json"}
    assert da == db
    assert a.counts == b.counts
    c = generate(tmp_path / "c", scale=TINY, seed=12)
    assert _digest(tmp_path / "c")["transacoes_pix.csv"] != da["transacoes_pix.csv"]
    assert c.counts == a.counts


def test_parquet_is_deterministic_typed_and_same_data(tmp_path: Path) -> None:
    generate(tmp_path / "p1", scale=TINY, seed=5, fmt="parquet")
    generate(tmp_path / "p2", scale=TINY, seed=5, fmt="parquet")
    assert _digest(tmp_path / "p1") == _digest(tmp_path / "p2")
    generate(tmp_path / "csv", scale=TINY, seed=5, fmt="csv")
    counts = plan_counts(TINY)
    for name in FILES:
        table = pq.read_table(tmp_path / "p1" / f"{name}.parquet")
        assert table.column_names == COLUMNS[name]
        assert table.num_rows == counts[name]
    tx = pq.read_table(tmp_path / "p1" / "transacoes_pix.parquet").to_pandas()
    csv = pd.read_csv(tmp_path / "csv" / "transacoes_pix.csv", dtype=str)
    assert list(tx["id_transacao"]) == list(csv["id_transacao"])
    assert [f"{v:.2f}" for v in tx["valor"]] == list(csv["valor"])
    assert list(tx["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S")) == list(csv["timestamp"])


def test_cli_generates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    assert run_cli(["datagen", "--scale", str(TINY), "--seed", "1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "transacoes_pix" in text and "rows/s" in text
    assert (out / "transacoes_pix.csv").exists()


def run_cli(args: list[str]) -> int:
    """``pixring`` as a process would: argparse errors exit via SystemExit."""
    try:
        return main(args)
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.mark.parametrize("args, message", [
    (["--scale", "0"], "scale"),
    (["--scale", "-1"], "scale"),
    (["--scale", "0.0001"], "too small"),
    (["--difficulty", "insane"], "unknown difficulty"),
    (["--seed", "-3"], "seed"),
])
def test_cli_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                               message: str) -> None:
    out = tmp_path / "bad"
    assert run_cli(["datagen", "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) <= 3  # one clear message, no traceback
    assert "Traceback" not in err
    assert not out.exists()
    assert _leftovers(tmp_path) == []


def _leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


def test_scale_errors_from_python_api(tmp_path: Path) -> None:
    for bad in (0, -2, float("nan")):
        with pytest.raises(PixringError, match="scale"):
            generate(tmp_path / "x", scale=bad)
    with pytest.raises(PixringError, match="format"):
        generate(tmp_path / "x", scale=TINY, fmt="xlsx")
    with pytest.raises(PixringError, match="seed"):
        generate(tmp_path / "x", scale=TINY, seed=-1)
    assert not (tmp_path / "x").exists()


def test_non_empty_out_needs_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert run_cli(["datagen", "--scale", str(TINY), "--out", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    # --overwrite refuses a directory that is not a previous datagen output
    assert run_cli(["datagen", "--scale", str(TINY), "--out", str(out), "--overwrite"]) == 2
    assert (out / "notes.txt").read_text() == "keep me"
    assert _leftovers(tmp_path) == []


def test_overwrite_replaces_a_previous_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    generate(out, scale=TINY, seed=1)
    first = _digest(out)
    with pytest.raises(PixringError, match="overwrite"):
        generate(out, scale=TINY, seed=2)
    assert _digest(out) == first
    generate(out, scale=TINY, seed=2, overwrite=True)
    assert _digest(out) != first
    assert _leftovers(tmp_path) == []
    # an existing empty directory is fine without --overwrite
    empty = tmp_path / "empty"
    empty.mkdir()
    generate(empty, scale=TINY, seed=1)
    assert _digest(empty) == first


def test_unwritable_out_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert run_cli(["datagen", "--scale", str(TINY), "--out", str(a_file)]) == 2
    assert run_cli(["datagen", "--scale", str(TINY), "--out", str(a_file / "sub")]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 2
    if os.geteuid() != 0:  # root ignores permissions
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        try:
            assert run_cli(["datagen", "--scale", str(TINY), "--out", str(ro / "out")]) == 2
        finally:
            ro.chmod(0o700)
    assert a_file.read_text() == "x"


def test_failure_midway_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datagen.generator as g

    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(g.fraudes_mod, "build_claims", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        generate(tmp_path / "out", scale=TINY, seed=1)
    assert list(tmp_path.iterdir()) == []

"""The erasure ledger's pure parts: the union of entries, the pandas filter, and the cache that re-reads the
Delta table (written here with delta-rs, as Spark would append it) when its version moves."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa

from pixring import ledger


def _append(path: Path, ids: list[str], tokens: list[str], txs: list[str]) -> None:
    from deltalake import write_deltalake

    table = pa.table({
        "erasure_id": ["e1"], "document_token": [tokens[0]], "ids": [ids], "tokens": [tokens],
        "transactions": [txs], "erased_at": [datetime(2026, 12, 1, 12, 0)], "erased_by": ["dpo"],
        "reason": ["test"], "vacuum_retention_hours": [168.0],
    })
    write_deltalake(str(path), table, mode="append")


def test_erased_holds_every_kind_of_value_and_only_those() -> None:
    e = ledger.Erased(frozenset({"U1"}), frozenset({"a" * 64}), frozenset({"TX9"}))
    assert "U1" in e and " U1 " in e and "a" * 64 in e and "TX9" in e
    assert "U12" not in e and None not in e and 1 not in e
    assert not ledger.Erased() and e


def test_pandas_filter_drops_rows_that_mention_an_erased_value_in_a_column_or_a_list() -> None:
    e = ledger.Erased(frozenset({"U1"}), frozenset(), frozenset({"TX9"}))
    pdf = pd.DataFrame({"id": ["U1", "U2", "U3", "U4"], "membros": [["U5"], ["U1", "U6"], None, ["U7"]],
                        "tx": ["TX1", "TX2", "TX3", "TX9"], "score": [0.1, 0.2, 0.3, 0.4]})
    kept = ledger.without_erased_pandas(pdf, e)
    assert kept["id"].tolist() == ["U3"]
    assert ledger.without_erased_pandas(pdf, ledger.Erased()) is pdf


def test_load_unions_entries_and_the_cache_follows_new_versions(tmp_path: Path) -> None:
    path = tmp_path / "erasures"
    assert not ledger.load(path)
    cache = ledger.ErasedCache(path, check_seconds=0)
    assert not cache.get()
    _append(path, ["U1"], ["t" * 64], ["TX1", "TX2"])
    first = cache.get()
    assert first.ids == {"U1"} and first.transactions == {"TX1", "TX2"} and first.version == 0
    _append(path, ["U2"], ["s" * 64], [])
    second = cache.get()
    assert second.ids == {"U1", "U2"} and second.tokens == {"t" * 64, "s" * 64} and second.version == 1
    assert ledger.load(path) == second

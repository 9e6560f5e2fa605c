"""``docs/contract.md`` is generated from the code that enforces the contract: it fails here when they drift."""

from __future__ import annotations


def test_contract_doc_is_what_the_code_generates() -> None:
    from lakehouse.contract_doc import DOC, render

    assert DOC.read_text(encoding="utf-8") == render(), "docs/contract.md is stale: run python -m lakehouse.contract_doc"


def test_contract_doc_lists_every_column_and_reason() -> None:
    from lakehouse.contract_doc import render
    from lakehouse.transforms.validate import REASONS, column_checks
    from pixring.contract import COLUMNS

    text = render()
    for table, columns in COLUMNS.items():
        section = text.split(f"## `{table}`")[1].split("\n## ")[0]
        for column in columns:
            row = next(line for line in section.splitlines() if line.startswith(f"| `{column}` |"))
            for check in column_checks(table, column):
                assert f"`{check}:{column}" in row
    for code in REASONS:
        assert f"| `{code}` |" in text

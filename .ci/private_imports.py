#!/usr/bin/env python3
"""No private names across packages: ``from lakehouse.producer import _load_rows`` in ``streaming/`` fails.

A name with one leading underscore is private to the top-level package that defines it (datagen, lakehouse,
graph, gnn, streaming, api, infra, pixring, bench). This reads every ``from X import _name`` and
``import X._mod`` with ast and lists those whose X belongs to another package; tests are exempt (they may
test a package's private helpers). ``obj._attr`` on another module is ruff's SLF001. Exit 1 when any.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGES = ("datagen", "lakehouse", "graph", "gnn", "streaming", "api", "infra", "pixring", "bench")


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def violations(root: Path) -> list[str]:
    out = []
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    parts = node.module.split(".")
                    if parts[0] in PACKAGES and parts[0] != pkg:
                        bad = [a.name for a in node.names if _private(a.name)]
                        bad += [p for p in parts[1:] if _private(p)]
                        if bad:
                            out.append(f"{path.relative_to(root)}:{node.lineno}: {node.module} -> {', '.join(bad)}")
                elif isinstance(node, ast.Import):
                    for a in node.names:
                        parts = a.name.split(".")
                        if parts[0] in PACKAGES and parts[0] != pkg and any(_private(p) for p in parts[1:]):
                            out.append(f"{path.relative_to(root)}:{node.lineno}: import {a.name}")
    return out


if __name__ == "__main__":
    found = violations(Path(__file__).resolve().parent.parent)
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} import(s) of another package's private names", file=sys.stderr)
    sys.exit(1 if found else 0)

"""Fixtures for the lakehouse tests: isolated lakehouse homes that reuse the session's Spark and jars.

``tests/lakehouse`` has no ``__init__.py``; as in ``tests/datagen``, make sure the real ``lakehouse`` package
(not this folder as a namespace package) is what ``import lakehouse`` finds.
"""

from __future__ import annotations

import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
for _path in (ROOT, HERE):  # HERE: the tests' own helper module, ``minilake``
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
for _name in ("lakehouse", "datagen", "pixring"):
    _mod = sys.modules.get(_name)
    if _mod is not None and getattr(_mod, "__file__", None) is None:
        for _key in [k for k in sys.modules if k == _name or k.startswith(_name + ".")]:
            del sys.modules[_key]


"""Fixtures for the lakehouse tests: isolated lakehouse homes that reuse the session's Spark and jars.

``tests/lakehouse`` has no ``__init__.py``; as in ``tests/datagen``, make sure the real ``lakehouse`` package
(not this folder as a namespace package) is what ``import lakehouse`` finds.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

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


@pytest.fixture(scope="session")
def make_settings(settings) -> Callable[..., object]:
    """``make_settings(home, **env)``: a :class:`Settings` rooted at ``home`` (with the session's jars linked
    in, so a subprocess can start Spark there too), built with extra ``PIXRING_*`` environment values."""
    from pixring.settings import Settings

    def make(home: Path, **env: str):
        home.mkdir(parents=True, exist_ok=True)
        jars = home / "jars"
        if not jars.exists():
            jars.symlink_to(settings.paths.jars, target_is_directory=True)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("PIXRING_HOME", str(home))
            for key, value in env.items():
                mp.setenv(key, value)
            return Settings()  # every sub-settings object reads the environment above now

    return make


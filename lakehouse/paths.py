"""Where every lakehouse table lives: ``$PIXRING_HOME/lakehouse/<layer>/<table>``."""

from __future__ import annotations

from typing import Final

from pixring.settings import Settings

LAYERS: Final[tuple[str, ...]] = ("bronze", "silver", "gold")


def table_path(settings: Settings, layer: str, name: str) -> str:
    """The location of one Delta table, as a string Spark accepts."""
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; expected one of {LAYERS}")
    return str(settings.paths.lakehouse / layer / name)


def slug(name: str) -> str:
    """``name`` with every non-alphanumeric character as ``_`` (a topic as a query / checkpoint name)."""
    return "".join(c if c.isalnum() else "_" for c in name)


def checkpoint_path(settings: Settings, name: str) -> str:
    """A Structured Streaming checkpoint location under ``$PIXRING_HOME/checkpoints``."""
    return str(settings.paths.checkpoints / name)

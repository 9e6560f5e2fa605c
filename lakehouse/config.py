"""Lakehouse knobs, read from the environment with a ``PIXRING_LAKEHOUSE_`` prefix.

They belong in :class:`pixring.settings.Settings` (as ``settings.lakehouse``); until they are moved there,
:func:`lakehouse_settings` returns ``settings.lakehouse`` when it exists and a fresh object otherwise.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class LakehouseSettings(BaseSettings):
    """Retention, validation limits and the streaming trigger of the lakehouse jobs."""

    model_config = SettingsConfigDict(env_prefix="PIXRING_LAKEHOUSE_", extra="ignore", env_file=None)

    #: VACUUM retention used by ``pixring erase``. Delta's safe default is 168 h (7 days, time travel
    #: keeps working for that long); 0 removes the erased person's old data files at once (and ends time
    #: travel to versions before the erasure).
    vacuum_retention_hours: float = Field(168.0, ge=0)
    #: A string field longer than this is quarantined (``too_long:<column>``).
    max_field_chars: int = Field(512, ge=16)
    #: ``pixring ingest --stream`` (not available-now): micro-batch trigger interval.
    stream_trigger_seconds: float = Field(5.0, gt=0)
    #: Upper bound of Kafka records per micro-batch.
    stream_max_offsets_per_trigger: int = Field(200_000, ge=1)
    #: Independent Spark jobs (one table's write, one file's append) run this many at a time: on a small
    #: machine much of a Delta write is driver-side overhead that overlaps well.
    parallelism: int = Field(3, ge=1, le=16)
    #: A login device counts as new for a transfer when first seen at most this many hours before it.
    new_device_hours: float = Field(24.0, gt=0)


def lakehouse_settings(settings: object) -> LakehouseSettings:
    """``settings.lakehouse`` when the project settings carry it, else the environment's values."""
    found = getattr(settings, "lakehouse", None)
    return found if isinstance(found, LakehouseSettings) else LakehouseSettings()

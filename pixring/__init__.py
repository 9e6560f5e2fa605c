"""pixring: cross-cutting pieces shared by every package (settings, CLI, logging, Spark factory)."""

__version__ = "0.1.0"

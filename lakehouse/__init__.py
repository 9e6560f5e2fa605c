"""pixring lakehouse."""

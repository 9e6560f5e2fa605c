"""pixring api."""

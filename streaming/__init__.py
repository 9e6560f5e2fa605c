"""pixring streaming."""

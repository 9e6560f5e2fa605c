"""pixring graph."""

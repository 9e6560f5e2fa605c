"""pixring gnn."""

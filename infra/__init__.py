"""pixring infra."""

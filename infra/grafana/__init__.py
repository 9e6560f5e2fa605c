"""Grafana dashboards of pixring, generated as JSON by ``python -m infra.grafana.generate``."""

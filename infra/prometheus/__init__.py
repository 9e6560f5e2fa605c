"""Prometheus for the local stack: generated scrape config, alert rules, Kafka JMX exporter rules."""

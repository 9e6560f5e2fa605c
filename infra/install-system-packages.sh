#!/usr/bin/env bash
# Installs the Debian packages pixring needs, only those missing. Idempotent and quiet when nothing is missing.
set -euo pipefail
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
need=()
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
[ -x /usr/bin/prometheus ] || need+=(prometheus)  # its binary and promtool; pixring runs it, not the Debian unit
command -v npm >/dev/null 2>&1 || need+=(npm)  # vendors the investigator page's graph library (api/ui/build.sh)
command -v chromium >/dev/null 2>&1 || need+=(chromium)  # headless browser of the investigator page test
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
[ -x /usr/bin/redis-server ] || need+=(redis-server)  # the online store; pixring runs it, not the Debian unit
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  $SUDO apt-get update -qq
  # no recommends: prometheus would otherwise pull in (and start) prometheus-node-exporter
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# `pixring up` runs Prometheus with its own config and port; the Debian unit would hold port 9090
for unit in prometheus redis-server; do  # redis-server's unit would hold 6379, without our password
  if command -v systemctl >/dev/null 2>&1 && systemctl is-enabled --quiet "$unit" 2>/dev/null; then
    $SUDO systemctl disable --now "$unit" >/dev/null 2>&1 || true
  fi
done

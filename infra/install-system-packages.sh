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
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  $SUDO apt-get update -qq
  # no recommends: prometheus would otherwise pull in (and start) prometheus-node-exporter
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# `pixring up` runs Prometheus with its own config and port; the Debian unit would hold port 9090
if command -v systemctl >/dev/null 2>&1 && systemctl is-enabled --quiet prometheus 2>/dev/null; then
  $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
fi

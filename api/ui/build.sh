#!/usr/bin/env bash
# Fetches the investigator page's graph library with npm and vendors it into static/vendor/.
# Idempotent: does nothing when the vendored file matches package.json's version.
set -euo pipefail
cd "$(dirname "$0")"
want=$(python3 -c 'import json;print(json.load(open("package.json"))["dependencies"]["cytoscape"])')
stamp=static/vendor/cytoscape.version
if [ -f static/vendor/cytoscape.min.js ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "npm is required (Debian package npm)" >&2; exit 1; }
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --silent --ignore-scripts; else npm install --no-audit --no-fund --silent --ignore-scripts; fi
mkdir -p static/vendor
cp node_modules/cytoscape/dist/cytoscape.min.js static/vendor/cytoscape.min.js
echo "$want" > "$stamp"
echo "vendored cytoscape $want into api/ui/static/vendor/"

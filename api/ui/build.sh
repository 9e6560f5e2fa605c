#!/usr/bin/env bash
# Fetches the investigator page's graph libraries with npm and vendors them into static/vendor/:
# cytoscape, and the fCoSE force-directed layout (cytoscape-fcose with its cose-base and layout-base).
# Idempotent: does nothing when the vendored files match package-lock.json's versions.
set -euo pipefail
cd "$(dirname "$0")"
want=$(python3 -c "import json
lock = json.load(open('package-lock.json'))['packages']
print(' '.join(k.split('/')[-1] + '@' + v['version'] for k, v in sorted(lock.items()) if k))")
stamp=static/vendor/vendor.version
files=(cytoscape/dist/cytoscape.min.js layout-base/layout-base.js cose-base/cose-base.js cytoscape-fcose/cytoscape-fcose.js)
vendored() {
  [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] || return 1
  for f in "${files[@]}"; do [ -f "static/vendor/$(basename "$f")" ] || return 1; done
}
if vendored; then exit 0; fi
command -v npm >/dev/null 2>&1 || { echo "npm is required (Debian package npm)" >&2; exit 1; }
npm ci --no-audit --no-fund --silent --ignore-scripts
mkdir -p static/vendor
for f in "${files[@]}"; do cp "node_modules/$f" static/vendor/; done
rm -f static/vendor/cytoscape.version  # the stamp of the cytoscape-only build
echo "$want" > "$stamp"
echo "vendored $want into api/ui/static/vendor/"

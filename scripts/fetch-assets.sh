#!/usr/bin/env bash
# Fetches the web UI's JavaScript libraries (htmx 2 and uPlot) and the API documentation's
# (Swagger UI at /docs, ReDoc at /redoc) from the npm registry with `npm pack` into
# src/modelyard/web/static/vendor/ (gitignored; a wheel built after this ships them). Idempotent: does nothing when
# the pinned versions are already there. Without npm, or offline, it says so and exits 0: every
# page still renders and reads without JavaScript.
set -euo pipefail

HTMX_VERSION=2.0.11
UPLOT_VERSION=1.6.32
SWAGGER_UI_VERSION=5.36.0
REDOC_VERSION=3.0.1

root="$(cd "$(dirname "$0")/.." && pwd)"
vendor="$root/src/modelyard/web/static/vendor"
stamp="$vendor/VERSIONS"
want="htmx.org@$HTMX_VERSION uplot@$UPLOT_VERSION swagger-ui-dist@$SWAGGER_UI_VERSION redoc@$REDOC_VERSION"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
  && [ -s "$vendor/htmx.min.js" ] && [ -s "$vendor/uPlot.iife.min.js" ] && [ -s "$vendor/uPlot.min.css" ] \
  && [ -s "$vendor/swagger-ui-bundle.js" ] && [ -s "$vendor/swagger-ui.css" ] && [ -s "$vendor/redoc.standalone.js" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "fetch-assets: npm is missing (apt-get install -y npm); the web UI runs without htmx and charts" >&2
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# npm pack checks each tarball against the registry's integrity hash.
if ! (cd "$work" && npm pack --silent "htmx.org@$HTMX_VERSION" "uplot@$UPLOT_VERSION" \
  "swagger-ui-dist@$SWAGGER_UI_VERSION" "redoc@$REDOC_VERSION" >/dev/null 2>"$work/npm.log"); then
  echo "fetch-assets: npm pack failed; the web UI runs without htmx and charts:" >&2
  grep -v 'Unknown user config' "$work/npm.log" >&2 || true
  exit 0
fi
mkdir -p "$work/htmx" "$work/uplot" "$work/swagger" "$work/redoc" "$vendor"
tar -xzf "$work/htmx.org-$HTMX_VERSION.tgz" -C "$work/htmx"
tar -xzf "$work/uplot-$UPLOT_VERSION.tgz" -C "$work/uplot"
tar -xzf "$work/swagger-ui-dist-$SWAGGER_UI_VERSION.tgz" -C "$work/swagger"
tar -xzf "$work/redoc-$REDOC_VERSION.tgz" -C "$work/redoc"
install -m 0644 "$work/htmx/package/dist/htmx.min.js" "$vendor/htmx.min.js"
install -m 0644 "$work/uplot/package/dist/uPlot.iife.min.js" "$vendor/uPlot.iife.min.js"
install -m 0644 "$work/uplot/package/dist/uPlot.min.css" "$vendor/uPlot.min.css"
install -m 0644 "$work/htmx/package/LICENSE" "$vendor/htmx.LICENSE"
install -m 0644 "$work/uplot/package/LICENSE" "$vendor/uPlot.LICENSE"
install -m 0644 "$work/swagger/package/swagger-ui-bundle.js" "$vendor/swagger-ui-bundle.js"
install -m 0644 "$work/swagger/package/swagger-ui.css" "$vendor/swagger-ui.css"
install -m 0644 "$work/swagger/package/LICENSE" "$vendor/swagger-ui.LICENSE"
install -m 0644 "$work/redoc/package/bundles/redoc.standalone.js" "$vendor/redoc.standalone.js"
install -m 0644 "$work/redoc/package/LICENSE" "$vendor/redoc.LICENSE"
echo "$want" >"$stamp"
echo "fetch-assets: $want -> ${vendor#"$root"/}"

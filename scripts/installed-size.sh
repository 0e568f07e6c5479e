#!/usr/bin/env bash
# Installed size of the base package and of modelyard[all], with the versions of uv.lock, each
# in a fresh virtual environment (site-packages, MB). Run from a checkout: bash scripts/installed-size.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
uv="$root/.venv/bin/uv"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"$uv" build -q --wheel --out-dir "$out/dist" "$root" >/dev/null
wheel=$(ls "$out"/dist/*.whl)
for extra in base all; do
  if [ "$extra" = base ]; then args=(); else args=(--extra all); fi
  (cd "$root" && "$uv" export -q --frozen --no-hashes --no-emit-project "${args[@]}" -o "$out/$extra.txt")
  "$uv" venv -q --python "$(command -v python3)" "$out/venv-$extra"
  "$uv" pip install -q --python "$out/venv-$extra/bin/python" -r "$out/$extra.txt"
  "$uv" pip install -q --no-deps --python "$out/venv-$extra/bin/python" "$wheel"
  site=$(ls -d "$out/venv-$extra"/lib/python3*/site-packages)
  echo "$extra: $(du -sm "$site" | cut -f1) MB, $(ls "$site" | grep -c 'dist-info$') distributions"
done

#!/usr/bin/env bash
# Make (once) and print the bin directory of the MLflow peer's venv, from
# scripts/mlflow-requirements.txt: the tests of `modelyard import mlflow` and the benchmarks
# against MLflow run MLflow from here, so its pins never meet modelyard's own dependencies.
# A venv made from other requirements is made again; concurrent callers wait for one another.
#   scripts/mlflow-venv.sh [DIR]      (default: .venv-mlflow in the checkout)
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-.venv-mlflow}"
req=scripts/mlflow-requirements.txt
mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9
if [ -x "$dir/bin/mlflow" ] && cmp -s "$req" "$dir/.requirements"; then
  echo "$(cd "$dir" && pwd)/bin"
  exit 0
fi
rm -rf "$dir"
python3 -m venv "$dir"
if [ -x .venv/bin/uv ]; then
  .venv/bin/uv pip install -q --python "$dir/bin/python" -r "$req" >&2
else
  "$dir/bin/pip" install -q -r "$req" >&2
fi
cp "$req" "$dir/.requirements"
echo "$(cd "$dir" && pwd)/bin"

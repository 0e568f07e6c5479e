#!/bin/sh
# The container's entry point: `serve` (default) or `worker`, with the settings a container
# needs (listen on every address, metrics and health on a port for the worker), `healthcheck`
# for Docker's HEALTHCHECK, or any other modelyard command as is (`user create alice`, ...).
#
#   serve    migrates the database first (MODELYARD_MIGRATE=0 skips it), then
#            modelyard serve --host 0.0.0.0 --port $MODELYARD_PORT (8000)
#            --workers $MODELYARD_SERVER_PROCESSES (1); extra arguments are passed on
#   worker   modelyard worker --concurrency $MODELYARD_WORKER_CONCURRENCY (2)
#            --metrics-host 0.0.0.0 --metrics-port $MODELYARD_METRICS_PORT (9100)
#   healthcheck  GET /health/live of whichever of the two runs in this container
set -eu

port="${MODELYARD_PORT:-8000}"
metrics_port="${MODELYARD_METRICS_PORT:-9100}"

case "${1:-serve}" in
  serve)
    [ "$#" -gt 0 ] && shift
    if [ "${MODELYARD_MIGRATE:-1}" = "1" ]; then
      modelyard db upgrade
    fi
    exec modelyard serve --host 0.0.0.0 --port "$port" \
      --workers "${MODELYARD_SERVER_PROCESSES:-1}" "$@"
    ;;
  worker)
    shift
    exec modelyard worker --concurrency "${MODELYARD_WORKER_CONCURRENCY:-2}" \
      --metrics-host 0.0.0.0 --metrics-port "$metrics_port" "$@"
    ;;
  healthcheck)
    exec python - "$port" "$metrics_port" <<'PY'
import sys, urllib.request
for port in sys.argv[1:]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=3) as r:
            if r.status == 200:
                sys.exit(0)
    except OSError:
        pass
sys.exit(1)
PY
    ;;
  *)
    exec modelyard "$@"
    ;;
esac

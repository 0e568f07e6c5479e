#!/usr/bin/env bash
# Installs the Debian packages that the tests and the S_max tooling use, when they are missing.
set -euo pipefail
need=()
command -v db_bench >/dev/null 2>&1 || need+=(rocksdb-tools)
command -v fio >/dev/null 2>&1 || need+=(fio)
[ -x /usr/bin/chromium ] || need+=(chromium)
# promtool checks deploy/prometheus/ rules in the tests
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
# Pango for PDF reports (WeasyPrint); without it reports are saved without a PDF
ldconfig -p 2>/dev/null | grep -q libpangoft2-1.0 || need+=(libpango-1.0-0 libpangoft2-1.0-0)
# wrk drives the 64-connection load of bench/api.py (make bench sets BENCH=1)
[ -n "${BENCH:-}" ] && ! command -v wrk >/dev/null 2>&1 && need+=(wrk)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${need[*]} (run: sudo apt-get install -y ${need[*]})" >&2
  exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null

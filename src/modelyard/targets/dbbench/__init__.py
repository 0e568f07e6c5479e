"""db_bench as a measurement target: run it, parse what it writes, measure S_max, calibrate.

- `parsers`: pure text parsers for db_bench's stderr, report CSV, stats dumps, tickers and the
  RocksDB LOG (7.x and 9.x stall formats).
- `cpu`: CPU availability from /proc (cores, steal, other processes' load, per-thread CPU).
- `runner`: one db_bench run on a fresh database, with everything it wrote.
- `measure`: Luo & Carey's S_max measurement (closed run, then bisection on the rate limit).
- `calibrate`: the fio envelope and the CPU costs that make a `perfmodels.Profile`.
"""

from modelyard.targets.dbbench.runner import (
    DbBenchMissingError,
    DbBenchRun,
    find_db_bench,
    install_hint,
    run_db_bench,
)

__all__ = ["DbBenchMissingError", "DbBenchRun", "find_db_bench", "install_hint", "run_db_bench"]

"""Pure S_max models (placeholder, filled in below)."""

from modelyard.perfmodels._config import DbBenchConfig, parse_db_bench_args

__all__ = ["DbBenchConfig", "parse_db_bench_args"]

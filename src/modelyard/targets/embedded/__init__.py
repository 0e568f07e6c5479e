"""``rocksdb-embedded``: a RocksDB (rocksdict) opened by a modelyard worker process and driven
by the built-in workload generator (:mod:`.workload`, :mod:`.worker`)."""

from modelyard.targets.embedded._target import EmbeddedRocksDbTarget, interval_from_report
from modelyard.targets.embedded.workload import Phase, RocksDbOptions, WorkloadSpec

__all__ = [
    "EmbeddedRocksDbTarget",
    "Phase",
    "RocksDbOptions",
    "WorkloadSpec",
    "interval_from_report",
]

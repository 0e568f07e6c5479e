"""Pure prediction models for RocksDB's S_max, the maximum sustainable put rate (ops/s).

numpy, scipy and pydantic only: nothing here imports the application, so the package can be used
as a library on its own.

Parts:
- `DbBenchConfig` / `parse_db_bench_args`: a db_bench argument string as a typed configuration
  with RocksDB 7.8 defaults, and the derived quantities (bytes per put, thread split, ...).
- `Profile`: one machine's calibration (CPU costs per record/byte, CPU available, fio envelope).
- `lsm_shape`, `textbook_write_amp`, `simulate`, `sustainable_rate`: the LSM shape and the
  backlog simulation of a run from an empty database.
- `predict_resource`: min over resources of capacity / demand per put (the model meant to be
  right); `predict_v1` ... `predict_v5`: the earlier family, units fixed, for comparison.

The `formula` contract (what the application's `formula` flavor calls):

    FORMULA_KINDS[kind](parameters, features) -> SmaxPrediction

- `kind`: "smax_resource", "smax_v1", "smax_v2_1", "smax_v3", "smax_v4" or "smax_v5" (the model
  version's `parameters["kind"]`).
- `parameters`: JSON with `"profile"`: a `Profile` dict (or the profile's fields at top level).
  For "smax_resource", any `ResourceParameters` field given at top level overrides the profile
  (`compaction_cpu_sec_per_record`, `compaction_cpu_sec_per_byte`, `flush_cpu_sec_per_record`,
  `flush_cpu_sec_per_byte`, `foreground_cpu_sec_per_op`, `foreground_cpu_sec_per_byte`,
  `correction_factor`): this is where an online (RLS/Kalman) tuner writes its estimates. For
  "smax_v5", `"adaptive_factor": {"k": ..., "p": ..., "lam": ...}` (see `AdaptiveFactor.update`).
- `features`: `{"db_bench_args": "--value_size=400 --duration=30 ..."}`, or `{"config": {...}}`,
  or flat `DbBenchConfig` fields; optional `"cpu_available_cores"` (the cores db_bench can use;
  default: the profile's).
- result: `SmaxPrediction` with `smax_ops_per_sec`, `binding` (the resource with the smallest
  bound) and `bounds` (ops/s per resource); `.model_dump()` gives JSON.

Units: ops/s for rates, bytes and bytes/s for sizes and bandwidths, CPU-seconds for costs.
"""

from modelyard.perfmodels._config import (
    COMPRESSION_TYPES,
    DbBenchArgsError,
    DbBenchConfig,
    parse_db_bench_args,
)
from modelyard.perfmodels._kinds import (
    FORMULA_KINDS,
    FormulaKind,
    config_from_features,
    predict,
    profile_from_parameters,
)
from modelyard.perfmodels._legacy import (
    AdaptiveFactor,
    predict_v1,
    predict_v2_1,
    predict_v3,
    predict_v4,
    predict_v5,
)
from modelyard.perfmodels._lsm import (
    LsmShape,
    SimulationResult,
    final_db_bytes,
    lsm_shape,
    simulate,
    sustainable_rate,
    textbook_write_amp,
)
from modelyard.perfmodels._profile import (
    NOTES_ENVELOPE,
    AvailabilityStats,
    CostSpread,
    CpuCost,
    DeviceEnvelope,
    MissingCompressionError,
    Profile,
)
from modelyard.perfmodels._resource import ResourceParameters, SmaxPrediction, predict_resource
from modelyard.perfmodels._sampler import (
    COMPRESSIONS,
    SampledConfiguration,
    SamplerSpace,
    sample_configurations,
    space_for,
)

__all__ = [
    "COMPRESSIONS",
    "COMPRESSION_TYPES",
    "FORMULA_KINDS",
    "NOTES_ENVELOPE",
    "AdaptiveFactor",
    "AvailabilityStats",
    "CostSpread",
    "CpuCost",
    "DbBenchArgsError",
    "DbBenchConfig",
    "DeviceEnvelope",
    "FormulaKind",
    "LsmShape",
    "MissingCompressionError",
    "Profile",
    "ResourceParameters",
    "SampledConfiguration",
    "SamplerSpace",
    "SimulationResult",
    "SmaxPrediction",
    "config_from_features",
    "final_db_bytes",
    "lsm_shape",
    "parse_db_bench_args",
    "predict",
    "predict_resource",
    "predict_v1",
    "predict_v2_1",
    "predict_v3",
    "predict_v4",
    "predict_v5",
    "profile_from_parameters",
    "sample_configurations",
    "simulate",
    "space_for",
    "sustainable_rate",
    "textbook_write_amp",
]

"""The earlier public model family (v1, v2.1, v3, v4, v5), implemented honestly with units fixed.

All take the same `DbBenchConfig` and `Profile` as the resource model and count bytes per put
the same way: the WAL writes key+value+16 B, every SST byte is `sst_bytes_per_entry` per put, and
write amplification is the RocksDB tuning guide's leveled 1 + T/(T-1)*L with L the levels the
run's final data volume needs (a fixed point: the volume depends on the predicted rate when the
run is duration-bound). What they share, and why they miss on this machine, is that they
treat the device (or a fixed compaction bandwidth) as the bottleneck; here compaction CPU is.

- v1   S = B_seq_write / (WAL + WA * sst) bytes per put.
- v2.1 harmonic mean of read and write time: S = 1 / (R / B_seq_read + W / B_seq_write),
       R = (WA - 1) * sst (compaction reads), W = WAL + WA * sst.
- v3   compaction-aware: S = min(v2.1, C_comp / (R + W_comp)), C_comp = measured compaction
       bytes per CPU-second times the compaction threads (at most the cores), W_comp = (WA-1)*sst.
- v4   device envelope: S = envelope(read share) / (R + W), the envelope interpolating the fio
       sequential write, 50/50 mix and sequential read bandwidths.
- v5   real-time adaptation: S = k * v3, k a correction factor an online tuner updates from
       observed saturated throughput (`AdaptiveFactor`); k = 1 until it has observations.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel

from modelyard.perfmodels._config import DbBenchConfig
from modelyard.perfmodels._lsm import final_db_bytes, lsm_shape, textbook_write_amp
from modelyard.perfmodels._profile import Profile
from modelyard.perfmodels._resource import SmaxPrediction


def _fixed_point(estimate: Callable[[float], float], start: float = 50_000.0) -> float:
    """Iterate S <- estimate(S) (WA depends on the data volume the run reaches at S)."""
    s = start
    for _ in range(30):
        nxt = estimate(s)
        if abs(nxt - s) <= 1e-6 * max(s, 1.0):
            return nxt
        s = 0.5 * (s + nxt)
    return s


def _io_per_op(config: DbBenchConfig, rate: float) -> tuple[float, float, float]:
    """(write amp, compaction read bytes, total write bytes) per put at a rate."""
    wa = textbook_write_amp(config, final_db_bytes(config, rate))
    sst = config.sst_bytes_per_entry
    reads = (wa - 1.0) * sst
    writes = config.wal_bytes_per_op + wa * sst
    return wa, reads, writes


def _prediction(model: str, config: DbBenchConfig, bounds: dict[str, float]) -> SmaxPrediction:
    binding = min(bounds, key=lambda k: bounds[k])
    rate = bounds[binding]
    wa, reads, writes = _io_per_op(config, rate)
    levels = lsm_shape(config, final_db_bytes(config, rate)).levels
    return SmaxPrediction(
        model=model,
        smax_ops_per_sec=rate,
        binding=binding,
        bounds=bounds,
        details={
            "write_amp": wa,
            "levels": levels,
            "read_bytes_per_op": reads,
            "write_bytes_per_op": writes,
        },
    )


def predict_v1(config: DbBenchConfig, profile: Profile) -> SmaxPrediction:
    bw = profile.envelope.seq_write_bytes_per_sec
    rate = _fixed_point(lambda s: bw / _io_per_op(config, s)[2])
    return _prediction("smax_v1", config, {"device_write": rate})


def _v2_1(config: DbBenchConfig, profile: Profile, s: float) -> float:
    env = profile.envelope
    _, reads, writes = _io_per_op(config, s)
    return 1.0 / (reads / env.seq_read_bytes_per_sec + writes / env.seq_write_bytes_per_sec)


def predict_v2_1(config: DbBenchConfig, profile: Profile) -> SmaxPrediction:
    rate = _fixed_point(lambda s: _v2_1(config, profile, s))
    return _prediction("smax_v2_1", config, {"device_mixed": rate})


def _compaction_bandwidth(config: DbBenchConfig, profile: Profile, cores: float) -> float:
    per_thread = profile.compaction_bytes_per_cpu_sec or 200e6
    return per_thread * min(config.compaction_threads, cores)


def _v3_bounds(config: DbBenchConfig, profile: Profile, s: float, cores: float) -> dict[str, float]:
    wa, reads, _ = _io_per_op(config, s)
    comp_bytes = reads + (wa - 1.0) * config.sst_bytes_per_entry
    comp = _compaction_bandwidth(config, profile, cores) / comp_bytes if comp_bytes else 1e12
    return {"device_mixed": _v2_1(config, profile, s), "compaction_bandwidth": comp}


def predict_v3(
    config: DbBenchConfig, profile: Profile, *, available_cores: float | None = None
) -> SmaxPrediction:
    cores = available_cores if available_cores is not None else profile.cpu_available_cores
    rate = _fixed_point(lambda s: min(_v3_bounds(config, profile, s, cores).values()))
    return _prediction("smax_v3", config, _v3_bounds(config, profile, rate, cores))


def predict_v4(config: DbBenchConfig, profile: Profile) -> SmaxPrediction:
    env = profile.envelope

    def estimate(s: float) -> float:
        _, reads, writes = _io_per_op(config, s)
        total = reads + writes
        return env.write_capacity(reads / total) / total

    rate = _fixed_point(estimate)
    return _prediction("smax_v4", config, {"device_envelope": rate})


class AdaptiveFactor(BaseModel):
    """v5's correction factor k, updated by recursive least squares with forgetting.

    Model: observed = k * base. With forgetting factor `lam`, the scalar RLS update is
    P <- P / (lam + base^2 P / lam ...) written in its usual gain form below.
    """

    k: float = 1.0
    p: float = 1.0
    lam: float = 0.98

    def update(self, base_prediction: float, observed: float) -> AdaptiveFactor:
        """Return the factor after one (base prediction, observed saturated S_max) pair."""
        x = base_prediction / max(base_prediction, 1.0)  # normalised regressor (1.0)
        y = observed / max(base_prediction, 1.0)
        gain = self.p * x / (self.lam + x * self.p * x)
        k = self.k + gain * (y - x * self.k)
        p = (self.p - gain * x * self.p) / self.lam
        return AdaptiveFactor(k=k, p=p, lam=self.lam)


def predict_v5(
    config: DbBenchConfig,
    profile: Profile,
    *,
    factor: AdaptiveFactor | None = None,
    available_cores: float | None = None,
) -> SmaxPrediction:
    k = (factor or AdaptiveFactor()).k
    base = predict_v3(config, profile, available_cores=available_cores)
    bounds = {name: value * k for name, value in base.bounds.items()}
    prediction = _prediction("smax_v5", config, bounds)
    prediction.details["correction_factor"] = k
    return prediction

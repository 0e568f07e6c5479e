"""The drift computation: read two Parquet files a column at a time, compare, decide.

Which test decides (``method: auto``), after Evidently's documented default algorithm, so
the two agree on the same data:

- The size that matters is the reference's count of non-null values in the column; the
  number of distinct values is counted over reference and current together.
- Numeric column with more than 5 distinct values: two-sample Kolmogorov-Smirnov,
  drifted if p <= 0.05, when the reference has at most 1000 values; otherwise the
  Wasserstein-1 distance divided by the reference's standard deviation (at least 0.001),
  drifted if >= 0.1.
- Categorical column, or numeric with at most 5 distinct values (then compared as
  categories): with at most 1000 reference values, chi-squared on the 2 x k table of
  category counts (drifted if p < 0.05), or for at most 2 categories the two-proportion
  z-test (p < 0.05); with more, the Jensen-Shannon distance (natural log, 0 to 0.83)
  between the category frequencies, drifted if >= 0.1.
- Any method can be forced per kind (``numeric_method``, ``categorical_method``) and the
  threshold changed (``column_threshold``: a p-value for ks, chisquare and z, a distance
  for wasserstein, jensenshannon and psi; PSI's default is 0.1).
- The dataset drifts when the share of drifted columns is at least ``drift_share``
  (default 0.5).

Every column also gets the other statistics of its kind, for reading, whichever decided:
numeric columns KS (statistic and p-value), normalised Wasserstein and PSI over 10
reference-quantile bins; categorical ones chi-squared, Jensen-Shannon and PSI over the
categories. PSI floors empty bins at 0.0001 so it stays finite.

Streaming and memory: a column is read in record batches of ``batch_rows`` and nothing of
the other columns is held. A numeric column's non-null values of both files are kept as
float64 and sorted (KS and Wasserstein are exact and need every value), and their sorted
union is built once: about 16 bytes per row of reference plus current for the column in
hand (1M + 1M rows: 32 MB), freed before the next column. A categorical column holds only
its category counts. Values that are null, NaN or infinite are left out and counted as
``missing``.

``checkpoint`` is called before every batch and ``progress`` after every column; either
may raise (a cancelled job) to stop the loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from scipy import stats
from scipy.spatial import distance

from modelyard.storage import ParquetBlob

ColumnKind = Literal["numeric", "categorical"]
NumericMethod = Literal["auto", "ks", "wasserstein", "psi", "jensenshannon"]
CategoricalMethod = Literal["auto", "chisquare", "jensenshannon", "psi"]

SMALL_SAMPLE = 1000
"""At most this many reference values: a statistical test decides; above it, a distance."""
FEW_VALUES = 5
"""A numeric column with at most this many distinct values is compared as categories."""
P_VALUE_METHODS = frozenset({"ks", "chisquare", "z"})
DEFAULT_THRESHOLDS = {
    "ks": 0.05,
    "chisquare": 0.05,
    "z": 0.05,
    "wasserstein": 0.1,
    "jensenshannon": 0.1,
    "psi": 0.1,
}
PSI_BINS = 10
HISTOGRAM_BINS = 20
HISTOGRAM_CATEGORIES = 30
PSI_FLOOR = 1e-4
STD_FLOOR = 1e-3
MERGE_BLOCK = 1 << 20
"""Values of the sorted union compared at a time (bounds the scratch of searchsorted)."""

Checkpoint = Callable[[], None]
Progress = Callable[[int, int, str], None]
"""(columns done, columns in total, the column just done)."""


@dataclass(frozen=True)
class Column:
    name: str
    kind: ColumnKind


@dataclass(frozen=True)
class Options:
    numeric_method: NumericMethod = "auto"
    categorical_method: CategoricalMethod = "auto"
    column_threshold: float | None = None
    drift_share: float = 0.5
    batch_rows: int = 65_536


def _noop() -> None:
    return None


# --- reading ---------------------------------------------------------------------------------


Source = Path | ParquetBlob
"""A Parquet file on disk, or a dataset's blob in the store (read by ranges)."""


def _parquet(source: Source) -> pq.ParquetFile:
    if isinstance(source, ParquetBlob):
        parquet: pq.ParquetFile = source.open()
        return parquet
    return pq.ParquetFile(str(source))


def _batches(path: Source, name: str, batch_rows: int, checkpoint: Checkpoint) -> Any:
    parquet = _parquet(path)
    options = {"batch_size": batch_rows, "columns": [name], "use_threads": False}
    batches = (
        path.batches(parquet, **options)
        if isinstance(path, ParquetBlob)
        else parquet.iter_batches(**options)
    )
    for batch in batches:
        checkpoint()
        yield batch.column(0)


def read_numeric(
    path: Source, name: str, batch_rows: int, checkpoint: Checkpoint = _noop
) -> tuple[np.ndarray, int]:
    """The column's finite values as sorted float64, and how many were missing."""
    total = _parquet(path).metadata.num_rows
    values = np.empty(total, dtype=np.float64)
    filled = 0
    for array in _batches(path, name, batch_rows, checkpoint):
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        chunk = pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False)
        finite = chunk[np.isfinite(chunk)]
        values[filled : filled + len(finite)] = finite
        filled += len(finite)
    values = values[:filled]
    values.sort()
    return values, total - filled


def read_categories(
    path: Source, name: str, batch_rows: int, checkpoint: Checkpoint = _noop
) -> tuple[dict[str, int], int]:
    """Count per category (as text), and how many values were null."""
    counts: dict[str, int] = {}
    missing = 0
    for array in _batches(path, name, batch_rows, checkpoint):
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        missing += array.null_count
        tallied = pc.value_counts(array)
        for value, count in zip(
            tallied.field("values").to_pylist(), tallied.field("counts").to_pylist(), strict=True
        ):
            if value is None:
                continue
            key = _category_text(value)
            counts[key] = counts.get(key, 0) + int(count)
    return counts, missing


def _category_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- statistics ------------------------------------------------------------------------------


def ks_and_wasserstein(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """The KS statistic and the Wasserstein-1 distance of two sorted samples.

    Both come from the two empirical CDFs evaluated on the sorted union of the samples:
    KS is their largest gap, Wasserstein the area between them.
    """
    union = np.concatenate([reference, current])
    union.sort(kind="stable")  # two sorted runs: a merge, not a full sort
    n, m = len(reference), len(current)
    largest_gap = 0.0
    area = 0.0
    for start in range(0, len(union), MERGE_BLOCK):
        points = union[start : start + MERGE_BLOCK + 1]
        below_reference = np.searchsorted(reference, points, side="right") / n
        below_current = np.searchsorted(current, points, side="right") / m
        gap = np.abs(below_reference - below_current)
        largest_gap = max(largest_gap, float(gap.max()))
        area += float(np.sum(gap[:-1] * np.diff(points)))
    return largest_gap, area


def ks_p_value(statistic: float, reference: np.ndarray, current: np.ndarray) -> float:
    n, m = len(reference), len(current)
    if max(n, m) <= 10_000:
        # Small samples: scipy's exact distribution (the asymptotic one is poor there).
        return float(stats.ks_2samp(reference, current).pvalue)
    effective = round(n * m / (n + m))
    return float(stats.kstwo.sf(statistic, effective))


def psi(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    expected = np.maximum(reference_counts / max(reference_counts.sum(), 1), PSI_FLOOR)
    actual = np.maximum(current_counts / max(current_counts.sum(), 1), PSI_FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def jensen_shannon(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    if reference_counts.sum() == 0 or current_counts.sum() == 0:
        return 0.0
    value = float(distance.jensenshannon(reference_counts, current_counts))
    return 0.0 if math.isnan(value) else value


def chi_squared(reference_counts: np.ndarray, current_counts: np.ndarray) -> tuple[float, float]:
    table = np.vstack([reference_counts, current_counts])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0
    result = stats.chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue)


def two_proportion_z(
    reference_counts: np.ndarray, current_counts: np.ndarray
) -> tuple[float, float]:
    """z-test on the share of the first category (the reference's most common one)."""
    n, m = float(reference_counts.sum()), float(current_counts.sum())
    if n == 0 or m == 0:
        return 0.0, 1.0
    p_reference, p_current = reference_counts[0] / n, current_counts[0] / m
    pooled = (reference_counts[0] + current_counts[0]) / (n + m)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / m))
    if spread == 0:
        return 0.0, 1.0
    z = float((p_current - p_reference) / spread)
    return z, float(2 * stats.norm.sf(abs(z)))


# --- one column ------------------------------------------------------------------------------


def _decide(method: str, value: float, threshold: float | None) -> tuple[float, bool]:
    limit = DEFAULT_THRESHOLDS[method] if threshold is None else threshold
    if method in P_VALUE_METHODS:
        # Evidently's convention: chi-squared and z drift strictly below, KS at or below.
        return limit, value <= limit if method == "ks" else value < limit
    return limit, value >= limit


def _summary(values: np.ndarray, missing: int) -> dict[str, Any]:
    if len(values) == 0:
        return {"count": 0, "missing": missing}
    return {
        "count": len(values),
        "missing": missing,
        "mean": float(values.mean()),
        "std": float(values.std()),
        "min": float(values[0]),
        "median": float(values[len(values) // 2]),
        "max": float(values[-1]),
    }


def _distinct(sorted_values: np.ndarray) -> np.ndarray:
    if len(sorted_values) == 0:
        return sorted_values
    keep = np.empty(len(sorted_values), dtype=bool)
    keep[0] = True
    np.not_equal(sorted_values[1:], sorted_values[:-1], out=keep[1:])
    return sorted_values[keep]


def _counts_at(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts in the bins between ``edges`` (the last bin closed)."""
    positions = np.searchsorted(sorted_values, edges[1:-1], side="left")
    bounds = np.concatenate([[0], positions, [len(sorted_values)]])
    return np.diff(bounds)


def _numeric(
    reference: np.ndarray,
    current: np.ndarray,
    reference_missing: int,
    current_missing: int,
    options: Options,
) -> dict[str, Any]:
    distinct = _distinct(reference)
    if len(distinct) <= FEW_VALUES:  # else the union has more than FEW_VALUES too
        distinct = np.union1d(distinct, _distinct(current))
    if options.numeric_method == "auto" and len(distinct) <= FEW_VALUES:
        counts_reference = {_category_text(float(v)): 0 for v in distinct}
        counts_current = dict(counts_reference)
        for values, counts in ((reference, counts_reference), (current, counts_current)):
            uniques, tallies = np.unique(values, return_counts=True)
            for value, tally in zip(uniques, tallies, strict=True):
                counts[_category_text(float(value))] = int(tally)
        out = _categorical(
            counts_reference, counts_current, reference_missing, current_missing, options
        )
        out["compared_as"] = f"categories ({len(distinct)} distinct values)"
        out["reference"] = _summary(reference, reference_missing)
        out["current"] = _summary(current, current_missing)
        return out

    ks_statistic, wasserstein = ks_and_wasserstein(reference, current)
    ks_p = ks_p_value(ks_statistic, reference, current)
    std = float(reference.std()) if len(reference) else 0.0
    wasserstein_normed = wasserstein / max(std, STD_FLOOR)
    quantiles = np.unique(np.quantile(reference, np.linspace(0, 1, PSI_BINS + 1)[1:-1]))
    psi_edges = np.concatenate([[-np.inf], quantiles, [np.inf]])
    psi_value = psi(_counts_at(reference, psi_edges), _counts_at(current, psi_edges))
    low, high = float(min(reference[0], current[0])), float(max(reference[-1], current[-1]))
    edges = np.linspace(low, high, HISTOGRAM_BINS + 1) if high > low else np.array([low, low])
    histogram_reference = _counts_at(reference, edges)
    histogram_current = _counts_at(current, edges)
    js = jensen_shannon(histogram_reference.astype(float), histogram_current.astype(float))

    statistics: dict[str, float | None] = {
        "ks_statistic": ks_statistic,
        "ks_p_value": ks_p,
        "wasserstein": wasserstein,
        "wasserstein_normed": wasserstein_normed,
        "psi": psi_value,
        "jensenshannon": js,
    }
    method: str = options.numeric_method
    if method == "auto":
        method = "ks" if len(reference) <= SMALL_SAMPLE else "wasserstein"
    value = {
        "ks": ks_p,
        "wasserstein": wasserstein_normed,
        "psi": psi_value,
        "jensenshannon": js,
    }[method]
    threshold, drifted = _decide(method, value, options.column_threshold)
    return {
        "method": method,
        "statistic": ks_statistic if method == "ks" else value,
        "p_value": ks_p if method == "ks" else None,
        "threshold": threshold,
        "drifted": drifted,
        "statistics": statistics,
        "reference": _summary(reference, reference_missing),
        "current": _summary(current, current_missing),
        "histogram": {
            "edges": edges.tolist(),
            "reference": histogram_reference.tolist(),
            "current": histogram_current.tolist(),
        },
    }


def _categorical(
    reference: dict[str, int],
    current: dict[str, int],
    reference_missing: int,
    current_missing: int,
    options: Options,
) -> dict[str, Any]:
    # Most common in the reference first, so the z-test's category and the chart are stable.
    keys = sorted(
        set(reference) | set(current),
        key=lambda k: (-reference.get(k, 0), -current.get(k, 0), k),
    )
    counts_reference = np.array([reference.get(k, 0) for k in keys], dtype=np.float64)
    counts_current = np.array([current.get(k, 0) for k in keys], dtype=np.float64)
    chi_statistic, chi_p = chi_squared(counts_reference, counts_current)
    js = jensen_shannon(counts_reference, counts_current)
    psi_value = psi(counts_reference, counts_current)
    statistics: dict[str, float | None] = {
        "chisquare_statistic": chi_statistic,
        "chisquare_p_value": chi_p,
        "jensenshannon": js,
        "psi": psi_value,
    }
    reference_size = int(counts_reference.sum())
    method: str = options.categorical_method
    if method == "auto":
        if reference_size > SMALL_SAMPLE:
            method = "jensenshannon"
        else:
            method = "z" if len(keys) <= 2 else "chisquare"
    if method == "z":
        z, z_p = two_proportion_z(counts_reference, counts_current)
        statistics |= {"z_statistic": z, "z_p_value": z_p}
        statistic, p_value, value = z, z_p, z_p
    elif method == "chisquare":
        statistic, p_value, value = chi_statistic, chi_p, chi_p
    else:
        value = js if method == "jensenshannon" else psi_value
        statistic, p_value = value, None
    threshold, drifted = _decide(method, value, options.column_threshold)
    shown = keys[:HISTOGRAM_CATEGORIES]
    histogram: dict[str, Any] = {
        "categories": shown,
        "reference": [reference.get(k, 0) for k in shown],
        "current": [current.get(k, 0) for k in shown],
    }
    if len(keys) > len(shown):
        histogram["other"] = {
            "categories": len(keys) - len(shown),
            "reference": int(counts_reference[len(shown) :].sum()),
            "current": int(counts_current[len(shown) :].sum()),
        }
    return {
        "method": method,
        "statistic": statistic,
        "p_value": p_value,
        "threshold": threshold,
        "drifted": drifted,
        "statistics": statistics,
        "reference": {
            "count": reference_size,
            "missing": reference_missing,
            "categories": sum(1 for k in keys if reference.get(k)),
        },
        "current": {
            "count": int(counts_current.sum()),
            "missing": current_missing,
            "categories": sum(1 for k in keys if current.get(k)),
        },
        "histogram": histogram,
    }


# --- both files ------------------------------------------------------------------------------


def compare_column(
    reference_path: Source,
    current_path: Source,
    column: Column,
    options: Options,
    checkpoint: Checkpoint = _noop,
) -> dict[str, Any]:
    """One column's verdict: method, statistic, p-value, threshold, drifted, histograms."""
    if column.kind == "numeric":
        reference, reference_missing = read_numeric(
            reference_path, column.name, options.batch_rows, checkpoint
        )
        current, current_missing = read_numeric(
            current_path, column.name, options.batch_rows, checkpoint
        )
        if len(reference) == 0 or len(current) == 0:
            return _empty(column, reference, current, reference_missing, current_missing)
        out = _numeric(reference, current, reference_missing, current_missing, options)
    else:
        counts_reference, reference_missing = read_categories(
            reference_path, column.name, options.batch_rows, checkpoint
        )
        counts_current, current_missing = read_categories(
            current_path, column.name, options.batch_rows, checkpoint
        )
        if not counts_reference or not counts_current:
            return _empty(column, [], [], reference_missing, current_missing)
        out = _categorical(
            counts_reference, counts_current, reference_missing, current_missing, options
        )
    return {"name": column.name, "kind": column.kind} | out


def _empty(
    column: Column,
    reference: Sequence[float] | np.ndarray,
    current: Sequence[float] | np.ndarray,
    reference_missing: int,
    current_missing: int,
) -> dict[str, Any]:
    return {
        "name": column.name,
        "kind": column.kind,
        "method": None,
        "statistic": None,
        "p_value": None,
        "threshold": None,
        "drifted": False,
        "statistics": {},
        "reference": {"count": len(reference), "missing": reference_missing},
        "current": {"count": len(current), "missing": current_missing},
        "histogram": None,
        "note": "No values to compare in "
        + ("either file" if len(reference) == len(current) == 0 else "one of the files")
        + "; not counted as drifted.",
    }


def detect(
    reference_path: Source,
    current_path: Source,
    columns: Sequence[Column],
    options: Options,
    *,
    progress: Progress | None = None,
    checkpoint: Checkpoint = _noop,
) -> dict[str, Any]:
    """Every column's verdict and the dataset's: ``{"columns": [...], "summary": {...}}``."""
    results: list[dict[str, Any]] = []
    for index, column in enumerate(columns):
        results.append(compare_column(reference_path, current_path, column, options, checkpoint))
        if progress is not None:
            progress(index + 1, len(columns), column.name)
    return {"columns": results, "summary": summarise(results, options.drift_share)}


def summarise(results: Sequence[dict[str, Any]], drift_share: float) -> dict[str, Any]:
    compared = [r for r in results if r["method"] is not None]
    drifted = [r["name"] for r in compared if r["drifted"]]
    share = len(drifted) / len(compared) if compared else 0.0
    return {
        "columns": len(results),
        "compared_columns": len(compared),
        "drifted_columns": len(drifted),
        "drifted": drifted,
        "share_drifted": share,
        "drift_share": drift_share,
        "dataset_drifted": bool(compared) and share >= drift_share,
    }

"""Streaming metrics: fed one chunk at a time, constant memory, exact on small data.

Regression: ``count``, ``mae``, ``rmse``, ``mape`` (percent, over rows whose target is not
0), ``r2``, ``max_error``, ``mean_error`` (prediction minus target: the bias) and the
quantiles ``error_p50``/``p90``/``p95``/``p99`` of the absolute error. Sums and maxima are
exact; R² merges per-chunk means and squared deviations (Chan et al.) so it stays accurate
for targets with a large mean. Quantiles and ROC AUC are exact while the kept values fit in
``exact_limit`` rows (1,000,000 by default) and then switch to sketches: a histogram with
0.4% relative error for quantiles, 10,000 score bins for AUC.

Classification: ``accuracy``, ``precision``, ``recall``, ``f1`` (for the positive class of a
binary task, macro-averaged over classes otherwise), ``roc_auc`` (one-vs-rest macro for
several classes; needs class probabilities) and the confusion matrix.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

# The directions are the registry's (a protected alias's gate compares them too).
from modelyard.registry.metrics import CLOSER_TO_ZERO_IS_BETTER as CLOSER_TO_ZERO_IS_BETTER
from modelyard.registry.metrics import HIGHER_IS_BETTER as HIGHER_IS_BETTER
from modelyard.registry.metrics import LOWER_IS_BETTER as LOWER_IS_BETTER
from modelyard.registry.metrics import direction as direction
from modelyard.registry.metrics import rank_of as rank_of

if TYPE_CHECKING:
    # numpy (about 10 MB) is imported by the functions that compute, so that importing the
    # metric names and directions (as the API and pages do) does not load it.
    import numpy as np

QUANTILES = (0.5, 0.9, 0.95, 0.99)
EXACT_LIMIT = 1_000_000
AUC_BINS = 10_000

HEADLINE = {
    "regression": ("mae", "rmse", "mape", "r2"),
    "classification": ("accuracy", "f1", "roc_auc"),
}


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


class QuantileSketch:
    """Quantiles of non-negative values: exact up to ``exact_limit`` values, then a histogram.

    The histogram's buckets are the top 7 mantissa bits of each float (its IEEE 754 bits
    shifted right), so bucketing is one shift and one ``bincount`` per chunk, with no
    logarithm; a bucket spans 1/128 of its power of two and its midpoint is within 0.4% of
    any value in it.
    """

    SHIFT = 52 - 7
    BUCKETS = (0x7FF << 7) + 1  # every finite non-negative double

    def __init__(self, exact_limit: int = EXACT_LIMIT) -> None:
        self.exact_limit = exact_limit
        self.kept: list[np.ndarray] | None = []
        self.kept_count = 0
        self.counts: np.ndarray | None = None
        self.count = 0

    def add(self, values: np.ndarray) -> None:
        """Non-negative finite values; the sketch keeps a reference while it is exact."""
        import numpy as np

        self.count += len(values)
        if self.kept is not None:
            self.kept.append(values)
            self.kept_count += len(values)
            if self.kept_count <= self.exact_limit:
                return
            kept, self.kept = np.concatenate(self.kept), None
            self._bucket(kept)
            return
        self._bucket(values)

    def _bucket(self, values: np.ndarray) -> None:
        import numpy as np

        keys = np.ascontiguousarray(values, dtype=np.float64).view(np.int64) >> self.SHIFT
        counts = np.bincount(keys, minlength=self.BUCKETS)
        self.counts = counts if self.counts is None else self.counts + counts

    @property
    def exact(self) -> bool:
        return self.kept is not None

    def _value(self, key: int) -> float:
        import numpy as np

        if key == 0:
            return 0.0
        low, high = np.array([key << self.SHIFT, (key + 1) << self.SHIFT], dtype=np.int64).view(
            np.float64
        )
        return float((low + high) / 2)

    def quantiles(self, qs: Sequence[float]) -> list[float | None]:
        import numpy as np

        if self.count == 0:
            return [None for _ in qs]
        if self.kept is not None:
            return [float(v) for v in np.quantile(np.concatenate(self.kept), qs)]
        assert self.counts is not None
        cumulative = np.cumsum(self.counts)
        results: list[float | None] = []
        for q in qs:
            rank = q * (self.count - 1)
            key = int(np.searchsorted(cumulative, rank, side="right"))
            results.append(self._value(min(key, len(self.counts) - 1)))
        return results


class RegressionMetrics:
    def __init__(self, exact_limit: int = EXACT_LIMIT) -> None:
        self.count = 0
        self.sum_abs = 0.0
        self.sum_sq = 0.0
        self.sum_err = 0.0
        self.max_abs = 0.0
        self.sum_ape = 0.0
        self.count_ape = 0
        self.mean_y = 0.0
        self.m2_y = 0.0
        self.errors = QuantileSketch(exact_limit)

    def update(self, y_true: np.ndarray, y_pred: np.ndarray) -> None:
        """Rows of finite targets and predictions (the caller drops the rest)."""
        import numpy as np

        n = len(y_true)
        if n == 0:
            return
        error = y_pred - y_true
        self.sum_err += float(error.sum())
        self.sum_sq += float(np.dot(error, error))
        absolute = np.abs(error, out=error)
        self.sum_abs += float(absolute.sum())
        self.max_abs = max(self.max_abs, float(absolute.max()))
        magnitude = np.abs(y_true)
        nonzero = int(np.count_nonzero(magnitude))
        if nonzero == n:
            self.sum_ape += float(np.divide(absolute, magnitude, out=magnitude).sum())
        elif nonzero:
            mask = magnitude != 0
            self.sum_ape += float((absolute[mask] / magnitude[mask]).sum())
        self.count_ape += nonzero
        chunk_mean = float(y_true.mean())
        centred = y_true - chunk_mean
        chunk_m2 = float(np.dot(centred, centred))
        total = self.count + n
        delta = chunk_mean - self.mean_y
        self.m2_y += chunk_m2 + delta * delta * self.count * n / total
        self.mean_y += delta * n / total
        self.count = total
        self.errors.add(absolute)

    def result(self) -> dict[str, float | None]:
        if self.count == 0:
            return {"count": 0}
        n = self.count
        quantiles = self.errors.quantiles(QUANTILES)
        return {
            "count": n,
            "mae": self.sum_abs / n,
            "rmse": math.sqrt(self.sum_sq / n),
            "mape": 100.0 * self.sum_ape / self.count_ape if self.count_ape else None,
            "r2": _finite(1.0 - self.sum_sq / self.m2_y) if self.m2_y > 0 else None,
            "max_error": self.max_abs,
            "mean_error": self.sum_err / n,
            **{f"error_p{round(q * 100)}": v for q, v in zip(QUANTILES, quantiles, strict=True)},
        }

    def details(self) -> dict[str, Any]:
        return {"quantiles_exact": self.errors.exact, "mape_rows": self.count_ape}


def label_strings(values: np.ndarray) -> np.ndarray:
    """Labels as text so that 1, 1.0 and "1" from a model and a dataset compare equal."""
    import numpy as np

    if values.dtype.kind == "f" and len(values) and np.all(np.mod(values, 1) == 0):
        values = values.astype(np.int64)
    if values.dtype.kind == "b":
        values = values.astype(np.int64)
    return values.astype(str)


class _AucPair:
    """Scores of positives and negatives for one class: exact, then binned."""

    def __init__(self, exact_limit: int) -> None:
        import numpy as np

        self.exact_limit = exact_limit
        self.scores: list[np.ndarray] | None = []
        self.positive: list[np.ndarray] = []
        self.kept = 0
        self.hist_pos = np.zeros(AUC_BINS, dtype=np.int64)
        self.hist_neg = np.zeros(AUC_BINS, dtype=np.int64)

    def add(self, scores: np.ndarray, positive: np.ndarray) -> None:
        import numpy as np

        if self.scores is not None:
            self.scores.append(scores)
            self.positive.append(positive)
            self.kept += len(scores)
            if self.kept <= self.exact_limit:
                return
            all_scores, all_positive = np.concatenate(self.scores), np.concatenate(self.positive)
            self.scores, self.positive = None, []
            self._bin(all_scores, all_positive)
            return
        self._bin(scores, positive)

    def _bin(self, scores: np.ndarray, positive: np.ndarray) -> None:
        import numpy as np

        bins = np.clip((scores * AUC_BINS).astype(np.int64), 0, AUC_BINS - 1)
        self.hist_pos += np.bincount(bins[positive], minlength=AUC_BINS)
        self.hist_neg += np.bincount(bins[~positive], minlength=AUC_BINS)

    def auc(self) -> float | None:
        import numpy as np

        if self.scores is not None:
            if not self.scores:
                return None
            scores, positive = np.concatenate(self.scores), np.concatenate(self.positive)
            n_pos = int(positive.sum())
            n_neg = len(positive) - n_pos
            if n_pos == 0 or n_neg == 0:
                return None
            ranks = _average_ranks(scores)
            return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
        n_pos, n_neg = int(self.hist_pos.sum()), int(self.hist_neg.sum())
        if n_pos == 0 or n_neg == 0:
            return None
        below = np.concatenate([[0], np.cumsum(self.hist_neg)[:-1]])
        wins = float((self.hist_pos * below).sum() + 0.5 * (self.hist_pos * self.hist_neg).sum())
        return wins / (n_pos * n_neg)


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks with ties sharing their average rank (as the Mann-Whitney U needs)."""
    import numpy as np

    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(1, len(values) + 1)
    sorted_values = values[order]
    _, starts, counts = np.unique(sorted_values, return_index=True, return_counts=True)
    for start, count in zip(starts, counts, strict=True):
        if count > 1:
            ranks[order[start : start + count]] = start + (count + 1) / 2
    return ranks


class ClassificationMetrics:
    def __init__(
        self, classes: Sequence[Any] | None = None, exact_limit: int = EXACT_LIMIT
    ) -> None:
        import numpy as np

        self.classes = (
            [str(c) for c in label_strings(np.asarray(list(classes)))]
            if classes is not None
            else None
        )
        self.exact_limit = exact_limit
        self.pairs: dict[tuple[str, str], int] = {}
        self.auc: dict[str, _AucPair] = {}
        self.count = 0

    def update(
        self, y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray | None = None
    ) -> None:
        import numpy as np

        if len(y_true) == 0:
            return
        truth = label_strings(y_true)
        predicted = label_strings(y_pred)
        labels, codes = np.unique(np.concatenate([truth, predicted]), return_inverse=True)
        n = len(truth)
        pair_codes, counts = np.unique(codes[:n] * len(labels) + codes[n:], return_counts=True)
        for code, count in zip(pair_codes, counts, strict=True):
            key = (str(labels[code // len(labels)]), str(labels[code % len(labels)]))
            self.pairs[key] = self.pairs.get(key, 0) + int(count)
        self.count += n
        if scores is not None and self.classes is not None and scores.shape[1] == len(self.classes):
            for column, label in enumerate(self.classes):
                pair = self.auc.setdefault(label, _AucPair(self.exact_limit))
                pair.add(scores[:, column].astype(np.float64), truth == label)

    def labels(self) -> list[str]:
        seen = {t for t, _ in self.pairs} | {p for _, p in self.pairs}
        ordered = list(self.classes or [])
        return ordered + sorted(seen - set(ordered))

    def positive_label(self, labels: list[str]) -> str | None:
        """The positive class of a binary task: the model's second class, else 1/true/yes."""
        if len(labels) != 2:
            return None
        if self.classes is not None and len(self.classes) == 2:
            return self.classes[1]
        for candidate in ("1", "True", "true", "yes", "positive"):
            if candidate in labels:
                return candidate
        return sorted(labels)[1]

    def result(self) -> dict[str, float | None]:
        import numpy as np

        if self.count == 0:
            return {"count": 0}
        labels = self.labels()
        correct = sum(count for (t, p), count in self.pairs.items() if t == p)
        per_class = {label: self._scores_for(label) for label in labels}
        positive = self.positive_label(labels)
        if positive is not None:
            precision, recall, f1 = per_class[positive]
        else:
            present = [label for label in labels if any(t == label for t, _ in self.pairs)]
            precision = float(np.mean([per_class[c][0] for c in present]))
            recall = float(np.mean([per_class[c][1] for c in present]))
            f1 = float(np.mean([per_class[c][2] for c in present]))
        return {
            "count": self.count,
            "accuracy": correct / self.count,
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "roc_auc": self._roc_auc(labels, positive),
        }

    def _scores_for(self, label: str) -> tuple[float, float, float]:
        tp = self.pairs.get((label, label), 0)
        predicted = sum(count for (_, p), count in self.pairs.items() if p == label)
        actual = sum(count for (t, _), count in self.pairs.items() if t == label)
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1

    def _roc_auc(self, labels: list[str], positive: str | None) -> float | None:
        import numpy as np

        if not self.auc:
            return None
        if positive is not None:
            pair = self.auc.get(positive)
            return pair.auc() if pair else None
        values = [pair.auc() for pair in self.auc.values()]
        known = [v for v in values if v is not None]
        return float(np.mean(known)) if known else None

    def confusion(self) -> dict[str, Any]:
        labels = self.labels()
        return {
            "labels": labels,
            "matrix": [[self.pairs.get((t, p), 0) for p in labels] for t in labels],
            "rows": "true label",
            "columns": "predicted label",
        }

    def details(self) -> dict[str, Any]:
        labels = self.labels()
        positive = self.positive_label(labels)
        return {
            "confusion_matrix": self.confusion(),
            "average": "binary" if positive is not None else "macro",
            "positive_label": positive,
            "per_class": {
                label: dict(
                    zip(("precision", "recall", "f1"), self._scores_for(label), strict=True)
                )
                for label in labels
            },
        }

"""Uncertainty for the estimates the pages report: Wilson intervals and the (paired) percentile bootstrap."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats as _stats


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion (well-behaved near 0 and 1)."""
    if trials <= 0:
        raise ValueError("trials must be positive")
    z = _stats.norm.ppf(0.5 + confidence / 2)
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return float(centre - half), float(centre + half)


def bootstrap_interval(
    values: np.ndarray,
    statistic: Callable[[np.ndarray], float] = np.mean,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic` over rows of `values`."""
    values = np.asarray(values)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(values), size=(resamples, len(values)))
    estimates = np.array([statistic(values[row]) for row in draws])
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(estimates, [tail, 100 - tail])
    return float(low), float(high)


def paired_bootstrap(
    statistic: Callable[..., float],
    *arrays: np.ndarray,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """`statistic(*arrays)` and its percentile bootstrap interval, resampling the rows of all arrays together.

    Row i of every array belongs to the same unit (an article, an occupation), so one set of resampled row
    indices is used for all of them and the pairing is kept: `paired_bootstrap(auc, human, machine)`.
    Returns (estimate, low, high).
    """
    arrays = tuple(np.asarray(a) for a in arrays)
    if not arrays:
        raise ValueError("paired_bootstrap needs at least one array")
    n = len(arrays[0])
    if n == 0 or any(len(a) != n for a in arrays):
        raise ValueError(f"arrays must be non-empty and of one length, got {[len(a) for a in arrays]}")
    low, high = bootstrap_interval(
        np.arange(n), statistic=lambda rows: statistic(*(a[rows] for a in arrays)),
        confidence=confidence, resamples=resamples, seed=seed,
    )
    return float(statistic(*arrays)), low, high

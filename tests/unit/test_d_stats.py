"""paired_bootstrap: the estimate, the pairing of rows, and agreement with bootstrap_interval."""

import numpy as np
import pytest

from llmcourse.stats import bootstrap_interval, paired_bootstrap


def test_estimate_is_the_statistic_on_all_rows():
    x, y = np.arange(10.0), np.arange(10.0) ** 2
    estimate, low, high = paired_bootstrap(lambda a, b: float(np.corrcoef(a, b)[0, 1]), x, y)
    assert estimate == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert low <= estimate <= high


def test_rows_stay_paired():
    # y is x plus a constant: every resample keeps the pairs, so the difference never varies.
    x = np.random.default_rng(1).normal(size=50)
    estimate, low, high = paired_bootstrap(lambda a, b: float((b - a).mean()), x, x + 3.0)
    assert estimate == pytest.approx(3.0)
    assert low == pytest.approx(3.0) and high == pytest.approx(3.0)


def test_unpaired_resampling_would_differ():
    # The same statistic on independently resampled rows varies; the paired interval does not (test above).
    x = np.random.default_rng(2).normal(size=50)
    low, high = bootstrap_interval(x, statistic=lambda a: float((a + 3.0).mean() - x.mean()))
    assert high - low > 0.1


def test_single_array_matches_bootstrap_interval():
    values = np.random.default_rng(3).exponential(size=40)
    estimate, low, high = paired_bootstrap(np.mean, values, seed=5)
    assert estimate == pytest.approx(values.mean())
    assert (low, high) == bootstrap_interval(values, seed=5)


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError):
        paired_bootstrap(lambda a, b: 0.0, np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError):
        paired_bootstrap(np.mean)

"""Bootstrap helpers of the respondent resampling."""

from __future__ import annotations

import numpy as np
import pytest

from valuesim.stats import (
    bootstrap_mean_ci,
    percentile_interval,
    ratio_replicates,
    resample_weights,
)
from valuesim.survey.codebook import load_codebook

CB = load_codebook()
QUESTIONS = ("Q46", "Q47", "Q48", "Q49", "Q50", "Q57", "Q164", "Q1")


def test_resample_weights_are_multiplicities_and_deterministic() -> None:
    w = resample_weights(50, 200, seed=3)
    assert w.shape == (200, 50)
    assert np.all(w.sum(axis=1) == 50)
    assert np.array_equal(w, resample_weights(50, 200, seed=3))
    assert not np.array_equal(w, resample_weights(50, 200, seed=4))
    # every unit is drawn with probability 1/n: mean multiplicity 1
    assert abs(w.mean() - 1.0) < 1e-9


def test_ratio_replicates_and_interval() -> None:
    sums = np.array([[1.0, 0.0], [0.0, 2.0]])
    counts = np.array([[1.0, 0.0], [1.0, 2.0]])
    weights = np.array([[2.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    reps = ratio_replicates(sums, counts, weights)
    assert reps[0, 0] == 1.0 and np.isnan(reps[0, 1])  # group 2 empty in replicate 0
    assert reps[1].tolist() == [0.0, 1.0]
    assert reps[2].tolist() == [0.5, 1.0]
    lo, hi = percentile_interval(np.arange(101.0), 0.9)
    assert lo == pytest.approx(5.0) and hi == pytest.approx(95.0)


def test_bootstrap_mean_ci_contains_mean_and_is_seeded() -> None:
    v = np.random.default_rng(0).normal(3.0, 1.0, size=400)
    lo, hi = bootstrap_mean_ci(v, n_boot=500, seed=1)
    assert lo < v.mean() < hi
    assert hi - lo == pytest.approx(2 * 1.96 / np.sqrt(400), rel=0.25)
    assert (lo, hi) == bootstrap_mean_ci(v, n_boot=500, seed=1)

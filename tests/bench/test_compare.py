"""The paired comparison of two runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from valuesim.bench.compare import paired_comparison
from valuesim.errors import ConfigError
from valuesim.survey.codebook import load_codebook

CB = load_codebook()
QUESTIONS = ("Q46", "Q47", "Q48", "Q49", "Q50", "Q57", "Q164", "Q1")


def run(hit_rate: float, seed: int, n_resp: int = 60, truth_seed: int = 0) -> pd.DataFrame:
    """A fake run: each prediction is right with probability *hit_rate*, else off by one code."""
    truth_rng = np.random.default_rng(truth_seed)
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(n_resp):
        for f in range(4):
            for q in QUESTIONS:
                codes = [c for c in CB.get(q).codes if c >= 0]
                t = int(truth_rng.choice(codes))
                other = codes[(codes.index(t) + 1) % len(codes)]
                p = t if rng.random() < hit_rate else other
                rows.append(
                    {"respondent": f"p{r}", "question": q, "fold": f, "condition": "", "prediction": p, "truth": t}
                )
    return pd.DataFrame(rows)


def test_paired_comparison_detects_a_real_difference() -> None:
    a, b = run(0.75, seed=1), run(0.45, seed=2)
    res = paired_comparison(a, b, "top1", codebook=CB, n_boot=500, n_perm=2000, seed=0)
    assert res.diff == pytest.approx(res.mean_a - res.mean_b)
    assert res.diff == pytest.approx(0.30, abs=0.05)
    assert res.ci95[0] < res.diff < res.ci95[1] and res.ci95[0] > 0.2
    assert res.p_permutation < 0.001 and res.p_sign < 0.001
    assert res.respondents_a_better > 50
    back = paired_comparison(b, a, "top1", codebook=CB, n_boot=500, n_perm=2000, seed=0)
    assert back.diff == pytest.approx(-res.diff)


def test_paired_comparison_null_difference() -> None:
    a, b = run(0.6, seed=11), run(0.6, seed=12)
    res = paired_comparison(a, b, "top1", codebook=CB, n_boot=500, n_perm=2000, seed=0)
    assert abs(res.diff) < 0.05
    assert res.ci95[0] < 0 < res.ci95[1]
    assert res.p_permutation > 0.05 and res.p_sign > 0.05
    same = paired_comparison(a, a, "top1", codebook=CB, n_boot=100, n_perm=100)
    assert same.diff == 0.0 and same.p_permutation == 1.0 and same.p_sign == 1.0


def test_paired_nmae_lower_is_better() -> None:
    a, b = run(0.9, seed=1), run(0.3, seed=2)
    res = paired_comparison(a, b, "nmae", codebook=CB, n_boot=200, n_perm=500)
    assert res.lower_is_better and res.diff < 0
    assert res.respondents_a_better > res.respondents_b_better
    d = res.to_dict()
    assert d["ci95"][1] < 0 and d["metric"] == "nmae"


def test_paired_comparison_refuses_different_units() -> None:
    a = run(0.6, seed=1)
    with pytest.raises(ConfigError, match="same predictions"):
        paired_comparison(a, a.iloc[:-3], "top1", codebook=CB)
    other = run(0.6, seed=1, truth_seed=5)
    with pytest.raises(ConfigError, match="true answer"):
        paired_comparison(a, other, "top1", codebook=CB)
    dup = pd.concat([a, a.iloc[:1]])
    with pytest.raises(ConfigError, match="duplicate"):
        paired_comparison(dup, a, "top1", codebook=CB)
    with pytest.raises(ConfigError, match="Unknown metric"):
        paired_comparison(a, a, "accuracy", codebook=CB)

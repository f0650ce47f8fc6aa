"""Metric values on hand-made prediction tables (exact numbers worked out by hand)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from valuesim.bench.metrics import per_prediction, summarize
from valuesim.errors import DataError, UnknownQuestionError
from valuesim.survey.codebook import load_codebook

CB = load_codebook()


def rows(*items: tuple) -> pd.DataFrame:
    """(respondent, fold, question, prediction, truth[, probabilities]) tuples -> a predictions frame."""
    out = []
    for it in items:
        r, f, q, p, t = it[:5]
        out.append(
            {
                "respondent": r,
                "question": q,
                "fold": f,
                "condition": "",
                "prediction": p,
                "truth": t,
                "probabilities": it[5] if len(it) > 5 else None,
                "country": "DEU" if r == "r1" else "PER",
            }
        )
    return pd.DataFrame(out)


# Q46: ordinal, codes 1-4. Q164: scale, codes 1-10. Q57: nominal, codes 1-2.
CASE = rows(
    ("r1", 0, "Q46", 1, 1),  # exact
    ("r1", 0, "Q164", 4, 10),  # 6 of 9 steps away
    ("r1", 1, "Q57", 2, 1),  # nominal miss
    ("r1", 1, "Q46", 4, 1),  # 3 of 3 steps away
    ("r2", 0, "Q46", 3, 2),  # one step away
    ("r2", 1, "Q164", None, 5),  # abstained
    ("r2", 1, "Q57", 1, 1),  # nominal hit
)


def test_per_prediction_scores() -> None:
    s = per_prediction(CASE, CB)
    assert s["top1"].tolist() == [1, 0, 0, 0, 0, 0, 1]
    nmae = s["nmae"].tolist()
    assert nmae[0] == 0 and nmae[1] == pytest.approx(6 / 9) and nmae[3] == 1 and nmae[4] == pytest.approx(1 / 3)
    assert math.isnan(nmae[2]) and math.isnan(nmae[5]) and math.isnan(nmae[6])  # nominal, abstained
    assert s["within1"].tolist() == [1, 0, 0, 0, 1, 0, 1]  # nominal: within-1 == exact
    assert s["abstained"].tolist() == [False] * 5 + [True, False]


def test_summary_fold_aggregates_are_exact() -> None:
    m = summarize(CASE, CB, n_boot=200, seed=1)
    assert m["n_respondents"] == 2 and m["n_predictions"] == 7 and m["n_abstained"] == 1 and m["n_folds"] == 2
    # top-1: fold 0 = 1/3, fold 1 = 1/4
    assert m["top1"]["folds"] == pytest.approx([1 / 3, 1 / 4])
    assert m["top1"]["mean"] == pytest.approx(7 / 24)
    assert m["top1"]["std"] == pytest.approx(1 / 24)
    # nMAE: fold 0 = (0 + 6/9 + 1/3)/3 = 1/3, fold 1 = 1 (only the ordered, answered Q46)
    assert m["nmae"]["folds"] == pytest.approx([1 / 3, 1.0])
    assert m["nmae"]["mean"] == pytest.approx(2 / 3) and m["nmae"]["std"] == pytest.approx(1 / 3)
    assert m["nmae"]["n"] == 4
    # within-1: fold 0 = 2/3, fold 1 = 1/4
    assert m["within1"]["mean"] == pytest.approx(11 / 24)


def test_breakdowns() -> None:
    m = summarize(CASE, CB, n_boot=200, seed=1)
    assert set(m["by_kind"]) == {"ordinal", "scale", "nominal"}
    ordinal = m["by_kind"]["ordinal"]
    assert ordinal["n"] == 3
    assert ordinal["top1"]["mean"] == pytest.approx(1 / 3)
    assert ordinal["nmae"]["mean"] == pytest.approx((0 + 1 / 3 + 1) / 3)
    assert m["by_question"]["Q57"]["top1"]["mean"] == pytest.approx(0.5)
    assert m["by_question"]["Q57"]["kind"] == "nominal"
    assert m["by_question"]["Q164"]["nmae"]["n"] == 1  # the abstention is not scored
    assert m["by_country"]["DEU"]["top1"]["mean"] == pytest.approx(1 / 4)
    assert m["by_country"]["PER"]["top1"]["mean"] == pytest.approx(1 / 3)
    sec = m["by_section"]["wellbeing"]  # Q46
    assert sec["title"] and sec["n"] == 3
    assert list(m["by_condition"]) == [""]
    assert m["by_condition"][""]["top1"]["mean"] == pytest.approx(7 / 24)


def test_distribution_distances() -> None:
    d = summarize(CASE, CB, n_boot=50)["distribution"]["by_question"]
    # Q46 ranks: predicted {0, 3, 2}, true {0, 0, 1} on the grid 0, 1/3, 2/3, 1 -> W1 = 4/9
    assert d["Q46"]["measure"] == "wasserstein" and d["Q46"]["distance"] == pytest.approx(4 / 9)
    # Q57: predicted half/half, true all code 1 -> total variation 1/2
    assert d["Q57"]["measure"] == "total_variation" and d["Q57"]["distance"] == pytest.approx(0.5)
    # Q164: predicted all at 3/9 (the abstention is left out), true half at 9/9, half at 4/9
    assert d["Q164"]["distance"] == pytest.approx(0.5 * 6 / 9 + 0.5 * 1 / 9)
    assert d["Q164"]["n_predicted"] == 1
    m = summarize(CASE, CB, n_boot=50)["distribution"]
    assert m["wasserstein_mean"] == pytest.approx((4 / 9 + 7 / 18) / 2)
    assert m["total_variation_mean"] == pytest.approx(0.5)


def test_probabilistic_metrics() -> None:
    frame = rows(
        ("a", 0, "Q57", 1, 1, {"1": 0.8, "2": 0.2}),  # JSON-style string keys
        ("b", 0, "Q57", 1, 2, {1: 0.6, 2: 0.4}),
    )
    p = summarize(frame, CB, n_boot=50)["probabilistic"]
    assert p["n"] == 2 and p["coverage"] == 1.0
    assert p["log_loss"] == pytest.approx((-math.log(0.8) - math.log(0.4)) / 2)
    assert p["brier"] == pytest.approx((0.04 + 0.04 + 0.36 + 0.36) / 2)
    # bin (0.7, 0.8]: 1 right at confidence 0.8; bin (0.5, 0.6]: 1 wrong at 0.6
    assert p["ece"] == pytest.approx(0.5 * 0.2 + 0.5 * 0.6)
    rel = {b["lo"]: b for b in p["reliability"] if b["n"]}
    assert rel[0.7]["accuracy"] == 1.0 and rel[0.5]["accuracy"] == 0.0


def test_probabilities_are_renormalised_and_clipped() -> None:
    frame = rows(("a", 0, "Q57", 1, 2, {"1": 2.0, "2": 0.0}))
    p = summarize(frame, CB, n_boot=10)["probabilistic"]
    assert p["log_loss"] == pytest.approx(-math.log(1e-6))
    assert summarize(CASE, CB, n_boot=10)["probabilistic"] is None  # no probabilities at all


def test_invalid_prediction_is_wrong_and_unscored() -> None:
    s = per_prediction(rows(("a", 0, "Q46", 7, 2)), CB)
    assert bool(s["invalid"].iloc[0]) and s["top1"].iloc[0] == 0 and math.isnan(s["nmae"].iloc[0])
    assert s["within1"].iloc[0] == 0


def test_non_negative_codes_define_the_scale() -> None:
    # Q217 lists -3 (not applicable) among its options; the answer scale is 1-3.
    s = per_prediction(rows(("a", 0, "Q217", 3, 1)), CB)
    assert s["n_options"].iloc[0] == 3 and s["nmae"].iloc[0] == pytest.approx(1.0)


def test_bootstrap_ci_is_deterministic_and_covers_the_mean() -> None:
    rng = np.random.default_rng(0)
    items = []
    for r in range(40):
        for f in range(5):
            for q in ("Q46", "Q57", "Q164"):
                t = 1
                items.append((f"p{r}", f, q, 1 if rng.random() < 0.6 else 2, t))
    frame = rows(*items)
    a = summarize(frame, CB, n_boot=300, seed=5)
    b = summarize(frame, CB, n_boot=300, seed=5)
    c = summarize(frame, CB, n_boot=300, seed=6)
    assert a["top1"]["ci95"] == b["top1"]["ci95"]
    assert a["top1"]["ci95"] != c["top1"]["ci95"]
    lo, hi = a["top1"]["ci95"]
    assert lo < a["top1"]["mean"] < hi and hi - lo < 0.3
    json.dumps(a, allow_nan=False)  # valid JSON: no NaN anywhere


def test_constant_scores_give_a_degenerate_ci() -> None:
    frame = rows(*[(f"p{r}", r % 2, "Q46", 2, 2) for r in range(10)])
    m = summarize(frame, CB, n_boot=100)
    assert m["top1"]["ci95"] == [1.0, 1.0] and m["top1"]["std"] == 0.0
    one_fold = summarize(rows(*[(f"p{r}", 0, "Q46", 2, 2) for r in range(10)]), CB, n_boot=100)
    assert one_fold["n_folds"] == 1 and one_fold["top1"]["std"] is None  # no spread over one fold


def test_history_sweep_conditions() -> None:
    items = []
    for r in range(6):
        items.append(
            {"respondent": f"p{r}", "question": "Q46", "fold": 0, "condition": "h=0", "prediction": 1, "truth": 2}
        )
        items.append(
            {"respondent": f"p{r}", "question": "Q46", "fold": 0, "condition": "h=58", "prediction": 2, "truth": 2}
        )
    m = summarize(pd.DataFrame(items), CB, n_boot=50)
    assert m["by_condition"]["h=0"]["top1"]["mean"] == 0.0
    assert m["by_condition"]["h=58"]["top1"]["mean"] == 1.0
    assert m["by_condition"]["h=58"]["wasserstein_mean"] == 0.0
    assert m["by_condition"]["h=0"]["wasserstein_mean"] == pytest.approx(1 / 3)


def test_bad_input_raises_user_errors() -> None:
    with pytest.raises(DataError, match="lacks column"):
        summarize(pd.DataFrame({"respondent": ["a"]}), CB)
    with pytest.raises(DataError, match="no predictions"):
        summarize(pd.DataFrame(columns=list(CASE.columns)), CB)
    with pytest.raises(UnknownQuestionError):
        summarize(rows(("a", 0, "Q999", 1, 1)), CB)
    with pytest.raises(DataError, match="not valid answers"):
        summarize(rows(("a", 0, "Q46", 1, 9)), CB)


def test_summary_of_a_full_size_run() -> None:
    """250 targets x 1,000 people, 1,000 bootstrap draws (its speed is a benchmark's business)."""
    rng = np.random.default_rng(1)
    qids = [q for q in CB.substantive()][:250]
    n_r = 1000
    resp = np.repeat([f"p{i}" for i in range(n_r)], len(qids))
    quest = np.tile(qids, n_r)
    fold = np.tile(np.arange(len(qids)) % 5, n_r)
    truth = np.array([min(c for c in CB.get(q).codes if c >= 0) for q in qids])
    truth = np.tile(truth, n_r)
    pred = np.where(rng.random(len(truth)) < 0.5, truth, truth + 1)
    frame = pd.DataFrame(
        {"respondent": resp, "question": quest, "fold": fold, "condition": "", "prediction": pred, "truth": truth}
    )
    m = summarize(frame, CB, n_boot=1000)
    assert m["n_predictions"] == 250_000
    assert abs(m["top1"]["mean"] - 0.5) < 0.01


def _country_frame(people: dict[str, int], seed: int = 3) -> pd.DataFrame:
    """Five questions per person in fold 0; about 60 % right; country per respondent."""
    rng = np.random.default_rng(seed)
    out = []
    for country, n in people.items():
        for i in range(n):
            for q in ("Q1", "Q2", "Q3", "Q4", "Q46"):
                out.append(
                    {
                        "respondent": f"{country}-{i}",
                        "question": q,
                        "fold": 0,
                        "condition": "",
                        "prediction": 1 if rng.random() < 0.6 else 2,
                        "truth": 1,
                        "country": country,
                    }
                )
    return pd.DataFrame(out)


def test_one_respondent_country_gets_sizes_and_no_interval() -> None:
    m = summarize(_country_frame({"DEU": 30, "BOL": 1, "URY": 4, "PER": 5}), CB, n_boot=300, seed=2)
    bol = m["by_country"]["BOL"]
    assert bol["n_respondents"] == 1 and bol["n_predictions"] == 5 and bol["n"] == 5
    assert bol["ci_note"] == "n < 5 people"
    assert all(bol[k]["ci95"] is None for k in ("top1", "nmae", "within1"))
    assert bol["top1"]["mean"] is not None  # the point value is still reported
    assert m["by_country"]["URY"]["top1"]["ci95"] is None  # 4 people: still below the threshold
    per = m["by_country"]["PER"]
    assert "ci_note" not in per and per["n_respondents"] == 5
    lo, hi = m["by_country"]["DEU"]["top1"]["ci95"]
    assert lo < m["by_country"]["DEU"]["top1"]["mean"] < hi
    assert "n_respondents" in m["conventions"]["breakdowns"]
    json.dumps(m, allow_nan=False)


def test_group_interval_resamples_only_the_groups_people() -> None:
    """A country's interval is the same whichever other countries the run holds."""
    alone = summarize(_country_frame({"DEU": 30}), CB, n_boot=300, seed=2)["by_country"]["DEU"]
    mixed = summarize(_country_frame({"DEU": 30, "PER": 200, "BOL": 1}), CB, n_boot=300, seed=2)["by_country"]["DEU"]
    assert mixed["top1"]["mean"] == pytest.approx(alone["top1"]["mean"])
    assert mixed["top1"]["ci95"] == pytest.approx(alone["top1"]["ci95"])
    # with a global bootstrap the 30 Germans would be drawn ~30/231 of the time each: wider, unstable
    assert alone["top1"]["ci95"][1] - alone["top1"]["ci95"][0] < 0.3


# --------------------------------------------------------------------------- individuation


def _population(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame]]:
    """SIMULATED people in 4 demographic cells answering Q46 (codes 1-4) and Q164 (1-10), each
    truth drawn from the cell's distribution; the group reference is that distribution; three
    methods: an oracle-like one that knows the person, one that knows the cell only, one that
    knows the country only (a coarser group)."""
    rng = np.random.default_rng(seed)
    cells = [("DEU", 1, 0), ("DEU", 2, 1), ("PER", 1, 0), ("PER", 2, 2)]
    dists: dict[tuple[str, tuple[str, int, int]], np.ndarray] = {}
    for q, k in (("Q46", 4), ("Q164", 10)):
        for c in cells:
            dists[q, c] = rng.dirichlet(np.ones(k) * 1.5)
    base, group = [], []
    for i in range(160):
        cell = cells[i % 4]
        for q, k in (("Q46", 4), ("Q164", 10)):
            g = dists[q, cell]
            truth = int(rng.choice(k, p=g)) + 1
            base.append((f"p{i}", q, truth, cell, g))
            group.append(
                {
                    "respondent": f"p{i}",
                    "question": q,
                    "group_prediction": int(np.argmax(g)) + 1,
                    "group_probabilities": {j + 1: float(v) for j, v in enumerate(g)},
                    "cell": cell,
                }
            )

    def frame(probs_of: Any) -> pd.DataFrame:
        out = []
        for r, q, truth, cell, g in base:
            p = probs_of(q, truth, cell, g)
            out.append(
                {
                    "respondent": r,
                    "question": q,
                    "fold": 0,
                    "condition": "",
                    "prediction": int(np.argmax(p)) + 1,
                    "truth": truth,
                    "probabilities": {j + 1: float(v) for j, v in enumerate(p)},
                    "country": cell[0],
                }
            )
        return pd.DataFrame(out)

    def country(q: str, cell: tuple[str, int, int]) -> np.ndarray:
        return np.mean([dists[q, c] for c in cells if c[0] == cell[0]], axis=0)

    methods = {
        "oracle": frame(lambda q, t, c, g: 0.6 * np.eye(len(g))[t - 1] + 0.4 * g),
        "group": frame(lambda q, t, c, g: g),
        "country": frame(lambda q, t, c, g: country(q, c)),
    }
    return pd.DataFrame(group), pd.DataFrame(base), methods


def test_individuation_separates_a_method_that_knows_the_person_from_one_that_knows_the_group() -> None:
    group, _, methods = _population()
    ind = {name: summarize(f, CB, n_boot=200, group=group)["individuation"] for name, f in methods.items()}
    oracle, by_group, by_country = ind["oracle"], ind["group"], ind["country"]
    assert oracle["top1_lift"]["mean"] > 0.3 and oracle["top1_lift"]["ci95"][0] > 0.2
    assert oracle["log_loss_lift"]["mean"] > 0.3
    assert oracle["within_cell_r"]["r"] > 0.5 and oracle["within_cell_r_sample"]["r"] > 0.5
    # the group's own answer: no lift at all, no variation within cells
    assert by_group["top1_lift"]["mean"] == 0.0 and by_group["log_loss_lift"]["mean"] == pytest.approx(0.0, abs=1e-12)
    assert by_group["within_cell_r"]["r"] == 0.0 and by_group["within_cell_r"]["constant_within_cells"]
    assert by_group["within_cell_r_sample"]["r"] == 0.0
    # a coarser group (country only): nothing beyond the group either
    assert by_country["top1_lift"]["mean"] <= 0.02 and by_country["log_loss_lift"]["mean"] <= 0.02
    assert abs(by_country["within_cell_r"]["r"]) < 0.15
    assert by_country["within_cell_r_sample"]["r"] == 0.0  # constant within each cell of the sample
    entry = oracle["by_question"]["Q46"]
    assert entry["n"] == 160 and entry["n_cells"] == 4 and entry["within_cell_r"] > 0.5
    assert oracle["reference"] == "demographic-majority" and oracle["n_people_with_cell"] == 160
    json.dumps(summarize(methods["oracle"], CB, n_boot=20, group=group), allow_nan=False)


def test_individuation_edge_cases() -> None:
    group, _, methods = _population(1)
    oracle = methods["oracle"].copy()
    # abstentions count wrong for top-1 (as in top1) and are left out of log-loss and correlations
    oracle.loc[:9, "prediction"] = None
    oracle.loc[:9, "probabilities"] = None
    ind = summarize(oracle, CB, n_boot=50, group=group)["individuation"]
    assert ind["log_loss_lift"]["n"] == len(oracle) - 10 and ind["top1_lift"]["n"] == len(oracle)
    # answers without probabilities: top-1 lift and correlations (the predicted rank), no log-loss
    bare = methods["oracle"].assign(probabilities=None)
    ind = summarize(bare, CB, n_boot=20, group=group)["individuation"]
    assert ind["log_loss_lift"]["n"] == 0 and ind["log_loss_lift"]["mean"] is None
    assert ind["top1_lift"]["mean"] > 0.3 and ind["within_cell_r"]["r"] > 0.5
    # no demographic cells (no sex or age in the data): no sample-cell correlation, the rest stands
    no_cells = group.assign(cell=None)
    ind = summarize(methods["oracle"], CB, n_boot=50, group=no_cells)["individuation"]
    assert ind["within_cell_r_sample"]["r"] is None and ind["n_people_with_cell"] == 0
    assert ind["within_cell_r"]["r"] > 0.5
    # cells smaller than min_cell people do not enter the sample-cell correlation
    tiny = group.assign(cell=[("DEU", 1, i // 2) for i in range(len(group))])  # one person per cell
    assert summarize(methods["oracle"], CB, n_boot=20, group=tiny)["individuation"]["within_cell_r_sample"]["n"] == 0
    assert "individuation" not in summarize(methods["oracle"], CB, n_boot=20)  # no reference: no block
    # too few predictions for a correlation (two points always correlate perfectly): null, not +-1
    few = summarize(methods["country"].iloc[:6], CB, n_boot=20, group=group)["individuation"]
    assert few["within_cell_r"]["r"] is None
    assert all(e.get("within_cell_r") is None for e in few["by_question"].values())

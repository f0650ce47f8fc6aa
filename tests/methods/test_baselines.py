"""The non-LLM baselines on small hand-made survey data."""

from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pytest

from valuesim.methods.base import Method, Task, get_method, list_methods
from valuesim.survey.codebook import load_codebook
from valuesim.survey.dataset import SurveyData
from valuesim.survey.respondent import Respondent

CB = load_codebook()
BASELINES = ("majority", "country-majority", "demographic-majority", "knn", "supervised")
HISTORY = [f"Q{i}" for i in range(1, 7)] + ["Q27", "Q28", "Q29", "Q30", "Q31", "Q32"]  # all 4-option ordinal


def survey(columns: Mapping[str, Sequence[int]], countries: Sequence[str]) -> SurveyData:
    frame = pd.DataFrame({q: np.asarray(v, dtype=np.int16) for q, v in columns.items()})
    frame.index = pd.Index([f"t{i}" for i in range(len(frame))])
    frame.insert(0, "country", list(countries))
    return SurveyData(frame=frame, codebook=CB, source="hand-made", synthetic=True)


def person(rid: str, country: str, answers: Mapping[str, int]) -> Respondent:
    return Respondent(id=rid, country=country, answers=dict(answers), synthetic=True)


def fitted(name: str, data: SurveyData, **options: object) -> Method:
    m = get_method(name, CB, **options)
    m.fit(data)
    return m


def predict_one(m: Method, who: Respondent, target: str = "Q46", condition: str = "") -> tuple[int | None, dict]:
    (p,) = m.predict(Task(respondent=who, targets=(target,), condition=condition))
    return p.prediction, p.probabilities or {}


def test_all_baselines_are_registered() -> None:
    methods = list_methods()
    for name in BASELINES:
        assert name in methods
        assert get_method(name, CB).uses_llm is False


# --------------------------------------------------------------------------- majority family

MAJ = survey(
    {
        "Q46": [1, 1, 2, 3, 3, 3, 4, 2],
        "Q260": [1, 1, 2, 1, 2, 2, 1, 1],
        "Q262": [25, 25, 60, 40, 70, 70, 20, 35],
    },
    ["DEU", "DEU", "DEU", "PER", "PER", "PER", "PER", "JPN"],
)


def test_global_majority_and_empirical_distribution() -> None:
    m = fitted("majority", MAJ, alpha=0)
    pred, probs = predict_one(m, person("x", "DEU", {}))
    assert pred == 3  # counts 1:2, 2:2, 3:3, 4:1
    assert probs == pytest.approx({1: 2 / 8, 2: 2 / 8, 3: 3 / 8, 4: 1 / 8})


def test_majority_ties_go_to_the_lowest_code_and_smoothing_keeps_all_options() -> None:
    data = survey({"Q46": [2, 2, 4, 4]}, ["DEU"] * 4)
    pred, probs = predict_one(fitted("majority", data, alpha=1), person("x", "DEU", {}))
    assert pred == 2
    assert probs == pytest.approx({1: 1 / 8, 2: 3 / 8, 3: 1 / 8, 4: 3 / 8})


def test_country_majority_picks_the_country_mode_and_backs_off() -> None:
    m = fitted("country-majority", MAJ, alpha=0, min_cell=3)
    (p_deu,) = m.predict(Task(person("a", "DEU", {}), ("Q46",)))
    assert p_deu.prediction == 1 and p_deu.meta["level"] == "country"
    assert predict_one(m, person("b", "PER", {}))[0] == 3
    # JPN has one answer (< min_cell), USA none: both use the global mode
    (p_jpn,) = m.predict(Task(person("c", "JPN", {}), ("Q46",)))
    assert p_jpn.prediction == 3 and p_jpn.meta["level"] == "global"
    assert predict_one(m, person("d", "USA", {}))[0] == 3


def test_demographic_majority_uses_cells_with_back_off() -> None:
    m = fitted("demographic-majority", MAJ, alpha=0, min_cell=2)
    # DEU, male, 18-29: two people, both answered 1
    (p,) = m.predict(Task(person("a", "DEU", {"Q260": 1, "Q262": 22}), ("Q46",)))
    assert p.prediction == 1 and p.meta["level"] == "cell"
    # PER, female, 50+: two people answered 3
    (p,) = m.predict(Task(person("b", "PER", {"Q260": 2, "Q262": 66}), ("Q46",)))
    assert p.prediction == 3 and p.meta["level"] == "cell"
    # PER, male, 18-29: one person (answered 4) < min_cell -> country (mode 3)
    (p,) = m.predict(Task(person("c", "PER", {"Q260": 1, "Q262": 19}), ("Q46",)))
    assert p.prediction == 3 and p.meta["level"] == "country"
    # unknown age -> country; the same cell with min_cell=1 -> the single person's 4
    (p,) = m.predict(Task(person("d", "PER", {"Q260": 1}), ("Q46",)))
    assert p.meta["level"] == "country"
    m1 = fitted("demographic-majority", MAJ, alpha=0, min_cell=1)
    assert predict_one(m1, person("c", "PER", {"Q260": 1, "Q262": 19}))[0] == 4


def test_age_bands_option() -> None:
    m = fitted("demographic-majority", MAJ, alpha=0, min_cell=1, age_bands=[60])
    # band "under 60" for PER women holds nobody; band "60+" holds two people answering 3
    (p,) = m.predict(Task(person("a", "DEU", {"Q260": 1, "Q262": 59}), ("Q46",)))
    assert p.prediction == 1 and p.meta["level"] == "cell"
    # as the command line gives it (-o age_bands=60 / -o age_bands=25,40,60)
    assert get_method("demographic-majority", CB, age_bands="60").opts.age_bands == (60,)
    assert get_method("demographic-majority", CB, age_bands="25, 40,60").opts.age_bands == (25, 40, 60)


def test_question_nobody_answered_is_abstained() -> None:
    data = survey({"Q46": [1, 2], "Q47": [-1, -2]}, ["DEU", "DEU"])
    (p,) = fitted("country-majority", data).predict(Task(person("a", "DEU", {}), ("Q47",)))
    assert p.prediction is None and p.probabilities is None and "abstained" in p.meta


# --------------------------------------------------------------------------- knn


def knn_data() -> tuple[SurveyData, dict[str, int]]:
    rng = np.random.default_rng(0)
    n = 40
    cols = {q: rng.integers(1, 5, n) for q in HISTORY}
    cols["Q46"] = np.ones(n, dtype=int)
    me = {q: int(v) for q, v in zip(HISTORY, rng.integers(1, 5, len(HISTORY)), strict=True)}
    for q in HISTORY:  # row 7 is my twin, and the only one answering 4
        cols[q][7] = me[q]
    cols["Q46"][7] = 4
    return survey(cols, ["DEU"] * n), me


def test_knn_one_neighbour_is_the_closest_person() -> None:
    data, me = knn_data()
    m = fitted("knn", data, k=1, min_overlap=3, prior_weight=0)
    pred, probs = predict_one(m, person("me", "DEU", me))
    assert pred == 4 and probs[4] == pytest.approx(1.0)
    nbrs, dist = m.neighbours(Task(person("me", "DEU", me), ("Q46",)))  # type: ignore[attr-defined]
    assert nbrs[0] == 7 and dist[0] == 0.0


def test_knn_majority_of_many_neighbours_and_fallbacks() -> None:
    data, me = knn_data()
    m = fitted("knn", data, k=25, min_overlap=3)
    assert predict_one(m, person("me", "DEU", me))[0] == 1  # one twin cannot outvote 24 others
    # no usable history (fewer than min_overlap items): the country distribution answers
    (p,) = m.predict(Task(person("me", "DEU", {"Q1": me["Q1"]}), ("Q46",)))
    assert p.prediction == 1 and p.meta["neighbours"] == 0 and p.meta["level"] == "country"


def test_knn_ignores_neighbours_without_an_answer() -> None:
    data, me = knn_data()
    frame = data.frame.copy()
    frame.loc["t7", "Q46"] = -1  # the twin did not answer the target
    frame.loc["t3", "Q46"] = 3
    data2 = SurveyData(frame=frame, codebook=CB, synthetic=True)
    m = fitted("knn", data2, k=1, min_overlap=3, prior_weight=0)
    (p,) = m.predict(Task(person("me", "DEU", me), ("Q46",)))
    assert p.meta["neighbours"] == 1
    nbrs, _ = m.neighbours(Task(person("me", "DEU", me), ("Q46",)))  # type: ignore[attr-defined]
    first_answering = next(int(i) for i in nbrs if frame["Q46"].iloc[int(i)] > 0)
    assert p.prediction == frame["Q46"].iloc[first_answering]


# --------------------------------------------------------------------------- supervised


def rule_data(n: int = 600, seed: int = 0) -> SurveyData:
    """Q46 (happiness) equals Q1 for everybody; other items are noise."""
    rng = np.random.default_rng(seed)
    cols = {q: rng.integers(1, 5, n) for q in HISTORY}
    cols["Q46"] = cols["Q1"].copy()
    cols["Q260"] = rng.integers(1, 3, n)
    cols["Q262"] = rng.integers(18, 90, n)
    return survey(cols, rng.choice(["DEU", "PER"], n).tolist())


def test_supervised_learns_a_deterministic_rule() -> None:
    m = fitted("supervised", rule_data(), n_estimators=30, learning_rate=0.3, min_child_samples=5, n_jobs=1)
    for value in (1, 2, 3, 4):
        answers = {q: 2 for q in HISTORY} | {"Q1": value, "Q260": 1, "Q262": 40}
        pred, probs = predict_one(m, person("x", "PER", answers))
        assert pred == value
        assert probs[value] > 0.8 and sum(probs.values()) == pytest.approx(1.0)


def test_supervised_models_are_shared_within_a_history_set() -> None:
    m = fitted("supervised", rule_data(), n_estimators=5, n_jobs=2)
    a = {q: 1 for q in HISTORY}
    m.predict(Task(person("a", "DEU", a), ("Q46", "Q5")))
    m.predict(Task(person("b", "PER", {q: 3 for q in HISTORY}), ("Q46", "Q5")))
    assert len(m._models) == 2  # type: ignore[attr-defined]
    # a different history set -> models for every item outside it (13 items, 2 known): 11 more
    m.predict(Task(person("c", "DEU", {"Q2": 1, "Q3": 1}), ("Q46",)))
    assert len(m._models) == 2 + 11  # type: ignore[attr-defined]
    lazy = fitted("supervised", rule_data(), n_estimators=5, n_jobs=1, train_all_targets=False)
    lazy.predict(Task(person("c", "DEU", {"Q2": 1, "Q3": 1}), ("Q46",)))
    assert len(lazy._models) == 1  # type: ignore[attr-defined]
    copy = pickle.loads(pickle.dumps(m))  # executors may ship a fitted method to workers
    assert copy.predict(Task(person("a", "DEU", a), ("Q46",)))[0].prediction == 1


def test_supervised_random_subset_mode_for_history_sweeps() -> None:
    m = fitted("supervised", rule_data(), n_estimators=20, min_child_samples=5, n_jobs=1, train_all_targets=False)
    answers = {"Q1": 3, "Q2": 1, "Q3": 4, "Q4": 2}
    (p,) = m.predict(Task(person("x", "DEU", answers), ("Q46",), condition="h=4"))
    assert p.meta["history_mode"] == "random-subset" and p.prediction == 3


# --------------------------------------------------------------------------- leakage & options


@pytest.mark.parametrize("name", BASELINES)
def test_no_baseline_reads_the_target_answer(name: str) -> None:
    data = rule_data(300)
    m = fitted(
        name,
        data,
        **({"n_estimators": 5} if name == "supervised" else {}),
        **({"min_overlap": 3, "k": 5} if name == "knn" else {}),
    )
    base = {q: int(v) for q, v in zip(HISTORY, [1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4], strict=True)}
    base |= {"Q260": 2, "Q262": 33}
    targets = ("Q46", "Q5", "Q6")
    hidden = {q: c for q, c in base.items() if q not in targets}
    for leak in (1, 4):
        shown = hidden | {"Q46": leak, "Q5": leak, "Q6": leak}
        a = m.predict(Task(person("x", "DEU", hidden), targets))
        b = m.predict(Task(person("x", "DEU", shown), targets))
        assert [(p.prediction, p.probabilities) for p in a] == [(p.prediction, p.probabilities) for p in b]


@pytest.mark.parametrize("name", BASELINES)
def test_every_baseline_answers_each_target_with_a_distribution(name: str) -> None:
    data = rule_data(200)
    m = fitted(name, data, **({"n_estimators": 5} if name == "supervised" else {}))
    who = person("x", "PER", {q: 2 for q in HISTORY} | {"Q260": 1, "Q262": 50})
    targets = ("Q46", "Q5")
    out = m.predict(Task(who, targets, fold=3, condition=""))
    assert [p.question for p in out] == list(targets)
    for p in out:
        assert p.fold == 3 and p.respondent == "x"
        assert p.prediction in CB.get(p.question).codes
        assert p.probabilities is not None and sum(p.probabilities.values()) == pytest.approx(1.0)
        assert max(p.probabilities, key=p.probabilities.__getitem__) == p.prediction


def test_options_are_validated() -> None:
    from valuesim.errors import ConfigError

    with pytest.raises(ConfigError, match="knn"):
        get_method("knn", CB, k=0)
    with pytest.raises(ConfigError, match="Options"):
        get_method("majority", CB, neighbours=3)
    with pytest.raises(ConfigError, match="increasing"):
        get_method("demographic-majority", CB, age_bands=[50, 30])
    assert get_method("knn", CB, k="7").config()["k"] == 7  # CLI strings are coerced
    assert get_method("supervised", CB).config()["name"] == "supervised"
    with pytest.raises(ConfigError, match="not been fitted"):
        get_method("majority", CB).predict(Task(person("x", "DEU", {}), ("Q46",)))


# --------------------------------------------------------------------------- end to end


def small_synthetic(n: int, seed: int, n_items: int = 40) -> SurveyData:
    """Synthetic respondents restricted to *n_items* value items (+ profile), to keep runs short."""
    from valuesim.survey import generate_synthetic

    data = generate_synthetic(n=n, seed=seed)
    keep = CB.substantive()[:: max(1, len(CB.substantive()) // n_items)][:n_items] + CB.profile()
    frame = data.frame[["country", *[q for q in keep if q in data.frame.columns]]]
    return SurveyData(frame=frame, codebook=CB, source="synthetic-subset", synthetic=True)


@pytest.mark.slow
def test_baselines_through_the_runner_on_synthetic_data(tmp_path: pytest.TempPathFactory) -> None:
    """The ranking a real benchmark shows: history-based > country > global majority."""
    from valuesim.bench.protocol import ProtocolConfig
    from valuesim.bench.runner import RunConfig, run_benchmark

    data = small_synthetic(800, seed=3)
    cfg = RunConfig(protocol=ProtocolConfig(n_respondents=60, seed=1, min_valid=20), n_boot=200)
    options = {"supervised": {"n_estimators": 20, "max_train": 600}, "knn": {"min_overlap": 5}}
    top1 = {}
    for name in BASELINES:
        method = get_method(name, CB, **options.get(name, {}))
        res = run_benchmark(data, method, cfg, tmp_path / name, progress=False)  # type: ignore[operator]
        assert res.metrics is not None and res.metrics["probabilistic"] is not None
        top1[name] = res.metrics["top1"]["mean"]
    assert top1["country-majority"] > top1["majority"] + 0.02
    assert top1["knn"] > top1["country-majority"]
    assert top1["supervised"] > top1["country-majority"]


@pytest.mark.slow
def test_baselines_in_a_history_sweep(tmp_path: pytest.TempPathFactory) -> None:
    from valuesim.bench.protocol import ProtocolConfig
    from valuesim.bench.runner import RunConfig, run_benchmark

    data = small_synthetic(600, seed=4)
    sweep = ProtocolConfig(n_respondents=30, seed=2, min_valid=20, history_sweep=True, history_sizes=(0, 8, 30))
    curves = {}
    for name, opts in (("knn", {"min_overlap": 5}), ("supervised", {"n_estimators": 15, "max_train": 500})):
        method = get_method(name, CB, **opts)
        res = run_benchmark(data, method, RunConfig(protocol=sweep, n_boot=100), tmp_path / name, progress=False)  # type: ignore[operator]
        assert res.metrics is not None
        curves[name] = {c: v["top1"]["mean"] for c, v in res.metrics["by_condition"].items()}
    for curve in curves.values():
        assert set(curve) == {"h=0", "h=8", "h=30"}
        assert curve["h=30"] > curve["h=0"]  # more history, better predictions


# --------------------------------------------------------------------------- supervised: models, subsets, ask


@pytest.mark.parametrize("model", ["linear", "lightgbm"])
def test_supervised_models_learn_the_rule(model: str) -> None:
    m = fitted("supervised", rule_data(), model=model, learning_rate=0.3, min_child_samples=5, n_jobs=1)
    for value in (1, 2, 3, 4):
        answers = {q: 2 for q in HISTORY} | {"Q1": value, "Q260": 1, "Q262": 40}
        (p,) = m.predict(Task(person("x", "PER", answers), ("Q46",)))
        assert p.prediction == value and p.meta["model"] == model
        assert p.probabilities is not None and sum(p.probabilities.values()) == pytest.approx(1.0)


def test_supervised_linear_solves_a_history_set_once() -> None:
    m = fitted("supervised", rule_data())
    m.predict(Task(person("a", "DEU", {q: 1 for q in HISTORY}), ("Q46", "Q5")))
    assert len({tag for _, tag in m._models}) == 1  # type: ignore[attr-defined]
    ridge = {mod.ridge for mod in m._models.values()}  # type: ignore[attr-defined]
    assert ridge and all(r > 0 for r in ridge)  # chosen from the grid on held-out training people


def wide_data(n: int, seed: int = 0) -> SurveyData:
    """Fewer people than one-hot columns, with realistic codes: negative missing codes, a
    few unanswered targets, age as a number, three countries."""
    rng = np.random.default_rng(seed)
    cols = {q: rng.integers(1, 5, n) for q in HISTORY}
    cols["Q46"] = np.where(rng.random(n) < 0.7, cols["Q1"], rng.integers(1, 5, n))
    for q in (*HISTORY[:4], "Q46"):
        cols[q][rng.random(n) < 0.08] = rng.choice([-1, -2, -5])
    cols["Q260"] = rng.integers(1, 3, n)
    cols["Q262"] = rng.integers(18, 90, n)
    return survey(cols, rng.choice(["DEU", "PER", "JPN"], n).tolist())


@pytest.mark.parametrize("ridge", [0.0, 3.0])
def test_supervised_dual_solver_is_the_primal_ridge_solution(ridge: float, monkeypatch: pytest.MonkeyPatch) -> None:
    """With fewer training people than design columns the ridge solution comes from the
    people-by-people kernel (solver=auto picks it): the same penalties and predictions as the
    normal equations, probabilities equal to rounding."""
    import valuesim.methods.baselines as baselines

    calls = []
    dual = baselines._dual_ridge
    monkeypatch.setattr(baselines, "_dual_ridge", lambda *a: calls.append(1) or dual(*a))
    data = wide_data(40, seed=5)
    rng = np.random.default_rng(1)
    people = [
        person(
            f"p{i}",
            str(rng.choice(["DEU", "PER", "JPN"])),
            {q: int(rng.integers(1, 5)) for q in HISTORY[1:]} | {"Q1": 1 + i % 4, "Q262": 20 + i},
        )
        for i in range(8)
    ]
    targets = ("Q46", "Q1")
    out = {}
    for solver in ("primal", "dual", "auto"):
        m = fitted("supervised", data, solver=solver, ridge=ridge)
        preds = [p for who in people for p in m.predict(Task(who, targets))]
        ridges = sorted((q, mod.ridge) for (q, _), mod in m._models.items())  # type: ignore[attr-defined]
        out[solver] = preds, ridges
    assert len(calls) == 2  # dual and auto (40 people < the history set's design columns)
    primal, ridges = out["primal"]
    for solver in ("dual", "auto"):
        preds, r = out[solver]
        assert [q for q, _ in r] == [q for q, _ in ridges]
        assert [x for _, x in r] == pytest.approx([x for _, x in ridges], rel=1e-6)  # the same grid point
        assert [p.prediction for p in preds] == [p.prediction for p in primal]
        for a, b in zip(preds, primal, strict=True):
            assert a.probabilities == pytest.approx(b.probabilities, abs=1e-6)
    assert len({r for _, r in ridges}) > 1 or ridge  # the grid picked different penalties per target


@pytest.mark.parametrize(("history", "ridge"), [("any", 0.0), ("random-subset", 0.0), ("any", 3.0)])
def test_supervised_shared_inverse_for_many_targets_is_each_targets_own_solve(
    history: str, ridge: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """history=any / random-subset train one model per target on every other item: for many
    targets they come from one eigendecomposition of the system over every item (each target
    leaving its own item out); the same penalties and predictions as one solve per target."""
    import valuesim.methods.baselines as baselines

    data = wide_data(300, seed=7)
    rng = np.random.default_rng(2)
    people = [
        person(
            f"p{i}", str(rng.choice(["DEU", "PER", "JPN"])), {q: int(rng.integers(1, 5)) for q in HISTORY[i % 3 :: 2]}
        )
        for i in range(6)
    ]
    targets = ("Q46", *HISTORY)
    condition = "h=4" if history == "random-subset" else ""
    out = {}
    for threshold in (1, 10_000):  # shared for every count of targets / never shared
        monkeypatch.setattr(baselines, "SHARED_MIN_TARGETS", threshold)
        m = fitted("supervised", data, history=history, ridge=ridge)
        preds = [p for who in people for p in m.predict(Task(who, targets, condition=condition))]
        ridges = sorted((key, mod.ridge) for key, mod in m._models.items())  # type: ignore[attr-defined]
        out[threshold] = preds, ridges
    (shared, r_shared), (each, r_each) = out[1], out[10_000]
    assert [k for k, _ in r_shared] == [k for k, _ in r_each] and len(r_each) >= len(targets)
    assert [x for _, x in r_shared] == pytest.approx([x for _, x in r_each], rel=1e-9)
    assert [p.prediction for p in shared] == [p.prediction for p in each]
    for a, b in zip(shared, each, strict=True):  # equal to the float32 rounding of the right-hand sides
        assert a.probabilities == pytest.approx(b.probabilities, abs=1e-5)


def test_supervised_lightgbm_keeps_the_most_associated_inputs() -> None:
    m = fitted("supervised", rule_data(), model="lightgbm", features=3, n_jobs=1, train_all_targets=False)
    m.predict(Task(person("a", "DEU", {q: 1 for q in HISTORY}), ("Q46",)))
    (model,) = m._models.values()  # type: ignore[attr-defined]
    assert "Q1" in model.features and len(model.features) == 3


@pytest.mark.parametrize("model", ["linear", "lightgbm"])
def test_supervised_any_subset_without_retraining(model: str) -> None:
    """history=any: one model per target answers from whatever the person gave; a partial
    record is predicted on every item, and a second subset trains nothing new."""
    m = fitted("supervised", rule_data(), model=model, history="any", train_all_targets=False, n_jobs=1)
    targets = ("Q46", *HISTORY[1:])
    short = person("p", "DEU", {"Q1": 4, "Q260": 1})  # a short questionnaire: one value item
    out = m.predict(Task(short, targets))
    assert [p.question for p in out] == list(targets)
    assert all(p.prediction is not None and p.meta["history_mode"] == "any" for p in out)
    assert out[0].prediction == 4  # the rule Q46 = Q1 from one known answer
    n_models = len(m._models)  # type: ignore[attr-defined]
    other = person("q", "PER", {"Q1": 2, "Q2": 3, "Q27": 1, "Q262": 60})
    (p,) = m.predict(Task(other, ("Q46",)))
    assert p.prediction == 2 and len(m._models) == n_models  # type: ignore[attr-defined]


@pytest.mark.parametrize("options", [{"model": "linear"}, {"model": "lightgbm"}, {"history": "any"}])
def test_supervised_variants_never_read_the_target(options: dict) -> None:
    m = fitted("supervised", rule_data(300), n_estimators=5, n_jobs=1, **options)
    base = {q: 1 + i % 4 for i, q in enumerate(HISTORY)} | {"Q260": 2, "Q262": 33}
    targets = ("Q46", "Q5")
    hidden = {q: c for q, c in base.items() if q not in targets}
    a = m.predict(Task(person("x", "DEU", hidden), targets))
    b = m.predict(Task(person("x", "DEU", hidden | {"Q46": 4, "Q5": 4}), targets))
    assert [(p.prediction, p.probabilities) for p in a] == [(p.prediction, p.probabilities) for p in b]


def test_trained_methods_declare_that_they_learn_from_others() -> None:
    from valuesim.methods.base import method_info

    for name in BASELINES:
        assert method_info(name).cls.learns_from_others
    for name in ("valuesim", "uniform", "text-transfer"):
        assert not method_info(name).cls.learns_from_others
    assert method_info("supervised").cls.single_person_options["history"] == "any"


def test_ask_default_is_the_best_trained_predictor_measured() -> None:
    """The default of `valuesim ask` for survey items is the trained predictor with the best
    top-1 in the committed results (docs/results/baselines.json, supervised_cost.json)."""
    import json
    from pathlib import Path

    from valuesim.methods.base import DEFAULT_SURVEY_ITEM_METHOD, method_info

    results = Path(__file__).resolve().parents[2] / "docs" / "results"
    best: dict[str, float] = {}
    for name in ("baselines", "supervised_cost"):
        path = results / f"{name}.json"
        if not path.exists():
            continue
        for row in json.loads(path.read_text())["raw"]["rows"]:
            if row.get("data", "dev") == "dev" and row["respondents"] == 100:
                best[row["method"]] = row["top1"]["mean"]
    assert best, "no measured results"
    winner = max(best, key=best.__getitem__)
    assert winner.split("(")[0] == DEFAULT_SURVEY_ITEM_METHOD
    assert method_info(DEFAULT_SURVEY_ITEM_METHOD).cls.learns_from_others


def test_cli_ask_answers_with_a_trained_predictor() -> None:
    from typer.testing import CliRunner

    from valuesim.cli import app

    res = CliRunner().invoke(app, ["ask", "--data", "synthetic:300", "-r", "276070001", "-q", "Q46"])
    assert res.exit_code == 0, res.output
    assert "Prediction:" in res.output and "Real answer:" in res.output
    assert "Answered by supervised (linear), trained on" in res.output
    res = CliRunner().invoke(
        app, ["ask", "--data", "synthetic:300", "-r", "276070001", "-q", "Q46", "--method", "knn", "--explain"]
    )
    assert res.exit_code == 0, res.output
    assert "Answered by knn" in res.output and "How it was made: neighbours" in res.output
    res = CliRunner().invoke(
        app, ["ask", "--data", "synthetic:300", "-r", "276070001", "-q", "Q46", "--method", "knn", "--model", "mock"]
    )
    assert res.exit_code != 0 and "does not use a language model" in str(res.exception)
    res = CliRunner().invoke(
        app,
        [
            "ask",
            "--data",
            "synthetic:300",
            "-r",
            "276070001",
            "--text",
            "Is AI good?",
            "--options",
            "Yes|No",
            "--method",
            "supervised",
        ],
    )
    assert res.exit_code != 0 and "cannot answer new questions" in str(res.exception)

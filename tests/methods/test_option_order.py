"""Option order (-o option_order=original|reversed|shuffled): what the prompt shows, mapped back."""

from __future__ import annotations

import pandas as pd
import pytest
from methods_fakes import one_hot, scripted_model
from model_specs import spec_of

from valuesim.bench.compare import POSITION_METRIC, paired_comparison
from valuesim.bench.metrics import summarize
from valuesim.methods import Task, get_method
from valuesim.methods.prompting import shown_in_order, target_options
from valuesim.survey import Respondent, load_codebook

CB = load_codebook()
TARGETS = ("Q46", "Q57", "Q164", "Q199")


def _task(pid: str = "p1") -> Task:
    answers = {"Q1": 1, "Q2": 2, "Q46": 2, "Q57": 2, "Q164": 9, "Q199": 3, "Q260": 2, "Q262": 38}
    p = Respondent(id=pid, country="PER", answers=answers)
    return Task(p.restricted([q for q in p.answered() if q not in TARGETS]), TARGETS)


def _always_first():
    """A model that always picks the first option shown: pure position bias."""
    return scripted_model(choose=lambda module, n, msgs: one_hot(0, n))


def test_orders_are_permutations_seeded_by_person_and_question() -> None:
    q = CB.get("Q164")  # a 1-10 scale
    codes = target_options(q)[0]
    rev = shown_in_order(q, "reversed", "p1")
    assert target_options(rev)[0] == codes[::-1]
    a, b = shown_in_order(q, "shuffled", "p1"), shown_in_order(q, "shuffled", "p1")
    assert target_options(a)[0] == target_options(b)[0] and sorted(target_options(a)[0]) == codes
    others = {tuple(target_options(shown_in_order(q, "shuffled", f"p{i}"))[0]) for i in range(20)}
    assert len(others) > 10  # another person, another order
    assert shown_in_order(q, "original", "p1") is q
    # the texts travel with their codes: "10 (Great deal)" stays the label of code 10
    texts = dict(zip(*target_options(a)))
    assert texts == dict(zip(*target_options(q)))


@pytest.mark.parametrize(("order", "pick"), [("original", 0), ("reversed", -1)])
def test_answers_map_back_to_the_original_codes(order: str, pick: int) -> None:
    model, backend = _always_first()
    preds = get_method("valuesim", CB, model=spec_of(model), option_order=order).predict(_task())
    for p in preds:
        codes = CB.get(p.question).answer_codes
        assert p.prediction == codes[pick]
        assert p.meta["shown_first"] == codes[pick]
        assert max(p.probabilities, key=p.probabilities.get) == codes[pick]
    # the prompt shows the options in that order: the first option line is the first code shown
    first_user = next(m for _, mod, msgs in backend.calls if mod == "cognitive" for m in msgs[1:])
    assert "A. " in first_user.content


def test_position_bias_is_measured_and_compared() -> None:
    rows = {}
    for order in ("original", "shuffled"):
        model, _ = _always_first()
        m = get_method("valuesim", CB, model=spec_of(model), option_order=order)
        out = []
        for i in range(12):
            for p in m.predict(_task(f"p{i}")):
                truth = {"Q46": 2, "Q57": 2, "Q164": 9, "Q199": 3}[p.question]
                out.append(
                    {
                        "respondent": f"p{i}",
                        "question": p.question,
                        "fold": 0,
                        "condition": "",
                        "prediction": p.prediction,
                        "truth": truth,
                        "probabilities": p.probabilities,
                        "country": "PER",
                        "meta": p.meta,
                    }
                )
        rows[order] = pd.DataFrame(out)
    for order, frame in rows.items():
        bias = summarize(frame, CB, n_boot=50)["position_bias"]
        assert bias["mean"] == 1.0 and bias["n"] == 48, order  # the model always takes the first shown
        assert 0.05 < bias["chance"] < 0.5
    # in original order the first shown is always the lowest code; shuffled spreads it over codes
    assert (rows["original"].groupby("question")["prediction"].nunique() == 1).all()
    assert (rows["shuffled"].groupby("question")["prediction"].nunique() > 1).all()
    res = paired_comparison(rows["original"], rows["shuffled"], POSITION_METRIC, codebook=CB, n_boot=50, n_perm=50)
    assert res.diff == 0.0  # both always choose the first shown: the bias follows the position, not the option
    top1 = paired_comparison(rows["original"], rows["shuffled"], "top1", codebook=CB, n_boot=50, n_perm=50)
    assert top1.mean_a != top1.mean_b


def test_option_order_is_validated() -> None:
    model, _ = _always_first()
    from valuesim.errors import ConfigError

    with pytest.raises(ConfigError, match="option_order"):
        get_method("valuesim", CB, model=spec_of(model), option_order="random")

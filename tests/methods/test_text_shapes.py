"""Issue 25, items 2 and 8: ESS- and GSS-shaped files run through the ValueSim method without a
traceback, and their stories read as English (SYNTHETIC fixtures of tests/methods/text_shapes.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from methods_fakes import one_hot, scripted_model
from model_specs import spec_of
from text_shapes import NORWEGIAN_CUT, write_ess_like, write_gss_like
from typer.testing import CliRunner

from valuesim.cli import app
from valuesim.llm import get_model
from valuesim.methods import Task, get_method
from valuesim.methods.phrasing import clean_label, country_name, fill_placeholders, mark_cut
from valuesim.methods.phrasing_generic import wording
from valuesim.methods.prompting import (
    MAX_NUMBERED_OPTIONS,
    build_messages,
    option_letters,
    parse_letter,
    unposable_reason,
)
from valuesim.methods.story import compose
from valuesim.survey import SurveyData, load_survey
from valuesim.survey.codebook import is_missing_label
from valuesim.survey.countries import with_article
from valuesim.survey.custom import load_codebook_file

runner = CliRunner()
MISSING_TYPE = re.compile(r"Not applicable|Refusal|\brefused\b|Don't know|don't know|No answer|\bIAP\b|\bDK\b|\bNA\b")
SHOW_CARD = re.compile(r"\b[A-Z] - \w|\"[A-Z]\. |: [A-Z]\. ")


@pytest.fixture(scope="module")
def ess(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, SurveyData]:
    data, cb = write_ess_like(tmp_path_factory.mktemp("ess"))
    return data, cb, load_survey(data, codebook=load_codebook_file(cb))


@pytest.fixture(scope="module")
def gss(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, SurveyData]:
    data, cb = write_gss_like(tmp_path_factory.mktemp("gss"))
    return data, cb, load_survey(data, codebook=load_codebook_file(cb))


# --------------------------------------------------------------------------- text helpers


def test_labels_lose_show_card_letters_and_keep_their_words() -> None:
    assert clean_label("K - 7th decile") == "7th decile"
    assert clean_label("A. Very likely") == "Very likely"
    assert clean_label("B) Agree") == "Agree"
    assert clean_label("A lot") == "A lot" and clean_label("I am not") == "I am not"
    assert clean_label("U.S. citizen") == "U.S. citizen"
    assert clean_label("A.") == "A"  # nothing after the letter: the letter is the label


def test_placeholders_are_filled_or_read_as_words() -> None:
    assert (
        fill_placeholders("Democracy works in [country]", "the United States") == "Democracy works in the United States"
    )
    assert fill_placeholders("Democracy works in [country]", None) == "Democracy works in your country"
    assert fill_placeholders("Your [pay/pensions/social benefits]", None) == "Your pay, pensions or social benefits"
    assert fill_placeholders("Fair level: [amount]", None) == "Fair level: the amount"
    assert fill_placeholders("Is your [amount] fair", None) == "Is your amount fair"
    assert "[" not in fill_placeholders("[weekly/monthly/annual] pay in [Your Country]", "Norway")
    # the WVS placeholders keep their wording
    assert fill_placeholders("Proud to be [country's nationality]?", "Peru") == "Proud to be a national of Peru?"


def test_ess_and_gss_wording_is_said_to_the_person() -> None:
    assert wording("Citizen of country", "the Netherlands") == "Citizen of the Netherlands"
    assert wording("Trust in country's parliament", "Norway") == "Trust in Norway's parliament"
    assert wording("Country of birth", "Norway") == "Country of birth"  # not a place holder
    assert wording("In this country's elections", "Norway") == "In this country's elections"
    assert wording("Trust in your country's courts", "Norway") == "Trust in your country's courts"
    assert wording("Citizen of country", None) == "Citizen of country"
    assert wording("r's highest degree", "the United States") == "Your highest degree"
    assert wording("Rs religious preference", None) == "Your religious preference"
    assert wording("Mrs Robinson's view", None) == "Mrs Robinson's view"


def test_missing_type_labels_and_cut_labels() -> None:
    for lab in ("Not applicable", "Refusal", "refused", "Don't know", "No answer", "IAP", "DK", "NA", "dk, na"):
        assert is_missing_label(lab), lab
    for lab in ("No", "Not at all", "Nation", "Never", "Disagree", "None of these", "Diknow"):
        assert not is_missing_label(lab), lab
    assert len(NORWEGIAN_CUT) == 120 and mark_cut(NORWEGIAN_CUT).endswith("rimel…")
    assert mark_cut("A complete question of any length?") == "A complete question of any length?"
    assert mark_cut("x" * 119 + ".") == "x" * 119 + "."  # ends a sentence: not cut


def test_country_names_take_the_article_they_need() -> None:
    for name in ("United States", "United Kingdom", "Netherlands", "Czech Republic", "Philippines", "Gambia"):
        assert with_article(name) == f"the {name}"
    for name in ("Norway", "Czechia", "Peru", "Northern Ireland"):
        assert with_article(name) == name
    assert with_article("Congo (Democratic Republic)") == "the Democratic Republic of the Congo"
    assert country_name("USA") == "the United States" and country_name("USA", article=False) == "United States"


# --------------------------------------------------------------------------- posing long lists


def test_long_option_lists_are_numbered_up_to_the_limit() -> None:
    assert option_letters(26)[-1] == "Z"
    assert option_letters(27) == [str(i) for i in range(1, 28)]
    with pytest.raises(ValueError, match="too many options"):
        option_letters(MAX_NUMBERED_OPTIONS + 1)
    nums = [str(i) for i in range(1, 72)]
    assert parse_letter("17", nums)[0] == "17"
    assert parse_letter("Answer: 17 - close to home", nums) == ("17", "close to home")
    assert parse_letter("I think my answer is 3.", nums)[0] == "3"
    assert parse_letter("(71) Other", nums)[0] == "71"
    assert parse_letter("72", nums)[0] is None  # not an option
    places = [f"Place {i}" for i in range(1, 72)]
    assert parse_letter("I would say Place 12 fits", nums, places)[0] == "12"  # whole words: not "Place 1"
    assert parse_letter("Place 4 or Place 42", nums, places)[0] is None  # two options quoted


def test_numbered_questions_say_number_and_others_keep_letter(ess) -> None:
    cb = ess[2].codebook
    msgs = build_messages("story", "cognitive", [cb.get("vteubcmb")], prompt_version="v4", country="Norway")
    user = msgs[-1].content
    assert "1. Choice 1" in user and "65. Choice 65" in user and "number of your answer" in user
    assert "Would vote for Norway to remain" in user  # the placeholder filled
    lettered = build_messages("story", "cognitive", [cb.get("lkuemp")], prompt_version="v4")[-1].content
    assert "A. Very likely" in lettered and "letter of your answer" in lettered  # the show-card "A." not doubled
    assert "A. A. " not in lettered


def test_unposable_items_are_named_with_the_reason(gss) -> None:
    cb = gss[2].codebook
    assert "numeric" in (unposable_reason(cb.get("age")) or "")
    assert "540 answer options" in (unposable_reason(cb.get("occ10")) or "")
    assert unposable_reason(cb.get("ethnic")) is None  # 41 options: numbered


def _task(data: SurveyData, targets: tuple[str, ...]) -> Task:
    person = data.respondent(data.ids[0])
    return Task(person.restricted([q for q in person.answered() if q not in targets]), targets)


@pytest.mark.parametrize("scoring", ["logprobs", "generate"])
def test_pipeline_answers_numbered_items_and_skips_what_it_cannot_pose(gss, scoring: str) -> None:
    data = gss[2]
    targets = ("cappun", "ethnic", "occ10")

    def write(module: str, msgs: tuple) -> str:
        if "41. Origin 41" not in msgs[-1].content:
            return "A"
        return '{"answer": "7"}' if scoring == "logprobs" else "7. Origin 7, my family"

    model, backend = scripted_model(choose=lambda module, n, msgs: one_hot(0, n), write=write)
    method = get_method("valuesim", data.codebook, model=spec_of(model), scoring=scoring)
    preds = {p.question: p for p in method.predict(_task(data, targets))}
    assert preds["ethnic"].prediction == 7 and preds["ethnic"].meta["numbered_options"] == 41
    assert preds["occ10"].prediction is None and "540 answer options" in preds["occ10"].meta["not_posed"]
    assert preds["cappun"].prediction is not None and "numbered_options" not in preds["cappun"].meta
    numbered_calls = [m for kind, _, m in backend.calls if "41. Origin 41" in m[-1].content]
    assert numbered_calls and all("number of your answer" in m[-1].content for m in numbered_calls)
    if scoring == "logprobs":  # the number is written, not scored on its first token
        assert all(kind == "generate" for kind, _, m in backend.calls if "41. Origin 41" in m[-1].content)


def test_batched_runs_ask_numbered_items_on_their_own(ess) -> None:
    data = ess[2]
    targets = ("ctzcntr", "lkuemp", "prtvtbno", "gvslvol")
    model = get_model("mock")
    method = get_method("valuesim", data.codebook, model=spec_of(model), batch_targets=4)
    preds = {p.question: p for p in method.predict(_task(data, targets))}
    assert all(p.prediction is not None for p in preds.values())
    assert preds["prtvtbno"].meta["numbered_options"] == 30 and "batch" not in preds["prtvtbno"].meta
    assert preds["lkuemp"].meta["batch"] == 3


# --------------------------------------------------------------------------- stories


def _check_story(text: str) -> None:
    assert "[" not in text and "]" not in text, text
    assert not SHOW_CARD.search(text), SHOW_CARD.search(text)
    assert not MISSING_TYPE.search(text), MISSING_TYPE.search(text)
    assert not re.search(r"\b(country|Country) (Yes|No)\.", text)  # "Citizen of country Yes."
    assert "You fam life" not in text and "..." not in text


@pytest.mark.parametrize("style", ["facts", "dense", "raw"])
def test_stories_read_as_english(ess, gss, style: str) -> None:
    for data in (ess[2], gss[2]):
        for rid in data.ids:
            person = data.respondent(rid)
            text = compose(person, data.codebook, style=style).text
            _check_story(text)
            if style != "raw":
                name = country_name(person.country)
                assert f"You live in {name}." in text and re.search(r"You are \d+ years old\.", text)
                assert bool(re.search(r"You are a (man|woman)\.", text)) == person.has(data.codebook.roles["sex"])


def test_story_details_on_the_fixtures(ess, gss) -> None:
    data = ess[2]
    by_country = {data.respondent(r).country: data.respondent(r) for r in data.ids}
    nl = by_country["NLD"]
    facts = compose(nl, data.codebook, style="facts").text
    dense = compose(nl, data.codebook, style="dense").text
    assert "You live in the Netherlands." in facts
    assert 'Asked "Citizen of the Netherlands", you answered' in facts
    assert re.search(r"Citizen of the Netherlands: (Yes|No)\.", dense)
    assert "Start of interview, hour: " in dense  # numeric answers of one stem: said one by one
    assert "decile" in facts and not re.search(r"[A-Z] - \d", facts)
    assert re.search(r"rimel…\"", facts) and "rimel…." not in facts  # cut at 120 characters, not a sentence
    gb = by_country["GBR"]
    assert "You live in the United Kingdom." in compose(gb, data.codebook).text
    # a missing-type option kept in the codebook is never told
    told = [r for r in data.ids if data.respondent(r).answers.get("wrkprty") in (6, 7)]
    assert told
    for rid in told:
        assert "political party or action group" not in compose(data.respondent(rid), data.codebook).text
    g = gss[2]
    text = compose(g.respondent(g.ids[0]), g.codebook).text
    assert "You live in the United States." in text and 'Asked "Your highest degree"' in text


# --------------------------------------------------------------------------- the CLI, end to end


def _ok(args: list[str]) -> str:
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output
    return res.output


@pytest.mark.parametrize("which", ["ess", "gss"])
def test_commands_run_without_a_traceback(which: str, ess, gss, tmp_path: Path) -> None:
    data, cb, survey = ess if which == "ess" else gss
    base = ["--data", str(data), "--codebook", str(cb)]
    runs = []
    for method in ("majority", "knn", "supervised", "valuesim", "hybrid"):
        out = tmp_path / method
        model = ["--model", "mock"] if method in ("valuesim", "hybrid") else []
        _ok(["bench", *base, "--method", method, *model, "-n", "4", "--n-boot", "20", "--out", str(out)])
        runs.append(str(out))
    _ok(["report", *runs, "--out", str(tmp_path / "report")])
    rid = survey.ids[0]
    for style in ("facts", "dense", "raw", "narrative"):
        model = ["--model", "mock"] if style == "narrative" else []
        text = _ok(["backstory", *base, "-r", rid, "--style", style, *model])
        if style != "narrative":  # the mock writes no English; the facts styles are checked above
            _check_story(text.split("\n\n")[0])
    asked = ("ctzcntr", "grspfr", "prtvtbno", "lnghom1") if which == "ess" else ("natspac", "ethnic", "occ10")
    for qid in asked:  # lettered, placeholders, numbered (30, 99, 41 options), not posed (540)
        out = _ok(["ask", *base, "-r", rid, "-q", qid, "--model", "mock"])
        assert ("540 answer options" in out) == (qid == "occ10")
    questions = tmp_path / "q.yaml"
    questions.write_text(
        "title: t\nquestions:\n  - id: NEWQ1\n    text: How much do you trust the government of [country]?\n"
        "    options: [A lot, Some, Not at all]\n",
        encoding="utf-8",
    )
    _ok(["simulate", *base, "--questions", str(questions), "--model", "mock", "-n", "4", "--out", str(tmp_path / "s")])
    if which == "gss":  # occ10 (540 options) is skipped with a note: predictions, bench, report
        rows = [json.loads(line) for line in (tmp_path / "valuesim" / "predictions.jsonl").read_text().splitlines()]
        skipped = [r for r in rows if r["question"] == "occ10"]
        assert skipped and all(r["prediction"] is None and r["meta"]["not_posed"] for r in skipped)
        assert any(r["question"] == "occ10" and r["prediction"] is not None for r in _rows(tmp_path / "majority"))
        assert "occ10 was not posed to the model" in (tmp_path / "report" / "report.md").read_text()


def _rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]


def test_codebook_check_warns_about_items_the_llm_methods_cannot_pose(gss, ess) -> None:
    out = _ok(["codebook", "check", str(gss[1])])
    assert "occ10 (540)" in out and "skip" in out and "ethnic (41)" in out and "numbered" in out
    assert "natspac: option(s) 0 'IAP'" in out
    out = _ok(["codebook", "check", str(ess[1])])
    assert "lnghom1 (99)" in out and "wrkprty" in out


def test_story_fidelity_re_asks_lettered_items_only(gss) -> None:
    from valuesim.methods.story import story_fidelity

    data = gss[2]
    person = data.respondent(data.ids[0])
    report = story_fidelity(compose(person, data.codebook), person, data.codebook, get_model("mock"), n=None)
    asked = {item["question"] for item in report.items}
    assert "cappun" in asked and not asked & {"occ10", "ethnic", "age"}


def test_wvs_countries_of_birth_take_their_article() -> None:
    from valuesim.methods.phrasing import phrase
    from valuesim.survey import load_codebook

    q = load_codebook().get("Q266")
    code = next(c for c, lab in q.options.items() if lab == "United States")
    assert phrase(q, code, "Peru").sentence == "You were born in the United States."


def test_narrative_model_check_re_asks_lettered_items_only(gss) -> None:
    from valuesim.methods.story import build_backstory

    data = gss[2]
    person = data.respondent(data.ids[0])
    story = build_backstory(person, data.codebook, get_model("mock"), style="narrative", model_check=True, store=False)
    assert story.meta["style"] == "narrative"  # occ10 (540 options) is not re-asked: no "too many options"


def test_dense_generic_scales_keep_position_and_ends() -> None:
    from valuesim.methods.story import densify

    fact = 'Asked "Trust in Norway\'s parliament" on a scale from 0 ("No trust at all") to 10 ("Complete trust"), you answered 2.'
    assert densify(fact) == "Trust in Norway's parliament: 2 (0 = No trust at all, 10 = Complete trust)."
    fact = 'Asked "How happy are you?" on a scale from 0 ("Unhappy") to 10 ("Happy"), you answered 5 ("Neither").'
    assert densify(fact) == 'How happy are you? 5 "Neither" (0 = Unhappy, 10 = Happy).'
    fact = 'Asked "Gross pay" on a scale from -4 ("Low, extremely unfair") to 4 ("High, extremely unfair"), you answered -3.'
    assert densify(fact) == "Gross pay: -3 (-4 = Low, extremely unfair; 4 = High, extremely unfair)."

"""Shapes met when a new user ran `codebook infer` on ESS- and GSS-like files (built here):
timing-of-life ages with several labelled special codes, the non-answer boxes of a
mark-all-that-apply question, and the GSS's "iap" (inapplicable) missing label."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from valuesim.survey import Missing, QuestionKind, load_survey
from valuesim.survey.codebook import missing_code_for
from valuesim.survey.custom import infer_codebook

N = 120


def _write_ess_like(path: Path) -> None:
    import pyreadstat

    rng = np.random.default_rng(5)
    ages = rng.integers(15, 80, N).astype(float)
    ages[:10] = [0, 111, 222, 555, 777, 888, 999, 0, 111, 555]  # special and missing codes
    frame = pd.DataFrame(
        {
            "idno": np.arange(1, N + 1, dtype=float),
            "cntry": ["NO"] * N,
            "gndr": rng.choice([1.0, 2.0], N),
            "agea": rng.integers(15, 90, N).astype(float),
            "ageadlt": ages,
            "dscrgnd": rng.choice([0.0, 1.0], N),
            "dscrdk": rng.choice([0.0, 1.0], N, p=[0.95, 0.05]),
            "dscrref": rng.choice([0.0, 1.0], N, p=[0.95, 0.05]),
            "dscrnap": rng.choice([0.0, 1.0], N, p=[0.5, 0.5]),
            "dscrna": np.zeros(N),
            "happy": rng.integers(0, 11, N).astype(float),
        }
    )
    frame.loc[N - 1, "dscrna"] = 1.0
    marked = {0: "Not marked", 1: "Marked"}
    pyreadstat.write_sav(
        frame,
        str(path),
        column_labels={
            "idno": "Respondent's identification number",
            "cntry": "Country",
            "gndr": "Gender",
            "agea": "Age of respondent, calculated",
            "ageadlt": "Age reached adulthood",
            "dscrgnd": "Discrimination of respondent's group: gender",
            "dscrdk": "Discrimination of respondent's group: don't know",
            "dscrref": "Discrimination of respondent's group: refusal",
            "dscrnap": "Discrimination of respondent's group: not applicable",
            "dscrna": "Discrimination of respondent's group: no answer",
            "happy": "How happy are you",
        },
        variable_value_labels={
            "gndr": {1: "Male", 2: "Female", 9: "No answer"},
            "ageadlt": {
                0: "Never",
                111: "Should never",
                222: "Should never",
                555: "Different for men and women",
                777: "Refusal",
                888: "Don't know",
                999: "No answer",
            },
            "dscrgnd": marked,
            "dscrdk": marked,
            "dscrref": marked,
            "dscrnap": marked,
            "dscrna": marked,
            "happy": {0: "Extremely unhappy", **{i: str(i) for i in range(1, 10)}, 10: "Extremely happy"},
        },
        missing_ranges={"ageadlt": [{"lo": 777, "hi": 999}], "gndr": [9]},
    )


@pytest.fixture(scope="module")
def ess(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ess") / "ess_like.sav"
    _write_ess_like(path)
    return path


def test_an_age_with_several_special_codes_is_a_quantity(ess: Path) -> None:
    res = infer_codebook(ess)
    q = res.codebook.get("ageadlt")
    assert q.kind is QuestionKind.NUMERIC, q.kind
    # the ages are answers, the special codes are not
    assert {0, 111, 222, 555, 777, 888, 999} <= set(q.missing)
    assert any(line.startswith("ageadlt:") and "a quantity" in line for line in res.notes)
    data = load_survey(ess, codebook=res.codebook)
    ages = [p.answers.get("ageadlt") for p in (data.respondent(i) for i in data.ids)]
    answered = [a for a in ages if a is not None]
    assert len(answered) == N - 10 and all(15 <= a < 80 for a in answered)


def test_non_answer_boxes_of_a_mark_all_question_are_flags(ess: Path) -> None:
    res = infer_codebook(ess)
    for var in ("dscrdk", "dscrref", "dscrnap", "dscrna"):
        assert res.codebook.excluded.get(var) == "filter or flag variable", var
        assert var not in res.codebook
    # the substantive boxes stay value items
    assert "dscrgnd" in res.codebook and not res.codebook.get("dscrgnd").profile
    assert res.codebook.roles["sex"] == "gndr"


@pytest.mark.parametrize(
    ("label", "code"),
    [("iap", -3), ("IAP", -3), ("inap", -3), ("Not applicable", -3), ("dk", -1), ("na", -2), ("dk,na", -1)],
)
def test_missing_labels_map_to_their_meaning(label: str, code: int) -> None:
    assert missing_code_for(label) == code


def test_gss_iap_loads_as_not_applicable(tmp_path: Path) -> None:
    import pyreadstat

    rng = np.random.default_rng(1)
    nat = rng.choice([1.0, 2.0, 3.0], N)
    nat[: N // 2] = 0  # asked of half the sample (the other ballot): "iap"
    frame = pd.DataFrame(
        {
            "id": np.arange(1, N + 1, dtype=float),
            "sex": rng.choice([1.0, 2.0], N),
            "age": rng.integers(18, 90, N).astype(float),
            "natspac": nat,
        }
    )
    path = tmp_path / "gss_like.dta"
    pyreadstat.write_dta(
        frame,
        str(path),
        column_labels=["respondent id number", "respondents sex", "age of respondent", "space exploration program"],
        variable_value_labels={
            "sex": {1: "male", 2: "female"},
            "age": {89: "89 or older", 98: "dk", 99: "na"},
            "natspac": {0: "iap", 1: "too little", 2: "about right", 3: "too much", 8: "dk", 9: "na"},
        },
    )
    res = infer_codebook(path, country="USA")
    data = load_survey(path, codebook=res.codebook)
    people = [data.respondent(i) for i in data.ids]
    assert all(p.missing.get("natspac") is Missing.NOT_APPLICABLE for p in people[: N // 2])
    assert all("natspac" in p.answers for p in people[N // 2 :])


def test_an_isco08_occupation_code_is_not_a_quantity(tmp_path: Path) -> None:
    import pyreadstat

    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {
            "idno": np.arange(1, N + 1, dtype=float),
            "gndr": rng.choice([1.0, 2.0], N),
            "agea": rng.integers(15, 90, N).astype(float),
            "isco08": rng.choice([1120.0, 2211.0, 2320.0, 3112.0, 4110.0, 5120.0, 7112.0, 8322.0, 9112.0, 66666.0], N),
            "trstprl": rng.integers(0, 11, N).astype(float),
        }
    )
    path = tmp_path / "isco.sav"
    pyreadstat.write_sav(
        frame,
        str(path),
        column_labels=[
            "Respondent's identification number",
            "Gender",
            "Age of respondent, calculated",
            "Occupation, ISCO08",
            "Trust in country's parliament",
        ],
        variable_value_labels={
            "gndr": {1: "Male", 2: "Female"},
            "isco08": {66666: "Not applicable", 77777: "Refusal", 88888: "Don't know", 99999: "No answer"},
            "trstprl": {0: "No trust at all", 10: "Complete trust"},
        },
        missing_ranges={"isco08": [{"lo": 66666, "hi": 99999}]},
    )
    cb = infer_codebook(path).codebook
    # told to a persona as "you answered 5120", or averaged by a method, an ISCO code means nothing
    assert "isco08" not in cb and "classification code" in cb.excluded["isco08"]


def test_ess_difficulty_and_hampered_items_are_ordinal(tmp_path: Path) -> None:
    import pyreadstat

    rng = np.random.default_rng(4)
    frame = pd.DataFrame(
        {
            "idno": np.arange(1, N + 1, dtype=float),
            "gndr": rng.choice([1.0, 2.0], N),
            "agea": rng.integers(15, 90, N).astype(float),
            "hincfel": rng.choice([1.0, 2.0, 3.0, 4.0, 8.0], N),
            "hlthhmp": rng.choice([1.0, 2.0, 3.0], N),
            "vote": rng.choice([1.0, 2.0, 3.0], N),
        }
    )
    path = tmp_path / "ordinal.sav"
    pyreadstat.write_sav(
        frame,
        str(path),
        column_labels=[
            "Respondent's identification number",
            "Gender",
            "Age of respondent, calculated",
            "Feeling about household's income nowadays",
            "Hampered in daily activities by illness/disability/infirmity/mental problem",
            "Voted last national election",
        ],
        variable_value_labels={
            "gndr": {1: "Male", 2: "Female"},
            "hincfel": {
                1: "Living comfortably on present income",
                2: "Coping on present income",
                3: "Difficult on present income",
                4: "Very difficult on present income",
                8: "Don't know",
            },
            "hlthhmp": {1: "Yes a lot", 2: "Yes to some extent", 3: "No"},
            "vote": {1: "Yes", 2: "No", 3: "Not eligible to vote"},
        },
    )
    cb = infer_codebook(path).codebook
    assert cb.get("hincfel").kind is QuestionKind.ORDINAL  # scored by nMAE, ordered for knn
    assert cb.get("hlthhmp").kind is QuestionKind.ORDINAL
    assert cb.get("vote").kind is QuestionKind.NOMINAL


def test_data_show_and_questions_print_bracketed_placeholders(tmp_path: Path) -> None:
    import pyreadstat
    from typer.testing import CliRunner

    from valuesim.cli import app

    rng = np.random.default_rng(6)
    frame = pd.DataFrame(
        {
            "idno": np.arange(1, N + 1, dtype=float),
            "gndr": rng.choice([1.0, 2.0], N),
            "agea": rng.integers(15, 90, N).astype(float),
            "netifr": rng.integers(-4, 5, N).astype(float),
        }
    )
    path = tmp_path / "brackets.sav"
    pyreadstat.write_sav(
        frame,
        str(path),
        column_labels=[
            "Respondent's identification number",
            "Gender",
            "Age of respondent, calculated",
            "Your net [pay/pensions/social benefits] in [country] is unfairly low, fair, or unfairly high",
        ],
        variable_value_labels={
            "gndr": {1: "Male", 2: "Female"},
            "netifr": {-4: "[Low] extremely unfair", 0: "Fair", 4: "High, extremely unfair"},
        },
    )
    runner = CliRunner()
    show = runner.invoke(
        app, ["data", "show", "--data", str(path), "--codebook", "auto", "-r", "1"], env={"COLUMNS": "300"}
    )
    assert show.exit_code == 0, show.output
    assert "[pay/pensions/social benefits] in [country]" in show.output  # text, not swallowed as markup
    listed = runner.invoke(app, ["data", "questions", "--codebook", str(_yaml(path, tmp_path))], env={"COLUMNS": "300"})
    assert listed.exit_code == 0, listed.output
    assert "[pay/pensions/social benefits]" in listed.output
    one = runner.invoke(app, ["data", "questions", "--codebook", str(_yaml(path, tmp_path)), "netifr"])
    assert "[Low] extremely unfair" in one.output, one.output


def _yaml(path: Path, tmp_path: Path) -> Path:
    from valuesim.survey.custom import write_codebook_yaml

    out = tmp_path / "cb.yaml"
    if not out.exists():
        write_codebook_yaml(infer_codebook(path).codebook, out)
    return out


def test_infer_summary_prints_labels_with_brackets(tmp_path: Path) -> None:
    import pyreadstat
    from typer.testing import CliRunner

    from valuesim.cli import app

    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "idno": np.arange(1, N + 1, dtype=float),
            "gndr": rng.choice([1.0, 2.0], N),
            "agea": rng.integers(15, 90, N).astype(float),
            "stfdem": rng.integers(0, 11, N).astype(float),
        }
    )
    path = tmp_path / "labels.sav"
    pyreadstat.write_sav(
        frame,
        str(path),
        column_labels=["Respondent's identification number", "gender [recoded]", "age [computed]", "Democracy"],
        variable_value_labels={"gndr": {1: "Male", 2: "Female"}, "stfdem": {0: "Bad", 10: "Good"}},
    )
    res = CliRunner().invoke(app, ["codebook", "infer", str(path), "--out", str(tmp_path / "cb.yaml")])
    assert res.exit_code == 0, res.output
    assert "('gender [recoded]')" in res.output and "('age [computed]')" in res.output

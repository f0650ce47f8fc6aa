"""Issue 25: ESS- and GSS-shaped labelled files work unaided, from `codebook infer` to a persona.

The fixtures (tests/survey/survey_shapes.py) reproduce the shapes of ESS round 9 (SPSS) and
GSS 2018 (Stata) downloads with SYNTHETIC respondents: see that module's docstring.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from survey_shapes import write_ess, write_gss
from typer.testing import CliRunner

from valuesim.cli import app
from valuesim.errors import ConfigError
from valuesim.methods.story import build_backstory, collect_facts
from valuesim.survey import QuestionKind, load_survey
from valuesim.survey.custom import infer_codebook, load_codebook_file, write_codebook_yaml

runner = CliRunner()
N = 120
ESS_ADMIN = {
    "essround", "stratum", "psu", "spltadmd", "hincfel_f", "inwyys", "inwmms", "inwdds", "inwshh", "inwsmm",
    "inwyye", "inwmme", "inwdde", "inwehh", "inwemm", "inwtm",
}  # fmt: skip
GSS_ADMIN = {"year", "ballot", "sample", "vstrat", "vpsu", "intage", "intethn", "intsex", "dateintv", "lngthinv"}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("shapes")
    return {"ess": write_ess(root / "ESS9NO.sav", n=N), "gss": write_gss(root / "GSS2018.dta", n=N)}


def test_ess_rules(files: dict[str, Path], tmp_path: Path) -> None:
    res = infer_codebook(files["ess"])
    cb = res.codebook
    assert cb.roles == {"sex": "gndr", "age": "agea"}  # not dscrgnd, not the household grid's gndr2
    assert cb.id_column == "idno" and cb.country_column == "cntry"
    # 0-10 scales with inner points labelled "1".."9": scales, ends kept
    for qid in ("ppltrst", "trstprl", "stfdem", "stfedu", "lrscale", "happy"):
        q = cb[qid]
        assert q.kind is QuestionKind.SCALE and min(q.options) == 0 and max(q.options) == 10, qid
        assert q.options[0] not in ("0",) and q.options[10] != "10" and q.options[5] == "5"
    # category codes that only look like a range are not scales
    assert cb["eisced"].kind is not QuestionKind.SCALE and set(cb["eisced"].options) == {0, 1, 2, 3, 4, 5, 6, 7, 55}
    assert cb["vteubcmb"].kind is QuestionKind.NOMINAL and len(cb["vteubcmb"].options) == 6
    assert cb["hinctnta"].kind is QuestionKind.ORDINAL  # deciles (show-card letters before them)
    # quantities: never missing wholesale; a labelled special code is said, not silently lost
    for qid in ("agea", "yrbrn", "eduyrs", "ageoage", "lvpntyr"):
        assert cb[qid].kind is QuestionKind.NUMERIC, qid
    assert any(n.startswith("ageoage:") and '"Never"' in n for n in res.notes)
    # valid negative codes
    assert cb["grspfr"].kind is QuestionKind.SCALE and cb["grspfr"].code_offset == 4
    assert cb["grspfr"].options[0] == "Low, extremely unfair" and cb["grspfr"].file_code(8) == 4
    # prompts and stories use the file's codes
    from valuesim.methods.phrasing_generic import phrase_generic
    from valuesim.methods.prompting import target_options

    assert target_options(cb["grspfr"])[1][0] == "-4 (Low, extremely unfair)"
    fact = phrase_generic(cb["grspfr"], 2, cb)
    assert fact is not None and "-4" in fact.sentence and "answered -2" in fact.sentence
    # design / administration / flags / weights never become items; the reasons are printed
    assert not ESS_ADMIN & set(cb.ids())
    assert {"dweight", "pspwght", "pweight", "anweight"} <= set(cb.excluded)
    assert cb.excluded["inwyys"] == "interview time or administration"
    assert "prtvtdfi" in cb.excluded  # blank in this country
    assert any("inwyys" in n and "interview" in n for n in res.notes)
    # profile: demographics only
    assert {"gndr", "agea", "yrbrn", "eisced", "eduyrs", "hinctnta", "domicil", "ctzcntr"} <= set(cb.profile())
    assert not {"stfedu", "imsmetn", "ageoage", "dscrgnd", "lvpntyr", "ppltrst"} & set(cb.profile())
    # the YAML holds the negative codes and reads back to the same codebook
    path = write_codebook_yaml(cb, tmp_path / "ess.yaml")
    raw = yaml.safe_load(path.read_text())
    grspfr = next(i for i in raw["items"] if i["id"] == "grspfr")
    assert min(grspfr["options"]) == -4 and grspfr["options"][-4] == "Low, extremely unfair"
    again = load_codebook_file(path)
    assert again["grspfr"].options == cb["grspfr"].options and again["grspfr"].code_offset == 4


def test_ess_loading_keeps_answers(files: dict[str, Path]) -> None:
    cb = infer_codebook(files["ess"]).codebook
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.PerformanceWarning)
        data = load_survey(files["ess"], codebook=cb)
    import pyreadstat

    frame, _ = pyreadstat.read_sav(str(files["ess"]), user_missing=True)
    for qid in ("agea", "yrbrn", "lvpntyr", "ageoage"):
        valid = (data.frame[qid] >= 0).sum()
        assert valid >= 0.8 * N, (qid, valid)
    # grspfr: file -4..4 stored 0..8, file missing codes stored as survey-wide negative codes
    stored = data.frame["grspfr"].to_numpy()
    file_codes = frame["grspfr"].to_numpy()
    ok = (file_codes >= -4) & (file_codes <= 4)
    assert np.array_equal(stored[ok], file_codes[ok] + 4)
    assert (stored[~ok] < 0).all()
    assert not data.report.out_of_range.get("grspfr")


def test_gss_rules(files: dict[str, Path]) -> None:
    res = infer_codebook(files["gss"])
    cb = res.codebook
    assert cb.roles == {"sex": "sex", "age": "age"}  # not acqntsex, not agekdbrn
    assert cb.id_column == "id" and cb.country_column is None and cb.country is None
    age = cb["age"]
    assert age.kind is QuestionKind.NUMERIC and age.value_range is not None and age.value_range[1] == 89
    assert set(age.missing) == {98, 99}
    assert "degree" in cb.profile() and "polviews" not in cb.profile()
    pol = cb["polviews"]
    assert pol.kind is QuestionKind.ORDINAL and set(pol.options) == set(range(1, 8)) and {8, 9, 98} <= set(pol.missing)
    assert 98 not in cb["income"].options and 13 not in cb["income"].options and max(cb["income"].options) == 12
    assert cb["income"].kind is QuestionKind.ORDINAL  # rising brackets
    assert cb["childs"].kind is QuestionKind.NUMERIC and cb["childs"].value_range == (0, 8)
    assert cb["tvhours"].kind is QuestionKind.NUMERIC and 97 in cb["tvhours"].missing
    assert "occ10" in cb.excluded  # a code, not a quantity
    assert not GSS_ADMIN & set(cb.ids())
    assert {"wtssall", "wtssnr", "wtssps"} <= set(cb.excluded)
    assert cb.excluded["intsex"] == "interviewer characteristic"
    assert any("no country column" in n for n in res.notes)


def test_infer_never_fails_and_says_why(tmp_path: Path) -> None:
    import pyreadstat

    n = 60
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "one": np.ones(n),  # a single labelled code: cannot be typed
            "few": rng.choice([1.0, 2.0, 3.0], n),  # one label, a few unlabelled values: numeric
            "opinion": rng.choice([1.0, 2.0], n),
            "blank": np.full(n, np.nan),
            "score": rng.normal(0, 1, n),  # a derived index: not integer codes
        }
    )
    path = tmp_path / "odd.sav"
    pyreadstat.write_sav(
        frame,
        str(path),
        column_labels={"one": "Asked only of some", "few": "Cars owned", "opinion": "Ever voted", "blank": "Blank"},
        variable_value_labels={"one": {1: "Yes"}, "few": {3: "Three or more"}, "opinion": {1: "Yes", 2: "No"}},
    )
    out = tmp_path / "odd.yaml"
    res = runner.invoke(app, ["codebook", "infer", str(path), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "one: left out" in res.stdout and "few:" in res.stdout and "no profile items found" in res.stdout
    text = out.read_text()
    assert "# check: one: left out" in text
    raw = yaml.safe_load(text)
    assert {i["id"] for i in raw["items"]} == {"few", "opinion"}
    assert set(raw["excluded"]) == {"one", "blank", "score"}
    assert next(i for i in raw["items"] if i["id"] == "few")["kind"] == "numeric"
    # loading it asks for profile items, with a clear message (a ConfigError: exit 2, no traceback)
    res = runner.invoke(app, ["codebook", "check", str(out)])
    assert isinstance(res.exception, ConfigError) and "no profile items" in res.exception.message


def _ok(args: list[str]) -> str:
    res = runner.invoke(app, args)
    assert res.exit_code == 0, (args, res.output, res.exception)
    return res.output


@pytest.mark.parametrize("which", ["ess", "gss"])
def test_every_command_runs(files: dict[str, Path], tmp_path: Path, which: str) -> None:
    data = str(files[which])
    cb = tmp_path / f"{which}.yaml"
    _ok(["codebook", "infer", data, "--out", str(cb)])
    _ok(["codebook", "check", str(cb), "--data", data])
    common = ["--data", data, "--codebook", str(cb), "--n-boot", "20"]
    runs = []
    for method in ("majority", "knn", "supervised"):
        runs.append(tmp_path / method)
        _ok(["bench", *common, "--method", method, "-n", "12", "--out", str(runs[-1])])
    runs.append(tmp_path / "vs")
    _ok(
        [
            "bench",
            *common,
            "--method",
            "valuesim",
            "--model",
            "mock",
            "-n",
            "2",
            "--max-targets",
            "3",
            "--out",
            str(runs[-1]),
        ]
    )
    split = json.loads((runs[0] / "split.json").read_text())
    targets = {q for u in split["units"] for q in u["targets"]}
    assert targets and not targets & (ESS_ADMIN | GSS_ADMIN | {"gndr", "sex", "age", "agea", "degree"})
    _ok(["report", *map(str, runs), "--out", str(tmp_path / "report")])
    assert "XXX" not in (tmp_path / "report" / "report.md").read_text()
    person = "100001" if which == "ess" else "1"
    qid = "happy"
    _ok(["ask", "--data", data, "--codebook", str(cb), "-r", person, "-q", qid, "--model", "mock"])
    for style in ("facts", "dense", "narrative", "raw"):
        _ok(["backstory", "--data", data, "--codebook", str(cb), "-r", person, "--style", style, "--model", "mock"])
    questionnaire = Path(__file__).parents[2] / "examples" / "questionnaire.yaml"
    out = _ok(
        ["simulate", "--data", data, "--codebook", str(cb), "--questions", str(questionnaire), "-n", "4"]
        + ["--min-valid", "5", "--model", "mock", "--out", str(tmp_path / "sim")]
    )
    assert "XXX" not in out and "XXX" not in (tmp_path / "sim" / "report" / "report.md").read_text()


def test_gss_persona_and_no_country(files: dict[str, Path], tmp_path: Path) -> None:
    cb_path = tmp_path / "gss.yaml"
    _ok(["codebook", "infer", str(files["gss"]), "--out", str(cb_path), "--country", "USA"])
    raw = yaml.safe_load(cb_path.read_text())
    assert raw["country"] == "USA" and raw["roles"] == {"sex": "sex", "age": "age"}
    data = load_survey(files["gss"], codebook=load_codebook_file(cb_path))
    person = data.respondent("1")
    assert person.country == "USA"
    story = build_backstory(person, data.codebook).text
    assert "You are 74 years old" in story and "You are a woman" in story
    assert "You live in" in story and "United States" in story
    told = {f.qid for f in collect_facts(person, data.codebook)}
    assert told and not told & GSS_ADMIN and "interviewer" not in story.lower()
    # without --country: country unknown, never "XXX"; ids from the id column
    res = runner.invoke(app, ["data", "summary", str(files["gss"]), "--codebook", "auto", "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert info["countries"] == {"unknown": N} and "XXX" not in res.stdout
    # one line for all blank cells, however many items have them
    assert sum("blank" in note for note in info["notes"]) <= 1


def test_ess_integrated_file_ids_repeat_across_countries(tmp_path: Path) -> None:
    path = write_ess(tmp_path / "ESS9.sav", n=90, countries=("NO", "FI", "SE"))
    res = infer_codebook(path)
    assert res.codebook.id_column == "idno" and res.codebook.country_column == "cntry"
    assert any("unique values within each country" in n for n in res.notes)
    data = load_survey(path, codebook=res.codebook)
    assert set(data.frame["country"]) == {"NOR", "FIN", "SWE"} and data.frame.index.is_unique


def test_rows_without_country_or_id_are_numbered() -> None:
    from valuesim.survey.loaders import UNKNOWN_COUNTRY, assign_ids

    ids, fallback = assign_ids(None, pd.Series([UNKNOWN_COUNTRY] * 3))
    assert list(ids) == ["1", "2", "3"] and fallback == {UNKNOWN_COUNTRY: 3}


def test_stata_extended_missing_values_keep_the_item(tmp_path: Path) -> None:
    import pyreadstat

    n = 40
    rng = np.random.default_rng(0)
    x = pd.Series(rng.choice([1, 2], n).astype(object))
    x[::7], x[3::9] = "d", "i"  # GSS-style .d (dk) and .i (iap)
    frame = pd.DataFrame({"id": np.arange(1, n + 1), "sex": rng.choice([1, 2], n), "cappun": x})
    path = tmp_path / "ext.dta"
    pyreadstat.write_dta(
        frame,
        str(path),
        missing_user_values={"cappun": ["d", "i"]},
        column_labels={"sex": "respondents sex", "cappun": "favor or oppose death penalty for murder"},
        variable_value_labels={
            "sex": {1: "male", 2: "female"},
            "cappun": {1: "favor", 2: "oppose", "d": "dk", "i": "iap"},
        },
    )
    cb = infer_codebook(path).codebook
    assert cb["cappun"].options == {1: "favor", 2: "oppose"} and cb.roles == {"sex": "sex"}
    data = load_survey(path, codebook=cb)
    assert (data.frame["cappun"] < 0).sum() == int(x.isin(["d", "i"]).sum())

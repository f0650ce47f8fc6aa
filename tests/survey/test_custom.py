"""Codebooks for any labelled survey: inference from a .sav, the YAML file, loading, errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from valuesim.errors import ConfigError, DataError
from valuesim.survey import Missing, QuestionKind, load_survey
from valuesim.survey.custom import (
    codebook_to_dict,
    infer_codebook,
    load_codebook_file,
    resolve_codebook,
    write_codebook_yaml,
)
from valuesim.survey.labelled_example import labelled_example_frame, write_labelled_example


@pytest.fixture(scope="module")
def sav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_labelled_example(tmp_path_factory.mktemp("custom") / "survey.sav", n=300, seed=0)


@pytest.fixture(scope="module")
def codebook_yaml(sav: Path) -> Path:
    result = infer_codebook(sav)
    return write_codebook_yaml(result.codebook, sav.with_name("codebook.yaml"))


def test_example_file_has_40_items_of_mixed_kinds(sav: Path) -> None:
    frame, meta = labelled_example_frame(300, 0)
    items = [c for c in frame.columns if c not in ("idno", "cntry", "pspwght")]
    assert len(frame) == 300 and len(items) == 40
    assert meta["missing_ranges"]["trstprl"] == [77, 88]
    assert sav.stat().st_size > 10_000


def test_infer_kinds_missing_values_profile_and_roles(sav: Path) -> None:
    result = infer_codebook(sav)
    cb = result.codebook
    assert len(cb) == 40 and cb.phrasing == "generic" and not cb.is_wvs
    assert (cb.id_column, cb.country_column) == ("idno", "cntry")
    assert cb.excluded == {"idno": "respondent id", "cntry": "country", "pspwght": "survey weight"}
    kinds = {q.id: q.kind for q in cb}
    assert kinds["trstprl"] is QuestionKind.SCALE and cb.get("trstprl").options[0] == "No trust at all"
    assert cb.get("trstprl").options[5] == "5" and len(cb.get("trstprl").options) == 11
    assert kinds["freehms"] is QuestionKind.ORDINAL  # SPSS measure "ordinal"
    assert kinds["ipcrtiv"] is QuestionKind.ORDINAL  # labels read as degrees ("Very much like me" ...)
    assert kinds["rlgatnd"] is QuestionKind.ORDINAL  # frequencies
    assert kinds["prtcl"] is QuestionKind.NOMINAL and kinds["vote"] is QuestionKind.NOMINAL
    assert kinds["tvtot"] is QuestionKind.NUMERIC and kinds["agea"] is QuestionKind.NUMERIC
    assert cb.get("freehms").missing == {7: "Refusal", 8: "Don't know", 9: "No answer"}
    assert cb.get("agea").missing == {999: "Not available"}
    assert 999 not in range(*(cb.get("agea").value_range or (0, 0)))
    assert set(cb.profile()) == {"agea", "gndr", "eisced", "marsts", "hinctnta", "rlgblg", "domicil", "chldhhe"}
    assert cb.roles == {"sex": "gndr", "age": "agea"}
    # reported, never dropped: the unlabelled code and the item without a label
    notes = "\n".join(result.notes)
    assert "euftf: codes without a label in the data: 6 (4x)" in notes
    assert "imdfetn" in notes and cb.get("imdfetn").text == "imdfetn"
    assert "6 (4x)" in cb.get("euftf").note


def test_yaml_round_trip(sav: Path, codebook_yaml: Path) -> None:
    again = load_codebook_file(codebook_yaml)
    assert codebook_to_dict(again) == codebook_to_dict(infer_codebook(sav).codebook)
    assert codebook_yaml.read_text().startswith("name: survey\n")


def test_load_with_the_codebook(sav: Path, codebook_yaml: Path) -> None:
    data = load_survey(sav, codebook=load_codebook_file(codebook_yaml))
    frame, _ = labelled_example_frame(300, 0)
    assert len(data) == 300 and data.ids[:2] == ["100001", "100002"]
    alpha3 = {"DE": "DEU", "ES": "ESP", "FR": "FRA"}  # the file's alpha-2 codes, resolved
    assert data.country_counts() == {alpha3[k]: v for k, v in frame["cntry"].value_counts().sort_index().items()}
    assert data.version == "survey" and not data.synthetic
    assert data.question_ids == list(data.codebook.ids())
    # the file's own missing codes became the survey-wide ones
    meaning = {"Don't know": Missing.DONT_KNOW, "Refusal": Missing.NO_ANSWER, "No answer": Missing.NO_ANSWER}
    meaning |= {"Not applicable": Missing.NOT_APPLICABLE, "Not available": Missing.MISSING}
    seen = set()
    for q in data.codebook:
        raw, col = frame[q.id].to_numpy(), data.frame[q.id].to_numpy()
        for code, label in q.missing.items():
            if (raw == code).any():
                assert {int(v) for v in col[raw == code]} == {int(meaning[label])}, (q.id, code)
                seen.add(label)
    assert seen == set(meaning)
    assert set(data.frame["agea"].to_numpy()[frame["agea"].to_numpy() == 999]) == {int(Missing.MISSING)}
    assert data.report.out_of_range == {"euftf": {6: 4}}
    assert (data.frame["trstprl"].to_numpy() >= -2).all()
    person = data.respondent("100001")
    assert person.country == alpha3[frame["cntry"][0]]
    assert set(person.answers) <= set(data.codebook.ids())


def test_codebook_auto_equals_the_inferred_file(sav: Path, codebook_yaml: Path) -> None:
    auto = resolve_codebook("auto", str(sav))
    assert auto is not None
    assert codebook_to_dict(auto) == codebook_to_dict(load_codebook_file(codebook_yaml))
    assert resolve_codebook(None, str(sav)) is None
    with pytest.raises(ConfigError, match="needs a labelled data file"):
        resolve_codebook("auto", "synthetic")


def _edited(codebook_yaml: Path, tmp_path: Path, change) -> Path:  # type: ignore[no-untyped-def]
    raw = yaml.safe_load(codebook_yaml.read_text())
    change(raw)
    out = tmp_path / "edited.yaml"
    out.write_text(yaml.safe_dump(raw, sort_keys=False))
    return out


def _set_kind(raw: dict) -> None:
    raw["items"][10]["kind"] = "likert"


def _duplicate(raw: dict) -> None:
    raw["items"].append(dict(raw["items"][12], id=raw["items"][12]["id"].upper()))


def _no_profile(raw: dict) -> None:
    for item in raw["items"]:
        item["profile"] = False


def _bad_role(raw: dict) -> None:
    raw["roles"]["sex"] = "nosuchitem"


def _extra_field(raw: dict) -> None:
    raw["items"][3]["wording"] = "x"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set_kind, "item 'trstplc', field kind: unknown kind 'likert'; use ordinal, nominal, scale or numeric"),
        (_duplicate, "duplicate item id 'STFLIFE' (also 'stflife')"),
        (_no_profile, "no profile items"),
        (_bad_role, "role sex names 'nosuchitem', which is not an item"),
        (_extra_field, "item 'marsts', field wording: Extra inputs are not permitted"),
    ],
)
def test_bad_codebooks_are_config_errors(codebook_yaml: Path, tmp_path: Path, change, message: str) -> None:  # type: ignore[no-untyped-def]
    path = _edited(codebook_yaml, tmp_path, change)
    with pytest.raises(ConfigError) as err:
        load_codebook_file(path)
    assert message in str(err.value)
    assert str(path) in err.value.message


def test_an_item_missing_from_the_data_is_a_data_error(sav: Path, codebook_yaml: Path, tmp_path: Path) -> None:
    def add(raw: dict) -> None:
        raw["items"].append(dict(raw["items"][20], id="notinfile"))

    cb = load_codebook_file(_edited(codebook_yaml, tmp_path, add))
    with pytest.raises(DataError, match=r"1 item\(s\) of the codebook 'survey' are not in .*survey.sav: notinfile"):
        load_survey(sav, codebook=cb)


def test_not_a_codebook_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "x.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="is not a codebook"):
        load_codebook_file(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_codebook_file(tmp_path / "nope.yaml")
    with pytest.raises(DataError, match="only SPSS"):
        infer_codebook(bad)


@pytest.mark.slow
def test_cli_errors_exit_2_without_traceback(codebook_yaml: Path, sav: Path, tmp_path: Path) -> None:
    path = _edited(codebook_yaml, tmp_path, _no_profile)
    for args in (
        ["codebook", "check", str(path)],
        ["bench", "--data", str(sav), "--codebook", str(path), "--method", "majority", "--out", str(tmp_path / "r")],
        ["data", "summary", str(sav), "--codebook", str(tmp_path / "missing.yaml")],
        ["bench", "--data", "synthetic", "--codebook", str(codebook_yaml), "--method", "majority", "--out", "x"],
    ):
        proc = subprocess.run([sys.executable, "-m", "valuesim", *args], capture_output=True, text=True, check=False)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr and "Error:" in proc.stderr, proc.stderr


def test_question_order_and_lookup_are_generic(codebook_yaml: Path) -> None:
    cb = load_codebook_file(codebook_yaml)
    assert cb.get("FREEHMS").id == "freehms"  # any case
    assert cb.sort(["tvtot", "agea", "freehms"]) == ["agea", "freehms", "tvtot"]  # questionnaire order
    with pytest.raises(Exception, match="variable names of survey"):
        cb.get("Q46")

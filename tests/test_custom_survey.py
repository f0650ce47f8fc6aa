"""Acceptance of issue 18: a labelled .sav of another survey, end to end through the CLI.

A generated SPSS file (300 SYNTHETIC respondents, 40 items of mixed kinds, declared missing
values, a few unlabelled codes) -> `codebook infer` -> YAML -> `bench --method supervised`
and `--method valuesim --model mock` -> a backstory that reads naturally and has no codes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from valuesim.cli import app
from valuesim.methods.phrasing_generic import phrase_generic
from valuesim.methods.story import build_backstory, collect_facts
from valuesim.survey import QuestionKind, load_survey
from valuesim.survey.custom import load_codebook_file
from valuesim.survey.labelled_example import write_labelled_example

runner = CliRunner()
NUMBER = re.compile(r"(?<![\w.-])-?\d+(?![\w])")


@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("survey")
    sav = write_labelled_example(root / "my.sav", n=300, seed=1)
    out = root / "my-codebook.yaml"
    res = runner.invoke(app, ["codebook", "infer", str(sav), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "euftf: codes without a label" in res.stdout and "imdfetn" in res.stdout
    # the step docs/surveys.md asks for: give the unlabelled item its wording
    raw = yaml.safe_load(out.read_text())
    for item in raw["items"]:
        if item["id"] == "imdfetn":
            item["text"] = "Allow many or few immigrants of different race or ethnic group from majority"
    out.write_text(yaml.safe_dump(raw, sort_keys=False))
    return sav, out


def _bench(sav: Path, cb: Path, out: Path, *args: str) -> dict:
    res = runner.invoke(app, ["bench", "--data", str(sav), "--codebook", str(cb), "--out", str(out), *args])
    assert res.exit_code == 0, res.output
    return json.loads((out / "metrics.json").read_text())


def test_supervised_beats_majority_on_another_survey(survey: tuple[Path, Path], tmp_path: Path) -> None:
    sav, cb = survey
    sup = _bench(sav, cb, tmp_path / "sup", "--method", "supervised", "-n", "40", "--n-boot", "50")
    maj = _bench(sav, cb, tmp_path / "maj", "--method", "majority", "-n", "40", "--n-boot", "50")
    assert sup["n_predictions"] == maj["n_predictions"] > 40 * 25
    assert sup["n_abstained"] == 0
    assert sup["top1"]["mean"] > maj["top1"]["mean"] + 0.05
    assert set(sup["by_section"]) == {"answers"}
    split = json.loads((tmp_path / "sup" / "split.json").read_text())
    targets = {q for u in split["units"] for q in u["targets"]}
    assert "tvtot" not in targets and "agea" not in targets and "freehms" in targets  # numeric/profile never
    # the runs carry their codebook: report, paired comparison and viewer need no codebook file
    manifest = json.loads((tmp_path / "sup" / "manifest.json").read_text())
    assert manifest["codebook"]["name"] == "my" and len(manifest["codebook"]["items"]) == 40
    res = runner.invoke(app, ["report", str(tmp_path / "sup"), str(tmp_path / "maj"), "--out", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "rep" / "report.html").exists() and "supervised" in (tmp_path / "rep" / "report.md").read_text()
    res = runner.invoke(app, ["bench", "compare", str(tmp_path / "sup"), str(tmp_path / "maj"), "--n-boot", "50"])
    assert res.exit_code == 0, res.output
    from valuesim.bench.rundir import open_run, shared_codebook
    from valuesim.view import RunStore

    book = shared_codebook([open_run(tmp_path / "sup")])
    assert not book.is_wvs and len(RunStore([tmp_path / "sup"], book)) == 1
    # runs of two different surveys are not reported together
    wvs = tmp_path / "wvs"
    res = runner.invoke(app, ["bench", "--data", "synthetic", "--method", "majority", "-n", "5", "--out", str(wvs)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["report", str(tmp_path / "sup"), str(wvs), "--out", str(tmp_path / "rep2")])
    assert res.exit_code != 0 and "different surveys" in res.exception.message


def test_valuesim_with_the_mock_model_and_auto_codebook(survey: tuple[Path, Path], tmp_path: Path) -> None:
    sav, _ = survey
    res = runner.invoke(
        app,
        ["bench", "--data", str(sav), "--codebook", "auto", "--method", "valuesim", "--model", "mock"]
        + ["-n", "3", "--max-targets", "4", "--n-boot", "50", "--out", str(tmp_path / "vs")],
    )
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "vs" / "metrics.json").read_text())
    assert metrics["n_predictions"] > 0 and metrics["llm_calls"] > 0


def test_backstory_reads_naturally_and_has_no_codes(survey: tuple[Path, Path]) -> None:
    sav, cb_path = survey
    data = load_survey(sav, codebook=load_codebook_file(cb_path))
    cb = data.codebook
    person = data.respondent(data.ids[0])
    story = build_backstory(person, cb)
    text = story.text
    assert "You are" in text and "years old" in text
    assert re.search(r"You are a (man|woman)\.", text)
    assert 'on a scale from 0 ("' in text
    assert "You live in " in text and f"You live in {person.country}" not in text  # named, not a code
    for f in collect_facts(person, cb):
        if f.qid == "country":
            continue
        q = cb.get(f.qid)
        code = person.answers[f.qid]
        allowed = set(NUMBER.findall(f"{q.short} {q.options.get(code, '')}"))
        if q.kind in (QuestionKind.NUMERIC, QuestionKind.SCALE):
            allowed |= {str(code), *(str(c) for c in ((min(q.options), max(q.options)) if q.options else ()))}
        stray = set(NUMBER.findall(f.sentence)) - allowed
        assert not stray, (f.qid, code, f.sentence)
        if f.qid not in q.short.lower():
            assert f.qid not in f.sentence, f.sentence  # no variable names
    # missing answers (the file's 7/8/9, 77/88, 999 ...) are never phrased, and no negative code appears
    missing = [p for p in (data.respondent(i) for i in data.ids[:30]) if p.missing]
    assert missing
    for p in missing:
        assert not {f.qid for f in collect_facts(p, cb)} & set(p.missing)
        assert not re.search(r"(?<![\w])-[1-5](?![\w])", build_backstory(p, cb).text)
    # every answer of every item phrases without codes (the WVS test, on this codebook)
    for q in cb:
        for code in q.codes if q.kind is not QuestionKind.NUMERIC else [q.value_range[0] if q.value_range else 1]:
            fact = phrase_generic(q, code, cb)
            assert fact is not None and fact.sentence[0].isupper() and fact.sentence.endswith((".", '"'))
            assert "{" not in fact.sentence and "[" not in fact.sentence


def test_data_commands_with_the_codebook(survey: tuple[Path, Path]) -> None:
    sav, cb = survey
    res = runner.invoke(app, ["data", "summary", str(sav), "--codebook", str(cb), "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert info["respondents"] == 300 and info["questions"] == 40 and info["profile_questions"] == 8
    assert info["out_of_range"] == {"euftf": {"6": 4}}
    res = runner.invoke(app, ["data", "show", str(sav), "--codebook", str(cb), "--respondent", "100001"])
    assert res.exit_code == 0 and "Gender" in res.stdout
    res = runner.invoke(app, ["data", "questions", "--codebook", str(cb)])
    assert res.exit_code == 0 and "trstprl" in res.stdout
    res = runner.invoke(
        app,
        ["ask", "--data", str(sav), "--codebook", str(cb), "--respondent", "100001", "-q", "happy", "--model", "mock"],
    )
    assert res.exit_code == 0, res.output

"""Simulate new questions on a sample of real respondents (``valuesim simulate``).

A simulation is a plan and a finisher handed to the run engine (:mod:`valuesim.bench.engine`,
which owns locking, resume, failures, progress and provenance), so it is incremental,
resumable and runs on any executor (``--executor ray``, endpoint pools) like a benchmark:

1. **plan** (:class:`SimulationPlan`): a seeded sample of respondents (:func:`~valuesim.bench.protocol.sample_respondents`,
   spread over countries) and one unit per person whose targets are the new questions and whose
   history is the person's whole record;
2. **engine**: the run directory (``split.json``, ``predictions.jsonl`` appended unit by unit,
   ``failures.jsonl`` and ``manifest.json``; a directory made for another questionnaire,
   sample, method or model is refused), the fit of a method that learns from the known items,
   the executors (in-process or Ray) with the method's progress bar;
3. **summarise** (:class:`Summarise`) (instead of scoring: nobody has answered the questions): ``answers.parquet`` /
   ``answers.csv`` (one row per respondent x question), ``distributions.parquet`` / ``.csv``
   (answer shares per question x country, x sex and x age band) and ``summary.json``. The HTML
   report (one stacked-bar figure per question) is written from the result by the layer above
   (:func:`valuesim.report.simulation.report_simulation`; ``valuesim simulate`` does).

Killing the process (even ``kill -9``) loses at most the units in flight; the same command
resumes, and a finished run re-run makes no model call (the units are on disk, and every model
response is in the LLM cache).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from valuesim.bench.config import RunConfig
from valuesim.bench.engine import Finished, RunPlan, run_plan
from valuesim.bench.execute import Executor, UnitFailure
from valuesim.bench.protocol import ProtocolConfig, Split, Unit, profile_items, sample_respondents
from valuesim.bench.record import Stopwatch
from valuesim.bench.rundir import write_json_atomic
from valuesim.errors import ConfigError
from valuesim.methods.base import Method, refuse_trained
from valuesim.survey import demographics
from valuesim.survey.codebook import Codebook, Question
from valuesim.survey.dataset import SurveyData
from valuesim.survey.questionnaire import extend_codebook

ANSWERS_FILE = "answers"  # .parquet and .csv
DISTRIBUTIONS_FILE = "distributions"  # .parquet and .csv
SUMMARY_FILE = "summary.json"
REPORT_DIR = "report"

ANSWER_COLUMNS = (
    "respondent",
    "country",
    "sex",
    "age_band",
    "question",
    "code",
    "answer",
    "probabilities",
)
DISTRIBUTION_COLUMNS = (
    "question",
    "by",
    "group",
    "code",
    "answer",
    "n",
    "share",
    "mean_probability",
    "n_probabilities",
)


@dataclass(frozen=True)
class SimulationConfig:
    """What defines a simulation (its split): the questions and the sample."""

    questions: tuple[Question, ...]
    n_respondents: int = 100
    countries: tuple[str, ...] | None = None
    seed: int = 42
    min_valid: int = 150
    stratify_by_country: bool = True

    def sample_protocol(self) -> ProtocolConfig:
        return ProtocolConfig.create(
            "simulate",
            n_respondents=self.n_respondents,
            seed=self.seed,
            min_valid=self.min_valid,
            countries=self.countries,
            stratify_by_country=self.stratify_by_country,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.sample_protocol().to_dict(),
            "name": "simulate",
            "kind": "simulate",
            "questions": [_question_dict(q) for q in self.questions],
        }


def _question_dict(q: Question) -> dict[str, Any]:
    return {
        "id": q.id,
        "text": q.text,
        "kind": q.kind.value,
        "section": q.section,
        "options": {str(k): v for k, v in q.options.items()},
    }


@dataclass
class SimulationResult:
    out_dir: Path
    split: Split
    answers: pd.DataFrame
    distributions: pd.DataFrame
    n_units: int
    n_computed: int
    n_resumed: int
    usage: dict[str, float]
    #: the new questions simulated (the configuration's, in its order)
    questions: tuple[Question, ...] = ()
    #: the run's provenance (what :func:`valuesim.report.simulation.report_simulation` prints)
    manifest: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    failures: list[UnitFailure] = field(default_factory=list)


def plan_simulation(data: SurveyData, cfg: SimulationConfig) -> Split:
    """One unit per sampled respondent: the new questions, knowing their whole record."""
    if not cfg.questions:
        raise ConfigError("No questions to simulate.", "Pass --questions FILE (see docs/new-questions.md).")
    notes: list[str] = []
    people = sample_respondents(data, cfg.sample_protocol(), notes)
    profile = set(profile_items(data.codebook))
    present = [q for q in data.question_ids if q not in profile]
    frame = data.frame.loc[people, present]
    targets = tuple(q.id for q in cfg.questions)
    units = []
    for rid, row in zip(people, frame.to_numpy() >= 0, strict=True):
        history = tuple(q for q, ok in zip(present, row, strict=True) if ok)
        units.append(Unit(respondent=rid, fold=0, condition="", targets=targets, history=history))
    return Split(
        protocol=cfg.to_dict(),
        data_fingerprint=data.fingerprint(),
        respondents=list(people),
        folds=[list(targets)],
        units=units,
        notes=notes,
    )


class SimulationPlan(RunPlan):
    """``simulate``'s plan: one unit per sampled person, no real answers; a method that learns
    from the known items (e.g. item-transfer) is fitted on every respondent's known answers."""

    kind = "simulate"
    noun = "answers"
    learns_from = "respondents' answers to the known items"
    with_truth = False

    def __init__(self, data: SurveyData, split: Split, cfg: SimulationConfig, run: RunConfig) -> None:
        super().__init__(data, split)
        self.cfg = cfg
        self.run = run

    def fits(self, method: Method) -> bool:
        return method.learns_from_known_items

    def training(self) -> SurveyData:
        from valuesim.relations import fit_sample

        return fit_sample(self.data, hide=[q.id for q in self.cfg.questions], max_people=self.run.train_max)

    def train_source(self, method: Method) -> str:
        if method.learns_from_known_items:
            return "the respondents' answers to the known items (new questions: nobody has answered them)"
        return "none (new questions: nobody has answered them)"

    def manifest(self, manifest: dict[str, Any]) -> dict[str, Any]:
        manifest["config"]["protocol"] = self.split.protocol
        return manifest

    def predicting(self, n_items: int, concurrency: int) -> str:
        return f"simulating {n_items:,} respondents x {len(self.cfg.questions)} questions (concurrency {concurrency})"


@dataclass(frozen=True)
class Summarise:
    """``simulate``'s finisher: the answer tables of *questions*, their distributions and ``summary.json``."""

    questions: tuple[Question, ...]

    def __call__(self, done: Finished) -> tuple[dict[str, Any], tuple[pd.DataFrame, pd.DataFrame]]:
        return _summarise(done, self.questions)


def _summarise(
    done: Finished, questions: Sequence[Question]
) -> tuple[dict[str, Any], tuple[pd.DataFrame, pd.DataFrame]]:
    data, codebook, method = done.plan.data, done.method.codebook, done.method
    with done.clock("summary_seconds"):
        answers = answers_table(done.rows, data, codebook)
        dists = distributions(answers, codebook, questions)
        _write_frame(answers, done.out / ANSWERS_FILE)
        _write_frame(dists, done.out / DISTRIBUTIONS_FILE)
    summary = {
        "kind": "simulate",
        "n_respondents": len(done.plan.split.respondents),
        "n_questions": len(questions),
        "n_answers": int(answers["code"].notna().sum()),
        "n_abstained": int(answers["code"].isna().sum()),
        "countries": {
            str(k): int(v) for k, v in answers.drop_duplicates("respondent")["country"].value_counts().items()
        },
        "usage_total": dict(done.record.usage_total(done.rows)),
        "usage_this_session": dict(done.record.session.get("usage") or {}),
        "method": method.config(),
        "synthetic": bool(data.synthetic),
        # the simulated distribution is the mean probability; argmax shares are reported beside it
        "distributions": overall_distributions(dists),
    }
    note = smoke_test_note(str(method.config().get("model") or ""))
    if note:
        summary["note"] = note
    write_json_atomic(done.out / SUMMARY_FILE, summary)
    return summary, (answers, dists)


def run_simulation(
    data: SurveyData,
    method: Method,
    cfg: SimulationConfig,
    out_dir: str | Path,
    *,
    run: RunConfig | None = None,
    executor: Executor | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> SimulationResult:
    """Answer ``cfg.questions`` for a sample of *data*'s respondents with *method* (built on a
    codebook that holds the questions: :func:`~valuesim.survey.questionnaire.extend_codebook`)."""
    refuse_trained(method.name, type(method))
    missing = [q.id for q in cfg.questions if q.id not in method.codebook]
    if missing:
        raise ConfigError(
            f"The method's codebook lacks the question(s) {', '.join(missing)}.",
            "Build the method on extend_codebook(data.codebook, questions).",
        )
    rcfg = run or RunConfig()
    clock = Stopwatch()
    with clock("split_seconds"):
        split = plan_simulation(data, cfg)
    result = run_plan(
        SimulationPlan(data, split, cfg, rcfg),
        method,
        Summarise(tuple(cfg.questions)),
        out_dir,
        cfg=rcfg,
        clock=clock,
        executor=executor,
        progress=progress,
        log=log,
    )
    answers, dists = result.value
    return SimulationResult(
        out_dir=result.out_dir,
        split=split,
        answers=answers,
        distributions=dists,
        n_units=result.n_units,
        n_computed=result.n_computed,
        n_resumed=result.n_resumed,
        usage=result.usage,
        questions=tuple(cfg.questions),
        manifest=result.manifest,
        notes=result.notes,
        failures=result.failures,
    )


# --------------------------------------------------------------------------- tables


def smoke_test_note(model: str) -> str | None:
    """What a reader of the results must know about *model*: the embedded smoke-test model and
    the mock model cannot say what people think."""
    from valuesim.llm.backends.local import SMOKE_TEST_NOTE, is_embedded_default

    if is_embedded_default(model):
        return SMOKE_TEST_NOTE
    if model.split(":", 1)[0] == "mock":
        return "Model 'mock' gives deterministic fake answers: for testing the pipeline only."
    return None


#: The group of a person whose sex or age is unknown (or whose survey has no sex / age item).
UNKNOWN_GROUP = "unknown"


def _groups(data: SurveyData, codebook: Codebook, ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """respondent -> (sex label, age band) from the codebook's sex and age roles
    (:mod:`valuesim.survey.demographics`)."""
    out = {}
    for rid in ids:
        answers = data.respondent(rid).answers
        sex = demographics.sex_label(codebook, answers)
        band = demographics.age_band(demographics.age(codebook, answers))
        out[rid] = (sex or UNKNOWN_GROUP, band or UNKNOWN_GROUP)
    return out


def answers_table(rows: Sequence[dict[str, Any]], data: SurveyData, codebook: Codebook) -> pd.DataFrame:
    """One row per respondent x question: the simulated answer (code and label) and its probabilities."""
    groups = _groups(data, codebook, list(dict.fromkeys(str(r["respondent"]) for r in rows)))
    records = []
    for r in rows:
        q = codebook.get(r["question"])
        code = r.get("prediction")
        sex, band = groups[str(r["respondent"])]
        probs = r.get("probabilities")
        records.append(
            {
                "respondent": str(r["respondent"]),
                "country": r.get("country"),
                "sex": sex,
                "age_band": band,
                "question": q.id,
                "code": None if code is None else int(code),
                "answer": None if code is None else q.label(int(code)),
                "probabilities": None if probs is None else json.dumps(probs, sort_keys=True),
            }
        )
    frame = pd.DataFrame.from_records(records, columns=list(ANSWER_COLUMNS))
    frame["code"] = frame["code"].astype("Int64")
    return frame


def _person_distribution(probs: Any, code: Any, codes: Sequence[int]) -> np.ndarray | None:
    """One simulated person's distribution over *codes*: the method's probabilities restricted
    to the options and renormalised; a one-hot on the answer when it gave none; None when it
    abstained."""
    if isinstance(probs, dict) and probs:
        v = np.array([max(0.0, float(probs.get(str(c), probs.get(c, 0.0)) or 0.0)) for c in codes])
        if v.sum() > 0:
            return v / v.sum()
    if code is None or pd.isna(code) or int(code) not in codes:
        return None
    return np.array([1.0 if c == int(code) else 0.0 for c in codes])


def distributions(answers: pd.DataFrame, codebook: Codebook, questions: Sequence[Question]) -> pd.DataFrame:
    """Per question x group (all, country, sex, age band) and option: ``mean_probability``, the
    mean over the group's people of the probability the method gave the option (the simulated
    answer distribution; a person without probabilities counts as a one-hot on their answer,
    ``n_probabilities`` people had probabilities), and ``share``, the share of people whose
    most likely answer (argmax) it is. Every option is listed, also those nobody chose.

    The two differ: a method that gives every person 0.43 for "agree" and 0.30 for "disagree"
    has a mean probability of 0.43 for "agree" but an argmax share of 100 %."""
    out: list[dict[str, Any]] = []
    for q in questions:
        sub = answers[answers["question"] == q.id]
        codes_q = list(q.answer_codes)
        raw = [json.loads(p) if isinstance(p, str) else None for p in sub["probabilities"]]
        person = [_person_distribution(p, c, codes_q) for p, c in zip(raw, sub["code"], strict=True)]
        has_probs = np.array([isinstance(p, dict) and bool(p) for p in raw], dtype=bool)
        for by in ("all", "country", "sex", "age_band"):
            keys = pd.Series("all", index=sub.index) if by == "all" else sub[by].astype(str)
            groups = sorted(set(keys))
            for group in demographics.sort_bands(groups) if by == "age_band" else groups:  # youngest first
                mask = (keys == group).to_numpy()
                codes = sub["code"][mask].dropna().astype(int)
                n = len(codes)
                dists = [d for d, m in zip(person, mask, strict=True) if m and d is not None]
                mean = np.mean(dists, axis=0) if dists else None
                for j, code in enumerate(codes_q):
                    out.append(
                        {
                            "question": q.id,
                            "by": by,
                            "group": group,
                            "code": code,
                            "answer": q.label(code),
                            "n": n,
                            "share": float((codes == code).sum() / n) if n else None,
                            "mean_probability": None if mean is None else float(mean[j]),
                            "n_probabilities": int((has_probs & mask).sum()),
                        }
                    )
    return pd.DataFrame.from_records(out, columns=list(DISTRIBUTION_COLUMNS))


def overall_distributions(dists: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """summary.json's ``distributions``: per question, the whole sample's mean probability and
    argmax share of each option (code -> value)."""
    out: dict[str, dict[str, Any]] = {}
    for qid, g in dists[dists["by"] == "all"].groupby("question", sort=False):
        out[str(qid)] = {
            "n": int(g["n"].iloc[0]) if len(g) else 0,
            "n_probabilities": int(g["n_probabilities"].iloc[0]) if len(g) else 0,
            "mean_probability": {
                str(c): (None if pd.isna(v) else round(float(v), 6))
                for c, v in zip(g["code"], g["mean_probability"], strict=True)
            },
            "argmax_share": {
                str(c): (None if pd.isna(v) else round(float(v), 6)) for c, v in zip(g["code"], g["share"], strict=True)
            },
        }
    return out


def _write_frame(frame: pd.DataFrame, stem: Path) -> None:
    """``stem.parquet`` and ``stem.csv``, each written through a temporary file."""
    for suffix, write in (
        (".parquet", lambda p: frame.to_parquet(p, index=False)),
        (".csv", lambda p: frame.to_csv(p, index=False)),
    ):
        final = stem.with_suffix(suffix)
        tmp = final.with_name(final.name + ".tmp")
        write(tmp)
        tmp.replace(final)


def build_method(name: str, codebook: Codebook, questions: Sequence[Question], **options: Any) -> Method:
    """*name* built on *codebook* extended with *questions* (refusing methods that cannot answer them)."""
    from valuesim.methods.base import get_method, method_info

    refuse_trained(name, method_info(name).cls)
    return get_method(name, extend_codebook(codebook, list(questions)), **options)


__all__ = [
    "SimulationConfig",
    "SimulationPlan",
    "SimulationResult",
    "Summarise",
    "answers_table",
    "build_method",
    "distributions",
    "overall_distributions",
    "plan_simulation",
    "run_simulation",
]

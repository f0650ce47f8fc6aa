"""Issue 27: the story budget spends its tokens on the answers that bear on the question.

Observed item relations (training people only), the capped profile with its most informative
facts first, the per-target block after the shared story, and the history recall@k that every
prediction records. The survey fixture has a profile block longer than the whole budget (as ESS
and GSS files do); its answers are generated from latent traits, so some items go together.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from valuesim.bench.score import history_recall
from valuesim.llm import ChatMessage
from valuesim.methods import Task, get_method
from valuesim.methods.relevance import (
    ChainedRelations,
    LexicalRelations,
    association_matrix,
    observed_relations,
    ranked,
    recall_at_k,
)
from valuesim.methods.story import build_backstory, compose, history_block, profile_rank
from valuesim.scale.mockserver import MockServer
from valuesim.scale.tokencount import ByteTokenizer, RequestLog, chatml
from valuesim.survey import SurveyData
from valuesim.survey.custom import CodebookSpec, codebook_from_spec

AGREE = {1: "Agree strongly", 2: "Agree", 3: "Neither agree nor disagree", 4: "Disagree", 5: "Disagree strongly"}
SCALE = {0: "Extremely dissatisfied", **{i: str(i) for i in range(1, 10)}, 10: "Extremely satisfied"}
TOPICS = ("immigration", "the environment", "the economy", "religion", "family life")


def _profile_items() -> list[dict]:
    """A long profile block, as in ESS / GSS files: household grid, parents, partner, region, work."""
    items = [
        {"id": "region", "text": "Region of residence within the country", "kind": "nominal"},
        {"id": "sex", "text": "Sex of the respondent", "kind": "nominal", "options": {1: "Male", 2: "Female"}},
        {"id": "agea", "text": "Age of the respondent, calculated", "kind": "numeric", "value_range": (15, 99)},
        {
            "id": "eisced",
            "text": "Highest level of education, European Standard Classification of Education",
            "kind": "ordinal",
            "options": {
                1: "Less than lower secondary education",
                2: "Lower secondary education completed",
                3: "Upper secondary education completed",
                4: "Advanced vocational, sub-degree",
                5: "Bachelor's level or higher tertiary education",
            },
        },
    ]
    items[0]["options"] = {i: f"Statistical region number {i} of the national classification" for i in range(1, 9)}
    for who in ("mother", "father", "partner"):
        for what in ("highest level of education", "main activity in the last seven days", "country of birth"):
            items.append(
                {
                    "id": f"{who[:3]}{what[:4].replace(' ', '')}",
                    "text": f"Your {who}'s {what}, as reported by the respondent in the household grid",
                    "kind": "nominal",
                    "options": {
                        i: f"Category {i} of the {what} classification used in this round" for i in range(1, 7)
                    },
                }
            )
    for k in range(1, 13):
        items.append(
            {
                "id": f"hhmem{k}",
                "text": f"Household grid: relationship to the respondent of household member number {k}",
                "kind": "nominal",
                "options": {
                    1: "Husband, wife or partner",
                    2: "Son or daughter",
                    3: "Parent or parent-in-law",
                    4: "Other relative",
                },
            }
        )
    for item in items:
        item["profile"] = True
    return items


STATEMENTS = (
    "Government should spend more money on {t}",
    "{T} matters more to you than most other issues",
    "People like you should care more about {t}",
    "The newspapers write far too little about {t}",
)


def _value_items() -> list[dict]:
    items = []
    for t, topic in enumerate(TOPICS):
        for j, statement in enumerate(STATEMENTS):
            text = statement.format(t=topic, T=topic[0].upper() + topic[1:])
            items.append(
                {
                    "id": f"v{t}{j}",
                    "text": f"How much do you agree or disagree with this statement: {text}",
                    "short": text,
                    "kind": "ordinal",
                    "options": AGREE,
                    "missing": {7: "Refusal", 8: "Don't know", 9: "No answer"},
                }
            )
        items.append(
            {
                "id": f"s{t}",
                "text": f"How satisfied are you with how {topic} is handled in [country]?",
                "short": f"Satisfaction with how {topic} is handled in [country]",
                "kind": "scale",
                "options": SCALE,
            }
        )
    return items


@pytest.fixture(scope="module")
def big_profile_survey() -> SurveyData:
    """300 SYNTHETIC respondents of a survey whose profile block alone is longer than the budget.
    Answers: five latent traits, one per topic; each topic's items load on its trait."""
    spec = CodebookSpec.model_validate(
        {
            "name": "Big profile survey",
            "items": _profile_items() + _value_items(),
            "roles": {"sex": "sex", "age": "agea"},
            "country": "GBR",
        }
    )
    cb = codebook_from_spec(spec)
    rng = np.random.default_rng(5)
    n = 300
    traits = rng.normal(size=(n, len(TOPICS)))
    cols: dict[str, np.ndarray] = {}
    for q in (cb.get(i) for i in cb.ids()):
        if q.kind.value == "numeric":
            cols[q.id] = rng.integers(18, 90, n)
        elif q.profile:
            cols[q.id] = rng.choice(q.answer_codes, n)
        elif q.id.startswith("v"):
            x = traits[:, int(q.id[1])] + 0.6 * rng.normal(size=n)
            cols[q.id] = np.clip(np.round(3 + 1.3 * x), 1, 5)
        else:
            x = traits[:, int(q.id[1])] + 0.8 * rng.normal(size=n)
            cols[q.id] = np.clip(np.round(5 + 2.5 * x), 0, 10)
    frame = pd.DataFrame({k: v.astype(np.int16) for k, v in cols.items()})
    frame.loc[rng.random(n) < 0.05, "v01"] = -1  # don't know
    frame.loc[rng.random(n) < 0.05, "s2"] = -2  # no answer
    frame.insert(0, "country", "GBR")
    frame.index = [f"r{i}" for i in range(n)]
    return SurveyData(frame=frame, codebook=cb, source="SYNTHETIC", synthetic=True)


def approx(text: str) -> int:
    return max(1, len(text) // 4) if text else 0


# --------------------------------------------------------------------------- relations


def test_association_matrix_is_pairwise_complete_and_absolute() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=500)
    x = np.column_stack([a, -a + 0.1 * rng.normal(size=500), rng.normal(size=500), np.ones(500)])
    x[:100, 1] = np.nan  # missing answers are left out pair by pair
    m = association_matrix(x)
    assert m[0, 1] > 0.85 and m[1, 0] == pytest.approx(m[0, 1])  # a negative association counts as strong
    assert m[0, 2] < 0.05  # chance association, less two standard errors
    assert m[0, 3] == 0.0  # a constant column says nothing
    x[25:, 2] = np.nan
    assert association_matrix(x)[0, 2] == 0.0  # fewer than 30 people answered both


def test_observed_relations_rank_items_of_one_trait_first(big_profile_survey: SurveyData) -> None:
    data = big_profile_survey
    rel = observed_relations(data.frame, data.codebook)
    known = [q for q in rel.items if q != "v00"]
    order = ranked(rel.scores("v00", known), data.codebook)
    assert set(order[:4]) == {"v01", "v02", "v03", "s0"}  # the same trait, whatever the wording
    assert rel.scores("v00", ["v00"]) == {}  # never the target itself
    assert rel.knows("hhmem3") and rel.scores("v00", ["hhmem3"])["hhmem3"] < 0.3  # nominal: strongest option
    # only the frame given counts: relations of other people differ
    other = observed_relations(data.frame.iloc[:40], data.codebook)
    assert not np.allclose(other.matrix, rel.matrix)


def test_lexical_relations_score_new_questions_and_chain_after_observed(big_profile_survey: SurveyData) -> None:
    cb = big_profile_survey.codebook
    observed = observed_relations(big_profile_survey.frame.drop(columns=["v40"]), cb)
    chain = ChainedRelations((observed, LexicalRelations(cb)))
    assert not observed.knows("v40") and chain.source("v40") is chain.chain[1]  # nobody answered it: wording
    lexical = chain.scores("v40", ["v41", "v00", "s4", "v12"])
    assert lexical == chain.chain[1].scores("v40", ["v41", "v00", "s4", "v12"])
    assert lexical["v00"] > lexical["v12"]  # "Government should spend more money on ..." in both
    assert chain.source("v00") is observed


def test_recall_at_k_is_the_share_of_the_top_k_in_the_prompt(big_profile_survey: SurveyData) -> None:
    cb = big_profile_survey.codebook
    rel = observed_relations(big_profile_survey.frame, cb)
    known = ["v01", "v02", "v03", "s0", "v10", "v20"]
    top = ranked(rel.scores("v00", known), cb)
    assert recall_at_k(rel, "v00", known, set(top[:2]), cb, k=4) == 0.5
    assert recall_at_k(rel, "v00", known, set(known), cb, k=4) == 1.0
    assert recall_at_k(rel, "v00", [], set(), cb) is None


# --------------------------------------------------------------------------- the budget


def test_the_profile_alone_is_longer_than_the_budget(big_profile_survey: SurveyData) -> None:
    person = next(big_profile_survey.respondents())
    profile = [q for q in big_profile_survey.codebook.profile() if person.has(q)]
    full = compose(person, big_profile_survey.codebook, style="dense", qids=profile)
    assert approx(full.text) > 600
    old = compose(person, big_profile_survey.codebook, style="dense", max_tokens=600, count_tokens=approx)
    assert not [q for q in old.meta["qids_stated"] if not big_profile_survey.codebook.get(q).profile]  # the issue


def test_a_capped_profile_keeps_its_most_informative_facts_and_leaves_room_for_answers(
    big_profile_survey: SurveyData,
) -> None:
    cb = big_profile_survey.codebook
    person = next(big_profile_survey.respondents())
    story = compose(person, cb, style="dense", max_tokens=600, count_tokens=approx, profile_share=0.35)
    stated = story.meta["qids_stated"]
    assert {"sex", "agea", "eisced"} <= set(stated)  # country, sex, age, education first
    assert not any(q.startswith("hhmem") for q in stated)  # the household grid is what gives way
    assert "United Kingdom" in story.text
    answers = [q for q in stated if not cb.get(q).profile]
    assert len(answers) >= 10
    rank = profile_rank(cb, cb.profile())
    assert rank["country"] < rank["sex"] < rank["agea"] < rank["eisced"] < rank["hhmem1"]
    # the same cap in words, for budgets without a tokenizer
    words = build_backstory(person, cb, style="facts", max_words=300, profile_share=0.35)
    assert "sex" in words.meta["qids_stated"] and any(not cb.get(q).profile for q in words.meta["qids_stated"])


def test_history_block_takes_the_most_related_answers_first_within_its_budget(big_profile_survey: SurveyData) -> None:
    cb = big_profile_survey.codebook
    person = next(big_profile_survey.respondents())
    rel = observed_relations(big_profile_survey.frame.iloc[1:], cb)
    known = [q for q in person.answered() if q != "v00"]
    order = ranked(rel.scores("v00", known), cb)
    block = history_block(person, cb, order, max_tokens=120, count_tokens=approx, style="facts", exclude={"v01"})
    assert block.tokens <= 120 and 0 < len(block.qids) < len(order)
    assert "v01" not in block.qids  # already in the shared story
    assert block.qids == [q for q in order if q in set(block.qids)]  # most related first
    assert block.qids[0] == next(q for q in order if q != "v01")
    assert "immigration" in block.lines[0]


# --------------------------------------------------------------------------- through the method


def _prompts(data: SurveyData, person_id: str, targets: tuple[str, ...], **options) -> tuple[list[str], list]:
    person = data.respondent(person_id)
    task = Task(person.restricted([q for q in person.answered() if q not in targets]), targets)
    tok = ByteTokenizer()
    seen: list[str] = []

    class Recording(ByteTokenizer):
        def prompt_ids(self, messages: list[ChatMessage]) -> list[int]:  # type: ignore[override]
            seen.append(chatml(messages))
            return tok.prompt_ids(messages)

    with MockServer(log=RequestLog(Recording())) as srv:
        method = get_method("valuesim", data.codebook, model="openai:mock", base_url=srv.url, cache=False, **options)
        method.fit(data.subset([r for r in data.frame.index if r != person_id]))
        preds = method.predict(task)
    return seen, preds


def test_every_prompt_holds_at_least_ten_answers_though_the_profile_exceeds_the_budget(
    big_profile_survey: SurveyData,
) -> None:
    """Acceptance: on a survey whose profile block alone is longer than the budget, every
    prediction's prompt holds >= 10 of the person's answers, the relevant ones first."""
    data = big_profile_survey
    cb = data.codebook
    targets = ("v00", "s2", "v31", "v43")
    seen, preds = _prompts(data, "r7", targets)
    person = data.respondent("r7")
    module_prompts = [p for p in seen if "You are the person described below" in p]
    assert len(module_prompts) == 3 * len(targets)
    for q, pred in zip(targets, preds, strict=True):
        mine = [p for p in module_prompts if "Question: " + cb.get(q).short.split(" [")[0] in p]
        assert mine
        stated = [
            a
            for a in person.answered()
            if a != q and not cb.get(a).profile and cb.get(a).short.split(" [")[0] in mine[0].split("Question:")[0]
        ]
        assert len(stated) >= 10, (q, stated)
        history = pred.meta["history"]
        assert history["target_facts"] >= 5 and history["recall"] > 0
        block = mine[0].split("Some of your earlier answers in this interview:\n", 1)[1].split("\n\nQuestion:")[0]
        same_trait = [a for a in person.answered() if a != q and a[1] == q[1] and not cb.get(a).profile]
        assert set(same_trait) <= set(stated)  # every answer of the target's own trait is there ...
        lines = block.splitlines()
        assert not any(
            cb.get(a).short.split(" [")[0] in line for a in same_trait for line in lines[len(same_trait) :]
        )  # ... first
    # today's default (by position, profile uncapped) shows none of the answers on this survey
    old_prompts, old = _prompts(data, "r7", targets, selection="position", profile_share=1.0)
    answers = [a for a in person.answered() if not cb.get(a).profile]
    assert not any(cb.get(a).short.split(" [")[0] in p.split("Question:")[0] for a in answers for p in old_prompts)
    assert all(o.meta["history"]["selection"] == "position" and "target_facts" not in o.meta["history"] for o in old)


def test_history_recall_reaches_metrics_and_the_sweep_uses_the_same_selection(big_profile_survey: SurveyData) -> None:
    data = big_profile_survey
    method = get_method("valuesim", data.codebook, model="mock", cache=False)
    method.fit(data.subset(list(data.frame.index[20:])))
    person = data.respondent("r3")
    rows = []
    for h in (4, 12):  # a history sweep's units: h known answers; the budget picks among them by relevance
        known = [q for q in person.answered() if not data.codebook.get(q).profile and q != "v00"][:h]
        task = Task(person.restricted(data.codebook.profile() + known), ("v00",), condition=f"h={h}")
        pred = method.predict(task)[0]
        assert pred.meta["history"]["selection"] == "relevance"
        rows.append({"fold": 0, "condition": task.condition, "meta": pred.meta})
    summary = history_recall(rows)
    assert summary is not None and summary["k"] == 20 and summary["n"] == 2 and summary["selection"] == "relevance"
    assert 0 <= summary["mean"] <= 1


def test_a_profile_only_story_is_not_capped(big_profile_survey: SurveyData) -> None:
    """The cap keeps the profile from crowding out answers; a profile-only baseline has none."""
    data = big_profile_survey
    person = data.respondent("r2")
    shown = person.restricted([q for q in person.answered() if q != "v00"])
    demo = get_method("demographics", data.codebook, model="mock", cache=False)
    story, parts = demo.prompt_parts(shown, ["v00"])  # type: ignore[attr-defined]
    assert all(data.codebook.get(q).profile for q in story.meta["qids_stated"])
    assert story.meta["tokens"] > 0.8 * 600 and parts["v00"].lines == []
    full = get_method("valuesim", data.codebook, model="mock", cache=False)
    core, _ = full.prompt_parts(shown, ["v00"])  # type: ignore[attr-defined]
    profile_core = [q for q in core.meta["qids_stated"] if data.codebook.get(q).profile]
    assert len(profile_core) < len(story.meta["qids_stated"])

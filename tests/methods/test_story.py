"""Backstory rendering: faithful sentences, no codes, no missing answers, styles, store, fidelity."""

from __future__ import annotations

import re

import pytest
from methods_fakes import scripted_model

from valuesim.errors import ConfigError
from valuesim.llm import get_model
from valuesim.methods.phrasing import phrase, scale_anchors
from valuesim.methods.story import (
    StoryStore,
    build_backstory,
    collect_facts,
    compose,
    render_facts,
    story_fidelity,
)
from valuesim.survey import Missing, QuestionKind, Respondent, load_codebook
from valuesim.survey.countries import find_country

CB = load_codebook()
NUMBER = re.compile(r"(?<![\w.-])-?\d+(?![\w])")


def person(answers: dict[str, int], country: str = "PER", missing: dict[str, Missing] | None = None) -> Respondent:
    return Respondent(id="r1", country=country, answers=answers, missing=missing or {})


def allowed_numbers(qid: str, code: int) -> set[str]:
    """Numbers a faithful sentence about this answer may contain."""
    q = CB.get(qid)
    text = f"{q.short} {q.text} {q.options.get(code, '')}"
    ok = set(NUMBER.findall(text))
    if q.kind is QuestionKind.NUMERIC:
        ok.add(str(code))
    anchors = scale_anchors(q)
    if anchors is not None:  # a rating scale position is the answer itself
        ok |= {str(anchors[0]), str(anchors[2]), str(code)}
    return ok


def test_every_answer_of_every_question_renders_without_codes() -> None:
    for q in CB:
        codes = q.codes if q.kind is not QuestionKind.NUMERIC else [q.value_range[0] if q.value_range else 1]
        if len(codes) > 20:  # country / language lists: a few are enough
            codes = codes[:: max(1, len(codes) // 10)]
        for code in codes:
            if code < 0:
                continue
            fact = phrase(q, code, "Peru")
            if fact is None:
                continue
            s = fact.sentence
            assert s[0].isupper() and s.rstrip('"').endswith((".", "?")), (q.id, s)
            assert "{" not in s and "[" not in s, (q.id, s)
            assert not re.search(r"\bQ\d+\b", s), (q.id, s)
            stray = set(NUMBER.findall(s)) - allowed_numbers(q.id, code)
            assert not stray, f"{q.id}={code}: stray number(s) {stray} in {s!r}"


def test_labels_not_codes_on_synthetic_people(synth) -> None:
    for r in list(synth.respondents())[:15]:
        for f in collect_facts(r, synth.codebook):
            if f.qid == "country":
                continue
            stray = set(NUMBER.findall(f.sentence)) - allowed_numbers(f.qid, r.answers[f.qid])
            assert not stray, (f.qid, r.answers[f.qid], f.sentence)
        text = build_backstory(r, synth.codebook).text
        assert not re.search(r"(?<![\w])-[1-5](?![\w])", text)  # missing codes never appear
        assert not re.search(r"\bQ\d+\b", text)


def test_known_phrasings_and_country_names() -> None:
    peru = find_country("PER")
    assert peru is not None
    r = person({"Q1": 1, "Q260": 2, "Q261": 1971, "Q266": peru.numeric, "Q58": 1, "Q46": 3})
    text = " ".join(s for _, s in render_facts(r, CB))
    assert "You live in Peru." in text
    assert "You were born in 1971." in text
    assert "You were born in Peru." in text
    assert "Family is very important in your life." in text
    assert "You trust your family completely." in text
    assert "You are a woman." in text
    assert "not very happy" in text
    assert str(peru.numeric) not in text  # no ISO numeric code
    assert "PER" not in text  # no alpha-3 code


def test_missing_answers_are_never_mentioned() -> None:
    r = person({"Q1": 2}, missing={"Q46": Missing.DONT_KNOW, "Q57": Missing.NO_ANSWER, "Q164": Missing.NOT_ASKED})
    qids = {f.qid for f in collect_facts(r, CB)}
    assert qids == {"Q1", "country"}  # the interview country is always known
    text = build_backstory(r, CB).text
    assert "happy" not in text and "trusted" not in text and "God" not in text
    for word in ("don't know", "no answer", "not asked", "missing"):
        assert word not in text.lower()


def test_sections_grouped_profile_first() -> None:
    r = person({"Q1": 1, "Q46": 1, "Q260": 1, "Q164": 7})
    sections = [s for s, _ in render_facts(r, CB)]
    assert sections[0] == "demographics"
    assert sections == sorted(
        sections, key=lambda s: ["demographics", *[x for x in CB.sections if x != "demographics"]].index(s)
    )
    story = build_backstory(r, CB)
    assert story.sections[0][0] == CB.sections["demographics"].title
    assert "at 7" in story.text and "scale from 1" in story.text


def test_battery_answers_are_condensed_into_one_sentence() -> None:
    r = person({"Q69": 1, "Q70": 1, "Q71": 4})
    story = compose(r, CB, style="facts")
    body = story.sections[1][1]  # sections[0] is the profile ("You live in Peru.")
    assert body.count("great deal of confidence") == 1
    assert "the police and the courts" in body
    assert "no confidence at all in the government" in body
    assert story.n_facts == 4  # three answers and the country of residence


def test_length_limit_keeps_whole_sentences_profile_first(synth) -> None:
    r = next(synth.respondents())
    full = build_backstory(r, synth.codebook)
    short = build_backstory(r, synth.codebook, max_words=200)
    assert short.words <= 200 < full.words
    assert short.n_facts < full.n_facts == full.meta["n_facts_total"]
    assert short.sections[0][0] == synth.codebook.sections["demographics"].title
    assert set(short.meta["qids_stated"]) < set(full.meta["qids_stated"])
    for sentence in re.split(r"(?<=\.)\s+", short.sections[0][1]):
        assert sentence in full.text


def test_raw_and_none_styles(synth) -> None:
    r = next(synth.respondents())
    raw = build_backstory(r, synth.codebook, style="raw")
    assert "->" in raw.text and raw.n_facts == raw.meta["n_facts_total"]
    q1 = synth.codebook.get("Q1")
    if r.has("Q1"):
        assert f"-> {q1.label(r.answers['Q1'])}" in raw.text
    none = build_backstory(r, synth.codebook, style="none")
    assert none.text == "" and none.n_facts == 0


def test_restricting_to_history_qids(synth) -> None:
    r = next(synth.respondents())
    profile_only = build_backstory(r, synth.codebook, qids=synth.codebook.profile())
    assert set(profile_only.meta["qids_stated"]) <= set(synth.codebook.profile())
    assert "in your life" not in profile_only.text


def test_narrative_is_written_per_section_and_stored(tmp_path, synth) -> None:
    r = next(synth.respondents())
    model = get_model("mock", cache=False)
    store = StoryStore(tmp_path / "stories.sqlite3")
    facts = build_backstory(r, synth.codebook, max_words=300)
    story = build_backstory(r, synth.codebook, model, style="narrative", max_words=300, store=store)
    calls = model.usage.calls  # one per section, a second for a section that failed its check
    assert len(facts.sections) <= calls <= 2 * len(facts.sections)
    assert calls == len(facts.sections) + story.meta["check"]["regenerated"] + story.meta["check"]["fell_back"]
    assert story.meta["style"] == "narrative" and story.meta["model"] == "mock:0"
    assert [t for t, _ in story.sections] == [t for t, _ in facts.sections]
    again = build_backstory(r, synth.codebook, model, style="narrative", max_words=300, store=store)
    assert model.usage.calls == calls  # served from the store: no new calls
    assert again.text == story.text and again.meta.get("from_store")
    exported = store.export(r.id)
    assert len(exported) == 1 and exported[0]["text"] == story.text
    other = build_backstory(r, synth.codebook, model, style="narrative", max_words=200, store=store)
    assert other.meta.get("from_store") is None  # another length is another story


def test_degenerate_narrative_falls_back_to_facts(synth) -> None:
    r = next(synth.respondents())
    model, _ = scripted_model(write=lambda module, msgs: "")
    story = build_backstory(r, synth.codebook, model, style="narrative", max_words=200, store=False)
    facts = build_backstory(r, synth.codebook, max_words=200)
    assert story.text == facts.text
    assert len(story.meta["fallback_sections"]) == len(facts.sections)


def test_story_errors() -> None:
    r = person({"Q1": 1})
    with pytest.raises(ConfigError):
        build_backstory(r, CB, style="poem")
    with pytest.raises(ConfigError):
        build_backstory(r, CB, style="narrative")


def test_fidelity_counts_recovered_answers(synth) -> None:
    r = next(synth.respondents())
    history = [q for q in r.answered() if not synth.codebook.get(q).profile][:25]
    story = build_backstory(r, synth.codebook, qids=history)
    first_option, _ = scripted_model(choose=lambda module, n, msgs: [1.0] + [0.0] * (n - 1))
    report = story_fidelity(story, r, synth.codebook, first_option, history, n=None)
    expected = sum(r.answers[q] == [c for c in synth.codebook.get(q).options if c >= 0][0] for q in history)
    assert report.n == len(history)
    assert report.recovered == expected
    assert report.rate == pytest.approx(expected / len(history))
    assert sum(v["n"] for v in report.by_section.values()) == len(history)
    sampled = story_fidelity(story, r, synth.codebook, get_model("mock", cache=False), history, n=10, seed=3)
    assert sampled.n == 10 and 0.0 <= sampled.rate <= 1.0


def test_sync_api_works_inside_a_running_event_loop() -> None:
    import asyncio

    r = person({"Q1": 1})

    async def inside() -> str:
        return build_backstory(r, CB).text  # e.g. called from a Jupyter cell

    assert "Family is very important" in asyncio.run(inside())


def test_the_sync_builders_are_the_async_ones() -> None:
    """One definition each: the sync form has the async one's parameters and docs."""
    import inspect

    from valuesim.methods.story import abuild_backstory, astory_fidelity

    for sync, coro in ((build_backstory, abuild_backstory), (story_fidelity, astory_fidelity)):
        assert inspect.signature(sync) == inspect.signature(coro)
        assert sync.__name__ == coro.__name__[1:] and coro.__doc__ and coro.__doc__ in (sync.__doc__ or "")
        assert not inspect.iscoroutinefunction(sync)


def test_dense_story_says_a_battery_once_and_keeps_every_answer() -> None:
    answers = {"Q64": 1, "Q65": 3, "Q66": 2, "Q67": 3, "Q69": 1, "Q70": 4, "Q46": 2, "Q48": 7}
    facts = compose(person(answers), CB, style="facts")
    dense = compose(person(answers), CB, style="dense")
    assert dense.n_facts == facts.n_facts and dense.meta["qids_stated"] == facts.meta["qids_stated"]
    assert len(dense.text) < len(facts.text)
    body = dict(dense.sections)[CB.sections[CB.get("Q64").section].title]
    assert body.count("How much confidence do you have in") == 1  # the stem, said once
    for label in ("A great deal", "Quite a lot", "Not very much", "None at all"):
        assert f"{label}:" in body, label
    assert "A great deal: the churches" in body and "the police" in body.split("Quite a lot")[0]
    assert "the courts" in body.split("None at all:")[1]
    scale = dict(dense.sections)[CB.sections[CB.get("Q48").section].title]
    assert " 7 (1 = " in scale  # rating scale: position with its anchors


def test_dense_story_facts_are_those_of_the_facts_style_on_synthetic_people(synth) -> None:
    for r in list(synth.respondents())[:10]:
        facts = compose(r, synth.codebook, style="facts")
        dense = compose(r, synth.codebook, style="dense")
        assert dense.meta["qids_stated"] == facts.meta["qids_stated"]
        assert len(dense.text) < len(facts.text)
        assert not re.search(r"\bQ\d+\b", dense.text)


def test_token_budget_counts_in_the_given_tokenizer(synth) -> None:
    r = next(synth.respondents())

    def count(text: str) -> int:  # a stand-in tokenizer: one token per 3 characters
        return -(-len(text) // 3)

    full = compose(r, synth.codebook, style="dense", count_tokens=count)
    short = compose(r, synth.codebook, style="dense", max_tokens=300, count_tokens=count)
    assert short.meta["tokens"] == count(short.text) <= 300 < full.meta["tokens"]
    assert short.sections[0][0] == synth.codebook.sections["demographics"].title
    assert set(short.meta["qids_stated"]) < set(full.meta["qids_stated"])
    with pytest.raises(ConfigError, match="count_tokens"):
        compose(r, synth.codebook, style="dense", max_tokens=300)


def test_zero_to_ten_scale_keeps_its_zero_end_and_wvs_volunteered_zero_stays_outside() -> None:
    from valuesim.survey import Question

    labels = {0: "Extremely dissatisfied", 10: "Extremely satisfied"}
    options = {c: labels.get(c, str(c)) for c in range(11)}
    q = Question(
        "stflife",
        "How satisfied are you with life?",
        "How satisfied are you with life?",
        QuestionKind.SCALE,
        "wellbeing",
        False,
        options,
    )
    assert scale_anchors(q) == (0, "Extremely dissatisfied", 10, "Extremely satisfied")
    fact = phrase(q, 3, None)
    assert fact is not None and "0" in NUMBER.findall(fact.sentence) and "dissatisfied" in fact.sentence
    # WVS Q241: 0 ("it is against democracy") is volunteered and lies below the card's 1 end
    assert scale_anchors(CB.get("Q241"))[0] == 1

"""Narrative backstories: each written section is checked against its facts, retried, then falls back.

A fake writer returns each section's facts (lightly reworded) and injects one failure kind
into chosen sections: meta-text, a changed number, a dropped or changed answer, repetition.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from methods_fakes import scripted_model

from valuesim.methods.phrasing import country_name
from valuesim.methods.story import StoryStore, build_backstory, compose
from valuesim.methods.story.checks import check_section, clauses, numbers, section_expectations
from valuesim.methods.story.narrative import (
    FELL_BACK,
    REGENERATED,
    WRITTEN,
    aggregate_checks,
    section_qids,
    verdict,
)
from valuesim.survey import Respondent, load_codebook

CB = load_codebook()
ANSWERS = {"Q1": 1, "Q2": 2, "Q46": 3, "Q57": 1, "Q106": 5, "Q121": 4, "Q260": 2, "Q262": 51}
PERSON = Respondent(id="r1", country="DEU", answers=ANSWERS, missing={})

ECONOMY = "Economic values"
TRUST = "Social capital, trust and organizational membership"
VALUES = "Social values, attitudes and stereotypes"


def facts_of(message: str) -> tuple[str, str]:
    """(section title, facts text) of a narrative prompt."""
    title = re.search(r'\("(.+?)"\)', message)
    assert title is not None
    return title.group(1), message.split("Facts:\n", 1)[1].strip()


def reword(facts: str) -> str:
    """A faithful rewrite: sentences joined, a few words changed."""
    return facts.replace(". You ", "; you ").replace("Taking all things together", "All in all")


Inject = Callable[[str], str]

INJECTIONS: dict[str, tuple[str, Inject, str]] = {
    "meta-text": (TRUST, lambda t: t + ' I added "you" to the sentence to make it more concise.', "meta-text"),
    "rewrite label": (ECONOMY, lambda t: "Rewrite:\n" + t, "meta-text"),
    "changed number": (ECONOMY, lambda t: t.replace("to 10", "to 5"), "changed number"),
    "changed position": (ECONOMY, lambda t: t.replace("at 5", "at 7"), "changed number"),
    "dropped answer": (
        TRUST,
        lambda t: "You were asked whether most people can be trusted or you need to be very careful.",
        "dropped answer",
    ),
    "changed answer": (VALUES, lambda t: t.replace("Family is very", "Family is rather"), "dropped answer"),
    "repetition": (VALUES, lambda t: t + " " + t, "repetition"),
}


def writer(target: str | None, inject: Inject | None, *, retry_too: bool = True) -> Callable[..., str]:
    def write(module: str, messages: tuple) -> str:
        title, facts = facts_of(messages[-1].content)
        text = reword(facts)
        retry = "was rejected" in messages[-1].content
        if title == target and inject is not None and (retry_too or not retry):
            return inject(text)
        return text

    return write


def story_with(write: Callable[..., str], **kw: object):
    model, backend = scripted_model(write=write)
    story = build_backstory(PERSON, CB, model, style="narrative", store=False, **kw)  # type: ignore[arg-type]
    return story, backend


def section(story, title: str) -> dict:
    return next(s for s in story.meta["check"]["sections"] if s["title"] == title)


def test_faithful_rewrites_are_accepted() -> None:
    story, backend = story_with(writer(None, None))
    check = story.meta["check"]
    assert check["written"] == check["n_sections"] and check["fell_back"] == 0
    assert check["facts_preserved_first"] == check["n_facts"] == check["facts_in_prose"]
    assert len(backend.calls) == check["n_sections"]  # no retries
    assert "All in all" in story.text  # the prose, not the facts


@pytest.mark.parametrize("name", sorted(INJECTIONS))
def test_each_failure_kind_is_caught_and_falls_back(name: str) -> None:
    title, inject, kind = INJECTIONS[name]
    story, backend = story_with(writer(title, inject))
    facts = dict(compose(PERSON, CB).sections)
    rec = section(story, title)
    assert rec["status"] == FELL_BACK
    assert any(p.startswith(kind) for p in rec["problems"]), rec["problems"]
    assert any(p.startswith(kind) for p in rec["retry_problems"])
    assert dict(story.sections)[title] == facts[title]  # the facts sentences replace it
    assert story.meta["fallback_sections"] == [title]
    others = [s for s in story.meta["check"]["sections"] if s["title"] != title]
    assert all(s["status"] == WRITTEN for s in others)
    assert len(backend.calls) == len(facts) + 1  # one retry, for the failing section only


def test_a_section_that_fails_once_is_regenerated_with_its_problems_named() -> None:
    title, inject, _ = INJECTIONS["changed number"]
    story, backend = story_with(writer(title, inject, retry_too=False))
    rec = section(story, title)
    assert rec["status"] == REGENERATED and rec["retry_problems"] == []
    retry = [m for _, _, m in backend.calls if "was rejected" in m[-1].content]
    assert len(retry) == 1 and "changed" in retry[0][-1].content and "Q106" in retry[0][-1].content
    assert "at 5" in dict(story.sections)[title] and "to 10" in dict(story.sections)[title]


def test_verdict_says_which_sections_fell_back_and_why() -> None:
    story, _ = story_with(writer(TRUST, INJECTIONS["meta-text"][1]))
    lines = verdict(story.meta["check"])
    assert "1 fell back" in lines[0]
    assert any(line.strip().startswith(f"{TRUST}: fell back") and "meta-text" in line for line in lines[1:])


def test_the_issue_examples_are_caught() -> None:
    """The corruptions seen with the embedded model (issue 19) each fail their section."""
    base = compose(PERSON, CB)
    by_title = section_qids(base, CB)
    facts = dict(base.sections)

    def problems(title: str, text: str) -> list[str]:
        exps = section_expectations(PERSON, CB, by_title[title], country_name(PERSON.country))
        return [p.kind for p in check_section(text, facts[title], exps, 40).problems]

    bad = {
        ECONOMY: 'On a scale from 1 ("Incomes should be made more equal") to 5, you place your view at 5.',
        TRUST: 'You asked "Generally speaking, can most people be trusted?". I added "you" to the sentence.',
        "Migration": "The impact of immigrants on the development of your country is a topic of debate.",
    }
    assert "changed number" in problems(ECONOMY, bad[ECONOMY])
    assert "meta-text" in problems(TRUST, bad[TRUST])
    assert "dropped answer" in problems("Migration", bad["Migration"])
    good = "You think immigrants have had a quite good impact on the development of your country."
    assert problems("Migration", good) == []


def test_facts_pass_their_own_check_for_synthetic_people(synth) -> None:
    """The checker never rejects the facts sentences themselves (condensed or one per answer)."""
    for r in list(synth.respondents())[:8]:
        base = compose(r, synth.codebook)
        by_title = section_qids(base, synth.codebook)
        country = country_name(r.country)
        for title, body in base.sections:
            ids = (["country"] if country and f"You live in {country}." in body else []) + by_title[title]
            exps = section_expectations(r, synth.codebook, ids, country)
            result = check_section(body, body, exps, len(body.split()))
            assert result.ok, (r.id, title, result.problems[:3])


def test_model_check_rejects_prose_the_model_cannot_read_back() -> None:
    """With model_check, a section whose answers the model recovers from the facts but not from
    the prose falls back; the story records the model fidelity."""

    def choose(module: str, n: int, messages: tuple) -> list[float]:
        system = messages[0].content
        # the model "reads" the answer only from the facts wording of Q46 ("not very happy")
        return [0.0, 0.0, 1.0, 0.0][:n] if "not very happy" in system else [1.0] + [0.0] * (n - 1)

    def write(module: str, messages: tuple) -> str:
        _, facts = facts_of(messages[-1].content)
        return reword(facts).replace("you are not very happy", "you are, not very, happy")

    model, _ = scripted_model(write=write, choose=choose)
    story = build_backstory(PERSON, CB, model, style="narrative", store=False, model_check=True)
    rec = section(story, "Happiness and well-being")
    assert rec["status"] == FELL_BACK and any(p.startswith("model check") for p in rec["problems"])
    assert story.meta["check"]["model_fidelity"]["n"] >= 1


def test_store_key_includes_the_facts_and_the_check(tmp_path) -> None:
    store = StoryStore(tmp_path / "s.sqlite3")
    model, backend = scripted_model(write=writer(None, None))
    first = build_backstory(PERSON, CB, model, style="narrative", store=store)
    n = len(backend.calls)
    again = build_backstory(PERSON, CB, model, style="narrative", store=store)
    assert again.meta.get("from_store") and len(backend.calls) == n and again.text == first.text
    build_backstory(PERSON, CB, model, style="narrative", store=store, model_check=True)
    assert len(backend.calls) > n  # another check: another story
    changed = Respondent(id="r1", country="DEU", answers={**ANSWERS, "Q1": 2}, missing={})
    m = len(backend.calls)
    build_backstory(changed, CB, model, style="narrative", store=store)
    assert len(backend.calls) > m  # other facts: another story


def test_aggregate_checks_sums_stories() -> None:
    story, _ = story_with(writer(ECONOMY, INJECTIONS["changed number"][1]))
    agg = aggregate_checks([story.meta["check"], story.meta["check"]])
    assert agg["stories"] == 2 and agg["sections_fell_back"] == 2
    assert agg["facts_preserved"] == 1.0 and agg["facts_in_prose"] < 1.0
    assert agg["problems"]["changed number"] >= 2


def test_text_helpers() -> None:
    assert numbers("You are fifty-one, born in 1966; seven of ten.") == ["51", "1966", "7", "10"]
    assert clauses('On a scale from 1 ("A, B") to 10, you are at 5') == [
        'On a scale from 1 ("A, B") to 10',
        "you are at 5",
    ]

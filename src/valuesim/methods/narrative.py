"""Faithful narrative backstories: LLM-written sections checked against their facts.

The ``narrative`` backstory style asks a model to rewrite each section of the deterministic
facts story (:func:`valuesim.methods.story.compose`) as prose. A small model (and, less often,
a capable one) corrupts the person while doing so: instructions leak into the text, scale
ends change, answers vanish or are replaced. So every written section is checked against
the facts it was written from before it reaches a method:

1. **Deterministic checks** (:func:`check_section`, no model needed):

   - *meta-text*: instructions or commentary ("Rewrite:", "Facts:", "As an AI", "I added ...",
     "Here is ...", first-person sentences the facts do not contain);
   - *changed number*: every number of the facts must be in the prose and the prose may hold
     no other number; a scale answer keeps its position and its two ends (numbers and, when the
     fact names them, the end labels);
   - *dropped answer*: for each fact, the prose clause that talks about the fact's topic must
     state the person's answer rather than another option of the same question. "Unambiguously
     paraphrased" is made operational by comparing with the sentences the facts renderer
     writes for every other option: the clause must hold more of the words that set the real
     answer apart from a rival than of the words that set the rival apart (for each rival);
   - *repetition*: a sentence said twice, or a long word sequence repeated;
   - *length*: far shorter or longer than the word budget of the section.

2. **Model check** (optional, ``model_check=True``): every option question of the section is
   asked again with only the section as context (as :func:`valuesim.methods.story.story_fidelity`
   does with the whole story). A fact the model recovers from the facts sentences but not from
   the prose fails the section.

3. **Fallback**: a failing section is written once more with its problems named in the prompt;
   if that fails too, the section keeps its facts sentences. Each section records its status
   (``written`` / ``regenerated`` / ``fell back``) and the problems found, and the story's
   ``meta["check"]`` summarizes them (facts preserved, sections fallen back, model fidelity).

The checks are conservative: a faithful paraphrase that uses other words for an answer can
fail and fall back to the facts sentences (never the other way round).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from valuesim.methods.phrasing import clean_label, country_name, fill_placeholders, phrase, scale_anchors
from valuesim.survey.codebook import Codebook, Question, QuestionKind
from valuesim.survey.respondent import Respondent

if TYPE_CHECKING:
    from valuesim.llm import Model, Usage

#: Version of the checks and of the regeneration logic: part of the story store key, so a
#: change here never reuses a story accepted by older checks.
CHECK_VERSION = "c1"

#: Problem kinds (keys of the per-run counts in metrics.json).
PROBLEM_KINDS = ("meta-text", "changed number", "dropped answer", "repetition", "length", "model check")

WRITTEN, REGENERATED, FELL_BACK = "written", "regenerated", "fell back"


# --------------------------------------------------------------------------- tokens

_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "with",
        "by",
        "from",
        "as",
        "and",
        "or",
        "but",
        "that",
        "this",
        "these",
        "those",
        "it",
        "its",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "you",
        "your",
        "yours",
        "yourself",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "about",
        "into",
        "than",
        "then",
        "there",
        "their",
        "they",
        "them",
        "he",
        "she",
        "his",
        "her",
        "we",
        "our",
        "us",
        "which",
        "who",
        "whom",
        "what",
        "when",
        "where",
        "how",
        "also",
        "so",
        "such",
        "i",
        "me",
        "my",
        "mine",
        "myself",
        "one's",
        "s",
    ]
)
_CONTRACTIONS = [
    (re.compile(r"\bcan['’]t\b"), "can not"),
    (re.compile(r"\bwon['’]t\b"), "will not"),
    (re.compile(r"\bcannot\b"), "can not"),
    (re.compile(r"n['’]t\b"), " not"),
    (re.compile(r"['’](re|ve|m|ll|d)\b"), " "),
    (re.compile(r"['’]s\b"), ""),
]
_UNITS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_NUMBER_WORD = re.compile(
    r"\b(?:(" + "|".join(_TENS) + r")(?:[- ](" + "|".join(_UNITS[1:10]) + r"))?|(" + "|".join(_UNITS[2:]) + r"))\b"
)
_SUFFIXES = (
    ("iness", "y"),
    ("ness", ""),
    ("ations", ""),
    ("ation", ""),
    ("ments", ""),
    ("ment", ""),
    ("ings", ""),
    ("ing", ""),
    ("ies", "y"),
    ("ied", "y"),
    ("ly", ""),
    ("ed", ""),
    ("es", ""),
    ("s", ""),
)
_TOKEN = re.compile(r"[a-z]+|\d+")
_DIGITS = re.compile(r"\d+")


def _number_words(text: str) -> str:
    """ "fifty-one" -> "51", "seven" -> "7" ("one" stays a word: "no one", "one of")."""

    def rep(m: re.Match[str]) -> str:
        if m.group(3):
            return str(_UNITS.index(m.group(3)))
        return str(_TENS[m.group(1)] + (_UNITS.index(m.group(2)) if m.group(2) else 0))

    return _NUMBER_WORD.sub(rep, text)


def normalize(text: str) -> str:
    """Lower case, contractions expanded ("don't" -> "do not"), number words as digits."""
    out = text.lower().replace("’", "'")
    for pat, rep in _CONTRACTIONS:
        out = pat.sub(rep, out)
    return _number_words(out)


def stem(word: str) -> str:
    """A crude stem: common suffixes off, then at most 5 letters ("importance" ~ "important")."""
    if word.isdigit() or len(word) <= 4:
        return word
    for suf, rep in _SUFFIXES:
        if word.endswith(suf) and len(word) - len(suf) >= 3:
            word = word[: -len(suf)] + rep
            break
    return word[:5]


def stems(text: str) -> list[str]:
    """Content stems of a text in order (stop words dropped; negations and quantifiers kept)."""
    return [stem(w) for w in _TOKEN.findall(normalize(text)) if w not in _STOP]


def numbers(text: str) -> list[str]:
    """Every number of a text as written in digits (number words included), in order."""
    return _DIGITS.findall(normalize(text))


def sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?])[\"”']?\s+(?=[\"“A-Z0-9(])|\n+", text.strip())
    return [p.strip() for p in parts if p and p.strip()]


_CLAUSE = re.compile(r"[,;:]\s+|\s+(?:and|or|while|whereas|but|although|though|however)\s+", re.I)
_QUOTED = re.compile(r'"[^"]*"|“[^”]*”|\([^)]*\)')


def clauses(sentence: str) -> list[str]:
    """Parts of a sentence split at commas, colons and conjunctions (never inside
    quotes or parentheses: a quoted statement or scale end stays whole)."""
    masked = _QUOTED.sub(lambda m: m.group(0).replace(" ", "\x02").translate({44: 1, 59: 3, 58: 4}), sentence)
    parts = [c for c in _CLAUSE.split(masked) if c.strip()]
    return [p.replace("\x02", " ").translate({1: 44, 3: 59, 4: 58}) for p in parts]


# --------------------------------------------------------------------------- expectations


@dataclass(frozen=True)
class Expectation:
    """What the prose must say about one fact.

    ``topic``: stems shared by the sentences of every option (how to find where the fact is
    talked about). ``contrasts``: one (for, against) pair per other option of the question:
    stems that set the person's answer apart from that option, and stems that would indicate
    that option instead (never words of the person's own sentence). ``question``: stems of the
    question wording (a place that restates the question has them subtracted once, since the
    wording often repeats the options). Rating scales have ``position``, ``ends`` (numbers)
    and the ``end_labels`` the fact names; numeric items and the country have ``required``
    stems (or numbers) that must appear somewhere in the section.
    """

    qid: str
    sentence: str
    topic: frozenset[str]
    contrasts: tuple[tuple[frozenset[str], frozenset[str]], ...] = ()
    question: tuple[str, ...] = ()
    position: str | None = None
    ends: tuple[str, ...] = ()
    end_labels: tuple[frozenset[str], ...] = ()
    required: frozenset[str] = frozenset()
    subject: tuple[str, ...] = ()

    @property
    def signal(self) -> frozenset[str]:
        """Stems that show a place talks about the answer (for or against)."""
        return frozenset().union(*(p | m for p, m in self.contrasts)) if self.contrasts else frozenset()


def _scale_of(q: Question, code: int) -> tuple[int, str, int, str] | None:
    anchors = scale_anchors(q)
    if anchors is None or not anchors[0] <= code <= anchors[2]:
        return None
    return anchors


def expectation(q: Question, code: int, country: str | None) -> Expectation | None:
    """The expectation of one answer (None when the facts renderer says nothing about it)."""
    fact = phrase(q, code, country)
    if fact is None:
        return None
    own = frozenset(stems(fact.sentence))
    if q.kind is QuestionKind.NUMERIC or not q.options:
        req = frozenset(numbers(fact.sentence)) or own
        return Expectation(q.id, fact.sentence, own, required=req)
    others: list[tuple[int, frozenset[str]]] = []
    for c in q.options:
        if c == code or c < 0 or not q.is_valid(c):
            continue
        f = phrase(q, c, country)
        if f is not None:
            others.append((c, frozenset(stems(f.sentence))))
    shared = own.intersection(*(o for _, o in others)) if others else own
    anchors = _scale_of(q, code)
    if anchors is not None and str(code) in numbers(fact.sentence):
        lo, lo_lab, hi, hi_lab = anchors
        labels = tuple(
            frozenset(s) for lab in (lo_lab, hi_lab) if (s := set(stems(lab))) and s <= own and not lab.isdigit()
        )
        topic = frozenset(shared - {str(lo), str(hi)})
        return Expectation(q.id, fact.sentence, topic, position=str(code), ends=(str(lo), str(hi)), end_labels=labels)

    def answer_of(c: int, sent: frozenset[str]) -> frozenset[str]:
        return frozenset((sent - shared) | (set(stems(clean_label(q.options[c]))) & sent))

    answer = answer_of(code, own)
    wording = fill_placeholders(q.short, country)
    # only a sentence that quotes the question ("Asked ..., you answered ...") repeats its words;
    # otherwise a word of the person's own sentence never speaks for another option
    question = tuple(stems(wording)) if normalize(wording).rstrip("?.") in normalize(fact.sentence) else ()
    mine = frozenset() if question else own
    contrasts = tuple((answer - answer_of(c, s), answer_of(c, s) - answer - mine) for c, s in others)
    subject = tuple(stems(fact.subject)) if fact.subject else ()
    return Expectation(q.id, fact.sentence, shared, contrasts, question, subject=subject)


def section_expectations(
    respondent: Respondent, codebook: Codebook, qids: Sequence[str], country: str | None
) -> list[Expectation]:
    """Expectations of the facts stated in one section (``country`` = the country fact)."""
    out: list[Expectation] = []
    for qid in qids:
        if qid == "country":
            if country:
                words = frozenset(stems(country))
                out.append(Expectation("country", f"You live in {country}.", frozenset(), required=words))
            continue
        if qid not in codebook or qid not in respondent.answers:
            continue
        exp = expectation(codebook.get(qid), respondent.answers[qid], country)
        if exp is not None:
            out.append(exp)
    return out


# --------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class Problem:
    kind: str
    detail: str
    qid: str | None = None

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


@dataclass
class SectionCheck:
    """Result of checking one section's prose: ``preserved`` of ``n_facts`` facts found."""

    ok: bool
    problems: list[Problem]
    n_facts: int
    preserved: int
    failed_facts: list[str] = field(default_factory=list)


_META = [
    (re.compile(r"\b(?:re-?write|rewritten|rephrased?|paraphrased?)\b", re.I), "writing instructions"),
    (re.compile(r"\bfacts?\s*:", re.I), '"Facts:"'),
    (re.compile(r"\bthe (?:given |above |following )?facts\b", re.I), 'talks about "the facts"'),
    (re.compile(r"\b(?:paragraph|second person|word count|words long)\b", re.I), "talks about the writing task"),
    (re.compile(r"\bas an ai\b|\blanguage model\b|\bassistant\b", re.I), "AI self-reference"),
    (re.compile(r"^\s*(?:sure|certainly|of course|okay|ok)\b[,.!]", re.I | re.M), "a reply to the request"),
    (re.compile(r"\bhere(?: is|'s| are)\b", re.I), '"Here is ..."'),
    (re.compile(r"\b(?:note|output|answer|paragraph|text|summary|response)\s*:", re.I), "a label such as 'Note:'"),
    (re.compile(r"\binstructions?\b", re.I), "talks about instructions"),
]
_FIRST_PERSON = re.compile(r"\b(?:i|me|my|myself|we|us|our)\b")


def _allowed_by_facts(tokens: list[str], i: int, facts_norm: str) -> bool:
    """A first-person word is fine when the facts say it too (quoted statements, scale ends)."""
    for lo, hi in ((i - 1, i + 2), (i, i + 3), (i - 2, i + 1)):
        if lo >= 0 and hi <= len(tokens) and " ".join(tokens[lo:hi]) in facts_norm:
            return True
    return False


def meta_problems(text: str, facts_text: str) -> list[Problem]:
    """Instructions, commentary, labels or first-person remarks that the facts do not contain."""
    facts_low = facts_text.lower()
    found: list[Problem] = []
    for pat, what in _META:
        m = pat.search(text)
        if m and not pat.search(facts_text):
            found.append(Problem("meta-text", f"{what} ({m.group(0).strip()!r})"))
    facts_norm = " ".join(re.findall(r"[a-z0-9']+", normalize(facts_low)))
    for sent in sentences(text):
        tokens = re.findall(r"[a-z0-9']+", normalize(sent))
        for i, t in enumerate(tokens):
            if _FIRST_PERSON.fullmatch(t) and not _allowed_by_facts(tokens, i, facts_norm):
                found.append(Problem("meta-text", f"first-person remark {sent[:80]!r}"))
                break
    return found


def repetition_problems(text: str, facts_text: str, n: int = 12) -> list[Problem]:
    """A sentence said twice, or an ``n``-word sequence repeated that the facts do not repeat."""
    out: list[Problem] = []
    seen: Counter[str] = Counter(" ".join(stems(s)) for s in sentences(text) if len(s.split()) >= 4)
    in_facts: Counter[str] = Counter(" ".join(stems(s)) for s in sentences(facts_text))
    for s, k in seen.items():
        if k > max(1, in_facts.get(s, 0)) and s:
            out.append(Problem("repetition", f"a sentence is said {k} times"))
            break
    words = re.findall(r"[a-z0-9]+", normalize(text))
    fwords = re.findall(r"[a-z0-9]+", normalize(facts_text))
    grams = Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    fgrams = Counter(tuple(fwords[i : i + n]) for i in range(len(fwords) - n + 1))
    rep = [g for g, k in grams.items() if k > max(1, fgrams.get(g, 0))]
    if rep and not out:
        out.append(Problem("repetition", f"repeated words {' '.join(rep[0])!r}"))
    words_all, facts_all = text.lower().split(), facts_text.lower().split()
    ratio = len(set(words_all)) / max(1, len(words_all))
    if len(words_all) >= 12 and ratio <= 0.25 and ratio < 0.5 * len(set(facts_all)) / max(1, len(facts_all)):
        out.append(Problem("repetition", "one phrase repeated over and over"))
    return out


def number_problems(text: str, facts_text: str) -> list[Problem]:
    have, want = Counter(numbers(text)), Counter(numbers(facts_text))
    out: list[Problem] = []
    extra = sorted(set(have) - set(want), key=int)
    missing = sorted(set(want) - set(have), key=int)
    if extra:
        out.append(Problem("changed number", f"{', '.join(extra)} not in the facts"))
    if missing:
        out.append(Problem("changed number", f"{', '.join(missing)} of the facts missing"))
    return out


def length_problems(text: str, facts_text: str, words: int) -> list[Problem]:
    n, nf = len(text.split()), len(facts_text.split())
    if n == 0:
        return [Problem("length", "empty")]
    low = max(3, min(nf, words) // 4)
    high = int(1.6 * max(words, nf)) + 15
    if n < low:
        return [Problem("length", f"{n} words, far below the {words}-word budget")]
    if n > high:
        return [Problem("length", f"{n} words, far above the {words}-word budget")]
    return []


#: words that carry an answer's polarity or strength: never discounted as another fact's topic
_POLARITY = frozenset(
    stem(w)
    for w in [
        "not",
        "no",
        "never",
        "none",
        "neither",
        "nor",
        "very",
        "all",
        "most",
        "few",
        "some",
        "more",
        "less",
        "much",
        "many",
        "rather",
        "quite",
        "somewhat",
        "completely",
        "always",
        "often",
        "rarely",
        "sometimes",
        "every",
    ]
)


@dataclass(frozen=True)
class Noise:
    """Words of a place that belong to the section's other facts: the stems naming their topics
    (polarity words excepted) and the stems of their battery subjects ("not finding a job")."""

    topics: frozenset[str] = frozenset()
    subjects: tuple[tuple[str, ...], ...] = ()


NO_NOISE = Noise()


def _answer_part(exp: Expectation, place: list[str], others: Noise = NO_NOISE) -> Counter[str]:
    """The place's stems that can speak about this fact's answer: without the words of other
    facts (``others``), and less one copy of the question wording when the place restates it."""
    bag = Counter(place)
    q = Counter(exp.question)
    if q and sum(1 for t in q if t in bag) >= 0.6 * len(q):
        bag = bag - q
    for subject in others.subjects:  # another battery item named in full here: its words are its own
        words = Counter(subject)
        if all(bag[t] >= k for t, k in words.items()):
            bag = bag - words
    return Counter({t: k for t, k in bag.items() if t not in others.topics})


def _scale_numbers(exp: Expectation, place: list[str]) -> list[str]:
    nums = [t for t in place if t.isdigit()]
    if exp.ends and all(e in nums for e in exp.ends):  # the place restates the scale
        for e in exp.ends:
            nums.remove(e)
    return nums


def _signal(exp: Expectation, place: list[str], others: Noise = NO_NOISE) -> bool:
    """The place says something for another option (one of its words): widening it further
    could only borrow the answer from a neighbour."""
    if exp.position is not None:
        return bool(_scale_numbers(exp, place))
    words = frozenset().union(*(m for _, m in exp.contrasts)) if exp.contrasts else frozenset()
    return bool(set(_answer_part(exp, place, others)) & words)


def _contradicts(exp: Expectation, place: list[str], others: Noise = NO_NOISE) -> bool:
    """The place speaks for another option (as many of its words as of the answer's, or
    another scale position and not this one)."""
    if exp.position is not None:
        nums = _scale_numbers(exp, place)
        return bool(nums) and exp.position not in nums
    bag = set(_answer_part(exp, place, others))
    return any((hit := len(minus & bag)) and hit >= len(plus & bag) for plus, minus in exp.contrasts)


def _states_answer(exp: Expectation, place: list[str], others: Noise = NO_NOISE) -> bool:
    if exp.position is not None:
        return exp.position in _scale_numbers(exp, place)
    bag = set(_answer_part(exp, place, others))
    for plus, minus in exp.contrasts:
        hit_plus, hit_minus = len(plus & bag), len(minus & bag)
        if plus:
            if hit_plus <= hit_minus:
                return False
        elif hit_minus:
            return False
    return True


def _topic_weights(expectations: Sequence[Expectation]) -> dict[str, float]:
    df: Counter[str] = Counter(t for e in expectations for t in e.topic)
    return {t: 1.0 / k for t, k in df.items()}


def _noise(exp: Expectation, expectations: Sequence[Expectation]) -> Noise:
    """What the section's other facts contribute to a place (see :class:`Noise`)."""
    mine = exp.topic | frozenset().union(*(p for p, _ in exp.contrasts)) | _POLARITY
    topics = frozenset().union(*(e.topic for e in expectations if e is not exp)) - mine
    subjects = tuple({e.subject for e in expectations if e is not exp and e.subject and e.subject != exp.subject})
    return Noise(topics, subjects)


def _located(exp: Expectation) -> Expectation:
    """A fact whose options share no words ("You are a woman.") is found by its answer's words."""
    if exp.topic or not exp.contrasts:
        return exp
    return replace(exp, topic=frozenset().union(*(p for p, _ in exp.contrasts)))


class _Prose:
    """A section's prose cut into sentences and clauses (as stems), with the facts that claim
    each clause: those whose topic its sentence covers best (words weighted by how few facts
    share them; the sentence tells which battery a clause is in), then the clause itself. A
    fact the prose dropped thus cannot borrow another fact's sentence."""

    def __init__(self, text: str, expectations: Sequence[Expectation]) -> None:
        self.stems = [[stems(c) for c in (clauses(s) or [s])] for s in sentences(text)]
        self.all_stems = stems(text)
        self.all_numbers = numbers(text)
        self.weights = _topic_weights(expectations)
        total = {e.qid: sum(self.weights.get(t, 1.0) for t in e.topic) for e in expectations}
        #: per clause: the qids that claim it, and whether alone
        self.claims: dict[tuple[int, int], tuple[set[str], bool]] = {}
        self.clause_share: dict[tuple[int, int], dict[str, float]] = {}

        def weight(words: frozenset[str]) -> float:
            return round(sum(self.weights.get(t, 1.0) for t in words), 9)

        for i, sent in enumerate(self.stems):
            whole = {t for c in sent for t in c}
            for j, cl in enumerate(sent):
                bag = set(cl)
                score = {}
                for e in expectations:
                    w = weight(e.topic & bag)
                    if w > 0:  # share of the topic in the sentence (which battery), in the clause, then weight
                        share = round(weight(e.topic & whole) / total[e.qid], 9)
                        score[e.qid] = (share, round(w / total[e.qid], 9), w)
                top = max(score.values(), default=None)
                # the best-scoring fact(s), and every fact the sentence names in full (a battery)
                winners = {q for q, sc in score.items() if sc == top or sc[0] >= 1.0 - 1e-9}
                self.claims[i, j] = (winners, len(winners) == 1)
                self.clause_share[i, j] = {q: sc[1] for q, sc in score.items()}

    def places(self, exp: Expectation) -> list[tuple[bool, list[list[str]]]]:
        """For each clause the fact claims: (claimed alone?, [clause, its sentence]); only the
        best clauses of the sentences that name most of the topic."""
        mine = {k: alone for k, (qids, alone) in self.claims.items() if exp.qid in qids}
        sent_cover: dict[int, float] = {}
        for i, _ in mine:
            bag = {t for c in self.stems[i] for t in c}
            sent_cover[i] = sum(self.weights.get(t, 1.0) for t in exp.topic & bag)
        if not sent_cover:
            return []
        best = max(sent_cover.values())
        best_clause = {i: max(self.clause_share[k][exp.qid] for k in mine if k[0] == i) for i in sent_cover}
        out = []
        for (i, j), alone in sorted(mine.items()):
            if sent_cover[i] < best - 1e-9 or self.clause_share[i, j][exp.qid] < best_clause[i] - 1e-9:
                continue
            out.append((alone, [self.stems[i][j], [t for c in self.stems[i] for t in c]]))
        return out


def fact_preserved(exp: Expectation, prose: _Prose, others: Noise = NO_NOISE) -> str | None:
    """None when the prose states the fact, else why not (``others``: see :func:`_answer_part`)."""
    if exp.required:
        digits = [t for t in exp.required if t.isdigit()]
        if digits:
            return None if all(d in prose.all_numbers for d in digits) else "its number is missing"
        return None if exp.required <= set(prose.all_stems) else "not mentioned"
    if exp.ends:
        if not all(e in prose.all_numbers for e in exp.ends):
            return "scale ends changed"
        for lab in exp.end_labels:
            if len(lab & set(prose.all_stems)) * 2 < len(lab):
                return "scale end label missing"
    if not exp.topic:
        return None if _states_answer(exp, prose.all_stems, others) else "answer not stated"
    groups = prose.places(exp)
    if not groups:
        return "topic not mentioned"
    # each place: its clause, widened to its sentence while it says nothing about the answer;
    # the fact holds when some place states the answer and no place that is the fact's alone
    # speaks for another option
    passed = contradicted = False
    for alone, levels in groups:
        # an answer quoted after its question is judged on the whole sentence: the question's
        # "A, or B?" would otherwise split into clauses that each look like an answer
        for place in levels[1:] if exp.question else levels:
            if _states_answer(exp, place, others):
                passed = True
                break
            if _contradicts(exp, place, others):
                contradicted = contradicted or alone
                break
            if _signal(exp, place, others):
                break
    if contradicted:
        return "answer changed"
    return None if passed else "answer not stated"


def check_section(text: str, facts_text: str, expectations: Sequence[Expectation], words: int) -> SectionCheck:
    """Deterministic checks of one section's prose against the facts it was written from."""
    problems: list[Problem] = []
    problems += length_problems(text, facts_text, words)
    problems += meta_problems(text, facts_text)
    problems += repetition_problems(text, facts_text)
    problems += number_problems(text, facts_text)
    located = [_located(e) for e in expectations]
    prose = _Prose(text, located)
    failed: list[str] = []
    for exp in located:
        why = fact_preserved(exp, prose, _noise(exp, located))
        if why is not None:
            failed.append(exp.qid)
            kind = "changed number" if why.startswith(("scale", "its number")) else "dropped answer"
            problems.append(Problem(kind, f"{exp.qid} {why} ({exp.sentence[:90]!r})", exp.qid))
    n = len(expectations)
    return SectionCheck(not problems, problems, n, n - len(failed), failed)


# --------------------------------------------------------------------------- writing


@dataclass
class SectionRecord:
    """What happened to one section (stored in ``Backstory.meta["check"]["sections"]``)."""

    title: str
    status: str
    n_facts: int
    preserved_first: int
    problems: list[str] = field(default_factory=list)
    retry_problems: list[str] = field(default_factory=list)
    model: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def facts_digest(sections: Sequence[tuple[str, str]]) -> str:
    """Hash of the facts a narrative is written from (part of the story store key)."""
    raw = "\n\n".join(f"{t}\n{b}" for t, b in sections)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


async def _write(
    model: Model, title: str, facts_text: str, words: int, prompt_version: str, problems: Sequence[str] = ()
) -> tuple[str, Usage]:
    from valuesim.llm import ChatMessage, GenerateConfig
    from valuesim.methods.prompts import render

    if problems:
        user = render(
            "narrative_retry", prompt_version, title=title, facts=facts_text, words=words, problems=list(problems)
        )
    else:
        user = render("narrative", prompt_version, title=title, facts=facts_text, words=words)
    messages = [ChatMessage("system", render("narrative_system", prompt_version)), ChatMessage("user", user)]
    # one paragraph is asked for: whatever follows a blank line is never part of it
    cfg = GenerateConfig(temperature=0.0, max_tokens=max(64, int(words * 1.6) + 32), stop=("\n\n",))
    res = await model.generate(messages, cfg)
    return res.text.strip(), res.usage


async def arecover(
    model: Model,
    text: str,
    q: Question,
    truth: int,
    country: str | None,
    prompt_version: str = "v1",
    survey: str | None = None,
) -> tuple[bool, Usage]:
    """Ask ``q`` with only ``text`` as the backstory: does the model pick the answer ``truth``?
    (``survey``: :func:`valuesim.methods.prompting.survey_phrase` of the codebook.)"""
    from valuesim.methods.prompting import build_messages, option_letters, target_options

    codes, _labels = target_options(q)
    messages = build_messages(text, "plain", [q], prompt_version=prompt_version, country=country, survey=survey)
    res = await model.score_choices(messages, option_letters(len(codes)))
    return codes[res.best] == truth, res.usage


async def _model_check(
    model: Model,
    prose: str,
    facts_text: str,
    items: Sequence[tuple[Question, int]],
    country: str | None,
    prompt_version: str,
    survey: str | None = None,
) -> tuple[dict[str, Any], list[Problem], Usage]:
    """Ask the section's option questions from the prose alone and from the facts alone."""
    from valuesim.llm import Usage

    async def both(q: Question, truth: int) -> tuple[str, bool, bool, Usage]:
        p, up = await arecover(model, prose, q, truth, country, prompt_version, survey)
        f, uf = await arecover(model, facts_text, q, truth, country, prompt_version, survey)
        return q.id, p, f, up + uf

    rows = await asyncio.gather(*(both(q, t) for q, t in items))
    usage = Usage()
    for r in rows:
        usage = usage + r[3]
    lost = [qid for qid, p, f, _ in rows if f and not p]
    summary = {
        "n": len(rows),
        "prose": sum(p for _, p, _, _ in rows),
        "facts": sum(f for _, _, f, _ in rows),
        "lost": lost,
    }
    problems = [Problem("model check", f"{q} recovered from the facts but not from the prose", q) for q in lost]
    return summary, problems, usage


async def narrate_section(
    model: Model,
    title: str,
    facts_text: str,
    expectations: Sequence[Expectation],
    words: int,
    *,
    prompt_version: str = "v1",
    model_items: Sequence[tuple[Question, int]] | None = None,
    country: str | None = None,
    survey: str | None = None,
) -> tuple[str, SectionRecord, Usage]:
    """Write one section, check it, retry once naming the problems, else keep the facts."""
    from valuesim.llm import Usage

    usage = Usage()
    record = SectionRecord(title, FELL_BACK, len(expectations), 0)
    attempt_problems: list[str] = []
    for attempt in (0, 1):
        text, u = await _write(model, title, facts_text, words, prompt_version, attempt_problems)
        usage = usage + u
        check = check_section(text, facts_text, expectations, words)
        problems = list(check.problems)
        if attempt == 0:
            record.preserved_first = check.preserved
        if not problems and model_items:
            summary, mproblems, mu = await _model_check(
                model, text, facts_text, model_items, country, prompt_version, survey
            )
            usage = usage + mu
            record.model = summary
            problems += mproblems
        texts = [str(p) for p in problems]
        if attempt == 0:
            record.problems = texts
        else:
            record.retry_problems = texts
        if not problems:
            record.status = WRITTEN if attempt == 0 else REGENERATED
            return text, record, usage
        attempt_problems = _retry_hints(problems)
    if model_items:  # the story now states these facts as sentences: what does the model get from them?
        summary, _, mu = await _model_check(model, facts_text, facts_text, model_items, country, prompt_version, survey)
        usage = usage + mu
        record.model = {**summary, "prose": None}
    return facts_text, record, usage


def _retry_hints(problems: Sequence[Problem]) -> list[str]:
    """The problems as instructions for the second attempt (one line per kind)."""
    by_kind: dict[str, list[str]] = {}
    for p in problems:
        by_kind.setdefault(p.kind, []).append(p.detail)
    hints = {
        "meta-text": "it contained text that is not about the person (instructions, labels or remarks about the writing)",
        "changed number": "it changed, dropped or added numbers",
        "dropped answer": "it lost or changed answers",
        "repetition": "it repeated itself",
        "length": "its length was wrong",
        "model check": "a reader could not tell some answers from it",
    }
    out = []
    for kind, details in by_kind.items():
        shown = "; ".join(d for d in details[:3])
        out.append(f"{hints.get(kind, kind)} ({shown})")
    return out


def summarize_sections(records: Sequence[SectionRecord], model_check: bool) -> dict[str, Any]:
    """Story-level fidelity summary (``Backstory.meta["check"]``) of its section records."""
    n_facts = sum(r.n_facts for r in records)
    prose_facts = sum(r.n_facts for r in records if r.status != FELL_BACK)
    kinds: Counter[str] = Counter()
    for r in records:
        for p in [*r.problems, *r.retry_problems]:
            kinds[p.split(":", 1)[0]] += 1
    out: dict[str, Any] = {
        "version": CHECK_VERSION,
        "model_check": model_check,
        "sections": [r.to_dict() for r in records],
        "n_sections": len(records),
        "written": sum(r.status == WRITTEN for r in records),
        "regenerated": sum(r.status == REGENERATED for r in records),
        "fell_back": sum(r.status == FELL_BACK for r in records),
        "n_facts": n_facts,
        # every accepted section passed the per-fact check and a fallen-back one is the facts
        "facts_preserved": n_facts,
        "facts_preserved_first": sum(r.preserved_first for r in records),
        "facts_in_prose": prose_facts,
        "problems": {k: kinds.get(k, 0) for k in PROBLEM_KINDS},
    }
    if model_check:
        # final: recovered from the text the story kept (prose, or the facts of a fallen-back section)
        ms = [r.model for r in records if r.model]
        out["model_fidelity"] = {
            "n": sum(m["n"] for m in ms),
            "final": sum(m["facts"] if m["prose"] is None else m["prose"] for m in ms),
            "facts": sum(m["facts"] for m in ms),
        }
    return out


def brief(problems: Sequence[str]) -> str:
    """ "meta-text x2, dropped answer (Q1, Q57)": problem strings grouped by kind."""
    kinds: dict[str, list[str]] = {}
    for p in problems:
        kind, _, detail = p.partition(": ")
        m = re.match(r"(Q\d+|country)\b", detail)
        kinds.setdefault(kind, []).append(m.group(1) if m else "")
    parts = []
    for kind, items in kinds.items():
        ids = [i for i in items if i]
        if ids:
            parts.append(f"{kind} ({', '.join(ids[:4])}{', ...' if len(ids) > 4 else ''})")
        else:
            parts.append(kind + (f" x{len(items)}" if len(items) > 1 else ""))
    return ", ".join(parts) or "none"


def verdict(check: dict[str, Any]) -> list[str]:
    """Human-readable lines of a story's check summary (for `valuesim backstory`)."""
    lines = [
        f"Narrative check: {check['written']} section(s) written, {check['regenerated']} regenerated, "
        f"{check['fell_back']} fell back to the facts sentences (of {check['n_sections']}); "
        f"{check['facts_preserved_first']}/{check['n_facts']} facts kept by the first drafts, "
        f"{check['facts_in_prose']}/{check['n_facts']} told in prose."
    ]
    for s in check["sections"]:
        if s["status"] == WRITTEN:
            continue
        first = brief(s["problems"])
        if s["status"] == REGENERATED:
            lines.append(f"  {s['title']}: regenerated (first draft: {first})")
        else:
            lines.append(f"  {s['title']}: fell back (first draft: {first}; second: {brief(s['retry_problems'])})")
    mf = check.get("model_fidelity")
    if mf and mf.get("n"):
        lines.append(
            f"Model check: {mf['final']}/{mf['n']} answers recovered from the story's sections "
            f"({mf['facts']}/{mf['n']} from the facts sentences)."
        )
    return lines


def section_qids(base: Any, codebook: Codebook) -> dict[str, list[str]]:
    """The facts (question ids; "country" for the country sentence) each section of a facts
    story states, by section title."""
    titles = {sid: sec.title for sid, sec in codebook.sections.items()}
    out: dict[str, list[str]] = {title: [] for title, _ in base.sections}
    for qid in base.meta.get("qids_stated", []):
        if qid in codebook:
            title = titles.get(codebook.get(qid).section, codebook.get(qid).section)
            if title in out:
                out[title].append(qid)
    return out


async def anarrate(
    base: Any,
    respondent: Respondent,
    codebook: Codebook,
    model: Model,
    *,
    qids: Sequence[str] | None = None,
    max_words: int | None = None,
    prompt_version: str = "v1",
    model_check: bool = False,
) -> tuple[list[tuple[str, str]], dict[str, Any], Usage]:
    """Write every section of the facts story ``base`` as checked prose.

    Returns the sections, the check summary (:func:`summarize_sections`) and the LLM usage.
    """
    from valuesim.llm import Usage
    from valuesim.methods.prompting import lettered, survey_phrase

    country = country_name(respondent.country)
    survey = survey_phrase(codebook)
    total_words = max(1, int(base.meta.get("words") or 1))
    target_total = max_words or total_words
    by_title = section_qids(base, codebook)
    jobs = []
    for title, body in base.sections:
        ids = list(by_title.get(title, []))
        if country and f"You live in {country}." in body:
            ids.insert(0, "country")
        exps = section_expectations(respondent, codebook, ids, country)
        items: list[tuple[Question, int]] | None = None
        if model_check:
            items = [
                (codebook.get(q), respondent.answers[q])
                for q in ids
                if q in codebook and not codebook.get(q).profile and lettered(codebook.get(q))
            ]
        words = max(20, int(target_total * len(body.split()) / total_words))
        jobs.append(
            narrate_section(
                model,
                title,
                body,
                exps,
                words,
                prompt_version=prompt_version,
                model_items=items,
                country=country,
                survey=survey,
            )
        )
    results = await asyncio.gather(*jobs)
    usage = Usage()
    sections: list[tuple[str, str]] = []
    records: list[SectionRecord] = []
    for (title, _), (text, record, u) in zip(base.sections, results):
        usage = usage + u
        sections.append((title, text))
        records.append(record)
    return sections, summarize_sections(records, model_check), usage


def story_check_summary(check: dict[str, Any]) -> dict[str, Any]:
    """The per-prediction copy of a story's check summary: counts and fallen-back titles only."""
    out = {k: v for k, v in check.items() if k != "sections"}
    out["fell_back_sections"] = [s["title"] for s in check.get("sections", []) if s["status"] == FELL_BACK]
    return out


def aggregate_checks(checks: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per-run fidelity of narrative stories (one check summary per story): sections written,
    regenerated and fallen back; shares of facts preserved (after fallback), kept by the first
    drafts and told in prose; problems by kind; model fidelity when the model check was on."""
    n_facts = sum(int(c.get("n_facts", 0)) for c in checks)

    def share(key: str) -> float | None:
        return round(sum(int(c.get(key, 0)) for c in checks) / n_facts, 4) if n_facts else None

    out: dict[str, Any] = {
        "stories": len(checks),
        "sections": sum(int(c.get("n_sections", 0)) for c in checks),
        "sections_written": sum(int(c.get("written", 0)) for c in checks),
        "sections_regenerated": sum(int(c.get("regenerated", 0)) for c in checks),
        "sections_fell_back": sum(int(c.get("fell_back", 0)) for c in checks),
        "facts": n_facts,
        "facts_preserved": share("facts_preserved"),
        "facts_preserved_first_draft": share("facts_preserved_first"),
        "facts_in_prose": share("facts_in_prose"),
        "problems": {k: sum(int(c.get("problems", {}).get(k, 0)) for c in checks) for k in PROBLEM_KINDS},
    }
    models = [c["model_fidelity"] for c in checks if c.get("model_fidelity")]
    if models:
        n = sum(int(m["n"]) for m in models)
        out["model_fidelity"] = {
            "n": n,
            "rate": round(sum(int(m["final"]) for m in models) / n, 4) if n else None,
            "rate_facts_sentences": round(sum(int(m["facts"]) for m in models) / n, 4) if n else None,
        }
    return out

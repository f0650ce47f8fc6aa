"""Checks of LLM-written story prose against the facts it was written from.

The narrative writer (:mod:`valuesim.methods.story.narrative`) asks a model to rewrite each
section of the facts story as prose; every written section is checked here before it reaches
a method (no model needed, :func:`check_section`):


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

The checks are conservative: a faithful paraphrase that uses other words for an answer can
fail (and its section fall back to the facts sentences), never the other way round.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from valuesim.methods.phrasing import clean_label, fill_placeholders, phrase, scale_anchors
from valuesim.survey.codebook import Codebook, Question, QuestionKind
from valuesim.survey.respondent import Respondent

#: Problem kinds (keys of the per-run counts in metrics.json).
PROBLEM_KINDS = ("meta-text", "changed number", "dropped answer", "repetition", "length", "model check")

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

"""Deterministic phrasing of survey answers as second-person sentences.

Every valid answer of a respondent becomes one :class:`Fact`: a stand-alone sentence built
from the question wording and the answer *label* (never the numeric code), plus an optional
merge key so that answers to one battery ("How much confidence do you have in ...") can be
condensed into one sentence. Rules are tried in order; the last one is a generic
"Asked ..., you answered ..." that is always faithful. Missing answers are never phrased: the
caller only passes valid codes.

Placeholders of the master questionnaire ("[your country]", "[country's nationality]") are
filled with the respondent's country name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from valuesim.survey.codebook import Question, QuestionKind


@dataclass(frozen=True)
class Fact:
    """One known data point phrased as a sentence.

    ``group`` is a merge template containing ``{x}``; facts of one section sharing a group are
    condensed by joining their ``subject`` strings into it.
    """

    qid: str
    section: str
    sentence: str
    group: str | None = None
    subject: str | None = None


# --------------------------------------------------------------------------- text helpers

_ISCED = re.compile(r"\s*\(ISCED \d\)")
_WRITE_IN = re.compile(r"\s*\(write in\)", re.I)
#: show-card letters before an answer label: "K - 7th decile", "A. Very likely", "B) Agree"
_SHOW_CARD = re.compile(r"^[A-Z]{1,2}\s*(?:[-–—]|[.)](?=\s))\s*(?=\S)")
#: labels SPSS (and the files made with it) cut at these lengths
_LABEL_LIMITS = (120, 255, 256)


def mark_cut(text: str) -> str:
    """A label cut at an SPSS length limit (120 or 255 characters, no closing punctuation)
    ends with an ellipsis, so it is not read as a complete sentence."""
    if len(text) in _LABEL_LIMITS and text.rstrip()[-1:].isalnum():
        return text.rstrip() + "…"
    return text


def clean_label(label: str) -> str:
    """Answer label without questionnaire-internal codes ("(ISCED 3)"), write-in markers or
    show-card letters ("K - 7th decile" -> "7th decile"); a label cut at the SPSS limit ends with "…"."""
    out = _ISCED.sub("", mark_cut(label))
    out = _WRITE_IN.sub("", out)
    stripped = _SHOW_CARD.sub("", out.strip())
    out = stripped if stripped.strip(" .") else out
    return out.strip().rstrip(".").strip()


def lower_first(text: str) -> str:
    """Lower-case the first letter unless the first word looks like an acronym ("IMF")."""
    if not text:
        return text
    first = text.split()[0]
    if len(first) > 1 and first[:2].isupper():
        return text
    return text[0].lower() + text[1:]


def upper_first(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def join_words(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def sentence(text: str) -> str:
    text = upper_first(text.strip())
    return text if text.endswith((".", "!", "?", '"', "”")) else text + "."


_BEFORE_ARTICLE = re.compile(r"(?:\b(?:the|a|an|your|my|his|her|their|our|this|that|of the)\s+)$", re.I)


def _other_placeholder(m: re.Match[str]) -> str:
    """A placeholder no rule names: alternatives ("[pay/pensions/social benefits]" -> "pay,
    pensions or social benefits") or a slot ("[amount]" -> "the amount")."""
    inner = " ".join(m.group(1).split())
    if "/" in inner:
        parts = [p.strip() for p in inner.split("/") if p.strip()]
        words = ", ".join(parts[:-1]) + " or " + parts[-1] if len(parts) > 1 else "".join(parts)
    else:
        words = inner
    if not words:
        return ""
    if "/" not in inner and not _BEFORE_ARTICLE.search(m.string[: m.start()]):
        return f"the {lower_first(words)}"
    return words


def fill_placeholders(text: str, country: str | None) -> str:
    """Replace the questionnaire's bracketed placeholders with concrete words ("[country]" ->
    the respondent's country, or "your country" when it is unknown); a placeholder no rule
    knows keeps its words without brackets; a label cut at the SPSS limit ends with "…"."""
    text = mark_cut(text)
    name = country or "your country"
    reps = [
        (r"\[country[’']s nationality\]", f"a national of {name}"),
        (r"\[(?:your|this) country\]", name),
        (r"\[country\]", name),
        (r"\[village, town or city\]", "village, town or city"),
        (r"\[county, region, district\]", "county, region or district"),
        (r"\[continent[^\]]*\]", "your continent"),
    ]
    for pat, rep in reps:
        text = re.sub(pat, rep, text, flags=re.I)
    text = re.sub(r"\[([^\[\]]{0,80})\]", _other_placeholder, text)
    return " ".join(text.split()) if "  " in text else text


def is_digit_label(label: str) -> bool:
    """A scale point labelled with its number ("7"; "-3" on a scale with valid negative codes)."""
    text = label.strip()
    return text.removeprefix("-").isdigit()


def scale_anchors(q: Question) -> tuple[int, str, int, str] | None:
    """(low code, low label, high code, high label) of a labelled rating scale, else None.

    The scale is the item's valid codes (missing codes are not options), so a 0-10 scale keeps
    its 0 end. A lowest code that is worded like the code above it sits outside the scale
    (WVS Q241-Q249: 0 "it is against democracy", volunteered, below the 1 end) and is left out.
    """
    numeric = dict(sorted(q.options.items()))
    codes = list(numeric)
    if (
        len(codes) >= 2
        and codes[1] == codes[0] + 1
        and not is_digit_label(numeric[codes[0]])
        and not is_digit_label(numeric[codes[1]])
    ):
        del numeric[codes[0]]
    if len(numeric) < 5:
        return None
    digits = sum(is_digit_label(lab) for lab in numeric.values())
    if digits < len(numeric) - 2:
        return None
    lo, hi = min(numeric), max(numeric)
    return lo, clean_label(numeric[lo]), hi, clean_label(numeric[hi])


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Answer:
    """What a phrasing rule reads: one valid answer of one respondent."""

    q: Question
    code: int
    label: str  # the answer label of ``code``
    short: str  # the question's short wording, placeholders filled with the country
    country: str | None


# A rule returns (sentence, group template or None, subject or None), or None when it does not
# apply. Rules are tried in the order of :data:`RULES` (listed after their definitions).
RuleResult = tuple[str, str | None, str | None]
Rule = Callable[[Answer], RuleResult | None]


def _m(pattern: str, text: str) -> re.Match[str] | None:
    return re.match(pattern, text.strip(), flags=re.I)


_IMPORTANCE = {"very important", "rather important", "not very important", "not at all important"}


def _importance(a: Answer) -> RuleResult | None:
    q, label, short = a.q, a.label, a.short
    lab = label.lower()
    if lab not in _IMPORTANCE or scale_anchors(q) is not None:
        return None
    m = _m(r"^How important is (.+?) (in your life|for you|to you)\?$", short) or _m(
        r"^(.+?): How important is it (in your life)\?$", short
    )
    if not m:
        return None
    topic, where = lower_first(m.group(1)), m.group(2).lower()
    where = "to you" if where != "in your life" else where
    verb = "are" if topic in ("friends",) else "is"
    return (f"{topic} {verb} {lab} {where}.", f"You consider {{x}} {lab} {where}.", topic)


def _child_quality(a: Answer) -> RuleResult | None:
    label, short = a.label, a.short
    m = _m(r"^Do you name (.+?) as an especially important quality for children to learn at home\?$", short) or _m(
        r"^(.+?): Do you consider it an important quality for children to learn\?$", short
    )
    if not m or label not in ("Mentioned", "Not mentioned"):
        return None
    topic = lower_first(m.group(1))
    if label == "Mentioned":
        return (
            f"You chose {topic} as one of the especially important qualities children should learn at home.",
            "Among the qualities children should learn at home, you chose {x} as especially important.",
            topic,
        )
    return (
        f"You did not choose {topic} as an especially important quality for children to learn at home.",
        "You did not choose {x} as especially important qualities for children to learn at home.",
        topic,
    )


def _neighbours(a: Answer) -> RuleResult | None:
    label, short = a.label, a.short
    m = _m(r"^Would you not like to have (.+?) as neighbou?rs\?$", short)
    if not m or label not in ("Mentioned", "Not mentioned"):
        return None
    who = m.group(1)
    if label == "Mentioned":
        return (
            f"You would not like to have {who} as neighbors.",
            "You would not like to have {x} as neighbors.",
            who,
        )
    return (
        f"You did not name {who} among the people you would rather not have as neighbors.",
        "You did not name {x} among the people you would rather not have as neighbors.",
        who,
    )


_AGREE = {
    "strongly agree": "strongly agree with",
    "agree strongly": "strongly agree with",
    "agree": "agree with",
    "neither agree nor disagree": "neither agree nor disagree with",
    "disagree": "disagree with",
    "strongly disagree": "strongly disagree with",
    "disagree strongly": "strongly disagree with",
}


def _quoted_statement(short: str) -> str | None:
    m = re.search(r"[“\"](.+?)[”\"]", short)
    if m:
        return upper_first(m.group(1).strip().rstrip("."))
    if not short.rstrip().endswith(("?", ":")):
        return short.strip().rstrip(".")
    return None


def _agree_statement(a: Answer) -> RuleResult | None:
    q, label, short = a.q, a.label, a.short
    labels = {lab.lower() for lab in q.options.values()}
    if not labels or not labels <= set(_AGREE) | {"hard to say"}:
        return None
    stmt = _quoted_statement(short)
    if stmt is None:
        return None
    lab = label.lower()
    if lab == "hard to say":
        return (f'You find it hard to say whether you agree that "{stmt}".', None, None)
    verb = _AGREE[lab]
    return (
        f'You {verb} the statement "{stmt}."',
        f"You {verb} these statements: {{x}}.",
        f'"{stmt}"',
    )


def _trust(a: Answer) -> RuleResult | None:
    label, short = a.label, a.short
    m = _m(r"^How much do you trust (.+?)\?$", short)
    if not m:
        return None
    phr = {
        "trust completely": "You trust {x} completely.",
        "trust somewhat": "You trust {x} somewhat.",
        "do not trust very much": "You do not trust {x} very much.",
        "do not trust at all": "You do not trust {x} at all.",
    }.get(label.lower())
    return None if phr is None else (phr.format(x=m.group(1)), phr, m.group(1))


_CONFIDENCE = {
    "a great deal": "You have a great deal of confidence in {x}.",
    "quite a lot": "You have quite a lot of confidence in {x}.",
    "not very much": "You do not have very much confidence in {x}.",
    "none at all": "You have no confidence at all in {x}.",
}


def _confidence(a: Answer) -> RuleResult | None:
    label, short = a.label, a.short
    m = _m(r"^How much confidence do you have in (.+?)\?$", short)
    tpl = _CONFIDENCE.get(label.lower())
    if not m or tpl is None:
        return None
    return (tpl.format(x=m.group(1)), tpl, m.group(1))


_MEMBER = {
    "active member": "You are an active member of {x}.",
    "inactive member": "You are an inactive member of {x}.",
    "not a member": "You are not a member of {x}.",
    "don't belong": "You are not a member of {x}.",
    "do not belong": "You are not a member of {x}.",
}


def _membership(a: Answer) -> RuleResult | None:
    label, short = a.label, a.short
    m = re.search(r"not a member of (.+?)\?$", short)
    tpl = _MEMBER.get(label.lower().replace("’", "'"))
    if not m or tpl is None:
        return None
    return (tpl.format(x=m.group(1)), tpl, m.group(1))


def _do_you_agree_that(a: Answer) -> RuleResult | None:
    label, short = a.label, a.short
    m = _m(r"^Do you agree(?: or disagree)? that (.+?)\?$", short)
    if not m:
        return None
    tpl = {
        "agree": "You agree that {x}.",
        "disagree": "You disagree that {x}.",
        "hard to say": "You find it hard to say whether {x}.",
    }.get(label.lower())
    group = {
        "agree": "You agree that {x}.",
        "disagree": "You disagree that {x}.",
        "hard to say": "You find it hard to say whether {x}.",
    }.get(label.lower())
    return None if tpl is None else (tpl.format(x=m.group(1)), group, m.group(1))


def _corruption_share(a: Answer) -> RuleResult | None:
    label, short = a.label, a.short
    m = _m(r"^How many (.+?) do you believe are involved in corruption\?$", short)
    qty = {"none of them": "none", "few of them": "few", "most of them": "most", "all of them": "all"}.get(
        label.lower()
    )
    if not m or qty is None:
        return None
    tpl = f"You believe {qty} of the {{x}} are involved in corruption."
    return (tpl.format(x=m.group(1)), tpl, m.group(1))


def _worry(a: Answer) -> RuleResult | None:
    label, short = a.label, a.short
    m = _m(r"^How worried are you about (.+?)\?$", short) or _m(
        r"^To what degree are you worried about (.+?)\?$", short
    )
    tpl = {
        "very much": "You are very much worried about {x}.",
        "a good deal": "You are worried a good deal about {x}.",
        "not much": "You are not much worried about {x}.",
        "not at all": "You are not at all worried about {x}.",
    }.get(label.lower())
    if not m or tpl is None:
        return None
    return (tpl.format(x=m.group(1)), tpl, m.group(1))


def _last_12_months(a: Answer) -> RuleResult | None:
    label, short = a.label, a.short
    m = _m(r"^In the last 12 months, how often have you or your family (.+?)\?$", short)
    adv = label.lower()
    if not m or adv not in ("often", "sometimes", "rarely", "never"):
        return None
    tpl = f"In the last 12 months, you or your family have {adv} {{x}}."
    return (tpl.format(x=m.group(1)), tpl, m.group(1))


def _scale_phrase(anchors: tuple[int, str, int, str]) -> str:
    lo, lo_lab, hi, hi_lab = anchors
    return f"on a scale from {lo} ({lower_first(lo_lab)}) to {hi} ({lower_first(hi_lab)})"


def _justifiable(a: Answer) -> RuleResult | None:
    q, code, short = a.q, a.code, a.short
    m = re.search(r"how justifiable is (?:it )?(.+?)\?$", short, flags=re.I) or re.search(
        r"whether you think (.+?) can always be justified", short, flags=re.I
    )
    anchors = scale_anchors(q)
    if not m or anchors is None:
        return None
    scale = upper_first(_scale_phrase(anchors))
    return (
        f"{scale}, you rate how justifiable {m.group(1)} is at {code}.",
        f"{scale}, you rate how justifiable these are: {{x}}.",
        f"{m.group(1)} at {code}",
    )


def _democracy_essential(a: Answer) -> RuleResult | None:
    q, code, label, short = a.q, a.code, a.label, a.short
    m = re.search(r"(?:essential to democracy is it|characteristic of democracy) that (.+?)\?$", short, flags=re.I)
    anchors = scale_anchors(q)
    if not m or anchors is None:
        return None
    what = m.group(1)
    if code < anchors[0] or code > anchors[2]:  # off-scale, e.g. "It is against democracy"
        if "against democracy" in label.lower():
            return (
                f"You think it is against democracy that {what}.",
                "You think it is against democracy that {x}.",
                what,
            )
        return (f'Asked whether {what} is essential to democracy, you answered "{clean_label(label)}".', None, None)
    scale = _scale_phrase(anchors)
    return (
        f"As a characteristic of democracy, {scale}, you rate that {what} at {code}.",
        f"As characteristics of democracy, {scale}, you rate: {{x}}.",
        f"that {what} at {code}",
    )


def _political_action(a: Answer) -> RuleResult | None:
    label, short = a.label, a.short
    m = _m(r"^Have you ever (.+?), might you do it, or would you never do it\?$", short) or _m(
        r"^Have you ever (.+?)\?$", short
    )
    lab = label.lower()
    tpl = {
        "have done": ("You have {x}.", "You have done these: {x}."),
        "might do": ("You have never {x}, but you might.", "You have not done, but might do, these: {x}."),
        "would never do": (
            "You have never {x} and never would.",
            "You have never done, and never would do, these: {x}.",
        ),
    }.get(lab)
    if not m or tpl is None:
        return None
    return (tpl[0].format(x=m.group(1)), tpl[1], m.group(1))


def _vote(a: Answer) -> RuleResult | None:
    label, short = a.label, a.short
    m = _m(r"^When (\w+) elections take place, do you vote", short) or _m(
        r"^When elections take place at the (\w+) level, do you vote", short
    )
    if not m:
        return None
    level = m.group(1).lower()
    text = {
        "always": f"You always vote in {level} elections.",
        "usually": f"You usually vote in {level} elections.",
        "never": f"You never vote in {level} elections.",
        "not allowed to vote": f"You are not allowed to vote in {level} elections.",
    }.get(label.lower())
    return None if text is None else (text, None, None)


def _way_of_governing(a: Answer) -> RuleResult | None:
    label, short = a.label, a.short
    m = _m(r"^Is having (.+?) a good or bad way of governing this country\?$", short) or _m(
        r"^How do you feel about having (.+?)(?: as a way of governing this country)?\?$", short
    )
    lab = label.lower()
    if not m or lab not in ("very good", "fairly good", "fairly bad", "very bad"):
        return None
    what = m.group(1)
    return (
        f"You think that having {what} would be a {lab} way of governing this country.",
        f"You think each of these would be a {lab} way of governing this country: {{x}}.",
        f"having {what}",
    )


_FREQ = {
    "daily": "daily",
    "weekly": "weekly",
    "monthly": "monthly",
    "less than monthly": "less than once a month",
    "never": "never",
}


def _information(a: Answer) -> RuleResult | None:
    label, short = a.label, a.short
    m = _m(r"^How often do you use (.+?) to learn what is going on in your country and the world\?$", short) or _m(
        r"^How often do you obtain information from (.+?)\?$", short
    )
    freq = _FREQ.get(label.lower())
    if not m or freq is None:
        return None
    if freq == "never":
        tpl = "You never use {x} to learn what is going on in your country and the world."
    else:
        tpl = f"You use {{x}} {freq} to learn what is going on in your country and the world."
    return (tpl.format(x=m.group(1)), tpl, m.group(1))


def _government_right(a: Answer) -> RuleResult | None:
    label, short = a.label, a.short
    m = _m(r"^Should the government have the right to (.+?)\?$", short)
    lab = label.lower()
    if not m or "the right" not in lab:
        return None
    return (
        f"You think the government {lab} to {m.group(1)}.",
        f"You think the government {lab} to do these things: {{x}}.",
        m.group(1),
    )


def _neighbourhood(a: Answer) -> RuleResult | None:
    label, short = a.label, a.short
    m = _m(r"^How frequently (?:do|does) (.+?) occur in your neighbou?rhood\?$", short)
    lab = label.lower()
    if not m or "frequently" not in lab:
        return None
    return (
        f"In your neighborhood, this occurs {lab}: {m.group(1)}.",
        f"In your neighborhood, these occur {lab}: {{x}}.",
        m.group(1),
    )


def _yes_no(a: Answer) -> RuleResult | None:
    label, short = a.label, a.short
    if label not in ("Yes", "No"):
        return None
    yes = label == "Yes"
    m = _m(r"^Has (someone|anyone) (.+?) been (.+?)\?$", short)
    if m:
        who = "Someone" if yes else "No one"
        return (f"{who} {m.group(2)} has been {m.group(3)}.", None, None)
    m = _m(r"^(.*?,\s*)?(have|would|are|do|did|will|can|were) you (.+?)\?$", short)
    if not m:
        return None
    prefix, aux, rest = (m.group(1) or ""), m.group(2).lower(), m.group(3)
    if yes:
        verb = "" if aux == "do" else f"{aux} "
        text = f"{prefix}you {verb}{rest}."
    else:
        text = f"{prefix}you {aux} not {rest}."
    # "have you avoided X" style items of one battery share a group template
    group = None
    subject = None
    if prefix:
        group = f"{prefix}you {'' if (yes and aux == 'do') else aux + ' '}{'' if yes else 'not '}{{x}}."
        subject = rest
    return (text, group, subject)


def _choose(a: Answer) -> RuleResult | None:
    q, code, label, short = a.q, a.code, a.label, a.short
    if not _m(r"^If you had to choose", short) or len(q.options) != 2:
        return None
    other = [lab for c, lab in q.options.items() if c != code][0]
    return (
        f"If you had to choose, you would consider {lower_first(label)} more important than {lower_first(other)}.",
        None,
        None,
    )


def _most_important(a: Answer) -> RuleResult | None:
    label, short = a.label, a.short
    m = _m(
        r"^(?:In your opinion, )?Which of (?:these|the following)(?: goals)? (?:should be|is) (?:the )?(most|second most) important([^:?]*)",
        short,
    )
    if not m:
        return None
    rank, rest = m.group(1).lower(), m.group(2).strip()
    rest = f" {rest}" if rest else ""
    return (f'You consider "{clean_label(label)}" the {rank} important{rest}.', None, None)


def _worship(a: Answer) -> RuleResult | None:
    label, short = a.label, a.short
    m = _m(r"^Apart from weddings and funerals, (?:about )?how often do you (.+?)(?: these days)?\?$", short)
    if not m:
        return None
    lab = label.lower()
    freq = {"less often": "less often than once a year", "never, practically never": "never or practically never"}.get(
        lab, lab
    )
    return (f"Apart from weddings and funerals, you {m.group(1)} {freq}.", None, None)


def _how_often_do_you(a: Answer) -> RuleResult | None:
    label, short = a.label, a.short
    m = _m(r"^(?:(.+?),\s*)?how often do you (.+?)\?$", short)
    lab = label.lower()
    if not m or lab not in ("frequently", "occasionally", "never", "often", "sometimes", "rarely", "always"):
        return None
    prefix = f"{m.group(1)}, " if m.group(1) else ""
    return (f"{prefix}you {m.group(2)} {lab}.", None, None)


def _would_you_say_you_are(a: Answer) -> RuleResult | None:
    label, short = a.label, a.short
    m = _m(r"^(.*?),?\s*would you say (?:that )?you are\b", short)
    if not m:
        return None
    prefix = m.group(1).strip()
    core = f"you would describe yourself as {lower_first(clean_label(label))}"
    return (f"{prefix}, {core}." if prefix else f"{upper_first(core)}.", None, None)


def _proud(a: Answer) -> RuleResult | None:
    label, short, country = a.label, a.short, a.country
    if not _m(r"^How proud are you ", short):
        return None
    where = country or "this country"
    lab = label.lower()
    if lab.startswith("i am not"):
        return (f"You do not hold the nationality of {where}.", None, None)
    return (f"You are {lab} of being a national of {where}.", None, None)


def _feel_close(a: Answer) -> RuleResult | None:
    label, short = a.label, a.short
    m = _m(r"^How close do you feel to (.+?)\?$", short)
    tpl = {
        "very close": "You feel very close to {x}.",
        "close": "You feel close to {x}.",
        "not very close": "You do not feel very close to {x}.",
        "not close at all": "You do not feel close at all to {x}.",
    }.get(label.lower())
    if not m or tpl is None:
        return None
    return (tpl.format(x=m.group(1)), tpl, m.group(1))


def _how_adj_are_you(a: Answer) -> RuleResult | None:
    label, short = a.label, a.short
    m = _m(r"^(?:(.+?),\s*)?how (\w+) (are you|do you feel)(.*?)\?$", short)
    if not m or m.group(2).lower() not in label.lower():
        return None
    prefix = f"{m.group(1)}, " if m.group(1) else ""
    lab = label.lower()
    if m.group(3).lower() == "are you":
        return (f"{prefix}you are {lab}{m.group(4)}.", None, None)
    if lab.startswith("not "):
        return (f"{prefix}you do not feel {lab[4:]}{m.group(4)}.", None, None)
    return (f"{prefix}you feel {lab}{m.group(4)}.", None, None)


def _good_or_bad_change(a: Answer) -> RuleResult | None:
    label, short = a.label, a.short
    text = short.replace("’", "'")
    m = _m(r"^Would (.+?) be a good thing, a bad thing, or don't you mind\?$", text) or _m(
        r"^Would it be a good thing, bad thing, or don't you mind if there was (.+?)\?$", text
    )
    if not m:
        return None
    tpl = {
        "good": "You think {x} would be a good thing.",
        "bad": "You think {x} would be a bad thing.",
        "don't mind": "You would not mind {x}.",
    }.get(label.lower().replace("’", "'"))
    return None if tpl is None else (tpl.format(x=m.group(1)), tpl, m.group(1))


def _religion_meaning(a: Answer) -> RuleResult | None:
    label, short = a.label, a.short
    if not _m(r"^Is the basic meaning of religion", short):
        return None
    return (f"For you, the basic meaning of religion is {lower_first(clean_label(label))}.", None, None)


def _scale(a: Answer) -> RuleResult | None:
    q, code, label, short = a.q, a.code, a.label, a.short
    anchors = scale_anchors(q)
    if anchors is None:
        return None
    lo, lo_lab, hi, hi_lab = anchors
    if code < lo or code > hi:
        return (f'Asked "{short}", you answered "{clean_label(label)}".', None, None)
    scale = f'on a scale from {lo} ("{lo_lab}") to {hi} ("{hi_lab}")'
    if _m(r"^Where do you place your views between", short):
        return (f"{upper_first(scale)}, you place your view at {code}.", None, None)
    stmt = re.search(r"[“\"](.+?)[”\"]", short)
    if stmt and "agree" in (lo_lab + hi_lab).lower():
        s = stmt.group(1).strip().rstrip(".")
        return (
            f'{upper_first(_scale_phrase(anchors))}, you rate your agreement with "{s}" at {code}.',
            f"{upper_first(_scale_phrase(anchors))}, you rate your agreement with these statements: {{x}}.",
            f'"{s}" at {code}',
        )
    if "scale" in short.lower():
        return (f'Asked "{short}", you answered {code}.', None, None)
    if short.rstrip().endswith("?"):
        return (f'Asked "{short}", you place yourself at {code} {scale}.', None, None)
    return (f'You rate the statement "{short.rstrip(".")}" at {code} {scale}.', None, None)


def _generic(a: Answer) -> RuleResult | None:
    label, short = a.label, a.short
    return (f'Asked "{short}", you answered "{clean_label(label)}".', None, None)


#: Every rule, in the order they are tried: specific wordings first, the generic sentence last.
RULES: tuple[Rule, ...] = (
    _importance,
    _child_quality,
    _neighbours,
    _agree_statement,
    _trust,
    _confidence,
    _membership,
    _do_you_agree_that,
    _corruption_share,
    _worry,
    _last_12_months,
    _justifiable,
    _democracy_essential,
    _political_action,
    _vote,
    _way_of_governing,
    _information,
    _government_right,
    _neighbourhood,
    _yes_no,
    _choose,
    _most_important,
    _worship,
    _how_often_do_you,
    _would_you_say_you_are,
    _proud,
    _feel_close,
    _how_adj_are_you,
    _good_or_bad_change,
    _religion_meaning,
    _scale,
    _generic,
)


# --------------------------------------------------------------------------- profile items

_EMPLOYMENT = {
    "full time employee (30 hours a week or more)": "employed full time (30 hours a week or more)",
    "part time employee (less than 30 hours a week)": "employed part time (less than 30 hours a week)",
    "self-employed": "self-employed",
    "self employed": "self-employed",
    "retired/pensioned": "retired or living on a pension",
    "housewife not otherwise employed": "a homemaker, not otherwise employed",
    "student": "a student",
    "unemployed": "unemployed",
    "other": "in some other work situation",
}

_MARITAL = {
    "married": "You are married.",
    "living together as married": "You live with a partner as if married.",
    "divorced": "You are divorced.",
    "separated": "You are separated from your spouse.",
    "widowed": "You are widowed.",
    "single": "You are single.",
}

_SAVINGS = {
    "saved money": "During the past year, your family saved money.",
    "just get by": "During the past year, your family just got by.",
    "spent some savings": "During the past year, your family spent some of its savings.",
    "spent savings and borrowed money": "During the past year, your family spent its savings and borrowed money.",
}


def profile_sentence(q: Question, code: int, country: str | None) -> str | None:
    """Hand-written sentence for a profile (demographic) item; None -> use the generic rules."""
    where = country or "the country where you live"
    num = q.number
    if q.kind is QuestionKind.NUMERIC:
        if num == 261:
            return f"You were born in {code}."
        if num == 262:
            return f"You are {code} years old."
        if num == 270:
            return "You live alone." if code == 1 else f"Your household has {code} members, including you."
        if num == 274:
            return {0: "You have no children.", 1: "You have one child."}.get(code, f"You have {code} children.")
        return None
    label = q.options.get(code)
    if label is None:
        return None
    lab = clean_label(label)
    low = lab.lower()
    if re.fullmatch(r"option \d+", low):
        return ""  # a country-specific code the codebook cannot name: say nothing
    if num == 260:
        return {"male": "You are a man.", "female": "You are a woman."}.get(low)
    if num in (263, 264, 265):
        who = {263: "You were", 264: "Your mother was", 265: "Your father was"}[num]
        who_imm = {263: "You are", 264: "Your mother is", 265: "Your father is"}[num]
        if low.startswith("born"):
            return f"{who} born in {where}."
        return f"{who_imm} an immigrant to {where}."
    if num in (266, 267, 268):
        from valuesim.survey.countries import with_article

        who = {266: "You were", 267: "Your mother was", 268: "Your father was"}[num]
        return f"{who} born in {with_article(lab)}."
    if num == 269:
        return f"You are a citizen of {where}." if low.startswith("yes") else f"You are not a citizen of {where}."
    if num == 271:
        if low == "no":
            return "You do not live with your parents or parents-in-law."
        if "both" in low:
            return "You live with both your own parent(s) and your parent(s)-in-law."
        if "law" in low:
            return "You live with your parent(s)-in-law."
        return "You live with your own parent(s)."
    if num == 272:
        return f"At home you normally speak {lab}."
    if num == 273:
        return _MARITAL.get(low)
    if num in (275, 276, 277, 278):
        whose = {275: "your", 276: "your spouse's", 277: "your mother's", 278: "your father's"}[num]
        return f"The highest level of {whose} education is {lower_first(lab)}."
    if num in (279, 280):
        state = _EMPLOYMENT.get(low, lower_first(lab))
        return f"You are {state}." if num == 279 else f"Your spouse is (or in their last job was) {state}."
    if num in (281, 282, 283):
        if lab.lower().startswith("never had a job"):
            return {
                281: "You have never had a job.",
                282: "Your spouse has never had a job.",
                283: "When you were 14, your father had never had a job.",
            }[num]
        group = lower_first(lab)
        return {
            281: f"Your job (or your last job) is in the occupational group {group}.",
            282: f"Your spouse's job (or last job) is in the occupational group {group}.",
            283: f"When you were 14, your father's job was in the occupational group {group}.",
        }[num]
    if num == 284:
        return (
            f"You work, or mainly worked, for {lower_first(lab)}."
            if not low.startswith("government")
            else ("You work, or mainly worked, for the government or a public institution.")
        )
    if num == 285:
        return (
            "You are the chief wage earner in your household."
            if low == "yes"
            else ("You are not the chief wage earner in your household.")
        )
    if num == 286:
        return _SAVINGS.get(low)
    if num == 287:
        return f"You describe yourself as belonging to the {low}."
    if num == 288:
        anchors = scale_anchors(q)
        if anchors:
            return (
                f"On an income scale from {anchors[0]} (lowest group) to {anchors[2]} (highest group) "
                f"in your country, your household is in group {code}."
            )
    if num == 289:
        if low.startswith(("no", "do not", "none")):
            return "You do not belong to any religion or religious denomination."
        if low == "other":
            return "You belong to a religious denomination other than the main ones listed in the survey."
        if low == "jew":
            return "Your religion is Judaism."
        return f"Your religious denomination is {lab}."
    if num == 290:
        if low == "other":
            return "You belong to an ethnic group other than the main ones listed in the survey."
        return f"Your ethnic group is: {lab}."
    return None


def phrase(q: Question, code: int, country: str | None) -> Fact | None:
    """The fact for one valid answer, or None when there is nothing meaningful to say."""
    if code < 0 or not q.is_valid(code):
        return None
    if q.profile:
        text = profile_sentence(q, code, country)
        if text == "":
            return None
        if text is not None:
            return Fact(q.id, q.section, sentence(text))
    if q.kind is QuestionKind.NUMERIC:
        return Fact(q.id, q.section, sentence(f'Asked "{fill_placeholders(q.short, country)}", you answered {code}'))
    label = q.options[code]
    if re.fullmatch(r"option \d+", label.strip().lower()):
        return None
    short = fill_placeholders(q.short, country)
    answer = Answer(q, code, label, short, country)
    for r in RULES:
        out = r(answer)
        if out is not None:
            text, group, subject = out
            return Fact(q.id, q.section, sentence(text), group, subject)
    return None  # pragma: no cover - the generic rule always applies


def country_name(alpha3: str | None, *, article: bool = True) -> str | None:
    """English name of an ISO alpha-3 country code as it reads in a sentence ("the United
    States", "the Netherlands", "Norway"; ``article=False``: the bare name, for labels); None
    when unknown: never leak the code."""
    if not alpha3:
        return None
    from valuesim.survey.countries import find_country, with_article

    found = find_country(alpha3)
    if found is None:
        return None
    return with_article(found.name) if article else found.name

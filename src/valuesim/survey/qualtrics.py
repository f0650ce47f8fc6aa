"""Qualtrics questionnaires (.qsf): the questions ValueSim can pose, and what it cannot.

A ``.qsf`` file is the JSON export of a Qualtrics survey (*Tools -> Import/Export -> Export
survey*). :func:`read_qsf` turns it into the mapping of a questionnaire file
(:mod:`valuesim.survey.questionnaire`), so a .qsf is read wherever a YAML questionnaire is:

- multiple choice with one answer (vertical, horizontal, column, drop-down, select box): one
  question, its choices as options in the order shown;
- a matrix with one answer per row (Likert, drop-down): one question per row, the shared
  scale as options;
- a slider: one question per slider row, a numeric scale with its labelled ends (a slider
  with more than 26 positions is posed on evenly spaced points, e.g. 0, 10, ..., 100, and says
  so);
- net promoter score: a 0-10 scale.

The export tag is the question id (``Q5``; a matrix or slider row ``Q5_1``, or the row's own
export tag) and recode values are the codes (the choice number when there is none). A choice
recoded to a negative value ("Prefer not to say" = -99) is a non-answer, as everywhere in
ValueSim, and is left out. HTML is stripped and entities decoded.

Everything else is listed as skipped with its reason: descriptive text, timing, text entry,
file upload, multiple answers, rank order, constant sum, side by side, ... Display and skip
logic and randomisation are reported as not simulated (every simulated person is asked every
imported question, in the file's order, options in the order shown). Piped text such as
``${e://Field/city}`` is kept as a placeholder ``[city]`` unless the user fills it
(``--pipe city=Berlin``); each placeholder left is reported.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from valuesim.errors import DataError

_HINT = "Export the survey from Qualtrics with Tools -> Import/Export -> Export survey (a .qsf file)."
#: Most options a question may have (the letters a prompt labels options with).
MAX_OPTIONS = 26
_PIPE = re.compile(r"\$\{([^{}]*)\}")
_ID_BAD = re.compile(r"[^A-Za-z0-9_.\-]")
_SCALE_WORDS = re.compile(
    r"\b(agree|disagree|likely|unlikely|satisf|dissatisf|important|often|never|always|sometimes|rarely|"
    r"good|bad|poor|excellent|fair|very|somewhat|slightly|extremely|strongly|not at all|completely|"
    r"much|little|more|less|better|worse|approve|disapprove|support|oppose|trust|confident|"
    r"favou?rable|unfavou?rable|definitely|probably|none|all|most|some|few|high|low)\w*",
    re.I,
)
_SINGLE_MC = {"SAVR", "SAHR", "SACOL", "DL", "SB"}
_SINGLE_MATRIX = {"SingleAnswer", "DL"}
_SKIP_TYPES = {
    "DB": "descriptive text, not a question",
    "Timing": "a timer, not a question",
    "TE": "text entry: open answers are not simulated",
    "FileUpload": "file upload",
    "Captcha": "captcha",
    "Meta": "browser meta information",
    "Draw": "signature",
    "HeatMap": "heat map",
    "HotSpot": "hot spot",
    "PGR": "pick, group and rank",
    "RO": "rank order",
    "CS": "constant sum",
    "SBS": "side by side",
    "DD": "drill down",
    "GAP": "gap analysis",
    "Highlight": "highlight",
    "Map": "map",
}


class _Text(HTMLParser):
    """The visible text of an HTML fragment (tags dropped, block breaks as spaces)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in {"br", "p", "div", "li", "tr", "td", "h1", "h2", "h3", "h4"}:
            self.parts.append(" ")


def plain_text(html: str) -> str:
    """Visible text of Qualtrics HTML: tags removed, entities decoded, whitespace collapsed."""
    parser = _Text()
    parser.feed(str(html))
    parser.close()
    return " ".join(unescape("".join(parser.parts)).replace("\xa0", " ").split())


def pipe_key(expr: str) -> str:
    """The name a piped-text expression is filled by: ``e://Field/city`` -> ``city``;
    other expressions (``q://QID1/ChoiceGroup/SelectedChoices``) by their full text."""
    m = re.fullmatch(r"e://Field/(.+)", expr.strip())
    return m.group(1) if m else expr.strip()


@dataclass
class QsfImport:
    """What :func:`read_qsf` found: the questionnaire mapping and what it left out."""

    raw: dict[str, Any]
    #: one line per survey element that is not simulated (id, type, reason)
    skipped: list[str] = field(default_factory=list)
    #: logic, randomisation, piped text left as placeholders, sliders posed on fewer points
    notes: list[str] = field(default_factory=list)


def read_qsf(path: str | Path, pipe: Mapping[str, str] | None = None) -> QsfImport:
    """Import a Qualtrics .qsf file (see the module docstring); ``pipe`` fills piped text."""
    p = Path(path)
    try:
        data = json.loads(p.read_text("utf-8-sig"))
    except FileNotFoundError:
        raise DataError(f"Questionnaire file {p} does not exist.", _HINT) from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"Cannot read questionnaire file {p}: {e}.", _HINT) from None
    except json.JSONDecodeError as e:
        raise DataError(
            f"{p} is not a Qualtrics .qsf file (not valid JSON: {e.msg}, line {e.lineno}).", _HINT
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("SurveyElements"), list):
        raise DataError(f"{p} is not a Qualtrics .qsf file (no SurveyElements).", _HINT)
    return parse_qsf(data, pipe=pipe, where=str(p))


def parse_qsf(data: Mapping[str, Any], pipe: Mapping[str, str] | None = None, where: str = "qsf") -> QsfImport:
    """Import a parsed .qsf document (see :func:`read_qsf`)."""
    elements = [e for e in data.get("SurveyElements", []) if isinstance(e, dict)]
    entry = _dict(data, "SurveyEntry")
    out = QsfImport(raw={"title": plain_text(str(entry.get("SurveyName") or "")), "questions": []})
    pipes = _Pipes(dict(pipe or {}))
    payloads = {
        str(e["Payload"].get("QuestionID") or e.get("PrimaryAttribute")): e["Payload"]
        for e in elements
        if e.get("Element") == "SQ" and isinstance(e.get("Payload"), dict)
    }
    out.skipped += [
        f"{e.get('PrimaryAttribute')}: the export holds no question data for it (a deleted question)"
        for e in elements
        if e.get("Element") == "SQ" and not isinstance(e.get("Payload"), dict)
    ]
    order, trashed = _question_order(elements, out.notes)
    seen: set[str] = set()
    used: set[str] = set()
    for qid in [*order, *(q for q in payloads if q not in order)]:
        if qid in seen or qid not in payloads:
            continue
        seen.add(qid)
        pl = payloads[qid]
        tag = str(pl.get("DataExportTag") or qid)
        if qid in trashed:
            out.skipped.append(f"{tag} ({qid}): in the survey's trash")
            continue
        for item in _items(qid, tag, pl, pipes, out):
            out.raw["questions"].append(_unique(item, qid, used, out.notes))
        for key, what in (("DisplayLogic", "display logic"), ("SkipLogic", "skip logic")):
            if pl.get(key):
                out.notes.append(f"{tag}: {what} is not simulated (every simulated person is asked it)")
        if isinstance(pl.get("Randomization"), dict) and pl["Randomization"].get("Type") not in (None, "None"):
            out.notes.append(
                f"{tag}: Qualtrics randomises its options; ValueSim shows them in the order of the file "
                "(set the order with -o option_order=...)"
            )
    out.notes.extend(pipes.notes())
    if not out.raw["questions"]:
        raise DataError(
            f"{where}: no question ValueSim can simulate (multiple choice with one answer, a Likert matrix, "
            f"a slider or NPS); skipped: {'; '.join(out.skipped) or 'nothing'}.",
            _HINT,
        )
    return out


def _unique(item: dict[str, Any], qid: str, used: set[str], notes: list[str]) -> dict[str, Any]:
    """An export tag used twice (Qualtrics allows it) gets the question's id appended, with a note."""
    new_id = str(item["id"])
    if new_id.upper() in used:
        new_id = safe_id(f"{item['id']}_{qid}")
        notes.append(f"{item['id']} is the export tag of two questions: {qid}'s is named {new_id}")
    used.add(new_id.upper())
    return {**item, "id": new_id}


class _Pipes:
    """Fills piped text from the user's values and remembers what stayed a placeholder."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.left: dict[str, str] = {}
        self.used: set[str] = set()

    def fill(self, text: str) -> str:
        def one(m: re.Match[str]) -> str:
            key = pipe_key(m.group(1))
            if key in self.values:
                self.used.add(key)
                return self.values[key]
            self.left.setdefault(key, m.group(0))
            return f"[{key}]"

        return _PIPE.sub(one, text)

    def notes(self) -> list[str]:
        out = [
            f"piped text {expr} is left as the placeholder [{key}]; fill it with --pipe {key}=VALUE"
            for key, expr in self.left.items()
        ]
        unused = sorted(set(self.values) - self.used)
        if unused:
            out.append(f"--pipe {', '.join(unused)}: no such piped text in the questionnaire")
        return out


def _question_order(elements: list[dict[str, Any]], notes: list[str]) -> tuple[list[str], set[str]]:
    """Question ids in survey-flow order (blocks as the flow visits them), and the trashed ones."""
    blocks: dict[str, dict[str, Any]] = {}
    for e in elements:
        if e.get("Element") == "BL":
            payload = e.get("Payload")
            items = payload.values() if isinstance(payload, dict) else payload if isinstance(payload, list) else []
            for b in items:
                if isinstance(b, dict) and b.get("ID"):
                    blocks[str(b["ID"])] = b
    flow: list[str] = []
    for e in elements:
        if e.get("Element") == "FL" and isinstance(e.get("Payload"), dict):
            flow = list(_flow_blocks(e["Payload"].get("Flow") or [], notes))
    ordered = [b for b in flow if b in blocks] + [b for b in blocks if b not in flow]
    order: list[str] = []
    trashed: set[str] = set()
    for bid in ordered:
        b = blocks[bid]
        qids = [
            str(x["QuestionID"])
            for x in b.get("BlockElements") or []
            if isinstance(x, dict) and x.get("Type") == "Question" and x.get("QuestionID")
        ]
        if b.get("Type") == "Trash":
            trashed.update(qids)
            continue
        options = _dict(b, "Options")
        rnd = options.get("Randomization") if isinstance(options, dict) else None
        if isinstance(rnd, dict) and rnd.get("Type") not in (None, "None", ""):
            notes.append(
                f"block {b.get('Description') or bid!r} randomises its questions: not simulated "
                "(questions are asked in the file's order)"
            )
        looping = options.get("Looping") if isinstance(options, dict) else None
        if looping not in (None, "None", "", False):
            notes.append(
                f"block {b.get('Description') or bid!r} loops (loop & merge): not simulated (its questions are "
                "asked once; loop fields ${lm://Field/N} stay placeholders)"
            )
        order.extend(qids)
    return order, trashed


def _flow_blocks(flow: list[Any], notes: list[str]) -> Iterator[str]:
    for f in flow:
        if not isinstance(f, dict):
            continue
        kind = f.get("Type")
        if kind in ("Block", "Standard", "Default") and f.get("ID"):
            yield str(f["ID"])
        if kind == "BlockRandomizer":
            notes.append("the survey flow randomises blocks: not simulated (blocks are asked in the file's order)")
        elif kind == "Branch":
            notes.append("the survey flow branches: not simulated (every simulated person sees every block)")
        if isinstance(f.get("Flow"), list):
            yield from _flow_blocks(f["Flow"], notes)


def _dict(mapping: Mapping[str, Any], key: str) -> dict[str, Any]:
    """``mapping[key]`` when it is a mapping (Qualtrics writes [] or null for an empty one)."""
    value = mapping.get(key)
    return value if isinstance(value, dict) else {}


def _ordered_keys(mapping: Any, order: Any) -> list[str]:
    """Keys of a Choices/Answers mapping in the order Qualtrics shows them."""
    if not isinstance(mapping, dict):
        return []
    keys = [str(k) for k in order or [] if str(k) in mapping]
    return keys + [k for k in mapping if k not in keys]


def _display(entry: Any, pipes: _Pipes) -> str:
    return plain_text(pipes.fill(str(entry.get("Display", "")))) if isinstance(entry, dict) else ""


def _code(key: str, recodes: Mapping[str, Any]) -> int | None:
    raw = recodes.get(key, key)
    try:
        value = float(str(raw).strip())
    except ValueError:
        return None
    return int(value) if value.is_integer() else None


def _options(
    keys: list[str], mapping: dict[str, Any], recodes: Mapping[str, Any], pipes: _Pipes
) -> tuple[list[str], list[int], list[str]] | str:
    """(labels, codes, dropped non-answers) of a choice set, or the reason it cannot be posed."""
    labels: list[str] = []
    codes: list[int] = []
    dropped: list[str] = []
    for k in keys:
        label = _display(mapping[k], pipes) or k
        code = _code(k, recodes)
        if code is None:
            return f"option {label!r} has the recode value {recodes.get(k)!r}, not a whole number"
        if code < 0:
            dropped.append(f"{label!r} ({code})")
            continue
        labels.append(label)
        codes.append(code)
    if len(set(codes)) < len(codes):
        return "two options share one recode value"
    if len(set(labels)) < len(labels):
        return "two options have the same text"
    if len(labels) < 2:
        return f"{len(labels)} option(s) with a valid code"
    if len(labels) > MAX_OPTIONS:
        return f"{len(labels)} options (at most {MAX_OPTIONS} can be posed)"
    return labels, codes, dropped


def _posable(
    keys: list[str],
    mapping: dict[str, Any],
    recodes: Mapping[str, Any],
    pipes: _Pipes,
    name: str,
    tag: str,
    out: QsfImport,
) -> tuple[list[str], list[int]] | None:
    """(labels, codes) of a choice set, its left-out non-answers noted; None (and a skip line)
    when it cannot be posed."""
    got = _options(keys, mapping, recodes, pipes)
    if isinstance(got, str):
        out.skipped.append(f"{name}: {got}")
        return None
    labels, codes, dropped = got
    if dropped:
        out.notes.append(f"{tag}: {', '.join(dropped)} left out: a negative code is a non-answer")
    return labels, codes


def _looks_ordered(labels: list[str]) -> bool:
    """A choice list reads as a scale when most options use scale words or are numbers."""
    hits = sum(bool(_SCALE_WORDS.search(lab)) or lab.strip().lstrip("-").isdigit() for lab in labels)
    return hits >= max(2, math.ceil(0.6 * len(labels)))


def _items(qid: str, tag: str, pl: dict[str, Any], pipes: _Pipes, out: QsfImport) -> Iterator[dict[str, Any]]:
    """The questionnaire entries of one Qualtrics question (several for a matrix or slider)."""
    kind = str(pl.get("QuestionType") or "")
    selector = str(pl.get("Selector") or "")
    sub = str(pl.get("SubSelector") or "")
    text = plain_text(pipes.fill(str(pl.get("QuestionText") or "")))
    name = f"{tag} ({qid}, {kind}{'/' + selector if selector else ''})"
    recodes = _dict(pl, "RecodeValues")
    if kind in _SKIP_TYPES:
        out.skipped.append(f"{name}: {_SKIP_TYPES[kind]}")
        return
    if not text:
        out.skipped.append(f"{name}: no question text")
        return
    choices = _dict(pl, "Choices")
    if kind == "MC" and selector == "NPS":
        yield {"id": safe_id(tag), "text": text, "scale": {"min": 0, "max": 10, **_nps_ends(pl, pipes)}}
        return
    if kind == "MC" and selector in _SINGLE_MC:
        got = _posable(_ordered_keys(choices, pl.get("ChoiceOrder")), choices, recodes, pipes, name, tag, out)
        if got is None:
            return
        labels, codes = got
        yield {"id": safe_id(tag), "text": text, "options": labels, "codes": codes, "ordered": _looks_ordered(labels)}
        return
    if kind == "MC":
        out.skipped.append(f"{name}: several answers allowed (only one-answer questions are simulated)")
        return
    if kind == "Matrix" and selector in ("Likert", "Profile") and sub in _SINGLE_MATRIX:
        answers = _dict(pl, "Answers")
        got = _posable(_ordered_keys(answers, pl.get("AnswerOrder")), answers, recodes, pipes, name, tag, out)
        if got is None:
            return
        labels, codes = got
        section = _short(text)
        for row_id, row_text in _rows(tag, pl, choices, pipes):
            row = {"id": row_id, "text": _row_text(text, row_text), "options": labels, "codes": codes}
            yield {**row, "ordered": True, "section": section}
        return
    if kind == "Matrix" and sub in _SINGLE_MATRIX:  # one answer per row, but not a Likert scale shared by the rows
        what = {"Bipolar": "a bipolar (semantic differential) matrix", "TE": "a text-entry matrix"}.get(
            selector, f"a {selector or 'matrix'} matrix"
        )
        out.skipped.append(f"{name}: {what} (only Likert matrices are simulated)")
        return
    if kind == "Matrix":
        out.skipped.append(f"{name}: a matrix with {sub or selector} answers (only one answer per row is simulated)")
        return
    if kind == "Slider" and selector in ("HSLIDER", "HBAR"):
        got_scale = _slider_scale(pl, pipes)
        if isinstance(got_scale, str):
            out.skipped.append(f"{name}: {got_scale}")
            return
        scale, note = got_scale
        if note:
            out.notes.append(f"{tag}: {note}")
        for row_id, row_text in _rows(tag, pl, choices, pipes):
            yield {"id": row_id, "text": _row_text(text, row_text), "scale": scale}
        return
    if kind == "Slider":
        what = {"STAR": "a star rating"}.get(selector, f"a {selector or 'slider'} slider")
        out.skipped.append(f"{name}: {what} (only horizontal sliders and bars are simulated)")
        return
    out.skipped.append(f"{name}: this question type is not simulated")


def _rows(tag: str, pl: dict[str, Any], choices: dict[str, Any], pipes: _Pipes) -> Iterator[tuple[str, str]]:
    """(export id, row text) of each row of a matrix or slider, in the order shown."""
    tags = _dict(pl, "ChoiceDataExportTags")
    for k in _ordered_keys(choices, pl.get("ChoiceOrder")):
        row_tag = str(tags.get(k) or "").strip() if tags else ""
        yield safe_id(row_tag or f"{tag}_{k}"), _display(choices[k], pipes)


def _row_text(stem: str, row: str) -> str:
    """A matrix row as a question: the shared stem, then the row's statement."""
    if not row:
        return stem
    return f"{stem} {row}" if stem.endswith((":", "?", ".", "-", "—")) else f"{stem}: {row}"


def _short(text: str, limit: int = 60) -> str:
    """A section title from a matrix stem: at most ``limit`` characters, cut at a word."""
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


def _nps_ends(pl: dict[str, Any], pipes: _Pipes) -> dict[str, str]:
    labels = pl.get("ColumnLabels")
    texts = [_display(v, pipes) for v in labels.values()] if isinstance(labels, dict) else []
    texts = [t for t in texts if t]
    if len(texts) >= 2:
        return {"low": texts[0], "high": texts[-1]}
    return {"low": "Not at all likely", "high": "Extremely likely"}  # Qualtrics' own NPS end labels


def _slider_scale(pl: dict[str, Any], pipes: _Pipes) -> tuple[dict[str, Any], str] | str:
    """The scale of a slider (min, max, step, end labels) and a note when it is posed on fewer points."""
    conf = _dict(pl, "Configuration")
    try:
        lo = float(conf.get("CSSliderMin", 0))
        hi = float(conf.get("CSSliderMax", 100))
        grid = int(float(conf.get("GridLines", 0) or 0))
    except (TypeError, ValueError):
        return "its range is not numeric"
    if not (lo.is_integer() and hi.is_integer()) or hi <= lo:
        return f"its range {lo:g}..{hi:g} is not a range of whole numbers"
    if lo < 0:
        return f"its range {lo:g}..{hi:g} has negative values (negative codes mean non-answers in ValueSim)"
    lo_i, hi_i = int(lo), int(hi)
    span = hi_i - lo_i
    step = 1
    if span + 1 > MAX_OPTIONS:
        candidates = ([span // grid] if grid and span % grid == 0 else []) + list(range(1, span + 1))
        step = next(s for s in candidates if s >= 1 and span % s == 0 and span // s + 1 <= MAX_OPTIONS)
    labels = pl.get("Labels")
    texts = [_display(v, pipes) for v in labels.values()] if isinstance(labels, dict) else []
    texts = [t for t in texts if t]
    low, high = (texts[0], texts[-1]) if len(texts) >= 2 else (str(lo_i), str(hi_i))
    note = ""
    if step > 1:
        points = span // step + 1
        note = f"slider {lo_i}..{hi_i} posed on {points} points ({lo_i}, {lo_i + step}, ..., {hi_i})"
    return {"min": lo_i, "max": hi_i, "step": step, "low": low, "high": high}, note


def safe_id(tag: str) -> str:
    """An export tag as a questionnaire id (letters, digits, _ . -; starting with a letter)."""
    clean = _ID_BAD.sub("_", tag.strip()) or "Q"
    return clean if clean[0].isalpha() else f"Q{clean}"

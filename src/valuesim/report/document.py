"""The report as data: sections of paragraphs, tables and figures.

:mod:`valuesim.report.build` fills a :class:`Document`; the HTML template and the
Markdown writer both render the same document, so the two reports cannot drift apart.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Cell:
    text: str
    #: "" | "best" (best value of a column) | "better" / "worse" (significant vs the
    #: reference) | "muted" | "synthetic"
    mark: str = ""
    #: secondary text shown under the value in HTML, after it in Markdown (e.g. a CI)
    sub: str = ""


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Cell]]
    caption: str = ""
    #: per column: "l" or "r"
    align: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.align:
            self.align = ["l"] * len(self.columns)


@dataclass
class Figure:
    id: str
    title: str
    png: bytes
    caption: str = ""

    @property
    def filename(self) -> str:
        return f"{self.id}.png"

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@dataclass
class Section:
    id: str
    title: str
    paragraphs: list[str] = field(default_factory=list)
    blocks: list[Table | Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: free-form preformatted blocks (label, text), e.g. commands and configurations
    details: list[tuple[str, str]] = field(default_factory=list)

    def tables(self) -> list[Table]:
        return [b for b in self.blocks if isinstance(b, Table)]

    def figures(self) -> list[Figure]:
        return [b for b in self.blocks if isinstance(b, Figure)]


@dataclass
class Document:
    title: str
    subtitle: str
    synthetic: bool
    warnings: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)

    def figures(self) -> list[Figure]:
        return [f for s in self.sections for f in s.figures()]


#: Characters that start Markdown (or GitHub-flavoured Markdown) syntax inside a line.
_MD_SPECIAL = re.compile(r"([\\`*_|~$]|\](?=[(\[:]))")
#: A "<" that could open an HTML tag, comment or autolink; an "&" that could start an entity.
_MD_TAG = re.compile(r"<(?=[A-Za-z/!?])")
_MD_ENTITY = re.compile(r"&(?=#?\w+;)")
#: Text that cannot form Markdown: digits, spaces, punctuation of numbers and intervals.
_MD_PLAIN = re.compile(r"[\d\s.,;:%+\-\u2212\u00b1\[\]]*")


def _md_escape(text: str) -> str:
    """Plain text for Markdown: names and titles render as written, never as markup or HTML.

    a ``<`` that could open a tag and an ``&`` that could start an entity become entities (no
    raw HTML such as ``<script>`` or ``<img onerror>``; "n < 5" stays as it is);
    emphasis, code, table, strike-through and math characters get a backslash, and so does a
    ``]`` that would close a link (``](``, ``][``, ``]:``);
    line breaks become spaces (a name cannot start a new block).
    """
    text = " ".join(str(text).splitlines())
    if _MD_PLAIN.fullmatch(text):  # numbers and intervals ("0.512 [0.498, 0.526]") stay readable
        return text
    text = _MD_ENTITY.sub("&amp;", text)
    text = _MD_TAG.sub("&lt;", text)
    return _MD_SPECIAL.sub(r"\\\1", text)


def _md_fence(text: str) -> str:
    """A code fence longer than any run of backticks in *text* (so the text cannot close it)."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _md_cell(c: Cell) -> str:
    t = _md_escape(c.text)
    if c.mark in ("best", "better") and t not in ("", "-"):
        t = f"**{t}**"
    elif c.mark == "worse" and t not in ("", "-"):
        t = f"_{t}_"
    if not c.sub:
        return t
    sub = _md_escape(c.sub)
    return f"{t} {sub}" if c.sub.startswith("[") else f"{t} ({sub})"


def table_markdown(t: Table) -> str:
    head = "| " + " | ".join(_md_escape(c) for c in t.columns) + " |"
    sep = "| " + " | ".join("---:" if a == "r" else "---" for a in t.align) + " |"
    body = ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in t.rows]
    out = [head, sep, *body]
    if t.caption:
        out += ["", f"*{_md_escape(t.caption)}*"]
    return "\n".join(out)


def to_markdown(doc: Document, figure_dir: str = "figures") -> str:
    """The document as Markdown; figures are referenced as ``figure_dir/<id>.png``."""
    lines = [f"# {_md_escape(doc.title)}", "", _md_escape(doc.subtitle), ""]
    if doc.synthetic:
        lines += [
            (
                "> **SYNTHETIC DATA.** Every number in this report comes from generated respondents, "
                "not from survey data. Use it to check the pipeline, never as a finding."
            ),
            "",
        ]
    for w in doc.warnings:
        lines += [f"> **Note:** {_md_escape(w)}", ""]
    lines += ["## Contents", ""]
    lines += [f"- [{_md_escape(s.title)}](#{s.id})" for s in doc.sections]
    lines.append("")
    for s in doc.sections:
        lines += [f'<a id="{s.id}"></a>', "", f"## {_md_escape(s.title)}", ""]
        for p in s.paragraphs:
            lines += [_md_escape(p), ""]
        for b in s.blocks:
            if isinstance(b, Table):
                lines += [table_markdown(b), ""]
            else:
                lines += [f"![{_md_escape(b.title)}]({figure_dir}/{b.filename})", ""]
                if b.caption:
                    lines += [f"*{_md_escape(b.caption)}*", ""]
        for n in s.notes:
            lines += [f"- {_md_escape(n)}"]
        if s.notes:
            lines.append("")
        for label, text in s.details:
            fence = _md_fence(text)
            lines += [f"**{_md_escape(label)}**", "", fence, text, fence, ""]
    return "\n".join(lines).rstrip() + "\n"

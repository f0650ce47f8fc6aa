"""Render the measured numbers in README.md and docs/*.md from docs/results/*.json.

A document marks a generated table with a pair of comments::

    <!-- results:baselines/n1000 -->
    (everything here is replaced)
    <!-- /results -->

``NAME`` is a results file (``docs/results/NAME.json``, written by a script in ``benchmarks/``
through ``benchmarks/_results.py``) and ``TABLE`` one of its tables. The block becomes the
table's caption, the table, and a one-line source note (command, data, commit, date).

    python tools/update_docs.py            # rewrite every block from its JSON
    python tools/update_docs.py --check    # exit 1 when a block differs from its JSON, refers to a
                                           # missing file or table, or a measured-looking number
                                           # was typed by hand outside a block

The hand-typed-number check flags, outside blocks and code, decimals in tables, 3-decimal
numbers in prose, and sizes (98 MB), counts of a total (1,117 of 72,068), products (~97k x ~600),
percentages (1.5 %), durations (< 20 s) and approximations (about 16). A number that is not a
measurement (a file's size, a setting, a version, a definition) may stay outside a block: end its
line with ``<!-- not-a-result -->``; "95% CI" is allowed everywhere (``NOT_MEASURED``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = "docs/results"

OPEN = re.compile(r"^<!-- results:([A-Za-z0-9_-]+)/([A-Za-z0-9_-]+) -->\s*$")
CLOSE = re.compile(r"^<!-- /results -->\s*$")
ALLOW = "<!-- not-a-result -->"
#: A decimal in a table row, or a 3-decimal number in prose (0.325, 1.215): what results look like.
TABLE_NUMBER = re.compile(r"(?<![\w.])\d+\.\d+(?![\w.])")
PROSE_NUMBER = re.compile(r"(?<![\w.])\d\.\d{3}(?![\w.])")
_N = r"(?<![\w.])~?\d[\d,]*(?:\.\d+)?k?"
#: Other shapes a measurement takes in prose: a size, a count of a total, a product of counts, a
#: share, a duration, an approximation. Each hit is a measurement (generate it in a block) or a
#: fact that is not one (a file's size, a setting, a definition: mark the line).
MEASURED = {
    "size": re.compile(rf"{_N}\s?(?:[kKMGT]i?B|bytes)\b"),
    "count": re.compile(rf"{_N}\s+(?:out\s+)?of\s+{_N}(?![\w.])"),
    "product": re.compile(rf"{_N}(?:\s+[a-z]+)?\s+[x×]\s+{_N}(?![\w.])"),
    "percentage": re.compile(rf"{_N}\s?%"),
    "duration": re.compile(rf"{_N}\s?(?:ms|s|sec|seconds?|min|minutes?|h|hours?)(?![\w])"),
    "approximation": re.compile(r"(?:~|≈|\b(?:about|roughly|around|nearly|almost)\s+)\d"),
}
#: Phrases that look measured but are definitions, allowed everywhere (the explicit allow-list;
#: anything else that is not a measurement is marked on its line with ALLOW).
NOT_MEASURED = (re.compile(r"\b95 ?%(?= (?:[a-z]+ ){0,2}(?:CIs?|confidence|intervals?)\b)"),)


@dataclass
class Block:
    path: Path
    start: int  # 0-based line index of the opening comment
    end: int  # 0-based line index of the closing comment
    name: str
    table: str


class DocsError(Exception):
    pass


def documents(root: Path) -> list[Path]:
    docs = [root / "README.md", *sorted((root / "docs").rglob("*.md"))]
    return [p for p in docs if p.is_file()]


def find_blocks(path: Path, lines: list[str]) -> tuple[list[Block], list[str]]:
    blocks: list[Block] = []
    errors: list[str] = []
    current: tuple[int, str, str] | None = None
    fenced = _fenced(lines)
    for i, line in enumerate(lines):
        if fenced[i]:  # a marker shown as an example in a code block
            continue
        m = OPEN.match(line)
        if m:
            if current is not None:
                errors.append(f"{path}:{i + 1}: a results block opens inside the block opened at line {current[0] + 1}")
            current = (i, m.group(1), m.group(2))
        elif CLOSE.match(line):
            if current is None:
                errors.append(f"{path}:{i + 1}: '<!-- /results -->' without an opening '<!-- results:NAME/TABLE -->'")
            else:
                blocks.append(Block(path, current[0], i, current[1], current[2]))
                current = None
        elif line.lstrip().startswith("<!-- results") and not OPEN.match(line):
            errors.append(
                f"{path}:{i + 1}: malformed results marker {line.strip()!r} (want <!-- results:NAME/TABLE -->)"
            )
    if current is not None:
        errors.append(f"{path}:{current[0] + 1}: results block {current[1]}/{current[2]} is never closed")
    return blocks, errors


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def render(doc: dict[str, Any], table_name: str, link: str) -> list[str]:
    """The lines between the markers for one table of one results file."""
    tab = doc["tables"][table_name]
    out = [f"*{tab['caption']}*", ""] if tab.get("caption") else []
    out.append("| " + " | ".join(_cell(c) for c in tab["columns"]) + " |")
    out.append("|" + "|".join(" --- " for _ in tab["columns"]) + "|")
    out.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in tab["rows"])
    data = (doc.get("data") or {}).get("description") or "unknown data"
    run = tab.get("source") or doc  # a table kept from an earlier run names that run
    commit = (run.get("commit") or "no commit")[:9] + (" + local changes" if run.get("dirty") else "")
    date = str(run.get("created") or "")[:10]
    out += [
        "",
        f"<sub>Source: [{RESULTS}/{doc['name']}.json]({link}), `{run['command']}`; {data}; {commit}; {date}.</sub>",
    ]
    return out


def load_results(root: Path, name: str, cache: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if name not in cache:
        path = root / RESULTS / f"{name}.json"
        if not path.is_file():
            raise DocsError(f"{RESULTS}/{name}.json does not exist (run the benchmark script that writes it)")
        try:
            cache[name] = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise DocsError(f"{RESULTS}/{name}.json is not valid JSON: {e}") from e
    return cache[name]


def _fenced(lines: list[str]) -> list[bool]:
    inside, out = False, []
    for line in lines:
        if line.lstrip().startswith("```"):
            inside = not inside
            out.append(True)
        else:
            out.append(inside)
    return out


def hand_typed_numbers(path: Path, lines: list[str], blocks: list[Block]) -> list[str]:
    """Measured-looking numbers outside results blocks and code (see the module docstring)."""
    in_block = [False] * len(lines)
    for b in blocks:
        for i in range(b.start, b.end + 1):
            in_block[i] = True
    fenced = _fenced(lines)
    found = []
    for i, line in enumerate(lines):
        if in_block[i] or fenced[i] or ALLOW in line:
            continue
        text = re.sub(r"`[^`]*`", "", line)  # inline code: commands, options, examples
        for allowed in NOT_MEASURED:
            text = allowed.sub("", text)
        pattern = TABLE_NUMBER if text.lstrip().startswith("|") else PROSE_NUMBER
        hits = pattern.findall(text)
        hits += [m.group(0).strip() for p in MEASURED.values() for m in p.finditer(text)]
        if hits:
            found.append(
                f"{path}:{i + 1}: number(s) {', '.join(hits)} typed by hand: generate them in a "
                f"<!-- results:NAME/TABLE --> block, or mark the line {ALLOW} if it is not a measurement"
            )
    return found


def process(root: Path, *, check: bool, hand_typed: bool = True) -> list[str]:
    """Rewrite (or, with ``check``, compare) every block; return the problems found."""
    problems: list[str] = []
    cache: dict[str, dict[str, Any]] = {}
    for path in documents(root):
        rel = path.relative_to(root)
        lines = path.read_text().split("\n")
        blocks, errors = find_blocks(rel, lines)
        problems += errors
        if check and hand_typed:
            problems += hand_typed_numbers(rel, lines, blocks)
        new = list(lines)
        for b in reversed(blocks):  # bottom-up keeps earlier line numbers valid
            try:
                doc = load_results(root, b.name, cache)
                if b.table not in doc.get("tables", {}):
                    known = ", ".join(sorted(doc.get("tables", {}))) or "none"
                    raise DocsError(f"{RESULTS}/{b.name}.json has no table {b.table!r} (tables: {known})")
                link = Path(os.path.relpath(root / RESULTS / f"{b.name}.json", path.parent)).as_posix()
                want = render(doc, b.table, link)
            except DocsError as e:
                problems.append(f"{rel}:{b.start + 1}: results:{b.name}/{b.table}: {e}")
                continue
            have = lines[b.start + 1 : b.end]
            if have != want:
                if check:
                    diff = next(
                        (
                            f"line {b.start + 2 + k}: {h!r} != {w!r}"
                            for k, (h, w) in enumerate(zip(have, want))
                            if h != w
                        ),
                        f"{len(have)} lines in the document, {len(want)} generated",
                    )
                    problems.append(
                        f"{rel}:{b.start + 1}: results:{b.name}/{b.table} differs from {RESULTS}/{b.name}.json "
                        f"({diff}); run python tools/update_docs.py"
                    )
                new[b.start + 1 : b.end] = want
        if not check and new != lines:
            path.write_text("\n".join(new))
            print(f"updated {rel}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 when a block is out of date")
    ap.add_argument(
        "--no-hand-typed", action="store_true", help="with --check: skip the scan for hand-typed numbers outside blocks"
    )
    ap.add_argument("--root", type=Path, default=REPO, help="repository root (default: this checkout)")
    args = ap.parse_args(argv)
    problems = process(args.root.resolve(), check=args.check, hand_typed=not args.no_hand_typed)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) with generated numbers in the docs", file=sys.stderr)
        return 1
    if args.check:
        print("docs numbers: every results block matches its JSON")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

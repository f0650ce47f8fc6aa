"""Helpers shared by the viewer's tests (a module with a unique name: importable from any test file)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

N_PEOPLE = 120
#: a run directory name and a country label a browser must never execute
HOSTILE = '"><img src=x onerror=alert(1)>$HOME<script>alert(2)<\\script>'


def make_partial(src: Path, dst: Path, keep: float = 0.5, *, torn_line: bool = True) -> list[str]:
    """A copy of a finished run as it looks while being written: the first ``keep`` share of
    predictions.jsonl (plus a torn last line), no metrics.json, status running. Returns the
    lines left out, to append later."""
    shutil.copytree(src, dst)
    lines = (src / "predictions.jsonl").read_text("utf-8").splitlines(keepends=True)
    n = int(len(lines) * keep)
    text = "".join(lines[:n]) + (lines[n][: len(lines[n]) // 2] if torn_line else "")
    (dst / "predictions.jsonl").write_text(text, "utf-8")
    (dst / "metrics.json").unlink()
    man = json.loads((dst / "manifest.json").read_text("utf-8"))
    man["status"] = "running"
    (dst / "manifest.json").write_text(json.dumps(man), "utf-8")
    return lines[n:]

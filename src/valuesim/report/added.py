"""The report section "What the persona and the LLM add": paired differences between runs.

Which runs to compare is read from their configurations, so a report of any set of runs
finds the pairs it holds:

* an LLM run minus its **persona control** -- a run of the same method and configuration
  except ``persona=shuffled`` / ``shuffled-any`` / ``none``: does the person's own record matter?
* an LLM run minus **its prior** -- the trained method a hybrid of the report pools it with,
  else the ``supervised`` run: does the LLM beat the best trained predictor?
* a **hybrid** minus **its prior** (the run of the method and options it was given as prior):
  does the LLM add information on top of the trained predictor?

Each difference is paired prediction by prediction (same split only) with a 95 % bootstrap CI
over respondents (:func:`valuesim.bench.compare.paired_comparison`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from valuesim.bench.compare import paired_comparison
from valuesim.errors import ValueSimError
from valuesim.llm.simulation import is_simulated
from valuesim.report.document import Cell, Section, Table
from valuesim.report.load import RunData
from valuesim.survey.codebook import Codebook

CONTROLS = ("shuffled", "shuffled-any", "none")
_IGNORED = {"name", "base_url", "persona", "persona_seed"}
_METRICS = ("top1", "nmae")


@dataclass(frozen=True)
class Contrast:
    what: str  # "persona control" | "prior" | "hybrid vs prior"
    run: RunData
    baseline: RunData


def _core(conf: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in conf.items() if k not in _IGNORED}


def _persona(run: RunData) -> str:
    return str(run.method_config.get("persona") or "own")


def _is_llm(run: RunData) -> bool:
    return bool(run.model)


def find_contrasts(runs: Sequence[RunData]) -> list[Contrast]:
    """The pairs of the section (see the module docstring), in run order."""
    out: list[Contrast] = []
    hybrids = [r for r in runs if r.method == "hybrid"]
    by_method: dict[str, list[RunData]] = {}
    for r in runs:
        by_method.setdefault(r.method, []).append(r)

    def run_of(method: str, options: Mapping[str, Any] | None) -> RunData | None:
        for cand in by_method.get(method, []):
            if _persona(cand) == "own" and (options is None or _core(cand.method_config) == _core(options)):
                return cand
        return None

    for r in runs:
        if not _is_llm(r) or _persona(r) != "own":
            continue
        core = _core(r.method_config)
        if r.method != "hybrid":
            for c in by_method.get(r.method, []):
                if _persona(c) in CONTROLS and _core(c.method_config) == core:
                    out.append(Contrast(f"persona control ({_persona(c)})", r, c))
            prior: RunData | None = None
            for h in hybrids:
                hc = h.method_config
                if hc.get("llm") == r.method and _core(hc.get("llm_options") or {}) == {
                    k: v for k, v in core.items() if k != "name"
                }:
                    prior = run_of(str(hc.get("prior")), hc.get("prior_options"))
            prior = prior or run_of("supervised", None)
            if prior is not None:
                out.append(Contrast("LLM method vs trained prior", r, prior))
        else:
            conf = r.method_config
            prior = run_of(str(conf.get("prior")), conf.get("prior_options"))
            if prior is not None:
                out.append(Contrast("hybrid vs its prior", r, prior))
    return out


def added_section(runs: Sequence[RunData], codebook: Codebook, *, seed: int = 0, n_perm: int = 2000) -> Section | None:
    """The section, or None when the report holds no pair to compare."""
    contrasts = find_contrasts(runs)
    if not contrasts:
        return None
    sec = Section("added", "What the persona and the LLM add")
    sec.paragraphs.append(
        "Paired differences on identical work (same split), prediction by prediction: an LLM run minus its "
        "persona control (the same method shown another respondent's record, or nobody's), an LLM run minus "
        "the trained method it would be pooled with, and the hybrid minus its prior. Under each difference: "
        "the 95% paired bootstrap CI over respondents. For nMAE a negative difference is an improvement."
    )
    rows: list[list[Cell]] = []
    for c in contrasts:
        label = [Cell(c.what), Cell(c.run.name), Cell(c.baseline.name)]
        if c.run.split_hash != c.baseline.split_hash:
            sec.notes.append(f"{c.run.name} vs {c.baseline.name}: made on different splits, not compared.")
            continue
        if not (c.run.complete and c.baseline.complete):
            sec.notes.append(f"{c.run.name} vs {c.baseline.name}: a run is unfinished, not compared yet.")
            continue
        cells: list[Cell] = []
        n_resp = None
        for metric in _METRICS:
            try:
                res = paired_comparison(
                    c.run.predictions, c.baseline.predictions, metric, codebook=codebook, seed=seed, n_perm=n_perm
                )
            except ValueSimError as e:
                cells.append(Cell("-", "muted", e.message))
                continue
            lo, hi = res.ci95
            mark = ""
            if not lo <= 0 <= hi:
                better = res.diff < 0 if metric == "nmae" else res.diff > 0
                mark = "better" if better else "worse"
            cells.append(Cell(f"{res.diff:+.3f}", mark, f"[{lo:+.3f}, {hi:+.3f}]"))
            n_resp = res.n_respondents
        rows.append([*label, *cells, Cell(str(n_resp) if n_resp is not None else "-")])
    if rows:
        sec.blocks.append(
            Table(
                ["Contrast", "Run", "minus", "Δ top-1", "Δ nMAE", "Resp."],
                rows,
                align=["l", "l", "l", "r", "r", "r"],
                caption="Bold / italic: the 95% CI excludes 0 in the run's favour / against it.",
            )
        )
    if any(is_simulated(r.model) for c in contrasts for r in (c.run, c.baseline)):
        sec.notes.append(
            "SIMULATED: runs made with mock:oracle=P use a simulated model that knows the true answer of the "
            "person the prompt describes. They validate the machinery; they say nothing about any real model."
        )
    return sec

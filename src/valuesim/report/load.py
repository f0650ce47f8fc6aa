"""Read benchmark run directories into :class:`RunData` records for the report.

The directory format belongs to :mod:`valuesim.bench.rundir` (split.json,
predictions.jsonl, metrics.json, manifest.json); scores come from
:func:`valuesim.bench.metrics.per_prediction`, so the report never re-defines a metric.
An unfinished run (no metrics.json yet) can be reported: its finished units are read and
its numbers computed on the fly, with a note.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from valuesim._redact import redact
from valuesim.bench import rundir
from valuesim.bench.metrics import per_prediction, summarize
from valuesim.errors import DataError
from valuesim.survey.codebook import Codebook


@dataclass
class RunData:
    """One benchmark run as the report sees it.

    ``predictions``: one row per prediction of a finished unit, as scored by
    :func:`~valuesim.bench.metrics.per_prediction` (columns respondent, question, fold,
    condition, country, truth, prediction, probabilities, kind, section, ordered,
    n_options, rank_true, rank_pred, abstained, invalid, top1, nmae, within1) plus
    ``confidence``: the probability the method gave its own answer (NaN without
    probabilities) and ``meta``: the row's meta dict (module answers, rationales, usage). ``metrics``: metrics.json, or the same summary computed from the
    finished units when the run is not complete.
    """

    path: Path
    name: str
    predictions: pd.DataFrame
    metrics: dict[str, Any]
    manifest: dict[str, Any]
    split: dict[str, Any]
    complete: bool
    notes: list[str] = field(default_factory=list)

    @property
    def method(self) -> str:
        return str(self.metrics.get("method") or (self.config.get("method") or {}).get("name") or self.name)

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.manifest.get("config") or {})

    @property
    def method_config(self) -> dict[str, Any]:
        return dict(self.config.get("method") or {})

    @property
    def model(self) -> str | None:
        """The model spec of an LLM method (or of a method's LLM item judgments), if the run recorded one."""
        mc = self.method_config
        for key in ("model", "model_spec", "spec", "judge"):
            spec = mc.get(key) or self.config.get(key)
            if isinstance(spec, Mapping):
                spec = spec.get("spec")
            if spec:
                return str(spec)
        return None

    @property
    def synthetic(self) -> bool:
        return bool((self.manifest.get("data") or {}).get("synthetic", False))

    @property
    def split_hash(self) -> str:
        return str(self.split.get("split_hash") or self.manifest.get("split_hash") or "")

    @property
    def conditions(self) -> list[str]:
        return sorted(self.predictions["condition"].unique().tolist(), key=_condition_key)

    @property
    def history_sizes(self) -> list[int]:
        """The history sizes h of a history-sweep run (conditions ``h=<n>``), else []."""
        return sorted(h for c in self.conditions if (h := history_size(c)) is not None)

    @property
    def is_sweep(self) -> bool:
        return bool(self.history_sizes)

    @property
    def n_predictions(self) -> int:
        return len(self.predictions)

    @property
    def has_probabilities(self) -> bool:
        return bool(self.predictions["confidence"].notna().any())

    def usage(self, key: str) -> float | None:
        """An accounting counter of metrics.json (llm_calls, prompt_tokens, ...)."""
        v = self.metrics.get(key)
        return float(v) if isinstance(v, (int, float)) else None


def history_size(condition: str) -> int | None:
    """``"h=58"`` -> 58; anything else -> None."""
    if condition.startswith("h="):
        try:
            return int(condition[2:])
        except ValueError:
            return None
    return None


def _condition_key(c: str) -> tuple[int, int, str]:
    h = history_size(c)
    return (0, h, "") if h is not None else (1, 0, c)


def _confidence(pred: float, probs: Any) -> float:
    if np.isnan(pred) or not isinstance(probs, Mapping) or not probs:
        return np.nan
    code = int(pred)
    v = probs.get(str(code), probs.get(code))
    total = sum(float(x) for x in probs.values())
    if v is None or total <= 0:
        return 0.0 if total > 0 else np.nan
    return float(v) / total


def provisional_metrics(rd: Any, finished: pd.DataFrame, codebook: Codebook, n_boot: int) -> dict[str, Any]:
    """Metrics of an unfinished run, computed from its finished units' rows (*finished*)."""
    return {
        "method": (rd.manifest.get("config") or {}).get("method", {}).get("name", rd.path.name),
        **summarize(finished, codebook, n_boot=n_boot),
    }


def load_run(path: str | Path, codebook: Codebook | None = None, *, n_boot: int = 1000) -> RunData:
    """Read one run directory (finished or not). Raises :class:`DataError` when it is not one
    or holds no finished unit yet."""
    rd = rundir.open_run(path)
    codebook = codebook or rundir.run_codebook(rd.manifest)
    frame = rd.predictions()
    if frame.empty:
        raise DataError(
            f"{rd.path} holds no finished predictions yet.",
            "Let the benchmark run (or resume it with the same command) before reporting.",
        )
    scored = per_prediction(frame, codebook)
    scored["meta"] = frame["meta"].to_numpy()  # row-aligned: per_prediction keeps the order
    scored["confidence"] = [
        _confidence(p, d) for p, d in zip(scored["prediction"].to_numpy(), scored["probabilities"], strict=True)
    ]
    return run_data(
        rd,
        scored,
        frame,
        codebook,
        n_boot,
        split=rd.split.to_dict(),
        unfinished="resume it with the same `valuesim bench` command",
    )


def run_data(
    rd: Any,
    scored: pd.DataFrame,
    finished: pd.DataFrame,
    codebook: Codebook,
    n_boot: int,
    *,
    split: dict[str, Any],
    unfinished: str,
) -> RunData:
    """The :class:`RunData` of a read run: its recorded metrics when complete, else metrics of
    its *finished* rows with a note (``unfinished``: what the note adds in parentheses)."""
    complete = rd.complete and len(scored) == rd.split.n_targets
    metrics = dict(rd.metrics or {}) if complete else provisional_metrics(rd, finished, codebook, n_boot)
    notes = []
    if not complete:
        notes.append(
            f"unfinished run: {len(scored)} of {rd.split.n_targets} predictions so far; numbers cover the finished "
            f"units only ({unfinished})"
        )
    notes.extend(not_posed_notes(finished))
    return RunData(
        path=rd.path,
        name=rd.path.name,
        predictions=scored,
        metrics=metrics,
        manifest=redact(rd.manifest),  # runs recorded before redaction existed may hold credentials
        split=split,
        complete=complete,
        notes=notes + [str(n) for n in rd.split.notes],
    )


def not_posed_notes(frame: pd.DataFrame) -> list[str]:
    """One note per item an LLM method skipped because it cannot pose it (prediction meta
    ``not_posed``, e.g. more answer options than fit one question): its count and the reason."""
    if "meta" not in frame or "question" not in frame:
        return []
    reasons: dict[str, tuple[int, str]] = {}
    for qid, meta in zip(frame["question"], frame["meta"]):
        why = meta.get("not_posed") if isinstance(meta, Mapping) else None
        if why:
            n, _ = reasons.get(str(qid), (0, ""))
            reasons[str(qid)] = (n + 1, str(why))
    return [
        f"{qid} was not posed to the model in {n} prediction(s), counted as abstentions: {why}"
        for qid, (n, why) in sorted(reasons.items())
    ]


def load_runs(paths: Sequence[str | Path], codebook: Codebook | None = None) -> list[RunData]:
    """Read several run directories; names are made unique (``parent/name``) when needed."""
    if not paths:
        raise DataError("No run directory given.", "Usage: valuesim report RUN_DIR [RUN_DIR ...] --out DIR")
    resolved = [Path(p).expanduser().resolve() for p in paths]
    if len(set(resolved)) < len(resolved):
        raise DataError("The same run directory was given twice.", "Pass each run directory once.")
    codebook = codebook or rundir.shared_codebook([rundir.open_run(p) for p in resolved])
    runs = [load_run(p, codebook) for p in resolved]
    names = [r.name for r in runs]
    for r in runs:
        if names.count(r.name) > 1:
            r.name = f"{r.path.parent.name}/{r.path.name}"
    return runs

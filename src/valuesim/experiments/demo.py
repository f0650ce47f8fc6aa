"""`valuesim demo`: the whole pipeline in a few minutes, on synthetic people, with no server,
no download and no API key.

Generates synthetic WVS-shaped respondents, benchmarks a few non-LLM baselines and the
ValueSim method with the embedded local model (SmolLM2-135M-Instruct via llama.cpp; the
``mock`` model when that is not installed), and writes the report. It is a small instance
of the paper experiment (:mod:`valuesim.experiments.experiment`), so it resumes the same way.
Everything it produces is labelled SYNTHETIC.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from valuesim.errors import ModelError
from valuesim.experiments.experiment import PAPER_EXPERIMENT, ExperimentResult, RunSpec, Sizes, run_experiment

#: Synthetic population: the evaluated sample plus the people the baselines learn from.
DEMO_POPULATION = 600
DEMO_SEED = 0

#: The demo runs the paper experiment's non-LLM baselines and ValueSim itself (same specs).
_DEMO_NAMES = ("majority", "country-majority", "demographic-majority", "knn", "supervised", "valuesim", "hybrid")
#: The demo's hybrid calibrates on 3 training people x 5 answers (the paper's: 6 x 10), to stay a few minutes.
_DEMO_OPTIONS = {"hybrid": {"calibration_respondents": 3, "calibration_targets": 5}}
DEMO_RUNS: tuple[RunSpec, ...] = tuple(
    replace(
        spec,
        group="ValueSim" if spec.method in ("valuesim", "hybrid") else "baseline",
        options={**spec.options, **_DEMO_OPTIONS.get(spec.name, {})},
    )
    for spec in PAPER_EXPERIMENT
    if spec.name in _DEMO_NAMES
)


def demo_sizes(respondents: int = 3) -> Sizes:
    """Full-size histories, 10 targets of the first fold per person: 30 ValueSim
    predictions for 3 people, about 2 minutes with the embedded model on 2 cores."""
    return Sizes(respondents=respondents, folds=5, seed=42, only_folds=(0,), max_targets=10, train_max=2000)


@dataclass
class DemoResult:
    experiment: ExperimentResult
    model: str
    note: str | None


def resolve_demo_model(model: str | None) -> tuple[str, str | None]:
    """The model to use and, when falling back to ``mock``, why."""
    if model is not None:
        return model, None
    from valuesim.llm.backends.local import default_model_path, require_llama_cpp

    try:
        require_llama_cpp()
        default_model_path()
    except ModelError as e:
        return "mock", (
            f"{e.message} Using the mock model instead: its answers are deterministic noise, so the ValueSim "
            f"numbers below show the pipeline, not the method. To run the real thing: {e.hint or ''}".strip()
        )
    return "local", None


def run_demo(
    out_dir: str | Path = "valuesim-demo",
    *,
    llm_options: Mapping[str, Any] | None = None,
    respondents: int = 3,
    progress: bool = True,
    overwrite: bool = False,
    command: str | None = None,
    on_event: Callable[[str], None] | None = None,
) -> DemoResult:
    """Run the demo into *out_dir* (``runs/`` and ``report/``) and return where the report is.

    ``llm_options``: the method options of its LLM runs (``cli.bench.model_flags``); without a
    ``model``, the embedded model, or ``mock`` when that is not installed."""
    from valuesim.survey import generate_synthetic

    say = on_event or (lambda _msg: None)
    spec, note = resolve_demo_model((llm_options or {}).get("model"))
    if note:
        say(f"Note: {note}")
    data = generate_synthetic(n=DEMO_POPULATION, seed=DEMO_SEED)
    sizes = demo_sizes(respondents)
    say(
        f"ValueSim demo: {len(data)} SYNTHETIC respondents ({', '.join(data.country_counts())}); evaluating "
        f"{sizes.describe()}, with model {spec!r}."
    )
    result = run_experiment(
        data,
        out_dir,
        llm_options={**(llm_options or {}), "model": spec},
        specs=DEMO_RUNS,
        sizes=sizes,
        command=command,
        progress=progress,
        overwrite=overwrite,
        title="ValueSim demo",
        figure_runs=None,
        on_event=say,
    )
    return DemoResult(result, spec, note)

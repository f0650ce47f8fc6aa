"""The paper's experiments as one resumable job: main table, ablations, history curve, report.

The experiment is data: :data:`PAPER_EXPERIMENT` lists run specifications (name, method,
method options, protocol overrides). :func:`run_experiment` runs each one with
:func:`valuesim.bench.runner.run_benchmark` into ``OUT/runs/<name>/`` -- so re-running the
same command resumes every unfinished run and skips finished ones -- and then writes the
report into ``OUT/report/``. Ablations are method options of the one ValueSim pipeline
(:mod:`valuesim.methods.llm_methods`), never copies of it.

Sizes. The full experiment follows the benchmark protocol (100 respondents, 5 folds over
the substantive questions, history sizes 0/58/116/174/232). ``quick=True`` keeps the same
design and the same, full-size histories (so backstories are as long as in the real
thing) but predicts far fewer answers: a few respondents, the first fold only, and a
seeded subset of at most 10 of its targets per person (protocol options ``only_folds``
and ``max_targets``, the same subset for every method).
"""

from __future__ import annotations

import shlex
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from valuesim._redact import redact
from valuesim.bench.rundir import read_json, refuse_dangerous_dir, write_json_atomic
from valuesim.errors import ConfigError, ValueSimError
from valuesim.survey.dataset import SurveyData

RUNS_DIR = "runs"
REPORT_DIR = "report"
EXPERIMENT_FILE = "experiment.json"

#: Main-table, ablation and history-curve groups, in report order.
GROUPS = ("main table", "control", "ablation", "history curve")


@dataclass(frozen=True)
class RunSpec:
    """One run of an experiment. ``options`` are method options (the model spec is added
    for LLM methods); ``protocol`` overrides fields of :class:`ProtocolConfig`."""

    name: str
    method: str
    group: str
    description: str
    options: Mapping[str, Any] = field(default_factory=dict)
    protocol: Mapping[str, Any] = field(default_factory=dict)
    #: part of ``--quick`` (the full experiment runs every spec)
    quick: bool = True

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["options"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.options.items()}
        d["protocol"] = dict(self.protocol)
        return d


SWEEP = {"history_sweep": True}

#: The ValueSim paper's experiments (arXiv 2505.23827): its main table with the non-LLM
#: references most papers skip and the hybrid (what the LLM adds to the best trained method),
#: persona controls, its three ablations, and the accuracy-vs-history curve.
PAPER_EXPERIMENT: tuple[RunSpec, ...] = (
    RunSpec("majority", "majority", "main table", "most common answer overall"),
    RunSpec("country-majority", "country-majority", "main table", "most common answer in the person's country"),
    RunSpec(
        "demographic-majority",
        "demographic-majority",
        "main table",
        "most common answer among people of the same country, sex and age band",
    ),
    RunSpec("knn", "knn", "main table", "nearest respondents by agreement on the history answers"),
    RunSpec(
        "supervised",
        "supervised",
        "main table",
        "a trained predictor on history + profile (one ridge solve for every question)",
    ),
    RunSpec("blank", "blank", "main table", "LLM: the question only"),
    RunSpec("demographics", "demographics", "main table", "LLM: the person's profile only"),
    RunSpec("full-info", "full-info", "main table", "LLM: raw question/answer list of profile and history"),
    RunSpec("rag", "rag", "main table", "LLM: profile + the most similar history answers"),
    RunSpec("valuesim", "valuesim", "main table", "ValueSim: backstory + cognitive/affective/behavioral modules"),
    RunSpec(
        "hybrid",
        "hybrid",
        "main table",
        "supervised prior x ValueSim, pooled with weights fit on training people (what the LLM adds)",
    ),
    RunSpec(
        "valuesim-shuffled",
        "valuesim",
        "control",
        "ValueSim shown another respondent of the same country (does the persona matter?)",
        {"persona": "shuffled"},
    ),
    RunSpec(
        "valuesim-no-persona",
        "valuesim",
        "control",
        "ValueSim shown nobody: the question only, through the same modules",
        {"persona": "none"},
    ),
    RunSpec(
        "valuesim-no-story",
        "valuesim",
        "ablation",
        "without backstory: raw question/answer list instead",
        {"story": "raw"},
    ),
    RunSpec(
        "valuesim-no-cab",
        "valuesim",
        "ablation",
        "without CAB: one plain module instead of three",
        {"modules": ("plain",)},
    ),
    RunSpec(
        "valuesim-averaging",
        "valuesim",
        "ablation",
        "integration by averaging the module answers instead of a coordinator call",
        {"integration": "mean"},
    ),
    RunSpec("knn-history", "knn", "history curve", "kNN against history size", protocol=SWEEP),
    RunSpec(
        "valuesim-history",
        "valuesim",
        "history curve",
        "ValueSim against history size (at each size the story keeps the known answers most related to each "
        "target: more history means more relevant history in the same budget)",
        protocol=SWEEP,
    ),
)

#: Runs drawn in the topic / country / error figures.
FIGURE_RUNS = ("valuesim", "hybrid", "supervised", "knn", "country-majority", "full-info", "rag")


@dataclass(frozen=True)
class Sizes:
    """How big the experiment is (fields of the benchmark protocol)."""

    respondents: int = 100
    folds: int = 5
    seed: int = 42
    min_valid: int = 150
    history_sizes: tuple[int, ...] = (0, 58, 116, 174, 232)
    #: evaluate only these folds (0-based); None = all
    only_folds: tuple[int, ...] | None = None
    #: at most this many targets per (respondent, fold) unit; None = all
    max_targets: int | None = None
    train_max: int = 20_000

    @classmethod
    def full(cls, respondents: int | None = None, seed: int = 42) -> Sizes:
        return cls(respondents=100 if respondents is None else respondents, seed=seed)

    @classmethod
    def quick(cls, respondents: int | None = None, seed: int = 42) -> Sizes:
        # Full histories, few predictions: 4 people x 10 targets of fold 0 = 40 predictions
        # per run (the embedded model needs ~3 s per ValueSim prediction on 2 cores).
        return cls(
            respondents=4 if respondents is None else respondents,
            seed=seed,
            history_sizes=(0, 100, 200),
            only_folds=(0,),
            max_targets=10,
            train_max=2000,
        )

    def describe(self) -> str:
        folds = (
            f"fold {', '.join(map(str, self.only_folds))} of {self.folds}" if self.only_folds else f"{self.folds} folds"
        )
        targets = f", at most {self.max_targets} targets per person and fold" if self.max_targets else ""
        return f"{self.respondents} respondents, {folds}{targets}"


@dataclass
class RunOutcome:
    spec: RunSpec
    status: str  # "complete" | "failed" | "skipped"
    seconds: float = 0.0
    metrics: dict[str, Any] | None = None
    error: str | None = None
    hint: str | None = None

    @property
    def out_name(self) -> str:
        return self.spec.name


@dataclass
class ExperimentResult:
    out_dir: Path
    outcomes: list[RunOutcome]
    report_html: Path | None
    report_markdown: Path | None
    wall_seconds: float

    @property
    def failed(self) -> list[RunOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]


def select_specs(
    specs: Sequence[RunSpec], *, quick: bool, only: Sequence[str] | None = None, skip: Sequence[str] | None = None
) -> list[RunSpec]:
    """The specs to run: --quick ones (or all), restricted by names or groups in *only*,
    minus *skip*. Unknown names raise :class:`ConfigError`."""
    names = {s.name for s in specs} | {s.group for s in specs} | {s.group.split()[0] for s in specs}
    for given in [*(only or []), *(skip or [])]:
        if given not in names:
            raise ConfigError(
                f"No run or group named {given!r} in the experiment.",
                "Runs: " + ", ".join(s.name for s in specs) + "; groups: main, ablation, history.",
            )

    def matches(s: RunSpec, keys: Sequence[str]) -> bool:
        return s.name in keys or s.group in keys or s.group.split()[0] in keys

    out = [s for s in specs if (s.quick or not quick)]
    if only:
        out = [s for s in specs if matches(s, only)]
    if skip:
        out = [s for s in out if not matches(s, skip)]
    if not out:
        raise ConfigError("Nothing left to run.", "Check --only / --skip.")
    return out


def run_experiment(
    data: SurveyData,
    out_dir: str | Path,
    *,
    llm_options: Mapping[str, Any] | None = None,
    quick: bool = False,
    respondents: int | None = None,
    seed: int = 42,
    specs: Sequence[RunSpec] = PAPER_EXPERIMENT,
    sizes: Sizes | None = None,
    only: Sequence[str] | None = None,
    skip: Sequence[str] | None = None,
    command: str | None = None,
    progress: bool = True,
    report: bool = True,
    overwrite: bool = False,
    title: str | None = None,
    figure_runs: Sequence[str] | None = FIGURE_RUNS,
    on_event: Callable[[str], None] | None = None,
) -> ExperimentResult:
    """Run *specs* on *data* into ``out_dir/runs/<name>`` (resumable), then the report.

    A run that fails with a user-fixable error (e.g. the model server is down) is recorded
    and the others go on; the report covers every run that has finished units. Re-running
    the same call resumes. ``llm_options`` are the method options of every LLM run (the model and
    where it is served: what the command line's model flags map to, ``cli.bench.model_flags``;
    default: the methods' own, the embedded model). ``sizes`` overrides the sizes implied by
    ``quick`` / ``respondents`` / ``seed``; ``overwrite`` deletes and redoes the selected runs;
    ``figure_runs`` names the runs drawn in the report's per-topic / per-country / error figures
    (None: the report's default choice).
    """
    from valuesim.bench.protocol import ProtocolConfig, ProtocolWarning
    from valuesim.bench.runner import RunConfig, run_benchmark
    from valuesim.methods.base import get_method, method_info

    say = on_event or (lambda _msg: None)
    t_start = time.perf_counter()
    out = Path(out_dir).expanduser()
    refuse_dangerous_dir(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file.", "Pick a directory for the experiment.")
    chosen = select_specs(specs, quick=quick, only=only, skip=skip)
    if sizes is None:
        sizes = Sizes.quick(respondents, seed) if quick else Sizes.full(respondents, seed)
    command = command if command is not None else shlex.join(["valuesim", *sys.argv[1:]])
    (out / RUNS_DIR).mkdir(parents=True, exist_ok=True)
    llm = dict(llm_options or {})
    _write_experiment_file(out, chosen, sizes, llm, quick, data, command)

    outcomes: list[RunOutcome] = []
    for i, spec in enumerate(chosen, 1):
        options = {**spec.options, **(llm if method_info(spec.method).uses_llm else {})}
        protocol = ProtocolConfig.create(
            n_respondents=sizes.respondents,
            seed=sizes.seed,
            min_valid=sizes.min_valid,
            folds=sizes.folds,
            history_sizes=sizes.history_sizes,
            only_folds=sizes.only_folds,
            max_targets=sizes.max_targets,
            **dict(spec.protocol),
        )
        cfg = RunConfig.create(protocol=protocol, train_max=sizes.train_max, command=command, overwrite=overwrite)
        say(f"[{i}/{len(chosen)}] {spec.name} ({spec.group}): {spec.description}")
        t0 = time.perf_counter()
        try:
            method = get_method(spec.method, data.codebook, **options)
            with warnings.catch_warnings():
                # protocol notes (fewer respondents than asked, capped sizes) are recorded in split.json
                # and the report; every other warning still shows
                warnings.simplefilter("ignore", ProtocolWarning)
                result = run_benchmark(data, method, cfg, out / RUNS_DIR / spec.name, progress=progress)
        except ValueSimError as e:
            outcomes.append(RunOutcome(spec, "failed", time.perf_counter() - t0, error=e.message, hint=e.hint))
            say(f"    failed: {e.message}" + (f" ({e.hint})" if e.hint else ""))
            continue
        dt = time.perf_counter() - t0
        if result.failures:  # model calls failed after all retries: the rest is scored, the run is not done
            error = f"{result.n_failed_targets} targets failed (model calls failed after all retries)"
            hint = "Check the model server; re-running the same command retries only the failed targets."
            outcomes.append(RunOutcome(spec, "failed", dt, metrics=result.metrics, error=error, hint=hint))
            say(f"    failed: {error}")
            continue
        outcomes.append(RunOutcome(spec, "complete", dt, metrics=result.metrics))
        m = result.metrics or {}
        say(
            f"    top-1 {_f(m.get('top1'))}, nMAE {_f(m.get('nmae'))}, within-1 {_f(m.get('within1'))}"
            f" -- {result.n_computed} units computed, {result.n_resumed} resumed, {dt:.1f} s"
        )

    html = md = None
    if report:
        from valuesim.report.build import build_report

        # every run of the experiment with results, also those of earlier --only invocations
        ready = [out / RUNS_DIR / s.name for s in specs if has_results(out / RUNS_DIR / s.name)]
        if ready:
            names = [p.name for p in ready]
            paths = build_report(
                ready,
                out / REPORT_DIR,
                reference=None,  # the strongest run by top-1: every other run is tested against the best
                title=title or ("ValueSim paper experiments" + (" (quick)" if quick else "")),
                figure_runs=tuple(n for n in (figure_runs or ()) if n in names) or None,
                groups={s.name: s.group for s in specs},
            )
            html, md = paths.html, paths.markdown
        else:
            say("No run has results yet: no report written.")
    return ExperimentResult(out, outcomes, html, md, time.perf_counter() - t_start)


def has_results(run_dir: Path) -> bool:
    """Whether *run_dir* is a run directory with at least one finished unit."""
    from valuesim.bench import rundir

    if not (run_dir / rundir.SPLIT_FILE).exists():
        return False
    try:
        return len(rundir.open_run(run_dir).predictions()) > 0
    except ValueSimError:
        return False


def _f(entry: Any) -> str:
    if isinstance(entry, dict) and isinstance(entry.get("mean"), (int, float)):
        return f"{entry['mean']:.3f}"
    return "-"


def _write_experiment_file(
    out: Path,
    specs: Sequence[RunSpec],
    sizes: Sizes,
    llm_options: Mapping[str, Any],
    quick: bool,
    data: SurveyData,
    command: str,
) -> None:
    from valuesim import __version__

    path = out / EXPERIMENT_FILE
    previous = read_json(path) if path.exists() else {}
    record = {
        "experiment": "paper",
        "valuesim_version": __version__,
        "command": command,
        "quick": quick,
        "model": llm_options.get("model", "local"),
        "base_url": llm_options.get("base_url"),
        "sizes": asdict(sizes),
        "data": {"path": data.source, "fingerprint": data.fingerprint(), "synthetic": bool(data.synthetic)},
        "runs": [s.to_dict() for s in specs],
        "first_started": previous.get("first_started") or datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "last_started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    write_json_atomic(path, redact(record))

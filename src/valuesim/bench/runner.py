"""Run one method on one split, incrementally and resumably.

:func:`run_benchmark` does, in order:

1. build the split (:mod:`valuesim.bench.protocol`) and check the output directory: a
   directory made for other work (another split, method or configuration) is refused
   unless ``overwrite``; ``split.json`` and a "running" ``manifest.json`` are written first;
2. read ``predictions.jsonl`` and keep every finished unit (a truncated last line or a
   half-written unit is dropped and recomputed);
3. fit the method on respondents *outside* the evaluated sample;
4. run the remaining units through an *executor* (default: in-process asyncio with bounded
   concurrency) that appends each finished unit to ``predictions.jsonl`` (flush + fsync);
5. sort the predictions deterministically, compute ``metrics.json`` and complete the manifest.

An interruption (Ctrl-C, crash, killed job) loses at most the units in flight; running the
same command again continues. Executors are pluggable: anything with the signature of
:class:`Executor` can shard :class:`WorkItem` s over workers (e.g. Ray) as long as every
finished unit reaches a :class:`~valuesim.bench.rundir.JsonlSink`-like sink.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from valuesim._aio import run_sync
from valuesim.bench import rundir
from valuesim.bench.protocol import (
    ProtocolConfig,
    Split,
    Unit,
    build_units,
    settings_error,
    valid_counts,
)
from valuesim.errors import ConfigError, ValueSimError
from valuesim.methods.base import Method, Prediction, Task
from valuesim.survey.dataset import SurveyData

#: Random stream for the training-set cap (protocol uses 0-2).
_STREAM_TRAIN = 3
#: Usage counters summed into metrics.json.
USAGE_KEYS = ("llm_calls", "prompt_tokens", "completion_tokens", "cache_hits")
#: Packages whose versions go into the manifest.
_PACKAGES = (
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "lightgbm",
    "pydantic",
    "httpx",
    "llama_cpp_python",
    "ray",
)

T = TypeVar("T")


class MethodOutputError(ValueSimError):
    """A method returned predictions that do not answer the task it was given."""


class RunConfig(BaseModel):
    """Runner settings. Only ``protocol`` and ``train_max`` change what is predicted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    protocol: ProtocolConfig = ProtocolConfig()
    #: units in flight at once; None = the method's ``default_concurrency`` attribute, else 1
    concurrency: int | None = None
    #: at most this many training respondents (a seeded sample when more are available)
    train_max: int = 20_000
    #: bootstrap replicates and seed of the confidence intervals in metrics.json
    n_boot: int = 1000
    metrics_seed: int = 0
    #: delete this run's files in the output directory before starting
    overwrite: bool = False
    #: the command line recorded in the manifest (default: sys.argv)
    command: str | None = None

    @field_validator("concurrency")
    @classmethod
    def _conc(cls, v: int | None) -> int | None:
        if v is not None and v < 1:
            raise ValueError("concurrency must be at least 1")
        return v

    @field_validator("train_max")
    @classmethod
    def _train_max(cls, v: int) -> int:
        if v < 0:
            raise ValueError("train_max must be >= 0")
        return v

    @classmethod
    def create(cls, **kwargs: Any) -> RunConfig:
        try:
            return cls(**kwargs)
        except ValidationError as e:
            raise settings_error("benchmark settings", e) from None


# --------------------------------------------------------------------------- work items


@dataclass(frozen=True)
class WorkItem:
    """A unit ready to run: the task (respondent restricted to profile + history) and the truth."""

    unit: Unit
    task: Task
    truth: dict[str, int]
    country: str


def make_work_items(data: SurveyData, units: Sequence[Unit]) -> list[WorkItem]:
    """Tasks for *units*: each respondent sees the profile block plus the unit's history."""
    profile = [q for q in data.codebook.profile() if q in set(data.question_ids)]
    people = {rid: data.respondent(rid) for rid in dict.fromkeys(u.respondent for u in units)}
    items = []
    for u in units:
        person = people[u.respondent]
        missing_truth = [q for q in u.targets if q not in person.answers]
        if missing_truth:  # the split was made on other data
            raise ConfigError(
                f"Respondent {u.respondent} has no valid answer to target(s) {', '.join(missing_truth)}.",
                "The split does not belong to this data file; use a new --out or --overwrite.",
            )
        task = Task(
            respondent=person.restricted(profile + list(u.history)),
            targets=u.targets,
            fold=u.fold,
            condition=u.condition,
        )
        items.append(
            WorkItem(unit=u, task=task, truth={q: person.answers[q] for q in u.targets}, country=person.country)
        )
    return items


def prediction_rows(item: WorkItem, predictions: Sequence[Prediction], method: Method) -> list[dict[str, Any]]:
    """Check a method's answer to one task and turn it into predictions.jsonl rows (target order)."""
    by_q: dict[str, Prediction] = {}
    for p in predictions:
        if p.question in by_q:
            raise MethodOutputError(
                f"Method {method.name!r} returned two predictions for {p.question} of respondent "
                f"{item.unit.respondent} (fold {item.unit.fold}).",
                "This is a bug in the method: return exactly one Prediction per target.",
            )
        by_q[p.question] = p
    wanted = set(item.unit.targets)
    if set(by_q) != wanted:
        missing = sorted(wanted - set(by_q), key=lambda q: int(q[1:]))
        extra = sorted(set(by_q) - wanted)
        raise MethodOutputError(
            f"Method {method.name!r} did not answer the task for respondent {item.unit.respondent} "
            f"(fold {item.unit.fold}): missing {missing[:5]}, unexpected {extra[:5]}.",
            "This is a bug in the method: return exactly one Prediction per target (prediction=None to abstain).",
        )
    rows = []
    for q in item.unit.targets:
        p = by_q[q]
        if p.prediction is not None and not method.codebook.get(q).is_valid(int(p.prediction)):
            raise MethodOutputError(
                f"Method {method.name!r} predicted code {p.prediction} for {q}, which is not a valid answer.",
                f"Valid codes of {q}: {method.codebook.get(q).codes or 'see the codebook'}; "
                "return prediction=None to abstain.",
            )
        d = p.to_dict()
        rows.append(
            {
                "respondent": item.unit.respondent,
                "question": q,
                "fold": item.unit.fold,
                "condition": item.unit.condition,
                "prediction": None if p.prediction is None else int(p.prediction),
                "truth": int(item.truth[q]),
                "probabilities": d.get("probabilities"),
                "country": item.country,
                "meta": d.get("meta") or {},
            }
        )
    return rows


async def arun_item(method: Method, item: WorkItem) -> list[dict[str, Any]]:
    """Run one unit and return its rows (the building block of every executor)."""
    return prediction_rows(item, await method.apredict(item.task), method)


# --------------------------------------------------------------------------- executors


class Sink(Protocol):
    def write_unit(self, rows: Sequence[dict[str, Any]]) -> None: ...


MethodFactory = Callable[[], Method]


class Executor(Protocol):
    """Runs work items and hands every finished unit's rows to ``sink.write_unit``.

    ``method_factory`` returns a fitted method (for a remote worker: a pickled copy).
    An executor may run units in any order and in parallel; the runner sorts at the end.
    It may return the LLM usage of its workers (a mapping with the keys of ``USAGE_KEYS``);
    otherwise the runner measures the usage of the method in this process.
    """

    def __call__(
        self,
        method_factory: MethodFactory,
        items: Sequence[WorkItem],
        sink: Sink,
        *,
        concurrency: int,
        progress: bool,
    ) -> Mapping[str, float] | None: ...


@dataclass
class FittedMethod:
    """A picklable method factory that returns an already fitted method."""

    method: Method

    def __call__(self) -> Method:
        return self.method


def _progress_enabled(requested: bool) -> bool:
    if not requested or os.environ.get("CI") or os.environ.get("VALUESIM_NO_PROGRESS"):
        return False
    return sys.stderr.isatty()


async def run_units_async(
    method: Method,
    items: Sequence[WorkItem],
    sink: Sink,
    *,
    concurrency: int = 1,
    on_unit: Callable[[WorkItem], None] | None = None,
) -> None:
    """Run *items* with at most *concurrency* units in flight; write each unit as it finishes.

    The first failure stops the run (units in flight are cancelled; finished ones are kept).
    """
    queue: asyncio.Queue[WorkItem] = asyncio.Queue()
    for it in items:
        queue.put_nowait(it)

    async def worker() -> None:
        while True:
            try:
                it = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            rows = await arun_item(method, it)
            sink.write_unit(rows)
            if on_unit is not None:
                on_unit(it)
            # A synchronous method never suspends; yield here so Ctrl-C (task cancellation)
            # takes effect after the current unit instead of after the whole run.
            await asyncio.sleep(0)

    workers = [asyncio.create_task(worker()) for _ in range(max(1, min(concurrency, len(items))))]
    try:
        await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for w in workers:
            if not w.done():
                w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    for w in workers:
        if not w.cancelled() and w.exception() is not None:
            raise w.exception()  # type: ignore[misc]


def run_units(
    method_factory: MethodFactory,
    items: Sequence[WorkItem],
    sink: Sink,
    *,
    concurrency: int = 1,
    progress: bool = False,
) -> None:
    """The default, in-process executor (asyncio, bounded concurrency, optional progress bar)."""
    if not items:
        return
    method = method_factory()
    if not _progress_enabled(progress):
        run_sync(lambda: run_units_async(method, items, sink, concurrency=concurrency))
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task_id = bar.add_task(f"{method.name}: units", total=len(items))
        run_sync(
            lambda: run_units_async(
                method, items, sink, concurrency=concurrency, on_unit=lambda _it: bar.advance(task_id)
            )
        )


# --------------------------------------------------------------------------- provenance


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def git_commit() -> str | None:
    """Commit of the valuesim source tree, if it is a git checkout with a commit."""
    src = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=src, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and len(sha) == 40 else None


def package_versions() -> dict[str, str]:
    out = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _usage_counters(u: Any) -> dict[str, float] | None:
    """Normalize a usage record (mapping, ``Usage``-like object) to the ``USAGE_KEYS`` counters."""
    if u is None:
        return None
    if hasattr(u, "to_metrics"):
        u = u.to_metrics()
    elif not isinstance(u, Mapping) and hasattr(u, "__dict__"):
        u = vars(u)
    if not isinstance(u, Mapping):
        return None
    out: dict[str, float] = {}
    for k, v in u.items():
        key = "llm_calls" if k == "calls" else k
        if key in USAGE_KEYS and isinstance(v, (int, float)) and not isinstance(v, bool):
            out[key] = out.get(key, 0) + v
    return out


def method_usage(method: Method) -> dict[str, float] | None:
    """LLM usage counters a method exposes through ``usage`` (dict, Usage-like, or callable)."""
    u = getattr(method, "usage", None)
    return _usage_counters(u() if callable(u) else u)


_usage_of = method_usage  # name used by valuesim.scale


def _usage_from_rows(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    tot: dict[str, float] = {}
    for r in rows:
        for k, v in (_usage_counters((r.get("meta") or {}).get("usage")) or {}).items():
            tot[k] = tot.get(k, 0) + v
    return tot


# --------------------------------------------------------------------------- run directory checks


#: Method settings that say where a model is served, not what it answers: a run may resume
#: against a different server list (e.g. after a server died).
_NOT_IDENTITY = ("base_url",)


def _method_identity(conf: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if conf is None:
        return None
    return {k: v for k, v in conf.items() if k not in _NOT_IDENTITY}


def run_identity(method: Method, cfg: RunConfig, split: Split) -> dict[str, Any]:
    """What must be equal, besides the split itself, for a directory to be resumed."""
    return {
        "method": _method_identity(method.config()),
        "train_max": cfg.train_max,
        "data_fingerprint": split.data_fingerprint,
    }


def _identity_of_manifest(manifest: Mapping[str, Any]) -> dict[str, Any]:
    conf = manifest.get("config", {})
    return {
        "method": _method_identity(conf.get("method")),
        "train_max": conf.get("run", {}).get("train_max"),
        "data_fingerprint": manifest.get("data", {}).get("fingerprint"),
    }


def _diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            out.extend(_diff(a.get(k), b.get(k), f"{prefix}{k}."))
        return out
    return [] if a == b else [f"{prefix.rstrip('.')}: {a!r} -> {b!r}"]


def prepare_out_dir(out: Path, split: Split, identity: dict[str, Any], overwrite: bool) -> dict[str, Any] | None:
    """Check that *out* is new or holds this very run; return the previous manifest if any."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a directory.", "Pick a directory path for --out.")
    out.mkdir(parents=True, exist_ok=True)
    if overwrite:
        for name in rundir.RUN_FILES:
            for p in (out / name, out / (name + ".tmp")):
                p.unlink(missing_ok=True)
        return None
    hint = f"Pick a new --out directory, or pass --overwrite to delete the run in {out}."
    split_path = out / rundir.SPLIT_FILE
    if not split_path.exists():
        if (out / rundir.PREDICTIONS_FILE).exists() or (out / rundir.MANIFEST_FILE).exists():
            raise ConfigError(f"{out} holds results of an unknown run (no {rundir.SPLIT_FILE}).", hint)
        return None
    old = Split.load(split_path)
    if old.split_hash != split.split_hash:
        changes = _diff(old.protocol, split.protocol)
        detail = f" (protocol changed: {'; '.join(changes)})" if changes else " (the data differ)"
        raise ConfigError(f"{out} holds a run on a different split{detail}.", hint)
    manifest = rundir.read_json(out / rundir.MANIFEST_FILE) if (out / rundir.MANIFEST_FILE).exists() else None
    if manifest is not None:
        changes = _diff(_identity_of_manifest(manifest), identity)
        if changes:
            raise ConfigError(f"{out} holds a run with other settings: {'; '.join(changes[:6])}.", hint)
    return manifest


# --------------------------------------------------------------------------- training data


def training_data(data: SurveyData, split: Split, cfg: RunConfig) -> SurveyData:
    """Respondents outside the evaluated sample with >= min_valid valid substantive answers.

    The country filter of the protocol does not apply (it selects whom to evaluate); at
    most ``train_max`` people, a seeded sample when there are more.
    """
    sample = set(split.respondents)
    ok = valid_counts(data) >= cfg.protocol.min_valid
    ids = [str(i) for i, good in zip(data.frame.index, ok, strict=True) if good and str(i) not in sample]
    if len(ids) > cfg.train_max:
        rng = np.random.default_rng([cfg.protocol.seed, _STREAM_TRAIN])
        keep = np.sort(rng.choice(len(ids), size=cfg.train_max, replace=False))
        ids = [ids[i] for i in keep]
    return data.subset(ids)


# --------------------------------------------------------------------------- the run


@dataclass
class RunResult:
    out_dir: Path
    split: Split
    metrics: dict[str, Any] | None
    n_units: int
    n_computed: int  # units computed in this call
    n_resumed: int  # units found finished on disk
    wall_seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.metrics is not None


def _base_manifest(
    method: Method, cfg: RunConfig, data: SurveyData, split: Split, train_info: dict[str, Any], concurrency: int
) -> dict[str, Any]:
    from valuesim import __version__

    return {
        "valuesim_version": __version__,
        "git_commit": git_commit(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
        "command": cfg.command if cfg.command is not None else shlex.join(sys.argv),
        "config": {
            "method": method.config(),
            "protocol": cfg.protocol.to_dict(),
            "run": {
                "concurrency": concurrency,
                "train_max": cfg.train_max,
                "n_boot": cfg.n_boot,
                "metrics_seed": cfg.metrics_seed,
            },
            "train": train_info,
        },
        "data": {
            "path": data.source,
            "fingerprint": split.data_fingerprint,
            "version": data.version,
            "synthetic": bool(data.synthetic),
            "n_rows": len(data),
        },
        "split_hash": split.split_hash,
        "n_units": len(split.units),
        "n_targets": split.n_targets,
        "notes": list(split.notes),
    }


def compute_metrics(
    rows: Sequence[dict[str, Any]],
    split: Split,
    method: Method,
    cfg: RunConfig,
    usage: Mapping[str, float],
    wall: float,
) -> dict[str, Any]:
    """metrics.json: the metrics module's summary plus method name and accounting."""
    from valuesim.bench.metrics import summarize

    frame = rundir.predictions_frame(rundir.sort_rows(rows, split))
    summary = summarize(frame, method.codebook, n_boot=cfg.n_boot, seed=cfg.metrics_seed)
    out: dict[str, Any] = {"method": method.name, **{k: v for k, v in summary.items() if k != "method"}}
    for k in USAGE_KEYS:
        out[k] = int(usage.get(k, 0))
    out["wall_seconds"] = round(wall, 3)
    out["split_hash"] = split.split_hash
    return out


def run_benchmark(
    data: SurveyData,
    method: Method,
    cfg: RunConfig | ProtocolConfig | None,
    out_dir: str | Path,
    *,
    train_data: SurveyData | None = None,
    executor: Executor | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> RunResult:
    """Evaluate *method* on *data* under the protocol of *cfg*, writing into *out_dir*.

    Re-running with the same arguments resumes: finished units are not recomputed. Returns
    the metrics (also in ``out_dir/metrics.json``) once every unit is done. *log* receives
    one-line status messages (the CLI prints them).
    """
    say = log or (lambda _msg: None)
    t_start = time.perf_counter()
    started = _now()
    if cfg is None:
        cfg = RunConfig()
    elif isinstance(cfg, ProtocolConfig):
        cfg = RunConfig(protocol=cfg)
    out = Path(out_dir).expanduser()
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    split = build_units(data, cfg.protocol)
    timings["split_seconds"] = time.perf_counter() - t0

    if train_data is not None:
        overlap = set(train_data.ids) & set(split.respondents)
        if overlap:
            raise ConfigError(
                f"The training data contains {len(overlap)} evaluated respondent(s), e.g. {min(overlap)}.",
                "Methods must be trained only on people outside the evaluated sample.",
            )
    concurrency = cfg.concurrency or int(getattr(method, "default_concurrency", 1) or 1)
    identity = run_identity(method, cfg, split)
    previous = prepare_out_dir(out, split, identity, cfg.overwrite)

    split_path = out / rundir.SPLIT_FILE
    if not split_path.exists():
        split.save(split_path)
    pred_path = out / rundir.PREDICTIONS_FILE
    state = rundir.scan_predictions(pred_path, split.units)
    if state.needs_rewrite:
        rundir.write_rows_atomic(pred_path, rundir.sort_rows(state.rows, split))
    pending = [u for u in split.units if u.key not in state.finished]
    say(
        f"{len(split.respondents)} respondents, {len(split.units):,} units, {split.n_targets:,} targets"
        + (f"; resuming: {len(state.finished):,} units already done" if state.finished else "")
        + (f" ({state.dropped_rows + state.dropped_lines} partial rows dropped)" if state.needs_rewrite else "")
    )

    train_info: dict[str, Any] = {"source": "given" if train_data is not None else "outside-sample"}
    if not pending and previous:  # nothing to fit this time: keep what the last fit recorded
        train_info.update(previous.get("config", {}).get("train", {}))
    manifest = _base_manifest(method, cfg, data, split, train_info, concurrency)
    sessions: list[dict[str, Any]] = list((previous or {}).get("sessions", []))
    manifest["started"] = (previous or {}).get("started", started)
    manifest["finished"] = None
    manifest["status"] = "running"
    manifest["sessions"] = sessions
    session: dict[str, Any] = {
        "started": started,
        "command": manifest["command"],
        "units_resumed": len(state.finished),
        "units_computed": 0,
    }
    sessions.append(session)
    manifest_path = out / rundir.MANIFEST_FILE
    rundir.write_json_atomic(manifest_path, manifest)

    usage_before = method_usage(method)
    executor_usage: dict[str, float] | None = None
    sink = rundir.JsonlSink(pred_path)
    status = "interrupted"
    try:
        if pending:
            t0 = time.perf_counter()
            train = train_data if train_data is not None else training_data(data, split, cfg)
            train_info.update({"n_respondents": len(train), "fingerprint": train.fingerprint() if len(train) else None})
            say(f"fitting {method.name} on {len(train):,} respondents outside the sample")
            method.fit(train)
            timings["fit_seconds"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            items = make_work_items(data, pending)
            timings["tasks_seconds"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            run = executor or run_units
            say(f"predicting {len(items):,} units (concurrency {concurrency})")
            reported = run(FittedMethod(method), items, sink, concurrency=concurrency, progress=progress)
            executor_usage = _usage_counters(reported)
            timings["predict_seconds"] = time.perf_counter() - t0
        status = "predicted"
    except BaseException as e:
        status = "interrupted" if isinstance(e, KeyboardInterrupt) else f"failed: {type(e).__name__}"
        raise
    finally:
        sink.close()
        session["units_computed"] = sink.units_written
        session["status"] = status
        session["finished"] = _now()
        session["wall_seconds"] = round(time.perf_counter() - t_start, 3)
        session["timings"] = {k: round(v, 3) for k, v in timings.items()}
        usage_after = method_usage(method)
        if executor_usage is not None:  # remote workers: the executor counted for us
            session["usage"] = executor_usage
        elif usage_after is not None:
            session["usage"] = {k: usage_after.get(k, 0) - (usage_before or {}).get(k, 0) for k in usage_after}
        if status != "predicted":
            with contextlib.suppress(OSError):
                rundir.write_json_atomic(manifest_path, manifest)

    # Everything predicted: canonical order, metrics, final manifest.
    final = rundir.scan_predictions(pred_path, split.units)
    missing = len(split.units) - len(final.finished)
    if missing:  # an executor that lost work must not produce metrics
        session["status"] = "incomplete"
        rundir.write_json_atomic(manifest_path, manifest)
        raise ConfigError(
            f"{missing} unit(s) of the split have no complete predictions after the run.",
            "Re-run the same command to compute them.",
        )
    rows = rundir.sort_rows(final.rows, split)
    rundir.write_rows_atomic(pred_path, rows)
    say("computing metrics")
    t0 = time.perf_counter()
    wall_total = sum(float(s.get("wall_seconds", 0.0)) for s in sessions)
    if any("usage" in s for s in sessions):
        usage: dict[str, float] = {}
        for s in sessions:
            for k, v in (s.get("usage") or {}).items():
                usage[k] = usage.get(k, 0) + v
    else:
        usage = _usage_from_rows(rows)
    metrics = compute_metrics(rows, split, method, cfg, usage, wall_total)
    timings["metrics_seconds"] = time.perf_counter() - t0
    rundir.write_json_atomic(out / rundir.METRICS_FILE, metrics)

    session["status"] = "complete"
    session["timings"] = {k: round(v, 3) for k, v in timings.items()}
    session["wall_seconds"] = round(time.perf_counter() - t_start, 3)
    manifest["status"] = "complete"
    manifest["finished"] = _now()
    manifest["timings"] = {
        **session["timings"],
        "wall_seconds_this_session": session["wall_seconds"],
        "wall_seconds_total": round(sum(float(s.get("wall_seconds", 0.0)) for s in sessions), 3),
    }
    rundir.write_json_atomic(manifest_path, manifest)
    return RunResult(
        out_dir=out,
        split=split,
        metrics=metrics,
        n_units=len(split.units),
        n_computed=session["units_computed"],
        n_resumed=len(state.finished),
        wall_seconds=session["wall_seconds"],
        notes=list(split.notes),
    )


__all__ = [
    "Executor",
    "FittedMethod",
    "MethodOutputError",
    "RunConfig",
    "RunResult",
    "Sink",
    "WorkItem",
    "arun_item",
    "make_work_items",
    "method_usage",
    "prediction_rows",
    "run_benchmark",
    "run_units",
    "run_units_async",
    "training_data",
]

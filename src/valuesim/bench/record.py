"""Record a run: the run directory, provenance (manifest.json) and LLM usage accounting.

:class:`RunRecord` is the run directory of one :func:`~valuesim.bench.runner.run_benchmark`
call: it checks that the directory is new or holds this very run, keeps what earlier
sessions finished, writes the manifest (one entry per session: what was resumed, computed,
how long it took, what it cost) and, at the end, the canonical predictions and metrics.
The file format itself lives in :mod:`valuesim.bench.rundir`.

:func:`usage_counters` is the one place that turns a usage record (a ``Usage`` object, a
mapping with ``calls`` or ``llm_calls``, ...) into the counters of ``metrics.json``.
"""

from __future__ import annotations

import contextlib
import platform
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from valuesim._redact import redact, redact_text
from valuesim.bench import rundir
from valuesim.bench.config import RunConfig
from valuesim.bench.execute import UnitFailure
from valuesim.bench.protocol import Split, Unit, protocol_name
from valuesim.errors import ConfigError, ModelError
from valuesim.methods.base import Method
from valuesim.survey.custom import codebook_to_dict
from valuesim.survey.dataset import SurveyData

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

Usage = dict[str, float]


# --------------------------------------------------------------------------- usage accounting


def usage_counters(u: Any) -> Usage | None:
    """A usage record (mapping, ``Usage``-like object) as the ``USAGE_KEYS`` counters; None if it is none."""
    if u is None:
        return None
    if hasattr(u, "to_metrics"):
        u = u.to_metrics()
    elif not isinstance(u, Mapping) and hasattr(u, "__dict__"):
        u = vars(u)
    if not isinstance(u, Mapping):
        return None
    out: Usage = {}
    for k, v in u.items():
        key = "llm_calls" if k == "calls" else k
        if key in USAGE_KEYS and isinstance(v, (int, float)) and not isinstance(v, bool):
            out[key] = out.get(key, 0) + v
    return out


def add_usage(parts: Iterable[Any]) -> Usage:
    """The sum of several usage records (each read by :func:`usage_counters`)."""
    total: Usage = {}
    for part in parts:
        for k, v in (usage_counters(part) or {}).items():
            total[k] = total.get(k, 0) + v
    return total


def usage_delta(after: Usage, before: Usage | None) -> Usage:
    """Counters spent between two readings of the same method's usage."""
    return {k: after.get(k, 0) - (before or {}).get(k, 0) for k in after}


def method_usage(method: Method) -> Usage | None:
    """LLM usage counters a method exposes through ``usage`` (a mapping or Usage-like object)."""
    return usage_counters(method.usage)


def usage_from_rows(rows: Sequence[dict[str, Any]]) -> Usage:
    """Usage summed over the ``meta.usage`` of prediction rows (when no session counted it)."""
    return add_usage((r.get("meta") or {}).get("usage") for r in rows)


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


def base_manifest(method: Method, cfg: RunConfig, data: SurveyData, split: Split, concurrency: int) -> dict[str, Any]:
    """The provenance part of manifest.json (what ran, on what, with which software)."""
    from valuesim import __version__

    return {
        "valuesim_version": __version__,
        "git_commit": git_commit(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
        "command": redact_text(cfg.command if cfg.command is not None else shlex.join(sys.argv)),
        "config": {
            "method": redact(method.config()),  # no credentials of a --base-url in a file
            "protocol": cfg.protocol.to_dict(),
            "run": {
                "concurrency": concurrency,
                "train_max": cfg.train_max,
                "n_boot": cfg.n_boot,
                "metrics_seed": cfg.metrics_seed,
            },
            "train": {},
        },
        "data": {
            "path": data.source,
            "fingerprint": split.data_fingerprint,
            "version": data.version,
            "synthetic": bool(data.synthetic),
            "n_rows": len(data),
        },
        # a survey other than the built-in WVS-7 carries its codebook, so reports, comparisons
        # and the viewer can read the run without the user's codebook file
        "codebook": None if data.codebook.is_wvs else codebook_to_dict(data.codebook),
        "split_hash": split.split_hash,
        "n_units": len(split.units),
        "n_targets": split.n_targets,
        "notes": list(split.notes),
    }


# --------------------------------------------------------------------------- run directory checks


#: Method settings that say where a model is served or whether answers are cached, not what it
#: answers: a run may resume against a different server list (e.g. after a server died).
_NOT_IDENTITY = ("base_url", "cache")


def _method_identity(conf: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not isinstance(conf, Mapping):
        return None
    return {k: v for k, v in redact(conf).items() if k not in _NOT_IDENTITY}


def run_identity(method: Method, cfg: RunConfig, split: Split) -> dict[str, Any]:
    """What must be equal, besides the split itself, for a directory to be resumed."""
    return {
        "method": _method_identity(method.config()),
        "train_max": cfg.train_max,
        "data_fingerprint": split.data_fingerprint,
        "protocol": protocol_name(split.protocol),
    }


def _identity_of_manifest(manifest: Mapping[str, Any], path: Path) -> dict[str, Any]:
    try:
        conf = manifest.get("config", {})
        return {
            "method": _method_identity(conf.get("method")),
            "train_max": conf.get("run", {}).get("train_max"),
            "data_fingerprint": manifest.get("data", {}).get("fingerprint"),
            "protocol": protocol_name(conf.get("protocol")),
        }
    except AttributeError:  # valid JSON, wrong shape
        raise rundir.damaged(path, "not a valuesim manifest") from None


def _diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            out.extend(_diff(a.get(k), b.get(k), f"{prefix}{k}."))
        return out
    return [] if a == b else [f"{prefix.rstrip('.')}: {a!r} -> {b!r}"]


def prepare_out_dir(out: Path, split: Split, identity: dict[str, Any], overwrite: bool) -> dict[str, Any] | None:
    """Check that *out* is new or holds this very run; return the previous manifest if any."""
    if overwrite:
        rundir.remove_run_files(out)
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
        changes = _diff(_identity_of_manifest(manifest, out / rundir.MANIFEST_FILE), identity)
        if changes:
            raise ConfigError(f"{out} holds a run with other settings: {'; '.join(changes[:6])}.", hint)
    return manifest


# --------------------------------------------------------------------------- failed targets


class TooManyFailuresError(ModelError):
    """More targets failed than ``--max-failures`` allows: the run stopped early."""


def failure_summary(failures: Iterable[UnitFailure]) -> dict[str, dict[str, Any]]:
    """Failed targets and units by error class (most targets first), with one example message each."""
    out: dict[str, dict[str, Any]] = {}
    for f in failures:
        e = out.setdefault(f.error, {"targets": 0, "units": 0, "example": f.message})
        e["targets"] += len(f.targets)
        e["units"] += 1
    return dict(sorted(out.items(), key=lambda kv: (-kv[1]["targets"], kv[0])))


class RunSink:
    """The sink of one session: finished units to predictions.jsonl, failed ones to failures.jsonl.

    Past ``limit`` failed targets, ``write_failure`` raises :class:`TooManyFailuresError`,
    which stops the executor (finished units and failures stay on disk). Thread-safe.
    """

    def __init__(self, out: Path, session: int, limit: int, n_targets: int) -> None:
        self.predictions = rundir.JsonlSink(out / rundir.PREDICTIONS_FILE)
        self.out = out
        self.session = session
        self.limit = limit
        self.n_targets = n_targets
        self.failures: list[UnitFailure] = []
        self._lock = threading.Lock()
        self._fh = open(out / rundir.FAILURES_FILE, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    @property
    def units_written(self) -> int:
        return self.predictions.units_written

    @property
    def failed_targets(self) -> int:
        return sum(len(f.targets) for f in self.failures)

    def write_unit(self, rows: Sequence[dict[str, Any]]) -> None:
        self.predictions.write_unit(rows)

    def write_failure(self, failure: UnitFailure) -> None:
        text = rundir.jsonl_text(failure.rows(self.session))
        with self._lock:
            self._fh.write(text)
            self._fh.flush()
            self.failures.append(failure)
            n = self.failed_targets
        if n > self.limit:
            raise TooManyFailuresError(
                f"Stopped early: {n} targets failed, more than --max-failures allows ({self.limit} of "
                f"{self.n_targets:,} targets). Last error: {failure.error}: {failure.message}",
                f"Finished units and the failures are saved in {self.out}. Check the model server, then re-run "
                "the same command: it retries only the failed targets and finishes the rest "
                "(--max-failures N or P% changes the limit).",
            )

    def close(self) -> None:
        self.predictions.close()
        with self._lock:
            if not self._fh.closed:
                self._fh.close()


# --------------------------------------------------------------------------- timings


@dataclass
class Stopwatch:
    """Named phase durations of one session (``with clock("fit_seconds"): ...``)."""

    t_start: float = field(default_factory=time.perf_counter)
    phases: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.phases[name] = self.phases.get(name, 0.0) + time.perf_counter() - t0

    def elapsed(self) -> float:
        return round(time.perf_counter() - self.t_start, 3)

    def rounded(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in self.phases.items()}


# --------------------------------------------------------------------------- the run directory of one call


@dataclass
class RunRecord:
    """The run directory during one :func:`run_benchmark` call (one *session* of the run)."""

    out: Path
    split: Split
    previous: dict[str, Any] | None
    state: rundir.ResumeState
    clock: Stopwatch
    manifest: dict[str, Any] = field(default_factory=dict)
    session: dict[str, Any] = field(default_factory=dict)
    #: failures.jsonl rows of units no session has finished yet (retried by this one)
    failed_before: list[dict[str, Any]] = field(default_factory=list)
    #: units that failed in this session
    failures: list[UnitFailure] = field(default_factory=list)
    #: the run directory's lock, held from :meth:`open` to :meth:`close` (``with RunRecord.open(...)``)
    lock: rundir.RunLock | None = None

    @classmethod
    def open(cls, out: Path, split: Split, identity: dict[str, Any], *, overwrite: bool, clock: Stopwatch) -> RunRecord:
        """Lock *out* (one writer per run directory), check it (new, or this very run), save the
        split, keep the finished units on disk. Use as ``with RunRecord.open(...) as record:``."""
        lock = rundir.RunLock(out).acquire()
        try:
            previous = prepare_out_dir(out, split, identity, overwrite)
            split_path = out / rundir.SPLIT_FILE
            if not split_path.exists():
                split.save(split_path)
            pred_path = out / rundir.PREDICTIONS_FILE
            state = rundir.scan_predictions(pred_path, split.units)
            if state.needs_rewrite:
                rundir.write_rows_atomic(pred_path, rundir.sort_rows(state.rows, split))
            unfinished = [u for u in split.units if u.key not in state.finished]
            failed = rundir.read_failures(out / rundir.FAILURES_FILE, unfinished)
        except BaseException:
            lock.release()
            raise
        return cls(out=out, split=split, previous=previous, state=state, clock=clock, failed_before=failed, lock=lock)

    def close(self) -> None:
        """Release the run directory for the next writer."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def __enter__(self) -> RunRecord:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def predictions_path(self) -> Path:
        return self.out / rundir.PREDICTIONS_FILE

    @property
    def manifest_path(self) -> Path:
        return self.out / rundir.MANIFEST_FILE

    @property
    def pending(self) -> list[Unit]:
        """Units of the split not finished by an earlier session."""
        return [u for u in self.split.units if u.key not in self.state.finished]

    def describe(self) -> str:
        """One status line: the size of the work and what is resumed."""
        split, state = self.split, self.state
        took_over = self.lock.took_over if self.lock is not None else None
        return (
            f"{len(split.respondents)} respondents, {len(split.units):,} units, {split.n_targets:,} targets"
            + (f"; resuming: {len(state.finished):,} units already done" if state.finished else "")
            + (f" ({state.dropped_rows + state.dropped_lines} partial rows dropped)" if state.needs_rewrite else "")
            + (f"; retrying {len(self.failed_before):,} failed targets" if self.failed_before else "")
            + (f"; took over from PID {took_over}, which ended without finishing" if took_over else "")
        )

    def start(self, manifest: dict[str, Any], *, train_source: str) -> None:
        """Write the "running" manifest: *manifest* (provenance) plus the sessions so far and this one."""
        train = manifest["config"]["train"]
        train["source"] = train_source
        if not self.pending and self.previous:  # nothing to fit this time: keep what the last fit recorded
            train.update(self.previous.get("config", {}).get("train", {}))
        previous = self.previous or {}
        sessions: list[dict[str, Any]] = list(previous.get("sessions", []))
        manifest["started"] = previous.get("started", _now())
        manifest["finished"] = None
        manifest["status"] = "running"
        manifest["sessions"] = sessions
        self.session = {
            "started": _now(),
            "command": manifest["command"],
            "units_resumed": len(self.state.finished),
            "units_computed": 0,
            "targets_retried": len(self.failed_before),
        }
        sessions.append(self.session)
        self.manifest = manifest
        rundir.write_json_atomic(self.manifest_path, manifest)

    def note_training(self, train: SurveyData) -> None:
        """Record the training set of this session's fit."""
        self.manifest["config"]["train"].update(
            {"n_respondents": len(train), "fingerprint": train.fingerprint() if len(train) else None}
        )

    def note_fit(self, report: dict[str, Any] | None) -> None:
        """Record what the method's fit learned (e.g. the hybrid's calibration) in this session."""
        if report:
            self.session["fit"] = report
            rundir.write_json_atomic(self.manifest_path, self.manifest)

    @contextlib.contextmanager
    def predicting(self, method: Method, cfg: RunConfig) -> Iterator[PredictSession]:
        """Open the sink; on exit record status, units, failures, timings and usage of this session."""
        usage_before = method_usage(method)
        n_targets = self.split.n_targets
        sink = RunSink(self.out, len(self.sessions) - 1, cfg.failure_limit(n_targets), n_targets)
        live = PredictSession(sink=sink)
        status = "interrupted"
        try:
            yield live
            status = "predicted"
        except BaseException as e:
            if isinstance(e, KeyboardInterrupt):
                status = "interrupted"
            elif isinstance(e, TooManyFailuresError):
                status = "stopped: too many failures"
            else:
                status = f"failed: {type(e).__name__}"
            raise
        finally:
            sink.close()
            self.failures = list(sink.failures)
            s = self.session
            s["units_computed"] = sink.units_written
            s["targets_failed"] = sink.failed_targets
            if sink.failures:
                s["failures"] = failure_summary(sink.failures)
            s["status"] = status
            s["finished"] = _now()
            s["wall_seconds"] = self.clock.elapsed()
            s["timings"] = self.clock.rounded()
            usage_after = method_usage(method)
            if live.executor_usage is not None:  # remote workers: the executor counted for us
                s["usage"] = live.executor_usage
            elif usage_after is not None:
                s["usage"] = usage_delta(usage_after, usage_before)
            if status != "predicted":
                with contextlib.suppress(OSError):
                    rundir.write_json_atomic(self.manifest_path, self.manifest)

    def finished_rows(self) -> list[dict[str, Any]]:
        """All predictions in canonical order (rewritten so).

        Units that failed in this session are left out (failures.jsonl keeps exactly those);
        any other missing unit means an executor lost work, and no metrics are made.
        """
        final = rundir.scan_predictions(self.predictions_path, self.split.units)
        failed = {f.key for f in self.failures}
        missing = [u for u in self.split.units if u.key not in final.finished]
        lost = [u for u in missing if u.key not in failed]
        if lost:  # an executor that lost work must not produce metrics
            self.session["status"] = "incomplete"
            rundir.write_json_atomic(self.manifest_path, self.manifest)
            raise ConfigError(
                f"{len(lost)} unit(s) of the split have no complete predictions after the run.",
                "Re-run the same command to compute them.",
            )
        failures_path = self.out / rundir.FAILURES_FILE
        open_failures = rundir.read_failures(failures_path, missing)
        if open_failures:
            rundir.write_rows_atomic(failures_path, open_failures)
        else:
            failures_path.unlink(missing_ok=True)
        rows = rundir.sort_rows(final.rows, self.split)
        rundir.write_rows_atomic(self.predictions_path, rows)
        return rows

    @property
    def sessions(self) -> list[dict[str, Any]]:
        return list(self.manifest.get("sessions", []))

    def wall_total(self) -> float:
        """Wall time of all sessions of the run."""
        return sum(float(s.get("wall_seconds", 0.0)) for s in self.sessions)

    def usage_total(self, rows: Sequence[dict[str, Any]]) -> Usage:
        """LLM usage of all sessions (from the rows' ``meta.usage`` when no session counted it)."""
        if any("usage" in s for s in self.sessions):
            return add_usage(s.get("usage") for s in self.sessions)
        return usage_from_rows(rows)

    def complete(self, metrics: dict[str, Any]) -> None:
        """Write metrics.json and the final manifest ("complete", or "incomplete" when targets failed)."""
        rundir.write_json_atomic(self.out / rundir.METRICS_FILE, metrics)
        s = self.session
        status = "incomplete" if self.failures else "complete"
        s["status"] = status
        s["timings"] = self.clock.rounded()
        s["wall_seconds"] = self.clock.elapsed()
        self.manifest["status"] = status
        self.manifest["failures"] = {
            "targets": sum(len(f.targets) for f in self.failures),
            "units": len(self.failures),
            "by_error": failure_summary(self.failures),
        }
        self.manifest["finished"] = _now()
        self.manifest["timings"] = {
            **s["timings"],
            "wall_seconds_this_session": s["wall_seconds"],
            "wall_seconds_total": round(self.wall_total(), 3),
        }
        rundir.write_json_atomic(self.manifest_path, self.manifest)


@dataclass
class PredictSession:
    """What the execute step hands back to the record: the sink it writes to and the usage it counted."""

    sink: RunSink
    executor_usage: Usage | None = None


__all__ = [
    "USAGE_KEYS",
    "PredictSession",
    "RunRecord",
    "RunSink",
    "Stopwatch",
    "TooManyFailuresError",
    "add_usage",
    "base_manifest",
    "failure_summary",
    "git_commit",
    "method_usage",
    "package_versions",
    "prepare_out_dir",
    "run_identity",
    "usage_counters",
    "usage_delta",
    "usage_from_rows",
]

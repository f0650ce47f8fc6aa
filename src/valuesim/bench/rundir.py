"""The benchmark run directory on disk (format: docs/benchmark.md).

``split.json`` (the work), ``predictions.jsonl`` (results, appended unit by unit),
``failures.jsonl`` (targets whose model calls failed after all retries, until a rerun
answers them), ``metrics.json`` and ``manifest.json``. Everything that reads or writes these files lives
here, so the runner, a distributed executor, the report and the viewer agree on one format.

``predictions.jsonl`` has two readers here, with one rule for which rows count (those of
finished units, the first copy of each target): the exact one (:func:`scan_predictions`,
:meth:`RunDir.predictions`: every row as a dict, for resuming and scoring) and the columnar
one (:func:`read_prediction_columns`, :meth:`RunDir.finished_columns`: the scalar columns
parsed by pyarrow and the byte offset of every row, whose probabilities and meta
:func:`read_rows_at` reads when a page needs them -- the viewer's reader of large runs).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import tempfile
import threading
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from valuesim._redact import redact, redact_rows
from valuesim.bench.protocol import Split, Unit
from valuesim.errors import ConfigError, DataError, RunLockedError
from valuesim.survey.codebook import Codebook, question_sort_key

SPLIT_FILE = "split.json"
PREDICTIONS_FILE = "predictions.jsonl"
METRICS_FILE = "metrics.json"
MANIFEST_FILE = "manifest.json"
FAILURES_FILE = "failures.jsonl"
RUN_FILES = (SPLIT_FILE, PREDICTIONS_FILE, METRICS_FILE, MANIFEST_FILE, FAILURES_FILE)
#: Held (OS file lock) by the one process writing the directory; holds that process's PID.
LOCK_FILE = "run.lock"

#: Fields of a failures.jsonl row (one per failed target), in file order.
FAILURE_COLUMNS = ("respondent", "question", "fold", "condition", "error", "message", "session")

#: Columns of a predictions row, in file order.
PREDICTION_COLUMNS = (
    "respondent",
    "question",
    "fold",
    "condition",
    "prediction",
    "truth",
    "probabilities",
    "country",
    "meta",
)

UnitKey = tuple[str, int, str]


def _current_umask() -> int:
    """The process's umask (read without changing it where /proc allows; else set and restored)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a new file gets from ``open()``: 0o666 less the user's umask (mkstemp would give 0o600)."""
    return 0o666 & ~_current_umask()


def jsonl_text(rows: Iterable[dict[str, Any]]) -> str:
    """JSON lines of *rows*, secrets redacted (the one serializer of every JSONL file of a run)."""
    return "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in redact_rows(rows))


def unit_key(row: dict[str, Any]) -> UnitKey:
    return (str(row["respondent"]), int(row["fold"]), str(row.get("condition", "")))


@contextlib.contextmanager
def _atomic_file(path: Path) -> Iterator[Any]:
    """A text file that replaces *path* only when fully written and synced.

    The temporary file has a unique name next to *path* (two writers never share one) and is
    removed when writing fails (disk full, ...): *path* then keeps its old content. The file
    gets the user's usual permissions (umask), not mkstemp's private 0o600.
    """
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with contextlib.suppress(OSError):  # e.g. a file system without permissions
            os.fchmod(fd, file_mode())
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write JSON through a temporary file + rename, so readers never see half a file; secrets
    (credentials of a server URL, API keys) are redacted on the way (:func:`valuesim._redact.redact`)."""
    with _atomic_file(path) as f:
        json.dump(redact(obj), f, ensure_ascii=False, indent=1)
        f.write("\n")


def remove_run_files(out: Path) -> None:
    """Delete a run's files and leftover temporary files from *out* (``--overwrite``); keeps the lock."""
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)
        (out / (name + ".tmp")).unlink(missing_ok=True)  # the fixed name of earlier versions
        for tmp in out.glob(f".{name}.*.tmp"):
            tmp.unlink(missing_ok=True)


def read_json(path: Path, *, kind: type = dict) -> Any:
    """A JSON file of a run directory; DataError (what, where, what to do) when missing or damaged."""
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path} does not exist.", "Is this a `valuesim bench` output directory?") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise damaged(path, f"not valid JSON ({e})") from None
    except OSError as e:
        raise DataError(f"Cannot read {path}: {e.strerror or e}.", "Check the file's permissions.") from None
    if not isinstance(obj, kind):
        raise damaged(path, f"a JSON {type(obj).__name__} where an object was expected")
    return obj


def damaged(path: Path, what: str) -> DataError:
    """The error for a damaged file of a run directory (the hint says how to go on without losing work)."""
    name = path.name
    if name == MANIFEST_FILE:
        hint = (
            f"Delete {path} and re-run the same `valuesim bench` command: finished predictions are kept "
            "(the run's settings are then not checked against the old ones); or pass --overwrite to start over."
        )
    elif name == METRICS_FILE:
        hint = f"Delete {path} and re-run the same `valuesim bench` command: it is recomputed from the predictions."
    elif name == SPLIT_FILE:
        hint = (
            f"Restore {path} from a backup, or re-run the benchmark with --overwrite (its predictions are recomputed)."
        )
    else:
        hint = "Re-run the benchmark with --overwrite."
    return DataError(f"{path} is damaged: {what}.", hint)


class JsonlSink:
    """Appends the rows of finished units to a JSONL file.

    Each unit is written with one ``write`` call and flushed to the operating system at once,
    so a crash or kill of the process loses nothing already finished and leaves at most one
    truncated line (ignored on resume). ``fsync`` (protection against a machine crash) runs at
    most every ``fsync_seconds`` and on close: syncing every unit cost ~4 ms per unit, more
    than the fast baselines themselves. Thread-safe; one sink per file.
    """

    def __init__(self, path: str | Path, *, fsync_seconds: float = 1.0) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._fsync_seconds = fsync_seconds
        self._last_sync = time.monotonic()
        self.units_written = 0

    def write_unit(self, rows: Sequence[dict[str, Any]], *, partial: bool = False) -> None:
        """Append a unit's rows (``partial``: some targets failed; not counted as a written unit)."""
        text = jsonl_text(rows)
        with self._lock:
            self._fh.write(text)
            self._fh.flush()
            now = time.monotonic()
            if now - self._last_sync >= self._fsync_seconds:
                os.fsync(self._fh.fileno())
                self._last_sync = now
            self.units_written += not partial

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.flush()
                os.fsync(self._fh.fileno())
                self._fh.close()

    def __enter__(self) -> JsonlSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _try_lock(fd: int) -> bool:
    """Take an exclusive, non-blocking OS lock on *fd*; False if another process holds it.

    The operating system drops the lock when the holder exits, however it exits (also
    ``kill -9``), so a lock can never be left behind by a dead process.
    """
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        with contextlib.suppress(OSError):
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
        return
    fcntl.flock(fd, fcntl.LOCK_UN)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


#: Directories no output may be written into (with --overwrite, files in them would be deleted):
#: system directories, besides every file-system root, the home directory and its parent.
SYSTEM_DIRS = (
    "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/opt", "/proc", "/root", "/run",
    "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/Applications", "/Library", "/System", "/Users", "/Volumes",
)  # fmt: skip


def refuse_dangerous_dir(directory: str | Path, option: str = "--out") -> None:
    """ConfigError when *directory* is a file-system root, the home directory (or its parent) or a
    system directory: a run, report or experiment writes (and --overwrite deletes) files right in it."""
    p = Path(directory).expanduser()
    try:
        resolved = p.resolve()
    except (OSError, RuntimeError):  # a symlink loop: let the write report it
        return
    home = Path.home().resolve()
    dangerous = {Path(d) for d in SYSTEM_DIRS} | {home, home.parent}
    if resolved.parent == resolved or resolved in dangerous:
        what = (
            "the root of a file system"
            if resolved.parent == resolved
            else ("your home directory" if resolved == home else "a system directory")
        )
        raise ConfigError(
            f"{option} {p} is {what} ({resolved}): ValueSim does not write its files (or delete them with "
            "--overwrite) there.",
            f"Pick a directory of its own, e.g. {option} {home / 'valuesim-runs' / 'my-run'}.",
        )


class RunLock:
    """One writer per run directory: an OS file lock on ``run.lock``, held for the whole run.

    ``run.lock`` holds the holder's PID, host and start time, so a second process can say who
    is writing. The lock itself is the operating system's (``flock``): it disappears with its
    process, so after a crash or ``kill -9`` the next run takes over at once and says so
    (:attr:`took_over` = the dead holder's PID).
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / LOCK_FILE
        self.took_over: int | None = None
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        from valuesim.errors import os_error

        refuse_dangerous_dir(self.directory)
        if self.directory.exists() and not self.directory.is_dir():
            raise ConfigError(f"--out {self.directory} is a file, not a directory.", "Pick a directory path for --out.")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)  # the umask decides, as for every run file
        except OSError as e:
            raise os_error(e, "create the run directory") from None
        if not _try_lock(fd):
            holder = _read_holder(fd)
            os.close(fd)
            pid = holder.get("pid")
            detail = ", ".join(f"{k} {holder[k]}" for k in ("host", "started") if holder.get(k))
            raise RunLockedError(
                f"{self.directory} is in use: {f'PID {pid}' if pid else 'another process'}"
                f"{f' ({detail})' if detail else ''} is writing a run into it.",
                f"Wait until it finishes{f' (or stop it: kill {pid})' if pid else ''}, or pick another --out. "
                "Two processes in one run directory would compute the same units twice.",
            )
        old = _read_holder(fd).get("pid")
        if old and int(old) != os.getpid() and not _pid_alive(int(old)):
            self.took_over = int(old)
        record = f"pid {os.getpid()}\nhost {platform.node()}\nstarted {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, record.encode("utf-8"), 0)
        except OSError:
            pass  # the lock is what counts; the PID record is only for messages (e.g. disk full)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)  # a clean exit leaves no holder behind
        with contextlib.suppress(OSError):
            _unlock(self._fd)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(fd: int) -> dict[str, str]:
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace")
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key in ("pid", "host", "started") and value.strip():
            out[key] = value.strip()
    if "pid" in out and not out["pid"].isdigit():
        del out["pid"]
    return out


@dataclass
class ResumeState:
    """What an existing predictions file holds: rows of finished units, and what was dropped."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    finished: set[UnitKey] = field(default_factory=set)
    dropped_lines: int = 0  # unparsable (truncated) lines
    dropped_rows: int = 0  # rows of unfinished units, unknown units or duplicates
    needs_rewrite: bool = False


def read_jsonl_rows(path: Path) -> tuple[list[dict[str, Any]], int, bool]:
    """(parsed rows, number of unparsable lines, whether the file ends without a newline)."""
    if not path.exists():
        return [], 0, False
    rows: list[dict[str, Any]] = []
    bad = 0
    raw = path.read_bytes()
    for line in raw.splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            bad += 1
            continue
        if isinstance(obj, dict) and {"respondent", "question", "fold"} <= obj.keys():
            rows.append(obj)
        else:
            bad += 1
    return rows, bad, bool(raw) and not raw.endswith(b"\n")


def scan_predictions(path: Path, units: Iterable[Unit], keep_partial: Collection[UnitKey] = ()) -> ResumeState:
    """Keep the rows of units whose every target is present (first copy of each target).

    Units in ``keep_partial`` (some targets failed in this session) keep the rows they have
    without counting as finished; any other incomplete unit is dropped (and computed again)."""
    rows, bad, no_newline = read_jsonl_rows(path)
    wanted = {u.key: set(u.targets) for u in units}
    by_unit: dict[UnitKey, dict[str, dict[str, Any]]] = {}
    extra = 0
    for r in rows:
        k = unit_key(r)
        q = str(r["question"])
        if k not in wanted or q not in wanted[k]:
            extra += 1
            continue
        got = by_unit.setdefault(k, {})
        if q in got:
            extra += 1
            continue
        got[q] = r
    state = ResumeState(dropped_lines=bad)
    for k, got in by_unit.items():
        if len(got) == len(wanted[k]):
            state.finished.add(k)
            state.rows.extend(got.values())
        elif k in keep_partial:
            state.rows.extend(got.values())
        else:
            extra += len(got)
    state.dropped_rows = extra
    state.needs_rewrite = bool(bad or extra or no_newline)
    return state


def read_failures(path: Path, units: Iterable[Unit]) -> list[dict[str, Any]]:
    """Failure rows of *units* (the last record of each target), in file order."""
    rows, _bad, _ = read_jsonl_rows(path)
    wanted = {u.key: set(u.targets) for u in units}
    last: dict[tuple[UnitKey, str], dict[str, Any]] = {}
    for r in rows:
        k = unit_key(r)
        if k in wanted and str(r["question"]) in wanted[k]:
            last.pop((k, str(r["question"])), None)
            last[(k, str(r["question"]))] = r
    return list(last.values())


def write_rows_atomic(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with _atomic_file(path) as f:
        f.write(jsonl_text(rows))


def sort_rows(rows: Iterable[dict[str, Any]], split: Split) -> list[dict[str, Any]]:
    """Deterministic order: respondent (split order), fold, condition (split order), question (natural order)."""
    r_pos = {r: i for i, r in enumerate(split.respondents)}
    c_pos = {c: i for i, c in enumerate(split.conditions)}

    def key(r: dict[str, Any]) -> tuple[int, str, int, int, str, tuple[tuple[int, int | str], ...]]:
        rid = str(r["respondent"])
        cond = str(r.get("condition", ""))
        return (
            r_pos.get(rid, len(r_pos)),
            rid,
            int(r["fold"]),
            c_pos.get(cond, len(c_pos)),
            cond,
            question_sort_key(str(r["question"])),
        )

    return sorted(rows, key=key)


def predictions_frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Rows of predictions.jsonl as a DataFrame with the documented columns (in that order)."""
    frame = pd.DataFrame(list(rows), columns=list(PREDICTION_COLUMNS))
    if len(frame):
        frame["respondent"] = frame["respondent"].astype(str)
        frame["fold"] = frame["fold"].astype(int)
        frame["condition"] = frame["condition"].fillna("").astype(str)
        frame["truth"] = frame["truth"].astype(int)
    return frame


# --------------------------------------------------------------------------- columnar reading

#: The scalar columns of predictions.jsonl the columnar reader parses (pyarrow types).
_SCALAR_COLUMNS = (
    ("respondent", "string"),
    ("question", "string"),
    ("fold", "int64"),
    ("condition", "string"),
    ("prediction", "int64"),
    ("truth", "int64"),
    ("country", "string"),
)
_TARGET_KEY = ["respondent", "fold", "condition", "question"]


@dataclass
class PredictionColumns:
    """Rows of predictions.jsonl as scalar columns (``frame``: respondent, question, fold,
    condition, prediction, truth, country) and the byte offset of each row's line."""

    frame: pd.DataFrame
    offsets: np.ndarray

    def take(self, positions: np.ndarray) -> PredictionColumns:
        return PredictionColumns(self.frame.iloc[positions].reset_index(drop=True), self.offsets[positions])

    def each_target_once(self, n_targets: int) -> bool:
        """The rows are exactly ``n_targets`` distinct targets (a finished run holds nothing else)."""
        return len(self.frame) == n_targets and not self.frame.duplicated(_TARGET_KEY).any()


def read_prediction_columns(path: Path) -> PredictionColumns | None:
    """The scalar columns of predictions.jsonl, parsed by pyarrow (C++, multi-threaded), and the
    byte offset of every line: probabilities and meta are read per row (:func:`read_rows_at`)
    only when needed. None when the file holds anything unusual (a damaged line, a blank
    line): then use the exact reader (:func:`scan_predictions`). A truncated last line (a run
    being written) is left out, as the exact reader leaves it out."""
    import pyarrow as pa
    import pyarrow.json as pj

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raw = b""
    end = raw.rfind(b"\n") + 1
    raw = raw[:end]
    nl = np.flatnonzero(np.frombuffer(raw, dtype=np.uint8) == 10)
    starts = np.concatenate([[0], nl[:-1] + 1]).astype(np.int64) if len(nl) else np.zeros(0, np.int64)
    if not len(nl):
        return PredictionColumns(pd.DataFrame({name: pd.Series(dtype="object") for name, _ in _SCALAR_COLUMNS}), starts)
    if (nl[1:] - nl[:-1] <= 1).any() or nl[0] == 0:  # blank lines: let the exact reader handle it
        return None
    schema = pa.schema([(name, getattr(pa, kind)()) for name, kind in _SCALAR_COLUMNS])
    try:
        table = pj.read_json(
            pa.BufferReader(raw),
            parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if table.num_rows != len(starts):
        return None
    frame = table.to_pandas()
    if frame[["respondent", "question", "fold", "truth"]].isna().any().any():
        return None
    frame["condition"] = frame["condition"].fillna("").astype(str)
    frame["country"] = frame["country"].fillna("").astype(str)
    frame["respondent"] = frame["respondent"].astype(str)
    frame["question"] = frame["question"].astype(str)
    return PredictionColumns(frame, starts)


def finished_positions(frame: pd.DataFrame, units: Iterable[Unit]) -> np.ndarray:
    """Positions of the rows :func:`scan_predictions` keeps (rows of units whose every target is
    present, the first copy of each target; rows of unknown units or targets dropped), in file
    order: the same rule, vectorised over the columns of :func:`read_prediction_columns`."""
    if frame.empty:
        return np.zeros(0, np.int64)
    targets = pd.DataFrame(
        [(u.respondent, u.fold, u.condition, q, len(u.targets)) for u in units for q in u.targets],
        columns=["respondent", "fold", "condition", "question", "n_targets"],
    )
    rows = frame[_TARGET_KEY].copy()
    rows["fold"] = rows["fold"].astype(np.int64)
    rows["pos"] = np.arange(len(rows))
    rows = rows[~rows.duplicated(_TARGET_KEY, keep="first")]
    rows = rows.merge(targets, on=_TARGET_KEY, how="inner")
    counts = rows.groupby(["respondent", "fold", "condition"], sort=False)["pos"].transform("size")
    done = rows[counts.to_numpy() == rows["n_targets"].to_numpy()]
    return np.sort(done["pos"].to_numpy())


def read_rows_at(path: Path, offsets: Iterable[int]) -> list[dict[str, Any]]:
    """The full rows (probabilities, meta ...) of the lines starting at ``offsets`` (from
    :func:`read_prediction_columns`); {} for a line that no longer parses."""
    out: list[dict[str, Any]] = []
    with open(path, "rb") as fh:
        for offset in offsets:
            fh.seek(int(offset))
            try:
                d = json.loads(fh.readline())
            except (json.JSONDecodeError, UnicodeDecodeError):
                d = {}
            out.append(d if isinstance(d, dict) else {})
    return out


def finished_run_summary(path: Path) -> tuple[dict[str, Any], PredictionColumns] | None:
    """A finished run (status complete, metrics.json written) read without building the split's
    unit objects: split.json's summary (protocol, hash, notes, n_units, n_targets; from the
    manifest when it records them, split.json can be large) and the columns of its predictions,
    which must be exactly its targets, once each. None when the run is not finished or anything
    does not add up (then open it with :func:`open_run`)."""
    if not (path / METRICS_FILE).exists() or not (path / MANIFEST_FILE).exists():
        return None
    manifest = read_json(path / MANIFEST_FILE)
    if manifest.get("status") != "complete":
        return None
    protocol = (manifest.get("config") or {}).get("protocol")
    if all(isinstance(manifest.get(k), int) for k in ("n_units", "n_targets")) and isinstance(protocol, dict):
        n_targets, n_units = int(manifest["n_targets"]), int(manifest["n_units"])
        split = {
            "protocol": protocol,
            "split_hash": manifest.get("split_hash", ""),
            "notes": manifest.get("notes") or [],
        }
    else:
        split = read_json(path / SPLIT_FILE)
        units = split.pop("units", None)
        if not isinstance(units, list):
            return None
        n_targets, n_units = sum(len(u.get("targets") or []) for u in units), len(units)
    cols = read_prediction_columns(path / PREDICTIONS_FILE)
    if cols is None or not cols.each_target_once(n_targets):
        return None
    split.update({"n_units": n_units, "n_targets": n_targets})
    return split, cols


@dataclass
class RunDir:
    """A finished or unfinished run directory, opened for reading."""

    path: Path
    split: Split
    manifest: dict[str, Any]
    metrics: dict[str, Any] | None

    def predictions(self) -> pd.DataFrame:
        """Rows of finished units, in the deterministic order."""
        state = scan_predictions(self.path / PREDICTIONS_FILE, self.split.units)
        return predictions_frame(sort_rows(state.rows, self.split))

    def finished_columns(self) -> PredictionColumns | None:
        """The rows :meth:`predictions` holds, in file order, read column-wise
        (:func:`read_prediction_columns`); None when the file needs the exact reader."""
        cols = read_prediction_columns(self.path / PREDICTIONS_FILE)
        if cols is None:
            return None
        if self.complete and cols.each_target_once(self.split.n_targets):
            return cols  # a finished run holds exactly its units' targets
        return cols.take(finished_positions(cols.frame, self.split.units))

    def split_summary(self) -> dict[str, Any]:
        """split.json without its units (protocol, folds, hash, notes; n_units, n_targets)."""
        d = self.split.to_dict()
        d.pop("units", None)
        d["n_units"] = len(self.split.units)
        d["n_targets"] = self.split.n_targets
        return d

    @property
    def complete(self) -> bool:
        return self.manifest.get("status") == "complete" and self.metrics is not None


def run_codebook(manifest: dict[str, Any]) -> Codebook:
    """The codebook a run was made with: the one its manifest carries (a survey other than
    WVS-7), else the built-in WVS-7 codebook."""
    from valuesim.survey.codebook import load_codebook
    from valuesim.survey.custom import codebook_from_dict_form

    raw = manifest.get("codebook")
    return load_codebook() if not raw else codebook_from_dict_form(raw, "the codebook in the run's manifest.json")


def shared_codebook(runs: Sequence[RunDir]) -> Codebook:
    """The one codebook of several runs; ConfigError when they were made on different surveys."""
    books = [run_codebook(r.manifest) for r in runs]
    names = {b.name for b in books}
    if len(names) > 1:
        raise ConfigError(
            f"The runs were made on different surveys ({', '.join(sorted(names))}).",
            "Report or compare runs of one survey at a time.",
        )
    return books[0] if books else run_codebook({})


def files_signature(path: Path) -> tuple[tuple[int, int], ...]:
    """(size, mtime) of a run directory's files ((-1, -1) for a missing one): changes when it is written."""
    out = []
    for name in (SPLIT_FILE, PREDICTIONS_FILE, METRICS_FILE, MANIFEST_FILE):
        try:
            st = (path / name).stat()
            out.append((st.st_size, st.st_mtime_ns))
        except OSError:
            out.append((-1, -1))
    return tuple(out)


def check_run_dir(path: Path) -> None:
    """DataError unless *path* is a run directory (the cheap checks of :func:`open_run`)."""
    if not path.is_dir():
        raise DataError(f"Run directory {path} does not exist.", "Pass the --out directory of `valuesim bench`.")
    if not (path / SPLIT_FILE).exists():
        raise DataError(f"{path} has no {SPLIT_FILE}: not a `valuesim bench` output directory.", "Check the path.")


def open_run(path: str | Path) -> RunDir:
    """Open a `valuesim bench` output directory (for reports and comparisons)."""
    p = Path(path).expanduser()
    check_run_dir(p)
    split = Split.load(p / SPLIT_FILE)
    if split.protocol.get("kind") == "simulate":
        raise DataError(
            f"{p} is a `valuesim simulate` run (answers to new questions, nothing to score).",
            f"Its report is {p / 'report' / 'report.html'}; its tables are answers.csv and distributions.csv.",
        )
    manifest = read_json(p / MANIFEST_FILE) if (p / MANIFEST_FILE).exists() else {}
    metrics = read_json(p / METRICS_FILE) if (p / METRICS_FILE).exists() else None
    return RunDir(path=p, split=split, manifest=manifest, metrics=metrics)

"""What the viewer serves from: run directories loaded once and indexed, plus the survey's people.

A run is read through :mod:`valuesim.bench.rundir` (the one reader of run directories: its
columnar reader, or the exact one via :func:`valuesim.report.load.load_run`, the report's
loader, so both show the same numbers) and indexed by respondent and by question once; every
page then slices arrays instead of re-reading predictions.jsonl. A run that is still being written is re-read when its
files change (at most every ``refresh_seconds``), which is what the Live page shows.
Nothing here ever writes into a run directory.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from valuesim._redact import redact
from valuesim.bench import rundir
from valuesim.bench.metrics import per_prediction
from valuesim.errors import DataError
from valuesim.report.load import RunData, load_run, run_data
from valuesim.survey import demographics
from valuesim.survey.codebook import Codebook
from valuesim.survey.dataset import SurveyData


class NotFound(LookupError):
    """An unknown run, person or question: the app answers 404 with ``message`` and ``hint``."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def slug(name: str) -> str:
    """A URL-safe key for a run name (the name itself is only ever shown escaped)."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return s or "run"


@dataclass
class ViewRun:
    """One run directory as the viewer holds it. ``data`` is None until a unit has finished."""

    key: str
    name: str
    path: Path
    n_targets: int
    n_units: int
    data: RunData | None = None
    by_respondent: dict[str, np.ndarray] = field(default_factory=dict)
    by_question: dict[str, np.ndarray] = field(default_factory=dict)
    signature: tuple[tuple[int, int], ...] = ()
    loaded_at: float = 0.0
    load_seconds: float = 0.0
    version: int = 0
    from_cache: bool = False
    cache_writer: threading.Thread | None = field(default=None, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def extras(self, rows: pd.DataFrame) -> list[tuple[dict[str, Any] | None, dict[str, Any]]]:
        """(probabilities, meta) of the given prediction rows, read from the file by offset
        (or from the frame when the run was read by the exact reader)."""
        if "meta" in rows.columns:
            probs = rows["probabilities"] if "probabilities" in rows.columns else [None] * len(rows)
            return [
                (p if isinstance(p, dict) else None, meta_dict(m)) for p, m in zip(probs, rows["meta"], strict=True)
            ]
        if "offset" not in rows.columns:
            return [(None, {}) for _ in range(len(rows))]
        out: list[tuple[dict[str, Any] | None, dict[str, Any]]] = []
        for d in rundir.read_rows_at(self.path / rundir.PREDICTIONS_FILE, rows["offset"].to_numpy()):
            p = d.get("probabilities")
            out.append((p if isinstance(p, dict) else None, meta_dict(d.get("meta"))))
        return out

    @property
    def complete(self) -> bool:
        return self.data is not None and self.data.complete

    @property
    def n_done(self) -> int:
        return 0 if self.data is None else self.data.n_predictions

    @property
    def method(self) -> str:
        return self.data.method if self.data is not None else "?"

    @property
    def pred(self) -> pd.DataFrame:
        if self.data is None:
            return _EMPTY
        return self.data.predictions

    def rows_for_respondent(self, rid: str) -> pd.DataFrame:
        idx = self.by_respondent.get(rid)
        return self.pred.iloc[idx] if idx is not None else self.pred.iloc[0:0]

    def rows_for_question(self, qid: str) -> pd.DataFrame:
        idx = self.by_question.get(qid)
        return self.pred.iloc[idx] if idx is not None else self.pred.iloc[0:0]


_EMPTY = pd.DataFrame(
    columns=["respondent", "question", "fold", "condition", "country", "truth", "prediction", "top1", "meta"]
)


def _scored(path: Path, cols: rundir.PredictionColumns, codebook: Codebook) -> pd.DataFrame:
    if not len(cols.frame):
        raise DataError(f"{path} holds no finished predictions yet.", "Wait for the first unit.")
    sub = cols.frame.copy()
    sub["prediction"] = sub["prediction"].astype("Float64").astype(np.float64)
    scored = per_prediction(sub, codebook)
    scored["offset"] = cols.offsets
    scored["confidence"] = np.nan
    return scored


def fast_load_finished(path: Path, codebook: Codebook) -> tuple[RunData, int, int] | None:
    """A finished run read column-wise without building the split's unit objects
    (:func:`valuesim.bench.rundir.finished_run_summary`): (data, n_targets, n_units), or None
    when the run is not finished or anything does not add up (then the general path runs)."""
    found = rundir.finished_run_summary(path)
    if found is None:
        return None
    split, cols = found
    data = RunData(
        path=path,
        name=path.name,
        predictions=_scored(path, cols, codebook),
        metrics=rundir.read_json(path / rundir.METRICS_FILE),
        manifest=redact(rundir.read_json(path / rundir.MANIFEST_FILE)),
        split=split,
        complete=True,
        notes=[str(n) for n in split.get("notes") or []],
    )
    return data, int(split["n_targets"]), int(split["n_units"])


def fast_load(rd: rundir.RunDir, codebook: Codebook, *, n_boot: int = 1000) -> RunData | None:
    """Like :func:`valuesim.report.load.load_run` (same scores, same finished-unit rule) but
    with the columnar reader (:meth:`valuesim.bench.rundir.RunDir.finished_columns`); the
    frame's ``offset`` column is the byte offset of each row's line, ``probabilities`` and
    ``meta`` come per row from :meth:`ViewRun.extras`. None: the file needs the exact reader
    (use load_run)."""
    cols = rd.finished_columns()
    if cols is None:
        return None
    return run_data(
        rd,
        _scored(rd.path, cols, codebook),
        cols.frame,
        codebook,
        n_boot,
        split=rd.split_summary(),
        unfinished="probabilistic scores once it is complete",
    )


# --------------------------------------------------------------------------- conversion cache

CACHE_VERSION = 1


def _cache_files(path: Path) -> tuple[Path, Path]:
    import hashlib

    from valuesim.llm.cache import default_cache_dir

    h = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24]
    d = default_cache_dir() / "view"
    return d / f"{h}.parquet", d / f"{h}.json"


def read_cache(path: Path, sig: tuple[tuple[int, int], ...]) -> tuple[pd.DataFrame, dict[str, Any]] | None:
    """The converted predictions of a finished run, if the files did not change since."""
    pq, js = _cache_files(path)
    try:
        info = json.loads(js.read_text("utf-8"))
        if info.get("version") != CACHE_VERSION or [tuple(x) for x in info.get("signature", [])] != list(sig):
            return None
        return pd.read_parquet(pq), info
    except (OSError, ValueError):
        return None


def write_cache(path: Path, sig: tuple[tuple[int, int], ...], data: RunData) -> None:
    """Best effort: a read-only or full cache directory only costs the next start its speed."""
    pq, js = _cache_files(path)
    try:
        pq.parent.mkdir(parents=True, exist_ok=True)
        tmp = pq.with_name(pq.name + ".tmp")
        data.predictions.drop(columns=["probabilities", "meta"], errors="ignore").to_parquet(tmp, index=False)
        tmp.replace(pq)
        info = {"version": CACHE_VERSION, "signature": sig, "split": data.split, "notes": data.notes, "path": str(path)}
        js.write_text(json.dumps(redact(info)), "utf-8")
    except (OSError, ValueError, ImportError):
        pass


def _load(run: ViewRun, codebook: Codebook) -> None:
    t0 = time.perf_counter()
    sig = rundir.files_signature(run.path)
    data: RunData | None = None
    cached = read_cache(run.path, sig) if (run.path / rundir.METRICS_FILE).exists() else None
    if cached is not None:
        frame, info = cached
        data = RunData(
            path=run.path,
            name=run.name,
            predictions=frame,
            metrics=rundir.read_json(run.path / rundir.METRICS_FILE),
            manifest=redact(rundir.read_json(run.path / rundir.MANIFEST_FILE)),
            split=info["split"],
            complete=True,
            notes=list(info.get("notes") or []),
        )
        run.n_targets, run.n_units = int(info["split"]["n_targets"]), int(info["split"]["n_units"])
    elif (finished := fast_load_finished(run.path, codebook)) is not None:
        data, run.n_targets, run.n_units = finished
        # for the next start; written atomically, so a start that does not wait for it is safe
        run.cache_writer = threading.Thread(target=write_cache, args=(run.path, sig, data), daemon=True)
        run.cache_writer.start()
    else:
        rd = rundir.open_run(run.path)
        run.n_targets = rd.split.n_targets
        run.n_units = len(rd.split.units)
        try:
            data = fast_load(rd, codebook)
            if data is None:
                data = load_run(run.path, codebook)
                data.split = rd.split_summary()
            elif data.complete:
                write_cache(run.path, sig, data)
        except DataError:
            if not rd.predictions().empty:
                raise
            data = None  # started, nothing finished yet: the Live page waits for it
    run.from_cache = cached is not None
    by_respondent: dict[str, np.ndarray] = {}
    by_question: dict[str, np.ndarray] = {}
    if data is not None:
        data.name = run.name
        pred = data.predictions
        by_respondent = {str(k): v for k, v in pred.groupby("respondent", sort=False).indices.items()}
        by_question = {str(k): v for k, v in pred.groupby("question", sort=False).indices.items()}
    # swapped together: a page served meanwhile sees the old or the new run, not a mix
    run.data, run.by_respondent, run.by_question = data, by_respondent, by_question
    run.signature = sig
    run.loaded_at = time.monotonic()
    run.load_seconds = time.perf_counter() - t0
    run.version += 1


class RunStore:
    """The run directories given on the command line, loaded once and refreshed while they grow."""

    def __init__(self, paths: Sequence[str | Path], codebook: Codebook, *, refresh_seconds: float = 2.0) -> None:
        self.codebook = codebook
        self.refresh_seconds = refresh_seconds
        resolved = [Path(p).expanduser().resolve() for p in paths]
        if len(set(resolved)) < len(resolved):
            raise DataError("The same run directory was given twice.", "Pass each run directory once.")
        for p in resolved:
            rundir.check_run_dir(p)  # a clear error for a path that is not a run, before any loading
        names = [p.name for p in resolved]
        names = [f"{p.parent.name}/{p.name}" if names.count(p.name) > 1 else p.name for p in resolved]
        keys: list[str] = []
        for n in names:
            k = slug(n)
            while k in keys:
                k += "_"
            keys.append(k)
        self.runs: list[ViewRun] = [
            ViewRun(key=k, name=n, path=p, n_targets=0, n_units=0) for k, n, p in zip(keys, names, resolved)
        ]
        for r in self.runs:
            _load(r, codebook)

    def __iter__(self) -> Iterator[ViewRun]:
        return iter(self.runs)

    def __len__(self) -> int:
        return len(self.runs)

    def get(self, key: str) -> ViewRun:
        for r in self.runs:
            if r.key == key:
                self.refresh(r)
                return r
        raise NotFound(f"There is no run {key!r} in this viewer.", "Pick one from the Runs page.")

    def refresh(self, run: ViewRun, *, force: bool = False) -> bool:
        """Re-read a run whose files changed (an unfinished run being written). True if re-read."""
        if run.complete and not force:
            return False
        if not force and time.monotonic() - run.loaded_at < self.refresh_seconds:
            return False
        with run.lock:
            if rundir.files_signature(run.path) == run.signature and not force:
                run.loaded_at = time.monotonic()
                return False
            try:
                _load(run, self.codebook)
            except DataError:
                run.loaded_at = time.monotonic()  # a half-written file: keep what we have, retry later
                return False
        return True

    def flush(self) -> None:
        """Wait until the conversions of finished runs are written to the cache."""
        for r in self.runs:
            if r.cache_writer is not None:
                r.cache_writer.join()

    def refresh_all(self) -> None:
        for r in self.runs:
            self.refresh(r)

    @property
    def loaded(self) -> list[ViewRun]:
        """Runs with at least one finished unit."""
        return [r for r in self.runs if r.data is not None]

    @property
    def version(self) -> tuple[int, ...]:
        return tuple(r.version for r in self.runs)


# --------------------------------------------------------------------------- people


class People:
    """Respondents of the survey (when ``--data`` is given) and of the runs, with the
    columns the People page filters on: country, sex, age, age band, runs, predictions."""

    def __init__(self, store: RunStore, survey: SurveyData | None) -> None:
        self.store = store
        self.survey = survey
        self._lock = threading.Lock()
        self._version: tuple[int, ...] | None = None
        self._frame: pd.DataFrame | None = None
        self._data_frame = self._from_survey(survey) if survey is not None else None

    @staticmethod
    def _from_survey(survey: SurveyData) -> pd.DataFrame:
        """country, sex and age of the survey's people, from its codebook's roles (any survey)."""
        return demographics.table(survey)[["country", "sex", "age"]]

    def frame(self) -> pd.DataFrame:
        """index = respondent id; country, sex, age, age_band, runs (how many runs hold them), in_data."""
        version = self.store.version
        with self._lock:
            if self._frame is not None and self._version == version:
                return self._frame
            in_runs: dict[str, int] = {}
            countries: dict[str, str] = {}
            for r in self.store.loaded:
                first = r.pred.iloc[[int(v[0]) for v in r.by_respondent.values()]]
                for rid, c in zip(first["respondent"].to_numpy(), first["country"].to_numpy(), strict=True):
                    in_runs[rid] = in_runs.get(rid, 0) + 1
                    countries.setdefault(rid, c)
            run_ids = pd.Index(list(in_runs), dtype=object)
            if self._data_frame is not None:
                base = self._data_frame
                extra = run_ids.difference(base.index)
                frame = pd.concat(
                    [
                        base,
                        pd.DataFrame({"country": [countries[i] for i in extra], "sex": "", "age": np.nan}, index=extra),
                    ]
                )
                frame["in_data"] = np.r_[np.ones(len(base), dtype=bool), np.zeros(len(extra), dtype=bool)]
            else:
                frame = pd.DataFrame(
                    {"country": [countries[i] for i in run_ids], "sex": "", "age": np.nan}, index=run_ids
                )
                frame["in_data"] = False
            frame["runs"] = pd.Series(in_runs, dtype=np.int64).reindex(frame.index).fillna(0).astype(int).to_numpy()
            frame["age_band"] = demographics.age_bands(frame["age"].to_numpy(np.float64))
            self._frame = frame
            self._version = version
            return frame

    def filter(
        self,
        *,
        country: str = "",
        sex: str = "",
        band: str = "",
        rid: str = "",
        scope: str = "runs",
    ) -> pd.DataFrame:
        f = self.frame()
        mask = np.ones(len(f), dtype=bool)
        if scope != "all":
            mask &= f["runs"].to_numpy() > 0
        if country:
            mask &= f["country"].to_numpy() == country
        if sex:
            mask &= f["sex"].to_numpy() == sex
        if band:
            mask &= f["age_band"].to_numpy() == band
        if rid:
            mask &= np.asarray(f.index.str.contains(re.escape(rid), case=False, regex=True), dtype=bool)
        return f[mask]

    def get(self, rid: str) -> pd.Series:
        f = self.frame()
        if rid not in f.index:
            raise NotFound(
                f"There is no person {rid!r} in the runs{' or the data' if self.survey is not None else ''}.",
                "Find people on the People page (filter by country, sex, age band or id).",
            )
        return f.loc[rid]


def meta_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}

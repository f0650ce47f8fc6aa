"""Read WVS wave 7 files the way users hold them, into a validated :class:`SurveyData`.

Accepted inputs (the format is detected from the content and the file name):

* the official cross-national CSV, v5 or v6, comma-, semicolon- or tab-separated, with or
  without a UTF-8 byte-order mark, with or without a leading unnamed index column, plain or
  compressed (``.gz``, ``.bz2``, ``.xz``, ``.zst``);
* per-country files of the same shape, and a directory of them (concatenated in file-name order);
* SPSS (``.sav``, ``.zsav``, ``.por``) and Stata (``.dta``) files, read with pyreadstat; variable
  names are matched case-insensitively (``q1`` is ``Q1``);
* parquet (``.parquet``, ``.pq``); R (``.rds``, ``.rdata``, ``.rda``) when ``pyreadr`` is installed;
* a ``.zip`` archive holding any of the above (the WVS website ships its downloads zipped).

Only the columns ValueSim uses are read: the codebook's questions plus ``version``,
``B_COUNTRY_ALPHA``, ``B_COUNTRY`` and ``D_INTERVIEW``. Every other column is ignored and counted.

Respondent ids: ``D_INTERVIEW`` as a string when the file has that column. Rows whose
``D_INTERVIEW`` is blank or shared with another row (v5.0 gives all 1,000 Uruguayan rows the
same value) get their 1-based row number in the file (in the concatenation, for a directory)
instead; a file without ``D_INTERVIEW`` uses row numbers throughout. Ids are assigned before
any country filter, so a respondent keeps the same id whatever subset is loaded.

Validation: each question column holds raw integer codes. A code that is neither a valid
answer (``Question.is_valid``) nor a survey-wide missing code is counted in
``report.out_of_range[qid][code]`` and stored as -5 (missing); blank cells and values that
are not integers are stored as -5 and counted in ``report.notes``. Nothing is dropped silently.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import lzma
import re
import tempfile
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from valuesim.errors import DataError
from valuesim.survey import countries as country_table
from valuesim.survey.codebook import Codebook, Question, load_codebook
from valuesim.survey.dataset import SurveyData, ValidationReport

#: Meta columns read besides the questions (canonical upper-case names).
VERSION_COL = "VERSION"
ALPHA_COL = "B_COUNTRY_ALPHA"
NUMERIC_COL = "B_COUNTRY"
ID_COL = "D_INTERVIEW"
META_COLUMNS = (VERSION_COL, ALPHA_COL, NUMERIC_COL, ID_COL)

#: Code stored for cells that are blank, not integers, or out of range.
MISSING_OTHER = -5
#: Code stored when a directory's files disagree on which questions they carry.
NOT_ASKED = -4
#: Country code used for rows without any usable country value.
UNKNOWN_COUNTRY = "XXX"

_CSV_EXTS = (".csv", ".tsv", ".txt", ".dat")
_COMPRESSED = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd"}
_SPSS_EXTS = (".sav", ".zsav", ".por")
_STATA_EXTS = (".dta",)
_PARQUET_EXTS = (".parquet", ".pq")
_R_EXTS = (".rds", ".rdata", ".rda")
_ARCHIVE_EXTS = (".zip",)
SUPPORTED_SUFFIXES = (
    *_CSV_EXTS,
    *(e + c for e in _CSV_EXTS for c in _COMPRESSED),
    ".gz",
    *_SPSS_EXTS,
    *_STATA_EXTS,
    *_PARQUET_EXTS,
    *_R_EXTS,
    *_ARCHIVE_EXTS,
)
_MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz", b"\x28\xb5\x2f\xfd": "zstd"}
_INDEX_NAMES = {"", "UNNAMED: 0", "INDEX", "ROWID", "...1"}

_FORMATS_HINT = (
    "ValueSim reads the WVS-7 cross-national file (or per-country files, or a directory of "
    "them) as CSV (.csv, optionally .gz), SPSS (.sav), Stata (.dta), parquet, R (.rds) or a .zip "
    "of one of these. Download it from https://www.worldvaluessurvey.org (Data & Documentation "
    "> WVS Wave 7), or try `valuesim data synth demo.csv` for a synthetic file."
)


# --------------------------------------------------------------------------------------------
# Reading one file into a raw frame (canonical upper-case column names, needed columns only)
# --------------------------------------------------------------------------------------------


@dataclass
class _Raw:
    """One file's needed columns, plus what was seen in its header."""

    frame: pd.DataFrame
    source: str
    columns: list[str]  # every column name in the file, as written
    index_column: bool = False
    notes: list[str] = field(default_factory=list)


def _canonical(name: object) -> str:
    return str(name).replace("\ufeff", "").strip().strip('"').upper()


def _select(columns: Sequence[str], wanted: set[str]) -> tuple[dict[str, str], list[str]]:
    """Map canonical name -> name as written, for wanted columns (first occurrence wins)."""
    chosen: dict[str, str] = {}
    duplicates: list[str] = []
    for name in columns:
        key = _canonical(name)
        if key not in wanted:
            continue
        if key in chosen:
            duplicates.append(name)
        else:
            chosen[key] = name
    return chosen, duplicates


def _is_index_name(name: str) -> bool:
    return _canonical(name) in _INDEX_NAMES


def _compression_of(path: Path) -> str | None:
    with path.open("rb") as fh:
        head = fh.read(8)
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return kind
    return None


def _open_text_head(path: Path, compression: str | None, n_bytes: int = 1 << 20) -> bytes:
    openers: dict[str | None, Any] = {
        None: open,
        "gzip": gzip.open,
        "bz2": bz2.open,
        "xz": lzma.open,
    }
    if compression == "zstd":
        with pa.input_stream(str(path), compression="zstd") as stream:
            return bytes(stream.read(n_bytes))
    with openers[compression](path, "rb") as fh:
        return bytes(fh.read(n_bytes))


def _header(head: bytes, source: str) -> tuple[list[str], str]:
    """Column names and delimiter from the first line of a delimited text file."""
    if not head.strip():
        raise DataError(f"{source} is empty.", _FORMATS_HINT)
    if b"\x00" in head[:4096]:
        raise DataError(
            f"{source} does not look like a text (CSV) file: it contains binary data.",
            "If it is an SPSS, Stata or parquet file, give it its usual extension (.sav, .dta, "
            ".parquet); if it is compressed, use .gz. " + _FORMATS_HINT,
        )
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = head.decode("latin-1")
    first = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    delimiter = max(counts, key=lambda d: counts[d])
    if counts[delimiter] == 0:
        delimiter = ","
    names = next(csv.reader([first], delimiter=delimiter))
    return names, delimiter


def _read_delimited(path: Path, wanted: set[str], *, source: str, stream: IO[bytes] | None = None) -> _Raw:
    compression = None if stream is not None else _compression_of(path)
    try:
        if stream is not None:
            head = stream.read(1 << 20)
            stream.seek(0)
        else:
            head = _open_text_head(path, compression)
    except (OSError, EOFError, lzma.LZMAError) as e:
        raise DataError(
            f"Could not read {source}: {e}.",
            "The file looks truncated or corrupt; download it again. " + _FORMATS_HINT,
        ) from None
    names, delimiter = _header(head, source)
    unique = [f"__col{i}__" if not n.strip() else n for i, n in enumerate(names)]
    unique = [n if unique.count(n) == 1 else f"{n}__{i}" for i, n in enumerate(unique)]
    chosen, duplicates = _select(unique, wanted)
    index_column = bool(names) and _is_index_name(names[0])
    text_cols = {chosen[c] for c in (VERSION_COL, ALPHA_COL, ID_COL) if c in chosen}
    read_opts = pacsv.ReadOptions(column_names=unique, skip_rows=1, block_size=8 << 20)
    parse_opts = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=False)
    convert_opts = pacsv.ConvertOptions(
        include_columns=list(chosen.values()) or unique[:1],
        column_types={c: pa.string() for c in text_cols},
        strings_can_be_null=True,
    )
    try:
        if stream is not None:
            src: Any = pa.PythonFile(stream, mode="r")
        else:
            src = pa.input_stream(str(path), compression=compression)
        table = pacsv.read_csv(src, read_options=read_opts, parse_options=parse_opts, convert_options=convert_opts)
    except (pa.ArrowInvalid, OSError, EOFError) as e:
        msg = str(e).splitlines()[0]
        raise DataError(
            f"Could not parse {source} as a delimited text file ({delimiter!r}-separated): {msg}",
            "Check that the file is complete (not truncated) and is the WVS CSV export. " + _FORMATS_HINT,
        ) from None
    frame = table.to_pandas(self_destruct=True)
    as_written = {name: key for key, name in chosen.items()}
    frame = frame[[c for c in frame.columns if c in as_written]]
    frame.columns = [as_written[c] for c in frame.columns]
    notes = [f"{source}: duplicate column(s) {', '.join(duplicates)} ignored"] if duplicates else []
    return _Raw(frame=frame, source=source, columns=names, index_column=index_column, notes=notes)


def _read_stat(path: Path, wanted: set[str], *, source: str) -> _Raw:
    import pyreadstat

    suffix = path.suffix.lower()
    if suffix in _STATA_EXTS:
        reader, kwargs = pyreadstat.read_dta, {}
    elif suffix == ".por":
        reader, kwargs = pyreadstat.read_por, {}
    else:
        # user_missing=True keeps SPSS user-missing codes (-1 .. -5) instead of turning them into NaN
        reader, kwargs = pyreadstat.read_sav, {"user_missing": True}
    try:
        _, meta = reader(str(path), metadataonly=True)
        chosen, duplicates = _select(list(meta.column_names), wanted)
        frame = (
            reader(str(path), usecols=list(chosen.values()), apply_value_formats=False, **kwargs)[0]
            if chosen
            else pd.DataFrame()
        )
    except Exception as e:  # pyreadstat raises its own ReadstatError / PyreadstatError types
        raise DataError(
            f"Could not read {source} as {'Stata' if suffix in _STATA_EXTS else 'SPSS'}: {e}",
            "The file may be truncated or corrupt; download it again. " + _FORMATS_HINT,
        ) from None
    frame.columns = [_canonical(c) for c in frame.columns]
    notes = [f"{source}: duplicate column(s) {', '.join(duplicates)} ignored"] if duplicates else []
    return _Raw(frame=frame, source=source, columns=list(meta.column_names), notes=notes)


def _read_parquet(path: Path, wanted: set[str], *, source: str) -> _Raw:
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(str(path))
        chosen, duplicates = _select(schema.names, wanted)
        table = pq.read_table(str(path), columns=list(chosen.values()))
    except (pa.ArrowInvalid, OSError) as e:
        raise DataError(f"Could not read {source} as parquet: {e}", _FORMATS_HINT) from None
    frame = table.to_pandas()
    frame.columns = [_canonical(c) for c in frame.columns]
    columns = [n for n in schema.names if n != "__index_level_0__"]
    notes = [f"{source}: duplicate column(s) {', '.join(duplicates)} ignored"] if duplicates else []
    return _Raw(frame=frame, source=source, columns=columns, notes=notes)


def _read_r(path: Path, wanted: set[str], *, source: str) -> _Raw:
    try:
        import pyreadr
    except ImportError:
        raise DataError(
            f"{source} is an R data file and reading it needs the pyreadr package.",
            "Install it with `pip install pyreadr`, or use the CSV/SPSS/Stata version of the file.",
        ) from None
    try:
        objects = pyreadr.read_r(str(path))
    except Exception as e:  # pyreadr.custom_errors.* and LibrdataError
        raise DataError(f"Could not read {source} as R data: {e}", _FORMATS_HINT) from None
    frames = [o for o in objects.values() if isinstance(o, pd.DataFrame)]
    if not frames:
        raise DataError(f"{source} holds no data frame.", _FORMATS_HINT)
    full = max(frames, key=len)
    chosen, duplicates = _select(list(full.columns), wanted)
    frame = full[list(chosen.values())].copy()
    frame.columns = [_canonical(c) for c in frame.columns]
    notes = [f"{source}: duplicate column(s) {', '.join(duplicates)} ignored"] if duplicates else []
    return _Raw(frame=frame, source=source, columns=[str(c) for c in full.columns], notes=notes)


def _kind(name: str) -> str | None:
    """Reader kind from a file name, or None when the extension is not supported."""
    low = name.lower()
    for ext in _COMPRESSED:
        if low.endswith(ext):
            stem = low[: -len(ext)]
            return "csv" if (stem.endswith(_CSV_EXTS) or "." not in Path(stem).name) else None
    suffix = Path(low).suffix
    if suffix in _CSV_EXTS:
        return "csv"
    if suffix in _SPSS_EXTS or suffix in _STATA_EXTS:
        return "stat"
    if suffix in _PARQUET_EXTS:
        return "parquet"
    if suffix in _R_EXTS:
        return "r"
    if suffix in _ARCHIVE_EXTS:
        return "zip"
    return None


def _read_zip(path: Path, wanted: set[str], *, source: str) -> list[_Raw]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"Could not open {source} as a zip archive: {e}", _FORMATS_HINT) from None
    with archive:
        members = [
            m
            for m in archive.infolist()
            if not m.is_dir()
            and _kind(m.filename) not in (None, "zip")
            and not Path(m.filename).name.startswith((".", "__MACOSX"))
            and "__MACOSX" not in m.filename
        ]
        if not members:
            names = ", ".join(m.filename for m in archive.infolist()[:10]) or "nothing"
            raise DataError(f"{source} contains no data file (found: {names}).", _FORMATS_HINT)
        raws: list[_Raw] = []
        for member in sorted(members, key=lambda m: m.filename):
            label = f"{source}:{member.filename}"
            kind = _kind(member.filename)
            try:
                if kind == "csv" and Path(member.filename).suffix.lower() in _CSV_EXTS:
                    with archive.open(member) as fh:
                        raws.append(_read_delimited(path, wanted, source=label, stream=fh))  # type: ignore[arg-type]
                else:
                    with tempfile.TemporaryDirectory(prefix="valuesim-zip-") as tmp:
                        extracted = Path(archive.extract(member, tmp))
                        raws.extend(_read_file(extracted, wanted, source=label))
            except (zipfile.BadZipFile, OSError, EOFError) as e:
                raise DataError(f"Could not read {label}: {e}", "The archive may be corrupt; download it again.") from None
        return raws


def _read_file(path: Path, wanted: set[str], *, source: str | None = None) -> list[_Raw]:
    label = source or str(path)
    kind = _kind(path.name)
    if kind is None:
        raise DataError(
            f"Unsupported file type {''.join(path.suffixes) or '(no extension)'!r}: {label}.",
            _FORMATS_HINT,
        )
    if kind == "csv":
        return [_read_delimited(path, wanted, source=label)]
    if kind == "stat":
        return [_read_stat(path, wanted, source=label)]
    if kind == "parquet":
        return [_read_parquet(path, wanted, source=label)]
    if kind == "r":
        return [_read_r(path, wanted, source=label)]
    return _read_zip(path, wanted, source=label)


def data_files(path: str | Path) -> list[Path]:
    """The data files *path* stands for: itself, or a directory's supported files (sorted)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(
            f"No such file or directory: {p}",
            "Check the path. " + _FORMATS_HINT,
        )
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith(".") and _kind(f.name))
        if not files:
            present = ", ".join(sorted(f.name for f in p.iterdir())[:10]) or "nothing"
            raise DataError(f"The directory {p} contains no survey data files (found: {present}).", _FORMATS_HINT)
        return files
    return [p]


# --------------------------------------------------------------------------------------------
# Normalising raw frames into codes, countries and ids
# --------------------------------------------------------------------------------------------


@dataclass
class _Column:
    codes: np.ndarray  # int64
    out_of_range: Counter[int]
    blank: int = 0
    non_integer: int = 0
    examples: list[str] = field(default_factory=list)


def _label_lookup(q: Question, missing_codes: dict[int, str]) -> dict[str, int]:
    table = {label.strip().lower(): code for code, label in q.options.items()}
    for code, label in missing_codes.items():
        table.setdefault(label.strip().lower(), code)
    return table


def clean_codes(values: pd.Series | np.ndarray, question: Question, missing_codes: dict[int, str]) -> _Column:
    """Raw cells of one question -> int64 codes; invalid codes counted and set to -5.

    Text cells are matched against the codebook's labels (case-insensitive), so a file exported
    with value labels instead of codes still loads.
    """
    series = pd.Series(values)
    examples: list[str] = []
    if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
        text = series.astype("string").str.strip()
        numeric = pd.to_numeric(text, errors="coerce")
        unmatched = numeric.isna() & text.notna() & (text != "")
        if unmatched.any():
            lookup = _label_lookup(question, missing_codes)
            mapped = text[unmatched].str.lower().map(lookup)
            numeric[unmatched] = mapped
            still = unmatched & numeric.isna()
            examples = [str(v) for v in text[still].unique()[:3]]
            blank = int((text.isna() | (text == "")).sum())
            non_integer = int(still.sum())
        else:
            blank = int(numeric.isna().sum())
            non_integer = 0
        arr = numeric.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        arr = series.to_numpy(dtype=np.float64, na_value=np.nan) if series.dtype.kind != "i" else series.to_numpy()
        blank = int(np.isnan(arr).sum()) if arr.dtype.kind == "f" else 0
        non_integer = 0

    if arr.dtype.kind == "f":
        nan = np.isnan(arr)
        frac = ~nan & (arr != np.round(arr))
        non_integer += int(frac.sum())
        if frac.any():
            examples += [repr(float(v)) for v in np.unique(arr[frac])[:3]]
        codes = np.where(nan | frac, MISSING_OTHER, np.round(np.nan_to_num(arr, nan=MISSING_OTHER))).astype(np.int64)
    else:
        codes = arr.astype(np.int64, copy=True)

    uniques, counts = np.unique(codes, return_counts=True)
    bad = {int(u): int(c) for u, c in zip(uniques, counts) if not (int(u) in missing_codes or question.is_valid(int(u)))}
    if bad:
        codes[np.isin(codes, list(bad))] = MISSING_OTHER
    return _Column(codes=codes, out_of_range=Counter(bad), blank=blank, non_integer=non_integer, examples=examples)


def _id_strings(values: pd.Series) -> pd.Series:
    """Interview ids as clean strings: 20070001.0 -> '20070001'; blanks -> <NA>."""
    if pd.api.types.is_numeric_dtype(values.dtype):
        arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
        out = pd.Series(
            [None if np.isnan(v) else (str(int(v)) if float(v).is_integer() else repr(float(v))) for v in arr],
            index=values.index,
            dtype="string",
        )
        return out
    text = values.astype("string").str.strip()
    text = text.str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True)
    return text.mask(text == "")


def assign_ids(interview: pd.Series | None, n_rows: int) -> tuple[pd.Index, int]:
    """Respondent ids (see the module docstring) and how many rows fell back to row numbers."""
    rows = pd.Series(np.arange(1, n_rows + 1).astype(str), dtype="string")
    if interview is None:
        return pd.Index(rows.to_numpy(dtype=object), name="id"), n_rows
    ids = _id_strings(interview.reset_index(drop=True))
    bad = ids.isna() | ids.duplicated(keep=False)
    ids = ids.where(~bad, rows)
    # a row number could equal a real interview id; keep ids unique by tagging such rows
    clash = bad & ids.duplicated(keep=False)
    if clash.any():
        ids = ids.where(~clash, "row" + rows)
    return pd.Index(ids.to_numpy(dtype=object), name="id"), int(bad.sum())


def _countries_of(frame: pd.DataFrame, source: str) -> tuple[pd.Series, list[str]]:
    notes: list[str] = []
    n = len(frame)
    alpha = pd.Series([None] * n, index=frame.index, dtype="string")
    if ALPHA_COL in frame.columns:
        alpha = frame[ALPHA_COL].astype("string").str.strip().str.upper()
        alpha = alpha.mask(~alpha.str.fullmatch(r"[A-Z]{3}", na=False))
    if NUMERIC_COL in frame.columns and alpha.isna().any():
        numeric = pd.to_numeric(frame[NUMERIC_COL], errors="coerce")
        from_numeric = numeric.map(lambda v: country_table.alpha3_from_numeric(int(v)) if pd.notna(v) else None)
        alpha = alpha.fillna(from_numeric.astype("string"))
    unknown = int(alpha.isna().sum())
    if unknown:
        notes.append(f"{source}: {unknown} row(s) without a usable country code; country set to {UNKNOWN_COUNTRY}")
    return alpha.fillna(UNKNOWN_COUNTRY), notes


def _not_wvs(raw: _Raw, questions: list[str]) -> DataError:
    found = [c for c in raw.columns if not _is_index_name(c)]
    shown = ", ".join(found[:12]) + (f", ... ({len(found)} columns)" if len(found) > 12 else "")
    has_q = any(c in questions for c in raw.frame.columns)
    missing = "B_COUNTRY_ALPHA or B_COUNTRY" if has_q else "Q1..Q290 and B_COUNTRY_ALPHA"
    return DataError(
        f"{raw.source} is not a WVS-7 file: expected columns such as {missing}; found: {shown or 'no columns'}.",
        "ValueSim needs the WVS wave 7 data file with its original variable names (Q1 ... Q290, "
        "B_COUNTRY_ALPHA). " + _FORMATS_HINT,
    )


def _version_of(raw: _Raw) -> tuple[str | None, str]:
    """(version, how it was found) for one file."""
    if VERSION_COL in raw.frame.columns:
        values = raw.frame[VERSION_COL].dropna().astype(str).str.strip()
        values = values[values != ""].unique()
        if len(values):
            return ", ".join(sorted(values)), "column"
    m = re.search(r"v(\d+)[._-](\d+)(?:[._-](\d+))?", Path(raw.source).name, flags=re.IGNORECASE)
    if m:
        return f"{m.group(1)}-{m.group(2)}-{m.group(3) or 0}", "file name"
    return None, ""


def resolve_countries(requested: str | int | Iterable[str | int]) -> list[str]:
    """Alpha-3 codes for countries given as alpha-3, ISO numeric or English name."""
    items: list[str | int]
    if isinstance(requested, (str, int)):
        items = [requested]
    else:
        items = list(requested)
    out: list[str] = []
    for item in items:
        for token in str(item).split(",") if isinstance(item, str) else [item]:
            token_s = str(token).strip()
            if token_s:
                out.append(country_table.resolve(token_s))
    return list(dict.fromkeys(out))


@dataclass
class _Part:
    meta: pd.DataFrame  # columns: country, interview (may be absent)
    codes: pd.DataFrame  # question columns, int64
    version: str | None
    version_from: str


def _normalise(raw: _Raw, codebook: Codebook, report: ValidationReport, blanks: Counter[str]) -> _Part:
    questions = codebook.ids()
    qcols = [c for c in raw.frame.columns if c in codebook.questions]
    if not qcols or not (ALPHA_COL in raw.frame.columns or NUMERIC_COL in raw.frame.columns):
        raise _not_wvs(raw, questions)
    used = {_canonical(c) for c in raw.columns} & (set(qcols) | set(META_COLUMNS))
    ignored = [c for i, c in enumerate(raw.columns) if _canonical(c) not in used and not (i == 0 and raw.index_column)]
    report.ignored_columns.extend(c for c in ignored if c not in report.ignored_columns)
    if raw.index_column:
        report.notes.append(f"{raw.source}: leading index column {raw.columns[0]!r} dropped")
    report.notes.extend(raw.notes)

    country, notes = _countries_of(raw.frame, raw.source)
    report.notes.extend(notes)
    meta = pd.DataFrame({"country": country.to_numpy(dtype=object)})
    if ID_COL in raw.frame.columns:
        meta["interview"] = raw.frame[ID_COL].to_numpy()

    columns: dict[str, np.ndarray] = {}
    for qid in sorted(qcols, key=lambda q: int(q[1:])):
        col = clean_codes(raw.frame[qid], codebook.questions[qid], codebook.missing_codes)
        columns[qid] = col.codes
        if col.out_of_range:
            target = report.out_of_range.setdefault(qid, {})
            for code, count in col.out_of_range.items():
                target[code] = target.get(code, 0) + count
        if col.blank:
            blanks[qid] += col.blank
        if col.non_integer:
            report.notes.append(
                f"{raw.source}: {qid} has {col.non_integer} cell(s) that are not integer codes "
                f"(e.g. {', '.join(col.examples)}); stored as missing (-5)"
            )
    version, version_from = _version_of(raw)
    return _Part(meta=meta, codes=pd.DataFrame(columns), version=version, version_from=version_from)


def _int_dtype(frame: pd.DataFrame) -> dict[str, Any]:
    info = np.iinfo(np.int16)
    out: dict[str, Any] = {}
    for c in frame.columns:
        col = frame[c]
        out[c] = np.int16 if (col.min() >= info.min and col.max() <= info.max) else np.int32
    return out


def survey_from_frames(
    raws: list[_Raw] | pd.DataFrame,
    *,
    codebook: Codebook | None = None,
    countries: str | int | Iterable[str | int] | None = None,
    source: str = "",
    synthetic: bool | None = None,
) -> SurveyData:
    """Build a validated SurveyData from WVS-shaped frames (file columns, any case).

    Used by :func:`load_survey` and by the synthetic generator, so data made in memory goes
    through exactly the same checks as data read from disk.
    """
    cb = codebook or load_codebook()
    if isinstance(raws, pd.DataFrame):
        frame = raws.copy()
        frame.columns = [_canonical(c) for c in frame.columns]
        raws = [_Raw(frame=frame, source=source or "<data frame>", columns=[str(c) for c in raws.columns])]
    report = ValidationReport()
    blanks: Counter[str] = Counter()
    parts = [_normalise(raw, cb, report, blanks) for raw in raws]

    meta = pd.concat([p.meta for p in parts], ignore_index=True)
    ids, fallback = assign_ids(meta["interview"] if "interview" in meta.columns else None, len(meta))
    if fallback and "interview" in meta.columns:
        report.notes.append(
            f"{fallback} row(s) have a blank or duplicated D_INTERVIEW; their id is their 1-based row number"
        )
    elif fallback:
        report.notes.append("no D_INTERVIEW column: respondent ids are 1-based row numbers")

    codes = pd.concat([p.codes for p in parts], ignore_index=True, sort=False)
    if len(parts) > 1:
        absent = {q: int(codes[q].isna().sum()) for q in codes.columns if codes[q].isna().any()}
        if absent:
            report.notes.append(
                f"{len(absent)} question(s) are absent from some of the files; those rows are coded -4 "
                f"(not asked): {', '.join(sorted(absent, key=lambda q: int(q[1:]))[:10])}"
                + (" ..." if len(absent) > 10 else "")
            )
            codes = codes.fillna(NOT_ASKED)
    ordered = [q for q in cb.ids() if q in codes.columns]
    codes = codes[ordered]
    codes = codes.astype(_int_dtype(codes)) if len(codes) else codes.astype(np.int16)
    for qid, n in sorted(blanks.items(), key=lambda kv: int(kv[0][1:])):
        report.notes.append(f"{qid}: {n} blank cell(s) stored as missing (-5)")

    frame = pd.concat([pd.DataFrame({"country": meta["country"].astype(str)}), codes], axis=1)
    frame.index = ids
    report.n_rows = len(frame)
    report.missing_questions = [q for q in cb.ids() if q not in codes.columns]

    if countries is not None:
        wanted = resolve_countries(countries)
        present = set(frame["country"].unique())
        absent_c = [c for c in wanted if c not in present]
        if absent_c:
            raise DataError(
                f"No respondents from {', '.join(absent_c)} in {source or 'the data'}.",
                f"Countries in the file: {', '.join(sorted(present))}.",
            )
        keep = frame["country"].isin(wanted).to_numpy()
        report.dropped_rows = int((~keep).sum())
        report.notes.append(f"country filter {','.join(wanted)}: kept {int(keep.sum())} of {len(frame)} rows")
        frame = frame.loc[keep]

    versions = [p.version for p in parts if p.version]
    unique_versions = list(dict.fromkeys(versions))
    version = ", ".join(unique_versions) if unique_versions else "unknown"
    if any(p.version_from == "file name" for p in parts):
        report.notes.append("version taken from the file name (no version column)")
    is_synthetic = any(v.strip().lower().startswith("synthetic") for v in unique_versions)
    if synthetic is not None:
        is_synthetic = synthetic
    if is_synthetic:
        version = "synthetic"
    return SurveyData(
        frame=frame,
        codebook=cb,
        source=source,
        version=version,
        synthetic=is_synthetic,
        report=report,
    )


def load_survey(
    path: str | Path,
    countries: str | int | Iterable[str | int] | None = None,
    codebook: Codebook | None = None,
) -> SurveyData:
    """Load a WVS-7 file, a directory of per-country files, or an archive of them.

    ``countries`` keeps only the given countries (alpha-3 such as ``"DEU"``, ISO numeric such
    as ``276``, or an English name; a list, or a comma-separated string). Raises
    :class:`~valuesim.errors.DataError` for missing, unreadable or non-WVS input.
    """
    cb = codebook or load_codebook()
    wanted = set(cb.questions) | set(META_COLUMNS)
    files = data_files(path)
    raws: list[_Raw] = []
    for f in files:
        try:
            raws.extend(_read_file(f, wanted))
        except MemoryError:
            raise DataError(
                f"Ran out of memory reading {f}.", "Close other programs or load fewer countries at a time."
            ) from None
    return survey_from_frames(raws, codebook=cb, countries=countries, source=str(Path(path).expanduser()))

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
``D_INTERVIEW`` is blank or shared with another row of the same country (v5.0 gives all
1,000 Uruguayan rows the same value) get a country-qualified row number instead,
``<alpha-3>-<n>`` with n the 1-based position among that country's rows (``URY-17``); a file
without ``D_INTERVIEW`` uses these throughout. A country's rows keep their order whether its
file is loaded alone, in a folder or inside the cross-national file, so the id of a person
does not depend on how files are combined, nor on a country filter (ids are assigned first).

Validation: each question column holds raw integer codes. A code that is neither a valid
answer (``Question.is_valid``) nor a survey-wide missing code is counted in
``report.out_of_range[qid][code]`` and stored as -5 (missing) -- except on items whose codes are
a country-specific list (``Question.open_codes``: Q272, language at home), where a non-negative
code without a label is a real answer the codebook cannot name: counted in
``report.unlabelled_codes`` instead, and also stored as -5; blank cells and values that
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
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from valuesim.errors import DataError
from valuesim.survey import countries as country_table
from valuesim.survey.codebook import Codebook, Question, load_codebook, missing_code_for
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
UNKNOWN_COUNTRY = "unknown"

_CSV_EXTS = (".csv", ".tsv", ".txt", ".dat")
_COMPRESSED = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd"}
_SPSS_EXTS = (".sav", ".zsav", ".por")
_STATA_EXTS = (".dta",)
_PARQUET_EXTS = (".parquet", ".pq")
_R_EXTS = (".rds", ".rdata", ".rda")
_ARCHIVE_EXTS = (".zip",)
_MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz", b"\x28\xb5\x2f\xfd": "zstd"}
_INDEX_NAMES = {"", "UNNAMED: 0", "INDEX", "ROWID", "...1"}

_GET_DATA = (
    "The data are free from https://www.worldvaluessurvey.org (Data & Documentation > WVS Wave 7, "
    "after registering); `valuesim data synth demo.csv` writes a synthetic example file."
)
_FORMATS_HINT = (
    "Give the WVS-7 cross-national file, per-country files or a directory of them, as CSV (.csv or "
    ".csv.gz), SPSS (.sav), Stata (.dta), parquet, R (.rds) or a .zip of one of these. " + _GET_DATA
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
    first = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].rstrip(b"\r").decode(_encoding(head))
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    delimiter = max(counts, key=lambda d: counts[d])
    if counts[delimiter] == 0:
        delimiter = ","
    names = next(csv.reader([first], delimiter=delimiter))
    return names, delimiter


def _encoding(head: bytes) -> str:
    """utf-8 unless the first complete lines are not valid UTF-8 (then latin-1, which never fails)."""
    complete = head[: head.rfind(b"\n") + 1] or head
    try:
        complete.decode("utf-8")
    except UnicodeDecodeError:
        return "latin-1"
    return "utf-8"


def _read_delimited(path: Path, wanted: set[str], *, source: str, stream: IO[bytes] | None = None) -> _Raw:
    compression = None if stream is not None else _compression_of(path)
    try:
        if stream is not None:
            head = stream.read(1 << 20)
            stream.seek(0)
        else:
            head = _open_text_head(path, compression)
    except (OSError, EOFError, lzma.LZMAError, zlib.error) as e:
        raise DataError(
            f"Could not read {source}: {e}.",
            "The file looks truncated or corrupt; download it again. " + _FORMATS_HINT,
        ) from None
    names, delimiter = _header(head, source)
    unique = [f"__col{i}__" if not n.strip() else n for i, n in enumerate(names)]
    seen = Counter(unique)
    unique = [n if seen[n] == 1 else f"{n}__{i}" for i, n in enumerate(unique)]
    chosen, duplicates = _select(unique, wanted)
    index_column = bool(names) and _is_index_name(names[0])
    text_cols = {chosen[c] for c in (VERSION_COL, ALPHA_COL, ID_COL) if c in chosen}
    read_opts = pacsv.ReadOptions(column_names=unique, skip_rows=1, block_size=8 << 20, encoding=_encoding(head))
    convert_opts = pacsv.ConvertOptions(
        include_columns=list(chosen.values()) or unique[:1],
        column_types={c: pa.string() for c in text_cols},
        strings_can_be_null=True,
    )

    def parse(newlines_in_values: bool) -> pa.Table:
        if stream is not None:
            stream.seek(0)
            src: Any = pa.PythonFile(stream, mode="r")
        else:
            src = pa.input_stream(str(path), compression=compression)
        parse_opts = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=newlines_in_values)
        return pacsv.read_csv(src, read_options=read_opts, parse_options=parse_opts, convert_options=convert_opts)

    try:
        try:
            table = parse(newlines_in_values=False)  # fast, multi-threaded
        except pa.ArrowInvalid:
            table = parse(newlines_in_values=True)  # quoted text cells with line breaks
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
    # user_missing=True keeps SPSS user-missing codes (-1 .. -5) instead of turning them into NaN
    readers: dict[str, Callable[..., tuple[Any, Any]]] = {
        ".dta": pyreadstat.read_dta,
        ".por": pyreadstat.read_por,
        ".sav": partial(pyreadstat.read_sav, user_missing=True),
        ".zsav": partial(pyreadstat.read_sav, user_missing=True),
    }
    reader = readers[suffix]
    try:
        _, meta = reader(str(path), metadataonly=True)
        chosen, duplicates = _select(list(meta.column_names), wanted)
        frame = (
            reader(str(path), usecols=list(chosen.values()), apply_value_formats=False)[0] if chosen else pd.DataFrame()
        )
    except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError, OSError, ValueError) as e:
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
    except (pyreadr.PyreadrError, pyreadr.LibrdataError, OSError, ValueError) as e:
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
                        raws.append(_read_delimited(path, wanted, source=label, stream=fh))
                else:
                    with tempfile.TemporaryDirectory(prefix="valuesim-zip-") as tmp:
                        extracted = Path(archive.extract(member, tmp))
                        raws.extend(_read_file(extracted, wanted, source=label))
            except (zipfile.BadZipFile, OSError, EOFError) as e:
                raise DataError(
                    f"Could not read {label}: {e}", "The archive may be corrupt; download it again."
                ) from None
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
            "Check the path. " + _GET_DATA,
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


#: The largest magnitude a cell can have and still be a code (floats are exact integers up to 2**53).
MAX_EXACT_CODE = 2.0**53


@dataclass
class CleanColumn:
    """One question's cells after validation."""

    codes: np.ndarray  # int64 codes; invalid cells set to -5
    out_of_range: dict[int, int]  # invalid integer code -> count
    blank: int = 0
    non_integer: int = 0


def clean_codes(values: np.ndarray, question: Question, missing_codes: Iterable[int]) -> CleanColumn:
    """Numeric cells (float, NaN = blank) -> int64 codes; anything invalid is counted and set to -5.

    A code is kept when ``question.is_valid(code)`` or it is one of *missing_codes*.
    """
    arr = np.asarray(values, dtype=np.float64)
    nan = np.isnan(arr)
    # beyond 2**53 a float is no longer an exact integer and int64 overflows: never a code (1e30, inf)
    huge = ~nan & ~(np.abs(arr) <= MAX_EXACT_CODE)
    infinite = huge & ~np.isfinite(arr)
    frac = ~nan & ~huge & (arr != np.round(arr))
    ok = ~(nan | frac | huge)
    codes = np.full(arr.shape, MISSING_OTHER, dtype=np.int64)
    codes[ok] = np.round(arr[ok]).astype(np.int64)
    allowed = set(missing_codes)
    uniques, counts = np.unique(codes[ok], return_counts=True)
    bad = {int(u): int(c) for u, c in zip(uniques, counts) if not (int(u) in allowed or question.is_valid(int(u)))}
    if bad:
        codes[np.isin(codes, list(bad))] = MISSING_OTHER
    for v in arr[huge & ~infinite]:  # out of range, reported as written (a Python int has no overflow)
        bad[int(v)] = bad.get(int(v), 0) + 1
    return CleanColumn(
        codes=codes, out_of_range=bad, blank=int(nan.sum()), non_integer=int(frac.sum() + infinite.sum())
    )


def _text_to_numbers(
    values: pd.Series, question: Question, missing_codes: dict[int, str]
) -> tuple[np.ndarray, int, list[str]]:
    """Text cells -> floats: numbers as written, else the code whose label matches (any case).

    Returns the values (NaN for blanks), how many cells matched nothing (set to -5.5 so they
    count as "not an integer code") and a few examples of them.
    """
    text = values.astype("string").str.strip()
    numeric = pd.to_numeric(text, errors="coerce").astype("Float64")
    unmatched = numeric.isna() & text.notna() & (text != "")
    examples: list[str] = []
    n_bad = 0
    if unmatched.any():
        lookup = {label.strip().lower(): code for code, label in question.options.items()}
        for code, label in missing_codes.items():
            lookup.setdefault(label.strip().lower(), code)
        mapped = text[unmatched].str.lower().map(lookup).astype("Float64")
        numeric[unmatched] = mapped
        still = unmatched & numeric.isna()
        n_bad = int(still.sum())
        examples = [str(v) for v in text[still].unique()[:3]]
        numeric[still] = MISSING_OTHER - 0.5  # not an integer: reported, then stored as -5
    return numeric.to_numpy(dtype=np.float64, na_value=np.nan), n_bad, examples


def _id_strings(values: pd.Series) -> pd.Series:
    """Interview ids as clean strings: 20070001.0 -> '20070001'; blanks -> <NA>."""
    if pd.api.types.is_numeric_dtype(values.dtype):
        arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
        return pd.Series(
            [None if np.isnan(v) else (str(int(v)) if float(v).is_integer() else repr(float(v))) for v in arr],
            index=values.index,
            dtype="string",
        )
    text = values.astype("string").str.strip()
    text = text.str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True)
    return text.mask(text == "")


def assign_ids(interview: pd.Series | None, country: pd.Series) -> tuple[pd.Index, dict[str, int]]:
    """Respondent ids (see the module docstring) and, per country, how many rows fell back.

    A row whose ``D_INTERVIEW`` is blank or shared with another row of its country gets
    ``<country>-<n>``, n its 1-based position among that country's rows: the same id whether
    the country's file is loaded alone, in a folder or as part of the cross-national file.
    """
    where = country.reset_index(drop=True).astype("string").fillna(UNKNOWN_COUNTRY)
    position = where.groupby(where, sort=False).cumcount() + 1
    # no country at all (a survey without a country column): plain row numbers, not "unknown-17"
    qualified = (where + "-").where(where != UNKNOWN_COUNTRY, "") + position.astype("string")
    if interview is None:
        bad = pd.Series(True, index=where.index)
        ids = qualified
    else:
        ids = _id_strings(interview.reset_index(drop=True))
        shared = pd.DataFrame({"c": where, "i": ids}).duplicated(keep=False)
        bad = ids.isna() | shared
        ids = ids.where(~bad, qualified)
        # the same interview id in two countries: qualify both with their country
        clash = ~bad & ids.duplicated(keep=False)
        ids = ids.where(~clash, where + "-" + ids)
    # anything still shared (an interview id that looks like "DEU-3"): tag it with its row
    still = ids.duplicated(keep=False) & bad
    if still.any():
        ids = ids.where(~still, qualified + "-row" + pd.Series(np.arange(1, len(ids) + 1), dtype="string"))
    counts = where[bad].value_counts()
    return pd.Index(ids.to_numpy(dtype=object), name="id"), {str(k): int(v) for k, v in counts.items()}


def _countries_of(frame: pd.DataFrame) -> tuple[np.ndarray, int]:
    """Alpha-3 per row (B_COUNTRY_ALPHA, else B_COUNTRY via the country table) and #unknown."""
    alpha = pd.Series(pd.NA, index=frame.index, dtype="string")
    if ALPHA_COL in frame.columns:
        alpha = frame[ALPHA_COL].astype("string").str.strip().str.upper()
        alpha = alpha.mask(~alpha.str.fullmatch(r"[A-Z]{3}", na=False))
    if NUMERIC_COL in frame.columns and alpha.isna().any():
        numeric = pd.to_numeric(frame[NUMERIC_COL], errors="coerce")
        lookup = {v: country_table.alpha3_from_numeric(int(v)) for v in numeric.dropna().unique()}
        alpha = alpha.fillna(numeric.map(lookup).astype("string"))
    unknown = int(alpha.isna().sum())
    return alpha.fillna(UNKNOWN_COUNTRY).to_numpy(dtype=object), unknown


def _not_wvs(raw: _Raw, has_questions: bool) -> DataError:
    found = [c for c in raw.columns if not _is_index_name(c)]
    shown = ", ".join(found[:12]) + (f", ... ({len(found)} columns)" if len(found) > 12 else "")
    expected = "B_COUNTRY_ALPHA or B_COUNTRY" if has_questions else "Q1..Q290 and B_COUNTRY_ALPHA"
    return DataError(
        f"{raw.source} is not a WVS-7 file: expected columns such as {expected}; found: {shown or 'no columns'}.",
        "ValueSim needs the WVS wave 7 data file with its original variable names (Q1 ... Q290, "
        "B_COUNTRY_ALPHA). " + _GET_DATA,
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
    """Alpha-3 codes for countries given as alpha-3, ISO numeric or English name.

    A string may hold several, comma-separated (``"DEU,FRA"``); a name that itself contains
    a comma (``"Korea, Republic of"``) is tried whole first.
    """
    items: list[str | int] = [requested] if isinstance(requested, (str, int)) else list(requested)
    out: list[str] = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        try:
            out.append(country_table.resolve(text))
        except DataError:
            if "," not in text:
                raise
            out.extend(country_table.resolve(t.strip()) for t in text.split(",") if t.strip())
    return list(dict.fromkeys(out))


@dataclass
class _Part:
    """One file, reduced to what is kept: meta columns and question values as floats."""

    source: str
    meta: pd.DataFrame  # country, and interview when the file has D_INTERVIEW
    values: pd.DataFrame  # question columns, float64, NaN = blank
    version: str | None
    version_from: str


def _generic_part(raw: _Raw, codebook: Codebook, report: ValidationReport) -> _Part:
    """One file of a survey described by a generic codebook (``id_column`` / ``country_column``)."""
    by_upper = {q.upper(): q for q in codebook.questions}
    absent = [q for q in codebook.ids() if q.upper() not in raw.frame.columns]
    if absent:
        raise DataError(
            f"{len(absent)} item(s) of the codebook {codebook.name!r} are not in {raw.source}: "
            + ", ".join(absent[:10])
            + (" ..." if len(absent) > 10 else ""),
            "Remove them from the codebook (or check that the codebook belongs to this file).",
        )
    meta_cols = {c.upper() for c in (codebook.id_column, codebook.country_column) if c}
    for i, name in enumerate(raw.columns):
        key = _canonical(name)
        keep = key in by_upper or key in meta_cols or (i == 0 and raw.index_column)
        if not keep and name not in report.ignored_columns:
            report.ignored_columns.append(name)
    report.notes.extend(raw.notes)
    if codebook.country_column:
        column = codebook.country_column.upper()
        if column not in raw.frame.columns:
            raise DataError(
                f"The country column {codebook.country_column!r} named in the codebook is not in {raw.source}.",
                "Fix `country_column` in the codebook, or set `country:` when everybody lives in one country.",
            )
        country = _country_values(raw.frame[column])
    else:
        country = np.full(len(raw.frame), codebook.country or UNKNOWN_COUNTRY, dtype=object)
    meta = pd.DataFrame({"country": country})
    if codebook.id_column:
        column = codebook.id_column.upper()
        if column not in raw.frame.columns:
            raise DataError(
                f"The id column {codebook.id_column!r} named in the codebook is not in {raw.source}.",
                "Fix `id_column` in the codebook, or remove it to number respondents by row.",
            )
        meta["interview"] = raw.frame[column].to_numpy()
    columns: dict[str, np.ndarray] = {}
    for key, qid in by_upper.items():
        question = codebook.questions[qid]
        col = raw.frame[key]
        if pd.api.types.is_numeric_dtype(col.dtype):
            arr = col.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            arr, n_bad, examples = _text_to_numbers(col, question, codebook.missing_codes)
            if n_bad:
                report.notes.append(
                    f"{raw.source}: {qid} has {n_bad} text cell(s) that are neither a code nor an answer label "
                    f"(e.g. {', '.join(repr(e) for e in examples)}); stored as missing (-5)"
                )
        arr = arr.copy()
        mapped = np.zeros(len(arr), dtype=bool)
        for code, label in question.missing.items():  # the file's own missing codes -> the survey-wide ones
            hit = arr == code
            arr[hit] = missing_code_for(label)
            mapped |= hit
        if question.code_offset and pd.api.types.is_numeric_dtype(col.dtype):
            shift = ~mapped & ~np.isnan(arr)  # valid negative codes: stored codes start at 0
            arr[shift] += question.code_offset
        columns[qid] = arr
    values = pd.DataFrame(columns, index=range(len(raw.frame)))
    return _Part(raw.source, meta, values, codebook.name, "codebook")


def _country_values(column: pd.Series) -> np.ndarray:
    """Alpha-3 codes where a value is a known code or name, else the value itself (upper case)."""
    text = _id_strings(column).fillna(UNKNOWN_COUNTRY)
    lookup: dict[str, str] = {}
    for value in text.unique():
        try:
            lookup[value] = country_table.resolve(value)
        except DataError:
            lookup[value] = str(value).strip().upper() or UNKNOWN_COUNTRY
    return text.map(lookup).to_numpy(dtype=object)


def _part(raw: _Raw, codebook: Codebook, report: ValidationReport) -> _Part:
    if not codebook.is_wvs:
        return _generic_part(raw, codebook, report)
    qcols = [c for c in raw.frame.columns if c in codebook.questions]
    has_country = ALPHA_COL in raw.frame.columns or NUMERIC_COL in raw.frame.columns
    if not qcols or not has_country:
        raise _not_wvs(raw, bool(qcols))
    used = set(qcols) | set(META_COLUMNS)
    for i, name in enumerate(raw.columns):
        if _canonical(name) not in used and not (i == 0 and raw.index_column) and name not in report.ignored_columns:
            report.ignored_columns.append(name)
    report.notes.extend(raw.notes)

    country, unknown = _countries_of(raw.frame)
    if unknown:
        report.notes.append(
            f"{raw.source}: {unknown} row(s) without a usable country code; country set to {UNKNOWN_COUNTRY}"
        )
    meta = pd.DataFrame({"country": country})
    if ID_COL in raw.frame.columns:
        meta["interview"] = raw.frame[ID_COL].to_numpy()

    dtypes = raw.frame.dtypes
    numeric = [
        c
        for c in qcols
        if pd.api.types.is_numeric_dtype(dtypes[c]) or (dtypes[c] == object and raw.frame[c].isna().all())  # noqa: E721
    ]
    values = pd.DataFrame(
        raw.frame[numeric].to_numpy(dtype=np.float64, na_value=np.nan) if numeric else np.empty((len(raw.frame), 0)),
        columns=numeric,
    )
    texts: dict[str, np.ndarray] = {}
    for qid in (c for c in qcols if c not in numeric):
        arr, n_bad, examples = _text_to_numbers(raw.frame[qid], codebook.questions[qid], codebook.missing_codes)
        texts[qid] = arr
        if n_bad:
            report.notes.append(
                f"{raw.source}: {qid} has {n_bad} text cell(s) that are neither a code nor an answer label "
                f"(e.g. {', '.join(repr(e) for e in examples)}); stored as missing (-5)"
            )
    if texts:
        values = pd.concat([values, pd.DataFrame(texts, index=values.index)], axis=1)
    version, version_from = _version_of(raw)
    return _Part(raw.source, meta, values, version, version_from)


def _smallest_int(codes: np.ndarray) -> np.ndarray:
    info = np.iinfo(np.int16)
    if codes.size == 0 or (codes.min() >= info.min and codes.max() <= info.max):
        return codes.astype(np.int16)
    return codes.astype(np.int32)


def _summarise_files(raws: list[_Raw], parts: list[_Part], report: ValidationReport) -> None:
    with_index = sum(r.index_column for r in raws)
    if with_index:
        report.notes.append(f"leading unnamed index column dropped ({with_index} of {len(raws)} file(s))")
    if len(parts) > 1:
        report.notes.append(f"{len(parts)} files concatenated in file-name order")
    if any(p.version_from == "file name" for p in parts):
        report.notes.append("version taken from the file name (no version column)")


def _fallback_notes(fallback: dict[str, int], meta: pd.DataFrame, parts: Sequence[_Part]) -> list[str]:
    """One note per country whose rows fell back to country-qualified row numbers, naming its file(s)."""
    if not fallback:
        return []
    total = meta["country"].astype("string").fillna(UNKNOWN_COUNTRY).value_counts()
    has_column = "interview" in meta.columns
    files_of: dict[str, list[str]] = {}
    for part in parts:
        for c in part.meta["country"].astype("string").fillna(UNKNOWN_COUNTRY).unique():
            files_of.setdefault(str(c), []).append(part.source)
    notes = []
    for country, n in fallback.items():
        files = files_of.get(country, [])
        if country == UNKNOWN_COUNTRY:
            notes.append(
                f"{n:,} row(s) without a usable respondent id and without a country are numbered by row "
                f"(1 ... {int(total[country])})"
            )
            continue
        why = "a blank or duplicated D_INTERVIEW" if has_column else "no D_INTERVIEW column"
        notes.append(
            f"{country} ({', '.join(Path(f).name for f in files)}): {n:,} of {int(total[country]):,} row(s) have {why}; "
            f"their ids are {country}-<row number within {country}> ({country}-1 ... {country}-{int(total[country])}), "
            "the same however the files are combined"
        )
    return notes


def _blank_note(blank: dict[str, int], n_rows: int) -> str:
    """One line for every question with blank cells (a GSS or ESS file has hundreds)."""
    empty = [q for q, n in blank.items() if n >= n_rows]
    some = {q: n for q, n in blank.items() if n < n_rows}
    parts = []
    if some:
        shown = ", ".join(f"{q} ({n})" for q, n in list(some.items())[:10])
        parts.append(f"{len(some)} question(s) have blank cells: {shown}{' ...' if len(some) > 10 else ''}")
    if empty:
        shown = ", ".join(empty[:10])
        parts.append(f"{len(empty)} question(s) are blank in every row: {shown}{' ...' if len(empty) > 10 else ''}")
    return "; ".join(parts) + "; blank cells are stored as missing (-5)"


def survey_from_frames(
    raws: list[_Raw] | pd.DataFrame,
    *,
    codebook: Codebook | None = None,
    countries: str | int | Iterable[str | int] | None = None,
    source: str = "",
    synthetic: bool | None = None,
) -> SurveyData:
    """Build a validated SurveyData from WVS-shaped frames (the file's columns, any case).

    Used by :func:`load_survey` and by the synthetic generator, so data made in memory goes
    through exactly the same checks as data read from disk. A plain DataFrame is treated as
    one file.
    """
    cb = codebook or load_codebook()
    if isinstance(raws, pd.DataFrame):
        frame = raws.copy()
        frame.columns = [_canonical(c) for c in frame.columns]
        raws = [_Raw(frame=frame, source=source or "<data frame>", columns=[str(c) for c in raws.columns])]
    report = ValidationReport()
    parts: list[_Part] = []
    for raw in raws:
        parts.append(_part(raw, cb, report))
        raw.frame = raw.frame.iloc[:0]  # the part holds what is needed: free the raw cells early
    _summarise_files(raws, parts, report)

    # ids are assigned over all rows, before any country filter, so they never depend on it
    meta = pd.concat([p.meta for p in parts], ignore_index=True)
    if meta.empty:
        raise DataError(
            f"{source or 'The data'} has no respondents: a header but no data rows.",
            "Pass a WVS-7 data file with one row per respondent (is this the complete download?).",
        )
    ids, fallback = assign_ids(meta["interview"] if "interview" in meta.columns else None, meta["country"])
    report.notes.extend(_fallback_notes(fallback, meta, parts))

    keep = np.ones(len(meta), dtype=bool)
    if countries is not None:
        wanted = resolve_countries(countries)
        present = set(meta["country"].unique())
        absent = [c for c in wanted if c not in present]
        if absent:
            raise DataError(
                f"No respondents from {', '.join(absent)} in {source or 'the data'}.",
                f"Countries in the file: {', '.join(sorted(present))}.",
            )
        keep = meta["country"].isin(wanted).to_numpy()
        report.rows_filtered_out = int((~keep).sum())
        report.notes.append(f"country filter {','.join(wanted)}: kept {int(keep.sum())} of {len(meta)} rows")

    present_q = {q for p in parts for q in p.values.columns}
    ordered = [q for q in cb.ids() if q in present_q]
    partial = [q for q in ordered if any(q not in p.values.columns for p in parts)]
    if partial:
        report.notes.append(
            f"{len(partial)} question(s) are absent from some of the files and coded -4 (not asked) there: "
            + ", ".join(partial[:10])
            + (" ..." if len(partial) > 10 else "")
        )
    offsets = np.cumsum([0] + [len(p.meta) for p in parts])
    kept_parts = [(p, keep[lo:hi]) for p, (lo, hi) in zip(parts, pairwise(offsets)) if keep[lo:hi].any()]
    columns: dict[str, np.ndarray] = {}
    blank: dict[str, int] = {}
    for qid in ordered:
        pieces = [
            (p.values[qid].to_numpy() if qid in p.values.columns else np.full(len(p.meta), float(NOT_ASKED)))[mask]
            for p, mask in kept_parts
        ]
        values = np.concatenate(pieces) if pieces else np.empty(0)
        col = clean_codes(values, cb.questions[qid], cb.missing_codes)
        if col.out_of_range and cb.questions[qid].open_codes:
            unlabelled = {c: n for c, n in col.out_of_range.items() if c >= 0}
            if unlabelled:
                report.unlabelled_codes[qid] = unlabelled
            if len(unlabelled) < len(col.out_of_range):
                report.out_of_range[qid] = {c: n for c, n in col.out_of_range.items() if c < 0}
        elif col.out_of_range:
            report.out_of_range[qid] = col.out_of_range
        if col.blank:
            blank[qid] = col.blank
        if col.non_integer:
            report.notes.append(f"{qid}: {col.non_integer} cell(s) that are not integer codes stored as missing (-5)")
        columns[qid] = _smallest_int(col.codes)

    if blank:
        report.notes.append(_blank_note(blank, int(keep.sum())))
    frame = pd.DataFrame({"country": meta["country"].to_numpy()[keep].astype(str), **columns})
    frame.index = ids[keep]
    report.n_rows = len(frame)
    report.missing_questions = [q for q in cb.ids() if q not in present_q]

    versions = list(dict.fromkeys(p.version for p in parts if p.version))
    is_synthetic = any(v.lower().startswith("synthetic") for v in versions) if synthetic is None else synthetic
    version = "synthetic" if is_synthetic else (", ".join(versions) or "unknown")
    return SurveyData(frame=frame, codebook=cb, source=source, version=version, synthetic=is_synthetic, report=report)


def load_survey(
    path: str | Path,
    countries: str | int | Iterable[str | int] | None = None,
    codebook: Codebook | None = None,
) -> SurveyData:
    """Load a WVS-7 file, a directory of per-country files, or a .zip of them.

    ``countries`` keeps only the given countries: alpha-3 (``"DEU"``), ISO numeric (``276``)
    or English name, as a list or a comma-separated string. Respondent ids are described in
    the module docstring. Raises :class:`~valuesim.errors.DataError` (message + hint) for a
    missing path, an unsupported, unreadable or corrupt file, or a file that is not WVS-7.
    """
    cb = codebook or load_codebook()
    if cb.is_wvs:
        wanted = set(cb.questions) | set(META_COLUMNS)
    else:
        wanted = {q.upper() for q in cb.questions} | {c.upper() for c in (cb.id_column, cb.country_column) if c}
    raws: list[_Raw] = []
    for f in data_files(path):
        raws.extend(_read_file(f, wanted))
    skipped: list[str] = []
    if len(raws) > 1 and cb.is_wvs:  # a folder or archive may hold a readme or codebook table beside the data
        skipped = [r.source for r in raws if not _looks_wvs(r, cb)]
        kept = [r for r in raws if _looks_wvs(r, cb)]
        raws = kept or raws[:1]  # nothing WVS-shaped at all: let the first file explain why
    data = survey_from_frames(raws, codebook=cb, countries=countries, source=str(Path(path).expanduser()))
    if skipped:
        data.report.notes.append(f"skipped {len(skipped)} file(s) that are not WVS-7 data: {', '.join(skipped)}")
    return data


def _looks_wvs(raw: _Raw, codebook: Codebook) -> bool:
    has_q = any(c in codebook.questions for c in raw.frame.columns)
    return has_q and (ALPHA_COL in raw.frame.columns or NUMERIC_COL in raw.frame.columns)

"""SurveyData: a loaded survey as one tidy frame plus its codebook and validation report."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from valuesim.errors import UnknownRespondentError
from valuesim.survey.codebook import Codebook
from valuesim.survey.respondent import Missing, Respondent


@dataclass
class ValidationReport:
    """What loading found: ignored columns, out-of-range codes per question, etc."""

    n_rows: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    missing_questions: list[str] = field(default_factory=list)  # codebook items absent from the file
    #: qid -> {invalid code -> count}; such cells are kept as Missing.MISSING, never dropped silently
    out_of_range: dict[str, dict[int, int]] = field(default_factory=dict)
    #: qid -> {code -> count} for items with a country-specific code list (``Question.open_codes``):
    #: real codes the codebook has no label for; stored as Missing.MISSING like out-of-range cells
    unlabelled_codes: dict[str, dict[int, int]] = field(default_factory=dict)
    rows_filtered_out: int = 0  # rows of other countries left out by a country filter (not lost data)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "n_rows": self.n_rows,
            "ignored_columns": len(self.ignored_columns),
            "missing_questions": self.missing_questions,
            "out_of_range": {q: {str(k): v for k, v in d.items()} for q, d in self.out_of_range.items()},
            "unlabelled_codes": {q: {str(k): v for k, v in d.items()} for q, d in self.unlabelled_codes.items()},
            "rows_filtered_out": self.rows_filtered_out,
            "notes": self.notes,
        }


@dataclass
class SurveyData:
    """A loaded survey.

    ``frame``: index = respondent id (str, unique); column ``country`` (ISO alpha-3);
    one int16 column per codebook question present in the file holding the raw code, where
    every negative value is a missing code (out-of-range codes were reported and set to -5).
    """

    frame: pd.DataFrame
    codebook: Codebook
    source: str = ""
    version: str = "unknown"
    synthetic: bool = False
    report: ValidationReport = field(default_factory=ValidationReport)

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def question_ids(self) -> list[str]:
        return [c for c in self.frame.columns if c in self.codebook]

    @property
    def ids(self) -> list[str]:
        return list(self.frame.index)

    def country_counts(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.frame["country"].value_counts().sort_index().items()}

    def missing_rate(self, qids: list[str] | None = None) -> float:
        cols = qids or self.question_ids
        if not cols or not len(self.frame):
            return 0.0
        vals = self.frame[cols].to_numpy()
        return float((vals < 0).mean())

    def matrix(self, qids: list[str]) -> np.ndarray:
        """float64 array (respondents x qids) of valid codes, NaN where missing or absent."""
        out = np.full((len(self.frame), len(qids)), np.nan)
        for j, q in enumerate(qids):
            if q in self.frame.columns:
                col = self.frame[q].to_numpy().astype(np.float64)
                col[col < 0] = np.nan
                out[:, j] = col
        return out

    def respondent(self, rid: str | int) -> Respondent:
        key = str(rid)
        if key not in self.frame.index:
            raise UnknownRespondentError(
                f"No respondent with id {key!r} in {self.source or 'the loaded data'}.",
                "Ids are the file's interview ids (D_INTERVIEW), or <country>-<row within the country> "
                f"(e.g. URY-17) where those are missing or shared. Examples here: {', '.join(self.ids[:3])}.",
            )
        return self._make(key, self.frame.loc[key], int(self.frame.index.get_loc(key)))

    def respondents(self, ids: Iterable[str] | None = None) -> Iterator[Respondent]:
        keys = list(self.frame.index) if ids is None else [str(i) for i in ids]
        for key in keys:
            yield self.respondent(key)

    def subset(self, ids: Iterable[str]) -> SurveyData:
        return SurveyData(
            frame=self.frame.loc[[str(i) for i in ids]],
            codebook=self.codebook,
            source=self.source,
            version=self.version,
            synthetic=self.synthetic,
            report=self.report,
        )

    def without(self, qids: Iterable[str]) -> SurveyData:
        """These data with the columns of *qids* removed (nobody's answer to them is left)."""
        drop = [q for q in qids if q in self.frame.columns]
        if not drop:
            return self
        return SurveyData(
            frame=self.frame.drop(columns=drop),
            codebook=self.codebook,
            source=self.source,
            version=self.version,
            synthetic=self.synthetic,
            report=self.report,
        )

    def fingerprint(self) -> str:
        """Stable hash of the loaded content (ids, countries, codes), for run manifests."""
        h = hashlib.sha256()
        h.update(pd.util.hash_pandas_object(self.frame, index=True).to_numpy().tobytes())
        return h.hexdigest()[:16]

    def identical_rows(self) -> list[list[str]]:
        """Groups of respondents whose rows are identical (country and every answer code).

        Two real people practically never give the same ~290 answers: such groups are one
        record duplicated in the file (often under different or duplicated interview ids).
        """
        keys = pd.Series(pd.util.hash_pandas_object(self.frame, index=False).to_numpy(), index=self.frame.index)
        dup = keys[keys.duplicated(keep=False)]
        groups: dict[int, list[str]] = {}
        for rid, k in dup.items():
            groups.setdefault(int(k), []).append(str(rid))
        return list(groups.values())

    def _make(self, key: str, row: pd.Series, pos: int) -> Respondent:
        answers: dict[str, int] = {}
        missing: dict[str, Missing] = {}
        for q in self.question_ids:
            code = int(row[q])
            if code < 0:
                missing[q] = Missing.from_code(code)
            else:
                answers[q] = code
        return Respondent(
            id=key,
            country=str(row["country"]),
            answers=answers,
            missing=missing,
            row=pos + 1,
            synthetic=self.synthetic,
        )

"""Shared fixtures for every stage's tests (no real WVS data: everything here is generated).

* ``codebook`` -- the packaged WVS-7 codebook (session-wide, read-only).
* ``synthetic_data`` -- 240 synthetic respondents, 30 in each of the 8 default countries
  (seed 7, missing codes included). Session-wide: do not mutate ``synthetic_data.frame``;
  take ``.subset(...)`` or ``.frame.copy()`` when a test needs to change something.
* ``wvs_csv`` -- a factory writing a WVS-shaped CSV into the test's ``tmp_path``:

      path = wvs_csv()                                   # 40 synthetic respondents, wvs.csv
      path = wvs_csv("x.csv.gz", n=10, sep=";", bom=True, index_column=True, countries=["DEU"])
      path = wvs_csv("mine.csv", data=some_survey_data)  # write given SurveyData instead

  The file has the real file's column names (``version``, ``B_COUNTRY``, ``B_COUNTRY_ALPHA``,
  ``D_INTERVIEW``, ``Q1`` ...); its ``version`` column says "synthetic", so
  ``load_survey(path).synthetic`` is True.
"""

from __future__ import annotations

import os
import tempfile

# Rich sizes tables to the terminal; CLI tests read the output, so give them a wide, fixed one
# (CI has no terminal and would otherwise truncate cells at 80 columns).
os.environ["COLUMNS"] = "200"
os.environ.setdefault("VALUESIM_NO_PROGRESS", "1")
# No test writes to the user's real cache (tests that need a cache set their own directory).
os.environ["VALUESIM_CACHE_DIR"] = tempfile.mkdtemp(prefix="valuesim-test-cache-")

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from valuesim.survey import Codebook, SurveyData, generate_synthetic, load_codebook
from valuesim.survey.synthetic import write_wvs_csv

WvsCsvFactory = Callable[..., Path]


@pytest.fixture(scope="session")
def codebook() -> Codebook:
    return load_codebook()


@pytest.fixture(scope="session")
def synthetic_data() -> SurveyData:
    return generate_synthetic(n=240, seed=7)


@pytest.fixture
def wvs_csv(tmp_path: Path) -> WvsCsvFactory:
    def make(
        name: str = "wvs.csv",
        *,
        n: int = 40,
        seed: int = 3,
        countries: Sequence[str] | None = None,
        sep: str = ",",
        bom: bool = False,
        index_column: bool = False,
        data: SurveyData | None = None,
    ) -> Path:
        survey = data if data is not None else generate_synthetic(n=n, seed=seed, countries=countries)
        return write_wvs_csv(survey, tmp_path / name, sep=sep, bom=bom, index_column=index_column)

    return make

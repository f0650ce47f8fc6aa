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

``VALUESIM_REQUIRE_EXTRAS=1`` (set by ``.ci/run``): a test that would be skipped because an
optional dependency is missing -- llama.cpp or the embedded model (extra ``[local]``), Ray
(``[dist]``), pyreadr (``[r]``), pyreadstat, Chromium -- fails instead, so a broken extra in
CI cannot pass as a quiet skip.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import cache_guard
import pytest
from model_specs import TEST_MODELS

# Rich sizes tables to the terminal; CLI tests read the output, so give them a wide, fixed one
# (CI has no terminal and would otherwise truncate cells at 80 columns).
os.environ["COLUMNS"] = "200"
os.environ.setdefault("VALUESIM_NO_PROGRESS", "1")
# No test writes to the user's real cache: every test gets its own cache directory (see
# ``_own_cache_dir``); this one covers what runs outside a test (collection, session fixtures).
os.environ["VALUESIM_CACHE_DIR"] = cache_guard.SESSION_CACHE_DIR
# ... and no test talks to the user's own model server or sends the user's key (tests that need
# them set them).
os.environ.pop("OPENAI_BASE_URL", None)
os.environ.pop("OPENAI_API_KEY", None)

from valuesim.survey import Codebook, SurveyData, generate_synthetic, load_codebook
from valuesim.survey.synthetic import write_wvs_csv

WvsCsvFactory = Callable[..., Path]

#: Words in a skip reason that mean "an optional dependency is missing" (see the module docstring).
EXTRA_SKIP = re.compile(
    r"llama|smollm|valuesim\[|\bray\b|chromium|pyreadstat|pyreadr|could not import|pip install|apt-get install",
    re.IGNORECASE,
)


def require_extras() -> bool:
    return os.environ.get("VALUESIM_REQUIRE_EXTRAS", "").strip().lower() in {"1", "true", "yes"}


def _skip_reason(longrepr: object) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (path, line, "Skipped: reason")
        return str(longrepr[2])
    return str(longrepr)


def is_missing_extra(reason: str) -> bool:
    return EXTRA_SKIP.search(reason) is not None


def _fail_missing_extra(report: pytest.TestReport | pytest.CollectReport) -> None:
    """Under VALUESIM_REQUIRE_EXTRAS=1, turn a missing-extra skip into a failure (xfail stays)."""
    if not (require_extras() and report.skipped) or hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report.longrepr)
    if is_missing_extra(reason):
        report.outcome = "failed"
        report.longrepr = (
            f"VALUESIM_REQUIRE_EXTRAS is set, so a missing optional dependency is an error, not a skip: {reason}\n"
            'Install it (pip install -e ".[test]"; apt-get install -y chromium) or unset VALUESIM_REQUIRE_EXTRAS.'
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    _fail_missing_extra(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, None]:
    outcome = yield  # a module-level importorskip skips the whole module at collection
    _fail_missing_extra(outcome.get_result())


@pytest.fixture(autouse=True)
def _test_model_specs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Specs of models a test registered (``model_specs.spec_of``) reach those models; every
    other spec builds its model as usual."""
    import valuesim.methods.llm_methods as llm_methods

    real = llm_methods.get_model

    def get_model(spec: str, **kw: Any) -> Any:
        return TEST_MODELS[spec] if spec in TEST_MODELS else real(spec, **kw)

    monkeypatch.setattr(llm_methods, "get_model", get_model)
    yield
    TEST_MODELS.clear()


@pytest.fixture(autouse=True)
def _own_cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test: a cache directory of its own, and a failure if the test wrote the user's cache."""
    if os.environ.get("VALUESIM_CACHE_DIR") == cache_guard.SESSION_CACHE_DIR:  # a fixture's own directory is kept
        monkeypatch.setenv("VALUESIM_CACHE_DIR", str(tmp_path_factory.mktemp("cache", numbered=True)))
    cache_guard.user_cache_writes.clear()
    yield
    if cache_guard.user_cache_writes:
        found = list(dict.fromkeys(cache_guard.user_cache_writes))
        cache_guard.user_cache_writes.clear()
        pytest.fail(
            f"This test wrote the user's cache {cache_guard.USER_CACHE_DIR} (tests must use a temporary VALUESIM_CACHE_DIR): "
            + "; ".join(found[:5]),
            pytrace=False,
        )


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

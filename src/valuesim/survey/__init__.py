"""Survey stage: codebook, loaders, respondents, synthetic data (exports imported lazily)."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Codebook": "valuesim.survey.codebook",
    "Question": "valuesim.survey.codebook",
    "QuestionKind": "valuesim.survey.codebook",
    "Section": "valuesim.survey.codebook",
    "load_codebook": "valuesim.survey.codebook",
    "SurveyData": "valuesim.survey.dataset",
    "ValidationReport": "valuesim.survey.dataset",
    "load_survey": "valuesim.survey.loaders",
    "Missing": "valuesim.survey.respondent",
    "Respondent": "valuesim.survey.respondent",
    "generate_synthetic": "valuesim.survey.synthetic",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'valuesim.survey' has no attribute {name!r}")

"""ValueSim: simulate how one specific person answers value questions.

Public API (stable), imported lazily so that ``import valuesim`` stays fast:

>>> from valuesim import load_survey, load_codebook, generate_synthetic, get_method, get_model
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "ValueSimError": "valuesim.errors",
    "Codebook": "valuesim.survey.codebook",
    "Question": "valuesim.survey.codebook",
    "load_codebook": "valuesim.survey.codebook",
    "Respondent": "valuesim.survey.respondent",
    "SurveyData": "valuesim.survey.dataset",
    "load_survey": "valuesim.survey.loaders",
    "generate_synthetic": "valuesim.survey.synthetic",
    "Task": "valuesim.methods.base",
    "Prediction": "valuesim.methods.base",
    "get_method": "valuesim.methods.base",
    "list_methods": "valuesim.methods.base",
    "get_model": "valuesim.llm",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'valuesim' has no attribute {name!r}")

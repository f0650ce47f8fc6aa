"""The method protocol: given what is known about a person, predict their answers.

A *task* is one (respondent, fold) unit of the benchmark: the respondent restricted to
their profile and history items, plus the target questions to predict. A method returns
one :class:`Prediction` per target. Methods register themselves by name so the runner,
the CLI and the Python API find them with :func:`get_method`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from valuesim.errors import ConfigError
from valuesim.survey.codebook import Codebook
from valuesim.survey.dataset import SurveyData
from valuesim.survey.respondent import Respondent


@dataclass(frozen=True)
class Task:
    """Predict ``targets`` for ``respondent``; the respondent holds profile + history only."""

    respondent: Respondent
    targets: tuple[str, ...]
    fold: int = 0
    condition: str = ""  # e.g. "h=58" in a history sweep; "" for plain k-fold

    @property
    def unit_id(self) -> str:
        return f"{self.respondent.id}|{self.fold}|{self.condition}"


@dataclass
class Prediction:
    respondent: str
    question: str
    fold: int
    prediction: int | None  # a valid code, or None when the method abstained / failed
    probabilities: dict[int, float] | None = None
    condition: str = ""
    meta: dict[str, Any] = field(default_factory=dict)  # rationale, module answers, usage ...

    def to_dict(self) -> dict[str, Any]:
        # a plain dict, not dataclasses.asdict: asdict deep-copies meta, which dominated
        # the runner's cost for fast methods (~0.1 ms per prediction)
        return {
            "respondent": self.respondent,
            "question": self.question,
            "fold": self.fold,
            "prediction": self.prediction,
            "probabilities": None
            if self.probabilities is None
            else {str(k): float(v) for k, v in self.probabilities.items()},
            "condition": self.condition,
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Prediction:
        probs = d.get("probabilities")
        return cls(
            respondent=str(d["respondent"]),
            question=d["question"],
            fold=int(d["fold"]),
            prediction=None if d.get("prediction") is None else int(d["prediction"]),
            probabilities=None if probs is None else {int(k): float(v) for k, v in probs.items()},
            condition=d.get("condition", ""),
            meta=d.get("meta", {}),
        )


class Method(abc.ABC):  # noqa: B024 (predict or apredict: either may be overridden)
    """Base class of every method. Subclasses set ``name`` and implement ``predict`` or
    ``apredict``; ``fit`` sees only respondents outside the evaluated sample."""

    name: ClassVar[str] = ""
    uses_llm: ClassVar[bool] = False

    def __init__(self, codebook: Codebook, **options: Any) -> None:
        self.codebook = codebook
        self.options = options

    def fit(self, train: SurveyData) -> None:  # noqa: B027 - optional hook
        """Learn from respondents outside the evaluated sample (default: nothing)."""

    def predict(self, task: Task) -> list[Prediction]:
        raise NotImplementedError

    async def apredict(self, task: Task) -> list[Prediction]:
        return self.predict(task)

    def config(self) -> dict[str, Any]:
        """Everything that changes the method's output, for run manifests."""
        return {"name": self.name, **{k: _jsonable(v) for k, v in self.options.items()}}


def _jsonable(v: Any) -> Any:
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return repr(v)


_REGISTRY: dict[str, tuple[type[Method], str]] = {}


def register(name: str, description: str) -> Callable[[type[Method]], type[Method]]:
    """Class decorator: make a method available under *name*."""

    def deco(cls: type[Method]) -> type[Method]:
        cls.name = name
        _REGISTRY[name] = (cls, description)
        return cls

    return deco


def _load_builtin() -> None:
    # Import modules that register methods. Missing optional modules are skipped.
    import importlib

    for mod in ("valuesim.methods.baselines", "valuesim.methods.llm_methods"):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name != mod:
                raise


def list_methods() -> dict[str, str]:
    """name -> one-line description of every registered method."""
    _load_builtin()
    return {k: v[1] for k, v in sorted(_REGISTRY.items())}


def get_method(name: str, codebook: Codebook, **options: Any) -> Method:
    _load_builtin()
    if name not in _REGISTRY:
        raise ConfigError(
            f"Unknown method {name!r}.",
            f"Available: {', '.join(sorted(_REGISTRY))} (see `valuesim bench --list-methods`).",
        )
    return _REGISTRY[name][0](codebook, **options)

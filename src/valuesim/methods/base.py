"""The method protocol: given what is known about a person, predict their answers.

A *task* is one (respondent, fold) unit of the benchmark: the respondent restricted to
their profile and history items, plus the target questions to predict. A method returns
one :class:`Prediction` per target. Methods register themselves by name so the runner,
the CLI and the Python API find them with :func:`get_method`; installed packages add
methods through the ``valuesim.methods`` entry-point group (see docs/extending.md).
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from valuesim._aio import run_sync
from valuesim._suggest import did_you_mean
from valuesim.errors import ConfigError, RequestFailedError, TargetsFailedError
from valuesim.methods.options import MethodOptions, OptionDoc, describe_options, parse_options
from valuesim.survey.codebook import Codebook
from valuesim.survey.dataset import SurveyData
from valuesim.survey.respondent import Respondent

MethodT = TypeVar("MethodT", bound="Method")


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


def hide_targets(
    person: Respondent,
    targets: Sequence[str],
    *,
    known: Iterable[str] | None = None,
    fold: int = 0,
    condition: str = "",
) -> Task:
    """The one way a task is made from a person's record, used by every entry point that
    predicts (``bench``, ``simulate``, ``ask``, the viewer's Ask, the hybrid's calibration).

    The person is restricted to ``known`` (default: every item of the record) minus every
    target: the target's answer and its missing-code status (a "don't know" also says
    something) are gone before a method, a story or a prompt can see them. Targets must be
    question ids (a list of Question objects would compare unequal to every id and hide nothing).
    """
    ids = tuple(targets)
    bad = [t for t in ids if not isinstance(t, str)]
    if bad:
        raise TypeError(f"targets must be question ids (str), got {type(bad[0]).__name__}")
    hidden = set(ids)
    items = [*person.answers, *person.missing] if known is None else list(known)
    shown = person.restricted([q for q in items if q not in hidden])
    if hidden & (shown.answers.keys() | shown.missing.keys()):  # cannot happen; the guarantee is checked anyway
        raise AssertionError(f"a target of respondent {person.id} is still in the task")
    return Task(shown, ids, fold=fold, condition=condition)


@dataclass
class TaskOutcome:
    """What a method made of one task: predictions of the answered targets (target order) and,
    for each failed target, the error of the request it needed (after all retries)."""

    predictions: list[Prediction]
    failed: dict[str, RequestFailedError] = field(default_factory=dict)


async def apredict_task(method: Method, task: Task) -> TaskOutcome:
    """Run *method* on *task*; a failed model request costs the targets that needed it, not the task.

    A :class:`~valuesim.errors.TargetsFailedError` keeps the answered targets; any other
    :class:`~valuesim.errors.RequestFailedError` (e.g. the shared backstory call) fails every
    target. Other errors propagate."""
    try:
        preds = list(await method.apredict(task))
    except TargetsFailedError as e:
        return TaskOutcome(list(e.predictions), dict(e.failed))
    except RequestFailedError as e:
        return TaskOutcome([], {q: e for q in task.targets})
    return TaskOutcome(preds)


def predict_hidden(method: Method, person: Respondent, targets: Sequence[str]) -> tuple[Task, TaskOutcome]:
    """Hide *targets* from *person* (:func:`hide_targets`) and predict them: ``ask`` and the viewer's Ask."""
    task = hide_targets(person, targets)
    return task, run_sync(lambda: apredict_task(method, task))


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
    """Base class of every method. Subclasses set ``Options`` (a :class:`MethodOptions`
    model: the method's settings) and implement ``predict`` or ``apredict``; ``fit`` sees
    only respondents outside the evaluated sample. Register one with :func:`register`."""

    name: ClassVar[str] = ""
    uses_llm: ClassVar[bool] = False
    #: True when the method learns from other people's answers to the target question, so it
    #: cannot answer a new question (see valuesim.survey.questionnaire); None (the default):
    #: LLM methods do not, the others do -- use :meth:`learns_from_target_answers`
    needs_target_answers: ClassVar[bool | None] = None
    #: True when ``fit`` learns from other people's answers to the *known* items (never the target's)
    #: and must run before a new question is answered: ``simulate`` and ``ask`` then fit the method
    #: on the loaded data (the asked questions hidden from it)
    learns_from_known_items: ClassVar[bool] = False
    #: what to do instead when the method is refused for new questions ("" : the general advice)
    new_questions_hint: ClassVar[str] = ""
    #: options under which a method that does not answer new questions by default does (e.g. the
    #: hybrid with ``prior=item-transfer``); empty: none
    new_questions_options: ClassVar[dict[str, Any]] = {}
    #: the method's settings (``-o key=value``); validated when the method is built
    Options: ClassVar[type[MethodOptions]] = MethodOptions
    #: True when ``fit`` learns from other respondents (trained predictors, the hybrid): a
    #: single-person entry point (``valuesim ask``) first fits it on everybody else
    learns_from_others: ClassVar[bool] = False
    #: options the method prefers when it answers one person at a time (``valuesim ask``);
    #: options the user gives win
    single_person_options: ClassVar[dict[str, Any]] = {}
    #: seconds spent fitting inside ``predict`` so far (a method that trains lazily adds to it);
    #: the runner reports that time as fitting, apart from prediction time
    fitting_seconds: float = 0.0

    @classmethod
    def learns_from_target_answers(cls, options: Mapping[str, Any] | None = None) -> bool:
        """Whether the method, built with *options*, needs other people's answers to a question to
        predict it (a method whose capabilities depend on its options, like ``hybrid`` with its
        prior, overrides this; the others read the class attributes)."""
        return (not cls.uses_llm) if cls.needs_target_answers is None else cls.needs_target_answers

    @classmethod
    def fits_on_known_items(cls, options: Mapping[str, Any] | None = None) -> bool:
        """Whether the method, built with *options*, must be fitted on the known items of the loaded
        data before it answers a new question (``learns_from_known_items``; see above)."""
        return cls.learns_from_known_items

    def __init__(self, codebook: Codebook, **options: Any) -> None:
        self.codebook = codebook
        self.opts = parse_options(self.Options, self.name or type(self).__name__, options)

    def fit(self, train: SurveyData) -> None:  # noqa: B027 - optional hook
        """Learn from respondents outside the evaluated sample (default: nothing)."""

    def fit_report(self) -> dict[str, Any] | None:
        """What ``fit`` learned that a reader of the run should see (recorded in the manifest)."""
        return None

    def predict(self, task: Task) -> list[Prediction]:
        raise NotImplementedError

    async def apredict(self, task: Task) -> list[Prediction]:
        return self.predict(task)

    def config(self) -> dict[str, Any]:
        """Everything that changes the method's output, for run manifests."""
        return {"name": self.name, **self.opts.model_dump(mode="json")}

    @property
    def default_concurrency(self) -> int:
        """Units the runner keeps in flight when ``--concurrency`` is not given (default 1)."""
        return 1

    @property
    def usage(self) -> Mapping[str, float] | None:
        """Running totals of the method's model use (keys as in metrics.json: ``llm_calls``,
        ``prompt_tokens``, ``completion_tokens``, ``cache_hits`` ...); None: it uses no model."""
        return None

    def explain(self, task: Task, predictions: Sequence[Prediction]) -> dict[str, dict[str, str]]:
        """Asked after a prediction, never part of it: question -> part (e.g. an LLM module) ->
        why that answer was given. Default: nothing to explain."""
        return {}


#: What `valuesim ask` answers a survey item with when no --method is given: the trained
#: predictor with the best top-1 in the measured results (docs/results/baselines.json and
#: supervised_cost.json; a test keeps the two in step).
DEFAULT_SURVEY_ITEM_METHOD = "supervised"
#: ... and what `ask --text/--questions` and `simulate` answer a new question with (nobody's
#: answers to it exist): the method with the best top-1 under --protocol new-questions in the
#: measured results (docs/results/new_questions*.json; a test keeps the two in step).
DEFAULT_NEW_QUESTION_METHOD = "item-transfer"
#: ... and either of them when a model is named (--model, --base-url, --api-key): the LLM method
DEFAULT_LLM_METHOD = "valuesim"


def default_method(*, new_question: bool, model_named: bool) -> str:
    """The method a command uses when no --method is given: the best one measured for the kind of
    question, or the LLM method when the user named a model."""
    if model_named:
        return DEFAULT_LLM_METHOD
    return DEFAULT_NEW_QUESTION_METHOD if new_question else DEFAULT_SURVEY_ITEM_METHOD


# --------------------------------------------------------------------------- registry

#: Entry-point group through which installed packages add methods (``name = "pkg.mod:Class"``).
ENTRY_POINT_GROUP = "valuesim.methods"
_BUILTIN_MODULES = (
    "valuesim.methods.baselines",
    "valuesim.methods.item_transfer",
    "valuesim.methods.llm_methods",
    "valuesim.methods.hybrid",
)


@dataclass(frozen=True)
class MethodInfo:
    """What the registry knows about a method, without building one."""

    name: str
    description: str
    cls: type[Method]
    #: "built-in", "entry point <value> (<distribution>)" or "module:Class"
    source: str = "built-in"

    @property
    def uses_llm(self) -> bool:
        return bool(self.cls.uses_llm)

    @property
    def answers_new_questions(self) -> bool:
        """It can answer a question nobody has answered (it does not learn from other people's
        answers to the target): ``simulate``, ``ask --text``, ``bench --protocol new-questions``."""
        return not self.cls.learns_from_target_answers()

    @property
    def new_questions_with(self) -> dict[str, Any] | None:
        """The options under which it answers new questions when it does not by default (None: it does
        by default, or under no declared options)."""
        opts = self.cls.new_questions_options
        if self.answers_new_questions or not opts or self.cls.learns_from_target_answers(opts):
            return None
        return dict(opts)

    @property
    def answers_alone(self) -> bool:
        """It answers from the person's own record: nothing to fit on other respondents first."""
        return not (self.cls.learns_from_others or self.cls.learns_from_known_items)

    @property
    def options(self) -> list[OptionDoc]:
        return describe_options(self.cls.Options)


_REGISTRY: dict[str, MethodInfo] = {}
_PLUGIN_ERRORS: dict[str, str] = {}  # entry-point name -> why it could not be loaded
_loaded = False


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().split("\n", 1)[0].strip()


def _add(cls: type[Method], name: str, description: str | None, source: str) -> MethodInfo:
    if not (isinstance(cls, type) and issubclass(cls, Method)):
        raise TypeError(f"{cls!r} is not a subclass of valuesim.methods.Method")
    if not cls.__dict__.get("name"):
        cls.name = name
    info = MethodInfo(name, description or _first_line(cls.__doc__) or name, cls, source)
    _REGISTRY[name] = info
    return info


def register(name: str, description: str | None = None) -> Callable[[type[MethodT]], type[MethodT]]:
    """Class decorator: make a :class:`Method` subclass available under *name*
    (``description``: one line for ``--list-methods``; default: the class docstring's first line)."""

    def deco(cls: type[MethodT]) -> type[MethodT]:
        _add(cls, name, description, "built-in" if cls.__module__.startswith("valuesim.") else cls.__module__)
        return cls

    return deco


def _load_builtin() -> None:
    """Import the built-in method modules and the installed plug-ins (once)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for mod in _BUILTIN_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:  # a module of an optional extra
            if e.name != mod:
                raise
    _load_entry_points()


def _load_entry_points() -> None:
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _REGISTRY and _REGISTRY[ep.name].source == "built-in":
            _PLUGIN_ERRORS[ep.name] = f"entry point {ep.value} would replace the built-in method {ep.name!r}"
            continue
        dist = getattr(getattr(ep, "dist", None), "name", None) or "?"
        try:
            obj = ep.load()
            _add(obj, ep.name, None, f"entry point {ep.value} ({dist})")
        except Exception as e:  # a broken plug-in must not break the other methods
            _PLUGIN_ERRORS[ep.name] = f"entry point {ep.value} ({dist}) failed to load: {type(e).__name__}: {e}"


def _from_import_path(spec: str) -> MethodInfo:
    """``package.module:Class`` -> the class (registered under *spec* unless it registered itself)."""
    module_name, _, attr = spec.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as e:
        raise ConfigError(
            f"Cannot import method {spec!r}: {e}.",
            "Write --method package.module:Class with the package importable (installed or on PYTHONPATH).",
        ) from None
    for info in _REGISTRY.values():
        if info.cls is obj:
            return info
    if not (isinstance(obj, type) and issubclass(obj, Method)):
        raise ConfigError(f"{spec!r} is not a method.", "It must name a subclass of valuesim.methods.Method.")
    return _add(obj, spec, None, spec)


def method_info(name: str) -> MethodInfo:
    """The registry entry of *name*: a registered name, an entry point, or ``package.module:Class``."""
    _load_builtin()
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name in _PLUGIN_ERRORS:
        raise ConfigError(
            f"Method {name!r} could not be loaded: {_PLUGIN_ERRORS[name]}.", "Fix or uninstall the plug-in."
        )
    if ":" in name:
        return _from_import_path(name)
    raise ConfigError(
        f"Unknown method {name!r}.",
        did_you_mean(name, _REGISTRY)
        + f"Available: {', '.join(sorted(_REGISTRY))} (see `valuesim bench --list-methods`), "
        "or package.module:Class for a method of your own.",
    )


def method_infos() -> list[MethodInfo]:
    """Every registered method (built-in and plug-ins), sorted by name."""
    _load_builtin()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def method_names(where: Callable[[MethodInfo], bool] = lambda _info: True, *, first: str | None = None) -> list[str]:
    """Names of the registered methods (built-in and plug-ins) with the capabilities *where*
    asks for, sorted by name (*first*, when among them, leads): what a command accepts is
    derived from the capabilities declared on the classes, never typed as a list."""
    names = [i.name for i in method_infos() if where(i)]
    return sorted(names, key=lambda n: (n != first, n))


def refuse_trained(
    method_name: str, method_cls: type[Method], *, protocol: bool = False, options: Mapping[str, Any] | None = None
) -> None:
    """A clear error for a method that needs other people's answers to the target question
    (``protocol``: the benchmark's ``new-questions`` protocol asked for it; ``options``: the
    method's options, which decide it for a method such as ``hybrid``); the hint is the class's
    own (``new_questions_hint``) or names the methods that can (from the registry)."""
    if not method_cls.learns_from_target_answers(options):
        return
    able = ", ".join(method_names(lambda i: i.answers_new_questions))
    hint = method_cls.new_questions_hint or f"Use a method that does not learn from the target's answers: {able}."
    if protocol:
        raise ConfigError(
            f"Method {method_name!r} cannot run under --protocol new-questions: it predicts from other "
            "people's answers to the target question, which this protocol hides from everyone.",
            hint,
        )
    raise ConfigError(
        f"Method {method_name!r} cannot answer new questions: it predicts from other people's answers "
        "to the same question, and nobody has answered a new one.",
        hint,
    )


def plugin_errors() -> dict[str, str]:
    """Entry points that failed to load: name -> reason."""
    _load_builtin()
    return dict(_PLUGIN_ERRORS)


def list_methods() -> dict[str, str]:
    """name -> one-line description of every registered method."""
    return {i.name: i.description for i in method_infos()}


def get_method(name: str, codebook: Codebook, **options: Any) -> Method:
    """Build method *name* (see :func:`method_info`) with *options* (validated by its ``Options``)."""
    return method_info(name).cls(codebook, **options)

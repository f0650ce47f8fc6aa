"""``hybrid``: a trained predictor and an LLM method, pooled -- what the LLM adds on top.

For every target, the prior (a trained method, default ``supervised``) and an LLM method
(default ``valuesim``) each give a distribution over the answer options. The hybrid answers

    p(option) ∝ prior(option)^a · llm(option)^b        (a calibrated logit-linear pool)

with weights ``(a, b)`` fitted per question kind (ordinal, nominal, scale; a kind with fewer
than 15 calibration answers shares the pooled weights) by minimising the log-loss on
*calibration respondents*: a seeded sample of the training people (never anyone
evaluated). Their answers to ``calibration_targets`` random items are hidden; the prior is
trained on the other training people, the LLM method answers from their remaining record,
and the weights that best predict the hidden answers win. ``b = 0`` (the prior alone) is
always reachable: ``shrinkage`` pseudo-observations pull the weights towards it, and fitted
weights are kept only when they beat the prior alone on held-out calibration people with a
margin (leave one respondent out; the lower bound of the 95% paired bootstrap interval over
calibration people of the held-out log-loss gain must be above 0, see :func:`check_weights`).

With a prior for new questions (``-o prior=item-transfer``, which never learns from anyone's answers
to the target) the hybrid answers new questions too (``--protocol new-questions``, ``ask --text``,
``simulate``), and is calibrated on *pseudo-new* items: ``pseudo_new_items`` known items are hidden
from everyone (the calibration prior and the LLM method are fitted without their columns, and the
calibration people's tasks lack all of them), the targets are drawn from them, so the prior's and the
LLM's calibration predictions are those of questions nobody answered.
An LLM weight of 0 means the prior exactly: its answers and probabilities as they are (not
re-tempered, not floored), and the LLM is not asked. For the evaluation the prior is trained
on all training people, as the plain prior method would be.

What calibration found (weights, sizes, log-loss of the prior alone and of the pool, LLM
calls) is in :meth:`Hybrid.fit_report` (the run manifest) and in every prediction's meta.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, field_validator

from valuesim._aio import run_sync
from valuesim.errors import ConfigError, TargetsFailedError
from valuesim.llm import simulation
from valuesim.methods.base import (
    Method,
    Prediction,
    Task,
    apredict_task,
    get_method,
    hide_targets,
    method_info,
    register,
)
from valuesim.methods.options import MethodOptions
from valuesim.methods.prompting import unposable_reason
from valuesim.survey.codebook import Codebook, Question
from valuesim.survey.dataset import SurveyData

#: probabilities are floored at this before taking logs (an LLM may give an option ~0)
FLOOR = 1e-4
#: weight bounds of the pool (the prior's weight stays positive: its ranking of the options is kept)
MIN_PRIOR_WEIGHT = 0.05
MAX_WEIGHT = 4.0
#: fewest calibration answers of a question kind for weights of its own
MIN_PER_KIND = 15
PRIORS = ("supervised", "knn", "country-majority")
LLMS = ("valuesim", "rag", "full-info", "demographics", "blank")


class HybridOptions(MethodOptions):
    prior: str = Field(
        "supervised",
        description=f"trained method giving the prior distribution ({', '.join(PRIORS)}, or any non-LLM method)",
    )
    llm: str = Field(
        "valuesim", description=f"LLM method giving the second distribution ({', '.join(LLMS)}, or any LLM method)"
    )
    model: str = Field("local", description="model spec of the LLM method (--model)")
    base_url: str | None = Field(None, description="OpenAI-compatible server URL(s) of the LLM method (--base-url)")
    api_key: str | None = Field(
        None, exclude=True, repr=False, description="API key of the LLM method's server (--api-key); never written"
    )
    cache: bool | str | None = Field(None, description="the LLM method's response cache (--no-cache: false)")
    calibration_respondents: int = Field(
        6,
        ge=1,
        description="training respondents the weights are fitted on (6 x 10 targets = 60 LLM predictions: "
        "20% of a 30-respondent x 10-target run)",
    )
    calibration_targets: int = Field(10, ge=1, description="hidden answers per calibration respondent")
    pseudo_new_items: int = Field(
        30,
        ge=1,
        description="with a prior for new questions (item-transfer): known items hidden from everyone while the "
        "weights are fitted, the calibration targets drawn from them (at most a fifth of the known items)",
    )
    shrinkage: float = Field(
        2.0, ge=0.0, description="pseudo-observations pulling the weights towards the prior alone (a=1, b=0)"
    )
    seed: int = Field(0, description="seed of the calibration sample")
    prior_options: dict[str, Any] = Field(
        default_factory=dict, description="options of the prior (also as -o prior.KEY=VALUE)"
    )
    llm_options: dict[str, Any] = Field(
        default_factory=dict, description="options of the LLM method (also as -o llm.KEY=VALUE, e.g. llm.story=raw)"
    )

    @field_validator("prior")
    @classmethod
    def _trained(cls, v: str) -> str:
        info = _known(v, "prior")
        if info.uses_llm or v == "hybrid":
            raise ValueError(f"{v!r} uses a language model: the prior must be a trained method such as supervised")
        return v

    @field_validator("llm")
    @classmethod
    def _language_model(cls, v: str) -> str:
        info = _known(v, "llm")
        if v == "hybrid":
            raise ValueError("the hybrid cannot pool itself; use an LLM method such as valuesim")
        if not info.uses_llm:
            raise ValueError(f"{v!r} does not use a language model (it can be the prior, not the llm)")
        return v


def _known(name: str, what: str) -> Any:
    try:
        return method_info(name)
    except ConfigError:
        choices = PRIORS if what == "prior" else LLMS
        raise ValueError(f"no method named {name!r} (use one of {', '.join(choices)})") from None


@dataclass
class _Sample:
    """One calibration prediction: both distributions over the options and the true option."""

    kind: str
    prior: np.ndarray
    llm: np.ndarray
    truth: int
    person: int = 0  # index of the calibration respondent


@dataclass
class Calibration:
    """What the weights were fitted on and what they achieved (log-loss in nats per prediction)."""

    weights: dict[str, tuple[float, float]]
    respondents: list[str]
    n: dict[str, int]
    logloss_prior: dict[str, float]
    logloss_hybrid: dict[str, float]
    llm_usage: dict[str, float] = field(default_factory=dict)
    #: per weight set: the fitted weights and the held-out check (see :class:`HeldOutCheck`);
    #: a kind absent here shares the weights of "all"
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the known items hidden from everyone during calibration (a prior for new questions); None:
    #: each calibration person's targets were hidden from that person only
    pseudo_new: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": "hidden answers" if self.pseudo_new is None else "pseudo-new items",
            "pseudo_new_items": self.pseudo_new,
            "weights": {k: {"prior": round(a, 4), "llm": round(b, 4)} for k, (a, b) in self.weights.items()},
            "respondents": len(self.respondents),
            "respondent_ids": self.respondents,
            "predictions": self.n,
            "logloss_prior": {k: round(v, 4) for k, v in self.logloss_prior.items()},
            "logloss_hybrid": {k: round(v, 4) for k, v in self.logloss_hybrid.items()},
            "llm_usage": self.llm_usage,
            "checks": self.checks,
        }


def pool(prior: np.ndarray, llm: np.ndarray, a: float, b: float) -> np.ndarray:
    """p ∝ prior^a · llm^b (both floored at FLOOR), normalised."""
    logits = a * np.log(np.maximum(prior, FLOOR)) + b * np.log(np.maximum(llm, FLOOR))
    logits -= logits.max()
    p = np.exp(logits)
    return p / p.sum()


def _stack(samples: Sequence[_Sample]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(log prior, log llm, valid-option mask, truth) padded to the most options of any sample."""
    k = max(len(s.prior) for s in samples)
    lp, ll = np.zeros((len(samples), k)), np.zeros((len(samples), k))
    mask = np.zeros((len(samples), k), dtype=bool)
    for i, s in enumerate(samples):
        n = len(s.prior)
        lp[i, :n], ll[i, :n] = np.log(np.maximum(s.prior, FLOOR)), np.log(np.maximum(s.llm, FLOOR))
        mask[i, :n] = True
    return lp, ll, mask, np.array([s.truth for s in samples])


def _logloss(stacked: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], a: float, b: float) -> float:
    lp, ll, mask, truth = stacked
    logits = np.where(mask, a * lp + b * ll, -np.inf)
    top = logits.max(axis=1, keepdims=True)
    lse = np.log(np.exp(logits - top).sum(axis=1)) + top[:, 0]
    return float(np.mean(lse - logits[np.arange(len(truth)), truth]))


def logloss(samples: Sequence[_Sample], a: float, b: float) -> float:
    """Mean negative log-likelihood (nats) of the true options under the pool with weights (a, b)."""
    return _logloss(_stack(samples), a, b) if samples else float("nan")


#: an LLM weight below this is no LLM at all (the pool is then exactly the prior)
NO_LLM_WEIGHT = 1e-3


def fit_weights(samples: Sequence[_Sample], shrinkage: float) -> tuple[float, float]:
    """(a, b) within the bounds minimising log-loss + shrinkage * ((a-1)^2 + b^2) / n."""
    if not samples:
        return 1.0, 0.0
    from scipy.optimize import minimize

    n = len(samples)
    stacked = _stack(samples)

    def objective(w: np.ndarray) -> float:
        return _logloss(stacked, w[0], w[1]) + shrinkage * ((w[0] - 1.0) ** 2 + w[1] ** 2) / n

    best = minimize(
        objective, np.array([1.0, 0.0]), method="L-BFGS-B", bounds=[(MIN_PRIOR_WEIGHT, MAX_WEIGHT), (0.0, MAX_WEIGHT)]
    )
    a, b = (float(x) for x in best.x)
    if objective(np.array([a, b])) > objective(np.array([1.0, 0.0])):  # never worse than the prior alone
        return 1.0, 0.0
    if b < NO_LLM_WEIGHT:
        # The LLM adds nothing: the hybrid is its prior, as it is. Re-tempering the prior alone
        # (a != 1) is not the LLM's contribution, and it does not carry over to the evaluation,
        # whose prior is trained on more people than the calibration prior.
        return 1.0, 0.0
    return a, b


def fit_tempering(samples: Sequence[_Sample], shrinkage: float) -> float:
    """The prior's own weight a (b = 0) minimising log-loss + shrinkage * (a-1)^2 / n: what
    re-tempering the prior alone achieves, the bar the LLM has to clear in the held-out check."""
    if not samples:
        return 1.0
    from scipy.optimize import minimize_scalar

    n = len(samples)
    stacked = _stack(samples)
    best = minimize_scalar(
        lambda a: _logloss(stacked, a, 0.0) + shrinkage * (a - 1.0) ** 2 / n,
        bounds=(MIN_PRIOR_WEIGHT, MAX_WEIGHT),
        method="bounded",
    )
    return float(best.x)


#: the held-out check: bootstrap replicates over calibration people, and the interval level
#: whose lower bound of the held-out log-loss gain must exceed 0 before the LLM gets weight
CHECK_BOOT = 2000
CHECK_LEVEL = 0.95


@dataclass(frozen=True)
class HeldOutCheck:
    """The held-out check of one weight fit: the LLM's gain on held-out calibration people.

    ``gain``: mean over calibration answers of log-loss(prior alone, re-tempered) - log-loss(pool),
    both fitted without that answer's person, nats per prediction (positive: the pool is better);
    ``lo``/``hi``: its percentile bootstrap interval over calibration people (paired: both
    losses of an answer stay together); ``passed``: ``lo > 0``.
    """

    fitted: tuple[float, float]
    gain: float | None = None
    lo: float | None = None
    hi: float | None = None
    people: int = 0
    passed: bool = False
    reason: str = ""

    @property
    def weights(self) -> tuple[float, float]:
        return self.fitted if self.passed else (1.0, 0.0)

    def to_dict(self) -> dict[str, Any]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 4)

        return {
            "fitted": {"prior": round(self.fitted[0], 4), "llm": round(self.fitted[1], 4)},
            "heldout_gain": r(self.gain),
            "heldout_gain_ci95": None if self.lo is None else [r(self.lo), r(self.hi)],
            "people": self.people,
            "passed": self.passed,
            "reason": self.reason,
        }


def check_weights(samples: Sequence[_Sample], shrinkage: float, *, seed: int = 0) -> HeldOutCheck:
    """:func:`fit_weights`, and whether it beats the prior alone on held-out calibration people.

    Leave one calibration respondent out: fit the pool on the others, and the prior alone
    re-tempered (b = 0, :func:`fit_tempering`) on the same others; score the left-out person's
    answers under both. The gain is what the LLM adds beyond re-tempering the prior (a badly
    calibrated prior would otherwise credit the LLM with its own recalibration). The fitted
    weights are kept only when the lower bound of the 95% paired bootstrap interval
    (resampling calibration people) of the held-out log-loss gain is above 0; otherwise the
    hybrid is exactly its prior.
    """
    from valuesim import stats

    fitted = fit_weights(samples, shrinkage)
    people = sorted({s.person for s in samples})
    if fitted[1] == 0.0:
        return HeldOutCheck(fitted, people=len(people), reason="the fit gives the LLM no weight")
    if len(people) < 2:
        return HeldOutCheck(fitted, people=len(people), reason="fewer than 2 calibration people: no held-out check")
    gain_sum = np.zeros(len(people))
    count = np.zeros(len(people))
    for i, r in enumerate(people):
        train = [s for s in samples if s.person != r]
        test = [s for s in samples if s.person == r]
        a, b = fit_weights(train, shrinkage)
        a0 = fit_tempering(train, shrinkage)
        gain_sum[i] = (logloss(test, a0, 0.0) - logloss(test, a, b)) * len(test)
        count[i] = len(test)
    gain = float(gain_sum.sum() / count.sum())
    weights = stats.resample_weights(len(people), CHECK_BOOT, seed)
    reps = stats.ratio_replicates(gain_sum[:, None], count[:, None], weights)[:, 0]
    lo, hi = (float(x) for x in stats.percentile_interval(reps, CHECK_LEVEL))
    passed = lo > 0
    reason = (
        "held-out gain above 0 with 95% confidence"
        if passed
        else "no held-out gain with 95% confidence (lower bound <= 0): the hybrid is its prior"
    )
    return HeldOutCheck(fitted, gain, lo, hi, len(people), passed, reason)


def fit_checked(samples: Sequence[_Sample], shrinkage: float, *, seed: int = 0) -> tuple[float, float]:
    """The weights :func:`check_weights` keeps: the fit when it passes the held-out check, else (1, 0)."""
    return check_weights(samples, shrinkage, seed=seed).weights


def _distribution(pred: Prediction, codes: Sequence[int]) -> np.ndarray | None:
    """A prediction as probabilities over ``codes`` (a one-hot when it carries none)."""
    if pred.prediction is None:
        return None
    probs = pred.probabilities or {pred.prediction: 1.0}
    v = np.array([float(probs.get(c, 0.0)) for c in codes])
    return v / v.sum() if v.sum() > 0 else None


def _split_dotted(options: Mapping[str, Any]) -> dict[str, Any]:
    """``prior.k=5`` / ``llm.story=raw`` -> ``prior_options`` / ``llm_options`` entries."""
    out: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {"prior_options": {}, "llm_options": {}}
    for key, value in options.items():
        head, dot, rest = key.partition(".")
        if dot and head in ("prior", "llm") and rest:
            nested[f"{head}_options"][rest] = value
        else:
            out[key] = value
    for key, extra in nested.items():
        if extra:
            out[key] = {**dict(out.get(key) or {}), **extra}
    return out


@register("hybrid", "A trained prior and an LLM method pooled (p ∝ prior^a·llm^b), weights fit on training people.")
class Hybrid(Method):
    """The logit-linear pool of a trained method and an LLM method (see the module docstring)."""

    uses_llm: ClassVar[bool] = True
    learns_from_others: ClassVar[bool] = True
    #: with its default prior (supervised) it learns from other people's answers to the target; with a
    #: prior that does not (item-transfer) it answers new questions: see :meth:`learns_from_target_answers`
    needs_target_answers: ClassVar[bool] = True
    new_questions_hint: ClassVar[str] = (
        "Give the hybrid a prior that answers new questions: -o prior=item-transfer (calibrated on pseudo-new items)."
    )
    new_questions_options: ClassVar[dict[str, Any]] = {"prior": "item-transfer"}
    Options: ClassVar[type[MethodOptions]] = HybridOptions
    opts: HybridOptions

    def __init__(self, codebook: Codebook, **options: Any) -> None:
        options = _split_dotted({k: v for k, v in options.items() if v is not None})
        super().__init__(codebook, **options)
        llm_opts = {**self.opts.llm_options, "model": self.opts.model}
        for key in ("base_url", "api_key", "cache"):
            if getattr(self.opts, key) is not None:
                llm_opts[key] = getattr(self.opts, key)
        self.prior = get_method(self.opts.prior, codebook, **self.opts.prior_options)
        self.llm = get_method(self.opts.llm, codebook, **llm_opts)
        self.calibration: Calibration | None = None
        self._prior_is_fitted = False

    # -- capabilities: those of the prior (an LLM method answers any question) ------------------
    @classmethod
    def _prior_class(cls, options: Mapping[str, Any] | None) -> tuple[type[Method], dict[str, Any]]:
        """The prior's class and options among *options* (raw or a ``config()``; dotted keys too)."""
        opts = _split_dotted({k: v for k, v in (options or {}).items() if v is not None})
        name = str(opts.get("prior") or HybridOptions.model_fields["prior"].default)
        return method_info(name).cls, dict(opts.get("prior_options") or {})

    @classmethod
    def learns_from_target_answers(cls, options: Mapping[str, Any] | None = None) -> bool:
        """As its prior: ``-o prior=item-transfer`` answers new questions, the default (supervised) does not."""
        prior, prior_options = cls._prior_class(options)
        return prior.learns_from_target_answers(prior_options)

    @classmethod
    def fits_on_known_items(cls, options: Mapping[str, Any] | None = None) -> bool:
        """For new questions it is fitted like its prior (item-transfer: on the known items)."""
        prior, prior_options = cls._prior_class(options)
        return prior.fits_on_known_items(prior_options)

    @property
    def pseudo_new(self) -> bool:
        """Whether calibration hides its items from everyone (a prior for new questions) instead of
        from the calibration people only (a prior trained on other people's answers to the target)."""
        return not type(self.prior).learns_from_target_answers(self.opts.prior_options)

    def share_prior(self, prior: Method) -> None:
        """Use *prior*, already fitted on this run's training data (e.g. the plain prior run of
        the same split), instead of fitting a copy: its trained models are reused. Only the
        caller can know that the training data is the same; benchmarks/bench_hybrid.py does."""
        if prior.config() != self.prior.config():
            raise ConfigError("The shared prior has other settings than the hybrid's prior.")
        self.prior, self._prior_is_fitted = prior, True

    # -- bookkeeping --------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        conf = super().config()
        conf["prior_options"] = {k: v for k, v in self.prior.config().items() if k != "name"}
        # the cache setting is not part of a run's identity (see bench/record.py), here either
        conf["llm_options"] = {k: v for k, v in self.llm.config().items() if k not in ("name", "cache")}
        return conf

    @property
    def usage(self) -> Mapping[str, float] | None:
        return self.llm.usage

    @property
    def default_concurrency(self) -> int:
        return self.llm.default_concurrency

    def fit_report(self) -> dict[str, Any] | None:
        return None if self.calibration is None else {"calibration": self.calibration.to_dict()}

    # -- calibration ------------------------------------------------------------------------
    def calibration_tasks(
        self, train: SurveyData, pseudo_new: Sequence[str] | None = None
    ) -> list[tuple[Task, dict[str, int]]]:
        """Seeded (task, hidden answers) for the calibration respondents, drawn from *train* only.

        With *pseudo_new* items (a prior for new questions), the targets are drawn from those items
        and every one of them is hidden from the task, as a new question's is; otherwise from any
        item the person answered."""
        rng = np.random.default_rng([self.opts.seed, 7])
        eligible = {q for q in self.codebook.substantive() if unposable_reason(self.codebook.get(q)) is None}
        hidden = set(pseudo_new or ())
        if pseudo_new is not None:
            eligible &= hidden
        ids = [str(i) for i in train.frame.index]
        order = rng.permutation(len(ids))
        out: list[tuple[Task, dict[str, int]]] = []
        for i in order:
            person = train.respondent(ids[i])
            answered = self.codebook.sort(q for q in person.answered() if q in eligible)  # any survey's ids
            known = [q for q in [*person.answers, *person.missing] if q not in hidden]
            need = self.opts.calibration_targets
            if len(answered) < (need if hidden else 2 * need) or len(known) < need:
                continue
            picked = rng.choice(len(answered), self.opts.calibration_targets, replace=False)
            targets = tuple(self.codebook.sort(answered[j] for j in picked))
            task = hide_targets(person, targets, known=known if hidden else None, fold=-1)  # like a k-fold unit
            out.append((task, {q: person.answers[q] for q in targets}))
            if len(out) == self.opts.calibration_respondents:
                break
        return out

    def pseudo_new_items(self, train: SurveyData) -> list[str]:
        """Known items to hide from everyone while calibrating a prior for new questions: a seeded
        sample of the substantive items the training people answered (each answered by at least
        half as many people as the most answered one, so calibration people are found), at most
        ``pseudo_new_items`` and at most a fifth of them (at least ``calibration_targets`` when
        half of them allow it: a small survey keeps most of its items known)."""
        eligible = [
            q
            for q in self.codebook.substantive()
            if q in train.frame.columns and unposable_reason(self.codebook.get(q)) is None
        ]
        if not eligible:
            return []
        counts = (train.frame[eligible] >= 0).sum()
        common = [q for q in eligible if counts[q] >= 0.5 * counts.max()]
        rng = np.random.default_rng([self.opts.seed, 2626])
        # at most a fifth of the known items (as a fold of new questions), but enough for the targets
        share = max(min(self.opts.calibration_targets, len(common) // 2), len(common) // 5)
        n = min(self.opts.pseudo_new_items, share)
        return self.codebook.sort(common[i] for i in rng.choice(len(common), n, replace=False)) if n else []

    def fit(self, train: SurveyData) -> None:
        getattr(self.llm, "model", None)  # a bad model spec is an error even when the LLM is never asked
        pseudo = self.pseudo_new_items(train) if self.pseudo_new else None
        tasks = self.calibration_tasks(train, pseudo)
        ids = [t.respondent.id for t, _ in tasks]
        rest = [str(i) for i in train.frame.index if str(i) not in set(ids)]
        calib_prior = get_method(self.opts.prior, self.codebook, **self.opts.prior_options)
        if pseudo is None:
            calib_prior.fit(train.subset(rest))
            self.llm.fit(train)
        else:  # the calibration items are new questions to both: nobody's answers to them are seen
            calib_prior.fit(train.subset(rest).without(pseudo))
            self.llm.fit(train.without(pseudo))
        before = _usage_of(self.llm)
        llm_preds = run_sync(lambda: self._llm_on(tasks))
        used = {k: round(v - before.get(k, 0.0), 3) for k, v in _usage_of(self.llm).items()}
        if pseudo is not None:
            self.llm.fit(train)  # the evaluation: as the plain LLM method would be fitted
        samples: list[_Sample] = []
        for person, ((task, truth), l_preds) in enumerate(zip(tasks, llm_preds, strict=True)):
            p_by_q = {p.question: p for p in calib_prior.predict(task)}
            l_by_q = {p.question: p for p in l_preds}
            for qid in task.targets:
                q = self.codebook.get(qid)
                codes = q.answer_codes
                prior_p = _distribution(p_by_q[qid], codes)
                llm_p = _distribution(l_by_q[qid], codes)
                if prior_p is None or llm_p is None or truth[qid] not in codes:
                    continue
                samples.append(_Sample(q.kind.value, prior_p, llm_p, codes.index(truth[qid]), person))
        kinds = sorted({s.kind for s in samples})
        checks = {"all": check_weights(samples, self.opts.shrinkage, seed=self.opts.seed)}
        for kind in kinds:  # a kind with few calibration answers keeps the pooled weights
            of_kind = [s for s in samples if s.kind == kind]
            if len(of_kind) >= MIN_PER_KIND:
                checks[kind] = check_weights(of_kind, self.opts.shrinkage, seed=self.opts.seed)
        weights = {k: checks[k].weights if k in checks else checks["all"].weights for k in ["all", *kinds]}
        groups = {"all": samples, **{k: [s for s in samples if s.kind == k] for k in kinds}}
        self.calibration = Calibration(
            weights=weights,
            checks={k: c.to_dict() for k, c in checks.items()},
            respondents=ids,
            n={k: len(v) for k, v in groups.items()},
            logloss_prior={k: logloss(v, 1.0, 0.0) for k, v in groups.items()},
            logloss_hybrid={k: logloss(v, *weights[k]) for k, v in groups.items()},
            llm_usage=used,
            pseudo_new=pseudo,
        )
        if not self._prior_is_fitted:
            self.prior.fit(train)  # the evaluation prior learns from every training person

    async def _llm_on(self, tasks: Sequence[tuple[Task, dict[str, int]]]) -> list[list[Prediction]]:
        limit = asyncio.Semaphore(max(1, self.default_concurrency))

        async def one(task: Task, truth: dict[str, int]) -> list[Prediction]:
            async with limit:
                with simulation.subject_truth(truth):  # the prompt describes this calibration person
                    return await self.llm.apredict(task)

        return list(await asyncio.gather(*(one(t, truth) for t, truth in tasks)))

    # -- prediction -------------------------------------------------------------------------
    def weights_for(self, q: Question) -> tuple[float, float]:
        if self.calibration is None:
            raise ConfigError(
                "Method 'hybrid' has not been fitted.",
                "Call method.fit(train_data) first (the benchmark runner does this for you).",
            )
        return self.calibration.weights.get(q.kind.value, self.calibration.weights["all"])

    def predict(self, task: Task) -> list[Prediction]:
        return run_sync(lambda: self.apredict(task))

    async def apredict(self, task: Task) -> list[Prediction]:
        prior = {p.question: p for p in self.prior.predict(task)}
        if all(self.weights_for(self.codebook.get(qid))[1] == 0.0 for qid in task.targets):
            # the LLM earned no weight for any of these targets: it is not asked at all
            return [self._combine(task, self.codebook.get(qid), prior[qid], None) for qid in task.targets]
        outcome = await apredict_task(self.llm, task)  # a failed request costs only its targets
        llm = {p.question: p for p in outcome.predictions}
        out = [self._combine(task, self.codebook.get(q), prior[q], llm[q]) for q in task.targets if q in llm]
        if outcome.failed:
            raise TargetsFailedError(out, outcome.failed)
        return out

    def _combine(self, task: Task, q: Question, prior: Prediction, llm: Prediction | None) -> Prediction:
        codes = q.answer_codes
        a, b = self.weights_for(q)
        meta: dict[str, Any] = {
            "weights": {"prior": round(a, 4), "llm": round(b, 4), "kind": q.kind.value},
            "prior": {"prediction": prior.prediction, **({"meta": prior.meta} if prior.meta else {})},
        }
        if llm is not None:
            meta["llm"] = {"prediction": llm.prediction, "meta": {k: v for k, v in llm.meta.items() if k != "usage"}}
            if "usage" in llm.meta:
                meta["usage"] = llm.meta["usage"]
        if b == 0.0 or llm is None:  # the LLM earned no weight: the hybrid is exactly its prior (also when it abstains)
            meta["exactly_prior"] = True
            return Prediction(
                task.respondent.id,
                q.id,
                task.fold,
                prior.prediction,
                None if prior.probabilities is None else dict(prior.probabilities),
                task.condition,
                meta,
            )
        prior_p, llm_p = _distribution(prior, codes), _distribution(llm, codes)
        if prior_p is None and llm_p is None:
            meta["abstained"] = "neither the prior nor the LLM method answered"
            return Prediction(task.respondent.id, q.id, task.fold, None, None, task.condition, meta)
        if prior_p is None or llm_p is None:  # one side abstained: the other answers alone
            probs = prior_p if llm_p is None else llm_p
            meta["fallback"] = "prior" if llm_p is None else "llm"
        else:
            probs = pool(prior_p, llm_p, a, b)
        assert probs is not None
        best = int(np.argmax(probs))
        return Prediction(
            task.respondent.id,
            q.id,
            task.fold,
            int(codes[best]),
            {int(c): float(p) for c, p in zip(codes, probs, strict=True)},
            task.condition,
            meta,
        )


def _usage_of(method: Method) -> dict[str, float]:
    u = method.usage
    return dict(u) if isinstance(u, Mapping) else {}

"""Non-LLM reference methods: what any simulation method has to beat.

Every baseline learns from ``fit(train)`` -- respondents outside the evaluated sample -- and
predicts from what the task's respondent carries: country, profile block (the codebook's
profile items; WVS-7: Q260-Q290) and history answers. Target questions are removed from the respondent before anything is
read, so a method cannot see a target's answer even if it were handed one.

* ``majority``             -- the most common answer to the question in the training data.
* ``country-majority``     -- the most common answer in the respondent's country.
* ``demographic-majority`` -- the most common answer among people of the same country,
  sex and age band (:mod:`valuesim.survey.demographics`: the codebook's ``sex`` and ``age``
  items, WVS-7 Q260 and Q262), backing off to country, then global, when a cell is small.
* ``knn``                  -- collaborative filtering: the k training respondents whose
  history answers are closest to this person's vote on each target.
* ``supervised``           -- a model trained on history + profile + country: one multi-output
  ridge regression on one-hot answers for every target of a history set (default; primal or
  dual form), or one gradient-boosted classifier (LightGBM) per target and history set.

All return a probability for every option (count-based ones are additively smoothed with
``alpha`` pseudo-counts per option) and say in ``meta`` where the answer came from.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import scipy.linalg
from pydantic import Field, field_validator

from valuesim.errors import ConfigError
from valuesim.methods.base import Method, Prediction, Task, register
from valuesim.methods.options import MethodOptions
from valuesim.survey import demographics
from valuesim.survey.codebook import Codebook, QuestionKind, item_seed, question_sort_key
from valuesim.survey.codebook import ranks as answer_ranks
from valuesim.survey.dataset import SurveyData
from valuesim.survey.demographics import AGE_EDGES
from valuesim.survey.respondent import Respondent

GLOBAL = "global"
COUNTRY = "country"
CELL = "cell"


# --------------------------------------------------------------------------- training data view


@dataclass
class TrainView:
    """The training respondents as arrays: what every baseline needs from ``fit``."""

    targets: list[str]  # categorical substantive items present in the training data
    codes: dict[str, np.ndarray]  # qid -> sorted valid codes
    ranks: np.ndarray  # (n, len(targets)) int16 answer rank, -1 when missing
    country: np.ndarray  # (n,) str
    frame_values: dict[str, np.ndarray]  # qid -> float codes (NaN missing) for every item present

    @property
    def n(self) -> int:
        return len(self.country)

    @classmethod
    def build(cls, train: SurveyData, codebook: Codebook) -> TrainView:
        present = [q for q in train.question_ids if q in codebook]
        have = set(present)
        targets = [q for q in codebook.substantive() if q in have and codebook.get(q).kind is not QuestionKind.NUMERIC]
        values = train.matrix(present)
        frame_values = {q: values[:, j] for j, q in enumerate(present)}
        codes = {q: np.array(codebook.get(q).answer_codes, dtype=np.float64) for q in targets}
        ranks = np.full((len(train), len(targets)), -1, dtype=np.int16)
        for j, q in enumerate(targets):
            ranks[:, j] = answer_ranks(frame_values[q], codes[q], dtype=np.int16)
        return cls(
            targets=targets,
            codes=codes,
            ranks=ranks,
            country=train.frame["country"].astype(str).to_numpy(),
            frame_values=frame_values,
        )


class CountTables:
    """Answer counts per question at several grouping levels, for majority votes with back-off.

    ``levels`` go from most to least specific and always end with the global level. A
    group's counts are used when it holds at least ``min_cell`` valid answers (the global
    level is used whenever it has any).
    """

    def __init__(self, view: TrainView, keys: Mapping[str, Sequence[Any]], levels: Sequence[str]) -> None:
        self.levels = list(levels) if list(levels)[-1:] == [GLOBAL] else [*levels, GLOBAL]
        self.index: dict[str, dict[Any, int]] = {}
        self.counts: dict[str, np.ndarray] = {}  # level -> (n_groups, n_targets, max_k)
        self.col = {q: j for j, q in enumerate(view.targets)}
        self.k = {q: len(view.codes[q]) for q in view.targets}
        max_k = max(self.k.values(), default=1)
        for level in self.levels:
            raw = [()] * view.n if level == GLOBAL else list(keys[level])
            uniq: dict[Any, int] = {}
            gid = np.empty(view.n, dtype=np.int64)
            for i, key in enumerate(raw):
                gid[i] = -1 if key is None else uniq.setdefault(key, len(uniq))
            n_g = len(uniq)
            table = np.zeros((n_g, len(view.targets), max_k), dtype=np.float64)
            ok_rows = gid >= 0
            for j in range(len(view.targets)):
                r = view.ranks[:, j]
                m = ok_rows & (r >= 0)
                flat = gid[m] * max_k + r[m]
                table[:, j, :] = np.bincount(flat, minlength=n_g * max_k).reshape(n_g, max_k)
            self.index[level] = uniq
            self.counts[level] = table

    def lookup(self, qid: str, keys: Mapping[str, Any], min_cell: int) -> tuple[np.ndarray, str] | None:
        """(counts over the item's options, level used), or None when nobody answered it."""
        j = self.col.get(qid)
        if j is None:
            return None
        k = self.k[qid]
        for level in self.levels:
            key = () if level == GLOBAL else keys.get(level)
            g = self.index[level].get(key) if key is not None else None
            if g is None:
                continue
            c = self.counts[level][g, j, :k]
            total = c.sum()
            if total > 0 and (level == GLOBAL or total >= min_cell):
                return c, level
        return None


def smoothed(counts: np.ndarray, alpha: float) -> np.ndarray:
    p = counts + alpha
    return p / p.sum()


def visible_answers(task: Task) -> dict[str, int]:
    """What a baseline may read: the respondent's answers minus every target."""
    targets = set(task.targets)
    return {q: c for q, c in task.respondent.answers.items() if q not in targets}


def _prediction(task: Task, qid: str, codes: np.ndarray, probs: np.ndarray, meta: dict[str, Any]) -> Prediction:
    """The most probable code (ties: the lowest) with the full distribution."""
    best = int(np.argmax(probs))
    return Prediction(
        respondent=task.respondent.id,
        question=qid,
        fold=task.fold,
        prediction=int(codes[best]),
        probabilities={int(c): float(p) for c, p in zip(codes, probs, strict=True)},
        condition=task.condition,
        meta=meta,
    )


class _Baseline(Method):
    """Shared plumbing: the fitted-state check."""

    learns_from_others: ClassVar[bool] = True

    def __init__(self, codebook: Codebook, **options: Any) -> None:
        super().__init__(codebook, **options)
        self._view: TrainView | None = None

    @property
    def view(self) -> TrainView:
        if self._view is None:
            raise ConfigError(
                f"Method {self.name!r} has not been fitted.",
                "Call method.fit(train_data) first (the benchmark runner does this for you).",
            )
        return self._view

    def _abstain(self, task: Task, qid: str, reason: str) -> Prediction:
        return Prediction(task.respondent.id, qid, task.fold, None, None, task.condition, {"abstained": reason})


# --------------------------------------------------------------------------- majority family


class MajorityOptions(MethodOptions):
    alpha: float = Field(0.5, ge=0.0, description="pseudo-count added to every option")
    min_cell: int = Field(20, ge=1, description="fewest valid answers for a group to be used")


class DemographicOptions(MajorityOptions):
    age_bands: tuple[int, ...] = Field(AGE_EDGES, description="lower age bounds of the bands after the first")

    @field_validator("age_bands", mode="before")
    @classmethod
    def _comma_separated(cls, v: Any) -> Any:
        """``-o age_bands=25,40,60`` from the command line (as --list-methods says)."""
        if isinstance(v, str):
            return tuple(b.strip() for b in v.split(",") if b.strip())
        return v

    @field_validator("age_bands")
    @classmethod
    def _increasing(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if any(b <= 0 for b in v) or list(v) != sorted(set(v)):
            raise ValueError("age bands must be positive, increasing ages, e.g. [30, 50]")
        return v


class _GroupMajority(_Baseline):
    """Most common answer within the respondent's group, with back-off to wider groups."""

    levels: ClassVar[tuple[str, ...]] = (GLOBAL,)
    Options: ClassVar[type[MethodOptions]] = MajorityOptions
    opts: MajorityOptions  # DemographicOptions for the cell level

    def fit(self, train: SurveyData) -> None:
        view = TrainView.build(train, self.codebook)
        self._tables = CountTables(view, self._train_keys(view), self.levels)
        self._view = view

    def _train_keys(self, view: TrainView) -> dict[str, list[Any]]:
        keys: dict[str, list[Any]] = {}
        if COUNTRY in self.levels:
            keys[COUNTRY] = list(view.country)
        if CELL in self.levels:
            none = np.full(view.n, np.nan)
            sex = demographics.sex_values(self.codebook, view.frame_values.get(self.codebook.role("sex") or "", none))
            age = demographics.age_values(self.codebook, view.frame_values.get(self.codebook.role("age") or "", none))
            keys[CELL] = [self._cell(c, s, a) for c, s, a in zip(view.country, sex, age, strict=True)]
        return keys

    def _cell(self, country: str, sex: float | None, age: float | None) -> tuple[str, int, int] | None:
        """(country, sex code, age band index); None when sex or age is unknown (NaN or None)."""
        band = demographics.band_index(age, getattr(self.opts, "age_bands", ()))
        if sex is None or np.isnan(sex) or band < 0:
            return None
        return (country, int(sex), band)

    def group_of(self, person: Respondent) -> tuple[str, int, int] | None:
        """The person's demographic cell (country, sex code, age band), None without sex or age."""
        return self._task_keys_cell(person)

    def _task_keys_cell(self, person: Respondent) -> tuple[str, int, int] | None:
        sex = demographics.sex_code(self.codebook, person.answers)
        age = demographics.age(self.codebook, person.answers)
        return self._cell(person.country, None if sex is None else float(sex), age)

    def _task_keys(self, person: Respondent) -> dict[str, Any]:
        keys: dict[str, Any] = {COUNTRY: person.country}
        if CELL in self.levels:
            keys[CELL] = self._task_keys_cell(person)
        return keys

    def predict(self, task: Task) -> list[Prediction]:
        view = self.view
        keys = self._task_keys(task.respondent)
        out = []
        for q in task.targets:
            found = self._tables.lookup(q, keys, self.opts.min_cell)
            if found is None:
                out.append(self._abstain(task, q, "no training answers to this question"))
                continue
            counts, level = found
            out.append(
                _prediction(
                    task, q, view.codes[q], smoothed(counts, self.opts.alpha), {"level": level, "n": int(counts.sum())}
                )
            )
        return out


@register("majority", "Most common answer to each question among training respondents (all countries).")
class MajorityBaseline(_GroupMajority):
    levels = (GLOBAL,)


@register("country-majority", "Most common answer in the respondent's country (back-off: all countries).")
class CountryMajorityBaseline(_GroupMajority):
    levels = (COUNTRY, GLOBAL)


@register(
    "demographic-majority",
    "Most common answer among people of the same country, sex and age band (back-off: country, then all).",
)
class DemographicMajorityBaseline(_GroupMajority):
    levels = (CELL, COUNTRY, GLOBAL)
    Options = DemographicOptions


# --------------------------------------------------------------------------- k nearest neighbours


class KnnOptions(MethodOptions):
    k: int = Field(20, ge=1, description="neighbours voting on each target")
    pool: Literal["country", "all"] = Field(
        "country", description="search neighbours in the same country or everywhere"
    )
    min_overlap: int = Field(10, ge=1, description="fewest co-answered history items for a neighbour to count")
    prior_weight: float = Field(1.0, ge=0.0, description="votes given to the country answer distribution")
    alpha: float = Field(0.5, ge=0.0, description="pseudo-count of the back-off distribution")
    min_cell: int = Field(20, ge=1, description="fewest answers for the country back-off to be used")


@register("knn", "k nearest training respondents by agreement on the history answers vote on each target.")
class KnnBaseline(_Baseline):
    """Collaborative filtering over answer profiles.

    Distance between the respondent and a training person: the mean, over history items
    both answered, of |rank difference| / (n_options - 1) for ordered items and of
    "different answer" (0/1) for nominal items -- so it lies in [0, 1]. People sharing fewer
    than ``min_overlap`` items are not neighbours. For each target the ``k`` nearest
    neighbours who answered it vote with weight 1 - distance; the votes are combined with
    ``prior_weight`` votes spread like the country's answer distribution (which is also the
    whole answer when there is no usable history, e.g. h=0 in a history sweep).
    """

    Options = KnnOptions
    opts: KnnOptions

    def fit(self, train: SurveyData) -> None:
        view = TrainView.build(train, self.codebook)
        self._tables = CountTables(view, {COUNTRY: list(view.country)}, (COUNTRY, GLOBAL))
        kmax = np.array([max(len(view.codes[q]) - 1, 1) for q in view.targets], dtype=np.float32)
        z = view.ranks.astype(np.float32)
        z[view.ranks < 0] = np.nan
        self._z = z / kmax  # ranks scaled to [0, 1]
        self._nominal = np.array([not self.codebook.get(q).ordered for q in view.targets])
        self._col = {q: j for j, q in enumerate(view.targets)}
        self._rank_of = [{int(c): r for r, c in enumerate(view.codes[q])} for q in view.targets]
        self._pools: dict[str, np.ndarray] = {}
        for c in np.unique(view.country):
            self._pools[str(c)] = np.flatnonzero(view.country == c)
        self._all = np.arange(view.n)
        self._kmax = kmax
        self._view = view

    def _pool(self, country: str) -> np.ndarray:
        if self.opts.pool == "country":
            rows = self._pools.get(country)
            if rows is not None and len(rows) >= self.opts.k:
                return rows
        return self._all

    def neighbours(self, task: Task) -> tuple[np.ndarray, np.ndarray]:
        """(training row indices sorted from nearest, their distances); empty without usable history."""
        hist = [(self._col[q], c) for q, c in visible_answers(task).items() if q in self._col]
        if len(hist) < self.opts.min_overlap:
            return np.empty(0, dtype=np.int64), np.empty(0)
        cols = np.array([j for j, _ in hist])
        x = np.array([self._rank_of[j].get(c, -1) for j, c in hist], dtype=np.float32)
        keep = x >= 0
        cols, x = cols[keep], x[keep] / self._kmax[cols[keep]]
        rows = self._pool(task.respondent.country)
        sub = self._z[np.ix_(rows, cols)]
        d = np.abs(sub - x)
        nominal = self._nominal[cols]
        if nominal.any():
            d[:, nominal] = np.where(np.isnan(d[:, nominal]), np.nan, d[:, nominal] > 0)
        both = ~np.isnan(d)
        n_both = both.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            dist = np.where(both, d, 0.0).sum(axis=1) / n_both
        ok = n_both >= self.opts.min_overlap
        rows, dist = rows[ok], dist[ok].astype(np.float64)
        order = np.argsort(dist, kind="stable")
        return rows[order], dist[order]

    def predict(self, task: Task) -> list[Prediction]:
        view = self.view
        rows, dist = self.neighbours(task)
        keys = {COUNTRY: task.respondent.country}
        out: list[Prediction] = []
        tcols = [self._col.get(q, -1) for q in task.targets]
        known = [j for j in tcols if j >= 0]
        if len(rows) and known:
            ranks = view.ranks[np.ix_(rows, np.asarray(known, dtype=np.int64))]
            answered = ranks >= 0
            chosen = answered & (np.cumsum(answered, axis=0) <= self.opts.k)
            weight = np.clip(1.0 - dist, 1e-6, None)
        for q, j in zip(task.targets, tcols, strict=True):
            prior = self._tables.lookup(q, keys, self.opts.min_cell)
            if prior is None or j < 0:
                out.append(self._abstain(task, q, "no training answers to this question"))
                continue
            k = len(view.codes[q])
            prior_p = smoothed(prior[0], self.opts.alpha)
            votes: np.ndarray = np.zeros(k)
            n_voters = 0
            if len(rows):
                t = known.index(j)
                sel = chosen[:, t]
                n_voters = int(sel.sum())
                votes = np.bincount(ranks[sel, t], weights=weight[sel], minlength=k)[:k]
            total = votes.sum() + self.opts.prior_weight
            probs = (votes + self.opts.prior_weight * prior_p) / total if total > 0 else prior_p
            meta: dict[str, Any] = {"neighbours": n_voters, "nearest_distance": float(dist[0]) if len(dist) else None}
            if n_voters == 0:
                meta["level"] = prior[1]
            out.append(_prediction(task, q, view.codes[q], probs, meta))
        return out


# --------------------------------------------------------------------------- supervised


class SupervisedOptions(MethodOptions):
    model: Literal["linear", "lightgbm"] = Field(
        "linear",
        description="linear: one multi-output ridge model on one-hot answers predicts every target of a history "
        "set at once (the default: measured as accurate at a fraction of the CPU, docs/baselines.md); "
        "lightgbm: one gradient-boosted classifier per target (the model before; the options below "
        "n_estimators..features apply to it)",
    )
    ridge: float = Field(
        0.0,
        ge=0.0,
        description="linear: ridge penalty; 0 = per target, the best of RIDGE_GRID (times the mean diagonal of "
        "the Gram matrix) on a held-out fifth of the training people",
    )
    floor: float = Field(0.01, gt=0.0, lt=0.5, description="linear: least probability of an option before normalising")
    solver: Literal["auto", "primal", "dual"] = Field(
        "auto",
        description="linear, exact history sets: primal = the normal equations over the design columns; dual = the "
        "same ridge solution from one eigendecomposition of the people-by-people kernel, every penalty of the grid "
        "and every target at once (cheaper with fewer training people than design columns); auto = dual when "
        "the training people are fewer than the history set's design columns",
    )
    n_estimators: int = Field(30, ge=1, description="lightgbm: boosting rounds per model")
    num_leaves: int = Field(15, ge=2, description="lightgbm: leaves per tree")
    learning_rate: float = Field(0.1, gt=0.0, description="lightgbm: boosting learning rate")
    features: int = Field(
        0,
        ge=0,
        description="lightgbm: inputs per model, the N candidate items most associated with the target among "
        "the training people (largest |correlation| with one of its answers), plus the country; 0 = every item",
    )
    max_train: int = Field(
        6000, ge=50, description="lightgbm: training rows per model (a seeded sample when more); linear uses all"
    )
    min_child_samples: int = Field(20, ge=1, description="lightgbm: fewest training rows in a leaf")
    country_feature: bool = Field(True, description="give the model the respondent's country (categorical)")
    history: Literal["auto", "exact", "random-subset", "any"] = Field(
        "auto",
        description="exact: one model per history set; random-subset: one model per history size trained on "
        "random subsets (for history sweeps); any: one model per target, trained with randomly hidden inputs, "
        "that answers from any subset of a person's answers (a partial record, `valuesim ask`); auto: exact "
        "for k-fold tasks, random-subset otherwise",
    )
    mask: float = Field(
        0.5,
        ge=0.0,
        lt=1.0,
        description="history=any: share of a training row's answers hidden (linear: expected share; "
        "lightgbm: a uniform share up to this)",
    )
    n_jobs: int = Field(2, ge=1, description="lightgbm: models trained at once (each uses one thread)")
    train_all_targets: bool = Field(
        True,
        description="when a history set is first seen, train the models of every item outside it at once "
        "(in a benchmark those are the fold's targets), instead of only the task's targets",
    )
    seed: int = Field(0, description="seed of the training-row sample, subsets and LightGBM")
    alpha: float = Field(0.5, ge=0.0, description="pseudo-count for the fallback distribution")


@register(
    "supervised",
    "A model trained outside the sample on history + profile + country: multi-output ridge (default) or LightGBM.",
)
class SupervisedBaseline(_Baseline):
    """Trained prediction from the respondent's known answers, profile and country.

    ``model="linear"`` (default): every input item is one-hot coded (an indicator per answer;
    an item with more than :data:`ONEHOT_MAX` codes, e.g. age, is standardised with a missing
    flag), plus the country; one ridge regression of all targets' answer indicators on these
    (a linear probability model, solved in closed form) predicts every target of a history set
    at once. Probabilities are the predicted indicators floored at ``floor`` and normalised.

    ``model="lightgbm"``: one gradient-boosted classifier per target on the raw codes (NaN when
    missing; nominal codes are plain numbers the trees split on) and the country as a
    categorical feature; ``features=N`` keeps the N candidate items most associated with the
    target.

    Models are cached by (target, feature set), so every respondent of a k-fold fold shares
    them. In a history sweep each person has a different random history; then a model per
    (target, history size h) is trained on all non-target items with each training row keeping
    a random h of its substantive answers (linear: in expectation), and applied to whatever h
    items the respondent has. ``history="any"``: one model per target on all other items,
    trained with a share ``mask`` of the answers hidden, applied to whatever the person
    answered -- no retraining per subset.
    """

    Options = SupervisedOptions
    opts: SupervisedOptions
    #: what answering one person at a time (``valuesim ask``) should use: one model per asked
    #: target that tolerates any subset of the person's answers
    single_person_options: ClassVar[dict[str, Any]] = {"history": "any", "train_all_targets": False}

    def fit(self, train: SurveyData) -> None:
        if self.opts.model == "lightgbm":
            import lightgbm  # noqa: F401 - fail early with a clear error if missing

        view = TrainView.build(train, self.codebook)
        self._items = [q for q in self.codebook.ids() if q in view.frame_values]
        self._item_col = {q: j for j, q in enumerate(self._items)}
        self._sort_rank = {q: i for i, q in enumerate(sorted(self._items, key=question_sort_key))}
        self._profile = [q for q in self.codebook.profile() if q in view.frame_values]
        self._x = np.column_stack([view.frame_values[q] for q in self._items]).astype(np.float32)
        self._z = _standardised(self._x) if self.opts.model == "lightgbm" and self.opts.features else None
        self._countries = {c: i for i, c in enumerate(sorted(set(view.country)))}
        self._country_code = np.array([self._countries[c] for c in view.country], dtype=np.float32)
        self._tables = CountTables(view, {}, (GLOBAL,))
        self._order = np.random.default_rng(self.opts.seed).permutation(view.n)
        self._models: dict[tuple[str, str], Any] = {}
        self._view = view
        self._design: _Design | None = None
        #: seconds spent training models while predicting (a fold's first unit); read by the progress display
        self.fitting_seconds = 0.0

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_lock", None)
        return state

    @property
    def lock(self) -> threading.Lock:
        if "_lock" not in self.__dict__:
            self.__dict__["_lock"] = threading.Lock()
        return self.__dict__["_lock"]

    def _feature_spec(self, task: Task) -> tuple[str, tuple[str, ...], int]:
        """(mode, substantive feature items, history size) for this task's targets."""
        targets = set(task.targets)
        profile = set(self._profile)
        person = task.respondent
        known = [q for q in (*person.answers, *person.missing) if q in self._item_col and q not in profile]
        hist = tuple(sorted({q for q in known if q not in targets}, key=self._sort_rank.__getitem__))
        mode = self.opts.history
        if mode == "auto":
            mode = "exact" if not task.condition else "random-subset"
        return mode, hist, len(hist)

    def _columns(self, items: Iterable[str]) -> list[int]:
        return [self._item_col[q] for q in items]

    def _models_for(self, targets: Sequence[str], mode: str, hist: tuple[str, ...], h: int) -> dict[str, Any]:
        """The model of every target, training missing ones (LightGBM: in parallel threads, which
        free the GIL; linear: every target of an exact history set in one solve).

        exact: candidate inputs = history + profile, key = (target, hash of the history);
        random-subset: every other item, key = (target, h); any: every other item, key = target.
        """
        if mode == "exact":
            tag = "exact:" + hashlib.sha1(",".join(hist).encode()).hexdigest()
        else:
            tag = f"subset:{h}" if mode == "random-subset" else "any"
        with self.lock:
            todo = [q for q in targets if (q, tag) not in self._models]
            if todo and self.opts.train_all_targets:  # every item outside the history may be asked next
                skip = set(hist) | set(todo)
                todo += [q for q in self.view.targets if q not in skip and (q, tag) not in self._models]
            if todo:
                t0 = time.perf_counter()
                if self.opts.model == "linear":
                    from threadpoolctl import threadpool_limits

                    # one BLAS thread: on a shared machine more threads spin and cost CPU, not time
                    with threadpool_limits(limits=1, user_api="blas"):
                        trained = self._train_linear(todo, mode, hist, h)
                    self._models.update({(q, tag): m for q, m in trained.items()})
                else:
                    jobs = [(q, *self._model_features(q, mode, hist, h)) for q in todo]
                    if self.opts.n_jobs > 1 and len(jobs) > 1:
                        with ThreadPoolExecutor(max_workers=self.opts.n_jobs) as pool:
                            fitted = list(pool.map(lambda job: self._train(*job), jobs))
                    else:
                        fitted = [self._train(*job) for job in jobs]
                    for q, model in zip(todo, fitted, strict=True):
                        self._models[(q, tag)] = model
                self.fitting_seconds += time.perf_counter() - t0
            return {q: self._models[(q, tag)] for q in targets}

    def _model_features(
        self, target: str, mode: str, hist: tuple[str, ...], h: int
    ) -> tuple[tuple[str, ...], str, int | float | None]:
        """(candidate input items, how inputs are hidden in training, how many/much) of *target*'s model."""
        if mode == "exact":
            return tuple(q for q in (*hist, *self._profile) if q != target), "none", None
        substantive = tuple(q for q in self._items if q not in self._profile and q != target)
        if mode == "random-subset":
            return (*substantive, *self._profile), "keep", h
        return (*substantive, *self._profile), "share", self.opts.mask

    # ----------------------------------------------------------------- linear (multi-output ridge)

    def _train_linear(self, todo: Sequence[str], mode: str, hist: tuple[str, ...], h: int) -> dict[str, _LinearModel]:
        """exact: one solve for every target (inputs: history + profile); otherwise one solve per
        target on every other item, with the expected effect of hiding answers (random-subset:
        all but h; any: a share ``mask``) folded into the normal equations."""
        design = self._design_matrix()
        if mode == "exact":
            inputs = self._columns((*hist, *self._profile))
            return _LinearModel.solve(design, inputs, list(todo), *self._targets_matrix(todo), self.opts)
        substantive = [self._item_col[q] for q in self._items if q not in self._profile]
        if mode == "random-subset":
            hide = 1.0 - min(1.0, h / max(len(substantive) - 1, 1))
        else:
            hide = self.opts.mask
        if len(todo) >= SHARED_MIN_TARGETS:  # one eigendecomposition for all: each target leaves out its own item
            everything = list(range(len(self._items)))
            drop = [self._item_col[q] for q in todo]
            y, widths = self._targets_matrix(todo)
            return _LinearModel.solve_each(
                design, everything, list(todo), drop, y, widths, self.opts, substantive, hide
            )
        out = {}
        for q in todo:
            inputs = [c for c in range(len(self._items)) if c != self._item_col[q]]
            masked = [c for c in substantive if c != self._item_col[q]]
            out.update(_LinearModel.solve(design, inputs, [q], *self._targets_matrix([q]), self.opts, masked, hide))
        return out

    def _design_matrix(self) -> _Design:
        if self._design is None:
            self._design = _Design.build(self._x, self._country_code if self.opts.country_feature else None)
        return self._design

    def _targets_matrix(self, targets: Sequence[str]) -> tuple[np.ndarray, list[int]]:
        """(answer indicators of *targets* side by side, options per target); a row without an
        answer gets the target's answer shares (it says nothing about the person)."""
        view = self.view
        blocks = []
        for q in targets:
            r = view.ranks[:, view.targets.index(q)]
            y = np.zeros((view.n, len(view.codes[q])), dtype=np.float64)
            ok = r >= 0
            y[np.flatnonzero(ok), r[ok]] = 1.0
            if ok.any() and not ok.all():
                y[~ok] = y[ok].mean(axis=0)
            blocks.append(y)
        return np.hstack(blocks), [b.shape[1] for b in blocks]

    # ----------------------------------------------------------------- lightgbm (one model per target)

    def _select(self, cols: np.ndarray, rows: np.ndarray, y: np.ndarray, n_classes: int) -> np.ndarray:
        """The ``features`` columns most associated with the target: the largest |correlation|
        between the (standardised, mean-imputed) item and one answer option's indicator."""
        n = self.opts.features
        if not n or len(cols) <= n or self._z is None:
            return cols
        onehot = np.zeros((len(rows), n_classes), dtype=np.float32)
        onehot[np.arange(len(rows)), y] = 1.0
        onehot -= onehot.mean(axis=0)
        onehot /= onehot.std(axis=0) + 1e-6
        score = np.abs(self._z[np.ix_(rows, cols)].T @ onehot).max(axis=1)
        return np.sort(cols[np.argsort(-score, kind="stable")[:n]])

    def _train(self, target: str, feats: tuple[str, ...], hide: str, amount: int | float | None) -> _FittedModel:
        import lightgbm as lgb

        view = self.view
        j = view.targets.index(target)
        y_all = view.ranks[:, j]
        rows = self._order[y_all[self._order] >= 0][: self.opts.max_train]
        classes, y = np.unique(y_all[rows].astype(np.int64), return_inverse=True)
        all_cols = np.asarray(self._columns(feats), dtype=np.int64)
        cols = all_cols if hide == "keep" else self._select(all_cols, rows, y, len(classes))
        x = self._x[np.ix_(rows, cols)]
        n_profile = len(self._profile)
        substantive = np.isin(cols, all_cols[: len(all_cols) - n_profile])
        rng = np.random.default_rng(
            [self.opts.seed, item_seed(target), int(amount) if hide == "keep" and amount else 0]
        )
        if hide == "keep" and amount is not None:  # a history sweep: each row keeps a random h of its items
            n_sub = int(substantive.sum())
            drop = rng.random((len(rows), n_sub)).argsort(axis=1) >= int(amount)
            x[:, substantive] = np.where(drop, np.nan, x[:, substantive])
        elif hide == "share" and amount:  # any subset: each row hides a uniform share up to `mask`
            share = rng.random(len(rows)) * float(amount)
            drop = (rng.random((len(rows), len(cols))) < share[:, None]) & substantive[None, :]
            x[drop] = np.nan
        cat: list[int] = []
        if self.opts.country_feature:
            x = np.column_stack([x, self._country_code[rows]])
            cat.append(x.shape[1] - 1)
        columns = np.append(cols, len(self._items)) if self.opts.country_feature else cols
        used = tuple(self._items[c] for c in cols)
        if len(classes) < 2:
            return _FittedModel(used, columns, None, classes)
        params: dict[str, Any] = {
            "n_estimators": self.opts.n_estimators,
            "num_leaves": self.opts.num_leaves,
            "learning_rate": self.opts.learning_rate,
            "min_child_samples": self.opts.min_child_samples,
            "max_bin": 15,
            "colsample_bytree": 0.5,
            "subsample": 0.8,
            "subsample_freq": 1,
            "random_state": self.opts.seed,
            "n_jobs": 1,  # parallelism comes from training several models at once
            "deterministic": True,
            "force_row_wise": True,
            "verbose": -1,
        }
        clf = lgb.LGBMClassifier(**params)
        clf.fit(x, np.asarray(classes)[y], categorical_feature=cat or "auto")
        return _FittedModel(used, columns, clf.booster_, classes)

    def _task_vector(self, task: Task) -> np.ndarray:
        """Every item's visible code (NaN when unknown or a target), then the country code."""
        vec = np.full(len(self._items) + 1, np.nan, dtype=np.float32)
        for q, c in visible_answers(task).items():
            j = self._item_col.get(q)
            if j is not None:
                vec[j] = c
        code = self._countries.get(task.respondent.country)
        vec[-1] = np.nan if code is None else code
        return vec

    def predict(self, task: Task) -> list[Prediction]:
        view = self.view
        mode, hist, h = self._feature_spec(task)
        models = self._models_for([q for q in task.targets if q in self._tables.col], mode, hist, h)
        vec = self._task_vector(task)
        coded = self._design.row(vec) if self._design is not None else None
        shared: dict[int, np.ndarray] = {}  # a dual solution's scores, computed once for all its targets
        out = []
        for q in task.targets:
            if q not in self._tables.col:
                out.append(self._abstain(task, q, "no training answers to this question"))
                continue
            model = models[q]
            k = len(view.codes[q])
            probs: np.ndarray | None
            if getattr(model, "booster", True) is None:  # one answer only in the training rows: their distribution
                fallback = self._tables.lookup(q, {}, 1)
                probs = smoothed(fallback[0], self.opts.alpha) if fallback else None
                meta: dict[str, Any] = {"model": "constant"}
            else:
                if isinstance(model, _LinearModel):
                    assert coded is not None  # the design is built with the first linear model
                    probs = model.probabilities(coded, k, shared)
                else:
                    probs = model.probabilities(vec, k)
                meta = {"model": self.opts.model, "history_mode": mode, "n_features": len(model.features)}
            if probs is None:
                out.append(self._abstain(task, q, "no training answers to this question"))
                continue
            out.append(_prediction(task, q, view.codes[q], probs, meta))
        return out


#: items with more distinct codes than this enter the linear model as one standardised number
ONEHOT_MAX = 15


@dataclass
class _Design:
    """The training rows one-hot coded, once per fit: column blocks per item, then the country."""

    matrix: np.ndarray  # (n, d) float32
    blocks: list[np.ndarray]  # item column -> its design columns
    codes: list[np.ndarray | None]  # item column -> its codes (one-hot), or None (standardised)
    scale: list[tuple[float, float]]  # item column -> (mean, sd) of a standardised item
    country: np.ndarray  # design columns of the country indicators (empty without the country)
    _lookup: tuple[np.ndarray, np.ndarray, np.ndarray, list[int]] | None = None  # built by row()
    _grams: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # seed -> (all, held)
    _kernel: np.ndarray | None = None  # (n, n) products over every column, built by kernel()

    def held(self, seed: int) -> np.ndarray:
        """The training rows held out to choose the ridge penalty: a seeded fifth."""
        n = self.matrix.shape[0]
        out = np.zeros(n, dtype=bool)
        out[np.random.default_rng(seed).permutation(n)[: n // 5]] = True
        return out

    def kernel(self, cols: np.ndarray) -> np.ndarray:
        """The people-by-people products X_c X_c' over the design columns *cols* (float64): the
        products over every column, computed once per fit, minus those of the columns left out."""
        x = self.matrix
        rest = np.setdiff1d(np.arange(x.shape[1]), cols)
        if len(rest) >= len(cols):
            part = x[:, cols].astype(np.float64)
            return part @ part.T
        if self._kernel is None:
            full = x.astype(np.float64)
            self._kernel = full @ full.T
        part = x[:, rest].astype(np.float64)
        return self._kernel - part @ part.T

    def grams(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Cross-products of every design column over all rows and over the held-out fifth,
        computed once per fit: every history set's normal equations are a sub-matrix."""
        if seed not in self._grams:
            held = self.matrix[self.held(seed)]
            self._grams[seed] = (
                (self.matrix.T @ self.matrix).astype(np.float64),
                (held.T @ held).astype(np.float64),
            )
        return self._grams[seed]

    @classmethod
    def build(cls, x: np.ndarray, country: np.ndarray | None) -> _Design:
        parts: list[np.ndarray] = []
        blocks: list[np.ndarray] = []
        codes: list[np.ndarray | None] = []
        scale: list[tuple[float, float]] = []
        width = 0
        for j in range(x.shape[1]):
            col = x[:, j]
            seen = np.unique(col[~np.isnan(col)])
            if len(seen) <= ONEHOT_MAX:
                part = (col[:, None] == seen[None, :]).astype(np.float32)
                codes.append(seen)
                scale.append((0.0, 1.0))
            else:
                mean, sd = float(np.nanmean(col)), float(np.nanstd(col)) or 1.0
                z = np.where(np.isnan(col), 0.0, (col - mean) / sd)
                part = np.column_stack([z, np.isnan(col)]).astype(np.float32)
                codes.append(None)
                scale.append((mean, sd))
            parts.append(part)
            blocks.append(np.arange(width, width + part.shape[1]))
            width += part.shape[1]
        n_c = 0 if country is None else int(np.nanmax(country)) + 1 if len(country) else 0
        if n_c:
            assert country is not None
            parts.append((country[:, None] == np.arange(n_c)[None, :]).astype(np.float32))
        parts.append(np.ones((x.shape[0], 1), dtype=np.float32))  # intercept
        return cls(np.hstack(parts), blocks, codes, scale, np.arange(width, width + n_c))

    def row(self, vec: np.ndarray) -> np.ndarray:
        """One task vector (item codes, then the country code) coded like the training rows."""
        if self._lookup is None:
            item: list[int] = []
            code: list[float] = []
            num: list[int] = []
            hot: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
            for j, codes in enumerate(self.codes):
                if codes is None:
                    num.append(j)
                else:
                    item.extend([j] * len(codes))
                    code.extend(codes.tolist())
                    hot.append(self.blocks[j])
            self._lookup = (
                np.asarray(item, dtype=np.int64),
                np.asarray(code, dtype=np.float32),
                np.concatenate(hot).astype(np.int64),
                num,
            )
        items, values, onehot, num = self._lookup
        out = np.zeros(self.matrix.shape[1], dtype=np.float32)
        out[onehot] = vec[items] == values
        for j in num:
            v, (mean, sd) = vec[j], self.scale[j]
            out[self.blocks[j]] = (0.0, 1.0) if np.isnan(v) else ((v - mean) / sd, 0.0)
        c = vec[-1]
        if len(self.country) and not np.isnan(c) and int(c) < len(self.country):
            out[self.country[int(c)]] = 1.0
        out[-1] = 1.0
        return out


@dataclass
class _DualSolution:
    """A dual ridge solution shared by the targets of one solve: a person's scores are
    k' alpha, k = X_c x_c the products of their coded row with every training person's."""

    design: _Design
    inputs: np.ndarray  # design columns read
    alpha: np.ndarray  # (n training people, every target's indicator columns)

    def scores(self, coded: np.ndarray) -> np.ndarray:
        z = np.zeros_like(coded)
        z[self.inputs] = coded[self.inputs]
        return (self.design.matrix @ z).astype(np.float64) @ self.alpha


@dataclass
class _LinearModel:
    """One target's slice of a multi-output ridge solution."""

    features: tuple[int, ...]  # item columns it reads
    inputs: np.ndarray  # design columns it reads
    weights: np.ndarray | None  # primal: (len(inputs), k)
    floor: float
    ridge: float  # the penalty it was solved with
    dual: _DualSolution | None = None  # dual: the shared solution and the target's columns in it
    span: tuple[int, int] = (0, 0)  # its columns in the dual solution

    @classmethod
    def solve(
        cls,
        design: _Design,
        items: Sequence[int],
        targets: list[str],
        y: np.ndarray,
        widths: Sequence[int],
        opts: SupervisedOptions,
        masked: Sequence[int] = (),
        hide: float = 0.0,
    ) -> dict[str, _LinearModel]:
        """Ridge weights of every column of *y* (targets' indicators side by side) on the
        design columns of *items* (+ country + intercept). With ``hide`` > 0 each training
        answer of a *masked* item is hidden with that probability, in expectation (the normal
        equations of the noise-marginalised problem: cross-products of masked blocks scaled by
        (1 - hide)^2 across items and (1 - hide) within one, their products with *y* by 1 - hide).
        Without hidden answers and with fewer training people than design columns (``solver``)
        the same solution comes from the dual form (:func:`_dual_ridge`)."""
        cols = np.concatenate([*(design.blocks[j] for j in items), design.country, [design.matrix.shape[1] - 1]])
        cols = cols.astype(np.int64)
        starts = np.cumsum([0, *widths])
        out: dict[str, _LinearModel] = {}
        if hide <= 0 and (opts.solver == "dual" or (opts.solver == "auto" and design.matrix.shape[0] < len(cols))):
            penalty, alpha = _dual_ridge(design, cols, y, starts, opts)
            shared = _DualSolution(design, cols, alpha)
            for t, q in enumerate(targets):
                span = (int(starts[t]), int(starts[t + 1]))
                out[q] = cls(tuple(items), cols, None, opts.floor, float(penalty[t]), shared, span)
            return out
        penalty, weights = _primal_ridge(design, items, cols, y, starts, opts, masked, hide)
        for t, q in enumerate(targets):
            w = weights[:, starts[t] : starts[t + 1]]
            out[q] = cls(tuple(items), cols, w, opts.floor, float(penalty[t]))
        return out

    @classmethod
    def solve_each(
        cls,
        design: _Design,
        items: Sequence[int],
        targets: list[str],
        drop: Sequence[int],
        y: np.ndarray,
        widths: Sequence[int],
        opts: SupervisedOptions,
        masked: Sequence[int],
        hide: float,
    ) -> dict[str, _LinearModel]:
        """For each target, what :meth:`solve` gives on *items* without the target's own item
        (``drop``), with hidden answers as there: the same normal equations, each a principal
        sub-matrix of one system over every item, solved from one eigendecomposition of it
        (and one of its held-out-fifth version for the penalty grid) shared by all targets."""
        cols = np.concatenate([*(design.blocks[j] for j in items), design.country, [design.matrix.shape[1] - 1]])
        cols = cols.astype(np.int64)
        starts = np.cumsum([0, *widths])
        scale, keep = _mask_scale(design, items, len(cols), masked, hide)
        sub = np.ix_(cols, cols)
        y32 = y.astype(np.float32)
        full_all, full_held = design.grams(opts.seed)
        gram_all = full_all[sub] * scale
        rhs_all = (design.matrix.T @ y32).astype(np.float64)[cols] * keep[:, None]
        diag = np.diag(gram_all)
        position = {}
        at = 0
        for j in items:
            position[j] = np.arange(at, at + len(design.blocks[j]))
            at += len(design.blocks[j])
        whole = _Eigen(gram_all)
        if not opts.ridge:
            held = design.held(opts.seed)
            d_held = design.matrix[held][:, cols]
            rhs_held = (design.matrix[held].T @ y32[held]).astype(np.float64)[cols] * keep[:, None]
            fit = _Eigen(gram_all - full_held[sub] * scale)
        out: dict[str, _LinearModel] = {}
        for t, (q, j) in enumerate(zip(targets, drop, strict=True)):
            span = slice(int(starts[t]), int(starts[t + 1]))
            left = position[j]
            rest = np.ones(len(cols), dtype=bool)
            rest[left] = False
            lam = float(opts.ridge)
            if not lam:  # the penalty of the grid with the least squared error on the held-out fifth
                grid = np.array(RIDGE_GRID) * float(diag[rest].mean())
                solve = fit.left_out(rhs_all[:, span] - rhs_held[:, span], left)
                errors = [
                    float(((d_held[:, rest] @ solve(g)[rest].astype(np.float32) - y32[held][:, span]) ** 2).sum())
                    for g in grid
                ]
                lam = float(grid[int(np.argmin(errors))])
            w = whole.left_out(rhs_all[:, span], left)(lam)[rest]
            kept = tuple(i for i in items if i != j)
            out[q] = cls(kept, cols[rest], w, opts.floor, lam)
        return out

    def probabilities(self, coded: np.ndarray, k: int, shared: dict[int, np.ndarray] | None = None) -> np.ndarray:
        """Probability of each of the target's *k* options for one person's coded row
        (:meth:`_Design.row`); *shared* keeps a dual solution's scores for the person's other targets."""
        if self.dual is None:
            assert self.weights is not None
            score = coded[self.inputs] @ self.weights
        else:
            key = id(self.dual)
            every = shared.get(key) if shared is not None else None
            if every is None:
                every = self.dual.scores(coded)
                if shared is not None:
                    shared[key] = every
            score = every[self.span[0] : self.span[1]]
        p = np.maximum(score, self.floor)
        return p / p.sum()


#: ridge penalties tried per target (times the mean diagonal of the Gram matrix) when ``ridge=0``
RIDGE_GRID = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0)

#: fewest targets trained at once on every other item (history=any, random-subset) for which one
#: eigendecomposition shared by all of them is used instead of one solve per target
SHARED_MIN_TARGETS = 4


class _Eigen:
    """A symmetric positive semi-definite system M = V diag(e) V', solved with any ridge penalty
    and with any item's block of unknowns left out."""

    def __init__(self, matrix: np.ndarray) -> None:
        self.values, self.vectors = _eigen(matrix)

    def left_out(self, rhs: np.ndarray, left: np.ndarray) -> Any:
        """lam -> the solution of (M + lam I)[r, r] w_r = rhs[r] for r = every row but *left*
        (zeros at *left*). With A = (M + lam I)^-1 and u = A [rhs_r; 0]:
        w = u - A[:, left] A[left, left]^-1 u[left] (the inverse of a principal sub-matrix)."""
        vecs = self.vectors
        r0 = rhs.copy()
        r0[left] = 0.0
        proj = vecs.T @ r0
        side = vecs[left].T

        def solve(lam: float) -> np.ndarray:
            inv = 1.0 / (self.values + lam)
            u = vecs @ (inv[:, None] * proj)
            if not len(left):
                return u
            a_left = vecs @ (inv[:, None] * side)
            w = u - a_left @ np.linalg.solve(a_left[left], u[left])
            w[left] = 0.0
            return w

        return solve


def _primal_ridge(
    design: _Design,
    items: Sequence[int],
    cols: np.ndarray,
    y: np.ndarray,
    starts: np.ndarray,
    opts: SupervisedOptions,
    masked: Sequence[int],
    hide: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(penalty per target, weights (len(cols), y's columns)) from the normal equations over the
    design columns *cols*, with the expected effect of hiding answers (:func:`_mask_scale`)."""
    y32 = y.astype(np.float32)
    scale, keep = _mask_scale(design, items, len(cols), masked, hide)
    held = design.held(opts.seed)
    sub = np.ix_(cols, cols)
    n_targets = len(starts) - 1

    def masked_eq(gram: np.ndarray, rhs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (gram * scale, rhs * keep[:, None]) if hide > 0 else (gram, rhs)

    full_all, full_held = design.grams(opts.seed)
    rhs_full = (design.matrix.T @ y32).astype(np.float64)
    gram_all, rhs_all = masked_eq(full_all[sub], rhs_full[cols])
    if opts.ridge:
        penalty = np.full(n_targets, opts.ridge)
    else:  # per target, the penalty of the grid with the least squared error on the held-out fifth
        d_held = design.matrix[held]
        gram_held, rhs_held = masked_eq(full_held[sub], (d_held.T @ y32[held]).astype(np.float64)[cols])
        unit = float(np.mean(np.diag(gram_all)))
        grid = np.array(RIDGE_GRID) * unit
        errors = np.empty((len(grid), n_targets))
        for g, lam in enumerate(grid):
            w = scipy.linalg.solve(_ridged(gram_all - gram_held, lam), rhs_all - rhs_held, assume_a="pos")
            sq = ((d_held[:, cols] @ w.astype(np.float32) - y32[held]) ** 2).sum(axis=0)
            errors[g] = np.add.reduceat(sq, starts[:-1])
        penalty = grid[np.argmin(errors, axis=0)]
    weights = np.empty((len(cols), y.shape[1]))
    for lam in np.unique(penalty):
        which = np.flatnonzero(penalty == lam)
        take = np.concatenate([np.arange(starts[t], starts[t + 1]) for t in which])
        weights[:, take] = scipy.linalg.solve(_ridged(gram_all, float(lam)), rhs_all[:, take], assume_a="pos")
    return penalty, weights


def _dual_ridge(
    design: _Design, cols: np.ndarray, y: np.ndarray, starts: np.ndarray, opts: SupervisedOptions
) -> tuple[np.ndarray, np.ndarray]:
    """(penalty per target, dual coefficients alpha (n, y's columns)): the same ridge solutions as :func:`_primal_ridge` without hidden answers, in the dual form:
    (X'X + lam I)^-1 X'Y = X'(XX' + lam I)^-1 Y with X the design columns *cols*. One
    eigendecomposition of the people-by-people kernel XX' gives every penalty of the grid and
    every target at once (the held-out fifth's predictions: K_ht Q (E + lam)^-1 Q'Y_t), so the
    cost grows with the training people, not with the indicator columns. The weights are X'alpha;
    a person's scores are their products with the training people times alpha (:class:`_DualSolution`)."""
    kernel = design.kernel(cols)
    n_targets = len(starts) - 1
    if opts.ridge:
        penalty = np.full(n_targets, opts.ridge)
    else:
        held = design.held(opts.seed)
        fit = ~held
        grid = np.array(RIDGE_GRID) * (float(np.trace(kernel)) / len(cols))  # the mean diagonal of X'X
        evals, vecs = _eigen(kernel[np.ix_(fit, fit)])
        reach = kernel[np.ix_(held, fit)] @ vecs
        proj = vecs.T @ y[fit]
        errors = np.empty((len(grid), n_targets))
        for g, lam in enumerate(grid):
            sq = (((reach / (evals + lam)) @ proj - y[held]) ** 2).sum(axis=0)
            errors[g] = np.add.reduceat(sq, starts[:-1])
        penalty = grid[np.argmin(errors, axis=0)]
    evals, vecs = _eigen(kernel)
    per_column = np.repeat(penalty, np.diff(starts))
    return penalty, vecs @ ((vecs.T @ y) / (evals[:, None] + per_column[None, :]))


def _eigen(kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (rounding below zero clipped) and eigenvectors of a symmetric PSD matrix."""
    evals, vecs = scipy.linalg.eigh(kernel, check_finite=False)
    return np.maximum(evals, 0.0), vecs


def _ridged(gram: np.ndarray, lam: float) -> np.ndarray:
    out = gram.copy()
    out[np.diag_indices_from(out)] += lam
    return out


def _mask_scale(
    design: _Design, items: Sequence[int], width: int, masked: Sequence[int], hide: float
) -> tuple[np.ndarray, np.ndarray]:
    """(factor of each Gram entry, factor of each right-hand-side row) when each answer of a
    *masked* item is hidden with probability *hide*: (1 - hide)^2 across two items, 1 - hide
    within one item (its indicators are kept or hidden together) and on the right-hand side."""
    keep = np.ones(width)
    if hide <= 0:
        return np.ones((width, width)), keep
    owner = np.full(width, -1)
    pos = 0
    masked_set = set(masked)
    for j in items:
        n = len(design.blocks[j])
        if j in masked_set:
            keep[pos : pos + n] = 1.0 - hide
            owner[pos : pos + n] = j
        pos += n
    scale = np.outer(keep, keep)
    same = (owner[:, None] == owner[None, :]) & (owner[:, None] >= 0)
    scale[same] = 1.0 - hide
    return scale, keep


def _standardised(x: np.ndarray) -> np.ndarray:
    """Columns of *x* with missing values at the column mean, scaled to mean 0 and sd 1."""
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(x, axis=0)
    mean = np.where(np.isnan(mean), 0.0, mean).astype(np.float32)
    z = np.where(np.isnan(x), mean, x)
    z -= z.mean(axis=0)
    z /= z.std(axis=0) + 1e-6
    return z.astype(np.float32)


@dataclass
class _FittedModel:
    features: tuple[str, ...]
    columns: np.ndarray  # positions of the model's inputs in a task vector (items, then country)
    booster: Any  # lightgbm.Booster or None (a single class in the training data)
    classes: np.ndarray  # answer ranks the booster's outputs refer to

    def probabilities(self, vec: np.ndarray, k: int) -> np.ndarray:
        """Probability of each of the target's *k* options for one task vector."""
        raw = np.asarray(self.booster.predict(vec[self.columns][None, :], num_threads=1)).reshape(-1)
        if len(self.classes) == 2 and raw.size == 1:
            raw = np.array([1.0 - raw[0], raw[0]])
        probs = np.zeros(k)
        probs[self.classes] = raw
        return probs


# --------------------------------------------------------------------------- new-questions baselines
#
# Legal under the benchmark's ``new-questions`` protocol (and for ``valuesim simulate``): they use
# nothing but the question wording and the person's own answers to other questions.


def _middle(codes: Sequence[int]) -> int:
    """The middle option (lower median): under a uniform belief it minimises the expected
    distance on an ordered scale."""
    return int(codes[(len(codes) - 1) // 2])


@register("uniform", "Every option equally likely; predicts the middle option (needs no one's answers).")
class UniformBaseline(Method):
    """Chance: probability 1/n for each of the n options; the prediction is the middle option."""

    needs_target_answers: ClassVar[bool] = False

    def predict(self, task: Task) -> list[Prediction]:
        out = []
        for qid in task.targets:
            codes = self.codebook.get(qid).answer_codes
            if not codes:
                out.append(
                    Prediction(task.respondent.id, qid, task.fold, None, None, task.condition, {"abstained": "numeric"})
                )
                continue
            probs = {c: 1.0 / len(codes) for c in codes}
            out.append(Prediction(task.respondent.id, qid, task.fold, _middle(codes), probs, task.condition))
        return out


class TextTransferOptions(MethodOptions):
    threshold: float = Field(
        0.05, ge=0.0, le=1.0, description="least BM25 similarity (relative to the target's own text) of a source"
    )
    smoothing: float = Field(
        0.5, ge=0.0, le=1.0, description="share of probability spread uniformly over the options (rest on the answer)"
    )


def transfer_code(source_codes: Sequence[int], source_answer: int, source_ordered: bool, target: Any) -> int | None:
    """The person's answer to a source question mapped onto *target*'s options.

    Both ordered: the same relative position on the scale (first -> first, last -> last,
    the middle -> the middle; ``round(r * (n_target - 1))`` with ``r`` the answer's rank / (n_source - 1)).
    Otherwise: the target option with the same label, if there is one; else None."""
    t_codes = target.answer_codes
    if source_ordered and target.ordered and len(source_codes) > 1:
        r = source_codes.index(source_answer) / (len(source_codes) - 1)
        return int(t_codes[round(r * (len(t_codes) - 1))])
    return None


@register(
    "text-transfer",
    "The person's answer to their known question most similar in wording (BM25), mapped onto the target's scale.",
)
class TextTransferBaseline(Method):
    """For each target: the history question most similar in wording (BM25 over the short
    wordings, as ``rag`` retrieves), and the person's answer to it placed at the same relative
    position on the target's scale (see :func:`transfer_code`). Unordered questions take the
    option with the same label; with no similar question or no mapping: the middle option."""

    needs_target_answers: ClassVar[bool] = False
    Options: ClassVar[type[MethodOptions]] = TextTransferOptions
    opts: TextTransferOptions

    def __init__(self, codebook: Codebook, **options: Any) -> None:
        super().__init__(codebook, **options)
        self._retriever: Any = None

    def __getstate__(self) -> dict[str, Any]:  # the BM25 index is rebuilt where the method runs
        return {**self.__dict__, "_retriever": None}

    def _similar(self, qid: str, history: list[str]) -> Any:
        if self._retriever is None:
            from valuesim.methods.retrieval import QuestionRetriever

            self._retriever = QuestionRetriever(self.codebook)
        hits = self._retriever.similar(qid, history, k=1, threshold=self.opts.threshold)
        return hits[0] if hits else None

    def predict(self, task: Task) -> list[Prediction]:
        person = task.respondent
        cb = self.codebook
        history = [
            h
            for h in person.answered()
            if h in cb and not cb.get(h).profile and cb.get(h).kind is not QuestionKind.NUMERIC
        ]
        out = []
        for qid in task.targets:
            q = cb.get(qid)
            codes = q.answer_codes
            if not codes:
                out.append(Prediction(person.id, qid, task.fold, None, None, task.condition, {"abstained": "numeric"}))
                continue
            hit = self._similar(qid, [h for h in history if h != qid])
            code, meta = None, {}
            if hit is not None:
                src = cb.get(hit.qid)
                answer = person.answers[hit.qid]
                code = transfer_code(src.answer_codes, answer, src.ordered, q)
                if code is None:  # unordered: the same label, if the target has it
                    label = src.label(answer).strip().lower()
                    code = next((c for c in codes if q.label(c).strip().lower() == label), None)
                meta = {"source": hit.qid, "similarity": hit.similarity, "source_answer": answer}
            if code is None:
                code = _middle(codes)
                meta["fallback"] = (
                    "no similar known question" if hit is None else "no mapping onto the target's options"
                )
            s = self.opts.smoothing
            probs = {c: s / len(codes) + (1.0 - s) * (c == code) for c in codes}
            out.append(Prediction(person.id, qid, task.fold, code, probs, task.condition, meta))
        return out

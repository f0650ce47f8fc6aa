"""``item-transfer``: a new question answered from the person's answers to the items it is related to.

What a question is related to, and in which direction, is a property of the question, learned
once from its wording (:mod:`valuesim.relations`); each person's own answers then carry it to
them. For a target question:

1. the relations model predicts the target's signed association ``c_k`` (and its spread
   ``s_k``) with every known item;
2. the person's answers to the ``max_items`` most related items they answered become normal
   scores ``z_k`` (``Phi^-1`` of the answer's mid-rank among the training people);
3. a Gaussian copula: the target's latent score given those answers is normal with mean
   ``beta' z`` and variance ``1 - beta' c`` (``beta = Sigma^-1 c``, ``Sigma`` the observed
   associations among the chosen items, ``c`` shrunk by ``shrink`` and by its own uncertainty
   ``c^2 / (c^2 + kappa s^2)``), its variance widened by ``inflate``;
4. the latent score is cut into the target's options at thresholds from a marginal: ``uniform``
   (each option 1/n) or ``similar`` (the answer distributions, in the person's country, of the known
   items with as many options that are most similar in wording and most strongly related, reversed
   when their scale runs the other way, averaged as latent cut points).

A share ``copy`` of the probability goes to the person's answers to the known items most similar in
wording with as many options (battery response style: up to ``copy_items`` siblings weighted by
``similarity^2 x |association|``), at the same relative position; its weight is calibrated by the
strength of the copied items' predicted association (:data:`COPY_BINS`). Unordered targets take the
marginal and the same-label answer of the most similar item.

Optional LLM item judgments (``-o judge=SPEC``, off by default): the relations of the target's
``judge_k`` most related items are also judged by a language model, once per pair of items (not
per person; :mod:`valuesim.methods.item_judge`), and join the predicted associations with a weight
fitted on judged known pairs (:mod:`valuesim.relations.model`); and (``judge_distributions``, on with
a judge) the judge says how the people of the person's country answer the target, once per question
and country, which joins the ``similar`` marginal at a share calibrated like the rest (marginal
``judged=W``), kept only when it beats both the best setting without one and its control ``flat=W``
(the uniform in place of the judged distribution) on the pseudo-new items (the lower end of each 95%
bootstrap interval over items above zero; ``calibration["judged_check"]``). Before
the mixing, a judged distribution is raised to a power ``v`` and renormalised: a temperature fitted
(unless ``judge_power`` gives it) by the likelihood of the calibration people's answers to the
pseudo-new items under the judged distributions alone, so a judge whose distributions are too flat
(averaged or hedged answers) or too peaked (an overconfident model) is corrected before its share is
chosen (``calibration["judged_power"]``; a noise judge's distributions are flattened towards uniform). ``-o judge=mock:item-oracle=P`` is the SIMULATED item-level
oracle (it knows the pair's true association and the item's true answer distribution; a test
instrument).

``shrink``, ``kappa``, ``inflate``, ``copy`` and the marginal are calibrated in ``fit`` on *pseudo-new*
items: known items whose relations were predicted while they were hidden (the relations model's
cross-fitting), scored on training people -- so the calibration, too, never reads an answer to a
question it is asked to predict. Targets whose options have no order (more than two unordered
options) get the marginal alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, field_validator
from scipy.special import ndtr, ndtri

from valuesim._redact import register_secret
from valuesim.errors import ConfigError
from valuesim.methods.base import Method, Prediction, Task, register
from valuesim.methods.options import MethodOptions
from valuesim.relations import RelationsModel, RelationsOptions, orderable
from valuesim.survey.codebook import Codebook, Question
from valuesim.survey.dataset import SurveyData

#: calibration grid: shrink x kappa x inflate x marginal
SHRINKS = (0.0, 0.4, 0.8, 1.0, 1.2, 1.5)  # 0: the marginal alone (relations that do not help)
#: least wording similarity of a known item with as many options whose answer is copied
COPY_MIN_SIMILARITY = 0.2
#: weight of the same-label answer of the most similar known item, for unordered targets (as text-transfer)
LABEL_COPY = 0.5
#: least variance of the target's latent score given the related answers
MIN_VARIANCE = 0.1
KAPPAS = (1.0,)
INFLATES = (1.0,)
MARGINALS = ("uniform", "similar")
#: with judged answer distributions (``judge`` and ``judge_distributions``): the calibration also tries
#: the ``similar`` marginal mixed with the judged distribution at these shares ("judged=W")
JUDGED_SHARES = (0.25, 0.5, 0.75, 1.0)
#: the range the power of the judged distributions is fitted in, and the floor of a judged probability
JUDGED_POWERS = (0.25, 4.0)
JUDGED_FLOOR = 1e-4
#: known items whose answer distributions make the ``similar`` marginal, and its share of the uniform
MARGINAL_ITEMS = 16
MARGINAL_UNIFORM = 0.05
COPIES = (0.0, 0.2, 0.4, 0.6)
#: the copy weight is calibrated separately by the |predicted association| of the copied item, in
#: bins cut at these edges (a near-duplicate sibling earns more weight than a loosely related item)
COPY_BINS = (0.25, 0.4, 0.55)
#: fewest calibration answers for a bin to get its own copy weight
MIN_BIN = 200


def copy_bin(strength: float) -> int:
    """The bin (0 .. len(COPY_BINS)) of a copied item's |predicted association|."""
    return int(np.searchsorted(COPY_BINS, strength, side="right"))


def point_score(guess: int, truth: int, n: int, ordered: bool) -> float:
    """What a point answer (option index *guess*) earns against *truth*: 1 if right, minus its
    rank error ``|guess - truth| / (n - 1)`` on an ordered scale (the two headline metrics)."""
    error = abs(guess - truth) / (n - 1) if ordered and n > 1 else 0.0
    return float(guess == truth) - error


def copy_weight(prm: dict[str, Any], strength: float) -> float:
    """The weight of the copied answer under the settings *prm*: ``copy`` is one weight, or one per
    :data:`COPY_BINS` bin of the copied item's |predicted association|."""
    w = prm.get("copy") or 0.0
    if isinstance(w, list | tuple):
        return float(w[min(copy_bin(strength), len(w) - 1)])
    return float(w)


class ItemTransferOptions(MethodOptions):
    max_items: int = Field(default=20, ge=1, description="most related answered items combined per target")
    min_association: float = Field(default=0.05, ge=0.0, le=1.0, description="least |predicted association| used")
    ridge: float = Field(default=0.1, ge=0.0, le=1.0, description="shrinkage of the items' correlation matrix to I")
    marginal: Literal["auto", "uniform", "similar"] = Field(
        default="auto", description="thresholds of the target's options (auto: calibrated)"
    )
    copy_weight: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="weight of the answer to the most related item copied onto the target's scale (None: calibrated)",
    )
    copy_items: int = Field(
        default=8,
        ge=1,
        description="battery siblings (same number of options, similar wording) whose answers the copy spreads over, "
        "weighted by similarity^2 x |association| (1: the most similar one)",
    )
    shrink: float | None = Field(
        default=None, ge=0.0, le=2.0, description="scale of the associations (None: calibrated)"
    )
    encoder: Literal["auto", "static", "none"] = Field(
        default="auto", description="sentence encoder of the relations model (static: the wordllama wheel)"
    )
    within_country: bool = Field(
        default=True,
        description="country-level answer distributions: the person's answers scored within their country and "
        "the target's thresholds from similar items' distribution in that country",
    )
    point: Literal["calibrated", "mode"] = Field(
        default="calibrated",
        description="the answer given: the mode of the distribution, or the mode under the setting whose mode "
        "scored best on the pseudo-new items, right minus its rank error (calibrated; the probabilities stay the "
        "best-scoring ones)",
    )
    rounds: int = Field(default=300, ge=10, description="boosting rounds of the relations model")
    relation_folds: int = Field(default=5, ge=2, description="item groups of the relations model's cross-fitting")
    calibration_items: int = Field(default=60, ge=0, description="pseudo-new items the calibration scores")
    calibration_people: int = Field(default=600, ge=1, description="training people the calibration scores")
    seed: int = 0
    judge: str | None = Field(
        default=None,
        description="model spec of LLM item judgments, once per pair of items (off by default): local, "
        "openai:NAME, mock:item-oracle=P (SIMULATED: knows the true association)",
    )
    judge_k: int = Field(default=20, ge=1, description="most related known items judged per question (judge)")
    judge_distributions: bool = Field(
        default=True,
        description="the judge also says how people of the person's country answer the question, once per "
        "question and country; mixed into the marginal at a calibrated share (judge)",
    )
    judge_orders: int = Field(
        default=2,
        ge=1,
        le=8,
        description="listings of the options each judged distribution is asked in and averaged over (1: in order; "
        "2: also reversed; more: cyclic shifts), against the models' letter and position preferences",
    )
    judge_power: float | None = Field(
        default=None,
        gt=0,
        le=10,
        description="power v the judged answer distributions are raised to before mixing (1: as judged; none: "
        "fitted on the calibration's pseudo-new items, a temperature against too flat or too peaked judges)",
    )
    judge_groups: int = Field(
        default=10,
        ge=1,
        description="countries whose answer distributions the calibration judges: the most frequent among its "
        "people (judge_distributions)",
    )
    judge_items: int = Field(
        default=60, ge=0, description="known items whose judge_k pairs are judged to fit the judgments' weight (judge)"
    )
    judge_base_url: str | None = Field(default=None, description="OpenAI-compatible server URL(s) of the judge")
    judge_api_key: str | None = Field(
        default=None, exclude=True, repr=False, description="API key of the judge's server; never written"
    )

    @field_validator("judge_api_key")
    @classmethod
    def _secret(cls, v: str | None) -> str | None:
        register_secret(v)  # masked wherever it might appear (e.g. the command line in a manifest)
        return v


def category_probs(mu: float, sd: float, thresholds: np.ndarray) -> np.ndarray:
    """P(option j) of a latent N(mu, sd^2) cut at *thresholds* (len = n_options - 1, increasing)."""
    cdf = ndtr((thresholds - mu) / sd)
    p = np.diff(np.concatenate([[0.0], cdf, [1.0]]))
    p = np.clip(p, 1e-6, None)
    return p / p.sum()


def sharpen(probs: np.ndarray, power: float) -> np.ndarray:
    """*probs* raised to *power* and renormalised (> 1 sharper, < 1 flatter; probabilities floored at
    JUDGED_FLOOR first so no option becomes impossible); power 1 leaves them unchanged."""
    if power == 1.0:
        return probs
    logp = power * np.log(np.clip(probs, JUDGED_FLOOR, None))
    p = np.exp(logp - logp.max())
    return p / p.sum()


def thresholds_of(probs: np.ndarray) -> np.ndarray:
    """Latent cut points that give a standard normal score the answer distribution *probs*."""
    c = np.cumsum(probs)[:-1]
    return np.asarray(ndtri(np.clip(c, 1e-4, 1 - 1e-4)))


def conditional(c: np.ndarray, sigma: np.ndarray, z: np.ndarray, ridge: float) -> tuple[float, float]:
    """(mean, variance) of a standard normal target correlated *c* with standard normal items of
    correlation matrix *sigma* (shrunk to I by *ridge*), given their scores *z*."""
    if not len(c):
        return 0.0, 1.0
    s = (1.0 - ridge) * sigma + ridge * np.eye(len(c))
    beta = np.linalg.solve(s, c)
    explained = float(beta @ c)
    if explained > 1.0 - MIN_VARIANCE:
        # c is inconsistent with sigma (the joint correlation matrix would not be positive definite):
        # scale the associations down until the items explain at most 1 - MIN_VARIANCE of the target
        alpha = float(np.sqrt((1.0 - MIN_VARIANCE) / explained))
        return alpha * float(beta @ z), MIN_VARIANCE
    return float(beta @ z), 1.0 - explained


@register(
    "item-transfer",
    "The person's answers on the items a question is related to (predicted from its wording), combined by a "
    "Gaussian copula into a distribution over its options.",
)
class ItemTransfer(Method):
    """See the module docstring."""

    needs_target_answers: ClassVar[bool] = False
    learns_from_known_items: ClassVar[bool] = True
    #: `valuesim ask` fits it for one person: a third of the calibration people (the calibration is most of
    #: the fit) -- the same top-1 under --protocol new-questions (docs/results/ask_item_transfer.json)
    single_person_options: ClassVar[dict[str, Any]] = {"calibration_people": 200}
    Options: ClassVar[type[MethodOptions]] = ItemTransferOptions
    opts: ItemTransferOptions

    def __init__(self, codebook: Codebook, **options: Any) -> None:
        super().__init__(codebook, **options)
        self._rel: RelationsModel | None = None
        self.params: dict[str, Any] = {}
        self.calibration: dict[str, Any] = {}
        self._judge: Any = None
        self._calibration_groups: set[str | None] | None = None
        self._judged_power = 1.0  # the power v of the judged distributions
        if self.opts.judge is not None:
            from valuesim.methods.item_judge import ItemJudge

            self._judge = ItemJudge(
                self.opts.judge,
                base_url=self.opts.judge_base_url,
                api_key=self.opts.judge_api_key,
                orders=self.opts.judge_orders,
            )

    @property
    def usage(self) -> Mapping[str, float] | None:
        """The item judge's model use (None without a judge)."""
        return None if self._judge is None else self._judge.usage.to_metrics(latency=False)

    @property
    def relations(self) -> RelationsModel:
        if self._rel is None:
            raise ConfigError(
                "Method 'item-transfer' has not been fitted.",
                "Call method.fit(train_data) first (bench, simulate and ask do this for you).",
            )
        return self._rel

    # ------------------------------------------------------------------ fit

    def fit(self, train: SurveyData) -> None:
        if self._judge is not None:
            _ = self._judge.model  # a bad judge spec is an error before anything is fitted
        rel = RelationsModel.from_data(
            train,
            self.codebook,
            RelationsOptions(
                encoder=self.opts.encoder,
                seed=self.opts.seed,
                within_country=self.opts.within_country,
                n_estimators=self.opts.rounds,
                folds=self.opts.relation_folds,
                judge_k=self.opts.judge_k,
                judge_items=self.opts.judge_items,
            ),
            judge=self._judge,
        )
        self._rel = rel
        self._sigma = np.nan_to_num(rel.observed.corr, nan=0.0)
        self._observed = rel.observed
        fixed = {
            "shrink": self.opts.shrink,
            "marginal": None if self.opts.marginal == "auto" else self.opts.marginal,
        }
        self._calibration_groups = None  # set while calibrating with judged distributions
        self._judged_power = self.opts.judge_power or 1.0
        self.params, self.calibration = self._calibrate(train, fixed)
        self._calibration_groups = None

    def config(self) -> dict[str, Any]:
        conf = super().config()
        if conf.get("judge") is None:  # no judgments: runs made before the option existed stay resumable
            for key in (
                "judge",
                "judge_k",
                "judge_items",
                "judge_base_url",
                "judge_distributions",
                "judge_groups",
                "judge_orders",
                "judge_power",
            ):
                conf.pop(key, None)
        return conf

    def fit_report(self) -> dict[str, Any] | None:
        if self._rel is None:
            return None
        return {"relations": self._rel.report(), "params": self.params, "calibration": self.calibration}

    def _calibrate(self, train: SurveyData, fixed: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Choose shrink, kappa, inflate and marginal by the mean log-likelihood of training people's
        answers to pseudo-new items (their relations predicted while they were hidden)."""
        rel = self.relations
        default = {
            "copy": self.opts.copy_weight or 0.0,
            "shrink": fixed["shrink"] or 0.8,
            "kappa": 1.0,
            "inflate": 1.0,
            "marginal": fixed["marginal"] or "uniform",
            "point": None,
        }
        cands = [i for i, q in enumerate(rel.items) if not rel.questions[i].profile and np.isfinite(rel.oof[i]).any()]
        rng = np.random.default_rng([self.opts.seed, 2605])
        if not cands or self.opts.calibration_items == 0:
            return default, {"n": 0, "note": "no pseudo-new items to calibrate on: defaults"}
        n_items = min(len(cands), self.opts.calibration_items)
        if rel.judge is None:
            items = sorted(rng.choice(cands, size=n_items, replace=False).tolist())
        else:  # pseudo-new items as a new question is predicted: with their judged pairs first; when fewer
            # items were judged than the calibration scores, the rest keep wording relations (a calibration
            # on a handful of items would choose its settings by chance)
            judged = {rel.index[q] for q in rel.judged_items}
            first = [i for i in cands if i in judged]
            rest = [i for i in cands if i not in judged]
            take = min(len(first), n_items)
            items = rng.choice(first, size=take, replace=False).tolist() if take else []
            if n_items > take and rest:
                items += rng.choice(rest, size=min(len(rest), n_items - take), replace=False).tolist()
            items = sorted(items)
        people = rng.choice(len(train), size=min(len(train), self.opts.calibration_people), replace=False)
        rows = np.sort(people)
        values = train.matrix(rel.items)[rows]
        countries = train.frame["country"].astype(str).to_numpy()[rows]
        z_all = np.full(values.shape, np.nan)
        for r in range(len(rows)):
            z_all[r] = self._scores(values[r], countries[r])
        shrinks = (fixed["shrink"],) if fixed["shrink"] is not None else SHRINKS
        margins: tuple[str, ...] = (fixed["marginal"],) if fixed["marginal"] is not None else MARGINALS
        power_report: dict[str, Any] | None = None
        if self._judges_distributions and fixed["marginal"] is None:
            # each judged=W with its control flat=W (the similar marginal mixed with the uniform at the same
            # share): scored, never chosen; the judged check compares against it (see below)
            margins += tuple(f"judged={w:g}" for w in JUDGED_SHARES) + tuple(f"flat={w:g}" for w in JUDGED_SHARES)
            # the calibration's judged distributions: its items in the judge_groups countries most of its
            # people come from (people of other countries score the judged marginals like "similar")
            groups, sizes = np.unique([self._group(c) or "" for c in countries], return_counts=True)
            kept = groups[np.argsort(-sizes, kind="stable")[: self.opts.judge_groups]]
            self._calibration_groups = {g or None for g in kept.tolist()}
            self._judged([(rel.questions[t], g or None) for t in items for g in sorted(kept.tolist())])
            power_report = self._fit_power(items, values[:, items], countries)
        copies = (self.opts.copy_weight,) if self.opts.copy_weight is not None else COPIES
        grid = [(s, k, f, mg) for s in shrinks for k in KAPPAS for f in INFLATES for mg in margins]
        n_bins = len(COPY_BINS) + 2  # bin 0: no answer to copy; then by the copied item's |association|
        pos_all = np.vstack([self._positions(v) for v in values])
        loglik = np.zeros((len(grid), len(copies), n_bins))
        hits = np.zeros((len(grid), len(copies), n_bins))
        # the point answer's score: right (1) minus its rank error (0..1, ordered targets), so a
        # setting whose mode ties or sits at the wrong end cannot win by top-1 alone
        point = np.zeros((len(grid), len(copies), n_bins))
        counts = np.zeros(n_bins)
        per_item = np.zeros((len(items), len(grid), len(copies), n_bins))  # the log-likelihood by item
        n = 0
        for ti, t in enumerate(items):
            q = rel.questions[t]
            pool = np.isfinite(rel.oof[t])
            c_all = rel.oof[t].astype(float)
            sims_t = rel.similarity(q, pool)
            s_all = np.full(len(c_all), rel._spread_const)
            truth = values[:, t]
            codes = list(self._observed.marginals[q.id].codes)
            th: dict[tuple[str, str], np.ndarray] = {}
            for r in range(len(truth)):
                if not np.isfinite(truth[r]) or int(truth[r]) not in codes:
                    continue
                y = codes.index(int(truth[r]))
                answered = pool & np.isfinite(z_all[r])
                n += 1
                cache: dict[tuple[float, float], tuple[float, float]] = {}
                copy, strength = self._copy(c_all, sims_t, answered, pos_all[r], len(codes))
                b = 0 if copy is None else 1 + copy_bin(strength)
                counts[b] += 1
                for g, (s, k, f, mg) in enumerate(grid):
                    if (s, k) not in cache:
                        cache[(s, k)] = self._latent(c_all, s_all, answered, z_all[r], s, k)
                    mu, var = cache[(s, k)]
                    if (mg, countries[r]) not in th:
                        marginal = self._marginal_probs(q, mg, c_all, sims_t, countries[r])
                        th[(mg, countries[r])] = thresholds_of(marginal)
                    p = category_probs(mu, float(np.sqrt(var * f)), th[(mg, countries[r])])
                    for wi, w in enumerate(copies):
                        pw = p if w == 0 or copy is None else (1 - w) * p + w * copy
                        loglik[g, wi, b] += np.log(pw[y])
                        per_item[ti, g, wi, b] += np.log(pw[y])
                        guess = int(np.argmax(pw))
                        hits[g, wi, b] += guess == y
                        point[g, wi, b] += point_score(guess, y, len(codes), q.ordered)
        if not n:
            return default, {"n": 0, "note": "no answers to score: defaults"}

        def choose(score: np.ndarray) -> tuple[int, list[float], float]:
            """The setting and per-strength copy weights of the highest total *score* (bins with
            fewer than MIN_BIN answers take the weight best over all bins)."""
            overall = score.sum(axis=2)  # (grid, copies)
            per_bin = np.where(counts >= MIN_BIN, score.max(axis=1), 0.0)  # (grid, bins)
            rest = np.stack([score[g, :, counts < MIN_BIN].sum(axis=0) for g in range(len(grid))])  # (grid, copies)
            total = per_bin.sum(axis=1) + rest.max(axis=1)
            g = int(np.argmax(total))
            fallback = int(np.argmax(rest[g])) if (counts < MIN_BIN).any() else int(np.argmax(overall[g]))
            ws = [
                float(copies[int(np.argmax(score[g, :, b]))] if counts[b] >= MIN_BIN else copies[fallback])
                for b in range(1, n_bins)
            ]
            return g, ws, float(total[g])

        is_control = np.array([str(gm).startswith("flat=") for (_, _, _, gm) in grid])
        selectable = loglik.copy()
        selectable[is_control] = -np.inf
        best, weights, best_ll = choose(selectable)
        judged_check = None
        is_judged = np.array([str(gm).startswith("judged=") for (_, _, _, gm) in grid])
        if is_judged[best]:
            # a judged answer distribution is kept only if it beats, by a 95% bootstrap lower bound over
            # items > 0 (items are what a new question is drawn from), both the best setting without one
            # and its control -- the same setting with the uniform in place of the judged distribution --
            # on the pseudo-new items: a judge whose distributions are noise must not win by chance, nor
            # be credited with what flattening the similar marginal alone gains
            plain = selectable.copy()
            plain[is_judged] = -np.inf
            alt, alt_weights, alt_ll = choose(plain)
            bs, bk, bf, bmg = grid[best]
            control = grid.index((bs, bk, bf, "flat=" + str(bmg).split("=", 1)[1]))

            def by_item(g: int, ws: list[float]) -> np.ndarray:
                return per_item[:, g, 0, 0] + sum(per_item[:, g, copies.index(w), b + 1] for b, w in enumerate(ws))

            boot_rng = np.random.default_rng([self.opts.seed, 2606])
            draws = boot_rng.integers(0, len(items), size=(1000, len(items)))

            def gain(diff: np.ndarray) -> dict[str, Any]:
                lo, hi = (float(x) for x in np.quantile(diff[draws].sum(axis=1) / n, [0.025, 0.975]))
                return {"gain_nats_per_answer": float(diff.sum() / n), "ci95": [lo, hi]}

            vs_plain = gain(by_item(best, weights) - by_item(alt, alt_weights))
            vs_flat = gain(by_item(best, weights) - by_item(control, weights))
            earned = vs_plain["ci95"][0] > 0 and vs_flat["ci95"][0] > 0
            judged_check = {
                "marginal": grid[best][3],
                **vs_plain,
                "vs_flat": vs_flat,
                "items": len(items),
                "kept": earned,
            }
            if not earned:
                best, weights, best_ll = alt, alt_weights, alt_ll
        s, k, f, mg = grid[best]
        params: dict[str, Any] = {
            "shrink": s,
            "kappa": k,
            "inflate": f,
            "marginal": mg,
            "copy": weights,
            "point": None,
        }
        if power_report is not None:
            params["judged_power"] = self._judged_power
        point_hits = None
        if self.opts.point == "calibrated":  # the answer given: the setting whose mode scored best
            if not str(mg).startswith("judged="):  # judged distributions steer the answer only when they
                # earned their place in the likelihood (a point score's argmax over many noisy variants
                # would otherwise pick one by chance)
                point[is_judged] = -np.inf
            point[is_control] = -np.inf
            pb, pws, _ = choose(point)
            ps, pk, pf, pmg = grid[pb]
            point_hits = float(hits[pb, 0, 0]) + sum(float(hits[pb, copies.index(w), b + 1]) for b, w in enumerate(pws))
            params["point"] = {"shrink": ps, "kappa": pk, "inflate": pf, "marginal": pmg, "copy": pws}
        best_hits = float(hits[best, 0, 0]) + sum(
            float(hits[best, copies.index(w), b + 1]) for b, w in enumerate(weights)
        )
        report = {
            "n": n,
            "items": len(items),
            "people": len(people),
            "mean_loglik": best_ll / n,
            "top1": best_hits / n,
            "point_top1": None if point_hits is None else point_hits / n,
            "copy_bins": {"edges": list(COPY_BINS), "answers": [int(x) for x in counts]},
            "judged_check": judged_check,
            "judged_power": power_report,
            "grid": [
                {
                    "shrink": gs,
                    "kappa": gk,
                    "inflate": gf,
                    "marginal": gm,
                    "copy": gw,
                    "mean_loglik": float(loglik[g, wi].sum() / n),
                    "top1": float(hits[g, wi].sum() / n),
                }
                for g, (gs, gk, gf, gm) in enumerate(grid)
                for wi, gw in enumerate(copies)
            ],
        }
        return params, report

    # ------------------------------------------------------------------ the copula

    def _latent(
        self, c_all: np.ndarray, s_all: np.ndarray, answered: np.ndarray, z: np.ndarray, shrink: float, kappa: float
    ) -> tuple[float, float]:
        ok = answered & np.isfinite(c_all) & (np.abs(c_all) >= self.opts.min_association)
        idx = np.flatnonzero(ok)
        if not len(idx):
            return 0.0, 1.0
        idx = idx[np.argsort(-np.abs(c_all[idx]), kind="stable")[: self.opts.max_items]]
        c = c_all[idx]
        if kappa > 0:
            c = c * c**2 / (c**2 + kappa * s_all[idx] ** 2)
        c = np.clip(shrink * c, -0.95, 0.95)
        return conditional(c, self._sigma[np.ix_(idx, idx)], z[idx], self.opts.ridge)

    def _positions(self, values: np.ndarray) -> np.ndarray:
        """Relative scale position (0 = first option, 1 = last) of one person's codes; NaN unanswered."""
        out = np.full(len(values), np.nan)
        for j in np.flatnonzero(np.isfinite(values)):
            codes = self._observed.marginals[self.relations.items[j]].codes
            if int(values[j]) in codes and len(codes) > 1:
                out[j] = codes.index(int(values[j])) / (len(codes) - 1)
        return out

    def _copy(
        self, c_all: np.ndarray, sims: np.ndarray, answered: np.ndarray, pos: np.ndarray, n: int
    ) -> tuple[np.ndarray | None, float]:
        """The person's answers to the known items most similar in wording among those with as many
        options (battery siblings: people answer a battery in one style; up to ``copy_items``, weighted
        by similarity^2 x |association|), each moved to the same relative position of the target's
        scale (mirrored when its predicted association is negative); failing one similar by
        COPY_MIN_SIMILARITY, the most related item (|c| >= 0.3). None when neither exists. Returned
        with the copied items' largest |predicted association| (0 if none)."""
        ok = answered & np.isfinite(pos)
        same = ok & (self.relations.cues.n_options == n) & np.isfinite(sims) & (sims >= COPY_MIN_SIMILARITY)
        if same.any():
            idx = np.flatnonzero(same)
            if self.opts.copy_items > 1:  # the battery: the most similar and related siblings, weighted
                c = np.abs(np.nan_to_num(c_all[idx], nan=0.0))
                w = sims[idx] ** 2 * np.maximum(c, 0.05)
                top = np.argsort(-w, kind="stable")[: self.opts.copy_items]
                idx, w = idx[top], w[top] / w[top].sum()
            else:
                idx, w = idx[[int(np.argmax(sims[idx]))]], np.ones(1)
        else:
            idx = np.flatnonzero(ok & np.isfinite(c_all))
            if not len(idx):
                return None, 0.0
            j = idx[int(np.argmax(np.abs(c_all[idx])))]
            if abs(c_all[j]) < 0.3:
                return None, 0.0
            idx, w = np.array([j]), np.ones(1)
        out = np.zeros(n)
        for j, wj in zip(idx, w, strict=True):
            negative = bool(np.isfinite(c_all[j]) and c_all[j] <= -0.1)
            at = 1.0 - pos[j] if negative else pos[j]
            out[round(at * (n - 1))] += wj
        strength = np.abs(np.nan_to_num(c_all[idx], nan=0.0)).max()
        return out, float(strength)

    def _same_label(self, q: Question, sims: np.ndarray, values: np.ndarray) -> np.ndarray | None:
        """Unordered targets: all probability on the option labelled like the person's answer to the
        most similar known item that has an option with that label (None if there is none)."""
        rel = self.relations
        labels = [" ".join(q.label(c).lower().split()) for c in q.answer_codes]
        for j in np.argsort(-np.nan_to_num(sims, nan=-1.0), kind="stable"):
            if not np.isfinite(values[j]) or not sims[j] > 0:
                continue
            known = rel.questions[j]
            code = int(values[j])
            if code not in known.options:
                continue
            label = " ".join(known.label(code).lower().split())
            if label in labels:
                out = np.zeros(len(labels))
                out[labels.index(label)] = 1.0
                return out
        return None

    def _scores(self, values: np.ndarray, country: str | None) -> np.ndarray:
        """Normal scores of one person's codes on the known items (NaN where unanswered)."""
        out = np.full(len(values), np.nan)
        group = country if self.opts.within_country else None
        for j in np.flatnonzero(np.isfinite(values)):
            score = self._observed.marginal(self.relations.items[j], group).normal_score(int(values[j]))
            out[j] = np.nan if score is None else score
        return out

    @property
    def _judges_distributions(self) -> bool:
        return self._judge is not None and self.opts.judge_distributions

    def _group(self, country: str | None) -> str | None:
        """The group answer distributions are kept under: the person's country (``within_country``)."""
        return country if self.opts.within_country and country else None

    def _judged(self, asks: list[tuple[Question, str | None]]) -> list[np.ndarray | None]:
        """The judge's answer distributions of ``(question, group)`` asks (None: not judged)."""
        from valuesim.methods.phrasing import country_name

        got = self._judge.distributions([(q, g, country_name(g) if g else None) for q, g in asks])
        return [
            None if d is None or len(d) != len(q.answer_codes) else np.asarray(d, dtype=float)
            for (q, _), d in zip(asks, got, strict=True)
        ]

    def _fit_power(self, items: list[int], values: np.ndarray, countries: np.ndarray) -> dict[str, Any]:
        """Set ``_judged_power``: unless ``judge_power`` gives it, the power of the judged distributions
        (alone) that maximises the likelihood of the calibration people's answers to the pseudo-new
        *items* (*values*: people x items) among people whose country was judged. Returns its report."""
        from scipy.optimize import minimize_scalar

        rel = self.relations
        # per judged (question, group): the log judged distribution and how often each option was answered
        stats: dict[tuple[int, str | None], tuple[np.ndarray, np.ndarray] | None] = {}
        for j, t in enumerate(items):
            q = rel.questions[t]
            codes = list(self._observed.marginals[q.id].codes)
            for val, c in zip(values[:, j], countries, strict=True):
                group = self._group(c)
                if not np.isfinite(val) or int(val) not in codes or group not in (self._calibration_groups or {None}):
                    continue
                if (t, group) not in stats:
                    d = self._judged([(q, group)])[0]
                    stats[(t, group)] = (
                        None if d is None else (np.log(np.clip(d, JUDGED_FLOOR, None)), np.zeros(len(d)))
                    )
                hit = stats[(t, group)]
                if hit is not None:
                    hit[1][codes.index(int(val))] += 1
        kept = [h for h in stats.values() if h is not None and h[1].sum() > 0]
        n_answers = int(sum(h[1].sum() for h in kept))
        if not n_answers:
            return {"power": self._judged_power, "answers": 0, "note": "no judged answers: power unchanged"}

        def nll(power: float) -> float:
            return -float(sum(power * (lg @ n) - n.sum() * np.logaddexp.reduce(power * lg) for lg, n in kept))

        fitted = self.opts.judge_power is None
        if fitted:
            res = minimize_scalar(nll, bounds=JUDGED_POWERS, method="bounded")
            self._judged_power = float(res.x)
        return {
            "power": self._judged_power,
            "fitted": fitted,
            "answers": n_answers,
            "distributions": len(kept),
            "mean_loglik": -nll(self._judged_power) / n_answers,
            "mean_loglik_as_judged": -nll(1.0) / n_answers,
        }

    def _marginal_probs(
        self, q: Question, how: str, assoc: np.ndarray, sims: np.ndarray, country: str | None = None
    ) -> np.ndarray:
        """The target's assumed answer distribution: ``uniform``, or ``similar``: the answer
        distributions (in the person's country) of the MARGINAL_ITEMS known items with as many options
        weighted most by ``similarity^2 * |association|``, each reversed when its predicted association
        is negative (by the scale-direction cues when it is weak), averaged in threshold space (the
        mean of their latent cut points, so neighbours placed differently do not flatten the result)
        and mixed with a share MARGINAL_UNIFORM of the uniform. *assoc* and *sims* are the target's
        predicted associations and wording similarities with every known item (NaN: not a candidate)."""
        n = len(q.answer_codes)
        uniform = np.full(n, 1.0 / n)
        if how == "uniform":
            return uniform
        if how.startswith(("judged=", "flat=")):  # the similar marginal mixed at share W with the judge's
            # distribution (tempered), or -- flat=W, the control of judged=W -- with the uniform in its place;
            # both stay the similar marginal where the question was not judged (another country)
            base = self._marginal_probs(q, "similar", assoc, sims, country)
            group = self._group(country)
            asked = self._judges_distributions and (
                self._calibration_groups is None or group in self._calibration_groups
            )
            judged = self._judged([(q, group)])[0] if asked else None
            if judged is None:
                return base
            other = uniform if how.startswith("flat=") else sharpen(judged, self._judged_power)
            share = float(how.split("=", 1)[1])
            mixed = (1 - share) * base + share * other
            return (1 - MARGINAL_UNIFORM) * mixed + MARGINAL_UNIFORM * uniform
        rel = self.relations
        ordered = orderable(q)
        ok = (rel.cues.n_options == n) & np.isfinite(sims) & (sims > 0)
        if ordered:
            ok &= np.isfinite(assoc)
        idx = np.flatnonzero(ok)
        c = np.nan_to_num(assoc[idx], nan=0.0) if ordered else np.ones(len(idx))
        w = sims[idx] ** 2 * np.abs(c)
        top = np.argsort(-w, kind="stable")[:MARGINAL_ITEMS]
        idx, w, c = idx[top], w[top], c[top]
        if not len(idx) or w.sum() <= 0:
            return uniform
        t_pol = rel.cues.of(q)[2]
        pol = np.where((rel.cues.polarity[idx] != 0) & (t_pol != 0), rel.cues.polarity[idx] * t_pol, 1.0)
        align = np.where(np.abs(c) > 0.1, np.sign(c), pol)
        group = country if self.opts.within_country else None
        ps = []
        for i, a in zip(idx, align, strict=True):
            pk = np.asarray(self._observed.marginal(rel.items[i], group).probs)
            ps.append(pk[::-1] if a < 0 and q.ordered else pk)
        w = w / w.sum()
        if q.ordered or n == 2:  # the mean cut points
            cuts = w @ np.array([thresholds_of(pk) for pk in ps])
            probs = np.diff(np.concatenate([[0.0], ndtr(cuts), [1.0]]))
        else:  # unordered options: the mean distribution
            probs = w @ np.array(ps)
        return (1 - MARGINAL_UNIFORM) * probs + MARGINAL_UNIFORM * uniform

    # ------------------------------------------------------------------ predict

    def _distribution(
        self,
        prm: dict[str, Any],
        q: Question,
        answered: np.ndarray,
        z: np.ndarray,
        values: np.ndarray,
        country: str | None,
    ) -> np.ndarray:
        """The distribution over *q*'s options under the settings *prm* (shrink, kappa, inflate, marginal, copy)."""
        sims = self.relations.similarity(q)
        assoc, spread = self.relations.predict(q)
        probs = self._marginal_probs(q, prm["marginal"], assoc, sims, country)
        if not orderable(q):
            label = self._same_label(q, sims, values)
            return probs if label is None else (1 - LABEL_COPY) * probs + LABEL_COPY * label
        mu, var = self._latent(assoc, spread, answered, z, prm["shrink"], prm["kappa"])
        probs = category_probs(mu, float(np.sqrt(var * prm["inflate"])), thresholds_of(probs))
        copy, strength = self._copy(assoc, sims, answered, self._positions(values), len(probs))
        w = copy_weight(prm, strength)
        if copy is not None and w > 0:
            probs = (1 - w) * probs + w * copy
        return probs

    def predict(self, task: Task) -> list[Prediction]:
        rel = self.relations
        person = task.respondent
        targets = set(task.targets)
        values = np.full(len(rel.items), np.nan)
        for known, code in person.answers.items():
            j = rel.index.get(known)
            if j is not None and known not in targets:
                values[j] = code
        z = self._scores(values, person.country)
        answered = np.isfinite(z)
        out = []
        for qid in task.targets:
            q = self.codebook.get(qid)
            codes = q.answer_codes
            if not codes:
                out.append(Prediction(person.id, qid, task.fold, None, None, task.condition, {"abstained": "numeric"}))
                continue
            meta: dict[str, Any] = {"marginal": self.params["marginal"]}
            ctx = (q, answered, z, values, person.country)
            probs, point_probs = self._distribution(self.params, *ctx), None
            if self.params.get("point"):
                point_probs = self._distribution(self.params["point"], *ctx)
                meta["point"] = "calibrated"
            if orderable(q):
                assoc, _ = rel.predict(q)
                used = np.flatnonzero(answered & np.isfinite(assoc))
                top = used[np.argsort(-np.abs(assoc[used]), kind="stable")[:3]]
                meta["related"] = [
                    {
                        "item": rel.items[i],
                        "association": round(float(assoc[i]), 3),
                        "answer": person.answers[rel.items[i]],
                    }
                    for i in top
                ]
            else:
                meta["fallback"] = "unordered options: the marginal and the same-label answer of the most similar item"
            best = int(np.argmax(probs if point_probs is None else point_probs))
            out.append(
                Prediction(
                    person.id,
                    qid,
                    task.fold,
                    int(codes[best]),
                    {int(c): float(p) for c, p in zip(codes, probs, strict=True)},
                    task.condition,
                    meta,
                )
            )
        return out

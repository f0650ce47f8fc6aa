"""Predicted associations of any question (a survey item or a new one) with every known item.

Fitted on pairs of *known* items: the label of a pair is its observed association among the
training people (:mod:`valuesim.relations.observed`); the features come from the wording and
options only (:mod:`valuesim.relations.wording`), plus what the known items' observed
associations say once the question is placed among its most similar known items:

* ``borrow``: the similarity-weighted mean of the neighbours' observed association with the
  other item, each neighbour's sign flipped when its scale runs the other way (``polarity``);
* ``borrow_top1``: the same for the single most similar known item.

A gradient-boosted regressor (LightGBM) maps the features to the association; a second one,
fitted on the cross-fitted absolute errors, gives each prediction its spread. Cross-fitting
uses item groups: the items of a group are hidden (as targets, as partners and as neighbours)
while the rest is fitted, so the reported quality is that on items the model never saw.
Nobody's answer to the question whose relations are predicted is ever read.

Optional *judgments* (a :data:`PairJudge`, e.g. an LLM asked once per pair of items,
:mod:`valuesim.methods.item_judge`): for a question's ``judge_k`` most strongly related known
items (by the wording prediction), the judged association of each pair joins the prediction as
``a * wording + b * judgment``. The weights are fitted on known pairs: ``judge_items`` known items,
each with its cross-fitted (pseudo-new) wording predictions and its ``judge_k`` top partners judged,
against their observed association among the training people; the weights applied to the
cross-fitted rows are fitted without the row's item group, like everything else. A pair left
unjudged (its request failed) keeps the wording prediction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from valuesim.relations.observed import Observed, observed_associations, orderable
from valuesim.relations.wording import DIRECT_FEATURES, Cues, TextSpace, direct_features, get_encoder
from valuesim.survey.codebook import Codebook, Question
from valuesim.survey.dataset import SurveyData

BORROW_FEATURES = ("sim", "borrow", "borrow_raw", "borrow_top1", "sim_top1", "neighbour_weight")
FEATURES = (*DIRECT_FEATURES, *BORROW_FEATURES)
_MAE_TO_SD = 1.2533  # sd / mean absolute deviation of a normal distribution
#: judges pairs of questions (e.g. an LLM): one signed association per pair, None when not judged
PairJudge = Callable[[Sequence[tuple[Question, Question]]], list["float | None"]]
#: pseudo-pairs pulling the judgment weights towards the wording alone (a = 1, b = 0)
JUDGE_SHRINKAGE = 5.0
#: fewest judged known pairs to fit the judgment weights on (fewer: the wording alone)
JUDGE_MIN_PAIRS = 20


class RelationsOptions(BaseModel):
    """Settings of the relations model."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    encoder: Literal["auto", "static", "none"] = Field(
        default="auto", description="sentence encoder: static (wordllama wheel), none, auto (static when installed)"
    )
    neighbours: int = Field(default=8, ge=1, description="most similar known items whose associations are borrowed")
    n_estimators: int = Field(default=300, ge=10, description="boosting rounds of the association model")
    folds: int = Field(default=5, ge=2, description="item groups of the cross-fitting (quality, spread, calibration)")
    seed: int = 0
    within_country: bool = Field(
        default=True, description="associations within countries (answers scored against their country's distribution)"
    )
    min_pairs: int = Field(
        default=30, ge=2, description="fewest people answering both items for an observed association"
    )
    judge_k: int = Field(default=20, ge=1, description="most related known items judged per question (with a judge)")
    judge_items: int = Field(
        default=60, ge=0, description="known items whose top judge_k pairs are judged to fit the judgments' weight"
    )


@dataclass(frozen=True)
class Relation:
    """The predicted association of a question with one known item."""

    item: str
    association: float  # signed, normal-score correlation scale
    spread: float  # standard deviation of the prediction's error (from cross-fitting)
    source: (
        str  # "wording" (the fitted model), "wording+judgment" (a judged pair); "observed" for a known item's own row
    )
    why: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "association": round(self.association, 4),
            "spread": round(self.spread, 4),
            "source": self.source,
            "why": self.why,
        }


def _lgbm(opts: RelationsOptions, seed_offset: int = 0) -> Any:
    import lightgbm as lgb

    return lgb.LGBMRegressor(
        n_estimators=opts.n_estimators,
        learning_rate=0.05,
        num_leaves=31,
        min_child_samples=40,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        random_state=opts.seed + seed_offset,
        n_jobs=1,
        deterministic=True,
        force_row_wise=True,
        verbose=-1,
    )


class RelationsModel:
    """Predicts the signed association of a question with every known item (see module doc)."""

    def __init__(
        self,
        codebook: Codebook,
        observed: Observed,
        opts: RelationsOptions | None = None,
        judge: PairJudge | None = None,
    ) -> None:
        self.codebook = codebook
        self.judge = judge
        self.opts = opts or RelationsOptions()
        self.observed = observed
        self.items = list(observed.items)
        self.index = {q: i for i, q in enumerate(self.items)}
        self.questions = [codebook.get(q) for q in self.items]
        self.encoder = get_encoder(self.opts.encoder)
        self._r = np.nan_to_num(observed.corr, nan=0.0).astype(np.float32)
        if len(self.items) < 3:
            from valuesim.errors import DataError

            raise DataError(
                f"Too few known items to learn item relations from ({len(self.items)} orderable items with answers).",
                "Item relations need a survey with at least 3 ordered (or yes/no) items answered by the training people.",
            )
        self.space = TextSpace(self.questions, self.encoder)
        self._vecs = self.space.vectors(self.questions)
        self.cues = Cues(self.questions)
        self._cache: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        self._fit()

    @classmethod
    def from_data(
        cls,
        train: SurveyData,
        codebook: Codebook,
        opts: RelationsOptions | None = None,
        judge: PairJudge | None = None,
    ) -> RelationsModel:
        """Fit on *train*'s answers to the items it holds (hide a question by dropping its column)."""
        o = opts or RelationsOptions()
        groups = None
        if o.within_country and "country" in train.frame.columns and train.frame["country"].nunique() > 1:
            groups = train.frame["country"].astype(str).to_numpy()
        return cls(codebook, observed_associations(train, codebook, min_pairs=o.min_pairs, groups=groups), o, judge)

    # ------------------------------------------------------------------ features

    def _vec_of(self, q: Question) -> dict[str, np.ndarray]:
        i = self.index.get(q.id)
        if i is not None and self.codebook.get(q.id) == q:
            return {k: v[i] for k, v in self._vecs.items()}
        return {k: v[0] for k, v in self.space.vectors([q]).items()}

    def _features(self, q: Question, pool: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(features of (q, every known item), similarity to every known item); neighbours come
        from *pool* (a boolean mask over the known items), never q itself."""
        direct = direct_features(q, self._vec_of(q), self.cues, self._vecs)
        sims = np.nanmean(direct[:, :3], axis=1)
        cand = pool.copy()
        own = self.index.get(q.id)
        if own is not None:
            cand[own] = False
        idx = np.flatnonzero(cand)
        top = idx[np.argsort(-sims[idx], kind="stable")[: self.opts.neighbours]]
        p = len(self.items)
        borrow = np.zeros((p, len(BORROW_FEATURES)), dtype=np.float32)
        borrow[:, 0] = sims
        if len(top):
            w = np.clip(sims[top], 0.0, None) ** 2
            t_pol = self.cues.of(q)[2]
            a = np.where((self.cues.polarity[top] != 0) & (t_pol != 0), self.cues.polarity[top] * t_pol, 1.0)
            rows = self._r[top]
            total = float(w.sum())
            if total > 0:
                borrow[:, 1] = (w * a) @ rows / total
                borrow[:, 2] = w @ rows / total
            borrow[:, 3] = a[0] * rows[0]
            borrow[:, 4] = sims[top[0]]
            borrow[:, 5] = total
        return np.hstack([direct, borrow]), sims

    def neighbours(self, q: Question, pool: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(indices, similarities, scale alignment +1/-1) of the known items most similar to *q*
        (from *pool*, a boolean mask; never q itself), most similar first."""
        _, sims = self._features(q, np.ones(len(self.items), dtype=bool) if pool is None else pool)
        cand = np.ones(len(self.items), dtype=bool) if pool is None else pool.copy()
        own = self.index.get(q.id)
        if own is not None:
            cand[own] = False
        idx = np.flatnonzero(cand)
        top = idx[np.argsort(-sims[idx], kind="stable")[: self.opts.neighbours]]
        t_pol = self.cues.of(q)[2]
        align = np.where((self.cues.polarity[top] != 0) & (t_pol != 0), self.cues.polarity[top] * t_pol, 1.0)
        return top, sims[top], align

    def _pairs(
        self, targets: Sequence[int] | np.ndarray, pool: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(X, y, target index, partner index) of the pairs (t, k): k in *pool*, k != t, observed."""
        xs, ys, ts, ks = [], [], [], []
        for t in targets:
            x, _ = self._features(self.questions[t], pool)
            ok = pool.copy()
            ok[t] = False
            ok &= np.isfinite(self.observed.corr[t])
            k = np.flatnonzero(ok)
            xs.append(x[k])
            ys.append(self.observed.corr[t, k])
            ts.append(np.full(len(k), t))
            ks.append(k)
        if not xs:
            z = np.zeros(0)
            return np.zeros((0, len(FEATURES))), z, z.astype(int), z.astype(int)
        return np.vstack(xs), np.concatenate(ys), np.concatenate(ts), np.concatenate(ks)

    # ------------------------------------------------------------------ fitting

    def _fit(self) -> None:
        p = len(self.items)
        rng = np.random.default_rng([self.opts.seed, 26])
        groups = rng.permutation(p) % min(self.opts.folds, p)
        self.oof = np.full((p, p), np.nan, dtype=np.float32)  # cross-fitted predictions (row: pseudo-new item)
        oof_x, oof_res = [], []
        for g in range(int(groups.max()) + 1):
            held = groups == g
            pool = ~held
            x, y, _, _ = self._pairs(np.flatnonzero(pool), pool)
            if len(y) < 20:
                continue
            model = _lgbm(self.opts, g + 1).fit(x, y)
            xt, yt, tt, kt = self._pairs(np.flatnonzero(held), pool)
            if not len(yt):
                continue
            pred = np.clip(model.predict(xt), -1, 1)
            self.oof[tt, kt] = pred
            oof_x.append(xt)
            oof_res.append(np.abs(pred - yt))
        x, y, _, _ = self._pairs(range(p), np.ones(p, dtype=bool))
        self._model = _lgbm(self.opts).fit(x, y)
        self._spread_model = None
        self._spread_const = float(np.std(y)) if len(y) else 0.3
        if oof_x:
            xs, res = np.vstack(oof_x), np.concatenate(oof_res)
            self._spread_const = float(res.mean() * _MAE_TO_SD)
            if len(res) >= 200:
                self._spread_model = _lgbm(self.opts.model_copy(update={"n_estimators": 100}), 99).fit(xs, res)
        self.quality = association_quality(self.oof, self.observed.corr)
        #: the cross-fitted wording predictions; ``oof`` itself carries the judgments where judged
        self.oof_wording = self.oof.copy()
        self.judge_weights: tuple[float, float] = (1.0, 0.0)
        self._judge_spread = 1.0
        self.judged_items: list[str] = []
        self.judge_report: dict[str, Any] | None = None
        if self.judge is not None:
            self._fit_judge(groups)

    def _top(self, row: np.ndarray) -> np.ndarray:
        """Indices of the ``judge_k`` known items of largest |association| in *row*."""
        idx = np.flatnonzero(np.isfinite(row))
        return idx[np.argsort(-np.abs(row[idx]), kind="stable")[: self.opts.judge_k]]

    def _fit_judge(self, groups: np.ndarray) -> None:
        """The weights (a, b) of ``a * wording + b * judgment``, fitted on judged known pairs
        (see the module doc); the cross-fitted rows of the judged items get their group's weights."""
        assert self.judge is not None
        p = len(self.items)
        cands = [i for i in range(p) if np.isfinite(self.oof[i]).any()]
        rng = np.random.default_rng([self.opts.seed, 2627])
        items = sorted(rng.choice(cands, size=min(len(cands), self.opts.judge_items), replace=False).tolist())
        pairs = [(t, int(k)) for t in items for k in self._top(self.oof[t])]
        judged = self.judge([(self.questions[t], self.questions[k]) for t, k in pairs]) if pairs else []
        j = np.array([np.nan if v is None else v for v in judged], dtype=float)
        t_idx = np.array([t for t, _ in pairs], dtype=int)
        k_idx = np.array([k for _, k in pairs], dtype=int)
        w = self.oof[t_idx, k_idx].astype(float) if pairs else np.zeros(0)
        y = self.observed.corr[t_idx, k_idx] if pairs else np.zeros(0)
        ok = np.isfinite(j) & np.isfinite(w) & np.isfinite(y)
        self.judged_items = [self.items[t] for t in items]
        weights = _judge_weights(w[ok], j[ok], y[ok])
        self.judge_weights = weights
        stacked = w.copy()
        for g in np.unique(groups[t_idx]) if len(t_idx) else []:
            mine = groups[t_idx] == g
            wg = _judge_weights(w[ok & ~mine], j[ok & ~mine], y[ok & ~mine])
            use = mine & np.isfinite(j)
            stacked[use] = np.clip(wg[0] * w[use] + wg[1] * j[use], -1, 1)
        self.oof[t_idx, k_idx] = stacked
        cv_w, cv_s = w[ok] - y[ok], stacked[ok] - y[ok]
        if ok.sum() >= JUDGE_MIN_PAIRS and np.abs(cv_w).mean() > 0:
            self._judge_spread = float(np.clip(np.abs(cv_s).mean() / np.abs(cv_w).mean(), 0.2, 2.0))
        self.judge_report = {
            "items": len(items),
            "pairs": len(pairs),
            "pairs_judged": int(np.isfinite(j).sum()),
            "pairs_fitted": int(ok.sum()),
            "weights": {"wording": round(weights[0], 4), "judgment": round(weights[1], 4)},
            "judgment_correlation": _corr(j[ok], y[ok]),
            "mae_wording": float(np.abs(cv_w).mean()) if ok.any() else None,
            "mae_with_judgment": float(np.abs(cv_s).mean()) if ok.any() else None,
            "spread_ratio": round(self._judge_spread, 4),
        }

    # ------------------------------------------------------------------ prediction

    def predict(self, q: Question) -> tuple[np.ndarray, np.ndarray]:
        """(association, spread) of *q* with every known item (``self.items`` order). A known item's
        own entry is NaN: an item's relation to itself is no prediction."""
        key = _key(q)
        hit = self._cache.get(key)
        if hit is None:
            x, _sims = self._features(q, np.ones(len(self.items), dtype=bool))
            assoc = np.clip(self._model.predict(x), -1, 1)
            if self._spread_model is not None:
                spread = np.clip(self._spread_model.predict(x), 0.01, None) * _MAE_TO_SD
            else:
                spread = np.full(len(assoc), self._spread_const)
            own = self.index.get(q.id)
            if own is not None:
                assoc[own] = np.nan
                spread[own] = np.nan
            if not orderable(q):  # no signed association for unordered questions
                assoc[:] = np.nan
            judged = np.zeros(len(assoc), dtype=bool)
            if self.judge is not None and np.isfinite(assoc).any():
                top = self._top(assoc)
                values = self.judge([(q, self.questions[k]) for k in top])
                a, b = self.judge_weights
                for k, v in zip(top, values, strict=True):
                    if v is not None:
                        assoc[k] = float(np.clip(a * assoc[k] + b * v, -1, 1))
                        spread[k] *= self._judge_spread
                        judged[k] = True
            hit = (assoc, spread, x, judged)
            self._cache[key] = hit
        return hit[0], hit[1]

    def similarity(self, q: Question, pool: np.ndarray | None = None) -> np.ndarray:
        """Wording similarity of *q* with every known item (NaN for q itself when it is one)."""
        if pool is None:
            self.predict(q)
            sims = self._cache[_key(q)][2][:, FEATURES.index("sim")].astype(float)
        else:
            sims = self._features(q, pool)[1].astype(float)
        own = self.index.get(q.id)
        if own is not None:
            sims = sims.copy()
            sims[own] = np.nan
        return sims

    def related(self, q: Question, k: int = 10, among: Sequence[str] | None = None) -> list[Relation]:
        """The *k* known items most strongly associated with *q* (by |association|), best first."""
        assoc, spread = self.predict(q)
        x = self._cache[_key(q)][2]
        allowed = np.isfinite(assoc)
        if among is not None:
            keep = np.zeros(len(self.items), dtype=bool)
            keep[[self.index[i] for i in among if i in self.index]] = True
            allowed &= keep
        idx = np.flatnonzero(allowed)
        idx = idx[np.argsort(-np.abs(assoc[idx]), kind="stable")[:k]]
        judged = self._cache[_key(q)][3]
        return [
            Relation(
                self.items[i],
                float(assoc[i]),
                float(spread[i]),
                "wording+judgment" if judged[i] else "wording",
                self._why(q, int(i), x),
            )
            for i in idx
        ]

    def _why(self, q: Question, i: int, x: np.ndarray) -> str:
        f = dict(zip(FEATURES, x[i], strict=True))
        parts = []
        if f["sim_full"] >= 0.35 and f["same_section"]:
            parts.append("same battery")
        parts.append(f"wording similarity {f['sim']:.2f}")
        if f["same_options"]:
            parts.append("same options")
        if f["polarity_product"] < 0:
            parts.append("scale runs the other way")
        if f["negation_parity"]:
            parts.append("one of them negated")
        if abs(f["borrow"]) >= 0.1:
            parts.append(f"similar known items correlate {f['borrow']:+.2f} with it")
        return "; ".join(parts)

    def report(self) -> dict[str, Any]:
        """Provenance: what the relations were fitted on and their quality on held-out items."""
        return {
            "items": len(self.items),
            "training_people": self.observed.n_people,
            "encoder": getattr(self.encoder, "name", None) or "none",
            "options": self.opts.model_dump(mode="json"),
            "heldout_quality": self.quality,
            **({"judgments": self.judge_report} if self.judge_report is not None else {}),
        }


def _judge_weights(w: np.ndarray, j: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(a, b) minimising ``|y - a w - b j|^2 + lam * ((a - 1)^2 + b^2)``, ``lam`` worth JUDGE_SHRINKAGE
    average pairs; (1, 0) on too few pairs."""
    if len(y) < JUDGE_MIN_PAIRS:
        return 1.0, 0.0
    x = np.column_stack([w, j])
    lam = JUDGE_SHRINKAGE * float((x * x).mean())
    lhs = x.T @ x + lam * np.eye(2)
    rhs = x.T @ y + lam * np.array([1.0, 0.0])
    a, b = np.linalg.solve(lhs, rhs)
    return float(a), float(b)


def _corr(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 3 or a.std() <= 0 or b.std() <= 0:
        return None
    return round(float(np.corrcoef(a, b)[0, 1]), 4)


def _key(q: Question) -> tuple[str, str]:
    return (q.id, q.text + "|" + "|".join(q.label(c) for c in q.answer_codes))


def association_quality(pred: np.ndarray, observed: np.ndarray, strong: float = 0.2) -> dict[str, Any]:
    """Correlation of predicted with observed associations, and sign accuracy where |observed| > strong."""
    ok = np.isfinite(pred) & np.isfinite(observed)
    n = int(ok.sum())
    if n < 3:
        return {"n_pairs": n, "correlation": None, "sign_accuracy": None, "n_strong": 0, "mae": None}
    p, o = pred[ok].astype(float), observed[ok].astype(float)
    big = np.abs(o) > strong
    return {
        "n_pairs": n,
        "correlation": float(np.corrcoef(p, o)[0, 1]) if p.std() > 0 and o.std() > 0 else None,
        "sign_accuracy": float((np.sign(p[big]) == np.sign(o[big])).mean()) if big.any() else None,
        "n_strong": int(big.sum()),
        "mae": float(np.abs(p - o).mean()),
    }

"""The content of each page as plain data (dicts and lists) for the templates.

Pure functions of the :class:`~valuesim.view.store.RunStore` / :class:`~valuesim.view.store.People`
state: numbers come from the runs' metrics (the report's loader and tables), counts from the
indexed predictions. Templates only lay them out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd
from markupsafe import Markup

from valuesim.bench.metrics import METRICS
from valuesim.errors import UnknownQuestionError
from valuesim.report.tables import (
    LOWER_IS_BETTER,
    METRIC_LABELS,
    comparison_table,
    fmt,
    fmt_ci,
    fmt_p,
    fmt_seconds,
    paired_table,
    protocol_label,
    provenance,
)
from valuesim.survey.codebook import Codebook, Question, QuestionKind
from valuesim.survey.demographics import AGE_BANDS
from valuesim.view.charts import Series, hbars
from valuesim.view.store import NotFound, People, RunStore, ViewRun

BREAKDOWNS: dict[str, str] = {
    "section": "Section",
    "country": "Country",
    "kind": "Question kind",
    "question": "Question",
}
PAGE_SIZE = 100
#: Charts with more groups than this show only the table.
CHART_MAX_GROUPS = 40


def _f(v: Any) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return math.nan
    return x


def _stat(entry: Any) -> tuple[float, float, float]:
    if not isinstance(entry, dict):
        return (math.nan, math.nan, math.nan)
    ci = entry.get("ci95") or [None, None]
    return (_f(entry.get("mean")), _f(ci[0]), _f(ci[1]))


def country_label(code: str) -> str:
    from valuesim.methods.phrasing import country_name

    name = country_name(code, article=False) if code else None
    return f"{name} ({code})" if name else (code or "-")


def question_label(q: Question) -> str:
    return f"{q.id} {q.short}"


def answer_label(q: Question | None, code: Any) -> str:
    if code is None or (isinstance(code, float) and not math.isfinite(code)):
        return "no answer"
    c = int(code)
    if q is None:
        return str(c)
    try:
        return q.label(c)
    except ValueError:
        return f"invalid code {c}"


def status_of(run: ViewRun) -> str:
    if run.data is None:
        return "waiting"
    return "complete" if run.complete else "running"


# --------------------------------------------------------------------------- runs


def runs_page(store: RunStore) -> dict[str, Any]:
    store.refresh_all()
    loaded = store.loaded
    table = comparison_table([r.data for r in loaded if r.data is not None]) if loaded else pd.DataFrame()
    rows = []
    for r, (_, row) in zip(loaded, table.iterrows()):
        rows.append(
            {
                "key": r.key,
                "name": r.name,
                "method": row["method"],
                "model": row["model"],
                "protocol": row["protocol"],
                "status": status_of(r),
                "respondents": int(row["n_respondents"]),
                "predictions": int(row["n_predictions"]),
                "n_targets": r.n_targets,
                "synthetic": bool(row["synthetic"]),
                "metrics": {
                    m: {
                        "text": fmt_ci(row[m], row[f"{m}_lo"], row[f"{m}_hi"]),
                        "sort": _sortable(row[m]),
                    }
                    for m in METRICS
                },
                "calls": fmt(row["llm_calls"], 0) if row["llm_calls"] is not None else "-",
                "calls_sort": _sortable(row["llm_calls"]),
                "tokens_per_pred": fmt(row["tokens_per_pred"], 1),
                "tokens_sort": _sortable(row["tokens_per_pred"]),
                "time": fmt_seconds(row["wall_seconds"]),
                "time_sort": _sortable(row["wall_seconds"]),
            }
        )
    waiting = [{"key": r.key, "name": r.name, "n_targets": r.n_targets} for r in store if r.data is None]
    charts = []
    if loaded:
        for m in METRICS:
            charts.append(
                {
                    "title": f"{METRIC_LABELS[m]} with 95% CI" + (" (lower is better)" if m in LOWER_IS_BETTER else ""),
                    "svg": hbars(
                        [r.name for r in loaded],
                        [
                            Series(
                                METRIC_LABELS[m],
                                [float(v) for v in table[m]],
                                [float(v) for v in table[f"{m}_lo"]],
                                [float(v) for v in table[f"{m}_hi"]],
                            )
                        ],
                        vmax=1.0 if m != "nmae" else None,
                        title=METRIC_LABELS[m],
                    ),
                }
            )
    return {
        "rows": rows,
        "waiting": waiting,
        "charts": charts,
        "metric_labels": METRIC_LABELS,
        "breakdowns": BREAKDOWNS,
        "any_synthetic": any(r["synthetic"] for r in rows),
    }


def _sortable(v: Any) -> str:
    x = _f(v)
    return "" if not math.isfinite(x) else repr(x)


def run_page(store: RunStore, key: str) -> dict[str, Any]:
    run = store.get(key)
    out: dict[str, Any] = {"run": run, "status": status_of(run), "breakdowns": BREAKDOWNS}
    if run.data is None:
        return out
    d = run.data
    m = d.metrics
    out["protocol"] = protocol_label(d)
    out["several_folds"] = int(m.get("n_folds") or 0) > 1  # one fold: no "std over folds" column
    out["metrics"] = [
        {"label": METRIC_LABELS[k], "text": fmt_ci(*_stat(m.get(k))), "std": fmt((m.get(k) or {}).get("std"))}
        for k in METRICS
    ]
    prob = m.get("probabilistic") if isinstance(m.get("probabilistic"), dict) else None
    out["probabilistic"] = (
        {k: fmt(prob.get(k)) for k in ("log_loss", "brier", "ece", "coverage")} if prob is not None else None
    )
    bias = m.get("position_bias") if isinstance(m.get("position_bias"), dict) else None
    out["position_bias"] = (
        {"text": fmt_ci(*_stat(bias)), "chance": fmt(bias.get("chance")), "n": fmt(bias.get("n"), 0)}
        if bias is not None
        else None
    )
    dist = m.get("distribution") or {}
    out["distribution"] = {k: fmt(dist.get(k)) for k in ("wasserstein_mean", "total_variation_mean", "mean_all")}
    out["usage"] = {
        k: fmt(d.usage(k), 0) for k in ("llm_calls", "prompt_tokens", "completion_tokens", "cache_hits")
    } | {"wall_seconds": fmt_seconds(d.usage("wall_seconds"))}
    prov = provenance(d)
    out["provenance"] = prov
    out["method_config"] = json.dumps(prov["method_config"], indent=1, ensure_ascii=False)
    out["sizes"] = {
        "respondents": int(m.get("n_respondents") or d.predictions["respondent"].nunique()),
        "predictions": d.n_predictions,
        "abstained": int(m.get("n_abstained") or 0),
        "invalid": int(m.get("n_invalid") or 0),
    }
    out["notes"] = d.notes
    out["individuation"] = individuation_view(m.get("individuation"), store.codebook)
    return out


def _signed(v: Any, digits: int = 3) -> str:
    x = _f(v)
    return f"{x:+.{digits}f}" if math.isfinite(x) else "-"


def _signed_ci(entry: Any) -> str:
    if not isinstance(entry, dict):
        return "-"
    ci = entry.get("ci95") or [None, None]
    head = _signed(entry.get("mean"))
    if head == "-" or not all(math.isfinite(_f(c)) for c in ci):
        return head
    return f"{head} [{_signed(ci[0])}, {_signed(ci[1])}]"


def individuation_view(block: Any, codebook: Codebook) -> dict[str, Any] | None:
    """metrics.json["individuation"] as text: headline lifts and correlations, and per question."""
    if not isinstance(block, dict):
        return None
    wr, ws = block.get("within_cell_r") or {}, block.get("within_cell_r_sample") or {}
    questions = []
    for qid, e in (block.get("by_question") or {}).items():
        try:
            label = question_label(codebook.get(qid))
        except UnknownQuestionError:  # a question of another codebook: show the id
            label = qid
        questions.append(
            {
                "id": qid,
                "label": label,
                "n": e.get("n", 0),
                "top1_lift": _signed(e.get("top1_lift")),
                "top1_sort": _sortable(e.get("top1_lift")),
                "log_loss_lift": _signed(e.get("log_loss_lift")),
                "log_loss_sort": _sortable(e.get("log_loss_lift")),
                "r": _signed(e.get("within_cell_r"), 2),
                "r_sort": _sortable(e.get("within_cell_r")),
                "r_cells": _signed(e.get("within_cell_r_sample"), 2),
                "r_cells_sort": _sortable(e.get("within_cell_r_sample")),
            }
        )
    return {
        "group_top1": fmt(block.get("group_top1")),
        "top1_lift": _signed_ci(block.get("top1_lift")),
        "log_loss_lift": _signed_ci(block.get("log_loss_lift")),
        "r": _signed(wr.get("r"), 2),
        "r_n": wr.get("n", 0),
        "r_constant": bool(wr.get("constant_within_cells")),
        "r_cells": _signed(ws.get("r"), 2),
        "r_cells_n": ws.get("n", 0),
        "min_cell": block.get("min_cell"),
        "questions": questions,
    }


def breakdown_page(store: RunStore, by: str, metric: str, keys: Sequence[str]) -> dict[str, Any]:
    if by not in BREAKDOWNS:
        raise NotFound(f"No breakdown {by!r}.", f"Use one of: {', '.join(BREAKDOWNS)}.")
    if metric not in METRICS:
        raise NotFound(f"No metric {metric!r}.", f"Use one of: {', '.join(METRICS)}.")
    store.refresh_all()
    runs = [store.get(k) for k in keys] if keys else store.loaded
    runs = [r for r in runs if r.data is not None]
    cb = store.codebook
    groups: dict[str, dict[str, Any]] = {}
    for r in runs:
        assert r.data is not None
        for g, entry in (r.data.metrics.get(f"by_{by}") or {}).items():
            row = groups.setdefault(g, {"id": g, "label": _group_label(by, g, cb), "n": {}, "cells": {}})
            mean, lo, hi = _stat(entry.get(metric))
            row["n"][r.key] = int(entry.get("n") or 0)
            row["cells"][r.key] = {
                "text": fmt_ci(mean, lo, hi),
                "sort": _sortable(mean),
                "mean": mean,
                "lo": lo,
                "hi": hi,
            }
    order = sorted(groups, key=lambda g: _group_order(by, g))
    rows = [groups[g] for g in order]
    chart = None
    if rows and len(rows) <= CHART_MAX_GROUPS:
        chart = hbars(
            [r["label"] for r in rows],
            [
                Series(
                    run.name,
                    [row["cells"].get(run.key, {}).get("mean") for row in rows],
                    [row["cells"].get(run.key, {}).get("lo") for row in rows],
                    [row["cells"].get(run.key, {}).get("hi") for row in rows],
                )
                for run in runs
            ],
            vmax=1.0 if metric != "nmae" else None,
            title=f"{METRIC_LABELS[metric]} by {BREAKDOWNS[by].lower()}",
        )
    return {
        "by": by,
        "by_label": BREAKDOWNS[by],
        "metric": metric,
        "metric_label": METRIC_LABELS[metric],
        "runs": runs,
        "all_runs": store.loaded,
        "selected": {r.key for r in runs},
        "rows": rows,
        "chart": chart,
        "breakdowns": BREAKDOWNS,
        "metric_labels": METRIC_LABELS,
        "lower_is_better": metric in LOWER_IS_BETTER,
    }


def _group_label(by: str, g: str, cb: Codebook) -> str:
    if by == "section":
        return cb.sections[g].title if g in cb.sections else g
    if by == "country":
        return country_label(g)
    if by == "question" and g in cb:
        return question_label(cb.get(g))
    return g


def _group_order(by: str, g: str) -> tuple[int, str]:
    if by == "question" and g[1:].isdigit():
        return (int(g[1:]), g)
    return (0, g)


# --------------------------------------------------------------------------- paired comparison


#: Paired tests of a pair of runs, computed once in the background (a few seconds on 250k
#: predictions), keyed by the two runs and their load versions.
_PAIRED: dict[tuple[Any, ...], Future[list[Any]]] = {}
_PAIRED_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="valuesim-paired")


def compare_page(store: RunStore, a_key: str, b_key: str, wait: float = 0.2) -> dict[str, Any]:
    """The paired comparison of runs A and B. The tests run in the background; until they are
    done (``wait`` seconds at most per request) the page says so and refreshes."""
    a, b = store.get(a_key), store.get(b_key)
    out: dict[str, Any] = {
        "a": a,
        "b": b,
        "all_runs": store.loaded,
        "rows": [],
        "note": "",
        "sections": [],
        "pending": False,
    }
    if a.key == b.key:
        out["note"] = "Choose two different runs."
        return out
    if a.data is None or b.data is None:
        out["note"] = "Both runs need finished predictions."
        return out
    ck = (a.key, a.version, b.key, b.version)
    if ck not in _PAIRED:
        _PAIRED[ck] = _PAIRED_POOL.submit(paired_table, [a.data, b.data], b.data, store.codebook)
    job = _PAIRED[ck]
    try:
        paired = job.result(timeout=wait)
    except FutureTimeout:
        out["pending"] = True
        paired = []
    for pr in paired:
        if pr.note and not pr.metric:
            out["note"] = pr.note
            continue
        out["rows"].append(
            {
                "metric": METRIC_LABELS.get(pr.metric, pr.metric),
                "a": fmt(_stat(a.data.metrics.get(pr.metric))[0]),
                "b": fmt(_stat(b.data.metrics.get(pr.metric))[0]),
                "diff": fmt_ci(pr.diff, pr.lo, pr.hi),
                "p_perm": fmt_p(pr.p_permutation),
                "p_sign": fmt_p(pr.p_sign),
                "n": fmt(pr.n_predictions, 0),
                "better": {"run": a.name, "reference": b.name}.get(pr.better or "", "no significant difference"),
                "note": pr.note,
            }
        )
    cb = store.codebook
    sec_a = a.data.metrics.get("by_section") or {}
    sec_b = b.data.metrics.get("by_section") or {}
    for sid in sorted(set(sec_a) | set(sec_b)):
        ma = _stat((sec_a.get(sid) or {}).get("top1"))[0]
        mb = _stat((sec_b.get(sid) or {}).get("top1"))[0]
        out["sections"].append(
            {
                "label": _group_label("section", sid, cb),
                "a": fmt(ma),
                "b": fmt(mb),
                "diff": fmt(ma - mb),
                "sort": _sortable(ma - mb),
            }
        )
    return out


# --------------------------------------------------------------------------- question


def question_page(store: RunStore, qid: str, run_key: str | None) -> dict[str, Any]:
    try:
        q = store.codebook.get(qid)
    except UnknownQuestionError as e:
        raise NotFound(e.message, e.hint or "") from None
    store.refresh_all()
    runs = [r for r in store.loaded if q.id in r.by_question]
    codes = [c for c in q.codes if c >= 0]
    labels = [f"{c} {q.options[c]}" for c in codes]
    out: dict[str, Any] = {
        "q": q,
        "runs": runs,
        "codes": codes,
        "section": _group_label("section", q.section, store.codebook),
    }
    out["options"] = [(c, q.options[c]) for c in codes]
    if not runs:
        return out
    dists = []
    for r in runs:
        rows = r.rows_for_question(q.id)
        if q.kind is QuestionKind.NUMERIC or not codes:
            continue
        truth = rows["truth"].to_numpy()
        pred = rows["prediction"].to_numpy()
        t = np.array([(truth == c).sum() for c in codes], dtype=np.float64)
        p = np.array([(pred == c).sum() for c in codes], dtype=np.float64)
        tn = t / t.sum() if t.sum() else t
        pn = p / p.sum() if p.sum() else p
        dists.append(
            {
                "run": r,
                "n": len(rows),
                "top1": fmt(rows["top1"].mean()),
                "abstained": int(np.isnan(pred.astype(np.float64)).sum()),
                "svg": hbars(
                    labels,
                    [Series("truth", list(tn)), Series(f"{r.name} predicted", list(pn))],
                    vmax=1.0,
                    fmt="{:.2f}",
                    title=f"{q.id}: true vs predicted answers, {r.name}",
                ),
            }
        )
    out["dists"] = dists
    individuation: list[dict[str, Any]] = []
    for r in runs:
        entry = ((r.data.metrics.get("individuation") or {}).get("by_question") or {}).get(q.id) if r.data else None
        if isinstance(entry, dict):
            shown: dict[str, Any] = {"run": r, "n": entry.get("n", 0)}
            for key, digits in (
                ("top1_lift", 3),
                ("log_loss_lift", 3),
                ("within_cell_r", 2),
                ("within_cell_r_sample", 2),
            ):
                shown[key] = _signed(entry.get(key), digits)
            individuation.append(shown)
    out["individuation"] = individuation
    # per-country split: n and top-1 of each run
    frames = []
    for r in runs:
        rows = r.rows_for_question(q.id)
        g = rows.groupby("country")["top1"].agg(["mean", "size"])
        g.columns = [f"{r.key}:top1", f"{r.key}:n"]
        frames.append(g)
    by_c = pd.concat(frames, axis=1)
    out["countries"] = [
        {
            "code": c,
            "label": country_label(str(c)),
            "cells": [
                {
                    "text": fmt(row.get(f"{r.key}:top1")),
                    "sort": _sortable(row.get(f"{r.key}:top1")),
                    "n": fmt(row.get(f"{r.key}:n"), 0) if math.isfinite(_f(row.get(f"{r.key}:n"))) else "-",
                }
                for r in runs
            ],
        }
        for c, row in by_c.sort_index().iterrows()
    ]
    # confusion matrix of one run
    sel = next((r for r in runs if r.key == run_key), runs[0])
    out["confusion_run"] = sel
    if codes and q.kind is not QuestionKind.NUMERIC:
        rows = sel.rows_for_question(q.id)
        pos = {c: i for i, c in enumerate(codes)}
        mat = np.zeros((len(codes), len(codes) + 1), dtype=np.int64)  # last column: no/invalid answer
        for t, p in zip(rows["truth"].to_numpy(), rows["prediction"].to_numpy(), strict=True):
            j = pos.get(int(p), len(codes)) if np.isfinite(p) else len(codes)
            mat[pos[int(t)], j] += 1
        tot = mat.sum(axis=1, keepdims=True)
        share = np.where(tot > 0, mat / np.maximum(tot, 1), 0.0)
        out["confusion"] = {
            "labels": labels,
            "rows": [
                {
                    "label": labels[i],
                    "cells": [(int(mat[i, j]), float(share[i, j])) for j in range(mat.shape[1])],
                    "n": int(tot[i, 0]),
                }
                for i in range(len(codes))
            ],
            "has_invalid": bool(mat[:, -1].sum()),
        }
    return out


# --------------------------------------------------------------------------- people


def people_page(people: People, args: dict[str, str]) -> dict[str, Any]:
    scope = args.get("scope", "runs")
    if people.survey is None:
        scope = "runs"
    full = people.frame()
    f = people.filter(
        country=args.get("country", ""),
        sex=args.get("sex", ""),
        band=args.get("band", ""),
        rid=args.get("id", "").strip(),
        scope=scope,
    )
    try:
        page = max(1, int(args.get("page", "1")))
    except ValueError:
        page = 1
    n_pages = max(1, math.ceil(len(f) / PAGE_SIZE))
    page = min(page, n_pages)
    chunk = f.iloc[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    base = full if scope == "all" else full[full["runs"] > 0]
    countries = sorted(c for c in base["country"].unique() if c)
    return {
        "rows": [
            {
                "id": rid,
                "country": country_label(row["country"]),
                "sex": row["sex"] or "-",
                "age": "-" if not math.isfinite(row["age"]) else str(int(row["age"])),
                "age_sort": "" if not math.isfinite(row["age"]) else str(int(row["age"])),
                "runs": int(row["runs"]),
            }
            for rid, row in chunk.iterrows()
        ],
        "n": len(f),
        "page": page,
        "n_pages": n_pages,
        "args": {k: args.get(k, "") for k in ("country", "sex", "band", "id")} | {"scope": scope},
        "countries": [(c, country_label(c)) for c in countries],
        "sexes": sorted(s for s in base["sex"].unique() if s),
        "bands": list(AGE_BANDS),
        "has_data": people.survey is not None,
        "n_data": 0 if people.survey is None else len(people.survey),
    }


def person_page(store: RunStore, people: People, rid: str) -> dict[str, Any]:
    store.refresh_all()
    info = people.get(rid)
    cb = store.codebook
    out: dict[str, Any] = {
        "id": rid,
        "country": country_label(str(info["country"])),
        "sex": info["sex"] or "-",
        "age": "-" if not math.isfinite(info["age"]) else str(int(info["age"])),
        "band": info["age_band"] or "-",
        "has_data": people.survey is not None,
        "in_data": bool(info["in_data"]),
    }
    # predictions of every run next to the truth
    runs = [r for r in store.loaded if rid in r.by_respondent]
    out["runs"] = runs
    table: dict[tuple[str, str], dict[str, Any]] = {}
    for r in runs:
        rows = r.rows_for_respondent(rid)
        extras = r.extras(rows)
        cols = ["question", "condition", "fold", "truth", "prediction", "top1", "nmae"]
        for rec, (probs, meta) in zip(rows[cols].itertuples(index=False), extras, strict=True):
            q = cb.get(rec.question) if rec.question in cb else None
            row = table.setdefault(
                (rec.question, rec.condition),
                {
                    "qid": rec.question,
                    "short": q.short if q else "",
                    "condition": rec.condition,
                    "fold": int(rec.fold),
                    "truth": answer_label(q, rec.truth),
                    "cells": {},
                },
            )
            conf = own_probability(rec.prediction, probs)
            has_prompt = any(isinstance(v, dict) and v.get("prompt_sha") for v in (meta.get("modules") or {}).values())
            row["cells"][r.key] = {
                "prompt": (
                    f"/prompt?run={quote(r.key, safe='')}&person={quote(rid, safe='')}&q={quote(str(rec.question))}"
                    f"&fold={int(rec.fold)}&cond={quote(str(rec.condition), safe='')}"
                    if has_prompt
                    else ""
                ),
                "label": answer_label(q, rec.prediction),
                "hit": bool(rec.top1),
                "off": "" if not math.isfinite(rec.nmae) else f"{rec.nmae:.2f}",
                "confidence": "" if not math.isfinite(conf) else f"{conf:.2f}",
                "modules": module_views(q, meta) if q is not None else [],
                "integration": meta.get("integration"),
                "error": meta.get("error", ""),
            }
    rows_sorted = sorted(
        table.values(), key=lambda x: (int(x["qid"][1:]) if x["qid"][1:].isdigit() else 0, x["condition"])
    )
    out["rows"] = rows_sorted
    out["has_conditions"] = any(x["condition"] for x in rows_sorted)
    out["scores"] = {r.key: fmt(r.rows_for_respondent(rid)["top1"].mean()) for r in runs}
    out["has_modules"] = any(c["modules"] for x in rows_sorted for c in x["cells"].values())
    # decoded record and backstory (need the survey)
    if people.survey is not None and bool(info["in_data"]):
        person = people.survey.respondent(rid)
        decoded = []
        for qid in person.answered():
            q = cb.get(qid)
            decoded.append(
                {
                    "qid": qid,
                    "short": q.short,
                    "answer": answer_label(q, person.answers[qid]),
                    "section": _group_label("section", q.section, cb),
                }
            )
        out["record"] = decoded
        out["n_missing"] = len(person.missing)
        from valuesim.methods.story import compose

        story = compose(person, cb, style="facts")
        out["facts"] = story.sections
        out["facts_words"] = story.words
        out["narratives"] = cached_narratives(rid)
    return out


def _run_training_data(survey: Any, split: Any, path: Any) -> Any:
    """The training people of a run as its fit saw them (its protocol and train_max, from the manifest)."""
    from valuesim.bench.config import RunConfig
    from valuesim.bench.plan import training_data
    from valuesim.bench.protocol import ProtocolConfig

    manifest = json.loads((Path(path) / "manifest.json").read_text("utf-8"))
    run_conf = (manifest.get("config") or {}).get("run") or {}
    cfg = RunConfig(protocol=ProtocolConfig(**split.protocol), train_max=int(run_conf.get("train_max") or 20_000))
    return training_data(survey, split, cfg)


def prompt_page(
    store: RunStore, people: People, run_key: str, rid: str, qid: str, fold: str, condition: str
) -> dict[str, Any]:
    """The exact messages each LLM module read for one prediction, rebuilt from the run's split
    (the unit's history: never a held-out answer), its method configuration and the survey,
    and shown only when they match the fingerprint the run recorded (``prompt_sha``)."""
    from valuesim.bench import rundir
    from valuesim.bench.plan import make_work_items
    from valuesim.errors import ValueSimError
    from valuesim.methods.base import get_method
    from valuesim.methods.llm_methods import LLMPipeline, prompt_sha

    run = store.get(run_key)
    qid = qid.strip().upper()
    out: dict[str, Any] = {"run": run, "rid": rid, "qid": qid, "condition": condition, "modules": [], "problem": ""}
    if run.data is None or rid not in run.by_respondent:
        raise NotFound(f"Run {run.name!r} has no prediction for person {rid!r}.", "Open the person's page.")
    rows = run.rows_for_respondent(rid)
    try:
        fold_n = int(fold)
    except ValueError:
        raise NotFound(f"Fold {fold!r} is not a number.", "Follow a link from the person's page.") from None
    match = rows[(rows["question"] == qid) & (rows["fold"] == fold_n) & (rows["condition"] == condition)]
    if match.empty:
        raise NotFound(f"Run {run.name!r} has no prediction of {qid} for person {rid!r} in fold {fold}.", "")
    _, meta = run.extras(match.iloc[:1])[0]
    out["fold"] = fold_n
    try:
        out["question"] = question_label(store.codebook.get(qid))
    except UnknownQuestionError:
        out["question"] = qid
    recorded = {m: (v or {}).get("prompt_sha", "") for m, v in (meta.get("modules") or {}).items()}
    if not recorded:
        out["problem"] = "This prediction made no LLM call the run recorded (a method without a prompt)."
        return out
    if people.survey is None or rid not in set(people.survey.ids):
        out["problem"] = "Start the viewer with the run's --data to see the prompt (it is rebuilt from the record)."
        return out
    conf = dict(run.data.method_config)
    name = str(conf.pop("name", run.data.method))
    for secret in ("base_url", "api_key"):
        conf.pop(secret, None)
    spec = str(conf.get("model") or "")
    if not (spec == "local" or spec.startswith("local:")):
        conf["model"] = "mock"  # never called: only its token count (the same estimate as a server's) is used
    try:
        split = rundir.open_run(run.path).split
        unit = next(u for u in split.units if u.respondent == rid and u.fold == fold_n and u.condition == condition)
        item = make_work_items(people.survey, [unit])[0]
        method = get_method(name, store.codebook, **conf)
        if not isinstance(method, LLMPipeline):
            out["problem"] = f"{name} is not an LLM method: no prompt to show."
            return out
        if method.fits_for_prompts:  # the run's fit (item relations of its training people) chose the answers
            method.fit(_run_training_data(people.survey, split, run.path))
        reasoning = {qid: {m: str((v or {}).get("rationale") or "") for m, v in (meta.get("modules") or {}).items()}}
        built = method.prompts(item.task, reasoning).get(qid, {})
    except StopIteration:
        out["problem"] = "The run's split has no such unit."
        return out
    except ValueSimError as e:
        out["problem"] = f"The prompt could not be rebuilt: {e.message}"
        return out
    for module, sha in recorded.items():
        msgs = built.get(module)
        ok = bool(msgs) and bool(sha) and prompt_sha(msgs or []) == sha
        out["modules"].append(
            {
                "name": module,
                "sha": sha or "not recorded",
                "verified": ok,
                "messages": [{"role": m.role, "content": m.content} for m in msgs or []] if ok else [],
            }
        )
    if not any(m["verified"] for m in out["modules"]):
        out["problem"] = (
            "The rebuilt prompt does not match the fingerprint the run recorded (other data, another version "
            "of valuesim, or a run made before prompts were fingerprinted): it is not shown."
        )
    return out


def own_probability(prediction: float, probs: dict[str, Any] | None) -> float:
    """The probability a method gave its own answer (NaN without probabilities)."""
    if probs is None or not math.isfinite(prediction):
        return math.nan
    total = sum(_f(v) for v in probs.values())
    v = _f(probs.get(str(int(prediction)), 0.0))
    return v / total if total > 0 else math.nan


def module_views(q: Question, meta: dict[str, Any]) -> list[dict[str, Any]]:
    """Each LLM module's answer for one prediction: label, rationale and option bars."""
    mods = meta.get("modules")
    if not isinstance(mods, dict):
        return []
    codes = [c for c in q.codes if c >= 0]
    views = []
    entries = list(mods.items())
    if isinstance(meta.get("coordinator"), dict):
        entries.append(("coordinator", meta["coordinator"]))
    for name, v in entries:
        if not isinstance(v, dict):
            continue
        probs = v.get("probs") if isinstance(v.get("probs"), dict) else None
        svg = Markup("")
        if codes and (probs or v.get("answer") is not None):
            if probs:
                vals = [_f(probs.get(str(c), 0.0)) for c in codes]
            else:  # only the chosen answer (and its confidence) was recorded
                conf = _f(v.get("confidence", 1.0))
                vals = [conf if c == v.get("answer") else 0.0 for c in codes]
            svg = hbars(
                [q.options[c] for c in codes],
                [Series(str(name), vals)],
                vmax=1.0,
                fmt="{:.2f}",
                bar=10,
                width=420,
                label_width=170,
                title=f"{name}: option probabilities",
            )
        views.append(
            {
                "name": str(name),
                "label": v.get("label") or ("no answer" if v.get("answer") is None else str(v.get("answer"))),
                "confidence": "" if v.get("confidence") is None else f"{_f(v['confidence']):.2f}",
                "rationale": str(v.get("rationale") or ""),
                "error": str(v.get("error") or ""),
                "svg": svg,
                "full": bool(probs),
            }
        )
    return views


def cached_narratives(rid: str) -> list[dict[str, Any]]:
    """Narrative backstories of this person already in the story store (read only: a missing
    store is not created)."""
    from valuesim.llm.cache import default_cache_dir
    from valuesim.methods.story import STORE_FILE, StoryStore

    path = Path(default_cache_dir()) / STORE_FILE
    if not path.exists():
        return []
    try:
        rows = StoryStore(path).export(rid)
    except Exception:  # a locked or damaged store must not break the person page
        return []
    return [
        {
            "model": r.get("model"),
            "prompt_version": r.get("prompt_version"),
            "max_words": r.get("max_words"),
            "sections": r.get("sections") or [],
            "text": r.get("text", ""),
        }
        for r in rows
        if r.get("style") == "narrative"
    ]


# --------------------------------------------------------------------------- live


def live_page(store: RunStore, key: str) -> dict[str, Any]:
    run = store.get(key)
    store.refresh(run)
    out: dict[str, Any] = {"run": run, "status": status_of(run), "n_done": run.n_done, "n_targets": run.n_targets}
    out["share"] = run.n_done / run.n_targets if run.n_targets else 0.0
    if run.data is not None:
        p = run.data.predictions
        out["units_done"] = len(p.drop_duplicates(["respondent", "fold", "condition"]))
        out["metrics"] = [{"label": METRIC_LABELS[k], "text": fmt_ci(*_stat(run.data.metrics.get(k)))} for k in METRICS]
    else:
        out["units_done"] = 0
        out["metrics"] = []
    out["units"] = run.n_units
    out["latest"] = latest_rows(run.path / "predictions.jsonl", store.codebook)
    sessions = (run.data.manifest if run.data is not None else {}).get("sessions") or []
    out["started"] = sessions[-1].get("started", "") if sessions else ""
    return out


def latest_rows(path: Path, codebook: Codebook, n: int = 30, max_bytes: int = 256_000) -> list[dict[str, Any]]:
    """The last ``n`` complete lines of a predictions file (read from its end only)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            raw = fh.read()
    except OSError:
        return []
    lines = raw.split(b"\n")
    if size > max_bytes:
        lines = lines[1:]  # the first line may be cut
    out = []
    for line in reversed(lines[:-1] if not raw.endswith(b"\n") else lines):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if not isinstance(d, dict):
            continue
        qid = str(d.get("question", ""))
        q = codebook.get(qid) if qid in codebook else None
        out.append(
            {
                "respondent": str(d.get("respondent", "")),
                "question": qid,
                "fold": d.get("fold"),
                "condition": d.get("condition", ""),
                "truth": answer_label(q, d.get("truth")),
                "prediction": answer_label(q, d.get("prediction")),
                "hit": d.get("prediction") is not None and d.get("prediction") == d.get("truth"),
            }
        )
        if len(out) >= n:
            break
    return out

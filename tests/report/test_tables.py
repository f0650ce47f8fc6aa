"""Summary tables on hand-made predictions (exact expected values)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from valuesim.bench.metrics import per_prediction
from valuesim.report import tables
from valuesim.report.document import Cell, Document, Section, Table, table_markdown, to_markdown
from valuesim.report.load import RunData, history_size, load_run
from valuesim.survey.codebook import Codebook

# Q46 (ordinal, 4 options: 1 Very happy ... 4 Not at all happy); Q57 (nominal, 2 options)


def _run(codebook: Codebook, rows: list[tuple[str, str, int | None, int]], name: str = "r") -> RunData:
    frame = pd.DataFrame(
        [
            {
                "respondent": r,
                "question": q,
                "fold": 0,
                "condition": "",
                "prediction": p,
                "truth": t,
                "probabilities": None,
                "country": "DEU",
            }
            for r, q, p, t in rows
        ]
    )
    scored = per_prediction(frame, codebook)
    scored["confidence"] = np.nan
    return RunData(path=Path(name), name=name, predictions=scored, metrics={}, manifest={}, split={}, complete=True)


def test_signed_error_counts_rank_steps_on_ordered_items_only(codebook: Codebook) -> None:
    run = _run(
        codebook,
        [("a", "Q46", 1, 1), ("a", "Q46", 4, 1), ("b", "Q46", 2, 4), ("b", "Q46", None, 2), ("a", "Q57", 1, 2)],
    )
    dist = tables.signed_error([run], clip=2).set_index("step")
    # scored: 0, +3 (clipped to +2), -2; the abstention and the nominal item are left out
    assert dist.loc[0, "share"] == pytest.approx(1 / 3)
    assert dist.loc[2, "share"] == pytest.approx(1 / 3)
    assert dist.loc[-2, "share"] == pytest.approx(1 / 3)
    assert dist.loc[1, "share"] == 0
    assert dist["bias"].iloc[0] == pytest.approx((0 + 3 - 2) / 3)  # unclipped mean
    assert int(dist["n"].iloc[0]) == 3


def test_pooled_confusion_maps_ranks_to_five_position_bins(codebook: Codebook) -> None:
    # Q46 has 4 options: ranks 0..3 scale to bins round(r/3*4) = 0, 1, 3, 4
    run = _run(codebook, [("a", "Q46", 1, 1), ("a", "Q46", 4, 1), ("b", "Q46", 3, 4), ("c", "Q46", 3, 4)])
    m = tables.pooled_confusion(run)
    assert m is not None and m.shape == (5, 5)
    assert m.iloc[0].tolist() == [0.5, 0, 0, 0, 0.5]  # truth "first": once right, once "last"
    assert m.iloc[4].tolist() == [0, 0, 0, 1.0, 0]  # truth "last": predicted rank 2 -> bin 3
    assert m.iloc[1].isna().all() and m.iloc[2].isna().all()  # no such true answers


def test_item_confusion_is_row_normalized_with_code_labels(codebook: Codebook) -> None:
    run = _run(codebook, [("a", "Q46", 1, 1), ("b", "Q46", 2, 1), ("c", "Q46", 2, 2), ("d", "Q46", None, 2)])
    m = tables.item_confusion(run, "Q46", codebook)
    assert m is not None
    assert list(m.index) == ["1", "2", "3", "4"]
    assert m.loc["1"].tolist() == [0.5, 0.5, 0, 0]
    assert m.loc["2"].tolist() == [0, 1.0, 0, 0]  # the abstention is not a cell
    assert "1 = Very happy" in tables.option_legend("Q46", codebook)
    assert tables.default_confusion_item([run]) == "Q46"


def test_comparison_table_reads_metrics_json(report_runs: dict[str, Path], codebook: Codebook) -> None:
    run = load_run(report_runs["valuesim"], codebook)
    comp = tables.comparison_table([run]).iloc[0]
    m = run.metrics
    assert comp["top1"] == m["top1"]["mean"]
    assert (comp["top1_lo"], comp["top1_hi"]) == tuple(m["top1"]["ci95"])
    assert comp["n_predictions"] == m["n_predictions"] == len(run.predictions)
    assert comp["calls_per_pred"] == pytest.approx(m["llm_calls"] / m["n_predictions"])
    assert comp["model"] == "mock"
    assert comp["protocol"] == "5-fold, ≤8 targets"


def test_history_tables_from_a_sweep(report_runs: dict[str, Path], codebook: Codebook) -> None:
    sweep = load_run(report_runs["knn-sweep"], codebook)
    kfold = load_run(report_runs["knn"], codebook)
    assert sweep.is_sweep and sweep.history_sizes == [0, 8, 16] and not kfold.is_sweep
    long = tables.history_long([sweep, kfold], "top1")
    assert list(long["h"]) == [0, 8, 16] and set(long["run"]) == {"knn-sweep"}
    for _, row in long.iterrows():
        assert row["mean"] == sweep.metrics["by_condition"][f"h={row['h']}"]["top1"]["mean"]
        assert row["lo"] <= row["mean"] <= row["hi"]
    wide = tables.history_wide(long)
    assert list(wide.columns) == ["run", "h=0", "h=8", "h=16"]
    assert tables.protocol_label(sweep) == "sweep h=0..16, ≤8 targets"
    assert history_size("h=58") == 58 and history_size("") is None and history_size("h=x") is None


def test_formatting_helpers() -> None:
    assert tables.fmt(None) == "-" and tables.fmt(float("nan")) == "-" and tables.fmt(1234) == "1,234"
    assert tables.fmt_ci(0.5, 0.4, 0.6) == "0.500 [0.400, 0.600]"
    assert tables.fmt_ci(0.5, None, None) == "0.500"
    assert tables.fmt_p(0.0001) == "<0.001" and tables.fmt_p(0.0456) == "0.046"
    assert tables.fmt_seconds(30) == "30.0 s" and tables.fmt_seconds(600) == "10.0 min"


def test_markdown_table_escapes_and_marks() -> None:
    t = Table(
        ["a|b", "n"],
        [[Cell("x|y", "best"), Cell("0.5", "worse", "[0.4, 0.6]")], [Cell("z"), Cell("1", sub="sign 0.2")]],
        align=["l", "r"],
    )
    md = table_markdown(t)
    assert md.splitlines()[0] == "| a\\|b | n |"
    assert md.splitlines()[1] == "| --- | ---: |"
    assert "| **x\\|y** | _0.5_ [0.4, 0.6] |" in md
    assert "| z | 1 (sign 0.2) |" in md
    doc = Document("T", "sub", synthetic=True, sections=[Section("s", "S", ["p"], [t])])
    text = to_markdown(doc)
    assert text.startswith("# T") and "SYNTHETIC DATA" in text and "[S](#s)" in text

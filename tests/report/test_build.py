"""The report built from real (small, synthetic) benchmark runs."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from valuesim.bench.compare import paired_comparison
from valuesim.bench.rundir import open_run
from valuesim.errors import ConfigError, DataError, UnknownQuestionError
from valuesim.report.build import build_report


def _external_refs(html: str) -> list[str]:
    """Anything the page would fetch: src/href to non-data, non-fragment URLs, CSS url()s."""
    refs = [u for u in re.findall(r'\b(?:src|href)="([^"]*)"', html) if not u.startswith(("data:", "#"))]
    refs += re.findall(r"url\(\s*['\"]?(?!data:)([^)'\"]+)", html)
    refs += re.findall(r"<link\b[^>]*>", html) + re.findall(r"<script\b[^>]*\bsrc=", html)
    return refs


@pytest.fixture(scope="module")
def built(report_runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("report")
    dirs = [report_runs[n] for n in ("valuesim", "majority", "knn", "knn-sweep", "majority-sweep", "majority-seed7")]
    paths = build_report(dirs, out, reference="valuesim", title="Test report")
    return paths, paths.html.read_text("utf-8"), paths.markdown.read_text("utf-8")


def test_html_is_self_contained_and_labelled_synthetic(built) -> None:  # type: ignore[no-untyped-def]
    paths, html, _ = built
    assert paths.html.name == "report.html"
    assert _external_refs(html) == []
    images = re.findall(r'<img src="([^"]+)"', html)
    assert len(images) >= 6
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert "[SYNTHETIC] Test report" in html
    assert "SYNTHETIC DATA" in html  # the banner


def test_comparison_table_holds_every_run_with_cis(built, report_runs) -> None:  # type: ignore[no-untyped-def]
    _, html, md = built
    for name in ("valuesim", "majority", "knn", "knn-sweep", "majority-sweep", "majority-seed7"):
        assert f'<td class="l ">{name}' in html or f">{name} (reference)" in html
    metrics = json.loads((report_runs["knn"] / "metrics.json").read_text())
    top1 = metrics["top1"]
    # the report shows metrics.json's numbers, CI under the value
    assert f"{top1['mean']:.3f}" in html
    assert f"[{top1['ci95'][0]:.3f}, {top1['ci95'][1]:.3f}]" in html
    row = next(line for line in md.splitlines() if line.startswith("| knn |"))
    assert re.search(rf"\*?\*?{top1['mean']:.3f}\*?\*? \[{top1['ci95'][0]:.3f}, {top1['ci95'][1]:.3f}\]", row)


def test_individuation_section_shows_metrics_json(built, report_runs) -> None:  # type: ignore[no-untyped-def]
    _, html, md = built
    assert "Individuation: beyond the demographic group" in html
    ind = json.loads((report_runs["knn"] / "metrics.json").read_text())["individuation"]
    row = next(line for line in md.splitlines() if line.startswith("| knn |") and "n=" in line)
    lift = ind["top1_lift"]
    assert f"{lift['mean']:+.3f} [{lift['ci95'][0]:+.3f}, {lift['ci95'][1]:+.3f}]" in row
    assert f"{ind['within_cell_r']['r']:+.2f}" in row


def test_paired_tests_against_reference_and_other_split_not_tested(built, report_runs) -> None:  # type: ignore[no-untyped-def]
    _, html, md = built
    assert "Paired tests against valuesim" in html
    section = md.split("## Paired tests against valuesim", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    tested = {r.split("|")[1].strip() for r in rows[2:]}
    assert tested == {"majority", "knn"}  # same split as the reference
    assert "Not tested: majority-seed7 (made on a different split" in section
    assert "Not tested: knn-sweep (made on a different split" in section
    assert "Not tested: majority-sweep (made on a different split" in section
    # the numbers are bench.compare.paired_comparison's (knn minus valuesim)
    knn, ref = (open_run(report_runs[n]).predictions() for n in ("knn", "valuesim"))
    res = paired_comparison(knn, ref, "top1", seed=0, n_perm=5000)
    row = next(r for r in rows if r.startswith("| knn |"))
    cell = row.split("|")[2].replace("*", "").replace("_", "").strip()
    assert cell == f"{res.diff:+.3f} [{res.ci95[0]:+.3f}, {res.ci95[1]:+.3f}]"


def test_history_curve_present_for_the_sweep(built) -> None:  # type: ignore[no-untyped-def]
    paths, html, md = built
    assert 'id="fig-history_curve"' in html
    assert "![Top-1 against history size](figures/history_curve.png)" in md
    assert (paths.out_dir / "figures" / "history_curve.png").stat().st_size > 1000
    for h in (0, 8, 16):
        assert f"| h={h} " in md or f"h={h} |" in md
    # two sweeps on one split: paired differences at each history size
    section = md.split("## Accuracy against history size", 1)[1].split("\n## ", 1)[0]
    assert "Paired top-1 difference to knn-sweep at each history size" in section
    row = next(line for line in section.splitlines() if line.startswith("| majority-sweep |"))
    assert row.count("p=") == 3


def test_markdown_and_figures_written(built) -> None:  # type: ignore[no-untyped-def]
    paths, html, md = built
    assert md.startswith("# [SYNTHETIC] Test report")
    assert "**SYNTHETIC DATA.**" in md
    for fig in paths.figures:
        assert fig.exists() and fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"figures/{fig.name}" in md
    names = {f.stem for f in paths.figures}
    assert {
        "comparison",
        "by_section",
        "by_country",
        "signed_error",
        "confusion_pooled",
        "calibration",
        "cost",
        "history_curve",
    } <= names
    for heading in (
        "Method comparison",
        "Accuracy by topic",
        "Accuracy by country",
        "Ordinal errors and confusion",
        "Calibration",
        "Calls, tokens and time",
        "Provenance",
    ):
        assert f"## {heading}" in md
        assert f"<h2>{heading}</h2>" in html


def test_cost_table_shows_the_history_recall_of_llm_runs(built, report_runs) -> None:  # type: ignore[no-untyped-def]
    _, _, md = built
    section = md.split("## Calls, tokens and time", 1)[1].split("\n## ", 1)[0]
    assert "History recall@k" in section
    metrics = json.loads((report_runs["valuesim"] / "metrics.json").read_text())
    recall = metrics["history_recall"]
    assert recall["k"] == 20 and 0 <= recall["mean"] <= 1 and recall["selection"] == "relevance"
    row = next(line for line in section.splitlines() if line.startswith("| valuesim |"))
    assert f"{recall['mean']:.2f} (k=20)" in row
    assert "(k=" not in next(line for line in section.splitlines() if line.startswith("| knn |"))


def test_provenance_has_command_and_fingerprint(built, report_runs) -> None:  # type: ignore[no-untyped-def]
    _, html, _ = built
    manifest = json.loads((report_runs["knn"] / "manifest.json").read_text())
    assert manifest["data"]["fingerprint"] in html
    assert "pytest" in html  # the recorded command
    assert "synthetic-only" in html


def test_no_second_run_means_no_paired_section(report_runs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    paths = build_report([report_runs["knn"]], tmp_path / "r")
    md = paths.markdown.read_text("utf-8")
    assert "Paired tests" not in md
    assert "Accuracy against history size" not in md  # no sweep run given


def test_item_confusion_for_a_chosen_question(report_runs, small_survey, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    qid = next(
        q
        for q in small_survey.question_ids
        if small_survey.codebook.get(q).ordered and not small_survey.codebook.get(q).profile
    )
    paths = build_report([report_runs["knn"], report_runs["majority"]], tmp_path / "r", confusion_item=qid)
    assert (paths.out_dir / "figures" / f"confusion_{qid}.png").exists()
    with pytest.raises(UnknownQuestionError):
        build_report([report_runs["knn"]], tmp_path / "r2", confusion_item="Q9999")


def test_reference_by_method_name_and_errors(report_runs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    paths = build_report([report_runs["majority"], report_runs["knn"]], tmp_path / "r", reference="knn")
    assert paths.reference == "knn"
    # default: the strongest run by top-1, whatever the order the runs are given in
    top1 = {n: json.loads((report_runs[n] / "metrics.json").read_text())["top1"]["mean"] for n in ("majority", "knn")}
    assert top1["majority"] != top1["knn"]
    best = max(top1, key=lambda n: top1[n])
    for order in (["majority", "knn"], ["knn", "majority"]):
        paths = build_report([report_runs[n] for n in order], tmp_path / "d", title="t")
        assert paths.reference == best
        assert f"reference &#39;{best}&#39; (the strongest by top-1)" in paths.html.read_text("utf-8") or (
            f"reference '{best}' (the strongest by top-1)" in paths.markdown.read_text("utf-8")
        )
    with pytest.raises(ConfigError, match="No run named"):
        build_report([report_runs["majority"]], tmp_path / "r", reference="nope")
    with pytest.raises(DataError, match="does not exist"):
        build_report([tmp_path / "missing"], tmp_path / "r")
    with pytest.raises(DataError, match="twice"):
        build_report([report_runs["knn"], report_runs["knn"]], tmp_path / "r")
    with pytest.raises(DataError):
        build_report([], tmp_path / "r")


def test_unfinished_run_is_reported_with_a_warning(report_runs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = tmp_path / "knn-partial"
    shutil.copytree(report_runs["knn"], run)
    (run / "metrics.json").unlink()
    lines = (run / "predictions.jsonl").read_text().splitlines()
    (run / "predictions.jsonl").write_text("\n".join(lines[: len(lines) // 2]) + "\n" + lines[len(lines) // 2][:20])
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["status"] = "running"
    (run / "manifest.json").write_text(json.dumps(manifest))
    paths = build_report([report_runs["knn"], run], tmp_path / "r", reference="knn")
    md = paths.markdown.read_text("utf-8")
    assert "knn-partial is unfinished" in md
    assert "Not tested: knn-partial (unfinished" in md
    assert "5-fold, ≤8 targets, unfinished" in md


def test_rebuilding_removes_stale_figures(report_runs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "r"
    build_report([report_runs["knn"], report_runs["knn-sweep"]], out)
    assert (out / "figures" / "history_curve.png").exists()
    build_report([report_runs["knn"]], out)
    assert not (out / "figures" / "history_curve.png").exists()


def test_country_breakdown_counts_people_and_hides_small_group_intervals(built, report_runs) -> None:  # type: ignore[no-untyped-def]
    """Six sampled respondents spread over countries: one-person countries get no CI anywhere."""
    _paths, html, md = built
    metrics = json.loads((report_runs["valuesim"] / "metrics.json").read_text("utf-8"))
    small = [c for c, e in metrics["by_country"].items() if e["n_respondents"] < 5]
    assert small, "fixture should have countries with fewer than 5 sampled people"
    country = small[0]
    entry = metrics["by_country"][country]
    assert entry["top1"]["ci95"] is None and entry["ci_note"] == "n < 5 people"
    section = md[md.index("## Accuracy by country") :]
    section = section[: section.index("\n## ", 3)]
    row = next(line for line in section.splitlines() if line.startswith(f"| {country} "))
    assert "n < 5 people" in row and "[" not in row.split("|")[2]  # label and cell: no interval
    assert "people" in html[html.index("Accuracy by country") :]


def test_provenance_says_why_there_is_no_git_commit(report_runs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = tmp_path / "installed"
    shutil.copytree(report_runs["majority"], run)
    manifest = json.loads((run / "manifest.json").read_text("utf-8"))
    manifest["git_commit"] = None  # what a pip-installed (non-editable) package records
    (run / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    md = build_report([run], tmp_path / "report").markdown.read_text("utf-8")
    row = next(line for line in md[md.index("## Provenance") :].splitlines() if line.startswith("| installed"))
    assert "not a git checkout" in row and "none" not in row

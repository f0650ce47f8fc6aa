"""The benchmark runner: run directory contents, resume, conflicts, executors, accounting."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from bench_data import FirstOptionMethod, make_survey

from valuesim.bench import rundir
from valuesim.bench.protocol import ProtocolConfig, Split
from valuesim.bench.runner import MethodOutputError, RunConfig, run_benchmark, run_units
from valuesim.errors import ConfigError
from valuesim.methods.base import Prediction, Task

PROTO = ProtocolConfig(n_respondents=12, seed=3)
CFG = RunConfig(protocol=PROTO, n_boot=50, command="test")


@pytest.fixture(scope="module")
def data():
    return make_survey(40, seed=2)


def read_rows(out) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / rundir.PREDICTIONS_FILE).read_text().splitlines()]


def test_run_writes_the_documented_files(tmp_path, data):
    m = FirstOptionMethod(data.codebook)
    res = run_benchmark(data, m, CFG, tmp_path / "run", progress=False)
    out = tmp_path / "run"
    split = Split.load(out / "split.json")
    assert res.complete and res.n_units == len(split.units) == m.calls
    rows = read_rows(out)
    assert len(rows) == split.n_targets
    assert set(rows[0]) == set(rundir.PREDICTION_COLUMNS)
    assert all(r["truth"] == int(data.frame.loc[r["respondent"], r["question"]]) for r in rows)
    assert len({(r["respondent"], r["question"], r["fold"], r["condition"]) for r in rows}) == len(rows)
    assert rows == rundir.sort_rows(rows, split)  # canonical order on disk

    metrics = json.loads((out / "metrics.json").read_text())
    for key in (
        "method",
        "n_respondents",
        "n_predictions",
        "top1",
        "nmae",
        "within1",
        "by_section",
        "by_country",
        "by_kind",
        "by_question",
        "distribution",
        "llm_calls",
        "prompt_tokens",
        "completion_tokens",
        "cache_hits",
        "wall_seconds",
    ):
        assert key in metrics, key
    assert metrics["method"] == "test-first-option"
    assert metrics["n_predictions"] == len(rows) and metrics["n_respondents"] == 12
    assert set(metrics["top1"]) >= {"mean", "std", "ci95", "folds"}
    assert metrics["llm_calls"] == 0 and metrics["wall_seconds"] > 0

    manifest = json.loads((out / "manifest.json").read_text())
    for key in (
        "valuesim_version",
        "git_commit",
        "python",
        "platform",
        "packages",
        "command",
        "config",
        "data",
        "split_hash",
        "started",
        "finished",
        "timings",
    ):
        assert key in manifest, key
    assert manifest["status"] == "complete"
    assert manifest["split_hash"] == split.split_hash
    assert manifest["config"]["method"] == {"name": "test-first-option"}
    assert manifest["config"]["protocol"]["seed"] == 3
    assert manifest["data"]["fingerprint"] == data.fingerprint() and manifest["data"]["synthetic"] is True
    assert manifest["command"] == "test"


def test_fit_sees_only_people_outside_the_sample(tmp_path, data):
    m = FirstOptionMethod(data.codebook)
    res = run_benchmark(data, m, CFG, tmp_path / "run", progress=False)
    assert m.fitted_ids and not (set(m.fitted_ids) & set(res.split.respondents))
    assert len(m.fitted_ids) == len(data) - 12
    capped = FirstOptionMethod(data.codebook)
    run_benchmark(data, capped, CFG.model_copy(update={"train_max": 5}), tmp_path / "cap", progress=False)
    assert len(capped.fitted_ids) == 5


def test_tasks_show_profile_and_history_only(tmp_path, data):
    m = FirstOptionMethod(data.codebook)
    res = run_benchmark(data, m, CFG, tmp_path / "run", progress=False)
    units = {u.key: u for u in res.split.units}
    profile = set(data.codebook.profile())
    for task in m.tasks:
        u = units[(task.respondent.id, task.fold, task.condition)]
        known = set(task.respondent.answers) | set(task.respondent.missing)
        assert not (known & set(u.targets)), "a target leaked into the task"
        assert known <= profile | set(u.history)


def test_resume_after_failure_no_duplicates_no_recomputation(tmp_path, data):
    out = tmp_path / "run"
    first = FirstOptionMethod(data.codebook, fail_after=7)
    with pytest.raises(RuntimeError, match="planned failure"):
        run_benchmark(data, first, CFG, out, progress=False)
    assert first.calls == 7
    assert len({rundir.unit_key(r) for r in read_rows(out)}) == 7
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "running" and manifest["sessions"][0]["status"].startswith("failed")
    assert not (out / "metrics.json").exists()

    second = FirstOptionMethod(data.codebook)
    res = run_benchmark(data, second, CFG, out, progress=False)
    assert res.n_resumed == 7 and second.calls == res.n_units - 7
    assert not (set(first.seen) & set(second.seen)), "a finished unit was recomputed"

    reference = tmp_path / "ref"
    run_benchmark(data, FirstOptionMethod(data.codebook), CFG, reference, progress=False)
    assert (out / "predictions.jsonl").read_bytes() == (reference / "predictions.jsonl").read_bytes()
    m_a = json.loads((out / "metrics.json").read_text())
    m_b = json.loads((reference / "metrics.json").read_text())
    assert m_a["top1"] == m_b["top1"] and m_a["nmae"] == m_b["nmae"]

    # a third run of a complete directory computes nothing
    third = FirstOptionMethod(data.codebook)
    res3 = run_benchmark(data, third, CFG, out, progress=False)
    assert third.calls == 0 and res3.n_resumed == res3.n_units
    assert len(json.loads((out / "manifest.json").read_text())["sessions"]) == 3


def test_keyboard_interrupt_keeps_finished_units(tmp_path, data):
    class Interrupting(FirstOptionMethod):
        def predict(self, task: Task) -> list[Prediction]:
            if self.calls == 4:
                raise KeyboardInterrupt
            return super().predict(task)

    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(data, Interrupting(data.codebook), CFG, out, progress=False)
    assert len({rundir.unit_key(r) for r in read_rows(out)}) == 4
    assert json.loads((out / "manifest.json").read_text())["sessions"][0]["status"] == "interrupted"
    again = FirstOptionMethod(data.codebook)
    res = run_benchmark(data, again, CFG, out, progress=False)
    assert res.n_resumed == 4 and again.calls == res.n_units - 4


def test_truncated_line_and_partial_unit_are_recomputed(tmp_path, data):
    out = tmp_path / "run"
    run_benchmark(data, FirstOptionMethod(data.codebook), CFG, out, progress=False)
    full = (out / "predictions.jsonl").read_bytes()
    lines = full.splitlines(keepends=True)
    rows = [json.loads(x) for x in lines]
    last_unit = rundir.unit_key(rows[-1])
    keep = [x for x, r in zip(lines, rows) if rundir.unit_key(r) != last_unit]
    partial = [x for x, r in zip(lines, rows) if rundir.unit_key(r) == last_unit]
    # crash while writing: the last unit half written and its last line cut in the middle
    (out / "predictions.jsonl").write_bytes(b"".join(keep + partial[:2]) + partial[2][: len(partial[2]) // 2])
    (out / "metrics.json").unlink()
    m = FirstOptionMethod(data.codebook)
    res = run_benchmark(data, m, CFG, out, progress=False)
    assert m.calls == 1 and m.seen == ["|".join(map(str, last_unit))]
    assert res.complete
    assert (out / "predictions.jsonl").read_bytes() == full


def test_conflicting_out_dir_is_refused(tmp_path, data):
    out = tmp_path / "run"
    run_benchmark(data, FirstOptionMethod(data.codebook), CFG, out, progress=False)
    other_seed = CFG.model_copy(update={"protocol": PROTO.model_copy(update={"seed": 4})})
    with pytest.raises(ConfigError, match="different split") as e:
        run_benchmark(data, FirstOptionMethod(data.codebook), other_seed, out, progress=False)
    assert "--overwrite" in (e.value.hint or "") and "--out" in (e.value.hint or "")

    class Other(FirstOptionMethod):
        name = "other"

        def config(self) -> dict[str, Any]:
            return {"name": "other", "k": 3}

    with pytest.raises(ConfigError, match="other settings"):
        run_benchmark(data, Other(data.codebook), CFG, out, progress=False)
    with pytest.raises(ConfigError, match="other settings"):
        run_benchmark(
            data, FirstOptionMethod(data.codebook), CFG.model_copy(update={"train_max": 3}), out, progress=False
        )
    # concurrency or bootstrap settings do not change predictions: resuming with them is fine
    run_benchmark(
        data,
        FirstOptionMethod(data.codebook),
        CFG.model_copy(update={"concurrency": 2, "n_boot": 20}),
        out,
        progress=False,
    )
    res = run_benchmark(data, Other(data.codebook), CFG.model_copy(update={"overwrite": True}), out, progress=False)
    assert res.n_resumed == 0
    assert json.loads((out / "metrics.json").read_text())["method"] == "other"


def test_foreign_directory_is_refused(tmp_path, data):
    out = tmp_path / "run"
    out.mkdir()
    (out / "predictions.jsonl").write_text('{"respondent": "1"}\n')
    with pytest.raises(ConfigError, match="unknown run"):
        run_benchmark(data, FirstOptionMethod(data.codebook), CFG, out, progress=False)


def test_method_output_is_checked(tmp_path, data):
    class Bad(FirstOptionMethod):
        def predict(self, task: Task) -> list[Prediction]:
            preds = super().predict(task)
            preds[0].prediction = 999
            return preds

    class Short(FirstOptionMethod):
        def predict(self, task: Task) -> list[Prediction]:
            return super().predict(task)[1:]

    with pytest.raises(MethodOutputError, match="not a valid answer"):
        run_benchmark(data, Bad(data.codebook), CFG, tmp_path / "a", progress=False)
    with pytest.raises(MethodOutputError, match="missing"):
        run_benchmark(data, Short(data.codebook), CFG, tmp_path / "b", progress=False)


class SlowAsync(FirstOptionMethod):
    """Async method with a varying delay, so concurrent units finish out of order."""

    default_concurrency = 4

    def __init__(self, codebook, **options: Any) -> None:
        super().__init__(codebook, **options)
        self.in_flight = 0
        self.max_in_flight = 0
        self._usage = {"llm_calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "cache_hits": 0}

    @property
    def usage(self) -> dict[str, int]:
        return dict(self._usage)

    async def apredict(self, task: Task) -> list[Prediction]:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        await asyncio.sleep(0.001 * (hash(task.unit_id) % 5))
        self.in_flight -= 1
        self._usage["llm_calls"] += 2
        self._usage["prompt_tokens"] += 100
        return self.predict(task)


def test_concurrency_gives_identical_results_and_counts_usage(tmp_path, data):
    serial = tmp_path / "serial"
    run_benchmark(data, FirstOptionMethod(data.codebook), CFG, serial, progress=False)
    m = SlowAsync(data.codebook)
    res = run_benchmark(data, m, CFG, tmp_path / "conc", progress=False)
    assert m.max_in_flight > 1
    assert (serial / "predictions.jsonl").read_bytes() == (tmp_path / "conc" / "predictions.jsonl").read_bytes()
    assert res.metrics["llm_calls"] == 2 * res.n_units
    assert res.metrics["prompt_tokens"] == 100 * res.n_units
    manifest = json.loads((tmp_path / "conc" / "manifest.json").read_text())
    assert manifest["config"]["run"]["concurrency"] == 4


def test_usage_is_summed_over_resumed_sessions(tmp_path, data):
    class FailingAsync(SlowAsync):
        def predict(self, task: Task) -> list[Prediction]:
            if self.calls == 5:
                raise RuntimeError("stop")
            return super().predict(task)

    out = tmp_path / "run"
    with pytest.raises(RuntimeError):
        run_benchmark(data, FailingAsync(data.codebook), CFG.model_copy(update={"concurrency": 1}), out, progress=False)
    res = run_benchmark(data, SlowAsync(data.codebook), CFG.model_copy(update={"concurrency": 1}), out, progress=False)
    # the failing session made 6 usage-counted calls (5 units + the one that raised)
    assert res.metrics["llm_calls"] == 2 * (res.n_units + 1)


def test_usage_from_prediction_meta(tmp_path, data):
    class MetaUsage(FirstOptionMethod):
        def predict(self, task: Task) -> list[Prediction]:
            preds = super().predict(task)
            preds[0].meta["usage"] = {"calls": 1, "prompt_tokens": 10, "completion_tokens": 2, "cache_hits": 0}
            return preds

    res = run_benchmark(data, MetaUsage(data.codebook), CFG, tmp_path / "run", progress=False)
    assert res.metrics["llm_calls"] == res.n_units
    assert res.metrics["completion_tokens"] == 2 * res.n_units


def test_custom_executor_order_does_not_matter(tmp_path, data):
    seen: list[int] = []

    def reverse_executor(method_factory, items, sink, *, concurrency, progress):
        seen.append(len(items))
        run_units(method_factory, list(reversed(items)), sink, concurrency=1, progress=False)

    run_benchmark(data, FirstOptionMethod(data.codebook), CFG, tmp_path / "a", progress=False)
    run_benchmark(
        data, FirstOptionMethod(data.codebook), CFG, tmp_path / "b", progress=False, executor=reverse_executor
    )
    assert seen and seen[0] > 0
    assert (tmp_path / "a" / "predictions.jsonl").read_bytes() == (tmp_path / "b" / "predictions.jsonl").read_bytes()


def test_lost_work_is_not_reported_as_complete(tmp_path, data):
    def lossy(method_factory, items, sink, *, concurrency, progress):
        run_units(method_factory, items[1:], sink)

    with pytest.raises(ConfigError, match="no complete predictions"):
        run_benchmark(data, FirstOptionMethod(data.codebook), CFG, tmp_path / "a", progress=False, executor=lossy)
    res = run_benchmark(data, FirstOptionMethod(data.codebook), CFG, tmp_path / "a", progress=False)
    assert res.n_computed == 1 and res.complete


def test_train_data_overlapping_the_sample_is_refused(tmp_path, data):
    with pytest.raises(ConfigError, match="evaluated respondent"):
        run_benchmark(data, FirstOptionMethod(data.codebook), CFG, tmp_path / "a", progress=False, train_data=data)


def test_history_sweep_run(tmp_path, data):
    cfg = RunConfig(protocol=ProtocolConfig(n_respondents=4, history_sweep=True, history_sizes=(0, 20)), n_boot=20)
    res = run_benchmark(data, FirstOptionMethod(data.codebook), cfg, tmp_path / "s", progress=False)
    rows = read_rows(tmp_path / "s")
    assert {r["condition"] for r in rows} == {"h=0", "h=20"}
    assert set(res.metrics["by_condition"]) == {"h=0", "h=20"}


def test_runs_inside_a_running_event_loop(tmp_path, data):
    async def main() -> Any:
        return run_benchmark(data, FirstOptionMethod(data.codebook), CFG, tmp_path / "nb", progress=False)

    assert asyncio.run(main()).complete


def test_ctrl_c_interrupts_a_running_unit_at_once(tmp_path, data):
    """SIGINT during a slow synchronous unit stops the run now, not after the whole run: the run
    returns while the unit is still blocked (it can only finish once the test releases it)."""
    import os
    import signal
    import threading

    release, finished = threading.Event(), threading.Event()

    class Slow(FirstOptionMethod):
        def predict(self, task: Task) -> list[Prediction]:
            if self.calls == 3:
                os.kill(os.getpid(), signal.SIGINT)
                release.wait(timeout=60)  # a run that waited for this unit would end only after it
                finished.set()
            return super().predict(task)

    out = tmp_path / "run"
    try:
        with pytest.raises(KeyboardInterrupt):
            run_benchmark(data, Slow(data.codebook), CFG, out, progress=False)
        assert not finished.is_set(), "the run waited for the interrupted unit to end"
    finally:
        release.set()
    assert len({rundir.unit_key(r) for r in read_rows(out)}) == 3


def test_executor_reported_usage_is_used(tmp_path, data):
    def remote_like(method_factory, items, sink, *, concurrency, progress):
        run_units(method_factory, items, sink)
        return {"llm_calls": 7, "prompt_tokens": 70, "completion_tokens": 5, "cache_hits": 1}

    res = run_benchmark(data, SlowAsync(data.codebook), CFG, tmp_path / "r", progress=False, executor=remote_like)
    assert (res.metrics["llm_calls"], res.metrics["prompt_tokens"], res.metrics["cache_hits"]) == (7, 70, 1)


def test_resume_with_another_server_list_but_not_another_model(tmp_path, data):
    from valuesim.methods import Method, MethodOptions

    class ServedOptions(MethodOptions):
        model: str = "local"
        base_url: str | None = None

    class Served(FirstOptionMethod):
        Options = ServedOptions
        config = Method.config  # name + these options

    out = tmp_path / "run"
    run_benchmark(data, Served(data.codebook, model="openai:m", base_url="http://a/v1"), CFG, out, progress=False)
    res = run_benchmark(
        data, Served(data.codebook, model="openai:m", base_url="http://b/v1,http://c/v1"), CFG, out, progress=False
    )
    assert res.n_resumed > 0
    with pytest.raises(ConfigError, match="other settings"):
        run_benchmark(
            data, Served(data.codebook, model="openai:other", base_url="http://a/v1"), CFG, out, progress=False
        )


def test_narrative_story_fidelity_is_reported_per_run(tmp_path, data):
    """An LLM method with a narrative story reports the checks of its stories in metrics.json."""
    from valuesim.methods import get_method

    m = get_method("valuesim", data.codebook, model="mock", cache=False, story="narrative", modules="plain")
    proto = ProtocolConfig(n_respondents=3, seed=3, only_folds=(0,), max_targets=2)
    cfg = CFG.model_copy(update={"protocol": proto})
    res = run_benchmark(data, m, cfg, tmp_path / "run", progress=False)
    story = res.metrics["story"]
    assert story["style"] == "narrative" and story["stories"] == 3
    nar = story["narrative"]
    assert nar["stories"] == 3
    assert nar["sections"] == nar["sections_written"] + nar["sections_regenerated"] + nar["sections_fell_back"] > 0
    assert nar["facts_preserved"] == 1.0
    assert 0.0 <= nar["facts_in_prose"] <= 1.0 and 0.0 <= nar["facts_preserved_first_draft"] <= 1.0
    assert set(nar["problems"]) >= {"meta-text", "changed number", "dropped answer", "repetition"}
    saved = json.loads((tmp_path / "run" / rundir.METRICS_FILE).read_text())
    assert saved["story"] == story
    plain = run_benchmark(data, FirstOptionMethod(data.codebook), CFG, tmp_path / "plain", progress=False)
    assert "story" not in plain.metrics
    from valuesim.report.build import ReportOptions, build_document, load_runs

    runs = load_runs([tmp_path / "run"], data.codebook)
    doc = build_document(runs, ReportOptions(), data.codebook)
    sec = next(s for s in doc.sections if s.id == "story-fidelity")
    assert sec.tables()[0].rows[0][1].text == "3"


def test_metrics_have_individuation_against_the_demographic_group(tmp_path):
    """metrics.json["individuation"]: demographic-majority is its own reference (lift 0, no
    variation within cells) whether or not it is the run's method; knn tells people apart."""
    from valuesim.methods import get_method
    from valuesim.survey import generate_synthetic

    data = generate_synthetic(n=200, seed=4)
    cfg = RunConfig(protocol=ProtocolConfig(n_respondents=40, seed=3, only_folds=(0,), max_targets=10), n_boot=50)
    ind = {}
    for name in ("demographic-majority", "knn"):
        run_benchmark(data, get_method(name, data.codebook), cfg, tmp_path / name, progress=False)
        ind[name] = json.loads((tmp_path / name / "metrics.json").read_text())["individuation"]
    dm, knn = ind["demographic-majority"], ind["knn"]
    assert dm["top1_lift"]["mean"] == 0.0 and dm["log_loss_lift"]["mean"] == 0.0
    assert dm["within_cell_r"]["r"] == 0.0 and dm["n_covered"] == dm["top1_lift"]["n"] == 400
    assert knn["within_cell_r"]["r"] > 0.2 and knn["by_question"]
    # a resumed run (nothing left to compute) scores the same
    again = run_benchmark(data, get_method("knn", data.codebook), cfg, tmp_path / "knn", progress=False)
    assert again.n_computed == 0 and again.metrics is not None
    assert again.metrics["individuation"]["within_cell_r"] == knn["within_cell_r"]

"""`valuesim bench`: run a method under the benchmark protocol; list methods; compare two runs."""

from __future__ import annotations

import json
import math
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from valuesim.cli._data import CODEBOOK_HELP, load_data
from valuesim.cli._help import API_KEY_HELP, MODEL_DEFAULT, NO_CACHE_HELP
from valuesim.cli._run import err_console, note, run_and_print, safe, say
from valuesim.errors import ConfigError

if TYPE_CHECKING:
    from valuesim.methods.base import MethodInfo

console = Console()

bench_app = typer.Typer(
    help="Benchmark a method on survey data (leak-free protocol, resumable runs).",
    add_completion=False,
)


# --------------------------------------------------------------------------- helpers


def model_flags(
    options: dict[str, Any],
    method: str | None,
    *,
    model: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    no_cache: bool = False,
) -> dict[str, Any]:
    """*options* with the model flags of a command (--model, --base-url, --api-key, --no-cache)
    added: the one mapping from these flags to method options, for every command that takes
    them. A flag given to a method that uses no language model is a clear error; *method*
    None: the options of every LLM method of a job of several methods (an experiment)."""
    from valuesim.methods.base import method_info

    uses_llm = method is None or method_info(method).uses_llm
    flags = (
        ("--model", model, "model"),
        ("--base-url", base_url, "base_url"),
        ("--api-key", api_key, "api_key"),
        ("--no-cache", False if no_cache else None, "cache"),
    )
    out = dict(options)
    for flag, value, key in flags:
        if value is None:
            continue
        if not uses_llm:
            assert method is not None
            judged = "judge" in method_info(method).cls.Options.model_fields  # a model for item judgments
            raise ConfigError(
                f"{flag} applies to LLM methods only; {method!r} does not use a language model"
                + (" for its answers." if judged else "."),
                "Its item judgments take a model as -o judge=SPEC (-o judge_base_url=URL): see `valuesim bench "
                "--list-methods`."
                if judged
                else "Drop the flag, or pick an LLM method (see `valuesim bench --list-methods`).",
            )
        out[key] = value
    return out


def parse_options(pairs: list[str] | None) -> dict[str, Any]:
    """``key=value`` strings -> dict; values are read as JSON when they parse (3, 0.5, true, [1,2])."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ConfigError(f"Bad --option {pair!r}.", "Write options as key=value, e.g. --option k=20.")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _split_list(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def _load_data(data: str | None, synthetic: int | None, codebook: str | None = None) -> Any:
    if data is not None and synthetic is not None:
        raise ConfigError("Pass either --data or --synthetic, not both.", "--data synthetic:N is --synthetic N.")
    if synthetic is not None:
        return load_data(f"synthetic:{synthetic}")
    if not data:
        raise ConfigError(
            "No data given.",
            "Pass --data PATH (a WVS-7 file or a folder of per-country files), or --data synthetic to try it out.",
        )
    return load_data(data, codebook=codebook)


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.{digits}f}"


def _p(p: float) -> str:
    return f"{p:.1e}" if p < 1e-3 else f"{p:.3f}"


def _ci(entry: dict[str, Any]) -> str:
    lo, hi = (entry.get("ci95") or [None, None])[:2]
    return f"[{_fmt(lo)}, {_fmt(hi)}]"


def metrics_table(metrics: dict[str, Any], title: str) -> Table:
    folds = int(metrics.get("n_folds") or 0) > 1  # one fold: no spread over folds to show
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    table.add_column("mean ± sd over folds" if folds else "mean (one fold)", justify="right")
    table.add_column("95% CI (respondents)", justify="right")
    table.add_column("scored", justify="right")
    labels = {"top1": "top-1 accuracy ↑", "nmae": "nMAE ↓", "within1": "within-1 ↑"}
    for key, label in labels.items():
        e = metrics.get(key) or {}
        mean = f"{_fmt(e.get('mean'))} ± {_fmt(e.get('std'))}" if folds else _fmt(e.get("mean"))
        table.add_row(label, mean, _ci(e), str(e.get("n", "")))
    return table


def individuation_line(metrics: dict[str, Any]) -> str | None:
    """One line: what the predictions know beyond the demographic group (docs/metrics.md)."""
    ind = metrics.get("individuation")
    if not isinstance(ind, dict):
        return None

    def lift(e: Any) -> str:
        if not isinstance(e, dict) or e.get("mean") is None:
            return "-"
        lo, hi = (e.get("ci95") or [None, None])[:2]
        ci = f" [{lo:+.3f}, {hi:+.3f}]" if lo is not None and hi is not None else ""
        return f"{e['mean']:+.3f}{ci}"

    r = (ind.get("within_cell_r") or {}).get("r")
    return (
        f"beyond the demographic group: top-1 lift {lift(ind.get('top1_lift'))}, log-loss lift "
        f"{lift(ind.get('log_loss_lift'))}, r {'-' if r is None else f'{r:+.2f}'} (docs/metrics.md)"
    )


def sweep_table(metrics: dict[str, Any]) -> Table | None:
    by = metrics.get("by_condition") or {}
    if len(by) < 2:
        return None
    table = Table(title="By history size", title_justify="left")
    for col in ("condition", "top-1", "nMAE", "within-1", "n"):
        table.add_column(col, justify="right" if col != "condition" else "left")
    for cond in sorted(by, key=lambda c: (len(c), c)):
        e = by[cond]
        table.add_row(cond, *(_fmt((e.get(m) or {}).get("mean")) for m in ("top1", "nmae", "within1")), str(e.get("n")))
    return table


# --------------------------------------------------------------------------- commands


@bench_app.callback(invoke_without_command=True)
def bench(
    ctx: typer.Context,
    data: str | None = typer.Option(
        None, "--data", help="WVS-7 file or folder of per-country files; 'synthetic' for generated data."
    ),
    synthetic: int | None = typer.Option(None, "--synthetic", help="Use N generated respondents instead of --data."),
    codebook: str | None = typer.Option(None, "--codebook", help=CODEBOOK_HELP),
    method: str | None = typer.Option(
        None, "--method", "-m", help="Method name (see --list-methods), or package.module:Class of your own."
    ),
    model: str | None = typer.Option(
        None,
        "--model",
        help="Model spec for LLM methods: local, local:PATH, openai:NAME, mock.",
        show_default=MODEL_DEFAULT,
    ),
    base_url: str | None = typer.Option(
        None, "--base-url", help="OpenAI-compatible server URL; several comma-separated = a load-balanced pool."
    ),
    api_key: str | None = typer.Option(None, "--api-key", help=API_KEY_HELP),
    respondents: int = typer.Option(100, "--respondents", "-n", help="Respondents to evaluate."),
    protocol_name: str = typer.Option(
        "k-fold",
        "--protocol",
        help="k-fold (methods learn from other people's answers to the targets) or new-questions (the fold's "
        "target questions are hidden from everyone: only uniform, text-transfer and LLM methods can run).",
    ),
    seed: int = typer.Option(42, "--seed", help="Seed of the sample, the folds and the histories."),
    folds: int = typer.Option(5, "--folds", help="Folds of the cross-validation over questions."),
    history_sweep: bool = typer.Option(
        False,
        "--history-sweep",
        help="Vary the history size (accuracy vs history; LLM stories keep the known answers most related to each "
        "target).",
    ),
    history_sizes: str | None = typer.Option(
        None, "--history-sizes", help="Comma-separated history sizes of the sweep (default 0,58,116,174,232)."
    ),
    replicate_split: Path | None = typer.Option(
        None, "--replicate-split", help="Folder with the original paper's fold_<k>.json question split."
    ),
    max_targets: int | None = typer.Option(
        None,
        "--max-targets",
        help="At most N targets per unit (seeded subset, same for every method): cheaper LLM runs.",
    ),
    only_fold: list[int] | None = typer.Option(
        None, "--only-fold", help="Run only this fold (0-based; repeatable). Default: all folds."
    ),
    min_valid: int = typer.Option(150, "--min-valid", help="Only respondents with this many valid answers (Q1-Q259)."),
    country: list[str] | None = typer.Option(
        None,
        "--country",
        "-c",
        help="Evaluate only these countries (alpha-3, ISO number or name; repeatable or comma-separated).",
    ),
    stratify: bool = typer.Option(False, "--stratify", help="Spread the sample evenly over countries."),
    concurrency: int | None = typer.Option(
        None, "--concurrency", "-j", help="Units in flight at once (default: the method's)."
    ),
    executor: str = typer.Option(
        "local",
        "--executor",
        help=r"Where units run: local (this process) or ray (needs the extra: pip install 'valuesim\[dist]').",
    ),
    ray_address: str | None = typer.Option(
        None,
        "--ray-address",
        help="Ray cluster: auto, HOST:PORT or ray://HOST:PORT (default: a private local instance).",
    ),
    workers: int | None = typer.Option(
        None, "--workers", help="Ray: shards run at once (default: the cluster's CPUs)."
    ),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="LLM methods: " + NO_CACHE_HELP[0].lower() + NO_CACHE_HELP[1:]
    ),
    option: list[str] | None = typer.Option(None, "--option", "-o", help="Method option key=value (repeatable)."),
    train_max: int = typer.Option(
        20_000, "--train-max", help="At most this many training respondents (outside the sample)."
    ),
    n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap replicates of the confidence intervals."),
    max_failures: str = typer.Option(
        "5%",
        "--max-failures",
        help="Stop when more targets than this failed (model calls failing after all retries): "
        "a count N or a share P% of the targets; 0 stops at the first failure.",
    ),
    out: Path | None = typer.Option(None, "--out", help="Run directory (created; re-run the same command to resume)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Delete an earlier run in --out first."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar (TTY only)."),
    list_methods_flag: bool = typer.Option(
        False, "--list-methods", help="List the methods and their options (only --method's, when given) and exit."
    ),
) -> None:
    """Run METHOD on DATA under the benchmark protocol and write the results to --out.

    Example: valuesim bench --data wvs7/ --method country-majority --out runs/cmaj
    """
    if ctx.invoked_subcommand is not None:
        return
    if list_methods_flag:
        _print_methods(method)
        return
    if method is None and data is None and synthetic is None and out is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)
    if method is None:
        raise ConfigError("No method given.", "Pass --method NAME; see `valuesim bench --list-methods`.")
    if out is None:
        raise ConfigError("No output directory given.", "Pass --out DIR (re-running the same command resumes).")

    from valuesim.bench.protocol import ProtocolConfig
    from valuesim.bench.runner import RunConfig, run_benchmark
    from valuesim.methods.base import get_method
    from valuesim.survey.loaders import resolve_countries

    options = model_flags(
        parse_options(option), method, model=model, base_url=base_url, api_key=api_key, no_cache=no_cache
    )

    sizes: dict[str, Any] = {}
    if history_sizes is not None and not history_sweep:
        raise ConfigError(
            "--history-sizes sets the sizes of a history sweep, but --history-sweep is not given.",
            f"Add --history-sweep to vary the history size ({history_sizes}), or drop --history-sizes.",
        )
    if history_sizes:
        try:
            sizes["history_sizes"] = tuple(int(x) for x in _split_list([history_sizes]))
        except ValueError:
            raise ConfigError(f"Bad --history-sizes {history_sizes!r}.", "Use integers, e.g. 0,58,116.") from None
    protocol = ProtocolConfig.create(
        name=protocol_name,
        n_respondents=respondents,
        seed=seed,
        min_valid=min_valid,
        stratify_by_country=stratify,
        countries=tuple(resolve_countries(_split_list(country))) or None,
        folds=folds,
        history_sweep=history_sweep,
        replication_split=str(replicate_split.expanduser().resolve()) if replicate_split else None,
        max_targets=max_targets,
        only_folds=tuple(only_fold) if only_fold else None,
        **sizes,
    )
    cfg = RunConfig.create(
        protocol=protocol,
        concurrency=concurrency,
        train_max=train_max,
        n_boot=n_boot,
        max_failures=max_failures,
        overwrite=overwrite,
        command=shlex.join(["valuesim", *sys.argv[1:]]),
    )
    from valuesim.scale import get_executor

    run_on = get_executor(executor, address=ray_address, num_workers=workers)  # fails fast on a bad cluster
    survey = _load_data(data, synthetic, codebook)
    m = get_method(method, survey.codebook, **options)
    from valuesim.llm.simulation import is_simulated

    if is_simulated(options.get("model")):
        say(
            f"model {options['model']}: it knows the true answer of the person each prompt describes (a test "
            "instrument for the machinery; the run is labelled SIMULATED in reports).",
            markup="[bold red]SIMULATED[/] ",
        )
    if is_simulated(options.get("judge")):
        say(
            f"item judge {options['judge']}: it knows the true association of each pair of items among all people "
            "of the data (a test instrument; the run is labelled SIMULATED in reports).",
            markup="[bold red]SIMULATED[/] ",
        )
    say(
        f"{survey.source or 'data'} ({len(survey):,} respondents{', synthetic' if survey.synthetic else ''}) -> {out}",
        markup=f"[bold]{safe(m.name)}[/] on ",
    )
    result = run_and_print(
        lambda log: run_benchmark(survey, m, cfg, out, progress=progress, executor=run_on, log=log),
        interrupted=f"Finished units are saved in {out}; re-run the same command to resume.",
    )
    metrics = result.metrics or {}
    resumed = f", {result.n_resumed} resumed" if result.n_resumed else ""
    console.print(
        metrics_table(
            metrics,
            f"{m.name}: {metrics.get('n_respondents')} respondents, {metrics.get('n_predictions'):,} predictions "
            f"({result.n_computed} units computed{resumed})" + ("\nall history sizes pooled" if history_sweep else ""),
        )
    )
    sweep = sweep_table(metrics)
    if sweep is not None:
        console.print(sweep)
    line = individuation_line(metrics)
    if line:
        console.print(line, highlight=False)
    extra = [f"wall {metrics.get('wall_seconds', 0):.1f}s"]
    if metrics.get("n_abstained"):
        extra.append(f"{metrics['n_abstained']} abstentions")
    if metrics.get("llm_calls") or metrics.get("cache_hits"):
        extra.append(
            f"{metrics.get('llm_calls', 0):,.0f} LLM calls, {metrics.get('prompt_tokens', 0):,.0f}+"
            f"{metrics.get('completion_tokens', 0):,.0f} tokens, {metrics.get('cache_hits', 0):,.0f} cache hits"
        )
    console.print("; ".join(extra), highlight=False)
    if metrics.get("n_abstained"):
        from valuesim.bench.rundir import open_run
        from valuesim.report.load import not_posed_notes

        for text in not_posed_notes(open_run(result.out_dir).predictions()):
            note(text)
    console.print(
        f"Results: {escape(str(result.out_dir))}/  (metrics.json, predictions.jsonl, split.json, manifest.json)",
        highlight=False,
    )
    if result.failures:
        _print_failures(result)
        raise typer.Exit(1)


def _print_failures(result: Any) -> None:
    """The end summary of a run with failed targets, by error class."""
    from valuesim.bench.record import failure_summary

    n = result.n_failed_targets
    table = Table(
        title=f"{n:,} failed targets (in {len(result.failures):,} units): no prediction, not scored",
        title_justify="left",
    )
    for col in ("error", "targets", "units", "example"):
        table.add_column(col, justify="right" if col in ("targets", "units") else "left")
    for error, e in failure_summary(result.failures).items():
        table.add_row(safe(error), f"{e['targets']:,}", f"{e['units']:,}", safe(e["example"]))
    err_console.print(table)
    say(
        f"the metrics above cover the other targets (metrics.json: complete=false, n_failed_targets={n}). The "
        f"failures are in {result.out_dir}/failures.jsonl; re-run the same command to retry only the failed targets.",
        markup="[yellow]Incomplete:[/] ",
    )


def new_questions_cell(info: MethodInfo) -> str:
    """Whether a method answers new questions: yes, no, or with which options."""
    with_opts = info.new_questions_with
    if info.answers_new_questions:
        return "yes"
    return "with " + " ".join(f"-o {k}={v}" for k, v in with_opts.items()) if with_opts else "no"


def _print_methods(only: str | None = None) -> None:
    """The methods, then each one's options (default and meaning: the help text of its Options model)."""
    from valuesim.methods.base import method_info, method_infos, plugin_errors

    infos = [method_info(only)] if only else method_infos()
    table = Table(title="Methods", title_justify="left")
    table.add_column("name")
    table.add_column("LLM")
    table.add_column("new questions")
    table.add_column("description")
    for info in infos:
        src = "" if info.source == "built-in" else f" [dim]({safe(info.source)})[/]"
        yes = ("yes" if info.uses_llm else "no", safe(new_questions_cell(info)))
        table.add_row(safe(info.name), *yes, safe(info.description) + src)
    console.print(table)
    from valuesim.methods.options import defaults_of

    shown: dict[tuple[tuple[str, str, str], ...], tuple[str, dict[str, str]]] = {}
    # methods with options of their own first; those that only change defaults refer to them
    for info in sorted(infos, key=lambda i: (defaults_of(i.cls.Options) is not None, i.name)):
        docs = info.options
        if not docs:
            console.print(f"[bold]{info.name}[/]: no options", highlight=False)
            continue
        shape = tuple((d.name, d.type, d.help) for d in docs)
        if shape in shown:  # e.g. the LLM baselines: the ValueSim pipeline with other defaults
            other, defaults = shown[shape]
            changed = [f"{d.name}={d.default_text}" for d in docs if defaults[d.name] != d.default_text]
            console.print(
                f"[bold]{info.name}[/] options: those of {other}"
                + (f", with defaults {', '.join(changed)}" if changed else ""),
                highlight=False,
            )
            continue
        shown[shape] = (info.name, {d.name: d.default_text for d in docs})
        opts = Table(title=f"{info.name} options (-o key=value)", title_justify="left", show_edge=False)
        for col in ("option", "type", "default", "meaning"):
            opts.add_column(col, overflow="fold")
        for d in docs:
            opts.add_row(d.name, d.type, d.default_text, d.help)
        console.print(opts)
    for name, why in plugin_errors().items():
        err_console.print(f"[yellow]Warning:[/] plug-in method {name!r} not available: {why}", highlight=False)


@bench_app.command("compare")
def compare(
    run_a: Path = typer.Argument(..., help="First run directory."),
    run_b: Path = typer.Argument(..., help="Second run directory (same split)."),
    metric: list[str] | None = typer.Option(None, "--metric", help="top1, nmae, within1 (default: all)."),
    n_boot: int = typer.Option(1000, "--n-boot", min=1, help="Paired bootstrap replicates."),
    n_perm: int = typer.Option(5000, "--n-perm", min=1, help="Sign-flip permutations."),
    seed: int = typer.Option(0, "--seed", min=0, max=2**63 - 1, help="Seed of the bootstrap and the permutations."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the comparison as JSON here."),
) -> None:
    """Paired comparison of two runs made on the same split (difference = A - B)."""
    from valuesim.bench.compare import paired_comparison
    from valuesim.bench.metrics import METRICS
    from valuesim.bench.rundir import open_run, shared_codebook

    a, b = open_run(run_a), open_run(run_b)
    from valuesim.bench.protocol import protocol_name

    pa_name, pb_name = protocol_name(a.split.protocol), protocol_name(b.split.protocol)
    if pa_name != pb_name:
        raise ConfigError(
            f"The two runs were made under different protocols ({pa_name} and {pb_name}).",
            "A paired comparison needs runs of the same protocol: rerun one with the other's --protocol.",
        )
    if a.split.split_hash != b.split.split_hash:
        raise ConfigError(
            "The two runs were made on different splits (split_hash differs).",
            "Compare runs made with the same --data, --respondents, --seed, --folds/--history-sweep.",
        )
    for run in (a, b):
        if not run.complete:
            raise ConfigError(f"The run in {run.path} is not finished.", "Re-run its command to complete it first.")
    pa, pb = a.predictions(), b.predictions()
    name_a = a.metrics.get("method", str(run_a)) if a.metrics else str(run_a)
    name_b = b.metrics.get("method", str(run_b)) if b.metrics else str(run_b)
    wanted = _split_list(metric) or list(METRICS)
    cb = shared_codebook([a, b])
    table = Table(title=f"A = {name_a} ({run_a})   B = {name_b} ({run_b})", title_justify="left")
    for col in ("metric", "A", "B", "A - B", "95% CI", "p (perm.)", "p (sign)", "resp. A/B better"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    results = []
    for m in wanted:
        r = paired_comparison(pa, pb, m, codebook=cb, n_boot=n_boot, n_perm=n_perm, seed=seed)
        results.append(r.to_dict())
        table.add_row(
            m + (" ↓" if r.lower_is_better else " ↑"),
            _fmt(r.mean_a),
            _fmt(r.mean_b),
            f"{r.diff:+.3f}",
            f"[{r.ci95[0]:+.3f}, {r.ci95[1]:+.3f}]",
            _p(r.p_permutation),
            _p(r.p_sign),
            f"{r.respondents_a_better}/{r.respondents_b_better}",
        )
    bias = _position_bias_comparison(pa, pb, cb, n_boot=n_boot, n_perm=n_perm, seed=seed)
    if bias is not None:
        results.append(bias.to_dict())
        table.add_row(
            "first option shown",
            _fmt(bias.mean_a),
            _fmt(bias.mean_b),
            f"{bias.diff:+.3f}",
            f"[{bias.ci95[0]:+.3f}, {bias.ci95[1]:+.3f}]",
            _p(bias.p_permutation),
            _p(bias.p_sign),
            "",
        )
    console.print(table)
    if bias is not None:
        console.print(
            "first option shown: share of predictions on the option the prompt showed first (position bias; "
            "compare -o option_order=original with shuffled or reversed on the same split)",
            highlight=False,
        )
    if json_out is not None:
        json_out.write_text(
            json.dumps(
                {"a": str(run_a), "b": str(run_b), "split_hash": a.split.split_hash, "results": results}, indent=1
            )
            + "\n",
            encoding="utf-8",
        )
        console.print(f"Written {json_out}", highlight=False)


def _position_bias_comparison(pa: Any, pb: Any, cb: Any, **kw: Any) -> Any:
    """The paired difference in the share of predictions on the first option shown, when both
    runs recorded the order they showed options in (LLM methods); else None."""
    from valuesim.bench.compare import POSITION_METRIC, paired_comparison

    def recorded(frame: Any) -> bool:
        return "meta" in frame and any(isinstance(m, dict) and "shown_first" in m for m in frame["meta"])

    if not (recorded(pa) and recorded(pb)):
        return None
    try:
        return paired_comparison(pa, pb, POSITION_METRIC, codebook=cb, **kw)
    except ConfigError:  # no pair where both runs predicted something
        return None


def register(app: typer.Typer) -> None:
    """Add `valuesim bench` (and `valuesim bench compare`) to *app*."""
    app.add_typer(bench_app, name="bench")

"""CLI of the methods stage: `valuesim backstory` and `valuesim ask`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from valuesim._redact import redact_text
from valuesim.cli._data import CODEBOOK_HELP, load_data
from valuesim.cli._help import API_KEY_HELP, MODEL_DEFAULT, NO_CACHE_HELP
from valuesim.errors import ConfigError, DataError
from valuesim.llm.backends.local import SMOKE_TEST_NOTE, is_embedded_default

console = Console()


def parse_history(history: str, codebook: Any) -> list[str] | None:
    """``all`` -> None (every known item); ``profile`` -> profile items; else a list of ids."""
    h = history.strip()
    if h.lower() == "all":
        return None
    if h.lower() == "profile":
        return codebook.profile()
    ids = [codebook.get(x).id for x in h.split(",") if x.strip()]
    if not ids:
        raise ConfigError("--history is empty.", "Use all, profile, or a comma-separated list such as Q1,Q2,Q46.")
    return codebook.sort(set(ids) | set(codebook.profile()))


def _model(spec: str | None, base_url: str | None, *, api_key: str | None = None, cache: bool = True) -> Any:
    if spec is None:
        return None
    from valuesim.llm import get_model

    return get_model(spec, base_url=base_url, api_key=api_key, cache=cache)


def backstory(
    data: str = typer.Option(..., "--data", help="WVS-7 file or folder; 'synthetic' for generated respondents."),
    codebook: str | None = typer.Option(None, "--codebook", help=CODEBOOK_HELP),
    respondent: str = typer.Option(
        ..., "--respondent", "-r", help="Respondent id (interview id, or e.g. URY-17 where the file has none)."
    ),
    model: str | None = typer.Option(
        None, "--model", help="Model for --style narrative: local, local:PATH, openai:NAME, mock."
    ),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible server URL."),
    style: str = typer.Option(
        "facts",
        "--style",
        help="facts (no model needed), dense (the facts in fewer tokens), narrative (LLM prose) or raw (Q/A list).",
    ),
    history: str = typer.Option(
        "all", "--history", help="all, profile, or Q1,Q2,... (profile items are always included)."
    ),
    max_words: int | None = typer.Option(
        None, "--max-words", min=1, help="Length limit in words (whole sentences are dropped)."
    ),
    max_tokens: int | None = typer.Option(
        None,
        "--max-tokens",
        min=1,
        help="Length limit in tokens of --model (default: the embedded model's tokenizer); not for narrative.",
    ),
    profile_share: float | None = typer.Option(
        None,
        "--profile-share",
        min=0.01,
        max=1.0,
        help="Largest share of the length limit the profile may take (its most informative facts first).",
    ),
    target: str | None = typer.Option(
        None,
        "--target",
        help="Q1,Q2,...: show what ValueSim's prompts hold for these questions -- the shared story and each "
        "target's own answers, chosen by their association with it among the file's other respondents "
        "(the person's answers to the targets are hidden).",
    ),
    prompt_version: str = typer.Option("v1", "--prompt-version", help="Version of the narrative prompt."),
    fidelity: int = typer.Option(
        0, "--fidelity", min=0, help="Also re-ask N history questions from the story alone (needs --model)."
    ),
    check_model: bool = typer.Option(
        False,
        "--check-model",
        help="Narrative: besides the rule checks, re-ask each section's questions from the section alone.",
    ),
    api_key: str | None = typer.Option(None, "--api-key", help=API_KEY_HELP),
    no_cache: bool = typer.Option(False, "--no-cache", help=NO_CACHE_HELP),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write JSON (text, sections, meta) to this file."),
) -> None:
    """Write one respondent's second-person backstory (labels and country names, never codes).

    A narrative story's sections are checked against their facts; the verdict (sections
    written, regenerated, fallen back to the facts sentences, and why) is printed after it.
    """
    from valuesim.bench.rundir import write_json_atomic
    from valuesim.methods.story import build_backstory, story_fidelity
    from valuesim.methods.story.narrative import verdict

    if style == "narrative" and model is None:
        raise ConfigError("--style narrative needs --model.", "E.g. --model local, or use --style facts.")
    if fidelity and model is None:
        raise ConfigError("--fidelity needs --model.", "E.g. --model local.")
    if check_model and style != "narrative":
        raise ConfigError("--check-model checks narrative stories.", "Add --style narrative, or drop --check-model.")
    survey = load_data(data, codebook=codebook)
    person = survey.respondent(respondent)
    qids = parse_history(history, survey.codebook)
    if max_tokens is not None and style == "narrative":
        raise ConfigError("--max-tokens applies to facts, dense and raw stories.", "Use --max-words for narrative.")
    llm = _model(model, base_url, api_key=api_key, cache=not no_cache)
    counter = llm if llm is not None else (_model("local", None) if max_tokens is not None else None)
    parts: dict[str, Any] = {}
    if target is not None:
        from valuesim.cli.bench import model_flags

        # the method builds its model from the flags, like everywhere: the given model, else the
        # embedded one to count --max-tokens, else the mock model (a story needs no model call)
        spec = model or ("local" if max_tokens is not None else "mock")
        model_options = model_flags({}, None, model=spec, base_url=base_url, api_key=api_key, no_cache=no_cache)
        story, parts, person = _target_parts(
            survey, person, target, style, model_options, max_words, max_tokens, profile_share, qids
        )
    else:
        story = build_backstory(
            person,
            survey.codebook,
            llm,
            style=style,
            max_words=max_words,
            prompt_version=prompt_version,
            qids=qids,
            max_tokens=max_tokens,
            count_tokens=counter.count_tokens if counter is not None and max_tokens is not None else None,
            model_check=check_model,
            profile_share=profile_share,
            store=not no_cache,
        )
    checks = verdict(story.meta["check"]) if "check" in story.meta else []
    payload: dict[str, Any] = {
        "respondent": person.id,
        "country": person.country,
        "synthetic": survey.synthetic,
        **story.to_dict(),
    }
    if parts:
        payload["targets"] = {q: {"lines": ctx.lines, **ctx.meta} for q, ctx in parts.items()}
    if fidelity:
        report = story_fidelity(story, person, survey.codebook, llm, qids, n=fidelity)
        payload["fidelity"] = {k: v for k, v in report.to_dict().items() if k != "items"}
    if out is not None:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(out, payload)  # secrets redacted, the user's umask
        except OSError as e:
            raise DataError(f"Cannot write {out}: {e.strerror or e}.", "Pick a writable --out path.") from None
        console.print(f"Wrote {out} ({story.meta.get('words')} words, {story.n_facts} facts).", highlight=False)
        for line in checks:
            console.print(line, highlight=False, markup=False)
        return
    if survey.synthetic:
        console.print("[dim](synthetic respondent)[/]")
    typer.echo(story.text)
    console.print(
        f"[dim]{story.meta.get('words')} words"
        + (f", {story.meta['tokens']} tokens" if story.meta.get("tokens") is not None else "")
        + f", {story.n_facts} of {story.meta.get('n_facts_total')} facts, style {story.meta.get('style')}[/]"
    )
    for line in checks:
        console.print(line, highlight=False, markup=False)
    for qid, ctx in parts.items():
        h = ctx.meta.get("history", {})
        recall = f", history recall@{h['k']} {h['recall']:.2f}" if "recall" in h else ""
        console.print(
            f"\n[bold]For {qid}[/] ({survey.codebook.get(qid).short}): {len(ctx.lines)} line(s) after the shared "
            f"story{recall}",
            highlight=False,
        )
        for line in ctx.lines:
            typer.echo(f"- {line}")
    if fidelity:
        f = payload["fidelity"]
        console.print(f"Story fidelity: {f['recovered']}/{f['n']} = {f['rate']:.1%} of history answers recovered")


def _target_parts(
    survey: Any,
    person: Any,
    target: str,
    style: str,
    model_options: dict[str, Any],
    max_words: int | None,
    max_tokens: int | None,
    profile_share: float | None,
    qids: list[str] | None,
) -> tuple[Any, dict[str, Any], Any]:
    """``backstory --target``: ValueSim's shared story and each target's own answers for ``person``
    (their answers to the targets hidden), relations observed among the file's other respondents."""
    from valuesim.methods import get_method

    if style not in ("facts", "dense", "raw"):
        raise ConfigError("--target shows facts, dense and raw stories.", "Use --style dense (ValueSim's default).")
    if qids is not None:
        raise ConfigError("--target chooses from every known answer.", "Drop --history.")
    targets = [t.strip() for t in target.split(",") if t.strip()]
    for t in targets:
        if t not in survey.codebook:
            raise ConfigError(f"--target {t!r} is not a question of this survey.", "Use ids such as Q46.")
        if survey.codebook.get(t).profile:
            raise ConfigError(f"--target {t} is a profile item; it is always known.", "Pick a survey question.")
    options: dict[str, Any] = {"story": style, "story_tokens": max_tokens, "max_story_words": max_words}
    if profile_share is not None:
        options["profile_share"] = profile_share
    method = get_method("valuesim", survey.codebook, **model_options, **options)
    others = [r for r in survey.frame.index if r != person.id]
    if others:
        method.fit(survey.subset(others))
    shown = person.restricted([q for q in [*person.answers, *person.missing] if q not in set(targets)])
    story, parts = method.prompt_parts(shown, targets)  # type: ignore[attr-defined]
    return story, parts, shown


def ask(
    data: str = typer.Option(..., "--data", help="WVS-7 file or folder; 'synthetic' for generated respondents."),
    codebook: str | None = typer.Option(None, "--codebook", help=CODEBOOK_HELP),
    respondent: str = typer.Option(..., "--respondent", "-r", help="Respondent id."),
    question: str | None = typer.Option(
        None,
        "--question",
        "-q",
        help="Question id: a value item (Q1-Q259, e.g. Q46), a question of --questions, or the id to give --text.",
    ),
    text: str | None = typer.Option(None, "--text", help="A new question's wording (with --options)."),
    options_text: str | None = typer.Option(
        None, "--options", help='The new question\'s answer options, in scale order, separated by | ("Yes|No").'
    ),
    unordered: bool = typer.Option(False, "--unordered", help="The --options have no order (nominal question)."),
    questions: Path | None = typer.Option(
        None,
        "--questions",
        help="Questionnaire file (YAML, JSON or a Qualtrics .qsf) of new questions; asks all of them by default.",
    ),
    pipe: list[str] | None = typer.Option(
        None, "--pipe", help="Fill piped text of a .qsf: FIELD=VALUE for ${e://Field/FIELD} (repeatable)."
    ),
    method: str | None = typer.Option(
        None,
        "--method",
        help="Any method that can answer the question (see `valuesim bench --list-methods`): every method for a "
        "survey item; for a new question, one marked there as answering new questions.",
        show_default="supervised for a survey item (the best trained predictor measured); valuesim for a new "
        "question or when --model is given",
    ),
    model: str | None = typer.Option(
        None,
        "--model",
        help="Model spec: local, local:PATH, openai:NAME, mock.",
        show_default=MODEL_DEFAULT,
    ),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible server URL."),
    api_key: str | None = typer.Option(None, "--api-key", help=API_KEY_HELP),
    option: list[str] | None = typer.Option(None, "--option", "-o", help="Method option key=value (repeatable)."),
    no_cache: bool = typer.Option(False, "--no-cache", help=NO_CACHE_HELP),
    explain: bool = typer.Option(
        False,
        "--explain",
        help="Also show how the prediction was made (each module's answer, integration, calls and tokens) and "
        "each module's reason, asked in separate calls after the prediction: it never changes the answer.",
    ),
) -> None:
    """Predict one person's answer to a question (a WVS item, or a new one: --text/--options or
    --questions FILE); a real answer is hidden from the method."""
    from valuesim.cli.bench import model_flags, parse_options
    from valuesim.errors import RequestFailedError
    from valuesim.methods import get_method, method_info, predict_hidden
    from valuesim.methods.base import DEFAULT_NEW_QUESTION_METHOD, DEFAULT_SURVEY_ITEM_METHOD

    new_question = text is not None or questions is not None
    if method is None:  # a model named (or a new question) asks for a language model
        llm_asked = new_question or model is not None or base_url is not None or api_key is not None
        method = DEFAULT_NEW_QUESTION_METHOD if llm_asked else DEFAULT_SURVEY_ITEM_METHOD
    info = method_info(method)
    fits_known = info.cls.learns_from_known_items
    if new_question:  # nobody has answered it: only methods that do not learn from others' answers to it
        from valuesim.methods.base import refuse_trained

        refuse_trained(method, info.cls)
    survey = load_data(data, codebook=codebook)
    book, targets = _ask_targets(survey.codebook, question, text, options_text, unordered, questions, pipe)
    person = survey.respondent(respondent)
    options = model_flags(
        {**info.cls.single_person_options, **parse_options(option)},
        method,
        model=model,
        base_url=base_url,
        api_key=api_key,
        no_cache=no_cache,
    )
    m = get_method(method, book, **options)
    trained_on: int | None = None
    if fits_known:  # e.g. item-transfer: learns item relations from the other people, the asked questions hidden
        from valuesim.relations import fit_sample

        console.print(f"[dim]fitting {method} on the other respondents' answers to the known items ...[/]")
        sample = fit_sample(survey, hide=[q.id for q in targets], exclude=[person.id])
        m.fit(sample)
        trained_on = len(sample)
    elif info.cls.learns_from_others:  # trained predictors, the hybrid: fitted on everybody else
        trained_on = _fit_without(m, survey, person.id)
    target_ids = [q.id for q in targets]
    known = [x for x in person.answered() if x not in target_ids]
    task, outcome = predict_hidden(m, person, target_ids)  # the method never sees the real answer
    preds = {p.question: p for p in outcome.predictions}
    spec = str(m.config().get("model") or "")
    if survey.synthetic:
        console.print("[dim](synthetic respondent)[/]")
    llm_explain = explain and info.uses_llm
    reasons = m.explain(task, outcome.predictions) if llm_explain and outcome.predictions else {}
    for i, q in enumerate(targets):
        if i:
            console.print()
        if q.id in outcome.failed:
            console.print(f"[bold]{q.id}[/] {q.short}", highlight=False)
            console.print(f"Prediction: [red]failed[/] ({outcome.failed[q.id].message})", highlight=False)
            continue
        pred = preds[q.id]
        _print_answer(q, pred, person)
        if explain and not llm_explain:
            console.print("How it was made: " + _meta_text(pred.meta), highlight=False, soft_wrap=True)
        elif explain:
            for line in explain_lines(pred.meta, spec):
                console.print(line, highlight=False, soft_wrap=True)
            if reasons.get(q.id):
                console.print("Why (each module asked after the prediction, in a separate call; not used by it):")
                for name, why in reasons[q.id].items():
                    console.print(f"  {name}: {_quote(why)}", highlight=False, soft_wrap=True)
    console.print(_answered_by(method, m, trained_on, len(known)), highlight=False, soft_wrap=True)
    if info.uses_llm and is_embedded_default(spec):
        console.print(f"[bold yellow]Note:[/] {SMOKE_TEST_NOTE}", highlight=False, soft_wrap=True)
    if outcome.failed:
        first = next(iter(outcome.failed.values()))
        raise RequestFailedError(
            f"{len(outcome.failed)} of {len(targets)} question(s) got no prediction: a model request failed "
            f"after all retries ({first.message}).",
            (first.hint + " " if first.hint else "")
            + "Re-run the same command: answered requests come from the response cache.",
        )


def _fit_without(method: Any, survey: Any, person_id: str) -> int:
    """Fit *method* on everybody but the asked person (and copies of their record), like a
    benchmark's training data; returns how many people it learned from."""
    from valuesim.bench.config import RunConfig
    from valuesim.bench.plan import training_outside
    from valuesim.bench.protocol import ProtocolConfig, min_valid_for
    from valuesim.methods import method_names

    cfg = RunConfig()
    train = training_outside(
        survey,
        [person_id],
        min_valid=min_valid_for(survey, ProtocolConfig()),
        train_max=cfg.train_max,
        seed=ProtocolConfig().seed,
    )
    if not len(train):
        raise DataError(
            f"{method.name!r} learns from other respondents, and the file has no one else with enough answers.",
            f"Use a method that answers from the person alone ({', '.join(method_names(lambda i: i.answers_alone))}) "
            "or a file with more respondents.",
        )
    method.fit(train)
    return len(train)


def _meta_text(meta: dict[str, Any]) -> str:
    """A trained method's account of one prediction (its ``meta``), in one line."""
    parts = [f"{k.replace('_', ' ')} {v}" for k, v in meta.items() if isinstance(v, str | int | float)]
    return ", ".join(parts) or "no details recorded"


def _answered_by(name: str, method: Any, trained_on: int | None, n_known: int) -> str:
    """One line saying which method answered and from what."""
    what = f"Answered by {name}"
    model = redact_text(str(method.config().get("model") or ""))
    if model and method.uses_llm:
        what += f" (model {model})"
    elif model:
        what += f" ({model})"
    if trained_on is not None:
        what += f", trained on {trained_on:,} other respondents"
    return what + f", from this person's {n_known} other answers."


def _ask_targets(
    codebook: Any,
    question: str | None,
    text: str | None,
    options_text: str | None,
    unordered: bool,
    questions: Path | None,
    pipe: list[str] | None = None,
) -> tuple[Any, list[Any]]:
    """(codebook the method sees, target questions) of `valuesim ask`."""
    from valuesim.cli.questionnaire import print_import_notes
    from valuesim.survey.questionnaire import extend_codebook, inline_question, parse_pipes, read_questionnaire

    if text is not None and questions is not None:
        raise ConfigError("Give either --text/--options or --questions FILE, not both.", "Ask one at a time.")
    if text is not None:
        if options_text is None:
            raise ConfigError("--text needs --options.", 'E.g. --options "Strongly agree|Agree|Disagree".')
        q = inline_question(text, options_text, codebook, qid=question or "NEW", ordered=not unordered)
        return extend_codebook(codebook, [q]), [q]
    if options_text is not None or unordered:
        raise ConfigError("--options and --unordered describe a new question given with --text.", "Add --text.")
    if pipe and questions is None:
        raise ConfigError("--pipe fills the piped text of a Qualtrics .qsf given with --questions.", "Add --questions.")
    if questions is not None:
        loaded = read_questionnaire(questions, codebook, parse_pipes(pipe))
        print_import_notes(loaded.skipped, loaded.notes)
        new = loaded.questions
        extended = extend_codebook(codebook, new)
        if question is None:
            return extended, new
        ids = {q.id.upper(): q for q in new}
        if question.strip().upper() not in ids and question.strip().upper() not in extended:
            raise ConfigError(
                f"No question {question!r} in {questions}.",
                f"Its questions: {', '.join(q.id for q in new)} (or leave out --question to ask them all).",
            )
        return extended, [_value_item(extended, question)]
    if question is None:
        raise ConfigError(
            "Nothing to ask.", "Pass --question Q46, a new question with --text and --options, or --questions FILE."
        )
    return codebook, [_value_item(codebook, question)]


def _value_item(codebook: Any, question: str) -> Any:
    q = codebook.get(question)
    if q.profile:
        raise ConfigError(
            f"{q.id} ({q.short}) is a profile item (Q260-Q290: demographics), not a prediction target.",
            "Profile items are always given to the method as input; ask about a value item, Q1-Q259 "
            "(list them with `valuesim data questions`).",
        )
    return q


def _print_answer(q: Any, pred: Any, person: Any) -> None:
    from rich.markup import escape

    from valuesim.survey.questionnaire import is_custom

    # question texts and labels are the survey's words: "[country]", "[city]" are text, not markup
    console.print(f"[bold]{escape(q.id)}[/] {escape(q.short)}", highlight=False)
    if pred.prediction is None:
        console.print(f"Prediction: [red]none[/] ({escape(str(pred.meta.get('error', 'no answer')))})", highlight=False)
    else:
        conf = (pred.probabilities or {}).get(pred.prediction)
        extra = f" (p={conf:.2f})" if conf is not None else ""
        console.print(f"Prediction: [bold]{escape(q.label(pred.prediction))}[/]{extra}", highlight=False)
    if q.id in person.answers:
        truth = person.answers[q.id]
        mark = "[green]match[/]" if pred.prediction == truth else "[red]differs[/]"
        console.print(f"Real answer: {escape(q.label(truth))} ({mark})", highlight=False)
    elif q.id in person.missing:
        console.print(f"Real answer: none ({person.missing[q.id].name.lower().replace('_', ' ')})", highlight=False)
    elif is_custom(q):
        console.print("Real answer: none (a new question: nobody was asked it)", highlight=False)
    else:
        console.print("Real answer: not in the file", highlight=False)


def explain_lines(meta: dict[str, Any], model: str) -> list[str]:
    """How one prediction was made, in words: story, module answers, integration, usage."""
    lines = ["How it was made" + (f" (model {redact_text(model)})" if model else "") + ":"]
    story = meta.get("story") or {}
    if story.get("style") and story.get("style") != "none":
        lines.append(
            f"  story: {story['style']}, {_count(story.get('words'), 'word')}, {_count(story.get('n_facts'), 'fact')}"
        )
    elif story:
        lines.append("  story: none (the question only)")
    for name, view in (meta.get("modules") or {}).items():
        lines.append(_view_line(name, view))
    lines.append("  " + _integration_text(meta))
    usage = meta.get("usage") or {}
    if usage:
        calls = _count(usage.get("llm_calls"), "model call")
        prompt = _count(usage.get("prompt_tokens_sent") or usage.get("prompt_tokens"), "prompt token")
        generated = _count(usage.get("completion_tokens"), "generated token")
        cached = round(float(usage.get("cache_hits") or 0))
        from_cache = f" ({cached} more answered from the response cache)" if cached else ""
        lines.append(f"  usage: {calls}{from_cache}, {prompt}, {generated}")
    return lines


def _integration_text(meta: dict[str, Any]) -> str:
    integ = meta.get("integration") or {}
    rule = integ.get("rule")
    if rule is None:
        return "integration: none (" + str(meta.get("error") or "no module answered") + ")"
    if rule == "single":
        return "integration: one module, its answer is the prediction"
    if rule == "unanimous-then-coordinator":
        if integ.get("unanimous"):
            return "integration: the modules agree, so their shared answer is the prediction (no coordinator call)"
        coord = meta.get("coordinator") or {}
        if integ.get("fallback"):
            return "integration: the modules disagree and the coordinator gave no usable answer; majority vote"
        return "integration: the modules disagree; " + _view_line("coordinator", coord).strip() + " decided"
    return f"integration: {rule} of the module answers"


def _count(value: Any, noun: str) -> str:
    n = round(float(value or 0))
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _quote(text: str) -> str:
    flat = " ".join(text.split())
    return f'"{flat}"' if flat else "(no reason given)"


def _view_line(name: str, view: dict[str, Any]) -> str:
    if view.get("answer") is None:
        return f"  {name}: no answer ({view.get('error', '')})"
    conf = f" (p={view['confidence']:.2f})" if "confidence" in view else ""
    why = f" -- {view['rationale']}" if view.get("rationale") else ""
    return f"  {name}: {view.get('label')}{conf}{why}"


def register(app: typer.Typer) -> None:
    """Add this module's commands to *app*."""
    app.command("backstory")(backstory)
    app.command("ask")(ask)

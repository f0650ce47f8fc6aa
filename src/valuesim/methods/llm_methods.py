"""LLM methods: the ValueSim pipeline and the LLM baselines, all one configurable pipeline.

A prediction goes through three steps, each a parameter (so every ablation of the paper is
a configuration, not a copy of the code):

1. **story** -- what the model is told about the person (:mod:`valuesim.methods.story`):
   ``facts`` (deterministic sentences), ``narrative`` (LLM prose), ``raw`` (question/answer
   list: the "without story" ablation) or ``none``; built from all known items, the profile
   only, or the profile plus the ``rag_k`` history items most similar to each target.
2. **modules** -- prompt templates that each answer the target: ``cognitive``, ``affective``,
   ``behavioral`` (the paper's CAB modules) or one ``plain`` module ("without CAB"). With
   ``scoring="logprobs"`` an answer is the distribution over the option letters (one short
   call, no generation); with ``scoring="generate"`` the model writes a letter (and, with
   ``rationale=True``, one reason) that is parsed.
3. **integration** -- ``unanimous-then-coordinator`` (the paper's: unanimous modules decide,
   otherwise one coordinator call that sees every module's answer, confidence and rationale),
   ``mean`` / ``median`` of the module answers for ordered items (mode for nominal ones), or
   ``pool`` (argmax of the averaged module distributions).

Efficiency (measured by ``benchmarks/bench_cost.py``, see docs/method.md): the backstory is
the system message, identical for every call of a respondent, and the question comes before
the module instruction, so one cached prefix serves every module and target (llama.cpp / vLLM
prefix caching); the default ``dense`` story is budgeted in tokens of the reading model
(``story_tokens``); the coordinator (prompt v2 on) sees the question, the options and the
module answers, not the backstory again; ``logprobs`` scoring generates nothing; and
``batch_targets`` answers several targets per call (scored: per-position answer-letter
distributions). Each prediction records its calls and tokens in ``meta["usage"]``; the method
exposes running totals as ``usage``.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import typing
from collections import Counter
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import Field, field_validator, model_validator

from valuesim._aio import run_sync
from valuesim._redact import register_secret
from valuesim.errors import ConfigError, RequestFailedError, TargetsFailedError
from valuesim.llm import ChatMessage, GenerateConfig, Model, Usage, get_model, simulation
from valuesim.llm.choices import choice_schema, parse_choice
from valuesim.methods.base import Method, Prediction, Task, register
from valuesim.methods.options import MethodOptions, with_defaults
from valuesim.methods.phrasing import country_name
from valuesim.methods.prompting import (
    LETTERS,
    MODULE_DESCRIPTIONS,
    OptionOrder,
    build_messages,
    is_numbered,
    option_letters,
    parse_batch,
    parse_letter,
    shown_in_order,
    survey_phrase,
    system_message,
    target_options,
    unposable_reason,
)
from valuesim.methods.prompts import render
from valuesim.methods.relevance import (
    ChainedRelations,
    LexicalRelations,
    ObservedRelations,
    Relations,
    observed_relations,
    ranked,
    recall_at_k,
)
from valuesim.methods.story import (
    Backstory,
    HistoryBlock,
    StoryStyle,
    abuild_backstory,
    fact_index,
    history_block,
    phrase_for,
)
from valuesim.methods.story.narrative import story_check_summary
from valuesim.survey.codebook import Codebook, Question
from valuesim.survey.dataset import SurveyData
from valuesim.survey.respondent import Respondent

ModuleName = Literal["cognitive", "affective", "behavioral", "plain"]
Integration = Literal["unanimous-then-coordinator", "mean", "median", "pool"]
Scoring = Literal["logprobs", "generate"]
HistoryScope = Literal["all", "profile", "rag"]
Persona = Literal["own", "shuffled", "shuffled-any", "none"]
Selection = Literal["relevance", "position"]

T = TypeVar("T")

CAB: tuple[ModuleName, ...] = ("cognitive", "affective", "behavioral")
#: least association with a target for a profile fact outside the shared story to join the target's answers
PROFILE_MIN_RELATION = 0.1
MODULES: tuple[str, ...] = typing.get_args(ModuleName)
INTEGRATIONS: tuple[str, ...] = typing.get_args(Integration)
SCORINGS: tuple[str, ...] = typing.get_args(Scoring)
HISTORIES: tuple[str, ...] = typing.get_args(HistoryScope)


# --------------------------------------------------------------------------- configuration


class LLMOptions(MethodOptions):
    """Every setting of an LLM method (all of it goes into ``config()`` / run manifests)."""

    model: str = Field("local", description="model spec: local, local:PATH, openai:NAME, mock (--model)")
    base_url: str | None = Field(None, description="OpenAI-compatible server URL(s), comma-separated (--base-url)")
    api_key: str | None = Field(
        None,
        exclude=True,  # never in config(), manifests or reports
        repr=False,
        description="API key of the server (--api-key; default: OPENAI_API_KEY); never written anywhere",
    )
    story: StoryStyle = Field(
        "dense",
        description="what the model is told about the person: dense (the facts in fewest tokens: batteries "
        "said once), facts (sentences), narrative (LLM prose), raw (question/answer list), none",
    )
    history: HistoryScope = Field(
        "all",
        description="items the story is built from: all known, the profile only, or the profile plus the "
        "rag_k history answers most similar to each target",
    )
    modules: tuple[ModuleName, ...] = Field(
        CAB, min_length=1, description="prompt modules that answer each target (comma-separated)"
    )
    integration: Integration = Field(
        "unanimous-then-coordinator",
        description="how module answers become one: unanimous modules decide, else a coordinator call; "
        "mean/median of the codes (mode for nominal items); pool = argmax of the averaged distributions",
    )
    scoring: Scoring = Field(
        "logprobs",
        description="logprobs: distribution over the option letters (no generation); generate: the model "
        "writes a letter that is parsed",
    )
    rationale: bool = Field(False, description="ask each module for a one-sentence reason (an extra generation)")
    max_story_words: int | None = Field(
        None, ge=20, description="length limit of the story in words (whole sentences are dropped); null: none"
    )
    story_tokens: int | None = Field(
        600,
        ge=20,
        description="length limit of the story in tokens of the model that reads it (whole sentences are "
        "dropped; narrative stories: about 3/4 as many words); null: none",
    )
    selection: Selection = Field(
        "relevance",
        description="which of the person's answers the story budget keeps: relevance (a shared story of the "
        "capped profile and the most broadly informative answers, then per target the answers most associated "
        "with it among training people, within target_share of the budget); position (one story for every target: profile, "
        "then the sections round-robin in questionnaire order)",
    )
    target_share: float = Field(
        0.5,
        ge=0.0,
        lt=1.0,
        description="selection=relevance: the share of story_tokens spent per target on the answers most "
        "associated with it (after the shared story, before the question); 0: none",
    )
    profile_share: float = Field(
        0.35,
        gt=0.0,
        le=1.0,
        description="largest share of story_tokens (or max_story_words) the profile may take, most informative "
        "facts first (country, sex, age, education ...); 1: no cap",
    )
    recall_k: int = Field(
        20, ge=1, description="k of the history recall@k recorded with each prediction (see metrics.json)"
    )
    batch_targets: int = Field(
        1,
        ge=1,
        description="targets answered per call (scored: per-position answer distributions; generated: parsed); "
        "items not answered are re-asked one by one",
    )
    prompt_version: str = Field("v4", description="version of the prompt templates (methods/prompts/)")
    rag_k: int = Field(3, ge=1, description="history answers retrieved per target (history=rag)")
    rag_threshold: float = Field(
        0.3, ge=0.0, le=1.0, description="lowest BM25 similarity of a retrieved answer (history=rag)"
    )
    timeout: float = Field(
        120,
        gt=0,
        description="wall-clock seconds one attempt of a model request may take (openai: models); a request "
        "cut off three times gives up",
    )
    max_retries: int = Field(
        5,
        ge=0,
        description="retries of a failed model call (rate limits, timeouts, 5xx, malformed replies); a call that "
        "still fails costs the targets that needed it",
    )
    story_model: str | None = Field(None, description="model spec that writes narrative stories (default: model)")
    story_check: Literal["rules", "model"] = Field(
        "rules",
        description="checks of each narrative section against its facts: rules (deterministic) or model (rules, "
        "then the section's questions re-asked from the section alone); a failing section is written again, "
        "then replaced by its facts sentences",
    )
    cache: bool | str | None = Field(
        None,
        description="response cache: true/false or a directory (default: on, in $VALUESIM_CACHE_DIR, else "
        "~/.cache/valuesim)",
    )
    max_tokens_reason: int = Field(80, ge=1, description="token budget of a generated rationale")
    persona: Persona = Field(
        "own",
        description="control: whose record the prompt shows -- own; shuffled (another training respondent of "
        "the same country, seeded); shuffled-any (of any country); none (nobody: the question only)",
    )
    persona_seed: int = Field(0, description="seed of the shuffled persona's choice of person")
    option_order: OptionOrder = Field(
        "original",
        description="order the answer options are shown in: original (the questionnaire's), reversed, or "
        "shuffled (seeded per person and question); answers map back to the original codes",
    )

    @field_validator("modules", mode="before")
    @classmethod
    def _modules_list(cls, v: Any) -> Any:
        if isinstance(v, str):
            return tuple(m.strip() for m in v.split(",") if m.strip())
        return v

    @field_validator("api_key")
    @classmethod
    def _secret(cls, v: str | None) -> str | None:
        register_secret(v)  # masked wherever it might appear (e.g. the command line in a manifest)
        return v

    @field_validator("max_story_words", "story_tokens", mode="before")
    @classmethod
    def _no_limit(cls, v: Any) -> Any:
        return None if v in (0, "none", "None", "null") else v

    @model_validator(mode="after")
    def _consistent(self) -> LLMOptions:
        if self.batch_targets > 1 and self.rationale and self.scoring == "logprobs":
            raise ValueError(
                "batch_targets > 1 with rationale=true needs scoring=generate (scored batches read letters only)"
            )
        if self.story == "narrative" and self.history == "rag":
            raise ValueError("the rag history uses a facts story of the profile: use story=facts with history=rag")
        from valuesim.methods.prompts import has, versions

        for name in (*self.modules, "persona", "coordinator"):
            if not has(name, self.prompt_version):
                raise ValueError(
                    f"prompt {name!r} has no version {self.prompt_version!r} (prompt versions: {', '.join(versions())})"
                )
        return self


# --------------------------------------------------------------------------- results of one step


@dataclass
class ModuleAnswer:
    """One module's answer to one target."""

    module: str
    code: int | None
    probs: dict[int, float] | None = None
    rationale: str | None = None
    error: str | None = None
    usage: Usage = field(default_factory=Usage)
    #: prompt tokens of the calls as sent (system + user), whatever the backend reused from its cache
    sent_tokens: float = 0.0
    #: :func:`prompt_sha` of the messages of the call that gave the answer ("" when not recorded)
    prompt: str = ""

    def summary(self, q: Question) -> dict[str, Any]:
        out: dict[str, Any] = {"answer": self.code}
        if self.prompt:
            out["prompt_sha"] = self.prompt
        if self.code is not None:
            out["label"] = q.label(self.code)
        if self.probs is not None and self.code is not None:
            out["confidence"] = round(self.probs.get(self.code, 0.0), 4)
            out["probs"] = {str(c): round(float(p), 4) for c, p in self.probs.items()}
        if self.rationale:
            out["rationale"] = self.rationale
        if self.error:
            out["error"] = self.error
        return out


def prompt_sha(msgs: Sequence[ChatMessage]) -> str:
    """A short fingerprint of a request's messages (role and exact text), recorded in each
    module's meta (``prompt_sha``): 16 hex digits instead of the prompt (which repeats the
    backstory in every call) keep predictions.jsonl small; the viewer rebuilds the prompt
    (:meth:`LLMPipeline.aprompts`) and shows it only when the fingerprint matches."""
    import hashlib

    h = hashlib.sha256()
    for m in msgs:
        h.update(m.role.encode() + b"\x1f" + m.content.encode("utf-8") + b"\x1e")
    return h.hexdigest()[:16]


@dataclass
class TargetResult:
    """The integrated answer of the LLM pipeline to one target."""

    code: int | None
    probs: dict[int, float] | None
    meta: dict[str, Any]
    usage: Usage = field(default_factory=Usage)
    #: prompt tokens of the calls as sent (system + user), whatever the backend reused from its cache
    sent_tokens: float = 0.0


@dataclass
class TargetContext:
    """What a target's prompts add after the shared story: ``lines`` before the question in the
    module prompts (retrieved answers, or the answers most related to the target), the part the
    coordinator sees (``coordinator``: prompt v2 on, none of the person's record), and what was
    chosen (``meta``: recorded with the prediction)."""

    lines: list[str] = field(default_factory=list)
    coordinator: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


def pooled(answers: Sequence[ModuleAnswer], codes: Sequence[int]) -> dict[int, float] | None:
    """Average of the module distributions (a one-hot for a module without one)."""
    valid = [a for a in answers if a.code is not None]
    if not valid:
        return None
    out = {c: 0.0 for c in codes}
    for a in valid:
        dist = a.probs or ({a.code: 1.0} if a.code is not None else {})
        for c in codes:
            out[c] += dist.get(c, 0.0) / len(valid)
    return out


def nearest_code(value: float, codes: Sequence[int]) -> int:
    """The valid code closest to ``value`` (ties: the lower code)."""
    return min(sorted(codes), key=lambda c: (abs(c - value), c))


def combine(answers: Sequence[ModuleAnswer], q: Question, rule: str) -> tuple[int | None, dict[int, float] | None]:
    """Integrate module answers without a model call (rules mean / median / pool / mode)."""
    codes, _ = target_options(q)
    valid = [a for a in answers if a.code is not None]
    pool = pooled(valid, codes)
    if not valid or pool is None:
        return None, None
    values = [a.code for a in valid if a.code is not None]
    if rule == "pool":
        return max(codes, key=lambda c: (pool[c], -codes.index(c))), pool
    if rule in ("mean", "median") and q.ordered:
        center = statistics.fmean(values) if rule == "mean" else statistics.median(values)
        return nearest_code(center, codes), pool
    # mode (nominal items, and the unanimous case): most votes, then pooled probability, then module order
    votes = Counter(values)
    first = {c: i for i, c in reversed(list(enumerate(values)))}
    best = max(votes, key=lambda c: (votes[c], pool.get(c, 0.0), -first[c]))
    return best, pool


# --------------------------------------------------------------------------- persona controls


@dataclass
class DonorPool:
    """Training respondents a shuffled-persona control shows instead of the evaluated person."""

    data: SurveyData
    by_country: dict[str, list[str]]
    everyone: list[str]

    @classmethod
    def build(cls, train: SurveyData) -> DonorPool:
        ids = [str(i) for i in train.frame.index]
        by: dict[str, list[str]] = {}
        for rid, c in zip(ids, train.frame["country"].astype(str), strict=True):
            by.setdefault(c, []).append(rid)
        return cls(train, by, ids)

    def draw(self, task: Task, *, any_country: bool, seed: int) -> tuple[str, bool]:
        """(another person's id, whether of the same country): seeded by the unit, never the person."""
        me = task.respondent.id
        pool = [] if any_country else [r for r in self.by_country.get(task.respondent.country, []) if r != me]
        same = bool(pool)
        if not pool:
            pool = [r for r in self.everyone if r != me]
        if not pool:
            raise ConfigError("No other respondent to shuffle the persona with.", "Use more training respondents.")
        rng = random.Random(f"{seed}|{task.unit_id}")
        return pool[rng.randrange(len(pool))], same and not any_country


# --------------------------------------------------------------------------- the pipeline


class LLMPipeline(Method):
    """Base of every LLM method: story -> modules -> integration (see the module docstring)."""

    uses_llm: ClassVar[bool] = True
    Options: ClassVar[type[MethodOptions]] = LLMOptions
    opts: LLMOptions

    def __init__(self, codebook: Codebook, **options: Any) -> None:
        # the model is an option like any other (a spec): built on first use, from the options
        # None means "not given" (e.g. --base-url absent), except for the story budgets (no limit)
        super().__init__(
            codebook,
            **{k: v for k, v in options.items() if v is not None or k in ("max_story_words", "story_tokens")},
        )
        self._model: Model | None = None
        self._story_model_obj: Model | None = None
        self._retriever: Any = None
        self._token_memo: dict[str, int] = {}
        self._observed: ObservedRelations | None = None
        self._lexical: LexicalRelations | None = None
        self._chain: ChainedRelations | None = None

    # -- models ------------------------------------------------------------------------------
    @property
    def model(self) -> Model:
        if self._model is None:
            self._model = get_model(
                self.opts.model,
                base_url=self.opts.base_url,
                api_key=self.opts.api_key,
                cache=self.opts.cache,
                timeout=self.opts.timeout,
                max_retries=self.opts.max_retries,
            )
        return self._model

    @property
    def story_model(self) -> Model:
        if self.opts.story_model is None:
            return self.model
        if self._story_model_obj is None:
            self._story_model_obj = get_model(
                self.opts.story_model,
                cache=self.opts.cache,
                timeout=self.opts.timeout,
                max_retries=self.opts.max_retries,
            )
        return self._story_model_obj

    @property
    def default_concurrency(self) -> int:
        """Units in flight for the runner: 1 for the in-process model (one llama.cpp context,
        whose prompt-prefix cache is best used one respondent at a time), more for servers."""
        kind = self.opts.model.split(":", 1)[0]
        return {"local": 1, "mock": 8}.get(kind, 4)

    @property
    def usage(self) -> dict[str, float]:
        """Running LLM totals of this method (keys as in metrics.json)."""
        total = Usage()
        for m in {id(x): x for x in (self._model, self._story_model_obj) if x is not None}.values():
            total = total + m.usage
        return total.to_metrics(latency=False)

    def __getstate__(self) -> dict[str, Any]:  # models hold locks and native handles
        state = dict(self.__dict__)
        state["_model"] = None
        state["_story_model_obj"] = None
        state["_lexical"] = state["_chain"] = None  # rebuilt on demand
        return state

    def config(self) -> dict[str, Any]:
        conf = super().config()
        for transport in ("timeout", "max_retries"):  # how calls are made, not what they answer
            conf.pop(transport)
        if conf.get("persona") == "own":  # the default: runs made before the control existed stay resumable
            conf.pop("persona")
            conf.pop("persona_seed")
        return conf

    def fit(self, train: SurveyData) -> None:
        """The shuffled-persona controls draw their people from the training respondents; the
        story budget ranks a person's answers by their observed association with each target
        among the training respondents (:func:`~valuesim.methods.relevance.observed_relations`;
        also the reference of the history recall@k every prediction records)."""
        self._donors = DonorPool.build(train) if self.opts.persona.startswith("shuffled") else None
        self._observed = observed_relations(train.frame, self.codebook, train.question_ids) if len(train) else None

    def fit_report(self) -> dict[str, Any] | None:
        return {"relations": self._observed.summary()} if self._observed is not None else None

    @property
    def relations(self) -> Relations:
        """What ranks a person's answers for a target: the observed association (after ``fit``),
        the question wordings' similarity for targets nobody in the training data answered."""
        if self._lexical is None:
            self._lexical = LexicalRelations(self.codebook)
        if self._observed is None:
            return self._lexical
        if self._chain is None or self._chain.chain[0] is not self._observed:
            self._chain = ChainedRelations((self._observed, self._lexical))
        return self._chain

    @property
    def fits_for_prompts(self) -> bool:
        """Whether rebuilding a prediction's prompt needs the run's fit (the item relations that
        chose each target's answers, or the shuffled persona's people)."""
        return self._relevance or self.opts.persona.startswith("shuffled")

    @property
    def _relevance(self) -> bool:
        """Whether the story is split into a shared core and per-target answers."""
        cfg = self.opts
        return cfg.selection == "relevance" and cfg.history == "all" and cfg.story != "none" and cfg.target_share > 0

    # -- public entry points -----------------------------------------------------------------
    def predict(self, task: Task) -> list[Prediction]:
        return run_sync(lambda: self.apredict(task))

    async def apredict(self, task: Task) -> list[Prediction]:
        shown = [q for q in task.targets if task.respondent.has(q)]
        if shown:  # the story would state the answer it is asked to predict
            raise ConfigError(
                f"The record of respondent {task.respondent.id} given to {self.name} holds the answer to "
                f"{', '.join(shown)}, which it is asked to predict.",
                "Restrict the respondent to the other items (Respondent.restricted).",
            )
        person, truth, persona_meta = self._persona(task)
        if persona_meta is None:  # the person's own record
            return await self._apredict(task, person, None)
        with simulation.subject_truth(truth):  # a simulated model sees whom the prompt describes
            return await self._apredict(task, person, persona_meta)

    def _persona(self, task: Task) -> tuple[Respondent, dict[str, int] | None, dict[str, Any] | None]:
        """(record the prompt shows, that person's answers to the targets, meta) for ``persona``."""
        mode = self.opts.persona
        if mode == "own":
            return task.respondent, None, None
        if mode == "none":
            return Respondent(task.respondent.id, ""), {}, {"mode": "none"}
        donors = getattr(self, "_donors", None)
        if donors is None:
            raise ConfigError(
                f"persona={mode} needs the training respondents to draw another person from.",
                "Run it under `valuesim bench` / `experiment` (they call fit() with people outside the sample).",
            )
        donor_id, same_country = donors.draw(task, any_country=mode == "shuffled-any", seed=self.opts.persona_seed)
        full = donors.data.respondent(donor_id)
        shown = full.restricted([*task.respondent.answers, *task.respondent.missing])  # the same items as the person's
        truth = {q: full.answers[q] for q in task.targets if q in full.answers}
        return shown, truth, {"mode": mode, "donor": donor_id, "same_country": same_country}

    async def _apredict(self, task: Task, person: Respondent, persona_meta: dict[str, Any] | None) -> list[Prediction]:
        cfg = self.opts
        country = country_name(person.country)
        profile = [q for q in self.codebook.profile() if person.has(q)]
        story_qids = None if cfg.history == "all" else profile
        shows_nobody = persona_meta is not None and persona_meta["mode"] == "none"
        story = await self._backstory(person, story_qids, nobody=shows_nobody)
        story_usage = Usage()
        if cfg.story == "narrative" and not story.meta.get("from_store"):
            story_usage = Usage.from_mapping(story.meta.get("usage"))

        questions: list[Question] = []
        results: dict[str, Prediction] = {}
        for qid in task.targets:
            q = shown_in_order(self.codebook.get(qid), cfg.option_order, person.id)
            reason = unposable_reason(q)
            if reason is not None:  # skipped with a note; the other targets go on
                results[qid] = self._prediction(task, qid, None, None, {"error": reason, "not_posed": reason})
            else:
                questions.append(q)

        # numbered items (more options than letters) are asked one by one: batch replies are lettered
        n = cfg.batch_targets
        lettered = [q for q in questions if n > 1 and len(q.answer_codes) <= len(LETTERS)]
        groups = [lettered[i : i + n] for i in range(0, len(lettered), n)]
        groups += [[q] for q in questions if n <= 1 or len(q.answer_codes) > len(LETTERS)]
        contexts = self._contexts(person, story, groups, country)

        async def answer(g: list[Question]) -> list[TargetResult]:
            if n > 1 and len(g[0].answer_codes) <= len(LETTERS):
                return await self._answer_batch(story.text, g, country, contexts)
            return [await self._answer_one(story.text, g[0], country, contexts[g[0].id])]

        # a request that fails after its retries costs the targets that needed it (one target, or
        # one batch of them), not the task: the others are answered and the failed ones reported
        outs = await asyncio.gather(*(_failure_as_value(answer(g)) for g in groups))
        failed: dict[str, RequestFailedError] = {}
        by_id: dict[str, TargetResult] = {}
        for g, out in zip(groups, outs):
            if isinstance(out, RequestFailedError):
                failed.update({q.id: out for q in g})
            else:
                by_id.update({q.id: item for q, item in zip(g, out)})
        pairs = [(q, by_id[q.id]) for q in questions if q.id in by_id]

        share = 1.0 / max(1, len(task.targets))
        story_meta = {
            "style": story.meta.get("style"),
            "words": story.meta.get("words"),
            "tokens": story.meta.get("tokens"),
            "n_facts": story.n_facts,
        }
        if "check" in story.meta:  # narrative: what the checks of its sections found (per-run fidelity)
            story_meta["check"] = story_check_summary(story.meta["check"])
        # Besides what the backend reports (``prompt_tokens``: for the embedded model, only the
        # tokens it had to evaluate after reusing its KV cache), record the prompt as sent
        # (``prompt_tokens_sent``) and the system-message prefix every call of this unit shares
        # (``prefix_tokens``, per call), so runs on any backend can be compared.
        prefix = self._full_tokens([system_message(story.text, cfg.prompt_version, survey_phrase(self.codebook))])
        for q, res in pairs:
            meta = res.meta
            meta["usage"] = (res.usage + story_usage.scaled(share)).to_metrics(latency=False)
            meta["usage"]["prompt_tokens_sent"] = round(res.sent_tokens, 3)
            meta["usage"]["prefix_tokens"] = prefix
            meta["story"] = story_meta
            meta["shown_first"] = target_options(q)[0][0]  # the first option shown (position bias)
            if persona_meta is not None:
                meta["persona"] = persona_meta
            meta.update(contexts[q.id].meta)
            results[q.id] = self._prediction(task, q.id, res.code, res.probs, meta)
        if failed:
            raise TargetsFailedError([results[qid] for qid in task.targets if qid in results], failed)
        return [results[qid] for qid in task.targets]

    async def _backstory(self, person: Any, qids: list[str] | None, *, nobody: bool = False) -> Any:
        """The person's story as the predictions see it (also rebuilt, identically, for explanations);
        ``nobody``: the persona=none control, no story at all."""
        cfg = self.opts
        narrative = cfg.story == "narrative" and not nobody
        max_words = cfg.max_story_words
        tokens = cfg.story_tokens
        share: float | None = cfg.profile_share if qids is None else None  # a profile-only story is all profile
        priority = None
        if self._relevance and qids is None:
            # the shared core: the capped profile, then the answers most associated with the
            # questionnaire at large; the rest of the budget goes to each target's own answers
            if tokens is not None:
                core = tokens - self._target_tokens
                share, tokens = min(1.0, cfg.profile_share * tokens / core), core
            elif max_words is not None:
                core = max_words - int(cfg.target_share * max_words)
                share, max_words = min(1.0, cfg.profile_share * max_words / core), core
            if self._observed is not None:
                known = [q for q in person.answered() if q in self.codebook and not self.codebook.get(q).profile]
                central = self._observed.centrality(known)
                priority = {q: float(i) for i, q in enumerate(ranked(central, self.codebook))}
        if narrative and max_words is None and tokens is not None:
            max_words = max(20, tokens * 3 // 4)  # LLM prose is written to a word count
        return await abuild_backstory(
            person,
            self.codebook,
            self.story_model if narrative else None,
            style="none" if nobody else cfg.story,
            max_words=max_words,
            prompt_version=cfg.prompt_version,
            qids=qids,
            max_tokens=None if narrative else tokens,
            count_tokens=None if narrative or tokens is None else self.model.count_tokens,
            model_check=narrative and cfg.story_check == "model",
            profile_share=share,
            priority=priority,
            store=cfg.cache is not False,  # --no-cache: no stored stories either, every call afresh
        )

    def prompt_parts(self, person: Respondent, targets: Sequence[str]) -> tuple[Backstory, dict[str, TargetContext]]:
        """What this method's prompts tell the model about ``person`` for ``targets``: the shared
        story (the system message of every call) and each target's own part (the answers chosen
        for it, with ``meta["history"]``). ``person`` must not know the targets; call ``fit`` first
        for the observed relations. No model call except to write a narrative story."""
        return run_sync(lambda: self._aprompt_parts(person, targets))

    async def _aprompt_parts(
        self, person: Respondent, targets: Sequence[str]
    ) -> tuple[Backstory, dict[str, TargetContext]]:
        cfg = self.opts
        known = [q for q in targets if person.has(q)]
        if known:
            raise ConfigError(
                f"The record shown already holds the answer to {', '.join(known)}.",
                "Restrict the respondent to the other items (Respondent.restricted).",
            )
        profile = [q for q in self.codebook.profile() if person.has(q)]
        story = await self._backstory(person, None if cfg.history == "all" else profile)
        qs = [self.codebook.get(q) for q in targets]
        groups = [qs[i : i + cfg.batch_targets] for i in range(0, len(qs), cfg.batch_targets)]
        return story, self._contexts(person, story, groups, country_name(person.country))

    # -- the prompts a prediction read, rebuilt (the viewer shows them) ---------------------
    def prompts(
        self, task: Task, reasoning: Mapping[str, Mapping[str, str]] | None = None
    ) -> dict[str, dict[str, list[ChatMessage]]]:
        """See :meth:`aprompts`."""
        return run_sync(lambda: self.aprompts(task, reasoning))

    async def aprompts(
        self, task: Task, reasoning: Mapping[str, Mapping[str, str]] | None = None
    ) -> dict[str, dict[str, list[ChatMessage]]]:
        """question -> module -> the messages that module's answer call sends for *task*, built
        by the same code as a prediction, without calling the model: what the model read. The
        task is the benchmark's (the person restricted to profile + the unit's history), so the
        prompt never holds a held-out answer. Rebuilt for one-target-per-call prompts of the
        person's own record (or persona=none) with a facts-type story (dense, facts, raw,
        none). With ``rationale`` under log-prob scoring the answer call follows the module's
        generated reasoning: pass it as *reasoning* (question -> module -> text, recorded as
        each module's ``rationale``). Compare with the recorded ``prompt_sha``."""
        cfg = self.opts
        if cfg.story == "narrative":
            raise ConfigError(
                "A narrative backstory is written by the model: its prompt is not rebuilt here.",
                "The cached narratives of the person are on their page.",
            )
        if cfg.persona not in ("own", "none"):
            raise ConfigError(f"persona={cfg.persona}: another person's record is shown; its prompt is not rebuilt.")
        if cfg.batch_targets > 1:
            raise ConfigError("Batched prompts (batch_targets > 1) ask several targets at once: not rebuilt.")
        person, _, persona_meta = self._persona(task)
        shows_nobody = persona_meta is not None and persona_meta["mode"] == "none"
        profile = [q for q in self.codebook.profile() if person.has(q)]
        story = await self._backstory(person, None if cfg.history == "all" else profile, nobody=shows_nobody)
        country = country_name(person.country)
        out: dict[str, dict[str, list[ChatMessage]]] = {}
        for qid in task.targets:
            q = shown_in_order(self.codebook.get(qid), cfg.option_order, person.id)  # as the prediction showed it
            if unposable_reason(q) is not None:
                continue
            context = self._contexts(person, story, [[q]], country)[q.id].lines
            if cfg.scoring == "logprobs":
                said = (reasoning or {}).get(qid, {}) if cfg.rationale else {}
                out[qid] = {
                    m: self._messages(story.text, m, [q], country, context, mode="letter", reasoning=said.get(m, ""))
                    for m in cfg.modules
                }
            else:
                mode = "letter+reason" if cfg.rationale else "letter"
                out[qid] = {m: self._messages(story.text, m, [q], country, context, mode=mode) for m in cfg.modules}
        return out

    # -- explanations: asked after a prediction, never part of it ----------------------------
    def explain(self, task: Task, predictions: Sequence[Prediction]) -> dict[str, dict[str, str]]:
        """question -> module -> the module's reason for the answer it gave (see :meth:`aexplain`)."""
        return run_sync(lambda: self.aexplain(task, predictions))

    async def aexplain(self, task: Task, predictions: Sequence[Prediction]) -> dict[str, dict[str, str]]:
        """Each module's reason for its answer, asked *after* the prediction as a follow-up turn:
        the module's own prompt, its answer letter as the assistant reply, then the ``explain``
        prompt. The prediction is made without any of this (unlike ``rationale=True``, which
        feeds a reasoning step into the answer), so explaining never changes an answer. Calls
        go through the same model and cache; their usage is not part of the prediction's."""
        cfg = self.opts
        person = task.respondent
        country = country_name(person.country)
        profile = [q for q in self.codebook.profile() if person.has(q)]
        story = await self._backstory(person, None if cfg.history == "all" else profile)
        follow_up = ChatMessage("user", render("explain", cfg.prompt_version))
        out: dict[str, dict[str, str]] = {}
        for pred in predictions:
            q = shown_in_order(self.codebook.get(pred.question), cfg.option_order, person.id)
            modules = pred.meta.get("modules") or {}
            if unposable_reason(q) is not None or not modules:
                continue
            codes, _ = target_options(q)
            letters = option_letters(len(codes))
            context = self._contexts(person, story, [[q]], country)[q.id].lines
            reasons: dict[str, str] = {}
            for module, view in modules.items():
                code = view.get("answer")
                if code not in codes:
                    continue
                msgs = [
                    *self._messages(story.text, module, [q], country, context, mode="letter"),
                    ChatMessage("assistant", letters[codes.index(code)]),
                    follow_up,
                ]
                g = await self.model.generate(msgs, GenerateConfig(max_tokens=cfg.max_tokens_reason, stop=("\n\n",)))
                reasons[module] = g.text.strip()
            out[pred.question] = reasons
        return out

    # -- steps -----------------------------------------------------------------------------
    def _prediction(
        self, task: Task, qid: str, code: int | None, probs: dict[int, float] | None, meta: dict[str, Any]
    ) -> Prediction:
        return Prediction(
            respondent=task.respondent.id,
            question=qid,
            fold=task.fold,
            prediction=code,
            probabilities=probs,
            condition=task.condition,
            meta=meta,
        )

    def _contexts(
        self, person: Respondent, story: Backstory, groups: Sequence[Sequence[Question]], country: str | None
    ) -> dict[str, TargetContext]:
        """Per target: the retrieved answers (history=rag) or the answers most related to it that
        the shared story does not state (selection=relevance; one block per batch of targets),
        and the history recall@k of everything its prompt states (``meta["history"]``)."""
        cfg = self.opts
        stated = set(story.meta.get("qids_stated") or [])
        known = [q for q in person.answered() if q in self.codebook]
        coordinator_sees_record = not self._coordinator_has_own_system
        index = (
            fact_index(person, self.codebook, "facts" if cfg.story == "narrative" else cfg.story)
            if (self._relevance)
            else None
        )
        out: dict[str, TargetContext] = {}
        for group in groups:
            block: HistoryBlock | None = None
            if index is not None:
                scores: dict[str, float] = {}
                for q in group:
                    for item, v in self.relations.scores(q.id, known).items():
                        scores[item] = max(v, scores.get(item, 0.0))
                # a profile fact the shared story left out comes back only when it bears on the target:
                # the profile does not crowd out the answers here either
                floor = PROFILE_MIN_RELATION
                scores = {k: v for k, v in scores.items() if v >= floor or not self.codebook.get(k).profile}
                block = history_block(
                    person,
                    self.codebook,
                    ranked(scores, self.codebook),
                    max_tokens=self._target_tokens,
                    count_tokens=self.model.count_tokens,
                    style="facts" if cfg.story == "narrative" else cfg.story,
                    exclude=stated,
                    index=index,
                )
            for q in group:
                lines, retrieved = self._context(person, q, country)
                ctx = TargetContext(lines, list(lines), {"retrieved": retrieved} if retrieved else {})
                in_prompt = stated | {r["question"] for r in retrieved}
                history: dict[str, Any] = {"selection": cfg.selection if self._relevance else "position"}
                if block is not None:
                    ctx.lines = [*block.lines, *ctx.lines]
                    if coordinator_sees_record:
                        ctx.coordinator = list(ctx.lines)
                    in_prompt |= set(block.qids)
                    source = self.relations.source(q.id) if isinstance(self.relations, ChainedRelations) else None
                    history.update(
                        {
                            "relations": (source or self.relations).kind,
                            "target_facts": len(block.qids),
                            "target_tokens": block.tokens,
                        }
                    )
                if self._observed is not None and self._observed.knows(q.id):
                    recall = recall_at_k(self._observed, q.id, known, in_prompt, self.codebook, cfg.recall_k)
                    if recall is not None:
                        history.update({"k": cfg.recall_k, "recall": round(recall, 4)})
                ctx.meta["history"] = history
                out[q.id] = ctx
        return out

    @property
    def _target_tokens(self) -> int:
        """Tokens of each target's own answers (selection=relevance): target_share of story_tokens
        (of about 4/3 max_story_words without a token budget)."""
        cfg = self.opts
        total = cfg.story_tokens if cfg.story_tokens is not None else (cfg.max_story_words or 0) * 4 // 3
        return int(cfg.target_share * total) if total else 0

    @property
    def _coordinator_has_own_system(self) -> bool:
        from valuesim.methods.prompts import has

        return has("coordinator_system", self.opts.prompt_version)

    def _context(self, person: Any, q: Question, country: str | None) -> tuple[list[str], list[dict[str, Any]]]:
        """RAG only: sentences of the most similar history answers (and what was retrieved)."""
        if self.opts.history != "rag":
            return [], []
        if self._retriever is None:
            from valuesim.methods.retrieval import QuestionRetriever

            self._retriever = QuestionRetriever(self.codebook)
        history = [h for h in person.answered() if h in self.codebook and not self.codebook.get(h).profile]
        hits = self._retriever.similar(q.id, history, k=self.opts.rag_k, threshold=self.opts.rag_threshold)
        lines, info = [], []
        for h in hits:
            fact = phrase_for(self.codebook, h.qid, person.answers[h.qid], country)
            if fact is not None:
                lines.append(fact.sentence)
                info.append({"question": h.qid, "similarity": h.similarity})
        return lines, info

    def _messages(
        self, story: str, module: str, qs: Sequence[Question], country: str | None, context: Sequence[str], **kw: Any
    ) -> list[ChatMessage]:
        return build_messages(
            story,
            module,
            qs,
            prompt_version=self.opts.prompt_version,
            country=country,
            context=context,
            survey=survey_phrase(self.codebook),
            **kw,
        )

    def _coordinator_messages(
        self, story: str, q: Question, country: str | None, context: Sequence[str], **kw: Any
    ) -> list[ChatMessage]:
        """The coordinator's request. Prompt versions with a ``coordinator_system`` template (v2
        on) give it the question, the options and the modules' answers (and reasons) only, not
        the backstory again; v1 re-sends the backstory as its system message."""
        from valuesim.methods.prompts import has, render

        msgs = self._messages(story, "coordinator", [q], country, context, **kw)
        if has("coordinator_system", self.opts.prompt_version):
            return [ChatMessage("system", render("coordinator_system", self.opts.prompt_version)), msgs[-1]]
        return msgs

    def _full_tokens(self, msgs: Sequence[ChatMessage]) -> int:
        """Tokens of a request's messages as sent (cached per text: the backstory repeats)."""
        total = 0
        for m in msgs:
            n = self._token_memo.get(m.content)
            if n is None:
                n = self.model.count_tokens(m.content)
                if len(self._token_memo) > 512:
                    self._token_memo.clear()
                self._token_memo[m.content] = n
            total += n
        return total

    def _sent(self, msgs: Sequence[ChatMessage], cached: bool) -> int:
        return 0 if cached else self._full_tokens(msgs)

    @property
    def _answer_tokens(self) -> int:
        """Generation budget of one answer: a letter, or a letter and a reason."""
        return self.opts.max_tokens_reason if self.opts.rationale else 8

    async def _ask(
        self, role: str, msgs: list[ChatMessage], q: Question, *, keep_reply: bool, max_tokens: int
    ) -> ModuleAnswer:
        """One call that answers ``q`` as ``role`` (a module or the coordinator): the option
        letters scored (``scoring=logprobs``) or a generated reply parsed; with ``keep_reply``
        the rest of a generated reply becomes the rationale. ModelError propagates: it stops the run.

        Numbered options (more than 26) are multi-token labels whose first-token log-probs do
        not rank them, so under ``scoring=logprobs`` the model writes its number under a JSON
        schema that admits only the options' numbers (a one-hot answer, no distribution)."""
        codes, texts = target_options(q)
        letters = option_letters(len(codes))
        what = "answer" if role in MODULES else f"{role} answer"
        sha = prompt_sha(msgs)
        if self.opts.scoring == "logprobs" and is_numbered(letters):
            g = await self.model.generate(msgs, GenerateConfig(max_tokens=16, json_schema=choice_schema(letters)))
            sent = self._sent(msgs, g.cached)
            index = parse_choice(g.text, letters)
            if index is None:
                return ModuleAnswer(role, None, None, None, f"unparseable {what}: {g.text[:120]!r}", g.usage, sent, sha)
            return ModuleAnswer(role, codes[index], None, None, None, g.usage, sent, sha)
        if self.opts.scoring == "logprobs":
            res = await self.model.score_choices(msgs, letters)
            sent = self._sent(msgs, res.cached)
            if res.source != "logprobs" and max(res.probs) - min(res.probs) < 1e-9:
                err = f"unparseable {what}: {(res.raw or '')[:120]!r}"
                return ModuleAnswer(role, None, None, None, err, res.usage, sent, sha)
            probs = {c: float(p) for c, p in zip(codes, res.probs)}
            return ModuleAnswer(role, codes[res.best], probs, None, None, res.usage, sent, sha)
        g = await self.model.generate(msgs, GenerateConfig(max_tokens=max_tokens))
        sent = self._sent(msgs, g.cached)
        letter, rest = parse_letter(g.text, letters, texts)
        if letter is None:
            return ModuleAnswer(role, None, None, None, f"unparseable {what}: {g.text[:120]!r}", g.usage, sent, sha)
        reply = (rest or None) if keep_reply else None
        return ModuleAnswer(role, codes[letters.index(letter)], None, reply, None, g.usage, sent, sha)

    async def _module(
        self, module: str, story: str, q: Question, country: str | None, context: Sequence[str]
    ) -> ModuleAnswer:
        """One module's answer to one question (with ``rationale`` under log-prob scoring: a
        reason is generated first and the letter is scored after it)."""
        cfg = self.opts
        usage, sent, reasoning = Usage(), 0, ""
        if cfg.scoring == "logprobs":
            if cfg.rationale:
                msgs = self._messages(story, module, [q], country, context, mode="reason")
                g = await self.model.generate(msgs, GenerateConfig(max_tokens=cfg.max_tokens_reason, stop=("\n\n",)))
                usage, sent, reasoning = g.usage, self._sent(msgs, g.cached), g.text.strip()
            msgs = self._messages(story, module, [q], country, context, mode="letter", reasoning=reasoning)
        else:
            msgs = self._messages(
                story, module, [q], country, context, mode="letter+reason" if cfg.rationale else "letter"
            )
        answer = await self._ask(module, msgs, q, keep_reply=cfg.rationale, max_tokens=self._answer_tokens)
        answer.usage, answer.sent_tokens = usage + answer.usage, sent + answer.sent_tokens
        if reasoning:
            answer.rationale = reasoning
        return answer

    async def _coordinate(
        self, story: str, q: Question, country: str | None, context: Sequence[str], answers: Sequence[ModuleAnswer]
    ) -> ModuleAnswer:
        cfg = self.opts
        codes, _ = target_options(q)
        letters = option_letters(len(codes))
        views = [
            {
                "module": a.module,
                "description": MODULE_DESCRIPTIONS.get(a.module, a.module),
                "letter": letters[codes.index(a.code)] if a.code is not None else "no answer",
                "confidence": (a.probs or {}).get(a.code) if a.probs is not None and a.code is not None else None,
                "rationale": a.rationale or "",
            }
            for a in answers
        ]
        mode = "letter+reason" if cfg.rationale and cfg.scoring == "generate" else "letter"
        msgs = self._coordinator_messages(story, q, country, context, mode=mode, views=views)
        return await self._ask("coordinator", msgs, q, keep_reply=True, max_tokens=self._answer_tokens)

    async def _integrate(
        self, story: str, q: Question, country: str | None, context: Sequence[str], answers: list[ModuleAnswer]
    ) -> TargetResult:
        cfg = self.opts
        usage = Usage()
        sent = 0.0
        for a in answers:
            usage = usage + a.usage
            sent += a.sent_tokens
        meta: dict[str, Any] = {"modules": {a.module: a.summary(q) for a in answers}}
        valid = [a for a in answers if a.code is not None]
        if not valid:
            meta["error"] = "; ".join(f"{a.module}: {a.error}" for a in answers if a.error) or "no module answered"
            return TargetResult(None, None, meta, usage, sent)
        integ: dict[str, Any] = {"rule": cfg.integration if len(answers) > 1 else "single"}
        if cfg.integration == "unanimous-then-coordinator" and len(answers) > 1:
            unanimous = len({a.code for a in valid}) == 1
            integ["unanimous"] = unanimous
            integ["coordinator"] = not unanimous
            if unanimous:
                code, probs = combine(valid, q, "mode")
            else:
                coord = await self._coordinate(story, q, country, context, answers)
                usage = usage + coord.usage
                sent += coord.sent_tokens
                meta["coordinator"] = coord.summary(q)
                if coord.code is None:  # a failed coordinator falls back to the vote
                    code, probs = combine(valid, q, "mode")
                    integ["fallback"] = "mode"
                else:
                    code, probs = (
                        coord.code,
                        coord.probs if coord.probs is not None else pooled(valid, target_options(q)[0]),
                    )
        else:
            rule = cfg.integration if cfg.integration != "unanimous-then-coordinator" else "mode"
            code, probs = combine(valid, q, rule)
        meta["integration"] = integ
        return TargetResult(code, probs, meta, usage, sent)

    async def _answer_one(self, story: str, q: Question, country: str | None, context: TargetContext) -> TargetResult:
        with simulation.asking(q.id):  # read by simulated models only
            answers = await asyncio.gather(
                *(self._module(m, story, q, country, context.lines) for m in self.opts.modules)
            )
            result = await self._integrate(story, q, country, context.coordinator, list(answers))
        if len(q.answer_codes) > len(LETTERS):
            result.meta["numbered_options"] = len(q.answer_codes)  # posed as "1." ... "N.", not lettered
        return result

    async def _answer_batch(
        self,
        story: str,
        qs: list[Question],
        country: str | None,
        contexts: Mapping[str, TargetContext],
    ) -> list[TargetResult]:
        """Each module answers all of ``qs`` in one call: scored (``scoring=logprobs``: the
        distribution over each item's letters at its answer position) or generated and parsed;
        items it did not answer are asked again one by one."""
        cfg = self.opts
        ctx = list(dict.fromkeys(line for q in qs for line in contexts[q.id].lines))
        mode = "letter+reason" if cfg.rationale else "letter"
        per_q: dict[str, list[ModuleAnswer]] = {q.id: [] for q in qs}
        options = [target_options(q) for q in qs]
        letters = [option_letters(len(c)) for c, _ in options]

        async def scored(module: str) -> None:
            """One call reads every item's option distribution (per-position log-probs)."""
            msgs = self._messages(story, module, qs, country, ctx, mode="letter")
            res = await self.model.score_batch(msgs, letters)
            share = res.usage.scaled(1.0 / len(qs))
            sent_share = self._sent(msgs, res.cached) / len(qs)
            for i, q in enumerate(qs):
                dist = res.probs[i]
                if dist is None:  # the answer did not reach this item: ask it on its own
                    single = await self._module(module, story, q, country, contexts[q.id].lines)
                    single.usage = single.usage + share
                    single.sent_tokens += sent_share
                    per_q[q.id].append(single)
                    continue
                codes = options[i][0]
                probs = {c: float(p) for c, p in zip(codes, dist)}
                best = max(range(len(codes)), key=lambda j: (dist[j], -j))
                per_q[q.id].append(ModuleAnswer(module, codes[best], probs, None, None, share, sent_share))

        async def run(module: str) -> None:
            msgs = self._messages(story, module, qs, country, ctx, mode=mode)
            g = await self.model.generate(msgs, GenerateConfig(max_tokens=self._answer_tokens * len(qs)))
            parsed = parse_batch(g.text, len(qs), letters)
            share = g.usage.scaled(1.0 / len(qs))
            sent_share = self._sent(msgs, g.cached) / len(qs)
            for i, q in enumerate(qs):
                letter, reason = parsed[i]
                if letter is None:
                    single = await self._module(module, story, q, country, contexts[q.id].lines)
                    single.usage = single.usage + share
                    single.sent_tokens += sent_share
                    per_q[q.id].append(single)
                else:
                    codes = options[i][0]
                    per_q[q.id].append(
                        ModuleAnswer(
                            module,
                            codes[letters[i].index(letter)],
                            None,
                            (reason or None) if cfg.rationale else None,
                            None,
                            share,
                            sent_share,
                        )
                    )

        await asyncio.gather(*((scored if cfg.scoring == "logprobs" else run)(m) for m in cfg.modules))
        order: dict[str, int] = {m: i for i, m in enumerate(cfg.modules)}
        out = []
        for q in qs:
            answers = sorted(per_q[q.id], key=lambda a: order[a.module])
            result = await self._integrate(story, q, country, contexts[q.id].coordinator, answers)
            result.meta["batch"] = len(qs)
            out.append(result)
        return out


async def _failure_as_value(step: Awaitable[T]) -> T | RequestFailedError:
    """The step's result, or the :class:`RequestFailedError` it raised (its targets failed)."""
    try:
        return await step
    except RequestFailedError as e:
        return e


# --------------------------------------------------------------------------- registered methods


@register("valuesim", "ValueSim: backstory + cognitive/affective/behavioral LLM modules + integration")
class ValueSim(LLMPipeline):
    Options = LLMOptions


@register("blank", "LLM baseline: the question only, nothing about the person")
class Blank(LLMPipeline):
    Options = with_defaults(LLMOptions, "BlankOptions", story="none", modules=("plain",))


@register("demographics", "LLM baseline: the person's profile (demographics) only")
class Demographics(LLMPipeline):
    Options = with_defaults(LLMOptions, "DemographicsOptions", story="facts", history="profile", modules=("plain",))


@register("full-info", "LLM baseline: raw question/answer list of profile + history in the prompt")
class FullInfo(LLMPipeline):
    Options = with_defaults(LLMOptions, "FullInfoOptions", story="raw", history="all", modules=("plain",))


@register("rag", "LLM baseline: profile + the k history answers most similar to the question (BM25)")
class Rag(LLMPipeline):
    Options = with_defaults(LLMOptions, "RagOptions", story="facts", history="rag", modules=("plain",))


__all__ = [
    "CAB",
    "Blank",
    "Demographics",
    "FullInfo",
    "LLMOptions",
    "LLMPipeline",
    "ModuleAnswer",
    "Rag",
    "TargetResult",
    "ValueSim",
    "combine",
    "nearest_code",
    "pooled",
]

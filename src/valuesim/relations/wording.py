"""What a pair of questions has in common, read from their wording and options only.

Every feature here comes from the codebook text (wording, battery preamble, option labels,
section) -- never from anybody's answers:

* lexical similarity: TF-IDF cosine over stemmed words of the self-contained short wording and of
  the full wording (whose shared battery preamble marks items of one battery);
* an optional sentence-embedding similarity (:class:`Encoder`; ``static``: the static token
  embeddings the ``wordllama`` wheel ships, mean-pooled -- no download at run time);
* the option sets: equal labels, equal number of options, same section;
* scale direction cues: :func:`polarity` (+1 when the first option is the scale's positive /
  agreeing / frequent end, -1 when it is the negative end, 0 when the labels do not say) and
  negation words in the question itself.
"""

from __future__ import annotations

import importlib.util
import itertools
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from valuesim.survey.codebook import Question

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_PLACEHOLDER = re.compile(r"\[[^\]]*\]")
_NEGATIONS = frozenset({"not", "no", "never", "nobody", "nothing", "none", "neither", "nor", "without"})
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "for",
        "and",
        "or",
        "is",
        "are",
        "be",
        "was",
        "were",
        "you",
        "your",
        "do",
        "does",
        "did",
        "how",
        "what",
        "which",
        "would",
        "that",
        "this",
        "it",
        "its",
        "with",
        "as",
        "at",
        "by",
        "from",
        "have",
        "has",
        "had",
        "i",
        "me",
        "my",
        "we",
        "our",
        "they",
        "their",
        "them",
        "he",
        "she",
        "his",
        "her",
        "there",
        "these",
        "those",
        "each",
        "following",
        "say",
        "think",
        "should",
        "could",
        "can",
        "will",
        "much",
        "many",
    ]
)
#: words that put an option label at the positive / high / agreeing end of a scale, and the opposite
_POSITIVE = frozenset(
    [
        "very",
        "strongly",
        "agree",
        "always",
        "completely",
        "great",
        "yes",
        "good",
        "important",
        "satisfied",
        "trust",
        "often",
        "approve",
        "justifiable",
        "likely",
        "much",
        "most",
        "high",
        "mentioned",
        "happy",
        "interested",
        "confident",
    ]
)
_NEGATIVE = frozenset(
    [
        "not",
        "never",
        "no",
        "none",
        "disagree",
        "dissatisfied",
        "bad",
        "unlikely",
        "rarely",
        "little",
        "least",
        "low",
        "disapprove",
        "unhappy",
        "nothing",
        "hardly",
    ]
)
_SUFFIXES = ("ations", "ation", "ness", "ment", "ings", "ing", "ities", "ity", "ies", "ied", "ed", "es", "ly", "s")


def stem(word: str) -> str:
    """A light suffix stripper: enough to make 'justifiable'/'justified', 'trusts'/'trust' share a stem."""
    for suf in _SUFFIXES:
        if word.endswith(suf) and len(word) - len(suf) >= 4:
            return word[: -len(suf)]
    return word


def words(text: str) -> list[str]:
    return _WORD.findall(_PLACEHOLDER.sub(" ", text.lower()).replace("n't", " not"))


def stems(text: str) -> list[str]:
    return [stem(w) for w in words(text) if w not in _STOP]


def label_score(label: str) -> int:
    ws = words(label)
    neg = sum(w in _NEGATIVE or (w.startswith(("dis", "un")) and w[3:] in _POSITIVE) for w in ws)
    pos = sum(w in _POSITIVE for w in ws)
    return pos - 2 * neg


def polarity(q: Question) -> int:
    """+1: the first option is the positive/agreeing/frequent end; -1: the last one is; 0: unknown."""
    codes = q.answer_codes
    if len(codes) < 2:
        return 0
    d = label_score(q.label(codes[0])) - label_score(q.label(codes[-1]))
    return int(np.sign(d))


def negations(q: Question) -> int:
    """Negation words in the self-contained wording (their parity flips a statement's direction)."""
    return sum(w in _NEGATIONS for w in words(q.short or q.text))


def option_key(q: Question) -> tuple[str, ...]:
    return tuple(" ".join(words(q.label(c))) for c in q.answer_codes)


# --------------------------------------------------------------------------- sentence encoders


class Encoder(Protocol):
    """Turns texts into unit-length vectors (rows)."""

    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class StaticEncoder:
    """Static token embeddings mean-pooled into a sentence vector (WordLlama's l2_supercat 256-d
    table and tokenizer, both shipped inside the ``wordllama`` wheel: nothing is downloaded)."""

    name = "wordllama-l2_supercat-256"

    def __init__(self, weights: Path, tokenizer: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        table = load_file(str(weights))
        self._table = next(iter(table.values())).astype(np.float32)
        self._tok = Tokenizer.from_file(str(tokenizer))

    @classmethod
    def from_package(cls) -> StaticEncoder | None:
        """The encoder of the installed ``wordllama`` package, or None when it is not installed."""
        try:
            spec = importlib.util.find_spec("wordllama")
            if spec is None or spec.origin is None:
                return None
            root = Path(spec.origin).parent
            weights = root / "weights" / "l2_supercat_256.safetensors"
            tokenizer = root / "tokenizers" / "l2_supercat_tokenizer_config.json"
            if not (weights.is_file() and tokenizer.is_file()):
                return None
            return cls(weights, tokenizer)
        except ImportError:  # safetensors / tokenizers missing
            return None

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self._table.shape[1]), dtype=np.float32)
        for i, t in enumerate(texts):
            ids = [x for x in self._tok.encode(_PLACEHOLDER.sub(" ", t), add_special_tokens=False).ids]
            if ids:
                v = self._table[ids].mean(axis=0)
                norm = float(np.linalg.norm(v))
                out[i] = v / norm if norm > 0 else v
        return out


def get_encoder(name: str) -> Encoder | None:
    """``none``: no encoder; ``static``: the wordllama one (None if not installed); ``auto``: it if installed."""
    if name == "none":
        return None
    enc = StaticEncoder.from_package()
    if enc is None and name == "static":
        from valuesim.errors import ConfigError

        raise ConfigError(
            "The static sentence encoder needs the wordllama package (its wheel ships the embeddings).",
            'Install it with `pip install "valuesim[embed]"`, or use encoder=auto / encoder=none.',
        )
    return enc


# --------------------------------------------------------------------------- pair features


class TextSpace:
    """Vectors of a set of questions for pairwise similarities (fitted on the known items' texts)."""

    def __init__(self, known: Sequence[Question], encoder: Encoder | None = None) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.encoder = encoder
        self._short = TfidfVectorizer(analyzer=stems, ngram_range=(1, 1), sublinear_tf=True, min_df=1)
        self._full = TfidfVectorizer(analyzer=stem_bigrams, sublinear_tf=True, min_df=1)
        self._short.fit([q.short or q.text for q in known])
        self._full.fit([q.text for q in known])

    def vectors(self, qs: Sequence[Question]) -> dict[str, np.ndarray]:
        out = {
            "short": self._dense(self._short.transform([q.short or q.text for q in qs])),
            "full": self._dense(self._full.transform([q.text for q in qs])),
        }
        if self.encoder is not None:
            out["embed"] = self.encoder.encode([q.short or q.text for q in qs])
        return out

    @staticmethod
    def _dense(m: object) -> np.ndarray:
        return np.asarray(m.toarray(), dtype=np.float32)  # type: ignore[attr-defined]


def stem_bigrams(text: str) -> list[str]:
    """Stems and pairs of adjacent stems (a module-level function: the vectorizer must pickle)."""
    return _bigrams(stems(text))


def _bigrams(tokens: list[str]) -> list[str]:
    return tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]


#: names of the direct pair features, in column order
DIRECT_FEATURES = (
    "sim_short",
    "sim_full",
    "sim_embed",
    "same_options",
    "same_n_options",
    "same_section",
    "polarity_product",
    "negation_parity",
    "both_binary",
)


class Cues:
    """Per-question cues of a list of questions, as arrays (computed once)."""

    def __init__(self, qs: Sequence[Question]) -> None:
        keys: dict[tuple[str, ...], int] = {}
        sections: dict[str, int] = {}
        self.options = np.array([keys.setdefault(option_key(q), len(keys)) for q in qs], dtype=np.int64)
        self._keys = keys
        self.section = np.array([sections.setdefault(q.section, len(sections)) for q in qs], dtype=np.int64)
        self._sections = sections
        self.polarity = np.array([polarity(q) for q in qs], dtype=np.float32)
        self.negation = np.array([negations(q) % 2 for q in qs], dtype=np.int64)
        self.n_options = np.array([len(q.answer_codes) for q in qs], dtype=np.int64)

    def of(self, q: Question) -> tuple[int, int, float, int, int]:
        """(options id, section id, polarity, negation parity, n options) of another question."""
        return (
            self._keys.get(option_key(q), -1),
            self._sections.get(q.section, -1),
            float(polarity(q)),
            negations(q) % 2,
            len(q.answer_codes),
        )


def direct_features(
    target: Question, t_vec: dict[str, np.ndarray], cues: Cues, k_vecs: dict[str, np.ndarray]
) -> np.ndarray:
    """(n known, len(DIRECT_FEATURES)) features of the pairs (target, known item)."""
    n = len(cues.options)
    out = np.zeros((n, len(DIRECT_FEATURES)), dtype=np.float32)
    out[:, 0] = k_vecs["short"] @ t_vec["short"]
    out[:, 1] = k_vecs["full"] @ t_vec["full"]
    out[:, 2] = (k_vecs["embed"] @ t_vec["embed"]) if "embed" in t_vec and "embed" in k_vecs else np.nan
    opt, sec, pol, neg, n_opt = cues.of(target)
    out[:, 3] = cues.options == opt
    out[:, 4] = cues.n_options == n_opt
    out[:, 5] = cues.section == sec
    out[:, 6] = cues.polarity * pol
    out[:, 7] = cues.negation != neg
    out[:, 8] = (cues.n_options == 2) & (n_opt == 2)
    return out

"""The benchmark protocol: who is evaluated, on which questions, knowing what.

A *split* is the complete definition of the work of one benchmark run. It depends only on
the data and on :class:`ProtocolConfig` -- never on the method -- so every method run with
the same data, configuration and seed is judged on identical work, and the split is saved
beside the results (``split.json``) to prove it.

Rules (they fix the leaks of the original paper's protocol):

* Targets are substantive items only (the codebook's non-profile questions, Q1-Q259, that
  are present in the data). The profile block Q260-Q290 is always known to the method and
  is never a target.
* Questions are split into ``folds`` groups once, with the seed; the split is the same for
  every respondent. In k-fold mode the history of a fold is every other substantive item.
* A target the respondent did not answer validly (don't know, no answer, not asked ...)
  is dropped from that unit's targets: it is never scored.
* Only respondents with at least ``min_valid`` valid substantive answers are eligible.
* History sweep: for each fold and each size h, the history is a random subset of h of the
  fold's non-target substantive items. Subsets are drawn per (respondent, fold) from a
  seeded permutation and are nested (the h=58 history is the first 58 items of the h=116
  history), so the accuracy-vs-history curve is not blurred by independent draws.
* Replication mode reads the original paper's fold files; profile items (and questions
  not in the codebook or the data) are removed from their targets, and this is reported.

Seeds: every random choice draws from ``numpy.random.default_rng([seed, stream, ...])`` with
a separate stream per purpose (sample, folds, history), so changing e.g. the fold count
does not change who is sampled. Sampling works on ids sorted in a fixed order, so the
sample does not depend on the row order of the file.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from valuesim.errors import ConfigError, DataError, validation_error
from valuesim.survey.codebook import Codebook, QuestionKind, question_sort_key
from valuesim.survey.dataset import SurveyData

#: Random streams (second entry of the seed sequence) -- one per kind of random choice.
_STREAM_SAMPLE = 0
_STREAM_FOLDS = 1
_STREAM_HISTORY = 2
_STREAM_TARGETS = 4

SPLIT_FORMAT = 1


class ProtocolWarning(UserWarning):
    """Something about the protocol the user should know (fewer respondents, capped sizes...)."""


def settings_error(what: str, e: ValidationError, command: str = "bench") -> ConfigError:
    """A pydantic validation failure as a user-facing :class:`ConfigError`."""
    return validation_error(what, e, f"See `valuesim {command} --help` for the allowed values.")


class ProtocolConfig(BaseModel):
    """Everything that defines a split. Method and runner settings live elsewhere."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: "k-fold": methods learn from people outside the sample with every question (the targets
    #: included); "new-questions": the fold's target questions are hidden from everyone -- fit()
    #: gets the training data without those columns, as if nobody had ever been asked them
    name: Literal["k-fold", "new-questions"] = "k-fold"
    n_respondents: int = 100
    seed: int = 42
    min_valid: int = 150
    stratify_by_country: bool = False
    countries: tuple[str, ...] | None = None
    folds: int = 5
    history_sweep: bool = False
    history_sizes: tuple[int, ...] = (0, 58, 116, 174, 232)
    replication_split: str | None = None
    #: run only these folds (0-based), e.g. (0,) for a quick LLM run; None = all folds
    only_folds: tuple[int, ...] | None = None
    #: at most this many targets per unit (a seeded random subset, the same for every method);
    #: None = every answered target. Histories are unchanged, so this only makes runs cheaper.
    max_targets: int | None = None

    @field_validator("max_targets")
    @classmethod
    def _max_targets(cls, v: int | None) -> int | None:
        if v is not None and v < 1:
            raise ValueError("max_targets must be at least 1")
        return v

    @field_validator("only_folds")
    @classmethod
    def _only_folds(cls, v: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if v is None:
            return None
        if not v or any(k < 0 for k in v):
            raise ValueError("only_folds must list fold numbers >= 0")
        return tuple(sorted(set(v)))

    @field_validator("n_respondents")
    @classmethod
    def _n(cls, v: int) -> int:
        if v < 1:
            raise ValueError("n_respondents must be at least 1")
        return v

    @field_validator("seed")
    @classmethod
    def _seed(cls, v: int) -> int:
        if not 0 <= v < 2**63:
            raise ValueError(f"must be a whole number from 0 to 2**63-1, got {v}")
        return v

    @field_validator("min_valid")
    @classmethod
    def _min_valid(cls, v: int) -> int:
        if v < 0:
            raise ValueError("min_valid must be >= 0")
        return v

    @field_validator("folds")
    @classmethod
    def _folds(cls, v: int) -> int:
        if v < 2:
            raise ValueError("folds must be at least 2 (k-fold cross-validation over questions)")
        return v

    @field_validator("history_sizes")
    @classmethod
    def _sizes(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v:
            raise ValueError("history_sizes must not be empty")
        if any(h < 0 for h in v):
            raise ValueError("history sizes must be >= 0")
        return tuple(sorted(set(v)))

    @field_validator("countries")
    @classmethod
    def _countries(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if v is None:
            return None
        out = tuple(sorted({c.strip().upper() for c in v if c.strip()}))
        return out or None

    @classmethod
    def create(cls, command: str = "bench", **kwargs: Any) -> ProtocolConfig:
        """Build a config, turning validation problems into a :class:`ConfigError` that points
        at ``valuesim COMMAND --help``."""
        try:
            return cls(**kwargs)
        except ValidationError as e:
            raise settings_error(
                "sample settings" if command == "simulate" else "benchmark protocol", e, command
            ) from None

    def to_dict(self) -> dict[str, Any]:
        return json.loads(self.model_dump_json())


@dataclass(frozen=True)
class Unit:
    """One piece of work: predict ``targets`` for ``respondent`` knowing profile + ``history``."""

    respondent: str
    fold: int
    condition: str
    targets: tuple[str, ...]
    history: tuple[str, ...]

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.respondent, self.fold, self.condition)

    def to_dict(self) -> dict[str, Any]:
        return {
            "respondent": self.respondent,
            "fold": self.fold,
            "condition": self.condition,
            "targets": list(self.targets),
            "history": list(self.history),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Unit:
        return cls(
            respondent=str(d["respondent"]),
            fold=int(d["fold"]),
            condition=str(d.get("condition", "")),
            targets=tuple(d["targets"]),
            history=tuple(d["history"]),
        )


@dataclass
class Split:
    """The work of one benchmark run (see module docstring)."""

    protocol: dict[str, Any]
    data_fingerprint: str
    respondents: list[str]
    folds: list[list[str]]
    units: list[Unit]
    split_hash: str = ""
    #: things the user should know (not part of the hash): capped sizes, dropped items ...
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.split_hash:
            self.split_hash = compute_split_hash(self.respondents, self.units, protocol_name(self.protocol))

    @property
    def conditions(self) -> list[str]:
        seen: dict[str, None] = {}
        for u in self.units:
            seen.setdefault(u.condition, None)
        return list(seen)

    @property
    def n_targets(self) -> int:
        return sum(len(u.targets) for u in self.units)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": SPLIT_FORMAT,
            "protocol": self.protocol,
            "data_fingerprint": self.data_fingerprint,
            "respondents": list(self.respondents),
            "folds": [list(f) for f in self.folds],
            "units": [u.to_dict() for u in self.units],
            "split_hash": self.split_hash,
            "notes": list(self.notes),
        }

    def save(self, path: str | Path) -> None:
        """Write the split as JSON (atomically: a crash never leaves half a file)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        tmp.replace(path)

    def to_json(self) -> str:
        """Readable but compact JSON: one line per top-level entry, per fold and per unit."""

        def dump(x: Any) -> str:
            return json.dumps(x, ensure_ascii=False, separators=(",", ":"))

        parts = []
        for key, value in self.to_dict().items():
            if key in ("units", "folds") and value:
                inner = ",\n  ".join(dump(v) for v in value)
                parts.append(f'"{key}":[\n  {inner}\n ]')
            else:
                parts.append(f"{dump(key)}:{dump(value)}")
        return "{\n " + ",\n ".join(parts) + "\n}\n"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Split:
        units = [Unit.from_dict(u) for u in d["units"]]
        respondents = [str(r) for r in d["respondents"]]
        split = cls(
            protocol=dict(d.get("protocol", {})),
            data_fingerprint=str(d.get("data_fingerprint", "")),
            respondents=respondents,
            folds=[list(f) for f in d.get("folds", [])],
            units=units,
            split_hash="",
            notes=list(d.get("notes", [])),
        )
        stored = d.get("split_hash")
        if stored and stored != split.split_hash:
            raise DataError(
                "The split file was modified: its split_hash does not match its content.",
                "Delete the run directory (or pass --overwrite) and run again.",
            )
        return split

    @classmethod
    def load(cls, path: str | Path) -> Split:
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(f"No split file at {path}.", "Run `valuesim bench` to create one.") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise DataError(
                f"Cannot read split file {path}: it is damaged ({e}).",
                "Restore it from a backup, or re-run the benchmark with --overwrite (its predictions are recomputed).",
            ) from None
        try:
            return cls.from_dict(raw)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise DataError(
                f"{path} is damaged: not a valuesim split file ({type(e).__name__}: {e}).",
                "Restore it from a backup, or re-run the benchmark with --overwrite (its predictions are recomputed).",
            ) from None


def protocol_name(protocol: Mapping[str, Any] | None) -> str:
    """The protocol of a split's ``protocol`` dict (benchmark splits written before protocols had names: k-fold)."""
    p = protocol or {}
    return str(p.get("name") or p.get("kind") or "k-fold")  # "kind": simulate splits written before names


def compute_split_hash(respondents: Sequence[str], units: Sequence[Unit], protocol: str = "k-fold") -> str:
    """sha256 of the canonical JSON of respondents + units. ``new-questions`` has the units of
    k-fold, so its name is hashed too: runs of the two protocols never pair (k-fold hashes are
    unchanged)."""
    payload: dict[str, Any] = {"respondents": list(respondents), "units": [u.to_dict() for u in units]}
    if protocol == "new-questions":
        payload["protocol"] = protocol
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- helpers


def _sorted_q(qids: Sequence[str]) -> list[str]:
    return sorted(qids, key=question_sort_key)


def _id_key(rid: str) -> tuple[int, int, str]:
    """Natural order of respondent ids: numeric ids by value, then the rest as text."""
    return (0, int(rid), "") if rid.isdigit() else (1, 0, rid)


def compact_ids(qids: Sequence[str]) -> str:
    """'Q1, Q2, Q3, Q7' -> 'Q1-Q3, Q7' (for messages; ids that are not Q<number> are listed as they are)."""
    if not all(q[:1] == "Q" and q[1:].isdigit() for q in qids):
        return ", ".join(sorted(set(qids), key=question_sort_key))
    nums = sorted({int(q[1:]) for q in qids})
    parts: list[str] = []
    i = 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        parts.append(f"Q{nums[i]}" if i == j else f"Q{nums[i]}-Q{nums[j]}")
        i = j + 1
    return ", ".join(parts)


def _stable_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def _warn(notes: list[str], message: str) -> None:
    notes.append(message)
    warnings.warn(message, ProtocolWarning, stacklevel=3)


def target_pool(data: SurveyData) -> list[str]:
    """Questions that may be targets: substantive codebook items present in the data.

    Numeric items (a quantity, not a choice among options) are never targets; a substantive
    one (a survey other than WVS-7 may have e.g. hours of TV) is part of every history instead,
    see :func:`numeric_context`."""
    present = set(data.question_ids)
    cb = data.codebook
    return [q for q in cb.substantive() if q in present and cb.get(q).kind is not QuestionKind.NUMERIC]


def numeric_context(data: SurveyData) -> list[str]:
    """Substantive numeric items present in the data: known in every k-fold history (none in WVS-7)."""
    present = set(data.question_ids)
    cb = data.codebook
    return [q for q in cb.substantive() if q in present and cb.get(q).kind is QuestionKind.NUMERIC]


def profile_items(codebook: Codebook) -> list[str]:
    return codebook.profile()


def valid_counts(data: SurveyData, qids: Sequence[str] | None = None) -> np.ndarray:
    """Number of valid (non-negative) answers per respondent among *qids* (default: pool)."""
    cols = list(qids) if qids is not None else target_pool(data)
    if not cols:
        return np.zeros(len(data), dtype=np.int64)
    return (data.frame[cols].to_numpy() >= 0).sum(axis=1)


#: WVS-7's default threshold relative to its value items (150 of 259): the cap for other surveys.
MIN_VALID_SHARE = 150 / 259


def min_valid_for(data: SurveyData, cfg: ProtocolConfig) -> int:
    """The eligibility threshold: ``min_valid``; for a survey other than WVS-7 at most
    ``MIN_VALID_SHARE`` of its value items (a 40-item survey cannot ask for 150 answers)."""
    if data.codebook.is_wvs:
        return cfg.min_valid
    return min(cfg.min_valid, int(MIN_VALID_SHARE * len(target_pool(data))))


def eligible_ids(data: SurveyData, cfg: ProtocolConfig) -> list[str]:
    """Respondents (country filter applied) with >= min_valid valid substantive answers."""
    frame = data.frame
    mask = valid_counts(data) >= min_valid_for(data, cfg)
    if cfg.countries:
        have = set(frame["country"].astype(str))
        unknown = [c for c in cfg.countries if c not in have]
        if unknown:
            raise DataError(
                f"Country code(s) {', '.join(unknown)} not found in {data.source or 'the data'}.",
                "Use ISO 3166 alpha-3 codes present in the data: " + ", ".join(sorted(have)[:60]),
            )
        mask &= frame["country"].astype(str).isin(cfg.countries).to_numpy()
    return sorted((str(i) for i in frame.index[mask]), key=_id_key)


# --------------------------------------------------------------------------- sampling


def _allocate_equal(sizes: dict[str, int], n: int, rng: np.random.Generator) -> dict[str, int]:
    """Split *n* as evenly as possible over groups, never above a group's size.

    Leftovers (n not divisible, or small groups) go to groups in a seeded random order.
    """
    alloc = {g: 0 for g in sizes}
    remaining = min(n, sum(sizes.values()))
    while remaining > 0:
        open_groups = [g for g in sizes if alloc[g] < sizes[g]]
        share = remaining // len(open_groups)
        if share == 0:
            for g in rng.permutation(open_groups)[:remaining]:
                alloc[str(g)] += 1
            break
        for g in open_groups:
            take = min(share, sizes[g] - alloc[g])
            alloc[g] += take
            remaining -= take
    return alloc


def sample_respondents(data: SurveyData, cfg: ProtocolConfig, notes: list[str] | None = None) -> list[str]:
    """The evaluated respondents: a seeded sample of eligible ids, in natural id order.

    With ``stratify_by_country`` the sample is spread evenly over countries (each country
    gets the same number where it has enough eligible people; the rest is redistributed).
    When fewer people are eligible than requested, all of them are used and a
    :class:`ProtocolWarning` is issued.
    """
    notes = notes if notes is not None else []
    if len(data) == 0:
        raise DataError("The data has no respondents.", "Check the file you passed with --data.")
    pool = target_pool(data)
    if not pool:
        raise DataError(
            "The data has no substantive questions (WVS-7: Q1-Q259) to predict.",
            "Check that the file is a WVS-7 file with Q-numbered columns, or that the codebook (--codebook) "
            "has items that are not marked profile.",
        )
    ids = eligible_ids(data, cfg)
    if not ids:
        best = int(valid_counts(data).max())
        raise DataError(
            f"No respondent has at least {min_valid_for(data, cfg)} valid answers among the {len(pool)} "
            f"substantive questions (the best has {best}).",
            f"Lower the threshold, e.g. --min-valid {max(0, best - best // 10)}.",
        )
    if len(ids) <= cfg.n_respondents:
        if len(ids) < cfg.n_respondents:
            _warn(
                notes,
                f"Only {len(ids)} respondents are eligible (>= {min_valid_for(data, cfg)} valid answers"
                + (f", countries {', '.join(cfg.countries)}" if cfg.countries else "")
                + f"); using all of them instead of {cfg.n_respondents}.",
            )
        return ids
    rng = np.random.default_rng([cfg.seed, _STREAM_SAMPLE])
    if not cfg.stratify_by_country:
        picked = rng.choice(len(ids), size=cfg.n_respondents, replace=False)
        return sorted((ids[i] for i in picked), key=_id_key)
    country = data.frame.loc[ids, "country"].astype(str)
    groups: dict[str, list[str]] = {}
    for rid, c in zip(ids, country, strict=True):
        groups.setdefault(c, []).append(rid)
    alloc = _allocate_equal({c: len(g) for c, g in sorted(groups.items())}, cfg.n_respondents, rng)
    chosen: list[str] = []
    for c in sorted(groups):
        members = groups[c]
        k = alloc[c]
        if k:
            idx = rng.choice(len(members), size=k, replace=False)
            chosen.extend(members[i] for i in idx)
    return sorted(chosen, key=_id_key)


# --------------------------------------------------------------------------- folds


def make_folds(questions: Sequence[str] | Codebook, cfg: ProtocolConfig) -> list[list[str]]:
    """Split the target questions into ``cfg.folds`` disjoint groups that cover them all.

    *questions* is the target pool (or a codebook, whose substantive items are used).
    Profile items are never placed in a fold. Group sizes differ by at most one.
    """
    qids = questions.substantive() if isinstance(questions, Codebook) else list(questions)
    qids = _sorted_q(list(dict.fromkeys(qids)))
    if len(qids) < cfg.folds:
        raise DataError(
            f"Only {len(qids)} substantive question(s) are available, fewer than {cfg.folds} folds.",
            "Use fewer folds (--folds) or a data file with more WVS questions.",
        )
    rng = np.random.default_rng([cfg.seed, _STREAM_FOLDS])
    order = rng.permutation(len(qids))
    return [_sorted_q([qids[i] for i in part]) for part in np.array_split(order, cfg.folds)]


def read_replication_split(
    directory: str | Path, codebook: Codebook, available: Sequence[str] | None = None
) -> tuple[list[list[str]], list[str]]:
    """Folds from the paper's split files ``fold_{k}.json`` (``{"fold", "train_set", "test_set"}``).

    Returns (target questions per fold in the files' fold order, notes). Profile items and
    questions not in the codebook / not in *available* are removed from the targets.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(
            f"Replication split directory {directory} does not exist.",
            "Pass the folder holding fold_1.json ... fold_5.json (e.g. reference/simvbg/splits).",
        )
    files = sorted(directory.glob("fold_*.json"), key=lambda p: (len(p.stem), p.stem))
    if not files:
        raise DataError(
            f"No fold_<k>.json files in {directory}.",
            'Each file must look like {"fold": 1, "train_set": ["Q5", ...], "test_set": ["Q62", ...]}.',
        )
    # the paper's demographic block Q260-Q290, whether or not the codebook keeps each item
    profile = set(codebook.profile()) | {f"Q{i}" for i in range(260, 291)}
    avail = set(available) if available is not None else set(codebook.substantive())
    records: list[tuple[int, list[str]]] = []
    dropped_profile: set[str] = set()
    dropped_other: set[str] = set()
    for path in files:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            fold_no = int(raw["fold"])
            test = [str(q).strip().upper() for q in raw["test_set"]]
            train = [str(q).strip().upper() for q in raw["train_set"]]
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise DataError(
                f"{path} is not a split file ({type(e).__name__}: {e}).",
                'Expected {"fold": <int>, "train_set": [qid, ...], "test_set": [qid, ...]}.',
            ) from None
        if set(test) & set(train):
            raise DataError(f"{path}: questions appear in both train_set and test_set.", "Fix the split file.")
        targets = []
        for q in test:
            if q in profile:
                dropped_profile.add(q)
            elif q in avail:
                targets.append(q)
            else:
                dropped_other.add(q)
        records.append((fold_no, _sorted_q(targets)))
    fold_numbers = [f for f, _ in records]
    if len(set(fold_numbers)) != len(fold_numbers):
        raise DataError(
            f"Duplicate fold numbers in {directory}: {fold_numbers}.", "Each fold file needs its own number."
        )
    records.sort()
    folds = [t for _, t in records]
    seen: set[str] = set()
    for t in folds:
        if seen & set(t):
            raise DataError(f"The test sets in {directory} overlap.", "Folds must be disjoint.")
        seen |= set(t)
    if any(not t for t in folds):
        raise DataError(f"A fold in {directory} has no usable target question.", "Check the split files.")
    notes = []
    if dropped_profile:
        notes.append(
            f"Replication split: removed {len(dropped_profile)} profile item(s) "
            f"({compact_ids(list(dropped_profile))}) from the targets; they stay known inputs."
        )
    if dropped_other:
        notes.append(
            f"Replication split: removed {len(dropped_other)} question(s) not usable as targets here "
            f"({compact_ids(list(dropped_other))})."
        )
    missing = avail - seen
    if missing:
        notes.append(
            f"Replication split: {len(missing)} available question(s) are in no test set "
            f"({compact_ids(list(missing))})."
        )
    return folds, notes


# --------------------------------------------------------------------------- units


def _history_permutation(seed: int, respondent: str, fold: int, pool: Sequence[str]) -> list[str]:
    rng = np.random.default_rng([seed, _STREAM_HISTORY, fold, _stable_int(respondent)])
    return [pool[i] for i in rng.permutation(len(pool))]


def _target_subset(seed: int, respondent: str, fold: int, targets: Sequence[str], n: int) -> tuple[str, ...]:
    """A seeded random subset of *n* targets, in questionnaire order."""
    rng = np.random.default_rng([seed, _STREAM_TARGETS, fold, _stable_int(respondent)])
    keep = set(rng.choice(len(targets), size=n, replace=False).tolist())
    return tuple(q for i, q in enumerate(targets) if i in keep)


def sweep_sizes(
    cfg: ProtocolConfig, folds: Sequence[Sequence[str]], pool: Sequence[str], notes: list[str]
) -> list[int]:
    """History sizes actually used: sizes larger than the smallest history pool are capped."""
    cap = min(len(pool) - len(f) for f in folds)
    sizes = sorted({min(h, cap) for h in cfg.history_sizes})
    capped = [h for h in cfg.history_sizes if h > cap]
    if capped:  # documented behaviour, so a note rather than a warning
        notes.append(
            f"History size(s) {', '.join(map(str, capped))} exceed the {cap} non-target substantive "
            f"questions available per fold (profile items are never counted); capped to h={cap}."
        )
    return sizes


def build_units(data: SurveyData, cfg: ProtocolConfig) -> Split:
    """Sample respondents, split questions and list every unit of work."""
    notes: list[str] = []
    pool = target_pool(data)
    context = numeric_context(data)
    respondents = sample_respondents(data, cfg, notes)
    if cfg.replication_split:
        folds, rep_notes = read_replication_split(cfg.replication_split, data.codebook, pool)
        for n in rep_notes:
            _warn(notes, n)
        if len(folds) != cfg.folds:
            _warn(notes, f"Replication split has {len(folds)} folds; the folds setting ({cfg.folds}) is ignored.")
    else:
        folds = make_folds(pool, cfg)
    valid = data.frame.loc[respondents, pool].to_numpy() >= 0
    col = {q: j for j, q in enumerate(pool)}
    sizes = sweep_sizes(cfg, folds, pool, notes) if cfg.history_sweep else []
    units: list[Unit] = []
    if cfg.only_folds is not None and max(cfg.only_folds) >= len(folds):
        raise ConfigError(
            f"only_folds={list(cfg.only_folds)} but the split has {len(folds)} folds (numbered from 0).",
            f"Pick fold numbers between 0 and {len(folds) - 1}.",
        )
    for i, rid in enumerate(respondents):
        for k, fold_q in enumerate(folds):
            if cfg.only_folds is not None and k not in cfg.only_folds:
                continue
            targets = tuple(q for q in fold_q if valid[i, col[q]])
            if cfg.max_targets is not None and len(targets) > cfg.max_targets:
                targets = _target_subset(cfg.seed, rid, k, targets, cfg.max_targets)
            if not targets:
                continue
            fold_set = set(fold_q)
            rest = [q for q in pool if q not in fold_set]
            if not cfg.history_sweep:
                units.append(Unit(rid, k, "", targets, tuple(rest + context)))
                continue
            perm = _history_permutation(cfg.seed, rid, k, rest)
            for h in sizes:
                units.append(Unit(rid, k, f"h={h}", targets, tuple(_sorted_q(perm[:h]))))
    if not units:
        raise DataError(
            "No unit of work: the sampled respondents answered none of the target questions.",
            "Check the data file (are answers coded as WVS numeric codes?).",
        )
    return Split(
        protocol=cfg.to_dict(),
        data_fingerprint=data.fingerprint(),
        respondents=respondents,
        folds=folds,
        units=units,
        notes=notes,
    )

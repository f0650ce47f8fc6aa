"""Backstories: a respondent's known answers as a second-person text, one module per job.

- :mod:`~valuesim.methods.story.facts` -- every valid answer as one faithful sentence
  (answer labels, never codes; country names, never numbers; missing answers not mentioned),
  grouped by the codebook's topic sections, and its denser renderings;
- :mod:`~valuesim.methods.story.compose` -- the facts composed into the text a model reads
  (styles "facts", "dense", "raw", "none") within a word or token budget, and the
  question-specific history block;
- :mod:`~valuesim.methods.story.checks` -- checks of LLM-written prose against its facts;
- :mod:`~valuesim.methods.story.narrative` -- the "narrative" style: each section rewritten by
  an LLM, checked, regenerated or replaced by its facts;
- :mod:`~valuesim.methods.story.store` -- the SQLite store of written stories;
- :mod:`~valuesim.methods.story.fidelity` -- how much of the person a model recovers from a text;
- :mod:`~valuesim.methods.story.build` -- :func:`build_backstory` / :func:`abuild_backstory`,
  the one entry point for every style.

The modules import each other in that order only (an import-linter contract in
pyproject.toml). The names below are the package's public interface.
"""

from __future__ import annotations

from valuesim.methods.story.build import abuild_backstory, build_backstory
from valuesim.methods.story.compose import (
    PROFILE_PRIORITY,
    STYLES,
    Backstory,
    HistoryBlock,
    StoryStyle,
    block_text,
    compose,
    fact_index,
    history_block,
    history_hash,
    profile_rank,
)
from valuesim.methods.story.facts import (
    PROFILE_SECTION,
    collect_facts,
    condense,
    densify,
    phrase_for,
    raw_lines,
    render_facts,
    section_order,
)
from valuesim.methods.story.fidelity import FidelityReport, astory_fidelity, story_fidelity
from valuesim.methods.story.store import STORE_FILE, StoryStore, default_store

__all__ = [
    "PROFILE_PRIORITY",
    "PROFILE_SECTION",
    "STORE_FILE",
    "STYLES",
    "Backstory",
    "FidelityReport",
    "HistoryBlock",
    "StoryStore",
    "StoryStyle",
    "abuild_backstory",
    "astory_fidelity",
    "block_text",
    "build_backstory",
    "collect_facts",
    "compose",
    "condense",
    "default_store",
    "densify",
    "fact_index",
    "history_block",
    "history_hash",
    "phrase_for",
    "profile_rank",
    "raw_lines",
    "render_facts",
    "section_order",
    "story_fidelity",
]

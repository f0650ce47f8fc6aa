"""Building a backstory in any style: the one entry point of the story package.

:func:`abuild_backstory` composes the model-free styles (:mod:`~valuesim.methods.story.compose`)
and writes the "narrative" style with a model (:mod:`~valuesim.methods.story.narrative`),
reusing a stored story (:mod:`~valuesim.methods.story.store`) when the same facts were already
written by the same model; :func:`build_backstory` is its synchronous form.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from valuesim._aio import synced
from valuesim.errors import ConfigError
from valuesim.methods.story.compose import STYLES, Backstory, compose, history_hash, n_words, sections_text
from valuesim.methods.story.narrative import CHECK_VERSION, FELL_BACK, anarrate, facts_digest
from valuesim.methods.story.store import StoryStore, default_store
from valuesim.survey.codebook import Codebook
from valuesim.survey.respondent import Respondent

if TYPE_CHECKING:
    from valuesim.llm import Model


async def abuild_backstory(
    respondent: Respondent,
    codebook: Codebook,
    model: Model | None = None,
    *,
    style: str = "facts",
    max_words: int | None = None,
    prompt_version: str = "v1",
    qids: Sequence[str] | None = None,
    store: StoryStore | bool | None = True,
    max_tokens: int | None = None,
    count_tokens: Callable[[str], int] | None = None,
    model_check: bool = False,
    profile_share: float | None = None,
    priority: Mapping[str, float] | None = None,
) -> Backstory:
    """Compose a respondent's backstory in ``style`` (see :data:`~valuesim.methods.story.compose.STYLES`).

    ``qids`` restricts it to those items (default: everything the respondent object knows --
    pass a restricted respondent for benchmark histories). The "narrative" style needs
    ``model``; every section it writes is checked against its facts (and, with
    ``model_check``, re-asked by the model), see :mod:`valuesim.methods.story.narrative`; the
    result is cached in ``store`` (default: the cache directory's store). The other styles
    are :func:`~valuesim.methods.story.compose.compose` (no model).
    """
    if style not in STYLES:
        raise ConfigError(f"Unknown backstory style {style!r}.", f"Use one of: {', '.join(STYLES)}.")
    if style != "narrative":
        story = compose(
            respondent,
            codebook,
            style=style,
            max_words=max_words,
            qids=qids,
            max_tokens=max_tokens,
            count_tokens=count_tokens,
            profile_share=profile_share,
            priority=priority,
        )
        story.meta.update({"prompt_version": prompt_version, "model": None})
        return story
    if model is None:
        raise ConfigError("A narrative backstory needs a model.", "Pass --model, or use --style facts.")
    st: StoryStore | None
    if store is True:
        st = default_store()
    elif store is False or store is None:
        st = None
    else:
        st = store
    base = compose(
        respondent,
        codebook,
        style="facts",
        max_words=max_words,
        qids=qids,
        profile_share=profile_share,
        priority=priority,
    )
    hist = history_hash(respondent, qids)
    version = f"{prompt_version}+{CHECK_VERSION}" + ("+model" if model_check else "")
    facts_key = f"{hist}:{facts_digest(base.sections)}"
    key = StoryStore.key(respondent.id, facts_key, model.identity, version, style, max_words)
    if st is not None:
        cached = st.get(key)
        if cached is not None:
            cached.meta["from_store"] = True
            return cached
    sections, check, usage = await anarrate(
        base,
        respondent,
        codebook,
        model,
        qids=qids,
        max_words=max_words,
        prompt_version=prompt_version,
        model_check=model_check,
    )
    meta = dict(base.meta)
    meta.update(
        {
            "style": "narrative",
            "words": n_words(sections_text(sections)),
            "model": model.identity,
            "model_spec": model.spec,
            "prompt_version": prompt_version,
            "fallback_sections": [s["title"] for s in check["sections"] if s["status"] == FELL_BACK],
            "check": check,
            "usage": usage.to_dict(),
            "history_hash": hist,
        }
    )
    story = Backstory(sections_text(sections), sections, base.n_facts, meta)
    if st is not None:
        st.put(
            key,
            story,
            respondent_id=respondent.id,
            history=facts_key,
            model=model.identity,
            prompt_version=version,
            style=style,
            max_words=max_words,
        )
    return story


#: :func:`abuild_backstory` for synchronous callers (from a running event loop too).
build_backstory = synced(abuild_backstory)

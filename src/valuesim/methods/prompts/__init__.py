"""Versioned prompt templates (``<name>.<version>.txt``, Jinja2) and their renderer.

A prompt version is part of every LLM method's ``config()``: changing a template means adding
a new version file, never editing an old one, so past runs stay reproducible. A version holds
only the templates it changes: a template missing from version ``vN`` is the newest earlier
version's (``v3`` shares ``persona.v2``, ``explain.v2`` ...). A name without any version at or
below the requested one does not exist in that version (``coordinator_system`` in ``v1``).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import jinja2

from valuesim.errors import ConfigError


def _load(name: str) -> str | None:
    path = resources.files(__name__).joinpath(f"{name}.txt")
    return path.read_text("utf-8") if path.is_file() else None


_ENV = jinja2.Environment(
    loader=jinja2.FunctionLoader(_load),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
    autoescape=False,
)


def available(name: str | None = None) -> list[str]:
    """File stems (``name.version``) of the packaged templates, optionally of one name."""
    stems = sorted(p.name[: -len(".txt")] for p in resources.files(__name__).iterdir() if p.name.endswith(".txt"))
    return [s for s in stems if name is None or s.rsplit(".", 1)[0] == name]


def _version_key(version: str) -> tuple[int, str]:
    digits = version[1:] if version[:1] == "v" else ""
    return (int(digits), "") if digits.isdigit() else (-1, version)


def versions() -> list[str]:
    """Every prompt version, oldest first (a version exists when any template has it)."""
    return sorted({s.rsplit(".", 1)[1] for s in available()}, key=_version_key)


def resolve(name: str, version: str) -> str | None:
    """The file stem that serves template ``name`` in prompt ``version``: its own file, else the
    newest earlier version's; None when the version does not exist or has no such template."""
    if version not in versions():
        return None
    own = [s.rsplit(".", 1)[1] for s in available(name)]
    earlier = [v for v in own if _version_key(v) <= _version_key(version)]
    return f"{name}.{max(earlier, key=_version_key)}" if earlier else None


def has(name: str, version: str) -> bool:
    return resolve(name, version) is not None


@cache
def template(name: str, version: str) -> jinja2.Template:
    stem = resolve(name, version)
    if stem is None:
        own = [s.rsplit(".", 1)[1] for s in available(name)]
        raise ConfigError(
            f"No prompt template {name!r} in version {version!r}.",
            f"Prompt versions: {', '.join(versions())}; {name!r} starts at {own[0] if own else 'none'}.",
        )
    return _ENV.get_template(stem)


def render(name: str, version: str, **variables: Any) -> str:
    """Render template ``name`` of prompt ``version`` with ``variables``."""
    return template(name, version).render(**variables).strip()

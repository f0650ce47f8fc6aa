"""Versioned prompt templates (``<name>.<version>.txt``, Jinja2) and their renderer.

A prompt version is part of every LLM method's ``config()``: changing a template means adding
a new version file, never editing an old one, so past runs stay reproducible.
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


@cache
def template(name: str, version: str) -> jinja2.Template:
    path = resources.files(__name__).joinpath(f"{name}.{version}.txt")
    if not path.is_file():
        versions = [s.rsplit(".", 1)[1] for s in available(name)]
        raise ConfigError(
            f"No prompt template {name!r} in version {version!r}.",
            f"Available versions of {name!r}: {', '.join(versions) or 'none'}.",
        )
    return _ENV.get_template(f"{name}.{version}")


def render(name: str, version: str, **variables: Any) -> str:
    """Render template ``name`` of prompt ``version`` with ``variables``."""
    return template(name, version).render(**variables).strip()

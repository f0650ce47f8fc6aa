"""Keep secrets out of everything ValueSim records or shows.

A server URL may carry credentials (``http://user:SECRET@host/v1``) or a key in its query
string (``...?api_key=SECRET``), and a command line may carry ``--api-key SECRET``. Every
place that writes a URL or a command into a file (manifest, reports, experiment records),
a log line or an error message passes it through :func:`redact` first:

* the userinfo of a URL becomes ``***`` (``http://***@host/v1``);
* the value of a query parameter whose name looks like a credential (key, token, secret,
  password, signature, auth, ...) becomes ``***``;
* the value after ``--api-key`` / ``--token`` / ``--password`` options, and of a word
  ``api_key=VALUE`` (``-o api_key=VALUE``), becomes ``***``;
* a known secret value becomes ``***`` wherever it appears: the API keys handed to a model
  backend (:func:`register_secret`, e.g. ``--api-key``) and the values of environment variables
  named like credentials (``OPENAI_API_KEY``, ``*_TOKEN``, ``*_SECRET``, ``*_PASSWORD`` ...);
* in a record, the string value of a field named like a credential (``api_key``, ``token``,
  ``password`` ...) becomes ``***``.

Everything else is kept as it is, so a redacted URL still says which server was used.

The boundary: every writer of a file, database row or page applies :func:`redact` to what it
writes (``rundir.write_json_atomic`` and the JSONL sinks, the backstory store) or
:func:`redact_text` to the whole rendered text (every report and viewer page), so no command
has to remember it. The option pattern stops at markup and quotes, so redacting a rendered
page never breaks its markup.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

MASK = "***"

#: Query parameter names that carry credentials (matched case-insensitively, anywhere in the name).
_SECRET_NAME = re.compile(r"key|token|secret|passw|pwd|auth|sig|credential|session|cookie", re.IGNORECASE)
#: scheme://userinfo@ -- the userinfo part ends at the last "@" before the host (anchored on the
#: literal "://", which the regex engine finds fast even in a page of megabytes).
_USERINFO = re.compile(r"://(?P<userinfo>[^\s/?#'\"<>]+)@")
#: name=value in a query string (after "?" or "&").
_QUERY_PARAM = re.compile(r"(?P<sep>[?&;])(?P<name>[^\s=&#'\"]+)=(?P<value>[^\s&#'\"]*)")
#: --api-key VALUE, --api-key=VALUE (and similar option names) in a command line.
_SECRET_OPTION = re.compile(
    r"(?P<opt>--?[\w-]*(?:api[-_]?key|token|secret|password|passwd))(?P<sep>[= ]+)"
    r"(?P<value>'[^']*'|\"[^\"]*\"|[^\s<>\"'\\]+)",  # stops at markup and JSON quotes around it
    re.IGNORECASE,
)
#: NAME=VALUE as a word of its own (``-o api_key=VALUE``, ``llm.api_key=VALUE``), NAME ending in a
#: credential word (so ``max_tokens=200`` stays).
_SECRET_ASSIGN = re.compile(
    r"(?P<pre>(?:^|[\s,>]))(?P<name>[\w.-]*(?:api[-_]?key|apikey|token|secret|password|passwd))="
    r"(?P<value>[^\s,&'\"<>]+)",
    re.IGNORECASE,
)
#: Words one of which every match of _SECRET_OPTION and _SECRET_ASSIGN contains (lower case).
_SECRET_OPTION_WORDS = ("apikey", "api-key", "api_key", "token", "secret", "passw")
#: Environment variables whose values are secrets (matched case-insensitively, anywhere in the name).
_SECRET_ENV = re.compile(r"api_?key|token|secret|passw|credential", re.IGNORECASE)
#: Record fields whose string values are secrets (the whole name, or its last _/- part).
_SECRET_FIELD = re.compile(
    r"(?:^|[_-])(?:api[_-]?key|apikey|token|secret|password|passwd|authorization|credentials?)$", re.IGNORECASE
)
#: Shorter values are not masked wherever they appear (they would hit ordinary text).
MIN_SECRET_LENGTH = 6

_registered: set[str] = set()
_registered_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Mask *value* wherever it appears in anything redacted from now on (e.g. an API key)."""
    if value and len(value) >= MIN_SECRET_LENGTH:
        with _registered_lock:
            _registered.add(value)


def known_secrets() -> tuple[str, ...]:
    """Registered secrets and the values of credential-named environment variables, longest first."""
    env = (v for k, v in os.environ.items() if _SECRET_ENV.search(k) and len(v) >= MIN_SECRET_LENGTH)
    with _registered_lock:
        found = set(_registered)
    found.update(env)
    return tuple(sorted(found, key=len, reverse=True))


def _query(m: re.Match[str]) -> str:
    if not m.group("value") or not _SECRET_NAME.search(m.group("name")):
        return m.group(0)
    return f"{m.group('sep')}{m.group('name')}={MASK}"


def _redact_text(text: str, secrets: Iterable[str]) -> str:
    if not text:
        return text
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    out = _USERINFO.sub(f"://{MASK}@", text) if "://" in text else text
    out = _QUERY_PARAM.sub(_query, out) if "=" in out else out
    lower = out.lower()
    if not any(word in lower for word in _SECRET_OPTION_WORDS):  # the common case: skip a slow scan
        return out
    out = _SECRET_ASSIGN.sub(lambda m: f"{m.group('pre')}{m.group('name')}={MASK}", out)
    return _SECRET_OPTION.sub(lambda m: f"{m.group('opt')}{m.group('sep')}{MASK}", out)


def redact_text(text: str) -> str:
    """*text* with URL credentials, secret query values, secret option values and known secrets masked."""
    if not text:
        return text
    return _redact_text(text, known_secrets())


T = TypeVar("T")


def _redact(obj: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(obj, str):
        return _redact_text(obj, secrets)
    if isinstance(obj, Mapping):
        return {
            k: (
                MASK
                if isinstance(v, str) and v and isinstance(k, str) and _SECRET_FIELD.search(k)
                else _redact(v, secrets)
            )
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [_redact(v, secrets) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_redact(v, secrets) for v in obj)
    return obj


def redact(obj: T) -> T:
    """:func:`redact_text` applied to every string in *obj* (nested dicts, lists, tuples), and the
    string values of credential-named fields masked. Other values are returned as they are."""
    return _redact(obj, known_secrets())


def redact_rows(rows: Iterable[T]) -> list[T]:
    """:func:`redact` over many records, the known secrets looked up once."""
    secrets = known_secrets()
    return [_redact(r, secrets) for r in rows]


__all__ = ["MASK", "known_secrets", "redact", "redact_rows", "redact_text", "register_secret"]

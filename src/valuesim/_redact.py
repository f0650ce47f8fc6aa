"""Keep secrets out of everything ValueSim records or shows.

A server URL may carry credentials (``http://user:SECRET@host/v1``) or a key in its query
string (``...?api_key=SECRET``), and a command line may carry ``--api-key SECRET``. Every
place that writes a URL or a command into a file (manifest, reports, experiment records),
a log line or an error message passes it through :func:`redact` first:

* the userinfo of a URL becomes ``***`` (``http://***@host/v1``);
* the value of a query parameter whose name looks like a credential (key, token, secret,
  password, signature, auth, ...) becomes ``***``;
* the value after ``--api-key`` / ``--token`` / ``--password`` options becomes ``***``.

Everything else is kept as it is, so a redacted URL still says which server was used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TypeVar

MASK = "***"

#: Query parameter names that carry credentials (matched case-insensitively, anywhere in the name).
_SECRET_NAME = re.compile(r"key|token|secret|passw|pwd|auth|sig|credential|session|cookie", re.IGNORECASE)
#: scheme://userinfo@ -- the userinfo part ends at the last "@" before the host.
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^\s/?#'\"]+)@")
#: name=value in a query string (after "?" or "&").
_QUERY_PARAM = re.compile(r"(?P<sep>[?&;])(?P<name>[^\s=&#'\"]+)=(?P<value>[^\s&#'\"]*)")
#: --api-key VALUE, --api-key=VALUE (and similar option names) in a command line.
_SECRET_OPTION = re.compile(
    r"(?P<opt>--?[\w-]*(?:api[-_]?key|token|secret|password|passwd)[\w-]*)(?P<sep>[= ]+)(?P<value>'[^']*'|\"[^\"]*\"|\S+)",
    re.IGNORECASE,
)


def _query(m: re.Match[str]) -> str:
    if not m.group("value") or not _SECRET_NAME.search(m.group("name")):
        return m.group(0)
    return f"{m.group('sep')}{m.group('name')}={MASK}"


def redact_text(text: str) -> str:
    """*text* with URL credentials, secret query values and secret option values masked."""
    if not text:
        return text
    out = _USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
    out = _QUERY_PARAM.sub(_query, out)
    return _SECRET_OPTION.sub(lambda m: f"{m.group('opt')}{m.group('sep')}{MASK}", out)


T = TypeVar("T")


def redact(obj: T) -> T:
    """:func:`redact_text` applied to every string in *obj* (nested dicts, lists, tuples)."""
    if isinstance(obj, str):
        return redact_text(obj)  # type: ignore[return-value]
    if isinstance(obj, Mapping):
        return {k: redact(v) for k, v in obj.items()}  # type: ignore[return-value]
    if isinstance(obj, list):
        return [redact(v) for v in obj]  # type: ignore[return-value]
    if isinstance(obj, tuple):
        return tuple(redact(v) for v in obj)  # type: ignore[return-value]
    return obj


__all__ = ["MASK", "redact", "redact_text"]

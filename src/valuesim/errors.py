"""Errors a user can cause. Each carries a message (what was wrong) and a hint (what to do).

The CLI catches :class:`ValueSimError` (and ``OSError``, through :func:`os_error`) and prints
both lines without a traceback. Messages and hints are redacted (:mod:`valuesim._redact`):
an error never shows the credentials of a URL.
"""

from __future__ import annotations

import errno
from typing import Any

from valuesim._redact import redact_text


class ValueSimError(Exception):
    """Base class for every error caused by user input or environment."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        # credentials in URLs never reach a terminal, a log or a file through an error
        message = redact_text(message)
        hint = redact_text(hint) if hint else hint
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nHint: {self.hint}"

    def __reduce__(self) -> tuple[type[ValueSimError], tuple[str, str | None]]:
        # keep message and hint when an error crosses a process boundary (Ray workers)
        return (self.__class__, (self.message, self.hint))


class DataError(ValueSimError):
    """A survey file is missing, unreadable, or not a WVS file."""


class UnknownQuestionError(ValueSimError, KeyError):
    """A question id is not in the codebook."""

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return ValueSimError.__str__(self)


class UnknownRespondentError(ValueSimError, KeyError):
    """A respondent id is not in the loaded data."""

    def __str__(self) -> str:
        return ValueSimError.__str__(self)


class ConfigError(ValueSimError):
    """A configuration value (method name, model spec, option) is invalid."""


class ModelError(ValueSimError):
    """A model backend failed in a way the user can fix (server down, bad key, bad file)."""


class RequestFailedError(ModelError):
    """A model request still failed after all its retries (HTTP 429/5xx, timeouts past the
    timeout, lost connections, malformed replies).

    Raised by a method, it fails every target of the task (e.g. the shared backstory call
    failed); :class:`TargetsFailedError` fails only some. A benchmark run records the failed
    targets and goes on with the others.
    """


class TargetsFailedError(RequestFailedError):
    """Some targets of a task failed (their requests failed after all retries); the others were answered.

    ``predictions`` holds the answered targets' predictions, ``failed`` maps each failed target
    to the :class:`RequestFailedError` of the request it needed.
    """

    def __init__(self, predictions: list[Any], failed: dict[str, RequestFailedError]) -> None:
        first = next(iter(failed.values()))
        super().__init__(
            f"{len(failed)} of {len(failed) + len(predictions)} targets failed ({', '.join(list(failed)[:5])}"
            f"{' ...' if len(failed) > 5 else ''}): {first.message}",
            first.hint,
        )
        self.predictions = predictions
        self.failed = failed

    def __reduce__(self) -> Any:
        return (self.__class__, (self.predictions, self.failed))


def validation_error(what: str, error: Any, hint: str) -> ConfigError:
    """A pydantic ``ValidationError`` as a :class:`ConfigError`: every problem on one line,
    each named by its field ("k: Input should be greater than or equal to 1").

    The one converter from pydantic failures to user errors (method options, protocol and
    run settings all go through it)."""
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {str(err['msg']).removeprefix('Value error, ')}"
        for err in error.errors()
    )
    return ConfigError(f"Invalid {what}: {problems}", hint)


class RunLockedError(ValueSimError):
    """Another process is writing into the same run directory."""


#: What to do about an operating-system error, by errno.
_OS_HINTS = {
    errno.EACCES: "No permission to write there: pick a directory you can write to (e.g. --out under your home).",
    errno.EPERM: "No permission to write there: pick a directory you can write to (e.g. --out under your home).",
    errno.EROFS: "The file system is read-only: pick a directory on a writable disk.",
    errno.ENOSPC: "The disk is full: free some space (or pick a directory on another disk) and re-run the same "
    "command; everything finished so far is kept and the run resumes.",
    errno.EDQUOT: "Your disk quota is used up: free some space and re-run the same command; finished work is kept.",
    errno.ENOTDIR: "A part of the path is a file, not a directory: pick another path.",
    errno.EISDIR: "The path is a directory where a file is expected: pick another path.",
    errno.ENOENT: "A part of the path does not exist and cannot be created there: check the path.",
    errno.ENAMETOOLONG: "The path is too long: pick a shorter one.",
}


def os_error(e: OSError, action: str = "access") -> ValueSimError:
    """A user-facing error for an operating-system error (what, where, what to do).

    *action* completes "Cannot <action> <path>", e.g. "write the run directory".
    """
    where = f" {e.filename}" if e.filename else ""
    if e.filename2:
        where += f" -> {e.filename2}"
    what = e.strerror or str(e)
    hint = _OS_HINTS.get(e.errno or 0, "Check the path and its permissions, then re-run the same command.")
    return ConfigError(f"Cannot {action}{where}: {what}.", hint)

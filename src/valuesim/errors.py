"""Errors a user can cause. Each carries a message (what was wrong) and a hint (what to do).

The CLI catches :class:`ValueSimError` and prints both lines without a traceback.
"""

from __future__ import annotations

from typing import Any


class ValueSimError(Exception):
    """Base class for every error caused by user input or environment."""

    def __init__(self, message: str, hint: str | None = None) -> None:
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
    """A model request still failed after all its retries (HTTP 429/5xx, timeouts, lost connections).

    A benchmark run records the unit's targets as failed and goes on with the others.
    """


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

"""Settings of a benchmark run (what ``valuesim bench`` turns its options into)."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from valuesim.bench.protocol import ProtocolConfig, settings_error
from valuesim.errors import ValueSimError


class MethodOutputError(ValueSimError):
    """A method returned predictions that do not answer the task it was given."""


class RunConfig(BaseModel):
    """Runner settings. Only ``protocol`` and ``train_max`` change what is predicted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    protocol: ProtocolConfig = ProtocolConfig()
    #: units in flight at once; None = the method's ``default_concurrency`` attribute, else 1
    concurrency: int | None = None
    #: at most this many training respondents (a seeded sample when more are available)
    train_max: int = 20_000
    #: bootstrap replicates and seed of the confidence intervals in metrics.json
    n_boot: int = 1000
    metrics_seed: int = 0
    #: delete this run's files in the output directory before starting
    overwrite: bool = False
    #: the command line recorded in the manifest (default: sys.argv)
    command: str | None = None
    #: failed targets (model calls that failed after all retries) after which the run stops:
    #: a count "N" or a share "P%" of the split's targets; "0" stops at the first failure
    max_failures: str = "5%"

    @field_validator("max_failures", mode="before")
    @classmethod
    def _max_failures(cls, v: Any) -> str:
        text = str(v).strip().replace(" ", "")
        try:
            value = float(text[:-1]) if text.endswith("%") else int(text)
        except ValueError:
            raise ValueError(f"max_failures must be a count (e.g. 20) or a share (e.g. 5%), got {v!r}") from None
        if value < 0 or (text.endswith("%") and value > 100):
            raise ValueError(f"max_failures must be >= 0 (a share at most 100%), got {v!r}")
        return text

    def failure_limit(self, n_targets: int) -> int:
        """Failed targets the run tolerates out of *n_targets* (one more stops it)."""
        if self.max_failures.endswith("%"):
            return math.floor(float(self.max_failures[:-1]) / 100 * n_targets)
        return int(self.max_failures)

    @field_validator("concurrency")
    @classmethod
    def _conc(cls, v: int | None) -> int | None:
        if v is not None and v < 1:
            raise ValueError("concurrency must be at least 1")
        return v

    @field_validator("train_max")
    @classmethod
    def _train_max(cls, v: int) -> int:
        if v < 1:
            raise ValueError(
                f"must be at least 1, got {v} (methods that learn from other respondents would have "
                "nobody to learn from and abstain on every target)"
            )
        return v

    @field_validator("n_boot")
    @classmethod
    def _n_boot(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"must be at least 1 bootstrap replicate (1000 is usual), got {v}")
        return v

    @field_validator("metrics_seed")
    @classmethod
    def _metrics_seed(cls, v: int) -> int:
        if not 0 <= v < 2**63:
            raise ValueError(f"must be a whole number from 0 to 2**63-1, got {v}")
        return v

    @classmethod
    def create(cls, **kwargs: Any) -> RunConfig:
        try:
            return cls(**kwargs)
        except ValidationError as e:
            raise settings_error("benchmark settings", e) from None

    @classmethod
    def of(cls, cfg: RunConfig | ProtocolConfig | None) -> RunConfig:
        """*cfg* as run settings (a bare protocol gets the default run settings)."""
        if cfg is None:
            return cls()
        if isinstance(cfg, ProtocolConfig):
            return cls(protocol=cfg)
        return cfg


__all__ = ["MethodOutputError", "RunConfig"]

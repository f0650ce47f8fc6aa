"""Settings of a benchmark run (what ``valuesim bench`` turns its options into)."""

from __future__ import annotations

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

    @field_validator("concurrency")
    @classmethod
    def _conc(cls, v: int | None) -> int | None:
        if v is not None and v < 1:
            raise ValueError("concurrency must be at least 1")
        return v

    @field_validator("train_max")
    @classmethod
    def _train_max(cls, v: int) -> int:
        if v < 0:
            raise ValueError("train_max must be >= 0")
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

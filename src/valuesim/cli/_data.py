"""The `--data` argument shared by every command: a survey path, or generated respondents."""

from __future__ import annotations

from valuesim.errors import ConfigError
from valuesim.survey.dataset import SurveyData

#: `--data synthetic` makes this many generated respondents (seed 0, so ids are stable).
SYNTHETIC_DEFAULT_N = 2000


def load_data(data: str) -> SurveyData:
    """A WVS file or folder, or ``synthetic`` / ``synthetic:N`` for N generated respondents."""
    from valuesim.survey import generate_synthetic, load_survey

    text = data.strip()
    if text.lower().startswith("synthetic"):
        _, _, n = text.partition(":")
        try:
            size = int(n) if n else SYNTHETIC_DEFAULT_N
        except ValueError:
            raise ConfigError(f"Bad --data {data!r}.", "Use synthetic or synthetic:N, e.g. synthetic:2000.") from None
        if size < 2:
            raise ConfigError("Synthetic data needs at least 2 respondents.", "E.g. --data synthetic:2000.")
        return generate_synthetic(n=size, seed=0)
    return load_survey(text)

"""The `--data` argument shared by every command: a survey path, or generated respondents."""

from __future__ import annotations

from valuesim.errors import ConfigError
from valuesim.survey.dataset import SurveyData

#: `--data synthetic` makes this many generated respondents (seed 0, so ids are stable).
SYNTHETIC_DEFAULT_N = 2000


def load_data(data: str, countries: list[str] | None = None) -> SurveyData:
    """A WVS file or folder, or ``synthetic`` / ``synthetic:N`` for N generated respondents;
    ``countries`` keeps only those countries (alpha-3, ISO numeric or name)."""
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
        synth = generate_synthetic(n=size, seed=0)
        return _only_countries(synth, countries) if countries else synth
    return load_survey(text, countries=countries or None)


def pick_data(positional: str | None, option: str | None) -> str:
    """The data source of a command that takes ``--data`` and, as an alias, a positional PATH."""
    if positional and option and positional != option:
        raise ConfigError(
            f"Two data sources given: {positional!r} and --data {option!r}.", "Give the file once, as --data PATH."
        )
    source = option or positional
    if not source:
        raise ConfigError(
            "No data given.", "Pass --data PATH (a WVS-7 file or a folder of per-country files), or --data synthetic."
        )
    return source


def _only_countries(data: SurveyData, countries: list[str]) -> SurveyData:
    from valuesim.survey.loaders import resolve_countries

    wanted = resolve_countries(countries)
    present = set(data.frame["country"])
    absent = [c for c in wanted if c not in present]
    if absent:
        raise ConfigError(
            f"No synthetic respondents from {', '.join(absent)}.",
            f"Synthetic countries: {', '.join(sorted(present))}.",
        )
    return data.subset(data.frame.index[data.frame["country"].isin(wanted)])

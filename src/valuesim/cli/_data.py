"""The `--data` argument shared by every command: a survey path, or generated respondents."""

from __future__ import annotations

from valuesim.errors import ConfigError
from valuesim.survey.dataset import SurveyData

#: `--data synthetic` makes this many generated respondents (seed 0, so ids are stable).
SYNTHETIC_DEFAULT_N = 2000


#: Help of the `--codebook` option every command with `--data` has.
CODEBOOK_HELP = (
    "Codebook of a survey other than WVS-7: a YAML file from `valuesim codebook infer`, or 'auto' to infer "
    "it from the labelled --data file (.sav/.dta). Default: the built-in WVS-7 codebook."
)


def load_data(data: str, countries: list[str] | None = None, codebook: str | None = None) -> SurveyData:
    """A survey file or folder, or ``synthetic`` / ``synthetic:N`` for N generated respondents;
    ``countries`` keeps only those countries (alpha-3, ISO numeric or name); ``codebook``: None
    for WVS-7, ``auto`` or a codebook file for any other labelled survey."""
    from valuesim.survey import generate_synthetic, load_survey
    from valuesim.survey.custom import resolve_codebook

    text = data.strip()
    if codebook and text.lower().startswith("synthetic"):
        raise ConfigError(
            "--codebook does not apply to --data synthetic (generated WVS-7 respondents).",
            "Give a data file with --data, or drop --codebook. `valuesim codebook example my.sav` writes a "
            "generated labelled survey to try it with.",
        )
    if codebook:
        return load_survey(text, countries=countries or None, codebook=resolve_codebook(codebook, text))
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

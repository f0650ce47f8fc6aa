"""One helper runs a job and prints what it says, for every run command (cli/_run.py).

Each command is run with an --out that is rich markup (``X[/x]``, ``[red]y``) and a model spec
whose server URL carries credentials: the path must print as written, the credentials never;
Ctrl-C during any of them says what was kept and exits 130.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from valuesim.cli import app

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "questionnaire.yaml"
MARKUP_DIR = ("X[/x]", "[red]y")


def _invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def _out(tmp_path: Path) -> Path:
    return tmp_path.joinpath(*MARKUP_DIR)


COMMANDS = {
    "bench": lambda out: ["bench", "--synthetic", "60", "-m", "majority", "-n", "4", "--n-boot", "20",
                          "--no-progress", "--out", str(out)],
    "simulate": lambda out: ["simulate", "--data", "synthetic:60", "--questions", str(EXAMPLE), "-m", "uniform",
                             "-n", "2", "--min-valid", "0", "--no-progress", "--out", str(out)],
    "experiment": lambda out: ["experiment", "paper", "--data", "synthetic:60", "--model", "mock", "--quick",
                               "-n", "2", "--only", "majority", "--no-progress", "--out", str(out)],
}  # fmt: skip


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_markup_in_out_prints_as_text(tmp_path: Path, command: str) -> None:
    out = _out(tmp_path)
    res = _invoke(*COMMANDS[command](out))
    assert res.exit_code == 0, res.output
    flat = res.output.replace("\n", "")
    assert str(out) in flat  # printed as written: neither parsed as markup nor an error
    assert "MarkupError" not in flat


@pytest.mark.parametrize(
    ("command", "target", "kept"),
    [
        ("bench", "valuesim.bench.runner.run_benchmark", "Finished units are saved in"),
        ("simulate", "valuesim.bench.simulate.run_simulation", "Finished respondents are saved in"),
        ("experiment", "valuesim.experiments.experiment.run_experiment", "Finished runs and units are saved in"),
    ],
)
def test_ctrl_c_says_what_was_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, target: str, kept: str
) -> None:
    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(target, interrupted)
    out = _out(tmp_path)
    res = _invoke(*COMMANDS[command](out))
    assert res.exit_code == 130, res.output
    flat = res.output.replace("\n", "")
    assert "Interrupted." in flat and f"{kept} {out}" in flat


def test_status_lines_are_redacted_and_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    """What a job logs (a model spec with a server's credentials, text in square brackets) prints
    redacted and as written."""
    import warnings

    from valuesim.cli._run import run_and_print

    class Result:
        notes = ("note [bold]kept[/bold] as text", "seen before")

    def job(log):
        log("model openai:m@http://user:s3cret@host:8000/v1 [red]x[/red]")
        warnings.warn("seen before", UserWarning, stacklevel=1)
        return Result()

    run_and_print(job, interrupted="-")
    err = capsys.readouterr().err.replace("\n", "")
    assert "s3cret" not in err
    assert "[red]x[/red]" in err and "note [bold]kept[/bold] as text" in err
    assert err.count("seen before") == 1  # a note already shown as a warning is not repeated

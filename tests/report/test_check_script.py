"""scripts/check_report_html.sh: refuses external references, screenshots in headless Chromium."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from valuesim.report.build import build_report

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_report_html.sh"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], check=False, capture_output=True, text=True, timeout=180)


def test_external_reference_is_refused(report_runs: dict[str, Path], tmp_path: Path) -> None:
    paths = build_report([report_runs["knn"]], tmp_path / "r")
    bad = tmp_path / "bad.html"
    html = paths.html.read_text("utf-8")
    bad.write_text(html.replace("<style>", '<link rel="stylesheet" href="https://e.x/s.css"><style>', 1))
    res = _run(str(bad), str(tmp_path / "bad.png"))
    assert res.returncode == 1 and "not self-contained" in res.stderr
    assert not (tmp_path / "bad.png").exists()


@pytest.mark.slow
def test_screenshot_of_a_report(report_runs: dict[str, Path], tmp_path: Path) -> None:
    if shutil.which("chromium") is None and shutil.which("chromium-browser") is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    paths = build_report([report_runs["knn"], report_runs["majority"]], tmp_path / "r")
    shot = tmp_path / "shot.png"
    res = _run(str(paths.html), str(shot), "1200")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == str(shot)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000

"""Screenshots of `valuesim view` for the docs (docs/images/view-*.png), on SYNTHETIC data only.

Makes three small runs on ``--data synthetic:400`` (majority, knn, and ValueSim with the mock
model and rationales), starts ``valuesim view`` on them, and captures the main pages in headless
Chromium (Debian package ``chromium``), offline. Each PNG is reduced to a 256-colour palette so
it stays under 200 KB.

    python tools/view_screenshots.py                 # writes docs/images/view-*.png
    python tools/view_screenshots.py --out /tmp/shots
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
PEOPLE = 400
MAX_BYTES = 200_000


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_runs(root: Path) -> list[Path]:
    from valuesim.bench.protocol import ProtocolConfig
    from valuesim.bench.runner import RunConfig, run_benchmark
    from valuesim.methods import get_method
    from valuesim.survey import generate_synthetic

    survey = generate_synthetic(n=PEOPLE, seed=0)
    specs = {
        "majority": ("majority", {}, {}),
        "knn": ("knn", {}, {}),
        "valuesim-mock": ("valuesim", {"model": "mock", "rationale": True}, {"max_targets": 4, "n_respondents": 8}),
    }
    out = []
    for name, (method, options, proto) in specs.items():
        cfg = RunConfig(
            protocol=ProtocolConfig(min_valid=0, **{"n_respondents": 60, "max_targets": 12, **proto}),  # type: ignore[arg-type]
            command=f"valuesim bench --data synthetic:{PEOPLE} --method {method}",
            n_boot=200,
        )
        run_benchmark(survey, get_method(method, survey.codebook, **options), cfg, root / name, progress=False)
        out.append(root / name)
    return out


def capture(browser: str, url: str, png: Path, height: int) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"]
            + [f"--user-data-dir={profile}", "--proxy-server=127.0.0.1:9", "--virtual-time-budget=4000"]
            + [f"--window-size=1280,{height}", f"--screenshot={png}", url],
            capture_output=True,
            timeout=120,
            check=False,
        )
    if not png.exists():
        raise SystemExit(f"chromium wrote no screenshot of {url}")
    from PIL import Image

    with Image.open(png) as im:
        small = im.convert("RGB").quantize(colors=256)
        small.save(png, optimize=True)
    if png.stat().st_size > MAX_BYTES:
        raise SystemExit(f"{png} is {png.stat().st_size:,} bytes (> {MAX_BYTES:,}); lower the height")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    args = ap.parse_args(argv)
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("chromium not found (apt-get install -y chromium)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="valuesim-view-shots-") as d:
        root = Path(d)
        os.environ["VALUESIM_CACHE_DIR"] = str(root / "cache")
        runs = make_runs(root / "runs")
        port = _port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "valuesim", "view", *map(str, runs), "--data", f"synthetic:{PEOPLE}"]
            + ["--model", "mock", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(base + "/", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.3)
            first = json.loads((runs[2] / "predictions.jsonl").read_text("utf-8").splitlines()[0])
            person, qid = first["respondent"], first["question"]
            counts: dict[str, int] = {}
            for line in (runs[1] / "predictions.jsonl").read_text("utf-8").splitlines():
                q = json.loads(line)["question"]
                counts[q] = counts.get(q, 0) + 1
            shown = max(counts, key=lambda q: counts[q])  # the question with the most predictions
            posted = httpx.post(
                base + "/ask", data={"person": person, "question": qid, "method": "valuesim"}, timeout=30
            )
            job = posted.headers["location"]  # /ask/<id>
            for _ in range(120):
                if 'data-status="done"' in httpx.get(base + job, timeout=30).text:
                    break
                time.sleep(0.5)
            shots = {
                "runs": ("/", 900),
                "question": (f"/question/{shown}", 1100),
                "person": (f"/people/{person}", 900),
                "ask": (job, 1000),
            }
            for name, (path, height) in shots.items():
                png = args.out / f"view-{name}.png"
                capture(browser, base + path, png, height)
                print(f"{png}  {png.stat().st_size:,} bytes")
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

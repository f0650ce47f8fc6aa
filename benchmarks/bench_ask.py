"""Wall and CPU seconds of one `valuesim ask` with the default trained predictor (issue 28).

Runs, in a fresh process as a user would::

    valuesim ask --data ../shared/wvs7/dev --respondent 276070001 --question Q46 --method supervised

(the load of the data, the fit on everybody else in the file and the answer) ``--repeat``
times, and with ``--text``/``--options`` a new question the same way (``--text-methods``;
``default``: no ``--method``, i.e. the best new-question method measured, item-transfer), e.g.::

    flock /tmp/valuesim-heavy.lock python benchmarks/bench_ask.py --text-methods default \
        --text "Artificial intelligence will create more jobs than it destroys." \
        --options "Strongly agree|Agree|Disagree|Strongly disagree"

It records and records each run's wall and CPU seconds (the command and its children) with the
1-minute load average, into docs/results/ask.json. On a shared machine the wall time mostly
measures the other jobs; the CPU time is what an idle machine needs.
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(_results.DEV_DATA))
    ap.add_argument("--respondent", default="276070001")
    ap.add_argument("--question", default="Q46")
    ap.add_argument("--methods", default="supervised", help="comma-separated methods to ask --question with")
    ap.add_argument("--text", default=None, help="also ask this new question (with --options)")
    ap.add_argument("--options", default=None, help="the new question's options, separated by |")
    ap.add_argument(
        "--text-methods", default="default", help="comma-separated methods to ask --text with ('default': no --method)"
    )
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--results", default="ask")
    args = ap.parse_args(argv)

    if (args.text is None) != (args.options is None):
        raise SystemExit("--text and --options go together")
    commands = []
    for method in [m.strip() for m in args.methods.split(",") if m.strip()]:
        cmd = ["valuesim", "ask", "--data", args.data, "--respondent", args.respondent]
        commands.append([*cmd, "--question", args.question, "--method", method])
    for method in [m.strip() for m in args.text_methods.split(",") if m.strip()] if args.text else []:
        cmd = ["valuesim", "ask", "--data", args.data, "--respondent", args.respondent]
        cmd += ["--text", args.text, "--options", args.options]
        commands.append(cmd if method == "default" else [*cmd, "--method", method])
    rows = []
    for cmd in commands:
        for i in range(args.repeat):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            res = subprocess.run([sys.executable, "-m", "valuesim", *cmd[1:]], capture_output=True, text=True)
            wall = time.perf_counter() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            if res.returncode:
                raise SystemExit(f"{' '.join(cmd)} failed:\n{res.stderr[-2000:]}")
            answered = next((x for x in res.stdout.splitlines() if x.startswith("Answered by")), "")
            load = os.getloadavg()[0]
            print(f"run {i + 1}: {wall:.1f} s wall, {cpu:.1f} s CPU, load {load:.1f} -- {answered}")
            rows.append(
                [
                    shlex.join(cmd).replace(args.data, "wvs7/dev"),
                    answered.split(",")[0].removeprefix("Answered by "),
                    i + 1,
                    f"{wall:.1f}",
                    f"{cpu:.1f}",
                    f"{load:.1f}",
                ]
            )
    from _results import save_results, table

    save_results(
        args.results,
        {
            "ask": table(
                f"One `valuesim ask` per run in a fresh process (data load + fit on everybody else + answer) on "
                f"{os.cpu_count()} cores; CPU = the command's user + system seconds; load = 1-minute load average "
                "after the run (wall time on a shared machine mostly measures the other jobs).",
                ["command", "answered by", "run", "wall s", "CPU s", "load"],
                rows,
            )
        },
        data=f"WVS-7 dev subset ({Path(args.data).resolve()}): one respondent asked, everybody else trained on"
        if Path(args.data).resolve() == _results.DEV_DATA.resolve()
        else args.data,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

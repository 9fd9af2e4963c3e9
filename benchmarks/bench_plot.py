"""Benchmark: ``dialogue-sim plot`` on a results folder (the headline experiment's by default).

Not part of the test suite. Run from the project root, after ``./dev main`` (or any sweep):

    .venv/bin/python benchmarks/bench_plot.py [RESULTS]   # default results/lean-years

Measures, each as a separate ``dialogue-sim`` process (wall time, as a user sees it): the error
for a bad ``--metric`` and a bad ``--by`` (checked against the manifest before any data is read),
``plot`` with PNG and SVG, and ``plot --no-svg``; with one worker and with two. Prints the
timings, the load average (the machine is shared: compare ratios measured in this one run) and
writes them to benchmarks/plot-results.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).parent / "dialogue-sim"


def timed(args: list[str]) -> tuple[float, int]:
    t = time.perf_counter()
    p = subprocess.run([str(CLI), *args], capture_output=True, text=True)
    return time.perf_counter() - t, p.returncode


def main() -> None:
    results = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "results" / "lean-years"
    manifest = json.loads((results / "manifest.json").read_text())
    out: dict = {"results": str(results), "n_runs": manifest["n_runs"], "load_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as tmp:
        out["bad_metric_s"], rc1 = timed(["plot", str(results), "--metric", "bogus", "--out", f"{tmp}/x"])
        out["bad_by_s"], rc2 = timed(["plot", str(results), "--by", "bogus", "--out", f"{tmp}/x"])
        assert rc1 == rc2 == 2
        for name, extra in (
            ("plot_1_worker_s", ["--workers", "1"]),
            ("plot_2_workers_s", ["--workers", "2"]),
            ("plot_2_workers_png_only_s", ["--workers", "2", "--no-svg"]),
        ):
            out[name], rc = timed(["plot", str(results), "--out", f"{tmp}/{name}", *extra])
            assert rc == 0
    out["load_after"] = os.getloadavg()[0]
    out["speedup_2_workers"] = round(out["plot_1_worker_s"] / out["plot_2_workers_s"], 2)
    for k, v in out.items():
        print(f"{k:28s} {v if not isinstance(v, float) else round(v, 2)}")
    (ROOT / "benchmarks" / "plot-results.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()

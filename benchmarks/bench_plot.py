"""Benchmark: ``dialogue-sim plot`` on a results folder (the headline experiment's by default).

Not part of the test suite. Run from the project root, after ``./dev main`` (or any sweep):

    .venv/bin/python benchmarks/bench_plot.py [RESULTS] [--before SRC] [--repeat N]

RESULTS defaults to results/lean-years. Measures, each as a separate process (wall time, as a user
sees it, and the CPU time of the process and its children): the error for a bad ``--metric`` and
a bad ``--by`` (checked against the manifest before any data is read); ``plot`` as it runs by
default (PNG, one drawing process per core); with one process; and with SVGs as well. With
``--before SRC`` (a checkout of an older version, e.g. ``git worktree add /tmp/before main``)
the same default command of that version is timed in the same run, interleaved, so that the
before/after ratio is measured under the same load. Each timing is the median of ``--repeat``
runs (default 3). Prints the timings and the load average (the machine may be shared: compare
ratios measured in this one run) and writes them to benchmarks/plot-results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(args: list[str], src: Path | None = None) -> tuple[float, float, int]:
    """Wall and CPU seconds (user + system, children included) of ``dialogue-sim ARGS`` run from
    ``src`` (a source tree; default: this one)."""
    env = dict(os.environ)
    if src is not None:  # that tree's package first on the path (run from it: the editable install comes later)
        env["PYTHONPATH"] = str(src)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=src or ROOT, env=env)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if p.returncode not in (0, 2):
        sys.exit(f"bench_plot: {' '.join(args)} failed:\n{p.stderr[-2000:]}")
    return wall, cpu, p.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="?", default=str(ROOT / "results" / "lean-years"))
    ap.add_argument("--before", type=Path, default=None, help="an older source tree to time in the same run")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    results = Path(a.results).resolve()
    manifest = json.loads((results / "manifest.json").read_text())
    out: dict = {
        "results": str(results),
        "n_runs": manifest["n_runs"],
        "cores": len(os.sched_getaffinity(0)),
        "load_before": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        w, _, rc1 = timed(["plot", str(results), "--metric", "bogus", "--out", f"{tmp}/x"])
        out["bad_metric_s"] = round(w, 2)
        w, _, rc2 = timed(["plot", str(results), "--by", "bogus", "--out", f"{tmp}/x"])
        out["bad_by_s"] = round(w, 2)
        assert rc1 == rc2 == 2
        cases = {
            "plot_default": (["--out", f"{tmp}/d"], None),
            "plot_1_worker": (["--workers", "1", "--out", f"{tmp}/one"], None),
            "plot_with_svg": (["--svg", "--out", f"{tmp}/svg"], None),
        }
        if a.before is not None:
            cases["before_default"] = (["--out", f"{tmp}/before"], a.before.resolve())
        walls: dict[str, list[float]] = {k: [] for k in cases}
        cpus: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(a.repeat):  # interleaved: each round times every case under the same load
            for name, (extra, src) in cases.items():
                w, c, rc = timed(["plot", str(results), *extra], src)
                assert rc == 0, name
                walls[name].append(w)
                cpus[name].append(c)
        for name in cases:
            out[f"{name}_s"] = round(statistics.median(walls[name]), 2)
            out[f"{name}_cpu_s"] = round(statistics.median(cpus[name]), 2)
            out[f"{name}_all_s"] = [round(x, 2) for x in walls[name]]
    out["load_after"] = os.getloadavg()
    if a.before is not None:
        out["speedup_vs_before"] = round(out["before_default_s"] / out["plot_default_s"], 2)
        out["cpu_ratio_vs_before"] = round(out["before_default_cpu_s"] / out["plot_default_cpu_s"], 2)
    out["speedup_workers"] = round(out["plot_1_worker_s"] / out["plot_default_s"], 2)
    for k, v in out.items():
        print(f"{k:28s} {v}")
    (ROOT / "benchmarks" / "plot-results.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()

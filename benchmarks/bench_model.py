"""Benchmark: the cost of the model itself (``sim.batch.ensemble.simulate``), per run.

Not part of the test suite. Run from the project root:

    .venv/bin/python benchmarks/bench_model.py                       # this tree
    .venv/bin/python benchmarks/bench_model.py --before /tmp/before  # and an older tree, interleaved

Each workload is simulated in a fresh process (one BLAS thread, as in a sweep) after a warm-up
batch, and timed in CPU seconds of that process; the trees are run alternately ``--repeat``
times and the median is kept, so that the before/after ratio is measured within one run
(machines are noisy: compare the ratios). ``--before SRC`` is a checkout of an older version
(e.g. ``git worktree add /tmp/before main``). Writes ``benchmarks/model-results.json`` (or ``--out``).

Workloads: the first 4,096 runs of the shipped Sobol experiment (``experiments/sensitivity.toml``,
seed 7: 16 parameters over their ranges, both arms, 50 rounds), and 1,000 runs of
``leadership-change`` (60 rounds) and ``iran-us-track-two`` at their defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "model-results.json"

# run in the child: build the workload from the tree on sys.path[0], warm up, time one simulate()
CHILD = r"""
import json, os, sys, time, tomllib
from threadpoolctl import threadpool_limits
from sim.batch.ensemble import simulate
from sim.batch.experiment import experiment_from_dict
from sim.scenarios import EXPERIMENT_DIR, load_scenario, resolve
name = sys.argv[1]
if name == "sobol":
    d = tomllib.loads((EXPERIMENT_DIR / "sensitivity.toml").read_text()); d.pop("full", None)
    exp = experiment_from_dict(d, "sensitivity.toml")
    idx = [exp.run_index(r) for r in range(4096)]
    setups = [exp.setup(s, p, a) for s, p, a, _ in idx]
    seeds = [exp.seed_of(p, r) for _, p, _, r in idx]
    kw = dict(metrics=exp.timeseries, every=exp.every)
else:
    setup = resolve(load_scenario(name))
    setups, seeds, kw = [setup] * 1000, list(range(1000)), {}
with threadpool_limits(1, user_api="blas"):
    simulate(setups[:256], seeds[:256], **kw)  # warm-up
    t = time.process_time()
    simulate(setups, seeds, **kw)
    cpu = time.process_time() - t
print(json.dumps({"cpu": cpu, "runs": len(setups)}))
"""

WORKLOADS = ("sobol", "leadership-change", "iran-us-track-two")


def once(tree: Path, workload: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree), "OPENBLAS_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", CHILD, workload], env=env, cwd=tree, capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return r["cpu"] / r["runs"] * 1e3  # ms per run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, default=None, help="an older source tree, timed in the same run")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workloads", nargs="*", default=list(WORKLOADS), choices=WORKLOADS)
    ap.add_argument("--out", type=Path, default=OUT, help=f"where to write the numbers (default {OUT.relative_to(ROOT)})")
    a = ap.parse_args()
    trees = {"now": ROOT} | ({"before": a.before.resolve()} if a.before else {})
    res: dict[str, dict[str, list[float]]] = {w: {k: [] for k in trees} for w in a.workloads}
    load = [os.getloadavg()[0]]
    for rep in range(a.repeat):
        for w in a.workloads:
            for k, tree in trees.items():
                res[w][k].append(once(tree, w))
                load.append(os.getloadavg()[0])
                print(f"[{rep + 1}/{a.repeat}] {w:20s} {k:6s} {res[w][k][-1]:.2f} ms/run", flush=True)
    summary = {w: {k: {"ms_per_run": statistics.median(v), "all": v} for k, v in r.items()} for w, r in res.items()}
    for w, r in summary.items():
        if "before" in r:
            r["ratio"] = r["before"]["ms_per_run"] / r["now"]["ms_per_run"]
        line = "  ".join(f"{k} {v['ms_per_run']:.2f} ms/run" for k, v in r.items() if k != "ratio")
        print(f"{w:20s} {line}" + (f"  before/now {r['ratio']:.2f}×" if "ratio" in r else ""))
    meta = {"load_1min": [min(load), max(load)], "cpus": os.cpu_count(), "before": str(a.before) if a.before else None}
    a.out.write_text(json.dumps({"meta": meta, "results": summary}, indent=2) + "\n")
    print(f"written to {a.out}")


if __name__ == "__main__":
    main()

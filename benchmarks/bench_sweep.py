"""Benchmark: our sweep against ``mesa.batch_run`` on the same model, parameters and seeds.

Not part of the test suite. Run from the project root:

    .venv/bin/python benchmarks/bench_sweep.py             # reference workload + scaling
    .venv/bin/python benchmarks/bench_sweep.py --quick     # smaller, for a smoke test
    .venv/bin/python benchmarks/bench_sweep.py --million   # also the 1,000,000-run memory check

Prints runs per second and ratios measured in this one run (machines are noisy: compare
the ratios, not the lone timings), and writes them as JSON to benchmarks/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mesa
import numpy as np

from sim import DialogueModel
from sim.experiment import Experiment
from sim.sweep import read_runs, run_sweep

ROOT = Path(__file__).resolve().parent.parent


def reference(n: int, rounds: int = 60, members: int = 6, name: str = "bench", **kw) -> Experiment:
    """The reference workload: leadership-change, 2 sides × ``members``, ``rounds`` rounds, n runs."""
    return Experiment(name=name, scenarios=["leadership-change"], seed=2026, replications=n, rounds=rounds,
                      params={"members": members}, timeseries=["agreement", "trust", "progress"], every=10, **kw)


def time_sweep(exp: Experiment, workers: int) -> tuple[float, Path]:
    out = Path(tempfile.mkdtemp(prefix="bench-")) / "out"
    t0 = time.perf_counter()
    run_sweep(exp, out, workers=workers, progress=False)
    return time.perf_counter() - t0, out


def time_batch_run(exp: Experiment) -> tuple[float, list[dict]]:
    seeds = [exp.seed_of(0, r) for r in range(exp.replications)]
    t0 = time.perf_counter()
    rows = mesa.batch_run(DialogueModel, parameters={"scenario": ["leadership-change"], "members": [6],
                                                     "rounds": [exp.rounds]},
                          rng=seeds, max_steps=exp.rounds, number_processes=1, display_progress=False)
    return time.perf_counter() - t0, rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller workloads")
    ap.add_argument("--million", action="store_true", help="also run the 1,000,000-run memory check")
    args = ap.parse_args()
    n_ref = 300 if args.quick else 2000
    res: dict = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                             "platform": platform.platform()}}

    # 1. one process: our sweep vs mesa.batch_run, same seeds
    exp = reference(n_ref)
    t_ours, out = time_sweep(exp, workers=1)
    t_mesa, rows = time_batch_run(exp)
    ours = read_runs(out)
    final: dict[int, dict] = {}
    for r in rows:  # batch_run gives one row per agent; the model reporters repeat on each
        final.setdefault(r["RunId"], r)
    mesa_agree = np.array([bool(final[i]["agreement"]) for i in sorted(final)])
    same = bool((mesa_agree == ours["agreement"].to_numpy()).all()) if len(final) == len(ours) else None
    res["reference"] = {"runs": n_ref, "ours_runs_per_s": n_ref / t_ours, "batch_run_runs_per_s": n_ref / t_mesa,
                        "ratio": t_mesa / t_ours, "same_agreement_outcomes": same}
    print(f"reference workload ({n_ref} runs, leadership-change, 2×6 members, 60 rounds), one process:")
    print(f"  mesa.batch_run  {n_ref / t_mesa:9.1f} runs/s")
    print(f"  our sweep       {n_ref / t_ours:9.1f} runs/s   ratio {t_mesa / t_ours:.1f}×   "
          f"identical agreement outcomes: {same}")

    # 2. scaling with members and rounds (one process)
    n_scale = 500 if args.quick else 2000
    res["members"], res["rounds"] = [], []
    print(f"scaling, one process, {n_scale} runs:")
    for m in (3, 6, 12, 24):
        t, _ = time_sweep(reference(n_scale, members=m), 1)
        res["members"].append({"members_per_side": m, "runs_per_s": n_scale / t})
        print(f"  2×{m:<3d} members, 60 rounds: {n_scale / t:9.1f} runs/s")
    for r in (45, 60, 120, 240):
        t, _ = time_sweep(reference(n_scale, rounds=r), 1)
        res["rounds"].append({"rounds": r, "runs_per_s": n_scale / t})
        print(f"  2×6 members, {r:3d} rounds: {n_scale / t:9.1f} runs/s")

    # 3. workers on a 20,000-run sweep
    n_w = 4000 if args.quick else 20000
    res["workers"] = []
    print(f"workers, {n_w}-run sweep:")
    base = None
    for w in (1, 2):
        t, _ = time_sweep(reference(n_w, chunk_size=500), w)
        base = base or t
        res["workers"].append({"workers": w, "runs_per_s": n_w / t, "speedup": base / t})
        print(f"  {w} worker(s): {n_w / t:9.1f} runs/s   speed-up {base / t:.2f}×")

    # 4. memory of a 1,000,000-run sweep (scalar outcomes, thinned time series)
    if args.million:
        res["million"] = million()
    path = ROOT / "benchmarks" / "results.json"
    path.write_text(json.dumps(res, indent=2))
    print(f"wrote {path}")


def million() -> dict:
    """Run a 1,000,000-run sweep in a child process and report its peak memory."""
    out = Path(tempfile.mkdtemp(prefix="bench-million-")) / "out"
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "from benchmarks.bench_sweep import reference\n"
        "from sim.sweep import run_sweep\n"
        "exp = reference(1_000_000, chunk_size=2000)\n"
        f"run_sweep(exp, {str(out)!r}, workers=2, progress=True)\n"
    )
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    t = time.perf_counter() - t0
    # ru_maxrss of children: the largest single process among the driver and its workers (KiB)
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    disk = sum(p.stat().st_size for p in out.rglob("*.parquet"))
    print(f"1,000,000 runs in {t:.0f}s ({1e6 / t:.0f} runs/s); peak RSS of the largest process "
          f"{peak_kib / 1024:.0f} MiB; results on disk {disk / 2**20:.0f} MiB")
    return {"seconds": t, "runs_per_s": 1e6 / t, "peak_rss_largest_process_mib": peak_kib / 1024,
            "disk_mib": disk / 2**20}


if __name__ == "__main__":
    main()

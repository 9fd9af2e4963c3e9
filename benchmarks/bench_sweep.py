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
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mesa
import numpy as np

from sim import DialogueModel
from sim.batch.experiment import Experiment
from sim.batch.sweep import read_runs, run_sweep

ROOT = Path(__file__).resolve().parent.parent


def reference(n: int, rounds: int = 60, members: int = 6, name: str = "bench", **kw) -> Experiment:
    """The reference workload: leadership-change, 2 sides × ``members``, ``rounds`` rounds, n runs."""
    return Experiment(
        name=name,
        scenarios=["leadership-change"],
        seed=2026,
        replications=n,
        rounds=rounds,
        params={"members": members},
        timeseries=["agreement", "trust", "progress"],
        every=10,
        **kw,
    )


def time_sweep(exp: Experiment, workers: int) -> tuple[float, Path]:
    out = Path(tempfile.mkdtemp(prefix="bench-")) / "out"
    t0 = time.perf_counter()
    run_sweep(exp, out, workers=workers, progress=False)
    return time.perf_counter() - t0, out


def time_batch_run(exp: Experiment) -> tuple[float, list[dict]]:
    seeds = [exp.seed_of(0, r) for r in range(exp.replications)]
    t0 = time.perf_counter()
    rows = mesa.batch_run(
        DialogueModel,
        parameters={"scenario": ["leadership-change"], "members": [6], "rounds": [exp.rounds]},
        rng=seeds,
        max_steps=exp.rounds,
        number_processes=1,
        display_progress=False,
    )
    return time.perf_counter() - t0, rows


def cli_sweep(n: int, workers: int) -> float:
    """Runs per second of `dialogue-sim sweep` on the reference workload with n runs."""
    d = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    (d / "exp.toml").write_text(
        'name = "bench"\nseed = 2026\nscenarios = ["leadership-change"]\n'
        f"replications = {n}\nrounds = 60\nchunk_size = 500\n"
        '[params]\nmembers = 6\n[output]\ntimeseries = ["agreement", "trust", "progress"]\nevery = 10\n'
    )
    subprocess.run(
        [sys.executable, "-m", "sim", "sweep", str(d / "exp.toml"), "--out", str(d / "out"), "--workers", str(workers)],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    session = json.loads((d / "out" / "manifest.json").read_text())["sessions"][-1]
    return n / session["elapsed_s"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller workloads")
    ap.add_argument("--million", action="store_true", help="also run the 1,000,000-run memory check")
    args = ap.parse_args()
    n_ref = 300 if args.quick else 2000
    res: dict = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}}

    # 1. one process: our sweep vs mesa.batch_run, same seeds. Both are timed warm: a small sweep
    # first pays the process's one-time costs (imports, loading numba's cached machine code, or
    # compiling it after a change), which both engines share and which would otherwise fall on
    # whichever runs first.
    t_cold, _ = time_sweep(reference(20), workers=1)
    res["first_sweep_in_process_s"] = t_cold
    print(f"warm-up: a 20-run sweep in a fresh process took {t_cold:.1f} s (imports, numba's cache)")
    # Ours takes seconds and batch_run minutes, so ours is timed three times around it (twice
    # before, once after) and the median kept: a lone few-second timing varies by ±15% here.
    exp = reference(n_ref)
    t_runs = [time_sweep(exp, workers=1)[0] for _ in range(2)]
    t_mesa, rows = time_batch_run(exp)
    final: dict[int, bool] = {}
    for r in rows:  # batch_run gives one row per agent; the model reporters repeat on each
        final.setdefault(r["RunId"], bool(r["agreement"]))
    # batch_run's rows (a dict per agent and step) are millions of Python objects: kept alive, they
    # make every later garbage collection walk them, which cost the sweeps timed after it ~30%.
    del rows
    gc.collect()
    t_last, out = time_sweep(exp, workers=1)
    t_runs.append(t_last)
    t_ours = float(np.median(t_runs))
    ours = read_runs(out)
    mesa_agree = np.array([final[i] for i in sorted(final)])
    same = bool((mesa_agree == ours["agreement"].to_numpy()).all()) if len(final) == len(ours) else None
    res["reference"] = {
        "runs": n_ref,
        "ours_runs_per_s": n_ref / t_ours,
        "ours_runs_per_s_each": [n_ref / t for t in t_runs],
        "batch_run_runs_per_s": n_ref / t_mesa,
        "ratio": t_mesa / t_ours,
        "same_agreement_outcomes": same,
    }
    print(f"reference workload ({n_ref} runs, leadership-change, 2×6 members, 60 rounds), one process:")
    print(f"  mesa.batch_run  {n_ref / t_mesa:9.1f} runs/s")
    each = ", ".join(f"{n_ref / t:.0f}" for t in t_runs)
    print(f"  our sweep       {n_ref / t_ours:9.1f} runs/s   ratio {t_mesa / t_ours:.1f}×   identical agreement outcomes: {same}")
    print(f"  (our sweep, median of three timings: {each} runs/s)")

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

    # 3. workers on a 20,000-run sweep, each in a fresh `dialogue-sim sweep` process (as a user runs it)
    n_w = 4000 if args.quick else 20000
    res["workers"] = []
    print(f"workers, {n_w}-run sweep (dialogue-sim sweep in a fresh process; sweep time from its manifest):")
    base = None
    for w in (1, 2):
        rate = cli_sweep(n_w, w)
        base = base or rate
        res["workers"].append({"workers": w, "runs_per_s": rate, "speedup": rate / base})
        print(f"  {w} worker(s): {rate:9.1f} runs/s   speed-up {rate / base:.2f}×")

    # 4. memory of a 1,000,000-run sweep (scalar outcomes, thinned time series)
    if args.million:
        res["million"] = million()
    path = ROOT / "benchmarks" / "results.json"
    path.write_text(json.dumps(res, indent=2))
    print(f"wrote {path}")


def tree_pss_mib(root: int) -> float:
    """Proportional set size (MiB) of a process and all its descendants (shared pages split fairly)."""
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def memory_run(n: int, workers: int = 2) -> dict:
    """Run an n-run sweep in a child process, sampling the PSS of its process tree."""
    out = Path(tempfile.mkdtemp(prefix="bench-mem-")) / "out"
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "from benchmarks.bench_sweep import reference\n"
        "from sim.batch.sweep import run_sweep\n"
        f"exp = reference({n}, chunk_size=2000)\n"
        f"if __name__ == '__main__':\n    run_sweep(exp, {str(out)!r}, workers={workers}, progress=False)\n"
    )
    script = out.parent / "run.py"
    script.write_text(code)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(script)], cwd=ROOT)
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, tree_pss_mib(proc.pid))
        time.sleep(0.5)
    if proc.returncode:
        raise SystemExit(f"memory run failed with status {proc.returncode}")
    t = time.perf_counter() - t0
    disk = sum(p.stat().st_size for p in out.rglob("*.parquet"))
    print(
        f"  {n:>9,d} runs in {t:5.0f}s ({n / t:5.0f} runs/s); peak memory (PSS, driver + workers) "
        f"{peak:5.0f} MiB; results on disk {disk / 2**20:.0f} MiB"
    )
    return {"runs": n, "seconds": t, "runs_per_s": n / t, "peak_pss_mib": peak, "disk_mib": disk / 2**20}


def million() -> list[dict]:
    """Peak memory of sweeps of growing size, up to 1,000,000 runs: it should stay flat."""
    print("memory (scalar outcomes, time series every 10 rounds, 2 workers):")
    return [memory_run(n) for n in (10_000, 100_000, 1_000_000)]


if __name__ == "__main__":
    main()

"""Benchmark: the Sobol design run through a Dask scheduler against local processes, on this machine.

Not part of the test suite (about 5 minutes on two cores). Run from the project root:

    .venv/bin/python benchmarks/bench_dask.py [--samples 1024] [--out benchmarks/dask-results.json]

The shipped ``experiments/sensitivity.toml`` cut to ``--samples`` base samples (N = 1,024: 276,480
runs in 68 chunks of 4,096) is swept twice into fresh folders: by the local process executor
(``--workers 2``) and through a Dask ``LocalCluster`` of two single-threaded worker processes
(``--scheduler``: the workers return their tables and the driver writes them). Both give the same
runs (checked). What a cluster would change is read from the driver's cost: its CPU time per chunk
(receiving, writing Parquet, the scheduler in the same process) against a chunk's compute time on
a worker bounds how many workers one driver can keep busy. The cluster is closed before the
script ends (no process outlives it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "dask-results.json"


def experiment(samples: int):
    from sim.batch.experiment import experiment_from_dict
    from sim.scenarios import EXPERIMENT_DIR

    d = tomllib.loads((EXPERIMENT_DIR / "sensitivity.toml").read_text())
    d.pop("full", None)
    d["design"] = d["design"] | {"samples": samples}
    return experiment_from_dict(d, "sensitivity.toml")


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _worker_cpu() -> float:
    import time as t

    return t.process_time()


def sweep(samples: int, out: Path, scheduler: str | None) -> dict:
    """One sweep into ``out`` (fresh): wall time, the driver's CPU time, and the time it spent writing."""
    from sim.batch import store as store_mod
    from sim.batch.sweep import run_sweep

    exp = experiment(samples)
    writing = [0.0]
    real = store_mod.ResultStore.write

    def timed(self, *a, **k):  # the driver's writes (Dask) or the count of a worker's (processes)
        t = time.perf_counter()
        try:
            return real(self, *a, **k)
        finally:
            writing[0] += time.perf_counter() - t

    store_mod.ResultStore.write = timed
    try:
        cpu0, child0, t0 = time.process_time(), _children_cpu(), time.perf_counter()
        summary = run_sweep(exp, out, workers=2, scheduler=scheduler, progress=False)
        wall = time.perf_counter() - t0
        return {
            "runs": summary["completed"],
            "wall_s": round(wall, 1),
            "driver_cpu_s": round(time.process_time() - cpu0, 1),
            "children_cpu_s": round(_children_cpu() - child0, 1),
            "driver_write_s": round(writing[0], 1),
        }
    finally:
        store_mod.ResultStore.write = real


def same_runs(a: Path, b: Path) -> bool:
    from sim.batch.store import read_runs

    ra, rb = read_runs(a).sort_values("run_id"), read_runs(b).sort_values("run_id")
    cols = ["run_id", "agreement", "agreement_round", "final_trust"]
    return bool(ra[cols].reset_index(drop=True).equals(rb[cols].reset_index(drop=True)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=1024)
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args()
    from distributed import Client, LocalCluster

    res: dict = {"samples": a.samples, "measured": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count()}
    res["commit"] = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as tmp:
        local, dask = Path(tmp) / "local", Path(tmp) / "dask"
        res["processes"] = sweep(a.samples, local, None)
        print("processes:", res["processes"], flush=True)
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
            before = client.run(_worker_cpu)
            res["dask"] = sweep(a.samples, dask, cluster.scheduler_address)
            after = client.run(_worker_cpu)
            res["dask"]["workers_cpu_s"] = round(sum(after[w] - before[w] for w in after), 1)
        print("dask:", res["dask"], flush=True)
        res["same_runs"] = same_runs(local, dask)
    n_chunks = -(-res["dask"]["runs"] // experiment(a.samples).chunk_size)
    d = res["dask"]
    res["per_chunk"] = {
        "chunks": n_chunks,
        "worker_cpu_s": round(d["workers_cpu_s"] / n_chunks, 3),
        "driver_cpu_s": round(d["driver_cpu_s"] / n_chunks, 3),
        "driver_write_s": round(d["driver_write_s"] / n_chunks, 3),
    }
    pc = res["per_chunk"]
    res["workers_one_driver_feeds"] = round(pc["worker_cpu_s"] / pc["driver_cpu_s"], 1) if pc["driver_cpu_s"] > 0 else None
    res["dask_over_processes_wall"] = round(d["wall_s"] / res["processes"]["wall_s"], 3)
    a.out.write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps(res, indent=1))
    print(f"→ {a.out}")
    if not res["same_runs"]:
        sys.exit("the two executors gave different runs")


if __name__ == "__main__":
    main()

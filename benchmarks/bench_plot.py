"""Benchmark: ``dialogue-sim plot`` on a results folder (the headline experiment's by default).

Not part of the test suite. Run from the project root, after ``./dev main`` (or any sweep):

    .venv/bin/python benchmarks/bench_plot.py [RESULTS] [--before SRC] [--repeat N] [--svg]

RESULTS defaults to results/lean-years. Each command runs as a separate process, as a user runs
it; measured: the wall time, and the CPU time (user + system) of the process and of every process
it started, the drawing processes and multiprocessing's fork server included (this benchmark
makes itself their "subreaper", so that they are waited for and counted even when their parent
does not wait for them; a process still running 10 s after its command ended is reported and
ended). The cases: the errors for a bad ``--metric`` and a bad ``--by`` (checked against the
manifest before any data is read); ``plot`` as it runs by default (PNG, one drawing process per
core); with one process (``--workers 1``); with ``--svg`` if asked. With ``--before SRC`` (a
checkout of an older version, e.g. ``git worktree add /tmp/before main``) the same default
command of that version is timed in the same run, interleaved, so that the before/after ratio
is measured under the same load. Each timing is the median of ``--repeat`` runs (default 3).
The load average is sampled every second while the benchmark runs (the machine may be shared:
compare ratios measured in this one run). Prints everything and writes it to
benchmarks/plot-results.json.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    """Orphaned descendants (a fork server whose parent has exited) become this process's children."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit(f"bench_plot: prctl(PR_SET_CHILD_SUBREAPER) failed: {os.strerror(ctypes.get_errno())}")


def reap(deadline_s: float = 10.0) -> int:
    """Wait for every remaining descendant; return how many were still running ``deadline_s``
    after the command ended (those are ended: no process may outlive its command)."""
    left, end = 0, time.monotonic() + deadline_s
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return left
        if pid:
            continue
        if time.monotonic() > end:
            left += _end_children()
            end = float("inf")
        time.sleep(0.01)


def _end_children() -> int:
    """SIGTERM this process's remaining children (by pid, found in /proc)."""
    me, n = os.getpid(), 0
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == me:
                os.kill(int(d.name), 15)
                n += 1
    return n


class LoadSampler:
    """The 1-minute load average, sampled every second in a thread."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        s = self.samples or [os.getloadavg()[0]]
        return {"min": round(min(s), 2), "median": round(statistics.median(s), 2), "max": round(max(s), 2)}


def timed(args: list[str], src: Path | None = None) -> tuple[float, float, int, int]:
    """Wall and CPU seconds (user + system, every descendant included) of ``dialogue-sim ARGS``
    run from ``src`` (a source tree; default: this one), its exit status, and how many of its
    processes outlived it."""
    env = dict(os.environ)
    if src is not None:  # that tree's package first on the path (run from it: the editable install comes later)
        env["PYTHONPATH"] = str(src)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=src or ROOT, env=env)
    wall = time.perf_counter() - t
    left = reap()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if p.returncode not in (0, 2):
        sys.exit(f"bench_plot: {' '.join(args)} failed:\n{p.stderr[-2000:]}")
    return wall, cpu, p.returncode, left


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="?", default=str(ROOT / "results" / "lean-years"))
    ap.add_argument("--before", type=Path, default=None, help="an older source tree to time in the same run")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--svg", action="store_true", help="also time plot --svg")
    a = ap.parse_args()
    become_subreaper()
    results = Path(a.results).resolve()
    manifest = json.loads((results / "manifest.json").read_text())
    out: dict = {
        "results": str(results),
        "n_runs": manifest["n_runs"],
        "cores": len(os.sched_getaffinity(0)),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    sampler = LoadSampler()
    outlived = 0
    with tempfile.TemporaryDirectory() as tmp:
        errors = {
            "bad_metric": ["--metric", "bogus"],
            "bad_by": ["--by", "bogus"],
        }
        cases: dict[str, tuple[list[str], Path | None]] = {k: ([*v, "--out", f"{tmp}/x"], None) for k, v in errors.items()}
        cases |= {
            "plot_default": (["--out", f"{tmp}/d"], None),
            "plot_1_worker": (["--workers", "1", "--out", f"{tmp}/one"], None),
        }
        if a.svg:
            cases["plot_with_svg"] = (["--svg", "--out", f"{tmp}/svg"], None)
        if a.before is not None:
            cases |= {f"before_{k}": ([*v, "--out", f"{tmp}/bx"], a.before.resolve()) for k, v in errors.items()}
            cases["before_default"] = (["--out", f"{tmp}/before"], a.before.resolve())
        walls: dict[str, list[float]] = {k: [] for k in cases}
        cpus: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(a.repeat):  # interleaved: each round times every case under the same load
            for name, (extra, src) in cases.items():
                w, c, rc, left = timed(["plot", str(results), *extra], src)
                assert rc == (2 if "bad_" in name else 0), (name, rc)
                outlived += left
                walls[name].append(w)
                cpus[name].append(c)
        for name in cases:
            out[f"{name}_s"] = round(statistics.median(walls[name]), 2)
            out[f"{name}_cpu_s"] = round(statistics.median(cpus[name]), 2)
            out[f"{name}_all_s"] = [round(x, 2) for x in walls[name]]
    out["load_1min_during"] = sampler.stop()
    out["load_at_end"] = [round(x, 2) for x in os.getloadavg()]
    out["processes_outliving_their_command"] = outlived
    if a.before is not None:
        out["speedup_vs_before"] = round(out["before_default_s"] / out["plot_default_s"], 2)
        out["cpu_ratio_vs_before"] = round(out["before_default_cpu_s"] / out["plot_default_cpu_s"], 2)
        out["error_speedup_vs_before"] = round(out["before_bad_by_s"] / out["bad_by_s"], 2)
    out["speedup_workers"] = round(out["plot_1_worker_s"] / out["plot_default_s"], 2)
    for k, v in out.items():
        print(f"{k:34s} {v}")
    (ROOT / "benchmarks" / "plot-results.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Benchmark: the main job (``./dev main``: the headline sweep, then its report) and the report's
transplant decomposition alone with one and with two workers.

Not part of the test suite. Run from the project root (``nice -n 10`` on a shared machine):

    .venv/bin/python benchmarks/bench_main.py [--skip-main] [RESULTS]

Without ``--skip-main`` it runs ``dialogue-sim sweep experiments/lean-years.toml`` into a temporary
folder and ``dialogue-sim report`` on it, each as a separate process (wall time and the CPU time of
the process and its workers); then, on those results (or on RESULTS), the decomposition declared by
the experiment with ``workers=1`` and ``workers=2``, each in a fresh process. Prints the timings
and the load averages (the machine is shared: read the ratios measured in this one run) and writes
them to benchmarks/main-results.json.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).parent / "dialogue-sim"
DECOMPOSE = (
    "import sys, time; from sim.analysis.decompose import run_declared; t = time.perf_counter(); "
    "dec, _ = run_declared(sys.argv[1], workers=int(sys.argv[2])); "
    "print(time.perf_counter() - t, dec['runs'], dec['pairs'])"
)


def timed(cmd: list[str]) -> dict[str, float]:
    """Wall and CPU seconds (user + system, the process and the children it waited for)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{p.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "load": round(os.getloadavg()[0], 2), "stdout": p.stdout.strip()[-200:]}


def main(argv: list[str]) -> None:
    skip = "--skip-main" in argv
    rest = [a for a in argv if a != "--skip-main"]
    out: dict = {"load_start": os.getloadavg(), "cores": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(rest[0]) if rest else Path(tmp) / "lean-years"
        if not skip:
            out["sweep"] = timed([str(CLI), "sweep", str(ROOT / "experiments" / "lean-years.toml"), "--out", str(results)])
            out["report"] = timed([str(CLI), "report", str(results)])
        for w in (1, 2):
            r = timed([sys.executable, "-c", DECOMPOSE, str(results), str(w)])
            secs, runs, pairs = r.pop("stdout").split()
            r |= {"inner_s": round(float(secs), 1), "runs": int(runs), "pairs": int(pairs)}
            out[f"decomposition_{w}_worker{'s' if w > 1 else ''}"] = r
    out["decomposition_speedup_2_workers"] = round(out["decomposition_1_worker"]["inner_s"] / out["decomposition_2_workers"]["inner_s"], 2)
    out["load_end"] = os.getloadavg()
    print(json.dumps(out, indent=2))
    (ROOT / "benchmarks" / "main-results.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])

"""Benchmark: the shipped Sobol experiment, timed, with its numbers.

Not part of the test suite. Run from the project root; one command runs the shipped
experiments/sensitivity.toml for seeds 7 and 8 (resumable), times each run (wall and CPU time,
the 1-minute load average every 10 s), computes the indices, convergence figures and verdicts,
compares the two seed sets and writes everything to OUT/ and to docs/numbers/sobol.json (from
which docs/update_numbers.py renders the passages in docs/performance.md):

    .venv/bin/python benchmarks/bench_validation.py both --out /tmp/sobol

Parts of it:

    .venv/bin/python benchmarks/bench_validation.py sobol --seed 7 --out /tmp/sobol/seed7
    .venv/bin/python benchmarks/bench_validation.py compare /tmp/sobol/seed7 /tmp/sobol/seed8
    .venv/bin/python benchmarks/bench_validation.py refresh --out /tmp/sobol   # verdicts only, no rerun
    .venv/bin/python benchmarks/bench_validation.py reanalyse --out /tmp/sobol # indices and verdicts, no rerun

``--samples``, ``--replications`` and ``--seeds common|independent`` change the design (for
pilots; docs/numbers are written only for the shipped one). The calibration is timed by
``dialogue-sim calibrate`` itself (benchmarks/bench_calibration.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis import sensitivity as S
from sim.batch.experiment import experiment_from_dict
from sim.batch.store import read_runs
from sim.batch.sweep import run_sweep
from sim.scenarios import EXPERIMENT_DIR

ROOT = Path(__file__).resolve().parent.parent
NUMBERS = ROOT / "docs" / "numbers" / "sobol.json"
SEEDS = {"base": "base", "common": True, "independent": False}


class _Load:
    """The 1-minute load average, sampled at most every 10 s from the sweep's per-chunk callback (a
    sampling thread would make the local executor use forkserver, whose workers' CPU time is not
    counted as this process's children's)."""

    def __init__(self, every: float = 10.0):
        self.samples, self.every, self.last = [os.getloadavg()[0]], every, time.monotonic()

    def __call__(self, _chunk: int = 0) -> None:
        if time.monotonic() - self.last >= self.every:
            self.samples.append(os.getloadavg()[0])
            self.last = time.monotonic()


def cpu_model() -> str:
    """The processor's name (/proc/cpuinfo; else platform's): timings differ between machines by 1.5x."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown"


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def experiment(seed: int, samples: int | None = None, replications: int | None = None, seeds: str | None = None):
    d = tomllib.loads((EXPERIMENT_DIR / "sensitivity.toml").read_text())
    d.pop("full")
    d["seed"] = seed
    if samples:
        d["design"]["samples"] = samples
    if replications:
        d["replications"] = replications
    if seeds:
        d["design"]["common_seeds"] = SEEDS[seeds]
    return experiment_from_dict(d, str(EXPERIMENT_DIR / "sensitivity.toml"))


def sobol(
    seed: int, out: Path, samples: int | None = None, run: bool = True, replications: int | None = None, seeds: str | None = None
) -> dict:
    """Run (or resume) the experiment into OUT/sweep, then analyse the complete base samples."""
    exp = experiment(seed, samples, replications, seeds)
    load = _Load()
    t0, c0 = time.monotonic(), _cpu()
    if run:
        run_sweep(exp, out / "sweep", workers=2, resume=(out / "sweep").exists(), progress=True, on_chunk=load)
    sweep_s, sweep_cpu = time.monotonic() - t0, _cpu() - c0
    runs = read_runs(out / "sweep")
    names = exp.design_names
    problem = S.problem_of(exp.spec(), names)
    a = exp.analysis
    per_point = len(exp.arms) * exp.replications
    counts = runs.groupby("point").size()
    complete = counts[counts == per_point].index.to_numpy()
    n_pts = int(np.argmax(np.append(complete != np.arange(len(complete)), True)))  # the complete prefix
    n_base = n_pts // exp.block
    runs = runs[runs["point"] < n_base * exp.block]
    outs = S.replicates(runs, a["shift_round"], a["window"], a["treatment"], a["reference"])
    res: dict = {
        "seed": seed,
        "runs": len(runs),
        "n_base": n_base,
        "replications": exp.replications,
        "common_seeds": exp.common_seeds,
    }
    for key, v in outs.items():
        y, noise = S.mean_and_noise(v)
        r = S.sobol(problem, y, noise, key, seed, common_seeds=exp.common_seeds, reps=v)
        r.replications = exp.replications
        conv = S.convergence(problem, y, noise, key, seed, common_seeds=exp.common_seeds, reps=v, final=r)
        S.convergence_figure(conv, out, f"Convergence of the Sobol indices: {S.OUTPUTS[key]} (seed {seed})", f"sobol-convergence-{key}")
        conv.to_csv(out / f"convergence-{key}.csv", index=False)
        ok, text = S.adequacy(r)
        res[key] = {
            "indices": r.indices.to_dict("records"),
            "boot_total": r.boot_total.tolist() if r.boot_total is not None else None,
            "sum_total": r.sum_total,
            "noise_share": r.noise_share,
            "adequate_alone": ok,
            "verdict": text,
            "top5": r.top(),
            "gaps": r.gaps().to_dict("records"),
        }
    load.samples.append(os.getloadavg()[0])
    s = sorted(load.samples)
    res["timing"] = {
        "sweep_wall_s": round(sweep_s, 1),
        "sweep_cpu_s": round(sweep_cpu, 1),
        "total_wall_s": round(time.monotonic() - t0, 1),
        "total_cpu_s": round(_cpu() - c0, 1),
        "ran": run,
        "load": {"min": s[0], "median": s[len(s) // 2], "max": s[-1], "samples": len(s)},
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        "nice": os.nice(0),
        "workers": 2,
    }
    (out / "sobol.json").write_text(json.dumps(res, indent=1, default=float))
    return res


def result(r: dict, key: str) -> S.SobolResult:
    boot = r[key].get("boot_total")
    return S.SobolResult(
        key,
        pd.DataFrame(r[key]["indices"]),
        r["n_base"],
        r[key]["noise_share"],
        0.0,
        r.get("common_seeds", False),
        r.get("replications", 0),
        np.array(boot, dtype=float) if boot is not None else None,
    )


def compare(a: Path, b: Path) -> dict:
    ra, rb = json.loads((a / "sobol.json").read_text()), json.loads((b / "sobol.json").read_text())
    out = {}
    for key in ("payoff", "p_agree"):
        a, b = result(ra, key), result(rb, key)
        ok, text = S.adequacy(a, b)
        print(text)
        sp = S.compare_seeds(a, b).spread
        spread = {"rms": sp.rms, "m": sp.m, "beyond": sp.beyond, "low": sp.bound[0], "high": sp.bound[1]} if sp is not None else None
        out[key] = {"adequate": ok, "verdict": text, "spread": spread}
    return out


def _summary(r: dict) -> dict:
    """What docs/numbers keeps of one seed's run: indices (no bootstrap draws), gaps, verdicts, timing."""
    keep = {k: v for k, v in r.items() if k not in ("payoff", "p_agree")}
    for key in ("payoff", "p_agree"):
        keep[key] = {k: v for k, v in r[key].items() if k != "boot_total"}
    return keep


def both(out: Path, seeds: tuple[int, int] = (7, 8), samples: int | None = None) -> dict:
    runs = {}
    for s in seeds:
        r = sobol(s, out / f"seed{s}", samples)
        t = r["timing"]
        print(
            f"seed {s}: sweep {t['sweep_wall_s']:.0f} s wall, {t['sweep_cpu_s']:.0f} s CPU; "
            f"total {t['total_wall_s']:.0f} s wall (1-minute load median {t['load']['median']:.1f})"
        )
        runs[s] = r
    return _record(out, seeds, runs)


def _commit() -> str:
    return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()


def _record(out: Path, seeds: tuple[int, int], runs: dict, measured: dict | None = None) -> dict:
    """Compare the two seeds' runs and write docs/numbers/sobol.json (``measured``: the date and
    commit of the sweeps when they were analysed again later)."""
    verdicts = compare(out / f"seed{seeds[0]}", out / f"seed{seeds[1]}")
    numbers = {
        "measured": (measured or {}).get("measured", time.strftime("%Y-%m-%d")),
        "commit": (measured or {}).get("commit", _commit()),
        **({"analysed": f"{time.strftime('%Y-%m-%d')} at commit {_commit()}"} if measured else {}),
        "shipped_n_base": experiment(seeds[0]).samples,
        "seeds": [_summary(runs[s]) for s in seeds],
        "comparison": verdicts,
    }
    NUMBERS.write_text(json.dumps(numbers, indent=1, default=float) + "\n")
    print(f"→ {NUMBERS} (then: .venv/bin/python docs/update_numbers.py)")
    return numbers


def reanalyse(out: Path, seeds: tuple[int, int] = (7, 8)) -> dict:
    """The indices of OUT's two complete seed runs computed again by the current analysis code (no
    rerun: after a change to the estimators); each seed keeps its measured sweep timing, to which
    the new analysis time is added, and docs/numbers/sobol.json keeps the sweeps' date and commit
    and says when and at which commit they were analysed."""
    before = json.loads(NUMBERS.read_text())
    runs = {}
    for s in seeds:
        kept = json.loads((out / f"seed{s}" / "sobol.json").read_text())["timing"]
        r = sobol(s, out / f"seed{s}", run=False)
        t = r["timing"]
        r["timing"] = kept | {
            "total_wall_s": round(kept["sweep_wall_s"] + t["total_wall_s"], 1),
            "total_cpu_s": round(kept["sweep_cpu_s"] + t["total_cpu_s"], 1),
        }
        (out / f"seed{s}" / "sobol.json").write_text(json.dumps(r, indent=1, default=float))
        runs[s] = r
    return _record(out, seeds, runs, {"measured": before["measured"], "commit": before["commit"]})


def refresh(out: Path, seeds: tuple[int, int] = (7, 8)) -> dict:
    """The verdicts of docs/numbers/sobol.json recomputed by the current analysis code from OUT's
    two seed runs (their indices and bootstrap draws; nothing is rerun): after a change to
    :func:`sim.analysis.sensitivity.adequacy`. The timings and indices are kept as measured."""
    numbers = json.loads(NUMBERS.read_text())
    runs = {s: json.loads((out / f"seed{s}" / "sobol.json").read_text()) for s in seeds}
    for kept in numbers["seeds"]:
        r = runs[kept["seed"]]
        for key in ("payoff", "p_agree"):
            ok, text = S.adequacy(result(r, key))
            kept[key]["adequate_alone"], kept[key]["verdict"] = ok, text
    numbers["comparison"] = compare(out / f"seed{seeds[0]}", out / f"seed{seeds[1]}")
    NUMBERS.write_text(json.dumps(numbers, indent=1, default=float) + "\n")
    print(f"→ {NUMBERS} (then: .venv/bin/python docs/update_numbers.py)")
    return numbers


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("both", help="the shipped experiment for seeds 7 and 8, timed and compared; writes docs/numbers/sobol.json")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--samples", type=int, default=None, help="base samples N (default: the shipped experiment's)")
    p = sub.add_parser("sobol", help="one seed")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--samples", type=int, default=None)
    p.add_argument("--replications", type=int, default=None)
    p.add_argument("--seeds", choices=list(SEEDS), default=None, help="common_seeds: base (shipped), common (true) or independent (false)")
    p.add_argument("--no-run", action="store_true", help="analyse what is on disk")
    p = sub.add_parser("compare")
    p.add_argument("a", type=Path)
    p.add_argument("b", type=Path)
    p = sub.add_parser("refresh", help="recompute docs/numbers/sobol.json's verdicts from OUT/seed7 and OUT/seed8 (no rerun)")
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("reanalyse", help="recompute the indices and verdicts from OUT/seed7 and OUT/seed8's runs (no rerun)")
    p.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    if args.cmd == "both":
        both(args.out, samples=args.samples)
    elif args.cmd == "sobol":
        r = sobol(args.seed, args.out, args.samples, not args.no_run, args.replications, args.seeds)
        print(json.dumps({k: v for k, v in r.items() if k not in ("payoff", "p_agree")}))
        for k in ("payoff", "p_agree"):
            print(r[k]["verdict"])
    elif args.cmd == "refresh":
        refresh(args.out)
    elif args.cmd == "reanalyse":
        reanalyse(args.out)
    else:
        compare(args.a, args.b)


if __name__ == "__main__":
    main()

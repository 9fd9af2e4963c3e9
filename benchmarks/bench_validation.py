"""Benchmark: the shipped calibration and Sobol experiments, timed, with their numbers.

Not part of the test suite. Run from the project root:

    nice -n 10 .venv/bin/python benchmarks/bench_validation.py sobol --seed 7 --out /tmp/sobol7   # resumable
    .venv/bin/python benchmarks/bench_validation.py sobol --seed 8 --out /tmp/sobol8
    .venv/bin/python benchmarks/bench_validation.py compare /tmp/sobol7 /tmp/sobol8

``sobol`` runs (or resumes) experiments/sensitivity.toml with the given seed, then computes the
noise-corrected indices of both outputs over the complete design points (a partial run gives the
indices at the largest base sample reached), the convergence figures and the adequacy verdict,
and writes them to OUT/sobol.json. ``compare`` gives the verdict with the second seed (same
top-5). The calibration is timed by ``dialogue-sim calibrate`` itself (calibration.json, timing_s).
"""

from __future__ import annotations

import argparse
import json
import os
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


def sobol(seed: int, out: Path, samples: int | None, run: bool, common: bool | None = None, replications: int | None = None) -> dict:
    d = tomllib.loads((EXPERIMENT_DIR / "sensitivity.toml").read_text())
    d.pop("full")
    d["seed"] = seed
    if samples:
        d["design"]["samples"] = samples
    if common is not None:
        d["design"]["common_seeds"] = common
    if replications:
        d["replications"] = replications
    exp = experiment_from_dict(d, str(EXPERIMENT_DIR / "sensitivity.toml"))
    t0 = time.monotonic()
    load0 = os.getloadavg()
    if run:
        run_sweep(exp, out / "sweep", workers=2, resume=(out / "sweep").exists(), progress=True)
    elapsed = time.monotonic() - t0
    runs = read_runs(out / "sweep")
    names = exp.design_names
    problem = S.problem_of(exp.spec(), names)
    a = exp.analysis
    per_point = len(exp.arms) * exp.replications
    counts = runs.groupby("point").size()
    complete = counts[counts == per_point].index.to_numpy()
    n_pts = int(np.argmax(np.append(complete != np.arange(len(complete)), True)))  # the complete prefix
    n_base = n_pts // (len(names) + 2)
    runs = runs[runs["point"] < n_base * (len(names) + 2)]
    res: dict = {
        "seed": seed,
        "runs": len(runs),
        "n_base": n_base,
        "replications": exp.replications,
        "common_seeds": exp.common_seeds,
        "elapsed_s": round(elapsed, 1),
        "loadavg_before": load0,
        "loadavg_after": os.getloadavg(),
    }
    outs = S.point_outputs(runs, a["shift_round"], a["window"], a["treatment"], a["reference"])
    common = exp.common_seeds
    for key, (y, noise) in outs.items():
        r = S.sobol(problem, y, noise, key, seed, common_seeds=common)
        r.replications = exp.replications
        conv = S.convergence(problem, y, noise, key, seed, common_seeds=common)
        S.convergence_figure(conv, out, f"Convergence of the Sobol indices: {S.OUTPUTS[key]} (seed {seed})", f"sobol-convergence-{key}")
        ok, text = S.adequacy(r)
        res[key] = {
            "indices": r.indices.to_dict("records"),
            "sum_total": r.sum_total,
            "noise_share": r.noise_share,
            "adequate_alone": ok,
            "verdict": text,
            "top5": r.top(),
        }
        conv.to_csv(out / f"convergence-{key}.csv", index=False)
    (out / "sobol.json").write_text(json.dumps(res, indent=2, default=float))
    return res


def compare(a: Path, b: Path) -> None:
    ra, rb = json.loads((a / "sobol.json").read_text()), json.loads((b / "sobol.json").read_text())
    for key in ("payoff", "p_agree"):
        x, y = (
            S.SobolResult(
                key,
                pd.DataFrame(r[key]["indices"]),
                r["n_base"],
                r[key]["noise_share"],
                0.0,
                r.get("common_seeds", False),
                r.get("replications", 0),
            )
            for r in (ra, rb)
        )
        print(S.adequacy(x, y)[1])


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("sobol")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--samples", type=int, default=None)
    p.add_argument("--replications", type=int, default=None)
    p.add_argument("--independent-seeds", action="store_true", help="common_seeds = false (the old design, for comparison)")
    p.add_argument("--no-run", action="store_true", help="analyse what is on disk")
    p = sub.add_parser("compare")
    p.add_argument("a", type=Path)
    p.add_argument("b", type=Path)
    args = ap.parse_args()
    if args.cmd == "sobol":
        r = sobol(args.seed, args.out, args.samples, not args.no_run, False if args.independent_seeds else None, args.replications)
        print(json.dumps({k: v for k, v in r.items() if k not in ("payoff", "p_agree")}))
        for k in ("payoff", "p_agree"):
            print(r[k]["verdict"])
    else:
        compare(args.a, args.b)


if __name__ == "__main__":
    main()

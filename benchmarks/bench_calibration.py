"""Benchmark: the shipped calibration, timed, and the numbers the docs quote from it.

Not part of the test suite. Run from the project root (two worker processes, niced):

    nice -n 10 .venv/bin/python benchmarks/bench_calibration.py --out /tmp/cal   # resumable
    .venv/bin/python docs/update_numbers.py                                     # rewrite the quoted numbers

It runs (or resumes) ``dialogue-sim calibrate experiments/calibration.toml`` with ``--workers 2``,
samples the machine's load average every 10 s while it runs (the machine is shared, so the load
says how far the wall time is from an idle machine's), and writes the summary the docs quote to
``docs/numbers/calibration.json``: stage timings, load, acceptance, the most and least
constrained parameters, the posterior predictive checks, the case checks under the posterior and
the defaults (the Iran–US hold-out among them), and the calibrated answer beside the grid answer.
``docs/update_numbers.py`` renders the passages of docs/ODD.md §8 and docs/performance.md from
that file, and ``tests/test_docs.py`` fails when they differ from it.

``--leaning`` runs the same calibration with the unsourced defaults that favour keeping a channel
open (``Param.leans``: ODD §1) drawn from uniform priors over their spec bounds too, instead of held
at their defaults, and writes ``docs/numbers/calibration-leaning.json`` (with the calibration's
fingerprint and the model-code hash: the docs refuse a record measured on another):

    nice -n 10 .venv/bin/python benchmarks/bench_calibration.py --leaning --out /tmp/cal-leaning
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NUMBERS = ROOT / "docs" / "numbers" / "calibration.json"
LEANING = ROOT / "docs" / "numbers" / "calibration-leaning.json"


def _sampler(stop: threading.Event, out: list[float], every: float = 10.0) -> None:
    while not stop.wait(every):
        out.append(os.getloadavg()[0])


def trim(summary: dict, load: dict, wall_s: float) -> dict:
    """What the docs quote, from a calibration.json (no per-point tables)."""
    keep = (
        "experiment",
        "prior_points",
        "replications",
        "accepted",
        "acceptance_rate",
        "priors",
        "pattern_met_in_prior",
        "posterior",
        "posterior_used",
        "posterior_predictive",
        "cases_calibrated",
        "cases_uncalibrated",
        "answer",
        "timing_s",
    )
    return {k: summary[k] for k in keep if k in summary} | {
        "measured": datetime.now(UTC).strftime("%Y-%m-%d"),
        "wall_s": round(wall_s, 1),
        "load": load,
        "cpus": os.cpu_count(),
        "workers": 2,
        "nice": os.nice(0),
    }


def _by(r, t: int) -> float:
    import numpy as np

    return float(((np.asarray(r) >= 0) & (np.asarray(r) <= t)).mean())


def diagnose(out: Path, runs: int = 800, seed: int = 11) -> dict:
    """Why the Iran–US hold-out passes or fails: P(agreement by the end of the rounds holding the
    two dates) over the prior sample and the posterior; under the posterior with a finer calendar
    (4 and 12 rounds a year, the shift in the round holding the June 2013 election); and under the
    posterior with one mechanism at a time moved to its fast end (levers, not fits)."""
    import dataclasses

    import pandas as pd

    from sim.analysis.cases import IRAN_OBSERVED, IRAN_SHIFT, calendar_of, run_arm
    from sim.batch.store import read_runs
    from sim.core.params import PARAMS
    from sim.scenarios import load_scenario

    table = pd.read_csv(out / "prior_sample.csv", index_col="point")
    names = [c for c in pd.read_csv(out / "posterior.csv", nrows=0).columns if c in _design_names(out)]
    r = read_runs(out / "prior")
    r = r[(r["scenario"] == "iran-us-track-two") & (r["status"] == "ok")]
    sc0 = load_scenario("iran-us-track-two")
    cal0 = calendar_of(sc0)
    t_int, t_end = (cal0.round_of(d) for d in IRAN_OBSERVED.values())
    ar = r["agreement_round"].astype(float)
    per_point = (
        pd.DataFrame({"point": r["point"], "interim": ((ar >= 0) & (ar <= t_int)), "final": ((ar >= 0) & (ar <= t_end))})
        .groupby("point")
        .mean()
    )
    acc = table["accepted"].astype(bool)
    res: dict = {
        "prior": {"interim": float(per_point["interim"].mean()), "final": float(per_point["final"].mean())},
        "posterior_sample": {
            "interim": float(per_point.loc[acc[acc].index, "interim"].mean()),
            "final": float(per_point.loc[acc[acc].index, "final"].mean()),
        },
        "posterior_points_interim_10pct": float((per_point.loc[acc[acc].index, "interim"] >= 0.1).mean()),
    }
    cc = read_runs(out / "prior")
    cc = cc[(cc["scenario"] == "canada-china-hrd") & (cc["status"] == "ok")].groupby("point")
    res["canada_china_prior"] = {
        "max_ideas_generated": float(cc["ideas_generated"].mean().max()),
        "max_ideas_reported": float(cc["ideas_reported"].mean().max()),
        "max_peak_progress": float(cc["peak_progress"].mean().max()),
        "final_trust_q05": float(cc["final_trust"].mean().quantile(0.05)),
        "final_trust_q95": float(cc["final_trust"].mean().quantile(0.95)),
    }
    post = pd.read_csv(out / "posterior.csv")
    draws = [{k: (int(v) if PARAMS[k].integer else float(v)) for k, v in row.items()} for row in post[names].to_dict("records")]
    cal_rows = []
    for mpy in (2, 4, 12):
        cal = calendar_of(sc0, {"meetings_per_year": mpy})
        shift = cal.round_of(IRAN_SHIFT[1])
        sc = dataclasses.replace(
            sc0,
            events=[dataclasses.replace(e, round=shift) for e in sc0.events],
            rounds=cal.round_of(list(IRAN_OBSERVED.values())[1]),
            params={**sc0.params, "meetings_per_year": mpy},
        )
        ti, tf = (cal.round_of(d) for d in IRAN_OBSERVED.values())
        rr = run_arm(sc, {}, runs, seed, draws).outcomes["agreement_round"]
        cal_rows.append({"meetings_per_year": mpy, "shift_year": cal.year_of(shift), "interim": _by(rr, ti), "final": _by(rr, tf)})
    res["calendar"] = cal_rows
    levers = {
        "as calibrated": {},
        "motivation_speed = 1 (instant)": {"motivation_speed": 1.0},
        "script_relief = 1": {"script_relief": 1.0},
        "familiarity_gain = 1": {"familiarity_gain": 1.0},
        "idea_rate = 1": {"idea_rate": 1.0},
        "winset_gain = 1": {"winset_gain": 1.0},
        "reporting = 1": {"reporting": 1.0},
        "rank = 1 (Track Two preset 0.4)": {"rank": 1.0},
        "participation_shift = 1": {"participation_shift": 1.0},
        "motivation_threshold = 0.3 (default 0.6)": {"motivation_threshold": 0.3},
        "winset = 0.3 (default 0.12)": {"winset": 0.3},
        "no hollow distrust": {"hollow_distrust": 0.0},
        "no cynicism": {"cynicism_rate": 0.0},
        "Iran script 0.3 (documented 0.8)": {"Iran.script_pressure": 0.3},
    }
    res["levers"] = []
    for label, over in levers.items():
        rr = run_arm(sc0, over, runs, seed, draws).outcomes["agreement_round"]
        res["levers"].append({"lever": label, "interim": _by(rr, t_int), "final": _by(rr, t_end)})
    return res


def burton(out: Path) -> dict:
    """The Burton policy experiment (experiments/burton-reforms.toml, resumable in ``out/burton``):
    each arm's paired effect on P(agreement) against as-documented, and what the package of all
    four loses without each recommendation (all-four − all-but-X)."""
    from sim.analysis import stats
    from sim.batch.experiment import load_experiment
    from sim.batch.store import read_runs
    from sim.batch.sweep import run_sweep
    from sim.scenarios import EXPERIMENT_DIR

    exp = load_experiment(EXPERIMENT_DIR / "burton-reforms.toml")
    d = out / "burton"
    t = time.monotonic()
    run_sweep(exp, d, workers=2, resume=d.exists() and any(d.iterdir()), progress=True)
    seconds = time.monotonic() - t
    runs = read_runs(d)
    runs = runs.assign(agreed=runs["agreement"].astype(float))
    ref, full = exp.analysis["reference"], exp.analysis["treatment"]

    def eff(a: str, b: str) -> dict:
        e = stats.paired_effect(runs, "agreed", a, b, by=("scenario",)).iloc[0]
        return {"effect": float(e["mean_diff"]), "ci_low": float(e["ci_low"]), "ci_high": float(e["ci_high"])}

    arms = [a.name for a in exp.arms if a.name != ref]
    return {
        "pairs_per_arm": exp.replications,
        "seconds": round(seconds, 1),
        "p_reference": float(runs[runs["arm"] == ref]["agreed"].mean()),
        "alone": {a: eff(a, ref) for a in arms},
        "package_without": {a.removeprefix("all-but-"): eff(full, a) for a in arms if a.startswith("all-but-")},
    }


def leaning_calibration():
    """experiments/calibration.toml with every ``Param.leans`` parameter it holds at its default
    given a uniform prior over the spec's bounds (name ``calibration-leaning``)."""
    import tomllib

    from sim.batch.calibrate import calibration_from_dict
    from sim.core.params import PARAMS
    from sim.scenarios import EXPERIMENT_DIR

    path = EXPERIMENT_DIR / "calibration.toml"
    d = tomllib.loads(path.read_text())
    added = {p.name: [p.low, p.high] for p in PARAMS.values() if p.leans and p.name not in d["design"]["params"]}
    d["design"]["params"] |= added
    d["name"] = "calibration-leaning"
    return calibration_from_dict(d, str(path)), sorted(added)


def leaning(out: Path, numbers: Path = LEANING) -> dict:
    """Run (or resume) :func:`leaning_calibration` into ``out``; write what the docs quote."""
    from sim.analysis.calibration import run_calibration
    from sim.core.params import PARAMS
    from sim.version import model_code

    cal, added = leaning_calibration()
    t0 = time.monotonic()
    summary = run_calibration(cal, out, workers=2, resume=out.exists() and any(out.iterdir()))
    keep = ("prior_points", "replications", "accepted", "acceptance_rate", "priors", "posterior", "cases_calibrated", "answer")
    rec = {k: summary[k] for k in keep} | {
        "added": added,
        "defaults": {n: PARAMS[n].default for n in added},  # where the shipped calibration holds them
        "fingerprint": cal.experiment.fingerprint(),
        "model_code": model_code(),
        "measured": datetime.now(UTC).strftime("%Y-%m-%d"),
        "wall_s": round(time.monotonic() - t0, 1),
    }
    numbers.parent.mkdir(parents=True, exist_ok=True)
    tmp = numbers.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(rec, indent=1, default=float) + "\n")
    tmp.replace(numbers)
    print(f"→ {numbers} (then: .venv/bin/python docs/update_numbers.py)")
    return rec


def _design_names(out: Path) -> list[str]:
    return list(json.loads((out / "calibration.json").read_text())["priors"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="calibration folder (resumed if it exists)")
    ap.add_argument("--numbers", type=Path, default=NUMBERS, help="where to write the quoted numbers")
    ap.add_argument(
        "--extras-only",
        action="store_true",
        help="keep the recorded calibration and its timing; redo only the hold-out diagnosis and the Burton experiment",
    )
    ap.add_argument("--leaning", action="store_true", help="the calibration with the defaults that lean toward keep-open given priors too")
    a = ap.parse_args()
    if a.leaning:
        leaning(a.out)
        return
    if a.extras_only:
        numbers = json.loads(a.numbers.read_text())
        numbers["holdout_diagnosis"] = diagnose(a.out) | {"seconds": numbers["holdout_diagnosis"]["seconds"]}
        numbers["burton_reforms"] = burton(a.out)
        a.numbers.write_text(json.dumps(numbers, indent=1, default=float) + "\n")
        return
    from sim.analysis.calibration import run_calibration
    from sim.batch.calibrate import load_calibration
    from sim.scenarios import EXPERIMENT_DIR

    cal = load_calibration(EXPERIMENT_DIR / "calibration.toml")
    samples: list[float] = [os.getloadavg()[0]]
    stop = threading.Event()
    th = threading.Thread(target=_sampler, args=(stop, samples), daemon=True)
    th.start()
    t0 = time.monotonic()
    try:
        summary = run_calibration(cal, a.out, workers=2, resume=a.out.exists() and any(a.out.iterdir()))
    finally:
        stop.set()
        th.join()
    wall = time.monotonic() - t0
    samples.append(os.getloadavg()[0])
    s = sorted(samples)
    load = {"min": s[0], "median": s[len(s) // 2], "max": s[-1], "samples": len(s)}
    numbers = trim(summary, load, wall)
    t = time.monotonic()
    numbers["holdout_diagnosis"] = diagnose(a.out)
    numbers["holdout_diagnosis"]["seconds"] = round(time.monotonic() - t, 1)
    numbers["burton_reforms"] = burton(a.out)
    a.numbers.parent.mkdir(parents=True, exist_ok=True)
    tmp = a.numbers.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(numbers, indent=1, default=float) + "\n")
    tmp.replace(a.numbers)
    print(f"wall {wall:.0f} s, 1-minute load median {load['median']:.1f} (min {load['min']:.1f}, max {load['max']:.1f}) → {a.numbers}")


if __name__ == "__main__":
    main()

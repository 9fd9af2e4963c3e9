"""Pattern-oriented calibration by rejection ABC (approximate Bayesian computation).

1. Prior sample: the calibration file's Latin-hypercube design over independent uniform priors,
   run through the sweep engine (``OUT/prior``, resumable).
2. Each design point gets one summary per pattern (the statistic averaged over its
   replications). A point is accepted when every summary lies in its pattern's interval
   (rejection ABC with an indicator kernel, tolerance 0 on the pattern intervals; Grimm et al.
   2005, pattern-oriented modelling; Beaumont 2010, ABC). Rejection on a space-filling prior
   sample needs no tuning and no library; the acceptance rate is reported.
3. Posterior predictive runs with fresh seeds (``OUT/ppc``): the share of accepted sets whose
   new runs meet each pattern (a check of the fit, not validation).
4. Hold-out: the case checks (:mod:`sim.analysis.cases`) under the posterior, including the
   Iran–US agreement timings that no pattern uses.
5. The calibrated answer: the headline experiment's paired estimand (treatment − reference,
   P(agreement within w rounds of the shift)) over the posterior (``OUT/answer``), beside the
   uncalibrated grid answer (``OUT/grid``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis import stats
from sim.batch.calibrate import NEEDS, Calibration, Pattern, answer_experiments, leadership_change, ppc_experiment, window_rounds
from sim.batch.store import read_runs, read_timeseries
from sim.batch.sweep import run_sweep
from sim.core.outputs import atomic_write
from sim.core.params import PARAMS
from sim.scenarios import InputError, load_scenario

# ---------------------------------------------------------------- statistics per design point


def _shift(scenario: str) -> int | None:
    return leadership_change(load_scenario(scenario))


def point_statistics(
    runs: pd.DataFrame, ts: pd.DataFrame, patterns: list[Pattern], window: int, shifts: Mapping[str, int | None] | None = None
) -> pd.DataFrame:
    """One row per design point, one column per pattern: its statistic, mean over replications.
    ``shifts``: each scenario entry's first leadership change (:attr:`Calibration.shifts`, from
    the scenarios the sweep ran); a scenario not in it is loaded by name."""
    ok = runs[runs["status"] == "ok"].sort_values("run_id")
    out = {}
    for p in patterns:
        r = ok[ok["scenario"] == p.scenario]
        st = p.statistic
        if st in ("agreement", "peak_progress", "ideas_reported"):
            per_run = r[st].astype(float).to_numpy()
        else:
            t = ts[ts["run_id"].isin(r["run_id"])].sort_values(["run_id", "round"])
            rounds = np.sort(t["round"].unique())
            v = t[NEEDS[st]].to_numpy(float).reshape(len(r), len(rounds))  # (runs, rounds): every run keeps the same rounds
            if st == "trust_change":
                per_run = v[:, -1] - v[:, 0]
            else:
                shift = shifts[p.scenario] if shifts is not None and p.scenario in shifts else _shift(p.scenario)
                if shift is None:  # refused by load_calibration; reached only by a Pattern built directly
                    raise InputError("calibration", f"pattern {p.name}", p.scenario, "needs a scenario with a leadership change")
                before, after = window_rounds(rounds, shift, window)
                if st == "idea_rate_rise":  # reported ideas are cumulative: the rate is the increase per round
                    b, a = np.flatnonzero(before), np.flatnonzero(after)
                    if min(len(b), len(a)) < 2:  # refused by load_calibration (output.every, calibration.window)
                        raise ValueError(f"{p.name}: {st} needs two kept rounds before and after round {shift}")
                    rate_b = (v[:, b[-1]] - v[:, b[0]]) / (rounds[b[-1]] - rounds[b[0]])
                    rate_a = (v[:, a[-1]] - v[:, a[0]]) / (rounds[a[-1]] - rounds[a[0]])
                    per_run = rate_a - rate_b
                else:
                    if not (before.any() and after.any()):  # refused by load_calibration (output.every)
                        raise ValueError(f"{p.name}: {st} needs a kept round before and after round {shift}")
                    per_run = v[:, after].mean(axis=1) - v[:, before].mean(axis=1)
        out[p.name] = pd.Series(per_run, index=r["point"].to_numpy()).groupby(level=0).mean()
    return pd.DataFrame(out).sort_index()


def accept(statistics: pd.DataFrame, patterns: list[Pattern]) -> tuple[np.ndarray, np.ndarray]:
    """(accepted, distance): distance is the summed shortfall outside each pattern's interval,
    scaled by the statistic's prior spread; accepted where it is 0 (every pattern met)."""
    dist = np.zeros(len(statistics))
    for p in patterns:
        x = statistics[p.name].to_numpy(float)
        scale = np.nanstd(x) or 1.0
        dist += np.nan_to_num(p.shortfall(x) / scale, nan=np.inf)
    return dist == 0, dist


# ---------------------------------------------------------------- running


def run_calibration(
    cal: Calibration,
    out: str | Path,
    workers: int | None = None,
    resume: bool = False,
    progress: bool = True,
    scheduler: str | None = None,
    case_runs: int | None = None,
    answer: bool = True,
    on_chunk=None,
    figures: bool = True,
) -> dict[str, Any]:
    """Run (or resume) a calibration into ``out``; return its summary (also ``out/calibration.json``)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not resume:
        raise InputError("--out", "out", str(out), "exists; use --resume to continue it, or another --out")
    if resume and out.exists() and any(out.iterdir()) and not (out / "prior" / "manifest.json").exists():
        raise InputError("--out", "out", str(out), "is not a calibration folder (no prior/manifest.json)")
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    exp = cal.experiment
    timing: dict[str, float] = {}

    def sweep(name: str, e) -> Path:
        t = time.monotonic()
        d = out / name
        again = d.exists() and any(d.iterdir())
        run_sweep(e, d, workers=workers, scheduler=scheduler, resume=again, progress=progress, on_chunk=on_chunk)
        timing[name] = round(time.monotonic() - t, 2)
        return d

    prior_dir = sweep("prior", exp)
    runs = read_runs(prior_dir)
    ts = read_timeseries(prior_dir)
    st = point_statistics(runs, ts, cal.patterns, cal.window, cal.shifts)
    ok, dist = accept(st, cal.patterns)
    names = exp.design_names
    theta = pd.DataFrame(exp.points, columns=names)
    table = pd.concat([theta, st.reset_index(drop=True)], axis=1)
    table["distance"] = dist
    table["accepted"] = ok
    table.to_csv(out / "prior_sample.csv", index_label="point")
    post = table[table["accepted"]]
    post.to_csv(out / "posterior.csv", index_label="point")
    written = ["calibration.json", "prior_sample.csv", "posterior.csv"]
    summary: dict[str, Any] = {
        "experiment": exp.name,
        "prior_points": len(table),
        "replications": exp.replications,
        "accepted": int(ok.sum()),
        "acceptance_rate": float(ok.mean()),
        "priors": {
            n: {"distribution": "uniform", "low": float(exp.design_params[n][0]), "high": float(exp.design_params[n][1])} for n in names
        },
        "patterns": [p.__dict__ for p in cal.patterns],
        "pattern_met_in_prior": {p.name: float((p.shortfall(st[p.name].to_numpy(float)) == 0).mean()) for p in cal.patterns},
    }
    if ok.sum() == 0:  # no posterior, so no posterior runs; the report says so, beside how often each pattern was met
        summary["note"] = "no prior point met every pattern: no posterior; widen the priors or sample more points"
        summary["written"] = written
        summary["timing_s"] = timing | {"total": round(time.monotonic() - t0, 2)}
        _write_json(out / "calibration.json", summary)
        if figures:
            _figures_and_report(out, summary, table, None, cal)
        return summary
    rows = [{n: float(v) for n, v in r.items()} for r in post[names].head(cal.max_posterior).to_dict("records")]
    summary["posterior"] = {
        n: {
            "mean": float(post[n].mean()),
            "sd": float(post[n].std(ddof=1)) if len(post) > 1 else 0.0,
            "q05": float(post[n].quantile(0.05)),
            "q95": float(post[n].quantile(0.95)),
        }
        for n in names
    }
    summary["posterior_used"] = len(rows)
    # posterior predictive check, fresh seeds
    ppc = ppc_experiment(cal, rows)
    ppc_dir = sweep("ppc", ppc)
    st_ppc = point_statistics(read_runs(ppc_dir), read_timeseries(ppc_dir), cal.patterns, cal.window, cal.shifts)
    summary["posterior_predictive"] = {
        p.name: {
            "met_share": float((p.shortfall(st_ppc[p.name].to_numpy(float)) == 0).mean()),
            "mean": float(st_ppc[p.name].mean()),
            "q10": float(st_ppc[p.name].quantile(0.1)),
            "q90": float(st_ppc[p.name].quantile(0.9)),
            "target": [p.low, p.high],
        }
        for p in cal.patterns
    }
    st_ppc.to_csv(out / "ppc_statistics.csv", index_label="point")
    written.append("ppc_statistics.csv")
    # hold-out and the other case checks, under the posterior and under the defaults
    case_runs = cal.case_runs if case_runs is None else case_runs
    if case_runs:
        from sim.analysis.cases import run_cases

        t = time.monotonic()
        summary["cases_calibrated"] = [_case_row(c) for c in run_cases(case_runs, seed=exp.seed, draws=rows)]
        summary["cases_uncalibrated"] = [_case_row(c) for c in run_cases(case_runs, seed=exp.seed)]
        timing["cases"] = round(time.monotonic() - t, 2)
    if answer and cal.answer:
        summary["answer"] = _answers(cal, rows, sweep)
    timing["total"] = round(time.monotonic() - t0, 2)
    summary["timing_s"] = timing
    summary["written"] = written
    _write_json(out / "calibration.json", summary)
    if figures:
        _figures_and_report(out, summary, table, st_ppc, cal)
    return summary


def _figures_and_report(out: Path, summary: dict[str, Any], table: pd.DataFrame, st_ppc: pd.DataFrame | None, cal: Calibration) -> None:
    """The figures and report.html; ``summary["written"]`` (also in calibration.json) then lists
    every file and folder the calibration wrote, for the command's closing message."""
    from sim.analysis.calibration_figures import write_figures

    summary["figures"] = [str(p.relative_to(out)) for p in write_figures(out, table, st_ppc, cal)]
    write_report(out, summary)
    summary["written"] = [*summary["written"], "report.html", "figures/"]
    _write_json(out / "calibration.json", summary)


def _case_row(c) -> dict[str, Any]:
    return {"case": c.case.name, "kind": c.case.kind, "reproduced": c.reproduced, "evidence": c.evidence, "runs": c.runs}


def _answers(cal: Calibration, rows: list[dict[str, float]], sweep) -> dict[str, Any]:
    """The headline estimand over the posterior and over the headline experiment's own grid."""
    head = cal.answer_experiment()
    assert head is not None
    a = head.analysis
    main, treat, ref = a.get("main", head.scenarios[0]), str(a.get("treatment")), str(a.get("reference"))
    fair = a.get("fair_restart")  # the restart without its costs: fair − reference is imposed by construction
    shift, windows = a.get("shift_round", 0), sorted(set(a.get("windows", [])) | {a.get("window", 10)})
    calibrated, grid = answer_experiments(cal, rows)
    res = {
        "experiment": head.name,
        "scenario": main,
        "treatment": treat,
        "reference": ref,
        "fair_restart": fair,
        "shift_round": shift,
        "window": a.get("window", 10),
    }
    for label, e in (("calibrated", calibrated), ("grid", grid)):
        runs = read_runs(sweep("answer" if label == "calibrated" else "grid", e))
        ar = runs["agreement_round"].astype(float)
        rows_w = []
        for w in windows:
            r = runs.copy()
            r["in_window"] = ((ar >= shift) & (ar < shift + w)).astype(float)

            def paired(x: str, y: str, r: pd.DataFrame = r) -> tuple[float, float, float, int]:
                p = stats.paired_effect(r, "in_window", x, y, by=("scenario",)).iloc[0]
                return float(p["mean_diff"]), float(p["ci_low"]), float(p["ci_high"]), int(p["n_pairs"])

            m, lo, hi, n = paired(treat, ref)
            row: dict[str, Any] = {
                "window": w,
                "p_treatment": float(r[r["arm"] == treat]["in_window"].mean()),
                "p_reference": float(r[r["arm"] == ref]["in_window"].mean()),
                "effect": m,
                "ci_low": lo,
                "ci_high": hi,
                "pairs": n,
            }
            if fair:  # the split of the effect: imposed by construction, and what remains without it
                row["p_fair"] = float(r[r["arm"] == fair]["in_window"].mean())
                for key, (x, y) in (("construction", (fair, ref)), ("net", (treat, fair))):
                    m, lo, hi, _ = paired(x, y)
                    row |= {key: m, f"{key}_ci_low": lo, f"{key}_ci_high": hi}
            rows_w.append(row)
        res[label] = rows_w
    return res


def _write_json(path: Path, obj: dict) -> None:
    atomic_write(path, json.dumps(obj, indent=2, default=float).encode())


# ---------------------------------------------------------------- report


def summary_lines(s: dict[str, Any]) -> list[str]:
    """Plain-language findings built from the numbers of a calibration summary."""
    out = [
        f"Rejection ABC: {s['accepted']} of {s['prior_points']} prior points ({s['acceptance_rate']:.1%}) met every pattern "
        f"({s['replications']} replications per point)."
    ]
    if not s["accepted"]:
        return out + [s.get("note", "")]
    idle = [k for k, v in s["pattern_met_in_prior"].items() if v >= 0.999]
    if idle:
        out.append(
            f"Met by every prior point, so carrying no information about the parameters: {', '.join(idle)} "
            "(they follow from the scenario or a rule whatever the calibrated values)."
        )
    upd = []
    for n, pr in s["priors"].items():
        po = s["posterior"][n]
        sd0 = prior_sd(n, pr["low"], pr["high"])  # the discrete uniform's for whole-number parameters
        upd.append((po["sd"] / sd0 if sd0 else 1.0, n, po))
    upd.sort()
    out.append(
        "Most constrained by the patterns (posterior sd / prior sd): "
        + "; ".join(f"{n} {r:.2f} (posterior 90% [{po['q05']:.3g}, {po['q95']:.3g}])" for r, n, po in upd[:4])
        + ". Least: "
        + "; ".join(f"{n} {r:.2f}" for r, n, _ in upd[-3:])
        + "."
    )
    bad = [k for k, v in s["posterior_predictive"].items() if v["met_share"] < 0.5]
    out.append(
        "Posterior predictive checks (fresh seeds; not validation): "
        + "; ".join(f"{k} met by {v['met_share']:.0%} of accepted sets" for k, v in s["posterior_predictive"].items())
        + ("." if not bad else f". Poorly reproduced: {', '.join(bad)}.")
    )
    for c in s.get("cases_calibrated", []):
        if c["kind"] == "validation":
            out.append(f"Validation under the posterior — {c['case']}: {'passed' if c['reproduced'] else 'FAILED'}. {c['evidence']}.")
    a = s.get("answer")
    if a:
        w = next(r for r in a["calibrated"] if r["window"] == a["window"])
        g = next(r for r in a["grid"] if r["window"] == w["window"])
        out.append(
            f"The calibrated answer ({a['scenario']}, {a['treatment']} − {a['reference']}, P(agreement within {w['window']} "
            f"rounds of the shift)): {w['effect']:+.3f} [{w['ci_low']:+.3f}, {w['ci_high']:+.3f}] over the posterior, against "
            f"{g['effect']:+.3f} [{g['ci_low']:+.3f}, {g['ci_high']:+.3f}] over the uncalibrated grid of {a['experiment']}."
            + answer_split(a, w, g)
        )
    return out


def answer_split(a: dict[str, Any], cal: dict[str, Any], grid: dict[str, Any]) -> str:
    """The calibrated and grid answers split at the fair-restart arm: fair − reference is the
    restart penalty imposed by construction (set-up delay, fresh personnel), treatment − fair what
    remains of the effect without it ("" when the headline experiment names no such arm)."""
    if not a.get("fair_restart") or "construction" not in cal:
        return ""

    def part(r: dict[str, Any], k: str) -> str:
        return f"{r[k]:+.3f} [{r[f'{k}_ci_low']:+.3f}, {r[f'{k}_ci_high']:+.3f}]"

    fair, ref, treat = a["fair_restart"], a["reference"], a["treatment"]
    return (
        f" Of it, {fair} − {ref} (the restart penalty imposed by construction) is {part(cal, 'construction')} over the "
        f"posterior and {part(grid, 'construction')} over the grid; {treat} − {fair} (the effect without it) is "
        f"{part(cal, 'net')} and {part(grid, 'net')}."
    )


def write_report(out: Path, s: dict[str, Any]) -> Path:
    import base64
    import html

    def img(p: str) -> str:
        b64 = base64.b64encode((out / p).read_bytes()).decode()
        return f'<figure><img alt="{html.escape(Path(p).stem)}" src="data:image/png;base64,{b64}"/></figure>'

    def table(df: pd.DataFrame) -> str:
        return df.to_html(index=False, float_format=lambda v: f"{v:.3g}", border=0)

    posterior, ppc = s.get("posterior", {}), s.get("posterior_predictive", {})  # none when no prior point was accepted
    post = pd.DataFrame(
        [{"parameter": n, "prior": f"U[{p['low']:g}, {p['high']:g}]", **posterior.get(n, {})} for n, p in s["priors"].items()]
    )
    pats = pd.DataFrame(
        [
            {
                "pattern": p["name"],
                "scenario": p["scenario"],
                "statistic": p["statistic"],
                "target": f"[{p['low']:g}, {p['high']:g}]",
                "source": p["source"],
                "met in prior": s["pattern_met_in_prior"][p["name"]],
            }
            | ({"met in posterior predictive": ppc[p["name"]]["met_share"]} if ppc else {})
            for p in s["patterns"]
        ]
    )
    note = s.get("note", "no prior point met every pattern: no posterior")
    none = "" if posterior else f"<p><strong>{html.escape(note[:1].upper() + note[1:])}.</strong></p>"
    cases = pd.DataFrame(s.get("cases_calibrated", []))
    ans = ""
    if s.get("answer"):
        a = s["answer"]
        ans = "".join(f"<h3>{k}</h3>" + table(pd.DataFrame(a[k])) for k in ("calibrated", "grid"))
    figs = [f for f in s.get("figures", []) if f.endswith(".png")]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Calibration</title><style>body{font-family:sans-serif;"
        "max-width:1150px;margin:2em auto}table{border-collapse:collapse;font-size:13px}td,th{padding:3px 8px;"
        "border-bottom:1px solid #ddd}img{max-width:100%}</style></head><body>",
        f"<h1>Calibration: {html.escape(s['experiment'])}</h1>",
        "<section id='summary'><h2>Summary</h2><ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in summary_lines(s)) + "</ul></section>",
        "<section id='patterns'><h2>Patterns</h2>" + table(pats) + "</section>",
        "<section id='posterior'><h2>Priors and posterior</h2>"
        + none
        + table(post)
        + "".join(img(f) for f in figs if "posterior" in f)
        + "</section>",
        "<section id='ppc'><h2>Posterior predictive checks</h2>"
        + ("" if ppc else "<p>None: no posterior to run (the figure shows the prior sample against each pattern's target).</p>")
        + "".join(img(f) for f in figs if "ppc" in f)
        + "</section>",
        "<section id='validation'><h2>Case checks under the posterior (Iran–US timings: hold-out)</h2>"
        + (table(cases) if len(cases) else "" if posterior else "<p>None: no posterior.</p>")
        + "</section>",
        "<section id='answer'><h2>The calibrated answer beside the grid answer</h2>"
        + (ans or ("" if posterior else "<p>None: no posterior.</p>"))
        + "</section>",
        f"<section id='timing'><h2>Timing</h2><pre>{html.escape(json.dumps(s.get('timing_s', {}), indent=2))}</pre></section>",
        "</body></html>",
    ]
    path = out / "report.html"
    atomic_write(path, "\n".join(parts).encode())
    return path


def prior_sd(name: str, low: float, high: float) -> float:
    """Standard deviation of a uniform prior (whole-number parameters: the discrete uniform)."""
    if PARAMS[name.rpartition(".")[2]].integer:
        n = high - low + 1
        return float(np.sqrt((n * n - 1) / 12))
    return float((high - low) / np.sqrt(12))

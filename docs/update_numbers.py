"""Write the numbers the guides quote from the code and the experiment files, so they cannot go stale.

Each generated passage sits between ``<!-- numbers:NAME -->`` and ``<!-- /numbers -->`` in
docs/students-guide.md, README.md, docs/ODD.md or docs/performance.md. The validation numbers
(calibration, case checks, the Iran–US hold-out) are rendered from docs/numbers/calibration.json,
which ``benchmarks/bench_calibration.py`` writes from a measured run (minutes, so not in the test
suite). Run from the project root after changing an experiment, a scenario or the model:

    .venv/bin/python docs/update_numbers.py          # rewrite the passages
    .venv/bin/python docs/update_numbers.py --check  # exit 1 if any passage is out of date

tests/test_docs.py runs the check, so a change that alters a quoted number fails the suite until
the docs are regenerated.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"(<!-- numbers:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /numbers -->)", re.S)


def headline(path: Path = ROOT / "experiments" / "lean-years.toml") -> str:
    """The size of the headline experiment and of its --full version, from the file."""
    from sim.batch.experiment import load_experiment

    e, f = load_experiment(path), load_experiment(path, full=True)
    return (
        f"Alternatively, `./dev main` sets up *and* runs the project's headline experiment\n"
        f"(`experiments/lean-years.toml`: {len(e.scenarios)} scenarios × {len(e.points):,} parameter combinations × "
        f"{len(e.arms)} arms × {e.replications}\n"
        f"replications = {e.n_runs:,} runs, sweeping {', '.join(e.design_params)}), writes its results\n"
        "to `results/lean-years/` (deleting an older\n"
        "copy of that folder first) and its report to `results/lean-years/report.html` (how long the sweep\n"
        "takes on two cores is measured in [performance.md](performance.md); the report with its case studies\n"
        f"takes longer). `./dev main --full` does the same with {f.replications} replications ({f.n_runs:,} runs), into\n"
        "`results/lean-years-full/`. You do not need it for this guide.\n"
    )


def readme_headline(path: Path = ROOT / "experiments" / "lean-years.toml") -> str:
    from sim.batch.experiment import load_experiment

    e = load_experiment(path)
    return (
        f"`./dev main` sweeps [`experiments/lean-years.toml`](experiments/lean-years.toml) ({e.n_runs:,}\n"
        f"runs: {len(e.scenarios)} scenarios × {len(e.points):,} parameter combinations × {len(e.arms)} arms × "
        f"{e.replications} replications)\n"
    )


def compare_example(seed: int = 3, change: str = "0.4") -> str:
    """What `dialogue-sim compare leadership-change --set-b turnover=0.4 --seed 3` shows."""
    import numpy as np

    from sim.analysis.compare import compare
    from sim.scenarios import find_scenario, load_scenario, resolve

    sc = load_scenario(find_scenario("leadership-change"))
    a, b = resolve(sc, {}), resolve(sc, {"turnover": change})
    comp = compare(a, b, [seed])
    shift = next(e.round for e in a.events if e.kind.value == "leadership_change")
    before = int(np.searchsorted(comp.rounds, shift)) - 1

    def story(out: dict, arr: dict) -> str:
        r = int(out["agreement_round"][0])
        ends = f"reaches agreement at round {r}" if r >= 0 else f"there is no agreement by round {int(comp.rounds[-1])}"
        return f"builds trust to {arr['trust'][0, before]:.2f} by round {int(comp.rounds[before])} and {ends}"

    turnover = sorted(set(a.side["turnover"]))
    lead = f"the scenario's turnover of {'/'.join(f'{t:g}' for t in turnover)}"
    return f"With seed {seed}, {lead} {story(comp.outcomes_a, comp.a)}; with turnover {change} the run {story(comp.outcomes_b, comp.b)}.\n"


# ---------------------------------------------------------------- validation numbers (measured run)

CALIBRATION = ROOT / "docs" / "numbers" / "calibration.json"


def _cal(path: Path | None = None) -> dict:
    import json

    return json.loads((path or CALIBRATION).read_text())


def _case(rows: list[dict], name: str) -> dict:
    return next(r for r in rows if r["case"].startswith(name))


def _evidence(row: dict) -> str:
    return row["evidence"].split("] ", 1)[1]


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%" if x >= 0.01 or x == 0 else f"{100 * x:.1f}%"


def calibration_cases(path: Path | None = None) -> str:
    """The validation case checks, as the checks print them, under the posterior and the defaults."""
    s = _cal(path)
    out = [f"Measured {s['measured']} (`benchmarks/bench_calibration.py`; {s['posterior_used']} posterior draws):\n"]
    for name, label in (("Burton", "Burton's facts vs his recommendations"), ("Iran", "Iran–US timings (hold-out)")):
        for key, where in (("cases_calibrated", "under the calibrated posterior"), ("cases_uncalibrated", "at the defaults")):
            row = _case(s[key], name)
            verdict = "passes" if row["reproduced"] else "**FAILS**"
            out.append(f"- {label}, {where} ({row['runs']} runs per arm): {verdict} — {_evidence(row)}.\n")
    return "".join(out)


def calibration_result(path: Path | None = None) -> str:
    """Acceptance, what the patterns carry, the posterior, the predictive checks, the answer."""

    from sim.analysis.calibration import answer_split, prior_sd

    s = _cal(path)
    idle = [k for k, v in s["pattern_met_in_prior"].items() if v >= 0.999]
    met = "; ".join(f"{k} {_pct(v)}" for k, v in s["pattern_met_in_prior"].items())
    upd = []
    for n, pr in s["priors"].items():
        po = s["posterior"][n]
        sd = prior_sd(n, pr["low"], pr["high"])
        upd.append((po["sd"] / sd if sd else 1.0, n, po))
    upd.sort()
    most = "; ".join(f"`{n}` {r:.2f} (90% [{po['q05']:.2g}, {po['q95']:.2g}])" for r, n, po in upd[:5])
    least = ", ".join(f"`{n}` {r:.2f}" for r, n, _ in upd[-5:])
    ppc = "; ".join(f"{k} {_pct(v['met_share'])}" for k, v in s["posterior_predictive"].items())
    a = s["answer"]
    cal = {r["window"]: r for r in a["calibrated"]}
    grid = {r["window"]: r for r in a["grid"]}
    w = a["window"]

    def eff(r: dict) -> str:
        return f"{r['effect']:+.3f} [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]"

    ws = sorted(cal)
    cc = s["holdout_diagnosis"]["canada_china_prior"]
    return (
        f"Result (measured {s['measured']}): {s['accepted']} of {s['prior_points']:,} prior points accepted "
        f"({s['acceptance_rate']:.1%}; {s['replications']} replications per point and scenario). Share of prior points "
        f"meeting each pattern: {met}. **The {len(idle)} Canada–China patterns are met by every prior point**, so "
        "they carry no information about the calibrated parameters (lean leaderships cannot progress, by the "
        "agreement rule; trust falls under the documented turnover and scripts whatever the mechanism values); the "
        f"posterior is shaped by the Iran–US patterns. Most constrained (posterior sd / prior sd): {most}. Least: "
        f"{least}. Posterior predictive checks (fresh seeds; the share of accepted sets whose new runs meet each "
        f"pattern): {ppc}. Over the prior sample, Canada–China never produces anything a pattern about its output "
        f"could use: at most {cc['max_ideas_generated']:.2f} ideas generated and {cc['max_ideas_reported']:.2f} reported "
        f"per run (mean over a point's replications), peak progress at most {cc['max_peak_progress']:.2f}; final trust "
        f"ends in [{cc['final_trust_q05']:+.2f}, {cc['final_trust_q95']:+.2f}] at 90% of points, below its start "
        "everywhere; a pattern on its level would need a number the sources do not give. "
        f"*The calibrated answer* ({a['scenario']}, {a['treatment']} − {a['reference']}, "
        f"P(agreement within {w} rounds of the shift)): {eff(cal[w])} over the posterior against {eff(grid[w])} over "
        f"the uncalibrated grid of `{a['experiment']}`; over windows {'/'.join(str(x) for x in ws)} rounds: "
        f"{'/'.join(f'{cal[x]["effect"]:+.2f}' for x in ws)} (posterior) and "
        f"{'/'.join(f'{grid[x]["effect"]:+.2f}' for x in ws)} (grid)." + answer_split(a, cal[w], grid[w]) + "\n"
    )


def holdout_diagnosis(path: Path | None = None) -> str:
    """Why the Iran–US hold-out fails (or passes): where the probability of an early agreement is."""
    d = _cal(path)["holdout_diagnosis"]
    cal = "; ".join(
        f"{c['meetings_per_year']} a year (shift at {c['shift_year']:.2f}) {_pct(c['interim'])} / {_pct(c['final'])}" for c in d["calendar"]
    )
    lev = "; ".join(f"{x['lever']} {_pct(x['interim'])} / {_pct(x['final'])}" for x in d["levers"])
    return (
        "P(agreement by the end of the round holding the interim deal / the comprehensive agreement): over the prior "
        f"sample {_pct(d['prior']['interim'])} / {_pct(d['prior']['final'])}, over the accepted points "
        f"{_pct(d['posterior_sample']['interim'])} / {_pct(d['posterior_sample']['final'])} (the calibration moves the "
        f"prediction towards the observed dates; {_pct(d['posterior_points_interim_10pct'])} of accepted points give "
        f"the interim deal's round 10% or more on their own). With a finer calendar, under the posterior: {cal}. "
        f"One mechanism at a time at its fast end, under the posterior (levers, not fits): {lev}.\n"
    )


def burton_ranking(path: Path | None = None) -> str:
    """The Burton policy experiment: each recommendation alone, and what the package loses without it."""
    b = _cal(path)["burton_reforms"]

    def eff(e: dict) -> str:
        return f"{e['effect']:+.3f} [{e['ci_low']:+.3f}, {e['ci_high']:+.3f}]"

    alone = {k: v for k, v in b["alone"].items() if not k.startswith("all-")}
    best = max(alone, key=lambda k: alone[k]["effect"])
    without = sorted(b["package_without"].items(), key=lambda kv: -kv[1]["effect"])
    helps = [k for k, v in alone.items() if v["ci_low"] > 0]
    four = b["alone"]["all-four"]
    summed = sum(v["ci_high"] for v in alone.values())  # the most the four could do alone, added up
    lead = (
        (
            "No recommendation alone changes P(agreement) detectably"
            if not helps
            else f"Alone, {' and '.join(helps)} {'changes' if len(helps) == 1 else 'change'} "
            f"P(agreement) detectably, by {'' if len(helps) == 1 else 'at most '}"
            f"{max(alone[k]['effect'] for k in helps):+.3f}"
        )
        + f"; all four together {eff(four)}"
        + (
            f", more than the upper ends of their effects alone added up ({summed:+.3f}): the facts are complements (a "
            "gatekeeping MFA blocks what translation or continuity would carry upward; scripts leave follow-up nothing to "
            "follow up), so each recommendation matters mostly with the others. "
            if four["ci_low"] > summed
            else ", no more than their effects alone added up. "
        )
    )
    return lead + (
        f"Measured {_cal(path)['measured']}, {b['pairs_per_arm']:,} pairs per arm (P(agreement) as documented "
        f"{_pct(b['p_reference'])}): each recommendation alone, against as documented: "
        + "; ".join(f"{k} {eff(v)}" for k, v in alone.items())
        + f" (largest: {best}); all four {eff(b['alone']['all-four'])}. What the package loses without each "
        "(all four − all but X): " + "; ".join(f"{k} {eff(v)}" for k, v in without) + ".\n"
    )


def calibration_timing(path: Path | None = None) -> str:
    """The measured calibration: stage timings, wall time and the load it ran under."""
    s = _cal(path)
    t = s["timing_s"]
    rows = [
        ("prior sample", f"{s['prior_points']:,} points × {s['replications']} replications × 2 scenarios"),
        ("ppc", f"{s['posterior_used']} accepted sets, posterior predictive"),
        ("cases", "case checks under the posterior and the defaults"),
        ("answer", "the calibrated answer over the posterior"),
        ("grid", "the uncalibrated grid answer"),
    ]
    keys = ["prior", "ppc", "cases", "answer", "grid"]
    body = "".join(f"| {label} ({what}) | {t[k]:.0f} |\n" for (label, what), k in zip(rows, keys, strict=True) if k in t)
    ld = s["load"]
    return (
        f"Measured {s['measured']}, `nice -n {s['nice']}`, {s['workers']} workers on {s['cpus']} cores, "
        f"{'with nothing else running' if ld['median'] < 2 else 'while the machine was shared'} "
        f"(1-minute load average during the run: median {ld['median']:.1f}, min {ld['min']:.1f}, "
        f"max {ld['max']:.1f}):\n\n| stage | seconds |\n|---|---:|\n{body}| **total (wall {s['wall_s'] / 60:.1f} min)** | "
        f"**{t['total']:.0f}** |\n\nThe hold-out diagnosis the benchmark adds (not part of `calibrate`) took "
        f"{s['holdout_diagnosis']['seconds']:.0f} s.\n"
    )


def holdout_limitation(path: Path | None = None) -> str:
    s = _cal(path)
    row = _case(s["cases_calibrated"], "Iran")
    d = s["holdout_diagnosis"]["posterior_sample"]
    verdict = "passes" if row["reproduced"] else "fails"
    return (
        f"- **The Iran–US hold-out {verdict}** under the calibrated posterior (measured {s['measured']}): "
        f"the model puts {_pct(d['interim'])} of its probability on an agreement by the end of 2013 (the interim deal "
        f"was signed on 24 Nov 2013) and {_pct(d['final'])} by the end of 2015; see docs/ODD.md §8 for the interval, "
        "the diagnosis and the wind-down counterfactual.\n"
    )


SOBOL = ROOT / "docs" / "numbers" / "sobol.json"
_OUT = {
    "payoff": "payoff (keep-open − wind-down, P(agreement within 10 rounds of the shift))",
    "p_agree": "P(agreement by round 50), keep-open",
}


def _sobol(path: Path | None = None) -> dict | None:
    import json

    p = path or SOBOL
    return json.loads(p.read_text()) if p.exists() else None


def sobol_result(path: Path | None = None) -> str:
    """The measured Sobol run for two seeds: timing and load, per output the verdict numbers, the
    top 5 and ties, and every parameter's total index with its CI (docs/numbers/sobol.json)."""
    from sim.analysis.sensitivity import below_zero

    s = _sobol(path)
    if s is None:
        return "No measured run yet: `.venv/bin/python benchmarks/bench_validation.py both --out /tmp/sobol`.\n"
    seeds = s["seeds"]
    first = seeds[0]
    out = [
        f"Measured {s['measured']} at commit {s['commit']}"
        + (f" (the indices computed again from the same runs {s['analysed']})" if s.get("analysed") else "")
        + f": N = {first['n_base']:,} base samples"
        + (
            f" (the shipped experiment has N = {s['shipped_n_base']:,}: `--samples {first['n_base']}`)"
            if s.get("shipped_n_base", first["n_base"]) != first["n_base"]
            else ""
        )
        + f", R = {first['replications']}, "
        f"{first['runs']:,} runs per seed, `nice -n {first['timing']['nice']}`, {first['timing']['workers']} workers on "
        f"{first['timing']['cpus']} cores"
        + (f" ({first['timing']['cpu_model']})" if first["timing"].get("cpu_model") else "")
        + ".\n\n| seed | sweep wall | sweep CPU | total wall (with analysis) | total CPU | "
        "1-minute load (median, min–max) |\n|---:|---:|---:|---:|---:|---|\n"
    ]
    for r in seeds:
        t, ld = r["timing"], r["timing"]["load"]
        out.append(
            f"| {r['seed']} | {t['sweep_wall_s']:.0f} s ({t['sweep_wall_s'] / 60:.1f} min) | {t['sweep_cpu_s']:.0f} s | "
            f"{t['total_wall_s']:.0f} s ({t['total_wall_s'] / 60:.1f} min) | {t['total_cpu_s']:.0f} s | "
            f"{ld['median']:.1f} ({ld['min']:.1f}–{ld['max']:.1f}) |\n"
        )
    out.append(
        "\n| output | seed | sum of S_T | largest S_T CI half-width (S_T > 0.05) | S1 below −CI (family-wise) | min S1 + CI | "
        "top 5 by S_T | neighbours tied (paired CI of the difference includes 0) |\n|---|---:|---:|---:|---:|---:|---|---|\n"
    )
    for key in ("payoff", "p_agree"):
        for r in seeds:
            o = r[key]
            ix = o["indices"]
            h, wide = _widest(o)
            below, near, _ = below_zero(ix)
            low = min(x["S1"] + x["S1_conf"] for x in ix)
            tied = [f"{g['pair']} ({g['place']}/{g['place'] + 1})" for g in o["gaps"] if not g["resolved"]]
            out.append(
                f"| {key} | {r['seed']} | {o['sum_total']:.2f} | "
                f"{f'{h:.3f} ({wide})' if wide else '—'} | "
                f"{len(below)}{' (' + ', '.join(below) + ')' if below else ''}"
                f"{'; per-index CI only: ' + ', '.join(near) if near else ''} | {low:+.3f} | {', '.join(o['top5'])} | "
                f"{', '.join(tied) if tied else 'none'} |\n"
            )
    names = [x["parameter"] for x in sorted(seeds[0]["payoff"]["indices"], key=lambda x: -x["ST"])]
    head = " | ".join(f"{k} seed {r['seed']}" for k in ("payoff", "p_agree") for r in seeds)
    out.append(f"\nTotal indices S_T ± 95% CI half-width:\n\n| parameter | {head} |\n|---|{'---:|' * 2 * len(seeds)}\n")
    for n in names:
        cells = []
        for key in ("payoff", "p_agree"):
            for r in seeds:
                x = next(x for x in r[key]["indices"] if x["parameter"] == n)
                cells.append(f"{x['ST']:.3f} ± {x['ST_conf']:.3f}")
        out.append(f"| {n} | {' | '.join(cells)} |\n")
    out.append("\nThe two seeds compared (the report's verdict sentences):\n\n")
    for key in ("payoff", "p_agree"):
        out.append(f"- {_OUT[key]}: {s['comparison'][key]['verdict']}\n")
    return "".join(out)


def _widest(o: dict, matter: float = 0.05) -> tuple[float, str]:
    big = [x for x in o["indices"] if x["ST"] > matter]
    w = max(big, key=lambda x: x["ST_conf"]) if big else None
    return (w["ST_conf"], w["parameter"]) if w else (0.0, "")


def _order(seeds: list[dict], key: str) -> str:
    a, b = seeds[0][key]["top5"], seeds[1][key]["top5"]
    if a == b:
        return "the same top 5 in the same order"
    if set(a) == set(b):
        return "the same five parameters in a different order"
    return f"different top 5 ({', '.join(sorted(set(a) ^ set(b)))} in one only)"


def _spread(s: dict, key: str) -> str:
    """The clause on how far the two seed sets' indices differ in units of their CIs' standard errors
    (:class:`sim.analysis.sensitivity.CISpread`); empty for a record from before it was kept."""
    sp = s.get("comparison", {}).get(key, {}).get("spread")
    if not sp or not sp.get("m"):
        return ""
    verdict = (
        "the CIs are TOO NARROW for how the indices move between seeds"
        if sp["rms"] > sp["high"]
        else "the CIs are conservative"
        if sp["rms"] < sp["low"]
        else "as the CIs say"
    )
    return (
        f"; the two seeds' indices differ by RMS {sp['rms']:.2f} standard errors of their CIs over {sp['m']} indices "
        f"(chance allows {sp['low']:.2f}–{sp['high']:.2f}: {verdict})"
    )


def sobol_summary(path: Path | None = None, limit: float = 0.05, minutes: float = 10.0) -> str:
    """One bullet (for the README) on the measured Sobol run against the issue's criteria (CI half-widths ≤ ``limit``
    for S_T > 0.05, no first-order index below minus its family-wise CI, the same top 5 for two
    seeds, under ``minutes`` on two cores), every clause computed from docs/numbers/sobol.json."""
    from sim.analysis.sensitivity import below_zero

    s = _sobol(path)
    if s is None:
        return "- The shipped Sobol run has not been measured yet (`benchmarks/bench_validation.py both`).\n"
    seeds = s["seeds"]
    r0, t = seeds[0], seeds[0]["timing"]
    d = len(r0["payoff"]["indices"])
    times = [r["timing"]["total_wall_s"] / 60 for r in seeds]
    fast = all(m < minutes for m in times)
    clauses = []
    for key, name in (("payoff", "the payoff"), ("p_agree", "P(agreement)")):
        w = [_widest(r[key]) for r in seeds]
        over = [f"seed {r['seed']}" for r, (h, _) in zip(seeds, w, strict=True) if h > limit]
        neg = sum(len(below_zero(r[key]["indices"])[0]) for r in seeds)
        clauses.append(
            f"for {name} the largest total-index CI half-width is "
            + " and ".join(f"±{h:.3f} ({p})" for h, p in w)
            + (f", over the ±{limit} asked for {' and '.join(over)}" if over else f", within the ±{limit} asked")
            + f"; {neg or 'no'} first-order {'index' if neg < 2 else 'indices'} below minus the family-wise CI; "
            + _order(seeds, key)
            + _spread(s, key)
        )
    return (
        f"- The shipped Sobol run (`experiments/sensitivity.toml`, {d} parameters, N = {r0['n_base']:,}"
        + (f" where the shipped experiment has {s['shipped_n_base']:,}" if s.get("shipped_n_base", r0["n_base"]) != r0["n_base"] else "")
        + ", "
        f"R = {r0['replications']}, {r0['runs']:,} runs per seed), measured {s['measured']} for seeds "
        f"{' and '.join(str(r['seed']) for r in seeds)}: "
        + " and ".join(f"{m:.1f}" for m in times)
        + f" minutes on {t['cpus']} cores{' of an ' + t['cpu_model'] if t.get('cpu_model') else ''}, "
        + (f"under the {minutes:.0f} asked" if fast else f"over the {minutes:.0f} asked")
        + "; "
        + "; ".join(clauses)
        + f". Its parameters are every prior of the calibration, every cost of staying open and the unsourced defaults that "
        f"favour keeping it open; {sobol_ranks(path).strip()} Indices, ties and timings: [docs/performance.md](docs/performance.md).\n"
    )


def _ordinal(k: int) -> str:
    return f"{k}{'th' if 10 <= k % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th')}"


def sobol_ranks(path: Path | None = None, names: tuple[str, ...] = ("confidence_gain", "winset_gain", "candor_wear")) -> str:
    """Where ``names`` rank by total index for both outputs over the measured seeds (one sentence)."""
    s = _sobol(path)
    if s is None:
        return "Not measured yet.\n"
    seeds = s["seeds"]

    def place(key: str, n: str) -> str:
        ranks, sts = [], []
        for r in seeds:
            order = sorted(r[key]["indices"], key=lambda x: -x["ST"])
            k = next(i for i, x in enumerate(order) if x["parameter"] == n)
            ranks.append(k + 1)
            sts.append(order[k]["ST"])
        where = _ordinal(min(ranks)) if min(ranks) == max(ranks) else f"{_ordinal(min(ranks))}–{_ordinal(max(ranks))}"
        return f"{where} for {'the payoff' if key == 'payoff' else 'P(agreement)'} (S_T {min(sts):.2f}–{max(sts):.2f})"

    present = {x["parameter"] for x in seeds[0]["payoff"]["indices"]}
    said = [f"`{n}` ranks {place('payoff', n)} and {place('p_agree', n)}" for n in names if n in present]
    return ("; ".join(said) + ".\n") if said else "None of them was in the design.\n"


def sobol_verdict(path: Path | None = None) -> str:
    """The two-seed verdicts of the measured Sobol run, one line per output (for the ODD)."""
    s = _sobol(path)
    if s is None:
        return "No measured run yet (`benchmarks/bench_validation.py both`).\n"
    again = f"; indices computed again {s['analysed']}" if s.get("analysed") else ""
    head = f"Measured {s['measured']} (commit {s['commit']}{again}; seeds {', '.join(str(r['seed']) for r in s['seeds'])}):\n\n"
    return head + "".join(f"- {_OUT[k]}: {s['comparison'][k]['verdict']}\n" for k in ("payoff", "p_agree"))


DASK = ROOT / "benchmarks" / "dask-results.json"


def dask_workers(path: Path | None = None) -> str:
    """The sweep through a Dask scheduler against local processes (``benchmarks/bench_dask.py``), and
    how many workers one driver keeps busy, from its record."""
    import json

    p = path or DASK
    if not p.exists():
        return "Not measured yet (`.venv/bin/python benchmarks/bench_dask.py`).\n"
    r = json.loads(p.read_text())
    pr, dk, pc = r["processes"], r["dask"], r["per_chunk"]
    feeds = r.get("workers_one_driver_feeds")
    return (
        f"Measured {r['measured']} at commit {r['commit']} on {r['cpus']} cores: `experiments/sensitivity.toml` at N = "
        f"{r['samples']:,} ({pr['runs']:,} runs in {pc['chunks']} chunks of 4,096), swept by each executor into a fresh folder; "
        f"the runs {'are identical' if r['same_runs'] else 'DIFFER'} between the two.\n\n"
        "| executor | wall | workers' CPU | driver's CPU | driver writing Parquet |\n|---|---:|---:|---:|---:|\n"
        f"| local processes (`--workers 2`) | {pr['wall_s']:.0f} s | {pr['children_cpu_s']:.0f} s | {pr['driver_cpu_s']:.1f} s | "
        "(each worker writes its own) |\n"
        f"| Dask `LocalCluster`, 2 single-threaded workers (`--scheduler`) | {dk['wall_s']:.0f} s | {dk['workers_cpu_s']:.0f} s | "
        f"{dk['driver_cpu_s']:.1f} s | {dk['driver_write_s']:.1f} s |\n\n"
        f"Per chunk: {pc['worker_cpu_s']:.2f} s of a worker's CPU, {pc['driver_cpu_s']:.3f} s of the driver's (receiving, writing "
        f"Parquet, and here the scheduler, which runs in the driver's process), of which {pc['driver_write_s']:.3f} s writing"
        + (f": one driver keeps about {feeds:.0f} workers busy before it is the bottleneck" if feeds else "")
        + f". On the same two cores the Dask sweep takes {r['dask_over_processes_wall']:.2f}× the local one's wall time "
        "(the driver and the scheduler share the cores with the workers).\n"
    )


LEANING = ROOT / "docs" / "numbers" / "calibration-leaning.json"


def _leaning_ci(r: dict, k: str = "") -> dict:
    """A calibrated-answer row's effect (or its ``k`` part: net, construction) as value, low, high."""
    lo, hi = (f"{k}_ci_low", f"{k}_ci_high") if k else ("ci_low", "ci_high")
    return {"value": r[k or "effect"], "low": r[lo], "high": r[hi]}


def _leaning(path: Path | None = None, shipped: Path | None = None) -> tuple[dict, dict, dict, dict] | None:
    """(record, shipped calibration record, calibrated-answer row at the headline window with the
    leaning defaults drawn, the same row with them held) from docs/numbers/calibration-leaning.json
    and calibration.json; None when not measured; an error when the calibration file or the model
    code no longer match the ones measured."""
    import json
    import sys

    from sim.version import model_code

    p = path or LEANING
    if not p.exists():
        return None
    s = json.loads(p.read_text())
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_calibration import leaning_calibration

    if s["fingerprint"] != leaning_calibration()[0].experiment.fingerprint() or s["model_code"] != model_code():
        raise RuntimeError(
            "docs/numbers/calibration-leaning.json was measured on another calibration file or model code; "
            "re-measure: .venv/bin/python benchmarks/bench_calibration.py --leaning --out /tmp/cal-leaning"
        )
    base = _cal(shipped)
    w = s["answer"]["window"]
    cal = {r["window"]: r for r in s["answer"]["calibrated"]}[w]
    cal0 = {r["window"]: r for r in base["answer"]["calibrated"]}[w]
    return s, base, cal, cal0


def _sd_ratios(s: dict) -> dict[str, float]:
    """Posterior sd / prior sd of each leaning default the record drew from a prior."""
    from sim.analysis.calibration import prior_sd

    return {n: s["posterior"][n]["sd"] / prior_sd(n, s["priors"][n]["low"], s["priors"][n]["high"]) for n in s["added"]}


NOT_LEANING = "Not measured yet: `.venv/bin/python benchmarks/bench_calibration.py --leaning --out /tmp/cal-leaning`.\n"


def calibration_leaning(path: Path | None = None, shipped: Path | None = None) -> str:
    """The calibration with the unsourced defaults that lean toward keep-open given priors too
    (docs/numbers/calibration-leaning.json, from ``benchmarks/bench_calibration.py --leaning``),
    beside the shipped calibration (docs/numbers/calibration.json). Stale (an error) when the
    calibration file or the model code no longer match the ones measured."""
    got = _leaning(path, shipped)
    if got is None:
        return NOT_LEANING
    s, base, cal, cal0 = got
    a, ci = s["answer"], _leaning_ci
    held = ", ".join(f"`{n}` {s['defaults'][n]:g}" for n in s["added"])
    ratio = _sd_ratios(s)
    sd = "; ".join(f"`{n}` {r:.2f}" for n, r in ratio.items())
    constrain = "barely constrain them" if min(ratio.values()) >= 0.9 else "constrain some of them"
    hold, hold0 = (next(c for c in x["cases_calibrated"] if "hold-out" in c["case"])["reproduced"] for x in (s, base))
    fair = a.get("fair_restart")
    net = (
        f" Without the restart penalty imposed by construction ({a['treatment']} − {fair}): {_ci(ci(cal, 'net'))} against "
        f"{_ci(ci(cal0, 'net'))}; keeping the channel open {_says(ci(cal, 'net'))} by that measure."
        if fair and "net" in cal
        else ""
    )
    return (
        f"*With the defaults that lean toward keep-open uncertain too* (measured {s['measured']}; "
        "`benchmarks/bench_calibration.py --leaning`): the same calibration with "
        f"{held} (their defaults above, ODD §1) drawn from uniform priors over their spec bounds as well. "
        f"{s['accepted']} of {s['prior_points']:,} prior points accepted ({s['acceptance_rate']:.1%}). The patterns "
        f"{constrain} (posterior sd / prior sd: {sd}). The calibrated answer ({a['treatment']} − "
        f"{a['reference']}, P(agreement within {a['window']} rounds of the shift)) becomes {_ci(ci(cal))}, against "
        f"{_ci(ci(cal0))} with them at their defaults: keeping the channel open {_says(ci(cal))} over this posterior and "
        f"{_says(ci(cal0))} over the shipped one.{net} The Iran–US hold-out is "
        f"{'reproduced' if hold else 'not reproduced'} under this posterior "
        f"({'as' if hold == hold0 else 'unlike'} under the shipped one).\n"
    )


def calibration_leaning_short(path: Path | None = None, shipped: Path | None = None) -> str:
    """The README's sentence: the calibrated answer with the leaning defaults drawn from priors."""
    got = _leaning(path, shipped)
    if got is None:
        return NOT_LEANING
    s, _, cal, cal0 = got
    move = "barely move them" if min(_sd_ratios(s).values()) >= 0.9 else "narrow some of them"
    return (
        f"  Calibrated with them uncertain too (uniform priors over their bounds; the patterns {move}), the\n"
        f"  calibrated answer is {_ci(_leaning_ci(cal))} instead of {_ci(_leaning_ci(cal0))}: keeping the channel open\n"
        f"  {_says(_leaning_ci(cal))} (docs/ODD.md §8).\n"
    )


EXPOSURE = ROOT / "docs" / "numbers" / "exposure-rule.json"


def _ci(e: dict) -> str:
    from sim.analysis.answer import fmt_signed

    return f"{fmt_signed(e['value'])} [{fmt_signed(e['low'])}, {fmt_signed(e['high'])}]".replace("-", "−")


def _says(e: dict) -> str:
    """What a paired effect's 95% CI says about keeping the channel open."""
    return "pays" if e["low"] > 0 else "costs" if e["high"] < 0 else "makes no detectable difference"


def _exposure(path: Path | None = None) -> dict:
    """docs/numbers/exposure-rule.json; an error when the experiment file or the model code no
    longer match the ones it was measured on."""
    import json

    from sim.batch.experiment import load_experiment
    from sim.version import model_code

    s = json.loads((path or EXPOSURE).read_text())
    if s["fingerprint"] != load_experiment(ROOT / "experiments" / "exposure-rule.toml").fingerprint() or s["model_code"] != model_code():
        raise RuntimeError(
            "docs/numbers/exposure-rule.json was measured on another experiment file or model code; "
            "re-measure: .venv/bin/python benchmarks/bench_exposure_rule.py --out /tmp/exposure-rule"
        )
    return s


def exposure_rule(path: Path | None = None) -> str:
    """The measured exposure-rule experiment (docs/numbers/exposure-rule.json, written by
    benchmarks/bench_exposure_rule.py): the effect soon and by the horizon, pooled and under each
    condition. Stale (an error) when the experiment file or the model code no longer match the
    ones measured."""
    import tomllib

    s = _exposure(path)
    spec = tomllib.loads((ROOT / "experiments" / "exposure-rule.toml").read_text())
    grid = ", ".join(f"{k} {'/'.join(f'{v:g}' for v in vs)}" for k, vs in spec["design"]["params"].items())
    out = [
        f"Measured {s['measured']} (`experiments/exposure-rule.toml`, {s['effects'][0]['n_pairs']:,} pairs of {s['arm']} and "
        f"{s['reference']}, `{spec['analysis']['main']}`; pooled over {grid}; bootstrap 95% intervals):\n\n"
        f"| condition | pairs | {s['arm']} − {s['reference']}, soon after the shift | by the horizon |\n|---|---:|---|---|\n"
    ]
    for r in s["effects"]:
        out.append(f"| {r['condition']} | {r['n_pairs']:,} | {_ci(r['soon'])} | {_ci(r['by_horizon'])} |\n")
    out.append("\n" + "".join(f"- {w}\n" for w in s["where"]))
    out.append(
        "\nKeeping the channel open "
        + "; ".join(
            f"{_says(r['soon'])} soon after the shift and {_says(r['by_horizon'])} by the horizon under '{r['condition']}'"
            for r in s["effects"]
            if r["condition"] != "pooled"
        )
        + ".\n"
    )
    return "".join(out)


def exposure_rule_short(path: Path | None = None) -> str:
    """One sentence for the README: the effect soon after the shift under the shipped rule and
    under the two symmetric rules."""
    e = {r["condition"]: r for r in _exposure(path)["effects"]}
    return (
        f"  `experiments/exposure-rule.toml` sweeps them: keep-open − wind-down soon after the shift is\n"
        f"  {_ci(e['shipped rule']['soon'])} under the shipped rule, {_ci(e['exposure kept as familiarity is']['soon'])} "
        f"when exposure is kept as familiarity is\n"
        f"  and {_ci(e['both forgotten while meeting']['soon'])} when both are forgotten while meeting (by the horizon "
        f"{_ci(e['shipped rule']['by_horizon'])},\n"
        f"  {_ci(e['exposure kept as familiarity is']['by_horizon'])} and {_ci(e['both forgotten while meeting']['by_horizon'])}).\n"
    )


def guide_block(lang: str, first_line: str, guide: Path | None = None) -> str:
    """The fenced ``lang`` block of the students' guide whose first line is ``first_line``: the
    generators below run the guide's own examples, so an edited example changes its numbers."""
    text = (guide or ROOT / "docs" / "students-guide.md").read_text()
    for m in re.finditer(rf"```{lang}\n(.*?)```", text, re.S):
        if m.group(1).startswith(first_line):
            return m.group(1)
    raise KeyError(f"no ```{lang} block starting {first_line!r} in the students' guide")


MY_SCENARIO = "# My scenario:"
MY_EXPERIMENT = "# Does keeping the channel open pay off"


@functools.cache  # the tests ask for it several times in one process
def my_scenario(guide: Path | None = None, seed: int = 1) -> str:
    """What `./dev sim run mine/my-scenario.toml --seed 1` (guide §6) writes and finds: the command
    is run on the guide's own scenario file."""
    import contextlib
    import io
    import json
    import tempfile
    import tomllib

    from sim.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "my-scenario.toml"
        f.write_text(guide_block("toml", MY_SCENARIO, guide))
        with contextlib.redirect_stdout(io.StringIO()):
            rc = main(["run", str(f), "--seed", str(seed), "--out", f"{tmp}/out"])
        if rc != 0:
            raise RuntimeError("the guide's example scenario (§6) does not run")
        s = json.loads((Path(tmp) / "out" / "summary.json").read_text())
        name = tomllib.loads(f.read_text())["name"]
    ends = f"agreement comes at round {s['agreement_round']}" if s["agreement"] else f"there is no agreement by round {s['rounds']}"
    return f"(This writes `runs/{name}-seed{seed}/`; with seed {seed} {ends}.)\n"


def _guide_experiment(guide: Path | None = None):
    import tempfile

    from sim.batch.experiment import load_experiment

    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "my-experiment.toml"
        f.write_text(guide_block("toml", MY_EXPERIMENT, guide))
        return load_experiment(f)


def my_experiment_size(guide: Path | None = None) -> str:
    """The size of the guide's example experiment (§7), from its file."""
    exp = _guide_experiment(guide)
    factors = [f"{len(exp.scenarios)} scenario{'s' if len(exp.scenarios) > 1 else ''}"]
    factors += [f"{len(v)} {n} values" for n, v in exp.design_params.items()]
    factors += [f"{len(exp.arms)} arms", f"{exp.replications} replications"]
    return f"That is {' × '.join(factors)} = {exp.n_runs:,} runs. Run it, then\nbuild the report:\n"


@functools.cache
def my_experiment_summary(guide: Path | None = None) -> str:
    """The first sentences of the report's summary for the guide's example experiment (§7): the
    experiment is swept (120 runs) and the report's own summary quoted, with the case studies'
    count."""
    import inspect
    import tempfile

    from sim.analysis import stats
    from sim.analysis.cases import cases, run_cases
    from sim.analysis.report import effects_table, summary
    from sim.analysis.results import Results
    from sim.batch.sweep import run_sweep

    exp = _guide_experiment(guide)
    with tempfile.TemporaryDirectory() as tmp:
        run_sweep(exp, Path(tmp) / "r", workers=1, progress=False)
        res = Results.load(Path(tmp) / "r")
        adequacy = stats.replication_adequacy(res.with_window(), ["in_window", "agreement", "cost"])
        lines = summary(res, effects_table(res), [], adequacy, [])
    keep = [ln for ln in lines if ln.startswith((f"In {res.scenarios[0]},", "It cost", "Replication warning", "Every reported"))]
    per_arm = inspect.signature(run_cases).parameters["runs"].default
    return (
        "\n".join(f"> {ln}" for ln in keep)
        + f"\n\nThe report also runs {len(cases())} case studies ({per_arm} runs per arm and case); `--no-cases` skips them.\n"
    )


def sweep_speed(path: Path = ROOT / "benchmarks" / "results.json") -> str:
    """The sweep's speed-up over `mesa.batch_run`, as last measured by benchmarks/bench_sweep.py."""
    import json

    r = json.loads(path.read_text())["reference"]
    return (
        f"The sweep is about {r['ratio']:.0f}× faster than `mesa.batch_run` on the same model and seeds in the last\n"
        "benchmark run (the median of three timings of ours; single timings vary by ±15% on a 2-core VM)\n"
    )


#: §9's example mistakes: what a student types (from the project folder, with §6's and §7's files in mine/).
ERROR_EXAMPLES = [
    ["run", "leadership-change", "--set", "Canada.turnover=0.4"],
    ["run", "leadership-change", "--set", "turnover=1.4"],
    ["run", "mine/my-scenario.toml", "--rounds", "25"],
    ["sweep", "mine/my-experiment.toml"],  # a second time: the results folder exists
]


@functools.cache
def error_examples(guide: Path | None = None) -> str:
    """The one-line errors §9 shows, as the commands print them (run in a scratch project folder)."""
    import contextlib
    import io
    import os
    import tempfile

    from sim.cli import main

    lines = []
    here = Path.cwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            Path("mine").mkdir()
            Path("mine/my-scenario.toml").write_text(guide_block("toml", MY_SCENARIO, guide))
            Path("mine/my-experiment.toml").write_text(guide_block("toml", MY_EXPERIMENT, guide))
            for i, args in enumerate(ERROR_EXAMPLES):
                for _ in range(2 if args[0] == "sweep" else 1):  # a sweep twice: the second finds the folder
                    err = io.StringIO()
                    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                        rc = main(args)
                if rc != 2:
                    raise RuntimeError(f"§9 example {i + 1} ({' '.join(args)}) did not fail with status 2")
                lines.append(err.getvalue().strip().splitlines()[-1])
        finally:
            os.chdir(here)
    return "```text\n" + "\n".join(lines) + "\n```\n"


GENERATORS: dict[str, Callable[[], str]] = {
    "headline": headline,
    "readme-headline": readme_headline,
    "compare-example": compare_example,
    "calibration-cases": calibration_cases,
    "calibration-result": calibration_result,
    "holdout-diagnosis": holdout_diagnosis,
    "calibration-timing": calibration_timing,
    "sobol-result": sobol_result,
    "sobol-verdict": sobol_verdict,
    "burton-ranking": burton_ranking,
    "holdout-limitation": holdout_limitation,
    "my-scenario": my_scenario,
    "my-experiment-size": my_experiment_size,
    "my-experiment-summary": my_experiment_summary,
    "sweep-speed": sweep_speed,
    "error-examples": error_examples,
    "exposure-rule": exposure_rule,
    "calibration-leaning": calibration_leaning,
    "calibration-leaning-short": calibration_leaning_short,
    "sobol-summary": sobol_summary,
    "dask-workers": dask_workers,
    "sobol-ranks": sobol_ranks,
    "exposure-rule-short": exposure_rule_short,
}
FILES = [ROOT / "docs" / "students-guide.md", ROOT / "README.md", ROOT / "docs" / "ODD.md", ROOT / "docs" / "performance.md"]


def render(text: str) -> str:
    """``text`` with every numbers passage regenerated."""

    def sub(m: re.Match) -> str:
        name = m.group("name")
        if name not in GENERATORS:
            raise KeyError(f"unknown numbers passage {name!r}; known: {', '.join(GENERATORS)}")
        return m.group(1) + GENERATORS[name]() + m.group(4)

    return BLOCK.sub(sub, text)


def stale() -> list[str]:
    """The files whose numbers passages are out of date."""
    return [str(f.relative_to(ROOT)) for f in FILES if render(f.read_text()) != f.read_text()]


def main(argv: list[str]) -> int:
    if "--check" in argv:
        bad = stale()
        if bad:
            print(f"out of date: {', '.join(bad)}; run .venv/bin/python docs/update_numbers.py", file=sys.stderr)
        return 1 if bad else 0
    for f in FILES:
        new = render(f.read_text())
        if new != f.read_text():
            f.write_text(new)
            print(f"updated {f.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

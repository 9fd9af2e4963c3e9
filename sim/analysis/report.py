"""The report of a sweep: one self-contained HTML file with the spec, tables, figures and a
plain-language summary computed from the numbers (no verdict is written in advance).
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.analysis import answer, decompose, discovery, effect_figures, estimands, figures, stats
from sim.analysis.figure_set import make_figures
from sim.analysis.ranking import rank_arms, ranking_sentence
from sim.analysis.results import Results
from sim.batch.store import describe_status, status
from sim.core.outputs import atomic_write
from sim.core.params import PARAMS

if TYPE_CHECKING:
    from sim.analysis.cases import CaseResult


# ---------------------------------------------------------------- tables


def outcome_table(res: Results) -> pd.DataFrame:
    r = res.with_window()
    rows = []
    for (sc, arm), g in r[r["status"] == "ok"].groupby(["scenario", "arm"], sort=False):
        p = stats.bootstrap_ci(g["in_window"], discrete="proportion")
        c = stats.bootstrap_ci(g["cost"])
        t, obs = stats.time_to_agreement(g, res.shift, res.horizon(sc))
        times, surv = stats.kaplan_meier(t, obs)
        below = times[surv <= 0.5]
        rows.append(
            {
                "scenario": sc,
                "arm": arm,
                "runs": len(g),
                f"P(agreement within {res.window} rounds of the shift)": _ci(p, pct=True),
                "P(agreement by the horizon)": f"{g['agreement'].mean():.0%}",
                "agreements before the shift": int(g["before_shift"].sum()),
                "median rounds from shift to agreement (KM)": f"{below[0]:.0f}" if len(below) else "not reached",
                "mean cost": _ci(c),
            }
        )
    return pd.DataFrame(rows)


def effects_table(res: Results) -> pd.DataFrame:
    r = res.with_window()
    out = []
    for arm in res.arms:
        if arm == res.reference:
            continue
        for outcome in ("in_window", "cost"):
            e = stats.paired_effect(r, outcome, arm, res.reference, by=("scenario",))
            out.append(e)
    t = pd.concat(out, ignore_index=True) if out else pd.DataFrame()
    if not t.empty:
        t["outcome"] = t["outcome"].replace({"in_window": f"P(agreement within {res.window} rounds)"})
    return t


def phase_cells(res: Results, x: str, y: str, scenario: str) -> pd.DataFrame:
    """Mean paired difference (treatment − reference) in P(agreement within the window) per cell
    of ``x`` × ``y`` (``window`` may be one of them), averaged over all other swept parameters,
    with a bootstrap CI and the diagnostics used to name the mechanism behind a failure."""
    windows = res.analysis.get("windows", [res.window])
    res = _binned(res, [c for c in (x, y) if c != "window"])
    frames = []
    for w in windows if "window" in (x, y) else [res.window]:
        r = res.with_window(w)
        r = r[r["scenario"] == scenario]
        d = stats.paired(r, "in_window", res.treatment, res.reference, by=[c for c in (x, y) if c != "window"])
        d["window"] = w
        frames.append(d)
    d = pd.concat(frames, ignore_index=True)
    trust = _at_shift(res, "trust")
    cyn = _at_shift(res, "cynicism")
    base = res.with_window()
    base = base[base["scenario"] == scenario].set_index(stats.KEYS)
    rows = []
    for (xv, yv), g in d.groupby([x, y], sort=True):
        e = stats.bootstrap_ci(g["diff"].to_numpy(), discrete="paired")
        p_value = stats.paired_p_value(g["diff"].to_numpy())
        keys = pd.MultiIndex.from_frame(g[stats.KEYS])
        t_arm = base[base["arm"] == res.treatment].reindex(keys)
        r_arm = base[base["arm"] == res.reference].reindex(keys)
        rows.append(
            {
                x: xv,
                y: yv,
                "mean_diff": e.value,
                "ci_low": e.low,
                "ci_high": e.high,
                "n_pairs": e.n,
                "p_value": p_value,
                "p_treatment": t_arm["in_window"].mean() if "window" not in (x, y) else np.nan,
                "p_reference": r_arm["in_window"].mean() if "window" not in (x, y) else np.nan,
                "trust_at_shift_treatment": trust.reindex(t_arm["run_id"]).mean(),
                "trust_at_shift_reference": trust.reindex(r_arm["run_id"]).mean(),
                "cynicism_at_shift_treatment": cyn.reindex(t_arm["run_id"]).mean(),
                "cynicism_at_shift_reference": cyn.reindex(r_arm["run_id"]).mean(),
                "ideas_treatment": t_arm["ideas_reported"].mean(),
            }
        )
    return pd.DataFrame(rows)


def _binned(res: Results, cols: list[str], bins: int = 4) -> Results:
    """For sampled designs (lhs, sobol, morris) replace each swept value by the midpoint of its
    quantile bin, so a phase diagram has ``bins`` rows and columns; grids and tables are kept."""
    if res.spec.get("design") not in ("lhs", "sobol", "morris"):
        return res
    runs = res.runs.copy()
    for c in cols:
        q = pd.qcut(runs[c], bins, duplicates="drop")
        runs[c] = q.map(lambda iv: round(iv.mid, 3)).astype(float)
    out = Results(res.path, res.manifest, runs, res.ts)
    return out


def _at_shift(res: Results, metric: str) -> pd.Series:
    """Each run's ``metric`` at the last kept round before (or at) the shift."""
    if metric not in res.ts:
        return pd.Series(dtype=float)
    rounds = np.sort(res.ts["round"].unique())
    at = rounds[rounds <= res.shift].max() if (rounds <= res.shift).any() else rounds[0]
    return res.ts[res.ts["round"] == at].set_index("run_id")[metric]


# ---------------------------------------------------------------- summary text


def summary(
    res: Results, effects: pd.DataFrame, phases: list[tuple[str, str, pd.DataFrame]], adequacy: pd.DataFrame, case_results: list
) -> list[str]:
    """Plain-language findings, each sentence built from the numbers."""
    a = res.analysis
    main = a.get("main", res.scenarios[0])
    w = res.window
    out = []
    r = res.with_window()
    label = f"P(agreement within {w} rounds)"
    if effects.empty:
        effects = pd.DataFrame(columns=["scenario", "arm", "outcome", "mean_diff", "ci_low", "ci_high", "n_pairs"])
    e = effects[(effects["scenario"] == main) & (effects["arm"] == res.treatment) & (effects["outcome"] == label)]
    if len(e):
        e = e.iloc[0]
        g = r[r["scenario"] == main]
        pt = g[g["arm"] == res.treatment]["in_window"].mean()
        pr = g[g["arm"] == res.reference]["in_window"].mean()
        kind, over = answer.design_average(str(res.spec.get("design", "grid")))
        verdict = (
            f"positive on this {kind} average (an average over {over}, not the answer: see the answer box)"
            if e["ci_low"] > 0
            else f"negative on this {kind} average: the kept-open channel did worse"
            if e["ci_high"] < 0
            else f"not distinguishable from zero on this {kind} average"
        )
        out.append(
            f"In {main}, keeping the channel open ({res.treatment}) rather than {res.reference} changed the "
            f"probability of agreement within {w} rounds of the shift from {pr:.0%} to {pt:.0%} "
            f"(paired difference {_signed(e['mean_diff'])}, 95% CI [{_signed(e['ci_low'])}, {_signed(e['ci_high'])}], "
            f"{int(e['n_pairs'])} pairs), {verdict}."
        )
        c = effects[(effects["scenario"] == main) & (effects["arm"] == res.treatment) & (effects["outcome"] == "cost")]
        if len(c):
            ct = g[g["arm"] == res.treatment]["cost"].mean()
            cr = g[g["arm"] == res.reference]["cost"].mean()
            bh = stats.paired_effect(g, "agreement", res.treatment, res.reference, by=("scenario",))
            later = (float(bh["mean_diff"].iloc[0]), float(bh["ci_low"].iloc[0]), float(bh["ci_high"].iloc[0])) if len(bh) else None
            per = cost_per_agreement(ct - cr, e["mean_diff"], e["ci_low"], e["ci_high"], w, later)
            ratio = f"{ct / cr:.1f}× as much" if cr > 0 else "something where the reference cost nothing"
            out.append(f"It cost {ratio} over the whole run ({ct:.0f} vs {cr:.0f} rank-weighted delegate-meetings){per}.")
        # the same effect holding one swept parameter at its default, where the grid has it
        parts = []
        for name in res.manifest.get("design_names", []):
            default = PARAMS[name.rpartition(".")[2]].default
            sub = r[(r["scenario"] == main) & np.isclose(r[name], default)] if name in r else r.iloc[:0]
            if len(sub) and sub[name].nunique() == 1 and r[name].nunique() > 1:
                e3 = stats.paired_effect(sub, "in_window", res.treatment, res.reference, by=("scenario",))
                if len(e3):
                    e3 = e3.iloc[0]
                    parts.append(f"{name} = {default:g}: {_signed(e3['mean_diff'])} [{_signed(e3['ci_low'])}, {_signed(e3['ci_high'])}]")
        if parts:
            out.append(
                f"{HELD_AT_DEFAULT} ({res.treatment} − {res.reference} in P(agreement within {w} rounds of the shift), "
                f"{main}, 95% CI): " + "; ".join(parts) + "."
            )
    for arm in res.arms:
        if arm in (res.treatment, res.reference):
            continue
        e2 = effects[(effects["scenario"] == main) & (effects["arm"] == arm) & (effects["outcome"] == label)]
        if len(e2):
            e2 = e2.iloc[0]
            out.append(
                f"Compared with {res.reference}, {arm} differs by {_signed(e2['mean_diff'])} "
                f"(95% CI [{_signed(e2['ci_low'])}, {_signed(e2['ci_high'])}]) in that probability."
            )
    ran = r[r["status"] == "ok"] if "status" in r else r  # failed runs have no outcome to count
    if "placebo" in a:
        g = ran[(ran["scenario"] == a["placebo"]) & (ran["arm"] == res.treatment)]
        k = int(g["agreement"].sum())
        out.append(
            f"Placebo ({a['placebo']}, no shift): the kept-open channel reached agreement in {k} of {len(g)} "
            f"runs, "
            + (
                "so it does not manufacture agreements. This is a consistency check rather than a "
                "finding: the agreement rule needs every leadership serious, which no lean regime is; "
                f"what the channel does produce without a shift is a peak progress of "
                f"{g['peak_progress'].mean():.2f} and {g['ideas_reported'].mean():.1f} ideas carried "
                "upward per run."
                if k == 0
                else "so it manufactures agreements without a shift: the placebo check fails."
            )
        )
    if "one_sided" in a:
        g = ran[ran["scenario"] == a["one_sided"]]
        pt = g[g["arm"] == res.treatment]["agreement"].mean()
        ideas = g[g["arm"] == res.treatment]["ideas_reported"].mean()
        ideas_ref = g[g["arm"] == res.reference]["ideas_reported"].mean() if res.reference != res.treatment else np.nan
        out.append(
            f"After a one-sided shift ({a['one_sided']}), the kept-open channel reached agreement in {pt:.0%} "
            f"of runs while carrying {ideas:.1f} ideas upward per run: " + one_sided_reason(pt, ideas, ideas_ref, res.reference)
        )
    for x, y, cells in phases:
        if cells.empty:
            continue
        holds = cells[cells["significant"] & (cells["mean_diff"] > 0)]
        rev = cells[cells["significant"] & (cells["mean_diff"] < 0)]
        flat = cells[~cells["significant"]]
        s = (
            f"Over {x} × {y} ({main}, averaged over the other swept parameters), the effect is positive in {len(holds)} of "
            f"{len(cells)} cells, negative in {len(rev)} and inconclusive in {len(flat)} (significance after "
            f"{correction_name(a)} across the {len(cells)} cells)."
        )
        if len(holds):
            s += (
                " It is positive at "
                + "; ".join(f"{y} = {yv:g} with {x} = {', '.join(f'{v:g}' for v in sorted(g[x]))}" for yv, g in holds.groupby(y, sort=True))
                + "."
            )
        if len(rev):
            s += (
                " It reverses (significantly negative) at "
                + "; ".join(
                    f"{y} = {yv:g} with {x} = "
                    + ", ".join(f"{v:g} ({_signed(m)})" for v, m in sorted(zip(g[x], g["mean_diff"], strict=True)))
                    for yv, g in rev.groupby(y, sort=True)
                )
                + "."
            )
        out.append(s)
        inad = int((~cells["adequate"]).sum())
        tol = cell_tolerance(res.analysis)
        if inad:
            out.append(
                f"— {inad} of the {len(cells)} cells of {x} × {y} {'is' if inad == 1 else 'are'} neither decided nor precise "
                f"(CI half-width above {tol:g})."
            )
        for _, c in pd.concat([rev, flat]).head(6).iterrows():
            out.append(
                f"— Where {x} = {c[x]:g} and {y} = {c[y]:g} (difference {_signed(c['mean_diff'])}, CI "
                f"[{_signed(c['ci_low'])}, {_signed(c['ci_high'])}]), {mechanism_words(c)}."
            )
        if len(rev) + len(flat) > 6:
            out.append(f"— … and {len(rev) + len(flat) - 6} more cells where it is not positive (see the phase diagram).")
    bad = adequacy[~adequacy["adequate"]] if len(adequacy) else adequacy
    cells_note = phase_adequacy_words(phases, cell_tolerance(a), replications_of(res))
    if len(bad):
        out.append(
            f"Replication warning: {len(bad)} of {len(adequacy)} estimates have a CI half-width above their "
            f"tolerance (e.g. {bad.iloc[0]['outcome']} in {bad.iloc[0]['scenario']}/{bad.iloc[0]['arm']}: "
            f"±{bad.iloc[0]['half_width']:.3f}); run more replications before relying on them."
            + (f" Besides, {cells_note}" if cells_note else "")
        )
    elif cells_note:
        out.append(
            "Replication warning: every arm's own estimate is within its replication tolerance, but the paired "
            f"effects per phase cell are not: {cells_note}"
        )
    else:
        out.append("Every reported estimate is within its replication tolerance.")
    for cr in case_results:
        out.append(
            f"Case study — {cr.case.name} ({cr.case.scenario}): {'reproduced' if cr.reproduced else 'NOT reproduced'}; {cr.evidence}."
        )
    return out


#: How the sentence on the main effect with one swept parameter held at its default opens (sort_findings
#: puts it with the phase diagrams, so it names its own comparison and outcome).
HELD_AT_DEFAULT = "With one swept parameter held at its default, the paired difference"


_signed = answer.fmt_signed


def cost_per_agreement(
    extra_cost: float, mean: float, low: float, high: float, window: int, by_horizon: tuple[float, float, float] | None = None
) -> str:
    """The clause on the cost per additional agreement: given only when the extra agreements within the
    window are told apart from zero and positive (a ratio whose denominator may be zero is unbounded);
    with ``by_horizon`` (mean, low, high of the difference in P(agreement by the horizon)), also
    whether those agreements are still extra by the horizon or were only earlier."""
    what = f"the extra agreements within {window} rounds of the shift ({_signed(mean)}, 95% CI [{_signed(low)}, {_signed(high)}])"
    if low > 0:
        per = f"; about {extra_cost / mean:.0f} cost units per additional agreement within {window} rounds of the shift"
        if by_horizon is None:
            return per
        m, lo, hi = by_horizon
        later = f"({_signed(m)}, 95% CI [{_signed(lo)}, {_signed(hi)}])"
        if lo > 0:
            return per + f", and by the horizon there are still more {later}"
        if hi < 0:
            return per + f"; by the horizon, though, there are fewer {later}: it prices agreements moved earlier, not added"
        return per + f"; by the horizon the difference {later} cannot be told from zero: it may price agreements moved earlier, not added"
    if high < 0:
        return f"; no cost per additional agreement is given: {what} are fewer, not more"
    return f"; no cost per additional agreement is given: {what} cannot be told from zero, so the ratio is unbounded"


def one_sided_reason(p_agree: float, ideas: float, ideas_ref: float, reference: str) -> str:
    """Why the kept-open channel did or did not reach agreement after a one-sided shift, from the
    numbers: a failure is put down to the missing serious counterpart only when ideas did travel."""
    if p_agree >= 0.05:
        return "some transfer happens."
    if ideas > 0:
        return "transfer fails without a serious counterpart (as the agreement rule requires: a consistency check)."
    if np.isfinite(ideas_ref) and ideas_ref > 0:
        return (
            f"no idea travels upward in the kept-open arm (while {reference} carries {ideas_ref:.1f} per run), so the "
            "failure is not the counterpart's: nothing reached a leadership to be transferred."
        )
    return (
        f"no idea travels upward in either arm ({reference} carries none either), so this check says nothing about "
        "transfer or the counterpart: nothing reached a leadership to be transferred."
    )


def mechanism_words(c: pd.Series) -> str:
    """The per-cell mechanism clause: the decomposition's largest component with its kind, why the cell
    has none (its axis is the window, or the decomposition has no pair in it), or that none was run."""
    mech, kind, missing = c.get("mechanism"), c.get("mechanism_kind"), c.get("mechanism_missing")
    if isinstance(mech, str):
        if isinstance(kind, str):
            name, _, rest = mech.rpartition(" (")
            return f"the transplant decomposition's largest component: {name} ({kind}; {rest}"
        return f"the transplant decomposition's largest component: {mech.replace('single carry-over', 'single component')}"
    if isinstance(missing, str):
        return missing
    return "no decomposition was run for this experiment"


def phase_adequacy_words(phases: list[tuple[str, str, pd.DataFrame]], tolerance: float, replications: int) -> str:
    """How many phase cells (paired effects) are neither decided nor precise, and where; "" if none."""
    parts, total, need = [], 0, 0.0
    for x, y, cells in phases:
        if cells.empty or "adequate" not in cells:
            continue
        bad = cells[~cells["adequate"].astype(bool)]
        if not len(bad):
            continue
        total += len(bad)
        where = "; ".join(f"{x} = {r[x]:g}, {y} = {r[y]:g}" for _, r in bad.head(3).iterrows())
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        parts.append(f"{len(bad)} of the {len(cells)} cells of {x} × {y} ({where}{more})")
        if "replications_needed" in bad:
            need = max(need, float(bad["replications_needed"].max()))
    if not total:
        return ""
    shown = "∞" if not np.isfinite(need) else f"{need:.0f}"
    demand = f"; the most demanding needs {shown} replications per point, the experiment has {replications}" if need else ""
    return (
        f"{total} phase {'cell needs' if total == 1 else 'cells need'} more replications "
        f"(not significant, CI half-width above ±{tolerance:g}): "
        + "; ".join(parts)
        + demand
        + ". Run more replications before relying on them."
    )


def _ci(e: stats.Estimate, pct: bool = False) -> str:
    if pct:
        return f"{e.value:.0%} [{e.low:.0%}, {e.high:.0%}]"
    return f"{e.value:.1f} [{e.low:.1f}, {e.high:.1f}]"


# ---------------------------------------------------------------- figures


def phase_diagrams(res: Results, out: Path) -> tuple[list[tuple[str, str, pd.DataFrame]], list[Path]]:
    a = res.analysis
    main = a.get("main", res.scenarios[0])
    pairs = a.get("phase")
    if pairs is None:
        names = res.manifest.get("design_names", [])
        pairs = [names[i : i + 2] for i in range(0, len(names) - 1, 2)]
    phases: list[tuple[str, str, pd.DataFrame]] = []
    paths: list[Path] = []
    if len(res.arms) < 2:
        return phases, paths
    for x, y in pairs:
        cells = correct(
            phase_cells(res, x, y, main), a.get("correction", "bh"), tolerance=cell_tolerance(a), replications=replications_of(res)
        )
        phases.append((x, y, cells))
        paths.append(
            figures.phase_diagram(
                cells,
                x,
                y,
                out,
                f"{main}: P(agreement within the window), {res.treatment} − {res.reference}\n"
                f"outlined: significant after {correction_name(a)} (solid above zero, dashed below)",
                label="paired difference in probability",
            )
        )
    return phases, paths


def correction_name(a: dict) -> str:
    return {"bh": "Benjamini–Hochberg (FDR 5%)", "holm": "Holm (FWER 5%)"}[a.get("correction", "bh")]


#: A phase cell's CI half-width below which a null is precise enough to call, unless the experiment
#: states its own ``[analysis] cell_tolerance``.
CELL_TOLERANCE = 0.05


def cell_tolerance(a: dict) -> float:
    return float(a.get("cell_tolerance", CELL_TOLERANCE))


def replications_of(res: Results) -> int:
    """The replications per design point the results hold."""
    return int(res.runs["replication"].nunique()) if len(res.runs) else 0


def correct(
    cells: pd.DataFrame, method: str = "bh", alpha: float = 0.05, tolerance: float = CELL_TOLERANCE, replications: int | None = None
) -> pd.DataFrame:
    """Add ``p_adjusted`` and ``significant`` (Benjamini–Hochberg via
    ``scipy.stats.false_discovery_control``, or Holm, of the exact McNemar p-values, and the
    cell's CI excluding zero) over the cells of one diagram, and per-cell
    replication adequacy: a cell is ``adequate`` when it is decided (significant) or its CI
    half-width is within ``tolerance`` (a null precise enough to call). With ``replications`` (per
    design point), ``replications_needed`` is what each cell's decision needs, as half-widths shrink
    as 1/√replications: for a decided cell, the count at which its CI would still clear zero
    (half-width below |mean|; at most what it has); for an undecided one, the count that brings its
    half-width to ``tolerance``."""
    cells = cells.copy()
    if cells.empty:
        return cells.assign(p_adjusted=[], significant=[], adequate=[], half_width=[], replications_needed=[])
    p = cells["p_value"].fillna(1.0).to_numpy()
    cells["p_adjusted"] = stats.adjust_p(p, method)
    # significant: the adjusted test rejects and the printed (floored) CI excludes zero, so that a
    # cell is never called significant beside an interval that includes 0 (or the reverse)
    cells["significant"] = (cells["p_adjusted"] < alpha) & ((cells["ci_low"] > 0) | (cells["ci_high"] < 0))
    half = (cells["ci_high"] - cells["ci_low"]) / 2
    cells["half_width"] = half
    cells["adequate"] = cells["significant"] | (half <= tolerance)
    if replications:
        h = half.fillna(np.inf)
        precise = np.ceil(replications * (h / tolerance) ** 2 - 1e-9).clip(lower=1)
        clear = np.ceil(replications * (h / cells["mean_diff"].abs().clip(lower=1e-12)) ** 2 - 1e-9).clip(lower=1, upper=replications)
        cells["replications_needed"] = np.where(cells["significant"], clear, precise).astype(float)
    return cells


def sensitivity(res: Results, out: Path) -> tuple[pd.DataFrame | None, list[Path], str]:
    """Sobol or Morris indices of the treatment's P(agreement within the window), for experiments
    built with those designs (one value per design point, averaged over replications)."""
    kind = res.spec.get("design")
    if kind not in ("sobol", "morris"):
        return None, [], f"The design is '{kind}', not Sobol or Morris, so no sensitivity indices are computed."
    if kind == "sobol":  # noise-corrected, with convergence and a verdict (and second-order indices if designed)
        from sim.analysis.sensitivity import analyse

        idx, paths, note = analyse(res, out)
        main = res.analysis.get("main", res.scenarios[0])
        first = idx[idx["output"] == idx["output"].iloc[0]]
        seeds = res.spec.get("common_seeds", False)
        how = "of the expected outcome" if seeds == "base" else "common seeds" if seeds else "noise-corrected"
        bars = figures.sensitivity_bars(first, out, f"Sobol indices of the {first['output'].iloc[0]} ({main}, {how})")
        return idx, [bars, *paths], note
    names = res.manifest.get("design_names", [])
    problem = {"num_vars": len(names), "names": names, "bounds": [res.spec["design_params"][n] for n in names]}
    main = res.analysis.get("main", res.scenarios[0])
    r = res.with_window()
    r = r[r["scenario"] == main]
    X = r.groupby("point")[names].first().sort_index().to_numpy()
    if len(res.arms) > 1 and res.reference != res.treatment:
        d = stats.paired(r, "in_window", res.treatment, res.reference, by=["point"])
        y = d.groupby("point")["diff"].mean().sort_index()
        what = f"the payoff: P(agreement within {res.window} rounds), {res.treatment} − {res.reference}"
    else:
        y = r[r["arm"] == res.treatment].groupby("point")["in_window"].mean().sort_index()
        what = f"P(agreement within {res.window} rounds), {res.treatment}"
    idx = stats.morris_indices(problem, X, y.to_numpy(), levels=int(res.spec.get("levels", 4)))
    p = figures.sensitivity_bars(idx, out, f"Morris indices of {what}\n({main}, mean over replications)")
    return idx, [p], f"Morris indices of {what} in {main}, one value per design point (mean over replications)."


# ---------------------------------------------------------------- the answer


def run_discovery(res: Results) -> dict | None:
    names = [n for n in res.manifest.get("design_names", []) if n in res.runs and res.runs[n].nunique() > 1]
    if not names or len(res.arms) < 2:
        return None
    a = res.analysis
    main = a.get("main", res.scenarios[0])
    soon = int(a.get("soon", res.window))
    lasts = {"soon": res.shift + soon - 1, "by_horizon": res.horizon(main)}
    d = a.get("discovery", {})
    margin, resamples = float(d.get("margin", 0.05)), int(d.get("resamples", discovery.RESAMPLES))
    return discovery.run(res.runs, res.treatment, res.reference, main, names, res.shift, lasts, margin, resamples)


def leaning_defaults(res: Results) -> list[dict]:
    """The parameters whose shipped default favours an arm (``Param.leans``, ODD §1) that the
    experiment holds at that default in its main scenario: neither swept, nor set by the
    experiment, an arm or the scenario. Each as name, default and the arm it favours."""
    from sim.core.params import PARAMS
    from sim.scenarios import InputError, load_scenario

    main = res.analysis.get("main", res.scenarios[0])
    try:
        scenario_params = load_scenario(main).params
    except InputError:  # a scenario file that is no longer where it was: say nothing rather than guess
        return []
    chosen = set(res.manifest.get("design_names", [])) | set(res.spec.get("params", {})) | set(scenario_params)
    chosen |= {k for a in res.spec.get("arms", []) for k in a.get("params", {})}
    return [{"name": p.name, "default": p.default, "favours": p.leans} for p in PARAMS.values() if p.leans and p.name not in chosen]


def compute_answer(res: Results, phases: list[tuple[str, str, pd.DataFrame]], dec: dict | None, dec_note: str = "") -> dict:
    """answer.json's content for a results folder."""
    main = res.analysis.get("main", res.scenarios[0])
    phase_json = []
    for x, y, cells in phases:
        if cells.empty:
            continue
        keep = [
            c
            for c in (x, y, "mean_diff", "ci_low", "ci_high", "half_width", "n_pairs", "p_value", "p_adjusted", "significant", "adequate")
            + ("replications_needed", "mechanism")
            if c in cells
        ]
        phase_json.append(
            {
                "x": x,
                "y": y,
                "scenario": main,
                "outcome": f"{phase_outcome(res, x, y, cells)}, {res.treatment} − {res.reference}",
                "correction": correction_name(res.analysis),
                "tolerance": cell_tolerance(res.analysis),
                "replications": replications_of(res),
                "replications_needed": int(cells["replications_needed"].max()) if "replications_needed" in cells else None,
                "cells": json.loads(cells[keep].to_json(orient="records")),
            }
        )
    return answer.build_answer(
        res.runs,
        name=res.spec["name"],
        fingerprint=res.manifest.get("fingerprint", ""),
        arms=res.arms,
        scenarios=res.scenarios,
        horizons={s: res.horizon(s) for s in res.scenarios},
        analysis=res.analysis,
        decompositions=[d for d in map(decompose.public, decompose.all_of(dec)) if d is not None],
        discovery=run_discovery(res),
        phase=phase_json,
        versions=res.manifest.get("versions"),
        design=str(res.spec.get("design", "grid")),
        decomposition_note=dec_note,
        leaning=leaning_defaults(res),
    )


def phase_outcome(res: Results, x: str, y: str, cells: pd.DataFrame) -> str:
    """What a phase diagram's cells measure: the window of the shift is fixed unless it is an axis."""
    if "window" not in (x, y) or "window" not in cells or cells.empty:
        return f"P(agreement within {res.window} rounds of the shift)"
    lo, hi = cells["window"].min(), cells["window"].max()
    return f"P(agreement within the window of the shift; the window varies along the axis, {lo:g}–{hi:g} rounds)"


def component_kind(c: dict) -> str:
    """A decomposition component's kind as the report names it: set by the reopen event (by
    construction), else a carry-over or a cost of staying open."""
    return "set by the reopen event" if c.get("by_construction") else str(c.get("kind") or "—")


def add_mechanisms(phases: list[tuple[str, str, pd.DataFrame]], dec: dict | None) -> list[tuple[str, str, pd.DataFrame]]:
    """Each phase cell's mechanism from the transplant decomposition (soon after the shift)."""
    if dec is None:
        return phases
    kinds = {c["name"]: component_kind(c) for c in dec.get("soon", {}).get("components", [])}
    out = []
    for x, y, cells in phases:
        if "window" in (x, y):
            cells = cells.assign(
                mechanism_missing=f"the transplant decomposition is not run per window (this diagram's axis): it is computed "
                f"once, for agreement up to round {dec.get('soon', {}).get('last_round', '?')}"
            )
            out.append((x, y, cells))
            continue
        m = decompose.cell_mechanisms(dec, x, y)
        if len(m):
            cells = cells.merge(m[[x, y, "mechanism"]], on=[x, y], how="left")
            names = cells["mechanism"].map(lambda v: v.rpartition(" (")[0] if isinstance(v, str) else None)
            cells["mechanism_kind"] = names.map(lambda n: kinds.get(n, np.nan) if n else np.nan)
            cells["mechanism_missing"] = cells["mechanism"].map(
                lambda v: None if isinstance(v, str) else "the transplant decomposition has no pair in this cell"
            )
        else:
            cells = cells.assign(mechanism_missing=f"the transplant decomposition's design does not sweep {x} × {y}")
        out.append((x, y, cells))
    return out


def _estimands_table(ans: dict) -> pd.DataFrame:
    rows = []
    for r in ans["estimands"]:
        f = answer._ci
        rows.append(
            {
                "scenario": r["scenario"],
                "comparison": f"{r['arm']} − {r['reference']}",
                "condition": r["condition"] or "all",
                "pairs": r["n_pairs"],
                f"Δ P(agreement within {r['soon']['k']} rounds)": f(r["soon"]),
                "Δ P(agreement by the horizon)": f(r["by_horizon"]),
                "Δ restricted mean rounds": f(r["rmst"], "+.2f"),
                "Δ rounds, both agree": f(r["earlier"], "+.2f"),
                "pre-shift agreements (arm/ref)": f"{r['before_shift']['arm']}/{r['before_shift']['reference']}",
            }
        )
    return pd.DataFrame(rows)


def _decomposition_html(decs: list[dict], note: str, figs: Sequence[Path | None]) -> str:
    """One block per decomposition, in the order of the declared recipients: a heading with its
    recipient, what it measures, its sentences, the method and components, the figure and table."""
    if not decs:
        return f"<p><em>{html.escape(note)}</em></p>"
    out = ""
    for i, (dec, fig) in enumerate(zip(decs, figs, strict=True)):
        kind = "net of the restart rules" if not dec["by_construction"] else "including the restart rules"
        out += (
            f"<h4>{html.escape(dec['donor'])} → {html.escape(dec['recipient'])} ({kind})</h4>"
            f"<p>{html.escape(dec.get('measures', ''))}"
            + (" The phase cells' mechanisms below come from this decomposition." if i == 0 and len(decs) > 1 else "")
            + "</p>"
            + _items(decompose.sentences(dec))
            + _one_decomposition_html(dec, fig)
        )
    return out


EXACT_TOLERANCE = decompose.EXACT_TOLERANCE  # the decomposition counts as exact within it
#: The decomposition's windows, as :func:`sim.analysis.decompose.sentences` names them.
_WINDOWS = (("soon", "soon after the shift"), ("by_horizon", "by the horizon"))


def _exactness_sentence(dec: dict) -> str:
    """Whether the Shapley contributions add up to the total and the full transplant reproduces the
    donor run, from the numbers of every window the decomposition holds: "exactly" / "reproduces"
    only when the largest of them is at floating-point level (:data:`EXACT_TOLERANCE`)."""
    windows = [(label, dec[key]) for key, label in _WINDOWS if key in dec]
    errors = [float(part["additivity_error"]) for _, part in windows]
    gaps = [float(part["transplant_gap"]) for _, part in windows]

    def listed(xs: list[float]) -> str:
        return ", ".join(f"{x:.2g} {label}" for x, (label, _) in zip(xs, windows, strict=True))

    donor = f"the donor ({dec['donor']}) run"
    if max(errors) <= EXACT_TOLERANCE:
        adds = f"Shapley contributions add up to the total exactly (largest per-pair error {listed(errors)})"
    else:
        adds = f"Shapley contributions do NOT add up to the total: the largest per-pair error is {listed(errors)}"
    if max(gaps) <= EXACT_TOLERANCE:
        full = f"a full transplant reproduces {donor} (mean gap {listed(gaps)})"
    else:
        full = f"a full transplant does NOT reproduce {donor} (mean gap {listed(gaps)})"
    exact = max(errors + gaps) <= EXACT_TOLERANCE
    return f"{adds}; {full}" + ("." if exact else ": the decomposition is not exact.")


def _one_decomposition_html(dec: dict, fig: Path | None) -> str:
    rows = []
    for key, _ in _WINDOWS:
        if key not in dec:
            continue
        part = dec[key]
        for c in part["components"]:
            rows.append(
                {
                    "window": key,
                    "component": c["name"],
                    "kind": component_kind(c),
                    "by construction": "yes" if c["by_construction"] else "no",
                    "differs in pairs": f"{c.get('differs_in_pairs', '')}/{dec['pairs']}",
                    "Shapley contribution": answer._ci(c["shapley"], "+.3f"),
                    "transplanted alone": answer._ci(c["single"], "+.3f"),
                }
            )
        na = {"kind": "—", "by construction": "—", "differs in pairs": "—", "Shapley contribution": "—", "transplanted alone": "—"}
        rows.append(
            {"window": key, "component": "interaction (total − Σ alone)"}
            | na
            | {"transplanted alone": answer._ci(part["interaction"], "+.3f")}
        )
        rows.append(
            {"window": key, "component": "TOTAL (all transplanted − none)"}
            | na
            | {"Shapley contribution": answer._ci(part["total"], "+.3f")}
        )
    descr = dec.get("descriptions", {})
    fields = "; ".join(f"{k} — {descr.get(k, '')} ({', '.join(v)})" for k, v in dec["components"].items())
    unattributed = dec.get("unattributed") or {}
    gap = (
        " State set only by events differs between the arms at the transplant round and is not attributed to any component: "
        + ", ".join(f"{f} in {n} pairs" for f, n in unattributed.items())
        + "."
        if unattributed
        else " No state outside the components differs between the arms at the transplant round (the channel status, "
        "regime, line, gatekeeping and follow-up, set only by events, are equal in every pair)."
    )
    chosen = f" {dec['components_note']};" if dec.get("components_note") else ""
    return (
        f"<p>{html.escape(dec['method'])}. {dec['pairs']} pairs of {html.escape(dec['donor'])} and {html.escape(dec['recipient'])} in "
        f"{html.escape(dec['scenario'])}. {html.escape(_exactness_sentence(dec))} "
        f"One component per carry-over and per cost of staying open (ODD §1):{html.escape(chosen)} "
        f"what each holds: {html.escape(fields)}.{html.escape(gap)}</p>" + (_img(fig) if fig else "") + _table(pd.DataFrame(rows))
    )


def _discovery_html(disc: dict | None) -> str:
    if not disc:
        return "<p><em>No scenario discovery: it needs two arms and swept parameters.</em></p>"
    rows = []
    for key in ("soon", "by_horizon"):
        d = disc[key]
        for cls in discovery.CLASSES:
            for b in d["boxes"][cls] or [{"rule": "(no box found)"}]:
                rows.append(
                    {
                        "window": f"{key} (to round {d['last_round']})",
                        "class": f"{cls} ({d['counts'][cls]} points)",
                        "rule": b["rule"],
                        "coverage": f"{b['coverage']:.0%}" if "coverage" in b else "–",
                        "density": f"{b['density']:.0%}" if "density" in b else "–",
                        "mass": f"{b['mass']:.0%}" if "mass" in b else "–",
                        "held-out effect": answer.held_out_text(b).removeprefix("held-out effect ") if "held_out" in b else "–",
                        "confirmed": ("yes" if b["held_out"]["confirmed"] else "no") if "held_out" in b else "–",
                        "found again": f"{b['stability']:.0%}" if b.get("stability") is not None else "–",
                    }
                )
    d = disc["soon"]
    return (
        f"<p>{html.escape(disc['method'])}; margin ±{d['margin']:g}. Split: {html.escape(d['split'])} "
        f"({d['discovery_pairs']} pairs to find the boxes, {d['held_out_pairs']} to test them, at the family-wise level "
        f"{d['level']:.4g} soon and {disc['by_horizon']['level']:.4g} by the horizon: 0.95 over the window's boxes). "
        "An unconfirmed box may be noise: with no effect anywhere, PRIM on point means "
        "finds boxes in most runs; the verdict names confirmed boxes only.</p>" + _table(pd.DataFrame(rows))
    )


# ---------------------------------------------------------------- HTML

#: The report's sections in the order a reader asks: (id, heading).
TOC = [
    ("answer", "Answer"),
    ("effect", "Effect over time"),
    ("conditions", "Where it holds: conditions"),
    ("mechanisms", "Why: mechanisms"),
    ("cases", "Case studies"),
    ("sensitivity", "Sensitivity"),
    ("adequacy", "Replication adequacy"),
    ("experiment", "Experiment specification"),
]
SECTIONS = [s for s, _ in TOC]

CSS = (
    "body{font-family:sans-serif;max-width:1180px;margin:1em auto;padding:0 16px;line-height:1.4;color:#222}"
    "h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.25em;border-bottom:1px solid #ccc;margin-top:1.6em}"
    "p.meta{margin:.2em 0 .6em;color:#444;font-size:14px}"
    "#answer .box{display:grid;grid-template-columns:minmax(0,5fr) minmax(0,6fr);gap:16px;align-items:start;"
    "background:#f3f7fb;border:2px solid #2b6cb0;border-radius:6px;padding:10px 14px}"
    "#answer .box h2{border:0;margin:.1em 0 .3em}#answer .box ul{margin:0;padding-left:1.1em;font-size:14px}"
    "#answer .box li{margin-bottom:.35em}#answer figure{margin:0}"
    "@media (max-width:900px){#answer .box{grid-template-columns:1fr}}"
    "nav.toc{font-size:14px;margin:.8em 0}nav.toc ol{display:flex;flex-wrap:wrap;gap:4px 18px;padding-left:1.2em;margin:0}"
    ".tw{max-width:100%;overflow-x:auto}"
    "table.t{border-collapse:collapse;font-size:13px;width:100%;table-layout:auto}"
    "table.t td,table.t th{padding:3px 6px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top;"
    "overflow-wrap:anywhere}table.t th{background:#f4f4f4;font-weight:600}"
    "figure{margin:1em 0}img{max-width:100%;height:auto}"
    "details{margin:1em 0}summary{cursor:pointer;font-weight:600}"
    "pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px;white-space:pre-wrap}"
)


def _img(path: Path) -> str:
    b64 = base64.b64encode(path.read_bytes()).decode()
    return f'<figure><img alt="{html.escape(path.stem)}" src="data:image/png;base64,{b64}"/></figure>'


def _table(df: pd.DataFrame | None) -> str:
    if df is None or df.empty:
        return "<p><em>No rows.</em></p>"
    return "<div class='tw'>" + df.to_html(index=False, float_format=lambda v: f"{v:.3g}", border=0, classes="t") + "</div>"


def _items(lines: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in lines) + "</ul>" if lines else ""


# number formats, one per quantity: probabilities as percentages, differences in probability as
# signed two-decimal fractions (as in the summary and the phase diagrams), familiarity and
# cynicism (0–1 scales) with two decimals, costs and counts of ideas with one.


def _pct(v: float) -> str:
    return f"{v:.0%}" if np.isfinite(v) else "–"


def _diff(v: float) -> str:
    return _signed(v) if np.isfinite(v) else "–"


def _num(v: float, decimals: int) -> str:
    return f"{v:.{decimals}f}" if np.isfinite(v) else "–"


def effect_size_words(d_z: float) -> str:
    """Cohen's d_z for the table; undefined (zero spread of the paired differences) said in words."""
    return f"{d_z:.2f}" if np.isfinite(d_z) else "undefined: every pair differs by the same amount"


def effects_display(effects: pd.DataFrame) -> pd.DataFrame:
    """The paired effects as shown: a difference in probability as ±0.00, a cost difference with
    one decimal, and Cohen's d_z (or why it is undefined)."""
    if effects.empty:
        return effects
    rows = []
    for _, e in effects.iterrows():
        prob = str(e["outcome"]).startswith("P(")
        f = _diff if prob else (lambda v: f"{v:+.1f}")
        rows.append(
            {
                "scenario": e["scenario"],
                "outcome": e["outcome"] + (" (difference in probability)" if prob else " (difference, cost units)"),
                "arm − reference": f"{e['arm']} − {e['reference']}",
                "mean difference": f(e["mean_diff"]),
                "95% CI": f"[{f(e['ci_low'])}, {f(e['ci_high'])}]",
                "pairs": int(e["n_pairs"]),
                "Cohen's d_z": effect_size_words(e["d_z"]),
            }
        )
    return pd.DataFrame(rows)


def cells_display(cells: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """A phase diagram's cells as shown, with readable column names and one format per quantity."""
    if cells.empty:
        return cells
    out = pd.DataFrame({x: cells[x].map(lambda v: f"{v:g}"), y: cells[y].map(lambda v: f"{v:g}")})
    out["paired difference in probability [95% CI]"] = [
        f"{_diff(m)} [{_diff(lo)}, {_diff(hi)}]" for m, lo, hi in zip(cells["mean_diff"], cells["ci_low"], cells["ci_high"], strict=True)
    ]
    out["pairs"] = cells["n_pairs"].astype(int)
    if cells["p_treatment"].notna().any():
        out["P(agreement in window), treatment vs reference"] = [
            f"{_pct(a)} vs {_pct(b)}" for a, b in zip(cells["p_treatment"], cells["p_reference"], strict=True)
        ]
    out["trust at the shift, treatment vs reference"] = [
        f"{_num(a, 2)} vs {_num(b, 2)}" for a, b in zip(cells["trust_at_shift_treatment"], cells["trust_at_shift_reference"], strict=True)
    ]
    out["cynicism at the shift, treatment vs reference"] = [
        f"{_num(a, 2)} vs {_num(b, 2)}"
        for a, b in zip(cells["cynicism_at_shift_treatment"], cells["cynicism_at_shift_reference"], strict=True)
    ]
    out["ideas reported per treatment run"] = cells["ideas_treatment"].map(lambda v: _num(v, 1))
    if "significant" in cells:
        out["p (adjusted)"] = cells["p_adjusted"].map(lambda v: f"{v:.3g}")
        out["significant"] = cells["significant"].map({True: "yes", False: "no"})
        out["decided or precise"] = cells["adequate"].map({True: "yes", False: "no: more replications"})
    if "replications_needed" in cells:
        out["CI half-width"] = cells["half_width"].map(lambda v: f"±{v:.3f}")
        out["replications needed"] = cells["replications_needed"].map(lambda v: "∞" if not np.isfinite(v) else f"{v:.0f}")
    if "mechanism" in cells or "mechanism_missing" in cells:
        out["largest component (transplant)"] = [
            mechanism_words(c).removeprefix("the transplant decomposition's largest component: ") for _, c in cells.iterrows()
        ]
    return out


def adequacy_display(adequacy: pd.DataFrame) -> pd.DataFrame:
    """Replication adequacy as shown: shares of runs as percentages, half-widths of probabilities
    with three decimals, costs with one decimal."""
    if adequacy.empty:
        return adequacy
    rows = []
    for _, a in adequacy.iterrows():
        prob = a["outcome"] in ("in_window", "agreement")
        rows.append(
            {
                "scenario": a["scenario"],
                "arm": a["arm"],
                "outcome": {"in_window": "P(agreement in the window)", "agreement": "P(agreement by the horizon)"}.get(
                    a["outcome"], a["outcome"]
                ),
                "mean": _pct(a["mean"]) if prob else _num(a["mean"], 1),
                "CI half-width": f"±{a['half_width']:.3f}" if prob else f"±{a['half_width']:.1f}",
                "tolerance": f"±{a['tolerance']:.3f}" if prob else f"±{a['tolerance']:.1f}",
                "runs": int(a["n"]),
                "adequate": "yes" if a["adequate"] else "no",
            }
        )
    return pd.DataFrame(rows)


def ranking_display(ranking: pd.DataFrame) -> pd.DataFrame:
    """The ranking as shown: differences as signed two-decimal fractions (more decimals where a nonzero
    one would read ±0.00), and "—" where a column does not apply (the treatment against itself)."""
    if ranking.empty:
        return ranking
    out = ranking.copy()
    for col in out.columns:
        if col in ("rank", "pairs"):
            continue
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].map(_signed)
        else:
            out[col] = out[col].map(lambda v: "—" if v is None or (isinstance(v, float) and not np.isfinite(v)) else v)
    return out


def sensitivity_display(idx: pd.DataFrame | None) -> pd.DataFrame | None:
    if idx is None or idx.empty:
        return idx
    return idx.assign(**{c: idx[c].map(lambda v: _num(v, 3)) for c in idx.columns if c not in ("parameter", "pair", "output")})


def _second_order_html(idx: pd.DataFrame | None) -> str:
    """The second-order indices of a Sobol design with ``second_order = true``, if any."""
    pairs = None if idx is None else idx.attrs.get("second_order")
    if pairs is None or pairs.empty:
        return ""
    return (
        "<h3>Second-order indices</h3><p>S_jk of each pair of parameters (Saltelli 2002), of the same function as the "
        "indices above (noise-corrected), with 95% bootstrap half-widths over base samples.</p>" + _table(sensitivity_display(pairs))
    )


def sort_findings(lines: list[str]) -> dict[str, list[str]]:
    """The summary's sentences by the section that answers their question (answer, conditions,
    mechanisms, cases, adequacy)."""
    out: dict[str, list[str]] = {"answer": [], "conditions": [], "mechanisms": [], "cases": [], "adequacy": []}
    for s in lines:
        if s.startswith("—"):
            out["mechanisms"].append(s)
        elif s.startswith(("Over ", HELD_AT_DEFAULT)):
            out["conditions"].append(s)
        elif s.startswith("Case study"):
            out["cases"].append(s)
        elif s.startswith(("Replication warning", "Every reported estimate", "Sobol indices")):
            out["adequacy"].append(s)
        else:
            out["answer"].append(s)
    return out


def _section(sid: str, body: str) -> str:
    return f"<section id='{sid}'><h2>{html.escape(dict(TOC)[sid])}</h2>{body}</section>"


def build_report(
    results: str | Path,
    out: str | Path | None = None,
    cases: Sequence[CaseResult] = (),
    decomposition: tuple[dict | None, str] | None = None,
) -> Path:
    """Write ``report.html`` and ``answer.json`` (and the figures under ``figures/``) for a results folder.

    ``cases`` are case-study results computed beforehand (:func:`sim.analysis.cases.run_cases`,
    as ``dialogue-sim report`` does), and so is ``decomposition`` ((result, note) of
    :func:`sim.analysis.decompose.run_declared`); the report itself runs no simulation."""
    res = Results.load(results)
    incomplete = describe_status(status(res.path))  # None when every run is there
    target = Path(out) if out else res.path / "report.html"
    figdir = target.parent / "figures"
    outcomes = outcome_table(res)
    effects = effects_table(res) if len(res.arms) > 1 else pd.DataFrame()
    figs = make_figures(res, figdir)
    dec, dec_note = decomposition or (
        None,
        "No decomposition was computed: dialogue-sim report computes it where the experiment declares [analysis.decomposition].",
    )
    phases, phase_paths = phase_diagrams(res, figdir)
    phases = add_mechanisms(phases, dec)
    sens, sens_paths, sens_note = sensitivity(res, figdir)
    adequacy = stats.replication_adequacy(res.with_window(), ["in_window", "agreement", "cost"])
    case_results = list(cases)
    lines = summary(res, effects, phases, adequacy, case_results)
    if sens is not None and "output" in sens.columns:  # the Sobol verdict, computed from the indices' numbers
        lines.append(sens_note)
    ranking_html = ""
    if len(res.arms) >= 3:  # policies side by side: rank them pair by pair (sim.analysis.ranking)
        ranked = res.with_window()
        ranking = rank_arms(ranked, res.reference, res.treatment, fmt=_signed)
        lines.insert(1, ranking_sentence(ranking, ranked, res.reference))
        ranking_html = (
            "<h3>Ranking of the arms</h3><p>Each arm against the reference, pair by pair (in_window: agreement "
            f"within the window; peak_progress), and the treatment ({html.escape(res.treatment)}) against each "
            "arm: what it loses without that arm's part (— for the treatment against itself). 95% bootstrap CIs.</p>"
            + _table(ranking_display(ranking))
        )
    found = sort_findings(lines)
    ans = compute_answer(res, phases, dec, dec_note)
    answer.write_answer(ans, answer_path(target))
    n_fail = int((res.runs["status"] != "ok").sum())
    pr = ans["primary"]
    shown, other_rows = primary_and_others(ans)
    effect_fig = effect_figures.effect_curve_figure(
        shown, figdir, "Δ(t): pointwise and simultaneous 95% bands", "answer-effect", figsize=(6.4, 3.9)
    )
    other_fig = (
        effect_figures.effect_curve_figure(other_rows, figdir, "Δ(t) of every other comparison and condition", "effect-curves-all")
        if other_rows
        else None
    )
    dec_figs = [
        effect_figures.decomposition_figure(d, figdir, "decomposition" if i == 0 else f"decomposition-{d['recipient']}")
        for i, d in enumerate(ans["decompositions"])
    ]
    toc = "<nav class='toc'><b>Contents</b><ol>" + "".join(f"<li><a href='#{s}'>{html.escape(t)}</a></li>" for s, t in TOC) + "</ol></nav>"
    answer_box = answer.answer_html(ans, _img(effect_fig))
    effect = (
        "<h3>Grid averages and checks</h3>"
        + _items(found["answer"])
        + f"<p>Paired differences ({html.escape(res.treatment)} − {html.escape(res.reference)}, same seeds) per "
        "round, then each arm's mean with its 95% CI band; the table gives each arm's outcomes and the paired "
        f"effects in every scenario (the answer above is for {html.escape(pr['scenario'])}).</p>"
        + "".join(_img(p) for p in figs["curves"])
        + "".join(_img(p) for p in figs["survival"])
        + "<h3>Outcomes by scenario and arm</h3><p>Probabilities with 95% bootstrap CIs; time to agreement by "
        "Kaplan–Meier from the shift (the shift round is the first), runs without agreement censored at the horizon, "
        "agreements before the shift left out.</p>"
        + _table(outcomes)
        + "<h3>Paired effects</h3><p>Differences between arms computed pair by pair (common random numbers), mean "
        "with 95% bootstrap CI and Cohen's d<sub>z</sub> (undefined when every pair differs by the same amount).</p>"
        + _table(effects_display(effects))
        + "<h3>Estimands: every comparison and condition</h3><p>Every comparison in every scenario, and the primary "
        "comparison under each declared "
        "condition; pairs with an agreement before the shift are left out (counted in the last column). "
        + html.escape(ans["bootstrap"])
        + ".</p>"
        + _table(pd.DataFrame([{"estimand": k, "rationale": v} for k, v in ans["estimands_declared"].items()]))
        + _table(_estimands_table(ans))
        + (_img(other_fig) if other_fig else "")
        + ranking_html
    )
    conditions = (
        "<h3>Scenario discovery</h3>"
        + _discovery_html(ans["discovery"])
        + "<h3>Phase diagrams</h3>"
        + _items(found["conditions"])
        + "".join(_img(p) for p in phase_paths)
        + (
            ""
            if phases
            else "<p><em>No phase diagrams: they need two or more arms and two swept parameters "
            "(or [analysis] phase = [] turned them off).</em></p>"
        )
    )
    mechanisms = (
        "<h3>What carries the payoff: state transplant</h3>"
        + _decomposition_html(ans["decompositions"], dec_note, dec_figs)
        + "<h3>Per phase cell</h3><p>For each cell where the effect is not positive, the component with the largest "
        "transplant contribution in that cell's pairs (its CI excluding zero), with its kind: a carry-over, a cost of "
        "staying open, or set by the reopen event.</p>"
        + (_items(found["mechanisms"]) or "<p><em>No cells where the claim fails.</em></p>")
        + "".join(f"<h3>{html.escape(x)} × {html.escape(y)}</h3>" + _table(cells_display(c, x, y)) for x, y, c in phases)
    )
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>Report: {html.escape(res.spec['name'])}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{html.escape(res.spec['name'])}: {html.escape(res.spec.get('description', ''))}</h1>",
        (f"<p class='meta'><b>Incomplete sweep</b>: {html.escape(incomplete)}</p>" if incomplete else ""),
        f"<p class='meta'>{len(res.runs)} runs ({n_fail} failed); window: {res.window} rounds from the shift at round "
        f"{res.shift}; arms compared pair by pair with <b>{html.escape(res.reference)}</b> (same seeds).</p>",
        answer_box,
        toc,
        _section("effect", effect),
        _section("conditions", conditions),
        _section("mechanisms", mechanisms),
        _section("cases", _items(found["cases"]) + _cases_html(case_results)),
        _section(
            "sensitivity",
            f"<p>{html.escape(sens_note)}</p>"
            + "".join(_img(p) for p in sens_paths)
            + _table(sensitivity_display(sens))
            + _second_order_html(sens),
        ),
        _section(
            "adequacy",
            _items(found["adequacy"]) + "<p>95% CI half-width per estimate; <code>adequate</code> is no where it exceeds "
            "the tolerance (0.05 for probabilities, 5% of the mean otherwise).</p>" + _table(adequacy_display(adequacy)),
        ),
        _section(
            "experiment",
            "<details><summary>The experiment as run (JSON) and software versions</summary><pre>"
            + html.escape(json.dumps(res.spec, indent=2))
            + "</pre>"
            f"<p>Versions: {html.escape(json.dumps(res.manifest.get('versions', {})))}</p></details>",
        ),
        "</body></html>",
    ]
    atomic_write(target, "\n".join(parts).encode())  # a temporary name of its own: never a user's file
    return target


def primary_and_others(ans: dict) -> tuple[list[dict], list[dict]]:
    """The estimands row the answer box plots (the answer's primary comparison: arm − reference in
    its main scenario, no condition), and every other row (the "every other comparison" figure)."""
    pr = ans["primary"]
    row = estimands.find(ans["estimands"], pr["scenario"], pr["arm"], pr["reference"])
    shown = [row] if row is not None else ans["estimands"][:1]
    return shown, [r for r in ans["estimands"] if not any(r is x for x in shown)]


def answer_path(target: Path) -> Path:
    """answer.json beside the HTML (``NAME.answer.json`` for a report not named report.html)."""
    return target.with_name("answer.json" if target.name == "report.html" else f"{target.stem}.answer.json")


def _cases_html(case_results: list) -> str:
    if not case_results:
        return "<p><em>Case studies not run.</em></p>"
    rows = [
        {
            "case": c.case.name,
            "scenario": c.case.scenario,
            "pattern": c.case.pattern,
            "source": c.case.source,
            "reproduced": "yes" if c.reproduced else "no",
            "evidence": c.evidence,
            "runs": c.runs,
        }
        for c in case_results
    ]
    return _table(pd.DataFrame(rows))

"""The report of a sweep: one self-contained HTML file with the spec, tables, figures and a
plain-language summary computed from the numbers (no verdict is written in advance).
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis import figures, stats
from sim.batch.sweep import read_runs, read_timeseries
from sim.core.params import PARAMS

SECTIONS = ["summary", "experiment", "outcomes", "effects", "curves", "survival", "phase", "sensitivity", "adequacy", "cases"]


@dataclass
class Results:
    """A results folder loaded for analysis."""

    path: Path
    manifest: dict
    runs: pd.DataFrame
    ts: pd.DataFrame
    spec: dict = field(init=False)
    _windowed: dict = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.spec = self.manifest["experiment"]

    @classmethod
    def load(cls, path: str | Path) -> Results:
        path = Path(path)
        manifest = json.loads((path / "manifest.json").read_text())
        return cls(path, manifest, read_runs(path), read_timeseries(path))

    @property
    def analysis(self) -> dict:
        return self.spec.get("analysis", {})

    @property
    def arms(self) -> list[str]:
        return [a["name"] for a in self.spec["arms"]]

    @property
    def scenarios(self) -> list[str]:
        return list(self.spec["scenarios"])

    @property
    def shift(self) -> int:
        return int(self.analysis.get("shift_round", 0))

    @property
    def window(self) -> int:
        return int(self.analysis.get("window", 10))

    @property
    def reference(self) -> str:
        return self.analysis.get("reference", self.arms[-1])

    @property
    def treatment(self) -> str:
        return self.analysis.get("treatment", self.arms[0])

    def horizon(self, scenario: str) -> int:
        return int(self.manifest["horizons"][scenario])

    def with_window(self, w: int | None = None) -> pd.DataFrame:
        """The runs table with ``in_window``: agreement within ``w`` rounds from the shift (rounds
        shift … shift + w − 1), and ``before_shift``. Computed once per window; do not modify it."""
        w = self.window if w is None else w
        if w in self._windowed:
            return self._windowed[w]
        r = self.runs.copy()
        ar = r["agreement_round"].astype(float)
        r["in_window"] = ((ar >= self.shift) & (ar < self.shift + w)).astype(float)
        r["before_shift"] = (ar < self.shift).astype(float)
        r.loc[r["status"] != "ok", ["in_window", "before_shift"]] = np.nan
        self._windowed[w] = r
        return r


# ---------------------------------------------------------------- tables


def outcome_table(res: Results) -> pd.DataFrame:
    r = res.with_window()
    rows = []
    for (sc, arm), g in r[r["status"] == "ok"].groupby(["scenario", "arm"], sort=False):
        p = stats.bootstrap_ci(g["in_window"])
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
        e = stats.bootstrap_ci(g["diff"].to_numpy())
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


def mechanism(cell: pd.Series, x: str, y: str) -> str:
    """Name, from the cell's own numbers, why keeping the channel open did not pay there."""
    pt, pr = cell.get("p_treatment", np.nan), cell.get("p_reference", np.nan)
    tt, tr = cell.get("trust_at_shift_treatment", np.nan), cell.get("trust_at_shift_reference", np.nan)
    ideas = cell.get("ideas_treatment", np.nan)
    facts = f"trust at the shift {tt:.2f} kept open vs {tr:.2f} restarted"
    if np.isfinite(pt) and np.isfinite(pr):
        facts += f"; P(agreement in the window) {pt:.0%} vs {pr:.0%}"
    ct, cr = cell.get("cynicism_at_shift_treatment", np.nan), cell.get("cynicism_at_shift_reference", np.nan)
    if np.isfinite(pt) and np.isfinite(pr) and pt >= 0.9 and pr >= 0.9:
        return f"ceiling: both arms reach agreement, the restarted channel catches up within the window ({facts})"
    if np.isfinite(tt) and tt < 0.15:
        return (
            f"familiarity did not survive the lean years: turnover, lost handover or fatigue wiped the stock the "
            f"kept-open channel should carry ({facts})"
        )
    if np.isfinite(ct) and np.isfinite(cr) and ct - cr > 0.2:
        return (
            f"cynicism built up in the lean years: the kept-open channel's sides discount what it sends upward "
            f"(cynicism at the shift {ct:.2f} kept open vs {cr:.2f} restarted; {facts})"
        )
    if np.isfinite(tt) and np.isfinite(tr) and tt - tr < 0.05:
        return f"little familiarity advantage at the shift ({facts})"
    if np.isfinite(pt) and np.isfinite(pr) and pt <= 0.05 and pr <= 0.05:
        return f"no arm reaches agreement in the window: reporting or win-sets bind ({facts}; {ideas:.1f} ideas reported per run)"
    return f"a familiarity advantage at the shift that does not turn into agreements in time ({facts})"


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
        verdict = (
            "so, on average over the swept conditions, the claim holds in this experiment"
            if e["ci_low"] > 0
            else "so, on average, the claim fails here: the kept-open channel did worse"
            if e["ci_high"] < 0
            else "so the data do not support the claim: the difference cannot be told from zero"
        )
        out.append(
            f"In {main}, keeping the channel open ({res.treatment}) rather than {res.reference} changed the "
            f"probability of agreement within {w} rounds of the shift from {pr:.0%} to {pt:.0%} "
            f"(paired difference {e['mean_diff']:+.2f}, 95% CI [{e['ci_low']:+.2f}, {e['ci_high']:+.2f}], "
            f"{int(e['n_pairs'])} pairs), {verdict}."
        )
        c = effects[(effects["scenario"] == main) & (effects["arm"] == res.treatment) & (effects["outcome"] == "cost")]
        if len(c):
            ct = g[g["arm"] == res.treatment]["cost"].mean()
            cr = g[g["arm"] == res.reference]["cost"].mean()
            extra = pt - pr
            per = f"; about {(ct - cr) / extra:.0f} cost units per additional agreement" if extra > 0.005 else ""
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
                    parts.append(f"{name} = {default:g}: {e3['mean_diff']:+.2f} [{e3['ci_low']:+.2f}, {e3['ci_high']:+.2f}]")
        if parts:
            out.append("The same paired difference with one swept parameter held at its default (95% CI): " + "; ".join(parts) + ".")
    for arm in res.arms:
        if arm in (res.treatment, res.reference):
            continue
        e2 = effects[(effects["scenario"] == main) & (effects["arm"] == arm) & (effects["outcome"] == label)]
        if len(e2):
            e2 = e2.iloc[0]
            out.append(
                f"Compared with {res.reference}, {arm} differs by {e2['mean_diff']:+.2f} "
                f"(95% CI [{e2['ci_low']:+.2f}, {e2['ci_high']:+.2f}]) in that probability."
            )
    if "placebo" in a:
        g = r[(r["scenario"] == a["placebo"]) & (r["arm"] == res.treatment)]
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
        g = r[r["scenario"] == a["one_sided"]]
        pt = g[g["arm"] == res.treatment]["agreement"].mean()
        ideas = g[g["arm"] == res.treatment]["ideas_reported"].mean()
        out.append(
            f"After a one-sided shift ({a['one_sided']}), the kept-open channel reached agreement in {pt:.0%} "
            f"of runs while carrying {ideas:.1f} ideas upward per run: "
            + (
                "transfer fails without a serious counterpart (as the agreement rule requires: a consistency check)."
                if pt < 0.05
                else "some transfer happens."
            )
        )
    for x, y, cells in phases:
        if cells.empty:
            continue
        holds = cells[cells["ci_low"] > 0]
        rev = cells[cells["ci_high"] < 0]
        flat = cells[(cells["ci_low"] <= 0) & (cells["ci_high"] >= 0)]
        s = (
            f"Over {x} × {y} ({main}, averaged over the other swept parameters), the claim holds (CI above zero) "
            f"in {len(holds)} of {len(cells)} cells, reverses (CI below zero) in {len(rev)} and is inconclusive in "
            f"{len(flat)}."
        )
        if len(holds):
            s += (
                " It holds at "
                + "; ".join(f"{y} = {yv:g} with {x} = {', '.join(f'{v:g}' for v in sorted(g[x]))}" for yv, g in holds.groupby(y, sort=True))
                + "."
            )
        s += (
            f" Each cell has its own 95% CI, so about {0.05 * len(cells):.1f} of the {len(cells)} cells would "
            "exclude zero by chance alone if keeping the channel open made no difference anywhere."
        )
        out.append(s)
        for _, c in pd.concat([rev, flat]).head(6).iterrows():
            out.append(
                f"— Where {x} = {c[x]:g} and {y} = {c[y]:g} (difference {c['mean_diff']:+.2f}, CI "
                f"[{c['ci_low']:+.2f}, {c['ci_high']:+.2f}]), a mechanism consistent with the cell's numbers: "
                f"{mechanism(c, x, y)}."
            )
        if len(rev) + len(flat) > 6:
            out.append(f"— … and {len(rev) + len(flat) - 6} more cells where it does not hold (see the phase diagram).")
    bad = adequacy[~adequacy["adequate"]] if len(adequacy) else adequacy
    if len(bad):
        out.append(
            f"Replication warning: {len(bad)} of {len(adequacy)} estimates have a CI half-width above their "
            f"tolerance (e.g. {bad.iloc[0]['outcome']} in {bad.iloc[0]['scenario']}/{bad.iloc[0]['arm']}: "
            f"±{bad.iloc[0]['half_width']:.3f}); run more replications before relying on them."
        )
    else:
        out.append("Every reported estimate is within its replication tolerance.")
    for cr in case_results:
        out.append(
            f"Case study — {cr.case.name} ({cr.case.scenario}): {'reproduced' if cr.reproduced else 'NOT reproduced'}; {cr.evidence}."
        )
    return out


def _ci(e: stats.Estimate, pct: bool = False) -> str:
    if pct:
        return f"{e.value:.0%} [{e.low:.0%}, {e.high:.0%}]"
    return f"{e.value:.1f} [{e.low:.1f}, {e.high:.1f}]"


# ---------------------------------------------------------------- figures


def make_figures(res: Results, out: Path, metrics: list[str] | None = None, by: str = "arm") -> dict[str, list[Path]]:
    """Every figure of the report, saved under ``out`` (PNG and SVG)."""
    figs: dict[str, list[Path]] = {"curves": [], "survival": [], "phase": [], "sensitivity": []}
    events = {sc: [tuple(e) for e in evs] for sc, evs in res.manifest.get("events", {}).items()}
    if not events and res.shift:  # results written before scenario events were kept in the manifest
        events = {sc: [(res.shift, "shift")] for sc in res.scenarios}
    metrics = metrics or [m for m in ("agreement", "trust", "progress", "ideas_reported", "cost") if m in res.ts]
    for m in metrics:
        figs["curves"].append(figures.outcome_curves(res.runs, res.ts, m, out, by=by, events=events))
        if len(res.arms) > 1 and by == "arm":
            figs["curves"].append(figures.difference_curves(res.runs, res.ts, m, res.treatment, res.reference, out, events=events))
    figs["survival"].append(
        figures.survival_curves(res.runs, {s: res.shift for s in res.scenarios}, {s: res.horizon(s) for s in res.scenarios}, out, by=by)
    )
    return figs


def phase_diagrams(res: Results, out: Path) -> tuple[list[tuple[str, str, pd.DataFrame]], list[Path]]:
    a = res.analysis
    main = a.get("main", res.scenarios[0])
    pairs = a.get("phase")
    if pairs is None:
        names = res.manifest.get("design_names", [])
        pairs = [names[i : i + 2] for i in range(0, len(names) - 1, 2)]
    phases, paths = [], []
    if len(res.arms) < 2:
        return phases, paths
    for x, y in pairs:
        cells = phase_cells(res, x, y, main)
        phases.append((x, y, cells))
        paths.append(
            figures.phase_diagram(
                cells,
                x,
                y,
                out,
                f"{main}: P(agreement within the window), {res.treatment} − {res.reference}\n"
                "outlined: 95% CI excludes zero (solid above, dashed below)",
                label="paired difference in probability",
            )
        )
    return phases, paths


def sensitivity(res: Results, out: Path) -> tuple[pd.DataFrame | None, list[Path], str]:
    """Sobol or Morris indices of the treatment's P(agreement within the window), for experiments
    built with those designs (one value per design point, averaged over replications)."""
    kind = res.spec.get("design")
    if kind not in ("sobol", "morris"):
        return None, [], f"The design is '{kind}', not Sobol or Morris, so no sensitivity indices are computed."
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
    if kind == "sobol":
        idx = stats.sobol_indices(problem, y.to_numpy(), bool(res.spec.get("second_order", False)))
    else:
        idx = stats.morris_indices(problem, X, y.to_numpy(), levels=int(res.spec.get("levels", 4)))
    p = figures.sensitivity_bars(idx, out, f"{kind.title()} indices of the outcome below\n({main}, mean over replications)")
    note = f"{kind.title()} indices of {what} in {main}, one value per design point (mean over replications)."
    if kind == "sobol" and (idx["S1"].min() < -0.1 or idx["ST"].sum() > 2):
        note += (
            " Warning: negative first-order or inflated total indices mean replication noise dominates the "
            "per-point values; run more replications (or --full) before reading these indices."
        )
    return idx, [p], note


# ---------------------------------------------------------------- HTML


def _img(path: Path) -> str:
    b64 = base64.b64encode(path.read_bytes()).decode()
    return f'<figure><img alt="{html.escape(path.stem)}" src="data:image/png;base64,{b64}"/></figure>'


def _table(df: pd.DataFrame | None) -> str:
    if df is None or df.empty:
        return "<p><em>No rows.</em></p>"
    return df.to_html(index=False, float_format=lambda v: f"{v:.3g}", border=0, classes="t")


def build_report(results: str | Path, out: str | Path | None = None, cases: bool = True, case_runs: int = 200) -> Path:
    """Write ``report.html`` (and its figures under ``figures/``) for a results folder."""
    from sim.analysis.cases import run_cases

    res = Results.load(results)
    target = Path(out) if out else res.path / "report.html"
    figdir = target.parent / "figures"
    outcomes = outcome_table(res)
    effects = effects_table(res) if len(res.arms) > 1 else pd.DataFrame()
    figs = make_figures(res, figdir)
    phases, phase_paths = phase_diagrams(res, figdir)
    sens, sens_paths, sens_note = sensitivity(res, figdir)
    adequacy = stats.replication_adequacy(res.with_window(), ["in_window", "agreement", "cost"])
    case_results = run_cases(case_runs) if cases else []
    lines = summary(res, effects, phases, adequacy, case_results)
    n_fail = int((res.runs["status"] != "ok").sum())
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Report: {html.escape(res.spec['name'])}</title>",
        "<style>body{font-family:sans-serif;max-width:1150px;margin:2em auto;line-height:1.45}"
        "table.t{border-collapse:collapse;font-size:13px}table.t td,table.t th{padding:3px 8px;"
        "border-bottom:1px solid #ddd}figure{margin:1em 0}img{max-width:100%}pre{background:#f6f6f6;padding:1em;"
        "overflow:auto;font-size:12px}</style></head><body>",
        f"<h1>{html.escape(res.spec['name'])}</h1><p>{html.escape(res.spec.get('description', ''))}</p>",
        f"<p>{len(res.runs)} runs ({n_fail} failed); window: {res.window} rounds from the shift at round "
        f"{res.shift}; arms compared pair by pair with <b>{html.escape(res.reference)}</b> (same seeds).</p>",
        "<section id='summary'><h2>Summary</h2><ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in lines) + "</ul></section>",
        "<section id='experiment'><h2>Experiment</h2><pre>" + html.escape(json.dumps(res.spec, indent=2)) + "</pre>"
        f"<p>Versions: {html.escape(json.dumps(res.manifest.get('versions', {})))}</p></section>",
        "<section id='outcomes'><h2>Outcomes by scenario and arm</h2><p>Probabilities with 95% bootstrap CIs; "
        "time to agreement by Kaplan–Meier, runs without agreement censored at the horizon.</p>" + _table(outcomes) + "</section>",
        "<section id='effects'><h2>Paired effects</h2><p>Differences between arms computed pair by pair "
        "(common random numbers), mean with 95% bootstrap CI and Cohen's d<sub>z</sub>.</p>" + _table(effects) + "</section>",
        "<section id='curves'><h2>Outcome curves</h2>" + "".join(_img(p) for p in figs["curves"]) + "</section>",
        "<section id='survival'><h2>Time to agreement</h2>" + "".join(_img(p) for p in figs["survival"]) + "</section>",
        "<section id='phase'><h2>Phase diagrams: where the claim holds and where it fails</h2>"
        + "".join(_img(p) for p in phase_paths)
        + "".join(f"<h3>{html.escape(x)} × {html.escape(y)}</h3>" + _table(c) for x, y, c in phases)
        + (
            ""
            if phases
            else "<p><em>No phase diagrams: they need two or more arms and two swept parameters "
            "(or [analysis] phase = [] turned them off).</em></p>"
        )
        + "</section>",
        f"<section id='sensitivity'><h2>Sensitivity</h2><p>{html.escape(sens_note)}</p>"
        + "".join(_img(p) for p in sens_paths)
        + _table(sens)
        + "</section>",
        "<section id='adequacy'><h2>Replication adequacy</h2><p>95% CI half-width per estimate; "
        "<code>adequate</code> is false where it exceeds the tolerance (0.05 for probabilities, 5% of the mean "
        "otherwise).</p>" + _table(adequacy) + "</section>",
        "<section id='cases'><h2>Case studies</h2>" + _cases_html(case_results) + "</section>",
        "</body></html>",
    ]
    tmp = target.with_suffix(".html.tmp")
    tmp.write_text("\n".join(parts), encoding="utf-8")
    tmp.replace(target)
    return target


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

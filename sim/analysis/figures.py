"""Figures from sweep results: outcome curves with bands and fans, paired-difference curves,
Kaplan–Meier time to agreement, phase diagrams and sensitivity bars.

Each function takes the runs table and/or the long time-series table (pandas), draws one
figure, saves it as PNG and SVG under ``out`` and returns the PNG path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sim.abm.plots import mark  # noqa: E402
from sim.analysis import stats  # noqa: E402

LABELS = {
    "agreement": "share of runs with agreement",
    "progress": "progress (share of leaderships ready)",
    "trust": "mean familiarity across sides (0–1)",
    "position_gap": "gap between sides' private positions (issue scale)",
    "expressed_gap": "gap between sides' expressed positions (issue scale)",
    "ideas_generated": "ideas generated (cumulative count)",
    "ideas_reported": "ideas reported upward (cumulative count)",
    "cost": "cumulative cost (rank-weighted delegate-meetings)",
    "cost_round": "cost per round",
    "channel_open": "share of runs with the channel open",
    "meeting": "share of runs meeting",
    "motivation": "motivation of the least serious leadership",
    "delegation_level": "delegation level (0–1)",
    "delegates": "delegates present (count)",
    "cynicism": "cynicism about the channel (0–1)",
}


def _save(fig: plt.Figure, out: str | Path, name: str) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    png = out / f"{name}.png"
    fig.savefig(png, dpi=110)
    fig.savefig(out / f"{name}.svg")
    plt.close(fig)
    return png


def _mark(ax: plt.Axes, rounds: Sequence[int], label: str = "") -> None:
    for r in rounds:
        mark(ax, r, label)


def _wide(ts: pd.DataFrame, metric: str, run_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    sub = ts[ts["run_id"].isin(run_ids)]
    w = sub.pivot(index="run_id", columns="round", values=metric)
    return w.columns.to_numpy(), w.to_numpy(dtype=float)


def outcome_curves(
    runs: pd.DataFrame,
    ts: pd.DataFrame,
    metric: str,
    out: str | Path,
    by: str = "arm",
    events: dict[str, Sequence[tuple[int, str]]] | None = None,
    level: float = 0.95,
) -> Path:
    """Mean over runs per round with a t-interval band and a 10–90% quantile fan, one panel per
    scenario on shared axes, one colour per value of ``by``."""
    scenarios = sorted(runs["scenario"].unique())
    fig, axes = plt.subplots(1, len(scenarios), figsize=(max(5.2 * len(scenarios), 8), 4.2), sharey=True, squeeze=False)
    for ax, sc in zip(axes[0], scenarios, strict=True):
        sub = runs[(runs["scenario"] == sc) & (runs["status"] == "ok")]
        for i, (val, g) in enumerate(sub.groupby(by, sort=True)):
            rounds, v = _wide(ts, metric, g["run_id"])
            if v.size == 0:
                continue
            m, lo, hi = stats.mean_band(v, level)
            q10, q90 = np.nanquantile(v, [0.1, 0.9], axis=0)
            col = f"C{i}"
            ax.fill_between(rounds, q10, q90, color=col, alpha=0.10, lw=0)
            ax.fill_between(rounds, lo, hi, color=col, alpha=0.30, lw=0)
            ax.plot(rounds, m, color=col, lw=2, label=f"{val} (n={v.shape[0]})")
        for r, label in (events or {}).get(sc, []):
            _mark(ax, [r], label)
        ax.set_title(sc)
        ax.set_xlabel("round")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best", title=by, title_fontsize=8)
    axes[0, 0].set_ylabel(LABELS.get(metric, metric))
    fig.suptitle(f"{metric}: mean, {int(level * 100)}% CI band and 10–90% quantile fan")
    return _save(fig, out, f"curves-{metric}")


def difference_curves(
    runs: pd.DataFrame,
    ts: pd.DataFrame,
    metric: str,
    arm: str,
    reference: str,
    out: str | Path,
    events: dict[str, Sequence[tuple[int, str]]] | None = None,
    level: float = 0.95,
) -> Path:
    """Paired difference ``arm − reference`` per round (common random numbers), mean with CI."""
    scenarios = sorted(runs["scenario"].unique())
    fig, axes = plt.subplots(1, len(scenarios), figsize=(max(5.2 * len(scenarios), 8), 4.0), sharey=True, squeeze=False)
    for ax, sc in zip(axes[0], scenarios, strict=True):
        sub = runs[(runs["scenario"] == sc) & (runs["status"] == "ok")]
        a = sub[sub["arm"] == arm].set_index(stats.KEYS)["run_id"]
        b = sub[sub["arm"] == reference].set_index(stats.KEYS)["run_id"]
        common = a.index.intersection(b.index)
        if len(common) == 0:
            continue
        # rows aligned by pair
        wa = ts[ts["run_id"].isin(a.loc[common])].pivot(index="run_id", columns="round", values=metric)
        wb = ts[ts["run_id"].isin(b.loc[common])].pivot(index="run_id", columns="round", values=metric)
        d = wa.loc[a.loc[common].to_numpy()].to_numpy() - wb.loc[b.loc[common].to_numpy()].to_numpy()
        m, lo, hi = stats.mean_band(d, level)
        ax.axhline(0, color="k", lw=0.8)
        ax.fill_between(wa.columns, lo, hi, color="C3", alpha=0.3, lw=0, label=f"{int(level * 100)}% CI")
        ax.plot(wa.columns, m, color="C3", lw=2, label=f"mean difference (n={len(common)} pairs)")
        for r, label in (events or {}).get(sc, []):
            _mark(ax, [r], label)
        ax.set_title(sc)
        ax.set_xlabel("round")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0, 0].set_ylabel(f"{metric}: {arm} − {reference}")
    fig.suptitle(f"Paired difference in {metric}, {arm} minus {reference} (same seeds)")
    return _save(fig, out, f"diff-{metric}-{arm}-vs-{reference}")


def survival_curves(runs: pd.DataFrame, shift: dict[str, int], horizon: dict[str, int], out: str | Path, by: str = "arm") -> Path:
    """Kaplan–Meier curves of the rounds from the shift to agreement; runs without agreement are
    censored at the horizon (marked +)."""
    scenarios = sorted(runs["scenario"].unique())
    fig, axes = plt.subplots(1, len(scenarios), figsize=(max(5.2 * len(scenarios), 8), 4.0), sharey=True, squeeze=False)
    for ax, sc in zip(axes[0], scenarios, strict=True):
        sub = runs[(runs["scenario"] == sc) & (runs["status"] == "ok")]
        for i, (val, g) in enumerate(sub.groupby(by, sort=True)):
            t, obs = stats.time_to_agreement(g, shift[sc], horizon[sc])
            times, surv = stats.kaplan_meier(t, obs)
            end = max(float(np.max(t)) if len(t) else 0.0, float(times[-1]))
            x = np.concatenate([[0], times, [end]])  # the curve runs on to the last censoring time
            y = np.concatenate([[1.0], surv, [surv[-1]]])
            ax.step(x, y, where="post", color=f"C{i}", lw=2, label=f"{val} ({int(obs.sum())}/{len(obs)} agreed)")
            cens = np.unique(t[~obs])
            if len(cens):
                ax.plot(cens, np.interp(cens, x, y), "+", color=f"C{i}", ms=8)
        ax.set_title(sc)
        ax.set_xlabel("rounds after the shift")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0, 0].set_ylabel("share still without agreement (Kaplan–Meier)")
    fig.suptitle("Time from the shift to agreement (censored at the horizon)")
    return _save(fig, out, "survival")


def phase_diagram(
    cells: pd.DataFrame, x: str, y: str, out: str | Path, title: str, value: str = "mean_diff", label: str = "payoff"
) -> Path:
    """Heatmap of ``value`` over the grid of ``x`` × ``y``; cells whose CI excludes zero are
    outlined (solid: above zero, dashed: below)."""
    xs = np.sort(cells[x].unique())
    ys = np.sort(cells[y].unique())
    grid = cells.pivot_table(index=y, columns=x, values=value).reindex(index=ys, columns=xs)
    lim = np.nanmax(np.abs(grid.to_numpy())) if np.isfinite(grid.to_numpy()).any() else 1.0
    fig, ax = plt.subplots(figsize=(6.2, 4.8))
    im = ax.imshow(grid.to_numpy(), origin="lower", cmap="RdBu", vmin=-lim or -1, vmax=lim or 1, aspect="auto")
    for _, c in cells.iterrows():
        i, j = int(np.searchsorted(ys, c[y])), int(np.searchsorted(xs, c[x]))
        ax.text(j, i, f"{c[value]:+.2f}", ha="center", va="center", fontsize=8)
        if c["ci_low"] > 0 or c["ci_high"] < 0:
            ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=2, color="k", ls="-" if c["ci_low"] > 0 else "--"))
    ax.set_xticks(range(len(xs)), [f"{v:g}" for v in xs])
    ax.set_yticks(range(len(ys)), [f"{v:g}" for v in ys])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    fig.colorbar(im, ax=ax, label=label)
    ax.set_title(title, fontsize=10)
    return _save(fig, out, f"phase-{x}-{y}")


def sensitivity_bars(indices: pd.DataFrame, out: str | Path, title: str, name: str = "sensitivity") -> Path:
    """Bar chart of Sobol (S1, ST) or Morris (μ*) indices with their confidence intervals."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    p = np.arange(len(indices))
    if "S1" in indices:
        ax.bar(p - 0.2, indices["S1"], 0.4, yerr=indices["S1_conf"], capsize=3, label="first order S1")
        ax.bar(p + 0.2, indices["ST"], 0.4, yerr=indices["ST_conf"], capsize=3, label="total ST")
        ax.set_ylabel("Sobol index (share of variance)")
    else:
        ax.bar(p, indices["mu_star"], 0.6, yerr=indices["mu_star_conf"], capsize=3, label="μ* (mean |elementary effect|)")
        ax.set_ylabel("Morris μ* (outcome units)")
    ax.set_xticks(p, indices["parameter"], rotation=30, ha="right")
    ax.axhline(0, color="k", lw=0.8)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    return _save(fig, out, name)

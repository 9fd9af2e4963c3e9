"""Figures of a calibration: marginal and pairwise posteriors, posterior predictive checks."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sim.batch.calibrate import Calibration  # noqa: E402


def _save(fig, out: Path, name: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    png = out / f"{name}.png"
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return png


def marginals(table: pd.DataFrame, cal: Calibration, out: Path) -> Path:
    """Prior (uniform, Latin hypercube) against accepted sets, one panel per parameter."""
    names = cal.experiment.design_names
    n = len(names)
    cols = min(4, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    post = table[table["accepted"]]
    for ax, name in zip(axes.flat, names, strict=False):
        lo, hi = cal.experiment.design_params[name]
        bins = np.linspace(lo, hi, 21)
        ax.hist(table[name], bins=bins, density=True, color="0.8", label="prior")
        if len(post):  # none accepted: the prior alone (the title says 0 accepted)
            ax.hist(post[name], bins=bins, density=True, histtype="step", lw=2, color="C0", label="posterior")
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"Marginal posteriors ({len(post)} accepted of {len(table)})", fontsize=10)
    fig.tight_layout()
    return _save(fig, out, "posterior-marginals")


def pairwise(table: pd.DataFrame, cal: Calibration, out: Path, k: int = 5) -> Path:
    """Accepted sets for the ``k`` parameters the patterns constrain most (smallest sd ratio)."""
    names = cal.experiment.design_names
    post = table[table["accepted"]]
    ratio = {n: post[n].std() / max(table[n].std(), 1e-12) for n in names}
    top = sorted(names, key=lambda n: ratio[n])[: min(k, len(names))]
    m = len(top)
    fig, axes = plt.subplots(m, m, figsize=(2.1 * m, 2.1 * m), squeeze=False)
    for i, a in enumerate(top):
        for j, b in enumerate(top):
            ax = axes[i, j]
            if i == j:
                ax.hist(post[a], bins=15, color="C0")
            elif i > j:
                ax.scatter(post[b], post[a], s=4, alpha=0.4)
                ax.set_xlim(*cal.experiment.design_params[b])
                ax.set_ylim(*cal.experiment.design_params[a])
            else:
                ax.axis("off")
            if i == m - 1:
                ax.set_xlabel(b, fontsize=7)
            if j == 0 and i > 0:
                ax.set_ylabel(a, fontsize=7)
            ax.tick_params(labelsize=6)
    fig.suptitle("Pairwise posterior (the most constrained parameters)", fontsize=10)
    fig.tight_layout()
    return _save(fig, out, "posterior-pairwise")


def ppc(table: pd.DataFrame, st_ppc: pd.DataFrame | None, cal: Calibration, out: Path) -> Path:
    """Each pattern's statistic: prior sample, accepted sets, and fresh posterior predictive runs
    (none when no prior point was accepted), with the target interval shaded."""
    n = len(cal.patterns)
    fig, axes = plt.subplots(1, n, figsize=(3.0 * n, 2.8), squeeze=False)
    for ax, p in zip(axes.flat, cal.patterns, strict=True):
        x = table[p.name].to_numpy(float)
        lo_x, hi_x = np.nanmin(x), np.nanmax(x)
        pad = 0.05 if hi_x - lo_x < 1e-6 else 0.0  # a pattern every prior point meets: one value
        bins = np.linspace(lo_x - pad, hi_x + pad + 1e-12, 25)
        ax.hist(x, bins=bins, density=True, color="0.85", label="prior predictive")
        if st_ppc is not None:
            ax.hist(st_ppc[p.name], bins=bins, density=True, histtype="step", lw=2, color="C1", label="posterior predictive")
        finite = [b for b in (p.low, p.high) if np.isfinite(b)]  # a target beside every prior value is shown there, not clipped
        vlo, vhi = min(bins[0], *finite), max(bins[-1], *finite)
        margin = 0.05 * (vhi - vlo)
        ax.axvspan(max(p.low, vlo - margin), min(p.high, vhi + margin), color="C2", alpha=0.15, label="target")
        ax.set_title(f"{p.name}\n({p.scenario})", fontsize=8)
        ax.tick_params(labelsize=7)
    axes.flat[0].legend(fontsize=6)
    fig.tight_layout()
    return _save(fig, out, "ppc-patterns")


def write_figures(out: Path, table: pd.DataFrame, st_ppc: pd.DataFrame | None, cal: Calibration) -> list[Path]:
    """The figures under ``out/figures``; with no accepted set (``st_ppc`` None) the prior against
    the patterns only: no pairwise posterior, no posterior predictive runs."""
    d = out / "figures"
    if st_ppc is None:
        return [marginals(table, cal, d), ppc(table, None, cal, d)]
    return [marginals(table, cal, d), pairwise(table, cal, d), ppc(table, st_ppc, cal, d)]

"""Figures of the answer's estimands: the effect curve Δ(t) with its pointwise and simultaneous
bands, and the transplant decomposition's contributions. Each saves PNG and SVG and returns the PNG."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def _save(fig: plt.Figure, out: str | Path, name: str) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fig.tight_layout(rect=(0, 0, 1, _below_suptitle(fig)))
    png = out / f"{name}.png"
    fig.savefig(png, dpi=110)
    fig.savefig(out / f"{name}.svg")
    plt.close(fig)
    return png


def _below_suptitle(fig: plt.Figure, pad: float = 6.0) -> float:
    """The top of the panels' area (figure share): ``pad`` points under the suptitle, so that no
    panel title runs into it (``tight_layout`` alone lets the first row's titles overlap it)."""
    sup = getattr(fig, "_suptitle", None) if fig.get_suptitle() else None  # matplotlib keeps the suptitle's Text there
    if sup is None:
        return 1.0
    height = sup.get_window_extent(fig.canvas.get_renderer()).height  # type: ignore[attr-defined]  # the Agg canvas
    return max(float(sup.get_position()[1]) - (height + pad * fig.dpi / 72) / fig.bbox.height, 0.5)


def _arr(v: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if x is None else x for x in v], dtype=float)


def effect_curve_figure(
    rows: Sequence[Mapping[str, Any]],
    out: str | Path,
    title: str,
    name: str = "effect-curve",
    figsize: tuple[float, float] | None = None,
    per_row: int = 3,
) -> Path:
    """Δ(t) of each comparison in ``rows`` (estimands rows), one panel each (``per_row`` to a row):
    the estimate, the pointwise 95% band (dark) and the simultaneous 95% band (light), zero marked."""
    n = max(len(rows), 1)
    ncol = min(n, per_row)
    nrow = -(-n // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=figsize or (max(4.6 * ncol, 6.4), 3.6 * nrow), sharey=True, squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax, r in zip(axes.flat, rows, strict=False):
        c = r["curve"]
        x = np.array(c["round"])
        ax.fill_between(
            x,
            _arr(c["simultaneous_low"]),
            _arr(c["simultaneous_high"]),
            step="mid",
            color="C0",
            alpha=0.18,
            lw=0,
            label="simultaneous 95% band",
        )
        ax.fill_between(
            x, _arr(c["pointwise_low"]), _arr(c["pointwise_high"]), step="mid", color="C0", alpha=0.40, lw=0, label="pointwise 95% band"
        )
        ax.step(x, _arr(c["estimate"]), where="mid", color="C0", lw=2, label=f"Δ(t) ({c['n_pairs']} pairs)")
        ax.axhline(0, color="k", lw=0.8)
        ax.set_title(
            f"{r['scenario']}: {r['arm']} − {r['reference']}" + (f"\n({r['condition']})" if r.get("condition") else ""), fontsize=10
        )
        ax.set_xlabel(f"round (shift at {x[0]})" if len(x) else "round")  # the curve starts at the shift round
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    for row in axes:
        row[0].set_ylabel("Δ P(agreement since the shift)")
    fig.suptitle(title, fontsize=11)
    return _save(fig, out, name)


def decomposition_figure(dec: Mapping[str, Any], out: str | Path, name: str = "decomposition") -> Path:
    """Shapley contributions of each carry-over with 95% CIs, soon and by the horizon."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, key, label in zip(axes, ("soon", "by_horizon"), ("soon after the shift", "by the horizon"), strict=True):
        part = dec[key]
        comps = part["components"]
        names = [c["name"] for c in comps] + ["total"]
        vals = _arr([c["shapley"]["value"] for c in comps] + [part["total"]["value"]])
        lo = _arr([c["shapley"]["low"] for c in comps] + [part["total"]["low"]])
        hi = _arr([c["shapley"]["high"] for c in comps] + [part["total"]["high"]])
        y = np.arange(len(names))
        colors = ["C1" if c["by_construction"] else "C0" for c in comps] + ["k"]
        ax.barh(y, vals, xerr=[np.nan_to_num(vals - lo), np.nan_to_num(hi - vals)], color=colors, capsize=3)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_yticks(y, names)
        ax.set_title(f"{label} (through round {part['last_round']})", fontsize=10)
        ax.set_xlabel("contribution to the paired difference in P(agreement)")
        ax.grid(alpha=0.3, axis="x")
    fig.suptitle(
        f"What carries {dec['donor']} − {dec['recipient']}: state transplant at round {dec['at_round']} (orange: imposed by construction)",
        fontsize=11,
    )
    return _save(fig, out, name)

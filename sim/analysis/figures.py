"""Figures from sweep results: outcome curves with bands and fans, paired-difference curves,
Kaplan–Meier time to agreement, phase diagrams and sensitivity bars.

Each function takes the runs table and/or the long time-series table (pandas), draws one
figure, saves it as PNG and SVG under ``out`` and returns the PNG path. The curve figures are
drawn from summaries (:mod:`sim.analysis.curves`) by the ``draw_*`` functions, which a drawing
process runs on the summaries it is sent (:func:`draw`).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import TwoSlopeNorm  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from sim.abm.plots import mark_all  # noqa: E402
from sim.analysis import curves, stats  # noqa: E402
from sim.core.metrics import METRIC_SPEC  # noqa: E402
from sim.core.names import safe_filename  # noqa: E402
from sim.core.outputs import atomic_path  # noqa: E402

if TYPE_CHECKING:
    import pandas as pd

#: Axis label of each metric in sweep figures (from the one metric spec).
LABELS = {name: m.description for name, m in METRIC_SPEC.items()}


_FORMATS = ["png", "svg"]
#: Resolution of the PNGs (the visual regression tests draw smaller ones).
DPI = 110
#: zlib level of the PNGs: the same pixels as Pillow's default (6) in about half the encoding
#: time (a tenth of a figure's), for files about 5% larger.
PNG_COMPRESSION = 3


@contextmanager
def formats(which: Sequence[str]) -> Iterator[None]:
    """Within the block, figures are saved in ``which`` (PNG always: it is the returned path)."""
    old = list(_FORMATS)
    _FORMATS[:] = ["png", *[f for f in which if f != "png"]]
    try:
        yield
    finally:
        _FORMATS[:] = old


def _save(fig: plt.Figure, out: str | Path, name: str, bottom: float = 0.0, panels: Sequence[plt.Axes] | None = None) -> Path:
    """Lay ``fig`` out above ``bottom`` (a share of its height kept for a legend below) and save it.
    A row of ``panels`` sharing their y axis is laid out by :func:`_row_layout`; anything else by
    ``tight_layout``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if panels is not None:
        _row_layout(fig, panels, bottom)
    else:
        fig.tight_layout(rect=(0, bottom, 1, 1))
        fig.set_layout_engine(None)  # laid out: else savefig draws the whole figure twice (the first to lay it out again)
    name = safe_filename(name)  # labels (arm names) never make a path
    png = out / f"{name}.png"
    with atomic_path(png) as tmp:
        fig.savefig(tmp, dpi=DPI, format="png", pil_kwargs={"compress_level": PNG_COMPRESSION})
    if "svg" in _FORMATS:
        with atomic_path(out / f"{name}.svg") as tmp:
            fig.savefig(tmp, format="svg")
    plt.close(fig)
    return png


def _row_layout(fig: plt.Figure, panels: Sequence[plt.Axes], bottom: float = 0.0, pad: float = 0.1) -> None:
    """Margins for a row of panels that share their y axis, from the few texts that set them:
    the suptitle and the panel titles above, the first panel's y tick labels and y label on the
    left, the x tick labels and x labels below (``pad`` inches around). Measuring these alone
    costs a fraction of ``tight_layout``, which measures every artist of every panel (it took a
    third of the time to draw a figure)."""
    w, h = fig.get_size_inches()
    r = fig.canvas.get_renderer()  # type: ignore[attr-defined]  # the Agg canvas (matplotlib.use("Agg") above)
    dpi = fig.dpi

    def height(t: matplotlib.text.Text | None) -> float:
        return t.get_window_extent(r).height / dpi if t is not None and t.get_visible() and t.get_text() else 0.0

    def width(t: matplotlib.text.Text | None) -> float:
        return t.get_window_extent(r).width / dpi if t is not None and t.get_visible() and t.get_text() else 0.0

    first = panels[0]
    tick = (matplotlib.rcParams["ytick.major.size"] + matplotlib.rcParams["ytick.major.pad"]) / 72
    labelpad = first.yaxis.labelpad / 72
    sup = getattr(fig, "_suptitle", None) if fig.get_suptitle() else None  # matplotlib keeps the suptitle's Text there
    top = pad + (h * (1 - sup.get_position()[1]) + height(sup) + pad if sup else 0.0)
    top += max(height(ax.title) for ax in panels) + matplotlib.rcParams["axes.titlepad"] / 72
    xtick = max([height(t) for ax in panels for t in ax.get_xticklabels()[:1]] or [0.0])
    below = pad + max(height(ax.xaxis.label) for ax in panels) + labelpad + xtick + tick
    _fit_ylabel(first.yaxis.label, h * (1 - bottom) - top - below, height)  # rotated: its height is its length
    left = pad + width(first.yaxis.label) + labelpad + max([width(t) for t in first.get_yticklabels()] or [0.0]) + tick
    right = pad + max([width(t) for t in panels[-1].get_xticklabels()[-1:]] or [0.0]) / 2
    gap = 0.25  # inches between panels (their y tick labels are hidden: the y axis is shared)
    n = len(panels)
    panel_w = max((w - left - right - gap * (n - 1)) / n, 0.1)
    lo = min(bottom + below / h, 0.6)  # never a negative or inverted panel area, however long the labels
    wspace = gap / panel_w if n > 1 else 0.2
    fig.subplots_adjust(left=min(left / w, 0.4), right=max(1 - right / w, 0.6), top=max(1 - top / h, lo + 0.1), bottom=lo, wspace=wspace)


def _fit_ylabel(label: matplotlib.text.Text, room: float, length: Callable[[matplotlib.text.Text], float]) -> None:
    """Wrap a (rotated) y label onto as few lines as make its ``length`` (inches) fit ``room``, the
    height of the panels: a label longer than the panel runs off the figure and is cut. Up to four
    lines; a label that fits stays on one."""
    text = " ".join(label.get_text().split())
    label.set_text(text)
    for lines in range(2, 5):
        if length(label) <= room:
            return
        width = -(-len(text) // lines)
        while len(textwrap.wrap(text, width, break_long_words=False)) > lines:  # the narrowest wrap onto that many lines
            width += 1
        label.set_text(textwrap.fill(text, width, break_long_words=False))


#: Metrics whose per-run value is 0 or 1 (see :mod:`sim.analysis.curves`).
BINARY = curves.BINARY
is_binary = curves.is_binary


def _events(ax: plt.Axes, events: Mapping[str, Sequence[tuple[int, str]]] | None, scenario: str, shift: int | None) -> None:
    mark_all(ax, list((events or {}).get(scenario, [])), shift=shift)


def _finish_axes(ax: plt.Axes, lo: float, hi: float, symmetric: bool = False) -> None:
    """Integer round ticks, and a visible range when a metric is constant (e.g. zero ideas: 0 to
    1; a difference that is zero throughout: −1 to 1)."""
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if np.isfinite(lo) and np.isfinite(hi) and hi - lo < 1e-9:
        pad = max(abs(hi) * 0.1, 1.0 if abs(hi) >= 1 or hi == 0 else 0.1)
        ax.set_ylim(lo - (0 if lo == 0 and not symmetric else pad), hi + pad)


def _legend_below(fig: plt.Figure, axes: Sequence[plt.Axes], title: str | None = None, ncol: int = 3) -> float:
    """One legend for the whole figure, under the panels, so that it never hides curves or event
    labels (entries from every panel, each label once). Returns the height it takes (figure share)."""
    seen: dict[str, matplotlib.artist.Artist] = {}
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(label, h)
    if not seen:
        return 0.0
    ncol = max(1, min(ncol, len(seen)))
    rows = -(-len(seen) // ncol) + (1 if title else 0)
    fig.legend(list(seen.values()), list(seen), loc="lower center", ncol=ncol, fontsize=8, title=title, title_fontsize=8, frameon=False)
    return min(0.45, (0.04 + 0.04 * rows) * 4.6 / fig.get_figheight())


def outcome_curves(
    runs: pd.DataFrame,
    ts: pd.DataFrame,
    metric: str,
    out: str | Path,
    by: str = "arm",
    events: Mapping[str, Sequence[tuple[int, str]]] | None = None,
    level: float = 0.95,
    shift: int | None = None,
) -> Path:
    """Mean over runs per round with its CI band, one panel per scenario on shared axes, one
    colour per value of ``by``. A 0/1 metric is the share of runs with its CI band only; a
    continuous metric also gets a 10–90% quantile fan. Every band is in the legend."""
    return draw_outcome_curves(curves.outcome_curves(runs, ts, metric, by, level), out, events, shift)


def draw_outcome_curves(
    c: curves.OutcomeCurves, out: str | Path, events: Mapping[str, Sequence[tuple[int, str]]] | None = None, shift: int | None = None
) -> Path:
    """The figure of :func:`outcome_curves` from its summary."""
    metric, by, binary, level, rounds = c.metric, c.by, c.binary, c.level, c.rounds
    fig, axes = plt.subplots(1, len(c.panels), figsize=(max(5.2 * len(c.panels), 8), 4.6), sharey=True, squeeze=False)
    for ax, (sc, panel) in zip(axes[0], c.panels.items(), strict=True):
        for i, cv in enumerate(panel):
            if cv is None:
                continue
            col, name = f"C{i}", cv.label
            if cv.q10 is not None:
                ax.fill_between(rounds, cv.q10, cv.q90, color=col, alpha=0.10, lw=0, label=f"{name}: 10–90% of runs")
            ax.fill_between(rounds, *cv.band(level), color=col, alpha=0.30, lw=0, label=f"{name}: {int(level * 100)}% CI of the mean")
            ax.plot(rounds, cv.mean, color=col, lw=2, label=f"{name} (n={cv.size})")
        ax.set_title(sc)
        ax.set_xlabel("round")
        ax.grid(alpha=0.3)
    for ax, sc in zip(axes[0], c.panels, strict=True):
        _finish_axes(ax, c.low, c.high)
        if binary:
            ax.set_ylim(-0.02, 1.02)
        _events(ax, events, sc, shift)
    bottom = _legend_below(fig, axes[0], title=by, ncol=3)
    axes[0, 0].set_ylabel(LABELS.get(metric, metric))
    what = "share of runs with its" if binary else "mean with its"
    fan = "" if binary else " and the 10–90% quantile fan of the runs"
    fig.suptitle(f"{metric}: {what} {int(level * 100)}% CI band{fan}, by {by}")
    return _save(fig, out, f"curves-{metric}", bottom, panels=axes[0])


def difference_curves(
    runs: pd.DataFrame,
    ts: pd.DataFrame,
    metric: str,
    arm: str,
    reference: str,
    out: str | Path,
    events: Mapping[str, Sequence[tuple[int, str]]] | None = None,
    level: float = 0.95,
    shift: int | None = None,
    name: str | None = None,
    figsize: tuple[float, float] | None = None,
) -> Path:
    """Paired difference ``arm − reference`` per round (common random numbers), mean with CI."""
    d = curves.difference_curves(runs, ts, metric, arm, reference, level)
    return draw_difference_curves(d, out, events, shift, name, figsize)


def draw_difference_curves(
    d: curves.DifferenceCurves,
    out: str | Path,
    events: Mapping[str, Sequence[tuple[int, str]]] | None = None,
    shift: int | None = None,
    name: str | None = None,
    figsize: tuple[float, float] | None = None,
) -> Path:
    """The figure of :func:`difference_curves` from its summary."""
    metric, arm, reference, level = d.metric, d.arm, d.reference, d.level
    size = figsize or (max(5.2 * len(d.panels), 8), 4.4)
    fig, axes = plt.subplots(1, len(d.panels), figsize=size, sharey=True, squeeze=False)
    lo_all, hi_all = np.inf, -np.inf
    for ax, (sc, cv) in zip(axes[0], d.panels.items(), strict=True):
        ax.set_title(sc)
        if cv is None:
            continue
        lo, hi = cv.band(level)
        ax.axhline(0, color="k", lw=0.8)
        ax.fill_between(d.rounds, lo, hi, color="C3", alpha=0.3, lw=0, label=f"{int(level * 100)}% CI of the mean difference")
        ax.plot(d.rounds, cv.mean, color="C3", lw=2, label=f"mean difference (n={cv.size} pairs)")
        lo_all, hi_all = min(lo_all, np.nanmin(lo)), max(hi_all, np.nanmax(hi))
        ax.set_xlabel("round")
        ax.grid(alpha=0.3)
    for ax, sc in zip(axes[0], d.panels, strict=True):
        _finish_axes(ax, lo_all, hi_all, symmetric=True)
        _events(ax, events, sc, shift)
    bottom = _legend_below(fig, axes[0], ncol=2)
    axes[0, 0].set_ylabel(f"{metric}: {arm} − {reference}")
    fig.suptitle(f"Paired difference in {metric}, {arm} minus {reference} (same seeds)", fontsize=11 if figsize else 12)
    return _save(fig, out, name or f"diff-{metric}-{arm}-vs-{reference}", bottom, panels=axes[0])


def survival_curves(runs: pd.DataFrame, shift: dict[str, int], horizon: dict[str, int], out: str | Path, by: str = "arm") -> Path:
    """Kaplan–Meier curves of the rounds from the shift to agreement; runs without agreement are
    censored at the horizon (marked +)."""
    return draw_survival_curves(curves.durations(runs, shift, horizon, by), out)


def draw_survival_curves(d: curves.Durations, out: str | Path) -> Path:
    """The figure of :func:`survival_curves` from the times to agreement (the Kaplan–Meier
    estimates are computed here)."""
    by = d.by
    fig, axes = plt.subplots(1, len(d.panels), figsize=(max(5.2 * len(d.panels), 8), 4.0), sharey=True, squeeze=False)
    for ax, (sc, groups) in zip(axes[0], d.panels.items(), strict=True):
        for i, (val, t, obs) in enumerate(groups):
            times, surv = stats.kaplan_meier(t, obs)
            end = max(float(np.nanmax(t)) if np.isfinite(t).any() else 0.0, float(times[-1]))
            x = np.concatenate([[0], times, [end]])  # the curve runs on to the last censoring time
            y = np.concatenate([[1.0], surv, [surv[-1]]])
            ax.step(x, y, where="post", color=f"C{i}", lw=2, label=f"{val} ({int(obs.sum())}/{len(obs)} agreed)")
            cens = np.unique(t[~obs & np.isfinite(t)])
            if len(cens):
                ax.plot(cens, np.interp(cens, x, y), "+", color=f"C{i}", ms=8)
        ax.set_title(sc)
        ax.set_xlabel("rounds from the shift (the shift round is the first)")
        ax.set_ylim(-0.02, 1.02)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, title=by, title_fontsize=8)
    axes[0, 0].set_ylabel("share still without agreement (Kaplan–Meier)")
    fig.suptitle("Time from the shift to agreement (censored at the horizon)")
    return _save(fig, out, "survival", panels=axes[0])


def draw(summary: curves.OutcomeCurves | curves.DifferenceCurves | curves.Durations, out: str | Path, **kw: object) -> Path:
    """The figure of any summary of :mod:`sim.analysis.curves` (what a drawing process is sent)."""
    if isinstance(summary, curves.OutcomeCurves):
        return draw_outcome_curves(summary, out, **kw)  # type: ignore[arg-type]
    if isinstance(summary, curves.DifferenceCurves):
        return draw_difference_curves(summary, out, **kw)  # type: ignore[arg-type]
    return draw_survival_curves(summary, out)


def text_colour(rgba: Sequence[float]) -> str:
    """Black on light cells, white on dark ones (relative luminance, WCAG 2.x)."""
    lin = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in rgba[:3]]
    lum = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    return "black" if lum > 0.179 else "white"


def phase_diagram(
    cells: pd.DataFrame, x: str, y: str, out: str | Path, title: str, value: str = "mean_diff", label: str = "payoff"
) -> Path:
    """Heatmap of ``value`` over the grid of ``x`` × ``y``; significant cells are outlined (solid:
    above zero, dashed: below): the ``significant`` column where given (after a multiplicity
    correction), else a CI that excludes zero."""
    xs = np.sort(cells[x].unique())
    ys = np.sort(cells[y].unique())
    grid = cells.pivot_table(index=y, columns=x, values=value).reindex(index=ys, columns=xs)
    lim = np.nanmax(np.abs(grid.to_numpy())) if np.isfinite(grid.to_numpy()).any() else 1.0
    fig, ax = plt.subplots(figsize=(6.8, 4.8))
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-(lim or 1), vmax=lim or 1)  # diverging, centred at 0
    cmap = plt.get_cmap("RdBu")
    im = ax.imshow(grid.to_numpy(), origin="lower", cmap=cmap, norm=norm, aspect="auto")
    for _, c in cells.iterrows():
        i, j = int(np.searchsorted(ys, c[y])), int(np.searchsorted(xs, c[x]))
        ax.text(j, i, f"{c[value]:+.2f}", ha="center", va="center", fontsize=8, color=text_colour(cmap(norm(c[value]))))
        sig = bool(c["significant"]) if "significant" in c else (c["ci_low"] > 0 or c["ci_high"] < 0)
        if sig:
            edge = text_colour(cmap(norm(c[value])))
            ax.add_patch(plt.Rectangle((j - 0.48, i - 0.48), 0.96, 0.96, fill=False, lw=2, color=edge, ls="-" if c[value] > 0 else "--"))
    ax.set_xticks(range(len(xs)), [f"{v:g}" for v in xs])
    ax.set_yticks(range(len(ys)), [f"{v:g}" for v in ys])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    fig.colorbar(im, ax=ax, label=label)
    ax.set_title(title, fontsize=9)
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


def compare_figure(comp, out: str | Path, events: Sequence[tuple[int, str]] = (), name: str = "compare", level: float = 0.95) -> Path:
    """Two settings on the same seeds (a :class:`sim.analysis.compare.Comparison`): top row, each
    setting's mean per round (with its CI band when there are several runs); bottom row, the
    paired difference B − A with its CI band."""
    ms = comp.metrics
    n = len(comp.seeds)
    fig, axes = plt.subplots(2, len(ms), figsize=(max(3.6 * len(ms), 7), 6.2), sharex=True, squeeze=False)
    r = comp.rounds
    for j, m in enumerate(ms):
        ax = axes[0, j]
        for k, (label, arr) in enumerate(((comp.label_a, comp.a[m]), (comp.label_b, comp.b[m]))):
            mean, lo, hi = stats.mean_band(arr, level)
            if n > 1:
                if is_binary(m):
                    lo, hi = np.clip(lo, 0, 1), np.clip(hi, 0, 1)
                ax.fill_between(r, lo, hi, color=f"C{k}", alpha=0.25, lw=0, label=f"{label}: {int(level * 100)}% CI")
            ax.plot(r, mean, color=f"C{k}", lw=2, label=f"{label} (n={n})" if n > 1 else label)
        ax.set_title(LABELS.get(m, m), fontsize=8)
        ax.grid(alpha=0.3)
        _finish_axes(ax, np.nanmin([comp.a[m], comp.b[m]]), np.nanmax([comp.a[m], comp.b[m]]))
        mark_all(ax, list(events))
        ax = axes[1, j]
        d = comp.difference(m)
        mean, lo, hi = stats.mean_band(d, level)
        ax.axhline(0, color="k", lw=0.8)
        if n > 1:
            ax.fill_between(r, lo, hi, color="C3", alpha=0.3, lw=0, label=f"{int(level * 100)}% CI of the mean difference")
        ax.plot(r, mean, color="C3", lw=2, label="B − A, mean over pairs" if n > 1 else "B − A (one pair)")
        ax.set_xlabel("round")
        ax.grid(alpha=0.3)
        _finish_axes(ax, np.nanmin(d), np.nanmax(d), symmetric=True)
        mark_all(ax, list(events))
    axes[0, 0].set_ylabel("each setting")
    axes[1, 0].set_ylabel("difference B − A")
    bottom = _legend_below(fig, list(axes.flat), ncol=4)
    seeds = f"seed {comp.seeds[0]}" if n == 1 else f"seeds {comp.seeds[0]}–{comp.seeds[-1]}"
    fig.suptitle(f"A = {comp.label_a}\nB = {comp.label_b}  ({seeds}, the same for both)", fontsize=10)
    return _save(fig, out, name, bottom)

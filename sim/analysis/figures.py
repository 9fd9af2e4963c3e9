"""Figures from sweep results: outcome curves with bands and fans, paired-difference curves,
Kaplan–Meier time to agreement, phase diagrams and sensitivity bars.

Each function takes the runs table and/or the long time-series table (pandas), draws one
figure, saves it as PNG and SVG under ``out`` and returns the PNG path.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import TwoSlopeNorm  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from sim.abm.plots import mark_all  # noqa: E402
from sim.analysis import stats  # noqa: E402
from sim.core.metrics import METRIC_SPEC, binary_metrics  # noqa: E402
from sim.core.names import safe_filename  # noqa: E402
from sim.core.outputs import atomic_path  # noqa: E402

#: Axis label of each metric in sweep figures (from the one metric spec).
LABELS = {name: m.description for name, m in METRIC_SPEC.items()}


_FORMATS = ["png", "svg"]
#: Resolution of the PNGs (the visual regression tests draw smaller ones).
DPI = 110


@contextmanager
def formats(which: Sequence[str]) -> Iterator[None]:
    """Within the block, figures are saved in ``which`` (PNG always: it is the returned path)."""
    old = list(_FORMATS)
    _FORMATS[:] = ["png", *[f for f in which if f != "png"]]
    try:
        yield
    finally:
        _FORMATS[:] = old


def _save(fig: plt.Figure, out: str | Path, name: str, bottom: float = 0.0) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fig.tight_layout(rect=(0, bottom, 1, 1))
    name = safe_filename(name)  # labels (arm names) never make a path
    png = out / f"{name}.png"
    with atomic_path(png) as tmp:
        fig.savefig(tmp, dpi=DPI, format="png")
    if "svg" in _FORMATS:
        with atomic_path(out / f"{name}.svg") as tmp:
            fig.savefig(tmp, format="svg")
    plt.close(fig)
    return png


#: Metrics whose per-run value is 0 or 1: their curves are a share of runs, drawn with the share's
#: CI band only (a 10–90% quantile fan of a 0/1 variable is a meaningless 0–1 block).
BINARY = binary_metrics()


def is_binary(metric: str, values: np.ndarray | None = None) -> bool:
    """True for a 0/1 metric (by name, or because every value is 0 or 1)."""
    if metric in BINARY:
        return True
    if values is None:
        return False
    v = values[np.isfinite(values)]
    return v.size > 0 and bool(np.all((v == 0) | (v == 1)))


def _events(ax: plt.Axes, events: Mapping[str, Sequence[tuple[int, str]]] | None, scenario: str, shift: int | None) -> None:
    mark_all(ax, list((events or {}).get(scenario, [])), shift=shift)


def _shift_of(events: Mapping[str, Sequence[tuple[int, str]]] | None, shift: int | None) -> int | None:
    return shift


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


_DENSE: dict = {}


def dense(ts: pd.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``metric`` as a (runs × rounds) array with its sorted run ids and rounds, built once per
    table and metric (the long table of a large sweep has millions of rows; pivoting it per group
    is what made ``plot`` slow). The positions are computed once per table."""
    key = (id(ts), len(ts))
    if _DENSE.get("key") != key:
        _DENSE.clear()  # one table at a time
        rid = ts["run_id"].to_numpy()
        rnd = ts["round"].to_numpy()
        _DENSE.update(key=key, **_layout(rid, rnd))
    if metric not in _DENSE:
        v = ts[metric].to_numpy(dtype=float)
        if "rows" not in _DENSE:  # the regular layout: a reshape, no copy
            _DENSE[metric] = v.reshape(len(_DENSE["ids"]), len(_DENSE["rounds"]))
        else:
            m = np.full((len(_DENSE["ids"]), len(_DENSE["rounds"])), np.nan)
            m[_DENSE["rows"], _DENSE["cols"]] = v
            _DENSE[metric] = m
    return _DENSE["ids"], _DENSE["rounds"], _DENSE[metric]


def _layout(rid: np.ndarray, rnd: np.ndarray) -> dict[str, np.ndarray]:
    """The sorted run ids and rounds of a long table, and where each row goes in the dense array;
    no positions when the table is already run-major with the same rounds in every run (as a
    sweep writes it): then the dense array is the column reshaped."""
    n = len(rid)
    k = int(np.searchsorted(rid, rid[0], side="right")) if n else 0  # rows of the first run
    if k and n % k == 0:
        r, ids = rnd[:k], rid[::k]
        regular = np.all(np.diff(r) > 0) and np.all(np.diff(ids) > 0)
        if regular and (rid.reshape(-1, k) == ids[:, None]).all() and (rnd.reshape(-1, k) == r).all():
            return {"ids": ids, "rounds": r}
    ids = np.sort(pd.unique(rid))
    rounds = np.sort(pd.unique(rnd))
    return {"ids": ids, "rounds": rounds, "rows": np.searchsorted(ids, rid), "cols": np.searchsorted(rounds, rnd)}


def _wide(ts: pd.DataFrame, metric: str, run_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Rounds and the (runs × rounds) values of ``metric`` for ``run_ids``, row for row (a run
    without kept rounds is a row of NaN, so that pairs stay aligned)."""
    ids, rounds, m = dense(ts, metric)
    want = np.asarray(run_ids, dtype=ids.dtype)
    if len(ids) == 0:
        return rounds, np.full((len(want), len(rounds)), np.nan)
    pos = np.minimum(np.searchsorted(ids, want), len(ids) - 1)
    out = m[pos]
    out[ids[pos] != want] = np.nan
    return rounds, out


def _quantiles(v: np.ndarray, q: Sequence[float]) -> np.ndarray:
    """Column-wise quantiles ignoring NaN (``np.nanquantile`` goes column by column in Python;
    ``np.quantile`` gives the same values in one pass when there is no NaN)."""
    return np.nanquantile(v, q, axis=0) if np.isnan(v).any() else np.quantile(v, q, axis=0)


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
    scenarios = sorted(runs["scenario"].unique())
    shift = _shift_of(events, shift)
    fig, axes = plt.subplots(1, len(scenarios), figsize=(max(5.2 * len(scenarios), 8), 4.6), sharey=True, squeeze=False)
    binary = is_binary(metric, ts[metric].to_numpy(dtype=float) if metric in ts else None)
    lo_all, hi_all = np.inf, -np.inf
    for ax, sc in zip(axes[0], scenarios, strict=True):
        sub = runs[(runs["scenario"] == sc) & (runs["status"] == "ok")]
        for i, (val, g) in enumerate(sub.groupby(by, sort=True)):
            rounds, v = _wide(ts, metric, g["run_id"])
            v = v[~np.isnan(v).all(axis=1)]
            if v.size == 0:
                continue
            m, lo, hi = stats.mean_band(v, level)
            if binary:  # a share's band stays within 0–1
                lo, hi = np.clip(lo, 0, 1), np.clip(hi, 0, 1)
            col = f"C{i}"
            name = f"{val:g}" if isinstance(val, float) else str(val)
            if not binary:
                q10, q90 = _quantiles(v, [0.1, 0.9])
                ax.fill_between(rounds, q10, q90, color=col, alpha=0.10, lw=0, label=f"{name}: 10–90% of runs")
            ax.fill_between(rounds, lo, hi, color=col, alpha=0.30, lw=0, label=f"{name}: {int(level * 100)}% CI of the mean")
            ax.plot(rounds, m, color=col, lw=2, label=f"{name} (n={v.shape[0]})")
            lo_all, hi_all = min(lo_all, np.nanmin(v)), max(hi_all, np.nanmax(v))
        ax.set_title(sc)
        ax.set_xlabel("round")
        ax.grid(alpha=0.3)
    for ax, sc in zip(axes[0], scenarios, strict=True):
        _finish_axes(ax, lo_all, hi_all)
        if binary:
            ax.set_ylim(-0.02, 1.02)
        _events(ax, events, sc, shift)
    bottom = _legend_below(fig, axes[0], title=by, ncol=3 if binary else 3)
    axes[0, 0].set_ylabel(LABELS.get(metric, metric))
    what = "share of runs with its" if binary else "mean with its"
    fan = "" if binary else " and the 10–90% quantile fan of the runs"
    fig.suptitle(f"{metric}: {what} {int(level * 100)}% CI band{fan}, by {by}")
    return _save(fig, out, f"curves-{metric}", bottom)


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
    scenarios = sorted(runs["scenario"].unique())
    shift = _shift_of(events, shift)
    size = figsize or (max(5.2 * len(scenarios), 8), 4.4)
    fig, axes = plt.subplots(1, len(scenarios), figsize=size, sharey=True, squeeze=False)
    lo_all, hi_all = np.inf, -np.inf
    for ax, sc in zip(axes[0], scenarios, strict=True):
        sub = runs[(runs["scenario"] == sc) & (runs["status"] == "ok")]
        a = sub[sub["arm"] == arm].set_index(stats.KEYS)["run_id"]
        b = sub[sub["arm"] == reference].set_index(stats.KEYS)["run_id"]
        common = a.index.intersection(b.index)
        ax.set_title(sc)
        if len(common) == 0:
            continue
        # rows aligned by pair
        rounds, wa = _wide(ts, metric, a.loc[common].to_numpy())
        _, wb = _wide(ts, metric, b.loc[common].to_numpy())
        d = wa - wb
        m, lo, hi = stats.mean_band(d, level)
        ax.axhline(0, color="k", lw=0.8)
        ax.fill_between(rounds, lo, hi, color="C3", alpha=0.3, lw=0, label=f"{int(level * 100)}% CI of the mean difference")
        ax.plot(rounds, m, color="C3", lw=2, label=f"mean difference (n={len(common)} pairs)")
        lo_all, hi_all = min(lo_all, np.nanmin(lo)), max(hi_all, np.nanmax(hi))
        ax.set_xlabel("round")
        ax.grid(alpha=0.3)
    for ax, sc in zip(axes[0], scenarios, strict=True):
        _finish_axes(ax, lo_all, hi_all, symmetric=True)
        _events(ax, events, sc, shift)
    bottom = _legend_below(fig, axes[0], ncol=2)
    axes[0, 0].set_ylabel(f"{metric}: {arm} − {reference}")
    fig.suptitle(f"Paired difference in {metric}, {arm} minus {reference} (same seeds)", fontsize=11 if figsize else 12)
    return _save(fig, out, name or f"diff-{metric}-{arm}-vs-{reference}", bottom)


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
    return _save(fig, out, "survival")


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

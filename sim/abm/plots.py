"""Figures of a single run."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from sim.scenarios import Event  # noqa: E402


def mark_events(ax: plt.Axes, events: Sequence[Event], side_names: Sequence[str]) -> None:
    """Dotted vertical lines at event rounds, labelled with the event kinds (one label per round)."""
    mark_all(ax, [(ev.round, ev.kind.value) for ev in events])


def mark(ax: plt.Axes, round_: int, label: str = "", shift: bool = False) -> None:
    """One vertical line at ``round_``: dashed and dark for the analysis shift, dotted grey for a
    scenario event; with a small rotated label at the top of the panel."""
    ax.axvline(round_, color="0.15" if shift else "0.5", ls="--" if shift else ":", lw=1.2 if shift else 1, zorder=1)
    if label:
        ax.text(
            round_,
            0.98,
            f" {label}",
            rotation=90,
            va="top",
            ha="left",
            fontsize=7,
            color="0.1" if shift else "0.35",
            transform=ax.get_xaxis_transform(),
            bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.7},
            zorder=5,
        )


def mark_all(ax: plt.Axes, marks: Sequence[tuple[int, str]], shift: int | None = None) -> None:
    """Every event mark of a panel, labels never on top of each other: the kinds at one round are
    joined in one label, and a label whose round is within 3% of the x-range of the previous one
    is written on the other side of its line. ``shift`` (the analysis shift round) is always
    drawn, as the consistent dashed "shift" mark, even in a panel where nothing shifts."""
    by_round: dict[int, list[str]] = {}
    for r, label in marks:
        by_round.setdefault(int(r), [])
        if label and label not in by_round[int(r)]:
            by_round[int(r)].append(label)
    if shift is not None:
        by_round.setdefault(int(shift), [])
    lo, hi = ax.get_xlim()
    span = max(hi - lo, 1.0)
    last, side = None, "left"
    for r in sorted(by_round):
        kinds = by_round[r]
        is_shift = shift is not None and r == int(shift)
        label = ("shift: " + ", ".join(kinds) if kinds else "shift (nothing shifts here)") if is_shift else ", ".join(kinds)
        side = "right" if last is not None and r - last < 0.03 * span and side == "left" else "left"
        mark(ax, r, label, shift=is_shift)
        if label and side == "right":
            ax.texts[-1].set_horizontalalignment("right")
            ax.texts[-1].set_text(f"{label} ")
        last = r


def plot_run(df: pd.DataFrame, events: Sequence[Event], side_names: Sequence[str], title: str, path: str | Path, dpi: int = 110) -> Path:
    """The main curves of one run (one row per round in ``df``) as a 2×2 PNG."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    r = df.index
    ax = axes[0, 0]
    ax.plot(r, df["progress"], label="progress (share of leaderships ready)")
    ax.step(r, df["agreement"], where="post", label="agreement reached", lw=2)
    ax.plot(r, df["motivation"], ls="--", label="motivation (least serious leadership)")
    ax.set_ylabel("share (0–1)")
    ax.set_ylim(-0.05, 1.05)
    ax.set_title("Agreement and leadership motivation")
    ax = axes[0, 1]
    ax.plot(r, df["trust"], label="familiarity across sides")
    ax.step(r, df["channel_open"], where="post", ls=":", label="channel open")
    ax.set_ylabel("mean familiarity (−1 to 1)")
    ax.set_ylim(min(-0.05, float(df["trust"].min()) - 0.05), 1.05)  # below 0: distrust (hollow exchanges)
    ax.set_title("Trust between counterparts")
    ax = axes[1, 0]
    ax.plot(r, df["position_gap"], label="private positions")
    ax.plot(r, df["expressed_gap"], label="expressed positions")
    ax.set_ylabel("gap between sides (issue scale)")
    ax.set_title("How far apart the sides are")
    ax = axes[1, 1]
    ax.plot(r, df["ideas_generated"], label="ideas generated")
    ax.plot(r, df["ideas_reported"], label="ideas reported upward")
    ax.set_ylabel("ideas (cumulative count)")
    ax2 = ax.twinx()
    ax2.plot(r, df["cost"], color="0.4", ls="--", label="cost (right axis)")
    ax2.set_ylabel("cost (rank-weighted delegate-meetings)")
    ax.set_title("Ideas and cost")
    for a in axes.flat:
        mark_events(a, events, side_names)
        a.legend(fontsize=8, loc="best")
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
        a.grid(alpha=0.3)
    ax2.legend(fontsize=8, loc="lower right")
    for a in axes[1]:
        a.set_xlabel("round")
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path

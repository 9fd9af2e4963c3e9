"""Figures of a single run."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from sim.core.metrics import METRIC_SPEC, Kind  # noqa: E402
from sim.scenarios import Event  # noqa: E402

if TYPE_CHECKING:
    import pandas as pd


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


#: The panels of a run's figure: the metrics on the left axis, and on a right axis. Every title,
#: legend entry and axis label comes from the metric spec (:data:`sim.core.metrics.METRIC_SPEC`).
RUN_PANELS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("progress", "agreement", "motivation"), ()),
    (("trust", "channel_open"), ()),
    (("position_gap", "expressed_gap"), ()),
    (("ideas_generated", "ideas_reported"), ("cost",)),
)

#: Line styles that set a curve apart (the rest take the colour cycle's defaults).
RUN_STYLES: dict[str, dict] = {"agreement": {"lw": 2}, "motivation": {"ls": "--"}, "channel_open": {"ls": ":"}}


def _joined(words: Sequence[str]) -> str:
    words = list(dict.fromkeys(words))
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def panel_title(left: Sequence[str], right: Sequence[str] = ()) -> str:
    """A panel's title: its metrics' labels."""
    title = _joined([METRIC_SPEC[m].label for m in left])
    return title + "".join(f"; {METRIC_SPEC[m].label} (right axis)" for m in right)


def axis_label(names: Sequence[str]) -> str:
    """An axis label: the units its metrics share, or the first metric's description (the
    description alone for one metric)."""
    units = {METRIC_SPEC[m].units for m in names}
    text = METRIC_SPEC[names[0]].units if len(names) > 1 and len(units) == 1 else METRIC_SPEC[names[0]].description
    return textwrap.fill(text, 40, break_on_hyphens=False)  # a long description on two lines, not past the panel


def legend_label(name: str, names: Sequence[str]) -> str:
    """A metric's legend entry on an axis holding ``names``: its label, with its units where they
    are not the axis's."""
    m = METRIC_SPEC[name]
    units = {METRIC_SPEC[n].units for n in names}
    same = len(units) == 1 or m.units == METRIC_SPEC[names[0]].units
    return m.label if same else f"{m.label} ({m.units})"


def _curve(ax: plt.Axes, r, y, name: str, names: Sequence[str], **style) -> None:
    """One metric's curve with its legend entry: a 0/1 metric as steps."""
    label = legend_label(name, names)
    style = {**RUN_STYLES.get(name, {}), **style}
    if METRIC_SPEC[name].kind is Kind.BINARY:
        ax.step(r, y, where="post", label=label, **style)
    else:
        ax.plot(r, y, label=label, **style)


def plot_run(df: pd.DataFrame, events: Sequence[Event], side_names: Sequence[str], title: str, path: str | Path, dpi: int = 110) -> Path:
    """The main curves of one run (one row per round in ``df``) as a 2×2 PNG, one panel per entry
    of :data:`RUN_PANELS`."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    r = df.index
    for ax, (left, right) in zip(axes.flat, RUN_PANELS, strict=True):
        for name in left:
            _curve(ax, r, df[name], name, left)
        ax.set_ylabel(axis_label(left))
        ax.set_title(panel_title(left, right), fontsize=10)
        if all(METRIC_SPEC[m].kind in (Kind.BINARY, Kind.SHARE) for m in left):
            ax.set_ylim(-0.05, 1.05)
        elif "trust" in left:  # familiarity runs from −1 (distrust) to 1
            ax.set_ylim(min(-0.05, float(df["trust"].min()) - 0.05), 1.05)
        mark_events(ax, events, side_names)
        ax.legend(fontsize=8, loc="best")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if right:
            ax2 = ax.twinx()
            for name in right:
                _curve(ax2, r, df[name], name, right, color="0.4", ls="--")
            ax2.set_ylabel(axis_label(right))
            ax2.legend(fontsize=8, loc="lower right")
    for a in axes[1]:
        a.set_xlabel("round")
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path

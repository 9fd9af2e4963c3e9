"""Visual regression: the shipped figures, drawn from fixed synthetic data (so model changes do
not move them), must match the reference PNGs in tests/baseline_images/ within a tolerance
(matplotlib.testing.compare.compare_images). A deliberate change to a figure is accepted by
regenerating the references:

    UPDATE_BASELINES=1 .venv/bin/python -m pytest -q tests/test_figures_visual.py

and committing the new PNGs (they are drawn at a low resolution to stay small).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.testing.compare import compare_images

from sim.abm.plots import plot_run
from sim.analysis import effect_figures, estimands, figures
from sim.scenarios import Event, EventKind

BASELINE = Path(__file__).resolve().parent / "baseline_images"
TOL = 3.0  # RMS difference in grey levels (0–255)
SCENARIOS = ["leadership-change", "lean-years"]
EVENTS = {"leadership-change": [(40, "leadership_change")], "lean-years": []}


@pytest.fixture(autouse=True)
def small_and_stable(monkeypatch):
    monkeypatch.setattr(figures, "DPI", 40)
    with matplotlib.rc_context({"svg.hashsalt": "visual", "font.family": "DejaVu Sans"}):
        yield


def synthetic() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Runs and a long time series for 2 scenarios × 2 arms × 2 turnover values × 6 replications."""
    rng = np.random.default_rng(7)
    rows, ts = [], []
    rid = 0
    rounds = np.arange(61)
    for sc in SCENARIOS:
        for point, turnover in enumerate([0.05, 0.3]):
            for rep in range(6):
                for arm in ("keep-open", "wind-down"):
                    open_ = arm == "keep-open"
                    trust = (0.5 if open_ else 0.2) * (1 - np.exp(-rounds / 8)) * (1 - turnover) + rng.normal(0, 0.02, 61)
                    shifted = sc == "leadership-change"
                    r_agree = int(rng.integers(42, 52) + (0 if open_ else 5)) if shifted and rng.random() < 0.8 else -1
                    agree = (rounds >= r_agree).astype(float) if r_agree >= 0 else np.zeros(61)
                    cost = np.cumsum(np.where(open_ | (rounds < 10) | (rounds >= 40), 4.0, 0.0))
                    rows.append(
                        {
                            "run_id": rid,
                            "scenario": sc,
                            "arm": arm,
                            "point": point,
                            "replication": rep,
                            "turnover": turnover,
                            "status": "ok",
                            "agreement": r_agree >= 0,
                            "agreement_round": r_agree,
                            "cost": cost[-1],
                        }
                    )
                    ts.append(
                        pd.DataFrame({"run_id": rid, "round": rounds, "agreement": agree, "trust": trust, "ideas": 0.0, "cost": cost})
                    )
                    rid += 1
    return pd.DataFrame(rows), pd.concat(ts, ignore_index=True)


def phase_cells() -> pd.DataFrame:
    xs, ys = [0.05, 0.15, 0.3], [0.0, 0.5, 1.0]
    v = np.array([[0.27, 0.13, -0.05], [0.4, 0.0, -0.2], [0.6, 0.3, -0.6]])
    rows = [
        {"turnover": x, "handover": y, "mean_diff": v[j, i], "ci_low": v[j, i] - 0.1, "ci_high": v[j, i] + 0.1}
        for i, x in enumerate(xs)
        for j, y in enumerate(ys)
    ]
    return pd.DataFrame(rows)


def draw(name: str, out: Path) -> Path:
    runs, ts = synthetic()
    if name == "curves-agreement":
        return figures.outcome_curves(runs, ts, "agreement", out, events=EVENTS, shift=40)
    if name == "curves-trust":
        return figures.outcome_curves(runs, ts, "trust", out, by="turnover", events=EVENTS, shift=40)
    if name == "curves-ideas":
        return figures.outcome_curves(runs, ts, "ideas", out, events=EVENTS, shift=40)
    if name == "diff-agreement":
        return figures.difference_curves(runs, ts, "agreement", "keep-open", "wind-down", out, events=EVENTS, shift=40, name=name)
    if name == "survival":
        return figures.survival_curves(runs, dict.fromkeys(SCENARIOS, 40), dict.fromkeys(SCENARIOS, 60), out)
    if name == "phase":
        return figures.phase_diagram(phase_cells(), "turnover", "handover", out, "synthetic phase diagram", label="paired difference")
    if name == "sensitivity":
        idx = pd.DataFrame(
            {"parameter": ["turnover", "handover"], "S1": [0.5, 0.2], "S1_conf": [0.05, 0.04], "ST": [0.6, 0.3], "ST_conf": [0.05, 0.05]}
        )
        return figures.sensitivity_bars(idx, out, "synthetic Sobol indices")
    if name == "run":
        r = np.arange(61)
        df = pd.DataFrame(
            {
                "progress": np.clip((r - 40) / 10, 0, 1),
                "agreement": (r >= 50).astype(float),
                "motivation": np.where(r >= 40, 0.8, 0.2),
                "trust": 0.5 * (1 - np.exp(-r / 8)),
                "channel_open": 1.0,
                "position_gap": np.linspace(1, 0.3, 61),
                "expressed_gap": np.linspace(1.2, 0.5, 61),
                "ideas_generated": r // 5,
                "ideas_reported": r // 10,
                "cost": 4.0 * r,
            },
            index=pd.Index(r, name="round"),
        )
        events = [Event(40, EventKind("leadership_change")), Event(40, EventKind("crisis")), Event(41, EventKind("crisis"))]
        return plot_run(df, events, ["A", "B"], "synthetic run", out / "run.png", dpi=40)
    raise KeyError(name)


NAMES = ["curves-agreement", "curves-trust", "curves-ideas", "diff-agreement", "survival", "phase", "sensitivity", "run"]


@pytest.mark.parametrize("name", NAMES)
def test_figure_matches_its_reference(name, tmp_path):
    png = draw(name, tmp_path)
    ref = BASELINE / f"{name}.png"
    if os.environ.get("UPDATE_BASELINES"):
        shutil.copyfile(png, ref)
    assert ref.is_file(), f"no reference for {name}: run with UPDATE_BASELINES=1"
    result = compare_images(str(ref), str(png), tol=TOL)
    assert result is None, result


def test_a_changed_figure_fails(tmp_path):
    """The comparison is not blind: the same figure with a different colour map differs."""
    png = figures.phase_diagram(
        phase_cells().assign(mean_diff=-phase_cells()["mean_diff"]),
        "turnover",
        "handover",
        tmp_path,
        "synthetic phase diagram",
        label="paired difference",
    )
    assert compare_images(str(BASELINE / "phase.png"), str(png), tol=TOL) is not None


class TestRunFigureLabels:
    """The one-run figure's titles, axis labels, legend entries and units come from the metric
    spec (sim.core.metrics.METRIC_SPEC), not from strings of its own."""

    @staticmethod
    def texts(monkeypatch, tmp_path) -> set[str]:
        from sim.abm import plots

        figs: list = []
        monkeypatch.setattr(plots.plt, "close", figs.append)  # keep the figure to read its texts
        draw("run", tmp_path)
        (fig,) = figs
        out = set()
        for ax in fig.axes:
            out |= {ax.get_title(), ax.get_ylabel()}
            if ax.get_legend():
                out |= {t.get_text() for t in ax.get_legend().get_texts()}
        return out - {""}

    def test_every_label_is_derived_from_the_spec(self, monkeypatch, tmp_path):
        from sim.abm.plots import RUN_PANELS, axis_label, legend_label, panel_title

        want = set()
        for left, right in RUN_PANELS:
            want |= {panel_title(left, right), axis_label(left), *(legend_label(m, left) for m in left)}
            if right:
                want |= {axis_label(right), *(legend_label(m, right) for m in right)}
        assert self.texts(monkeypatch, tmp_path) == want

    def test_a_changed_spec_changes_the_figure(self, monkeypatch, tmp_path):
        from dataclasses import replace

        from sim.core.metrics import METRIC_SPEC

        before = self.texts(monkeypatch, tmp_path)
        monkeypatch.setitem(METRIC_SPEC, "trust", replace(METRIC_SPEC["trust"], label="mutual knowledge"))
        monkeypatch.setitem(METRIC_SPEC, "cost", replace(METRIC_SPEC["cost"], description="outlay (meetings)"))
        after = self.texts(monkeypatch, tmp_path)
        assert "mutual knowledge and channel open" in after and "mutual knowledge" in after
        assert "outlay (meetings)" in after and not any("delegate-meetings" in t for t in after)
        assert before - after == {
            "trust (familiarity) and channel open",
            "trust (familiarity)",
            "cumulative cost (rank-weighted\ndelegate-meetings)",
        }


class TestTextsInsideTheFigure:
    """Geometry of the texts, measured on the drawn figure (window extents in pixels): labels are
    not cut by the figure's edge, the suptitle overlaps no panel title, and the effect curves'
    x axis is labelled as what its ticks are (whole rounds)."""

    @staticmethod
    def kept(monkeypatch, module) -> list:
        figs: list = []
        monkeypatch.setattr(module.plt, "close", figs.append)  # keep the figure to measure it
        return figs

    @staticmethod
    def extent(fig, text):
        fig.canvas.draw()
        return text.get_window_extent(fig.canvas.get_renderer())

    def test_a_long_y_label_is_wrapped_inside_the_figure(self, monkeypatch, tmp_path):
        """A y label longer than the panels' height (here the trust label, made longer still) is
        wrapped onto lines, and every line lies inside the figure. Kills: the wrap removed (the
        label runs off the top and bottom, as curves-trust did with four arms)."""
        figs = self.kept(monkeypatch, figures)
        long = "mean familiarity across sides (−1 to 1; below 0: distrust), averaged over every run of the arm"
        monkeypatch.setitem(figures.LABELS, "trust", long)
        draw("curves-trust", tmp_path)
        (fig,) = figs
        label = fig.axes[0].yaxis.label
        box = self.extent(fig, label)
        assert "\n" in label.get_text() and " ".join(label.get_text().split()) == long
        assert box.y0 >= 0 and box.y1 <= fig.bbox.height and box.x0 >= 0
        panel = fig.axes[0].get_window_extent()
        assert box.height <= panel.height + 1  # it fits the panels' height

    def test_a_short_y_label_stays_on_one_line(self, monkeypatch, tmp_path):
        figs = self.kept(monkeypatch, figures)
        draw("curves-agreement", tmp_path)
        assert fig_label(figs[0]) == figures.LABELS["agreement"]

    @staticmethod
    def rows(n: int) -> list[dict]:
        rng = np.random.default_rng(3)
        keep = np.where(rng.random(200) < 0.6, rng.integers(41, 60, 200), np.nan).astype(float)
        ref = np.where(rng.random(200) < 0.4, rng.integers(41, 60, 200), np.nan).astype(float)
        curve = estimands.effect_curve(keep, ref, 40, 60)
        return [
            {"scenario": "leadership-change", "arm": "keep-open", "reference": f"arm-{i}", "condition": None, "curve": curve}
            for i in range(n)
        ]

    @pytest.mark.parametrize(("n", "figsize"), [(1, (6.4, 3.9)), (5, None), (21, None)])
    def test_the_effect_curves_suptitle_clears_the_panel_titles(self, monkeypatch, tmp_path, n, figsize):
        """Kills: the room under the suptitle removed (with 7 rows of panels tight_layout let the
        first row's titles run into it)."""
        figs = self.kept(monkeypatch, effect_figures)
        effect_figures.effect_curve_figure(self.rows(n), tmp_path, "Δ(t) of every other comparison", "e", figsize=figsize)
        (fig,) = figs
        sup = self.extent(fig, fig._suptitle)
        assert sup.y1 <= fig.bbox.height
        for ax in fig.axes:
            if ax.get_visible():
                title = self.extent(fig, ax.title)
                assert title.y1 < sup.y0, (ax.get_title(), title, sup)

    def test_the_effect_curves_x_axis_is_whole_rounds_with_the_shift_named(self, monkeypatch, tmp_path):
        """Kills: the old label ('agreement by round (from the shift)' over absolute rounds) or
        fractional ticks (42.5) back."""
        figs = self.kept(monkeypatch, effect_figures)
        effect_figures.effect_curve_figure(self.rows(2), tmp_path, "Δ(t)", "e")
        (fig,) = figs
        fig.canvas.draw()
        for ax in fig.axes:
            assert ax.get_xlabel() == "round (shift at 40)"
            lo, hi = ax.get_xlim()
            ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
            assert ticks and all(float(t).is_integer() for t in ticks)
            assert 40 in ticks and 60 in ticks  # the shift and the horizon are ticks


def fig_label(fig) -> str:
    return fig.axes[0].get_ylabel()

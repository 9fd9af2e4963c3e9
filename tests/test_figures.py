"""sim.analysis.figures on a small real sweep: every plot function writes a non-empty PNG and SVG,
the PNG is a real image, and the labels drawn come from the runs."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from sim.analysis import figures, stats
from sim.analysis.report import Results, phase_cells
from sim.batch.sweep import read_runs, read_timeseries

from .conftest import HORIZON, MAIN, PLACEBO, SHIFT

SCENARIOS = [MAIN, PLACEBO]


@pytest.fixture(scope="module")
def results(small_sweep) -> Path:
    return small_sweep


@pytest.fixture(scope="module")
def tables(results):
    return read_runs(results), read_timeseries(results)


@pytest.fixture
def svg_text():
    """Keep text as <text> in SVGs (not paths) so that the labels can be read back."""
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        yield


def check_figure(png: Path, name: str) -> str:
    """The PNG and its SVG sibling exist, are non-trivial and the PNG is a real image; return the SVG."""
    png = Path(png)
    assert png.name == f"{name}.png"
    svg = png.with_suffix(".svg")
    assert png.is_file() and svg.is_file()
    assert png.stat().st_size > 1000 and svg.stat().st_size > 1000
    img = mpimg.imread(png)
    assert img.ndim == 3 and img.shape[2] in (3, 4)
    assert 200 <= img.shape[0] <= 3000 and 200 <= img.shape[1] <= 6000
    assert img[..., :3].std() > 0.01, "the image is blank"
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text and text.rstrip().endswith("</svg>")
    return text


def test_outcome_curves(tables, tmp_path, svg_text):
    runs, ts = tables
    png = figures.outcome_curves(runs, ts, "trust", tmp_path, by="arm", events={sc: [(SHIFT, "shift")] for sc in SCENARIOS})
    svg = check_figure(png, "curves-trust")
    # one panel per scenario, one curve per arm labelled with its number of runs
    for sc in SCENARIOS:
        assert f">{sc}<" in svg
    n = runs.groupby("arm").size() // len(SCENARIOS)
    for arm in ("keep-open", "wind-down"):
        assert f"{arm} (n={n[arm]})" in svg
    # the y label, wrapped onto lines where it is longer than the panels are high: each line drawn
    label = [t for t in svg.split("<text") if "familiarity" in t or "distrust" in t]
    lines = [t.split(">", 1)[1].split("<", 1)[0].strip() for t in label]
    assert " ".join(lines) == figures.LABELS["trust"]


def test_outcome_curves_by_a_swept_parameter(tables, tmp_path):
    runs, ts = tables
    png = figures.outcome_curves(runs, ts, "agreement", tmp_path, by="turnover")
    check_figure(png, "curves-agreement")


def test_difference_curves(tables, tmp_path, svg_text):
    runs, ts = tables
    png = figures.difference_curves(
        runs, ts, "cost", "keep-open", "wind-down", tmp_path, events={sc: [(SHIFT, "shift")] for sc in SCENARIOS}
    )
    svg = check_figure(png, "diff-cost-keep-open-vs-wind-down")
    pairs = len(stats.paired(runs[runs["scenario"] == "lean-years"], "cost", "keep-open", "wind-down"))
    assert pairs == 16
    assert f"mean difference (n={pairs} pairs)" in svg


def test_difference_curves_are_the_paired_differences(tables, tmp_path, monkeypatch):
    """The curve drawn is the mean over pairs of arm − reference per round (checked by capturing
    what the column moments are computed from)."""
    runs, ts = tables
    seen = []
    real = stats.column_moments

    def spy(values):
        seen.append(values.copy())
        return real(values)

    monkeypatch.setattr(figures.stats, "column_moments", spy)
    figures.difference_curves(runs, ts, "cost", "keep-open", "wind-down", tmp_path)
    assert len(seen) == len(SCENARIOS)
    for sc, d in zip(sorted(SCENARIOS), seen, strict=True):
        sub = runs[runs["scenario"] == sc]
        wide = ts.pivot(index="run_id", columns="round", values="cost")
        a = sub[sub["arm"] == "keep-open"].set_index(["point", "replication"])["run_id"]
        b = sub[sub["arm"] == "wind-down"].set_index(["point", "replication"])["run_id"]
        b = b.loc[a.index]
        expected = wide.loc[a.to_numpy()].to_numpy() - wide.loc[b.to_numpy()].to_numpy()
        assert d.shape == expected.shape
        assert np.sort(d, axis=0) == pytest.approx(np.sort(expected, axis=0))


def test_survival_curves(tables, tmp_path, svg_text):
    runs, _ = tables
    png = figures.survival_curves(runs, {sc: SHIFT for sc in SCENARIOS}, {sc: HORIZON for sc in SCENARIOS}, tmp_path)
    svg = check_figure(png, "survival")
    for (sc, arm), g in runs.groupby(["scenario", "arm"]):
        agreed = int(g["agreement"].sum())
        assert f"{arm} ({agreed}/{len(g)} agreed)" in svg, (sc, arm)


def test_phase_diagram(results, tmp_path):
    res = Results.load(results)
    for x, y in (("turnover", "handover"), ("window", "turnover")):
        cells = phase_cells(res, x, y, "leadership-change")
        assert len(cells) == 4
        png = figures.phase_diagram(cells, x, y, tmp_path, f"{x} × {y}")
        check_figure(png, f"phase-{x}-{y}")


def test_phase_diagram_with_all_zero_cells(tmp_path):
    """A grid where nothing differs (colour scale of zero width) still draws."""
    cells = pd.DataFrame({"a": [0.1, 0.1, 0.2, 0.2], "b": [1.0, 2.0, 1.0, 2.0], "mean_diff": 0.0, "ci_low": 0.0, "ci_high": 0.0})
    check_figure(figures.phase_diagram(cells, "a", "b", tmp_path, "flat"), "phase-a-b")


def test_sensitivity_bars_sobol_and_morris(tmp_path, svg_text):
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample
    from SALib.test_functions import Ishigami

    problem = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-np.pi, np.pi]] * 3}
    X = sobol_sample.sample(problem, 256, calc_second_order=False, seed=0)
    sob = stats.sobol_indices(problem, Ishigami.evaluate(X))
    svg = check_figure(figures.sensitivity_bars(sob, tmp_path, "Sobol", name="sobol"), "sobol")
    assert "first order S1" in svg and "total ST" in svg and "Sobol index" in svg
    X = morris_sample.sample(problem, 20, num_levels=4, seed=0)
    mor = stats.morris_indices(problem, X, Ishigami.evaluate(X))
    svg = check_figure(figures.sensitivity_bars(mor, tmp_path, "Morris", name="morris"), "morris")
    assert "μ*" in svg and "Morris" in svg
    for p in ("x1", "x2", "x3"):
        assert f">{p}<" in svg

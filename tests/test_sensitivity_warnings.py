"""Tiny Sobol designs: no raw SALib or NumPy warning escapes the analysis or ``dialogue-sim report``
(run here with every warning an error); what such a warning would have meant to the user is one
plain line on stderr instead: too few base samples, a count that is not a power of 2, an output
that is the same at every base sample."""

from __future__ import annotations

import re
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pytest

from sim.analysis import sensitivity as S
from sim.analysis import stats
from sim.analysis.stats import AnalysisNote
from sim.batch.experiment import experiment_from_dict
from sim.batch.sweep import run_sweep
from sim.cli import main
from sim.scenarios import EXPERIMENT_DIR

PROBLEM = {"num_vars": 2, "names": ["a", "b"], "bounds": [[0.0, 1.0]] * 2}


def caught(f) -> list[warnings.WarningMessage]:
    """Every warning ``f()`` lets out (none is filtered away outside it)."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        f()
    return w


class TestSalibIndices:
    def test_an_output_the_same_everywhere_is_one_note_not_salibs_warnings(self):
        """SALib divides by a standard deviation of 0: NumPy's "invalid value encountered in
        divide" gives way to one note, for first- and second-order designs. (Mutation evidence:
        without the filters in stats.sobol_indices the warning escapes.)"""
        for second, n in ((False, 4), (True, 4)):
            y = np.full(n * (2 * 2 + 2 if second else 2 + 2), 0.25)
            w = caught(lambda y=y, second=second: stats.sobol_indices(PROBLEM, y, second_order=second))
            assert [type(x.message) for x in w] == [AnalysisNote], [str(x.message) for x in w]
            assert "the same at every base sample of the design (N = 4)" in str(w[0].message)

    def test_an_output_the_same_at_every_base_sample_only(self):
        """A and B the same, the mixed points not: SALib's "Constant values encountered" (its
        indices 0) gives way to the same note."""
        y = np.zeros((8, 4))
        y[:, 1:3] = np.arange(16).reshape(8, 2)
        w = caught(lambda: stats.sobol_indices(PROBLEM, y.reshape(-1)))
        assert [type(x.message) for x in w] == [AnalysisNote], [str(x.message) for x in w]


def test_noise_corrected_indices_without_variance_warn_nothing():
    """Replication noise larger than the spread between points: the indices and their CIs are NaN
    (the verdict says so); NumPy's "All-NaN slice" of the percentiles stays inside."""
    rng = np.random.default_rng(2)
    y, noise = rng.normal(0, 0.01, 4 * 8), np.full(4 * 8, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = S.sobol(PROBLEM, y, noise, "payoff", n_boot=100)
        r.gaps()
    assert r.indices["ST"].isna().all() and r.indices["ST_conf"].isna().all()


# ---------------------------------------------------------------- the report of a tiny sweep


def tiny(tmp_path: Path, samples: int, twin: bool = False) -> Path:
    """The shipped Sobol experiment cut to two parameters, R = 2, ``samples`` base samples; with
    ``twin`` the reference arm is the treatment again (same seeds: a payoff of exactly 0 everywhere)."""
    d = tomllib.loads((EXPERIMENT_DIR / "sensitivity.toml").read_text())
    d.pop("full")
    d["replications"] = 2
    d["design"] = d["design"] | {"samples": samples, "params": {k: d["design"]["params"][k] for k in ("script_pressure", "reporting")}}
    d["params"] = d.get("params", {}) | {"turnover": 0.0}
    if twin:
        d["arms"][1] = {"name": "wind-down"}  # the name the analysis compares with; no events
    out = tmp_path / f"n{samples}{'-twin' if twin else ''}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # SciPy's balance warning (N not a power of 2) stays inside the sampling
        run_sweep(experiment_from_dict(d), out, workers=1, progress=False)
    return out


def test_a_sweep_of_a_sobol_design_not_a_power_of_2_says_so_in_one_line(tmp_path, capsys):
    """`dialogue-sim sweep`: one plain line instead of SciPy's warning (which escaped before)."""
    text = (EXPERIMENT_DIR / "sensitivity.toml").read_text()
    text = re.sub(r"(?m)^samples = \d+", "samples = 3", re.sub(r"(?m)^replications = \d+", "replications = 1", text, count=1))
    path = tmp_path / "tiny.toml"
    path.write_text(text)
    assert tomllib.loads(text)["design"]["samples"] == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "--workers", "1"]) == 0
    err = capsys.readouterr().err
    assert "Warning" not in err and "Traceback" not in err, err
    lines = [s for s in err.splitlines() if s.startswith("dialogue-sim: warning:")]
    assert lines == [
        "dialogue-sim: warning: the Sobol design's 3 base samples are not a power of 2, so its points lose the balance "
        "of the Sobol' sequence and the indices converge more slowly; use a power of 2 (e.g. 4)"
    ], err


def report_lines(results: Path, capsys) -> list[str]:
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning that reaches the command is an error
        assert main(["report", str(results), "--no-cases"]) == 0
    cap = capsys.readouterr()
    assert "Warning" not in cap.err and "Traceback" not in cap.err, cap.err
    return [s for s in cap.err.splitlines() if s.startswith("dialogue-sim:")]


@pytest.mark.parametrize(
    ("samples", "said"),
    [(6, ["has 6 base sample(s), too few", "6 base samples are not a power of 2"]), (8, ["has 8 base sample(s), too few"]), (16, [])],
)
def test_the_report_of_a_tiny_sobol_sweep_says_what_the_user_should_know(samples, said, tmp_path, capsys):
    """One plain line per fact, in the project's terms, and no library warning. (Mutation evidence:
    without _design_notes in cmd_report the lines are missing.)"""
    lines = report_lines(tiny(tmp_path, samples), capsys)
    assert len(lines) == len(said), lines
    for line, words in zip(lines, said, strict=True):
        assert line.startswith("dialogue-sim: warning: the Sobol design") and words in line, line


def test_the_report_says_when_the_output_is_the_same_everywhere(tmp_path, capsys):
    """Twin arms: the paired payoff is 0 at every point. One line says its indices say nothing
    (once, however often the analysis meets it); SALib's own warnings stay inside."""
    lines = report_lines(tiny(tmp_path, 16, twin=True), capsys)
    assert lines == [
        "dialogue-sim: warning: a Sobol output is the same at every base sample of the design (N = 16), so it has no "
        "variance to apportion: its indices are 0 or undefined and say nothing about the parameters; add base samples "
        "or widen the parameter ranges"
    ], lines

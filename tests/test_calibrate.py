"""Calibration by rejection ABC on a cheap configuration: it runs, resumes after an interruption
with the same result, recovers a planted parameter from synthetic patterns, and rejects bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.analysis.calibration import point_statistics, run_calibration
from sim.batch.calibrate import calibration_from_dict, table_experiment
from sim.batch.experiment import Arm
from sim.batch.store import read_runs, read_timeseries
from sim.batch.sweep import run_sweep
from sim.cli import main
from sim.scenarios import InputError

PLANTED = 0.6  # familiarity_gain behind the synthetic patterns
TS = ["trust", "ideas_reported", "delegation_level"]


def config(patterns: list[dict], samples: int = 160, **cal) -> dict:
    return {
        "name": "cheap",
        "seed": 3,
        "replications": 4,
        "scenarios": ["iran-us-track-two"],
        "chunk_size": 160,
        "design": {"kind": "lhs", "samples": samples, "params": {"familiarity_gain": [0.0, 1.0], "idea_lifetime": [1, 20]}},
        "output": {"timeseries": TS},
        "calibration": {"window": 2, "posterior_replications": 4, "answer": "", "case_runs": 0, "patterns": patterns} | cal,
    }


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> list[dict]:
    """Patterns observed at the planted value: each statistic ± a tolerance."""
    exp = table_experiment("truth", [{"familiarity_gain": PLANTED, "idea_lifetime": 10}], ["iran-us-track-two"], [Arm("base")], 99, 64, TS)
    out = tmp_path_factory.mktemp("truth") / "truth"
    run_sweep(exp, out, workers=1, progress=False)
    pats = [{"name": s, "scenario": "iran-us-track-two", "statistic": s} for s in ("trust_change", "trust_rise")]
    cal = calibration_from_dict(config(pats))
    obs = point_statistics(read_runs(out), read_timeseries(out), cal.patterns, 2).iloc[0]
    return [p | {"low": float(obs[p["name"]]) - 0.03, "high": float(obs[p["name"]]) + 0.03} for p in pats]


class TestRecovery:
    def test_recovers_the_planted_parameter(self, synthetic, tmp_path):
        s = run_calibration(calibration_from_dict(config(synthetic)), tmp_path / "c", workers=1, progress=False, figures=False)
        post = s["posterior"]["familiarity_gain"]
        assert s["accepted"] >= 5
        assert abs(post["mean"] - PLANTED) < 0.1
        assert post["sd"] < 0.5 * (1 / np.sqrt(12))  # narrower than half the prior's sd
        assert post["q05"] <= PLANTED <= post["q95"]

    def test_wrong_patterns_move_the_posterior_away(self, synthetic, tmp_path):
        shifted = [p | {"low": p["low"] - 0.15, "high": p["high"] - 0.15} for p in synthetic]  # patterns of a lower gain
        s = run_calibration(calibration_from_dict(config(shifted)), tmp_path / "c", workers=1, progress=False, figures=False)
        assert s["accepted"] == 0 or s["posterior"]["familiarity_gain"]["q95"] < PLANTED


class TestResume:
    def test_interrupted_then_resumed_equals_uninterrupted(self, synthetic, tmp_path):
        cal = calibration_from_dict(config(synthetic, samples=120) | {"chunk_size": 40})
        ref = run_calibration(cal, tmp_path / "ref", workers=1, progress=False, figures=False)
        done: list[int] = []

        def stop(cid: int) -> None:
            done.append(cid)
            if len(done) == 2:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            run_calibration(cal, tmp_path / "cut", workers=1, progress=False, figures=False, on_chunk=stop)
        assert not (tmp_path / "cut" / "posterior.csv").exists()
        with pytest.raises(InputError, match="--resume"):
            run_calibration(cal, tmp_path / "cut", workers=1, progress=False, figures=False)
        again = run_calibration(cal, tmp_path / "cut", workers=1, progress=False, figures=False, resume=True)
        for k in ("accepted", "posterior", "posterior_predictive"):
            assert again[k] == ref[k]
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "cut" / "posterior.csv"), pd.read_csv(tmp_path / "ref" / "posterior.csv"))


class TestCommand:
    def test_cli_writes_report_figures_and_posterior(self, synthetic, tmp_path):
        path = tmp_path / "cal.toml"
        path.write_text(to_toml(config(synthetic, samples=80)))
        out = tmp_path / "out"
        assert main(["calibrate", str(path), "--out", str(out), "--workers", "1"]) == 0
        for f in (
            "calibration.json",
            "posterior.csv",
            "prior_sample.csv",
            "report.html",
            "figures/posterior-marginals.png",
            "figures/posterior-pairwise.png",
            "figures/ppc-patterns.png",
        ):
            assert (out / f).is_file(), f
        page = (out / "report.html").read_text()
        assert "Posterior predictive checks" in page and "trust_rise" in page

    @pytest.mark.parametrize(
        "edit, words",
        [
            (lambda d: d["calibration"]["patterns"][0].update(statistic="nonsense"), "calibration.patterns[0].statistic"),
            (lambda d: d["calibration"]["patterns"][0].update(scenario="lean-years"), "calibration.patterns[0].scenario"),
            (lambda d: d["design"].update(kind="grid", params={"familiarity_gain": [0.1]}), "design.kind"),
            (lambda d: d["calibration"].update(window=0), "calibration.window"),
            (lambda d: d["calibration"].update(bogus=1), "calibration.bogus"),
        ],
    )
    def test_bad_input_is_one_line_naming_the_field(self, synthetic, tmp_path, capsys, edit, words):
        d = config(synthetic)
        edit(d)
        path = tmp_path / "bad.toml"
        path.write_text(to_toml(d))
        assert main(["calibrate", str(path), "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and words in err and str(path) in err
        assert not (tmp_path / "o").exists()


def test_shipped_calibration_loads():
    from sim.batch.calibrate import load_calibration
    from sim.scenarios import EXPERIMENT_DIR

    cal = load_calibration(EXPERIMENT_DIR / "calibration.toml")
    assert {p.scenario for p in cal.patterns} == {"canada-china-hrd", "iran-us-track-two"}
    iran = [p for p in cal.patterns if p.scenario == "iran-us-track-two"]
    assert not {p.statistic for p in iran} & {"agreement", "agreement_round", "peak_progress"}  # the timings are held out


def test_shipped_priors_are_the_spec_bounds():
    """Uniform priors over the spec's bounds, narrowed only where calibration.toml says why; the
    reporting weight and the lean leaderships' idea memory are among the calibrated parameters."""
    from sim.batch.calibrate import load_calibration
    from sim.core.params import PARAMS
    from sim.scenarios import EXPERIMENT_DIR

    design = load_calibration(EXPERIMENT_DIR / "calibration.toml").experiment.design_params
    narrowed = {"idea_lifetime": (1, 40), "setup_rounds": (0, 8), "cynicism_rate": (0, 1)}
    for name, (low, high) in design.items():
        assert (low, high) == narrowed.get(name, (PARAMS[name].low, PARAMS[name].high)), name
    assert {"reporting", "lean_filing"} <= set(design)


def to_toml(d: dict) -> str:
    """Just enough TOML for these configurations (scalars, lists, tables, arrays of tables)."""
    import json

    def val(v):
        return json.dumps(v)

    def table(prefix: str, t: dict) -> list[str]:
        lines = [
            f"{k} = {val(v)}"
            for k, v in t.items()
            if not isinstance(v, dict) and not (isinstance(v, list) and v and isinstance(v[0], dict))
        ]
        for k, v in t.items():
            if isinstance(v, dict):
                lines += [f"[{prefix}{k}]", *table(f"{prefix}{k}.", v)]
        for k, v in t.items():
            if isinstance(v, list) and v and isinstance(v[0], dict):
                for item in v:
                    lines += [f"[[{prefix}{k}]]", *table(f"{prefix}{k}.", item)]
        return lines

    return "\n".join(table("", d)) + "\n"

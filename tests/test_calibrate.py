"""Calibration by rejection ABC on a cheap configuration: it runs, resumes after an interruption
with the same result, recovers a planted parameter from synthetic patterns, and rejects bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.analysis.calibration import accept, point_statistics, run_calibration
from sim.batch.calibrate import Pattern, calibration_from_dict, table_experiment
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
        "calibration": {"window": 2, "posterior_replications": 4, "answer": "", "case_runs": 0}
        | {"patterns": [dict(p) for p in patterns]}  # copies: a test that edits a pattern must not edit the fixture
        | cal,
    }


def observed(out, pats: list[dict]) -> pd.Series:
    """The statistics of ``pats`` (name, scenario, statistic) at the one design point swept into
    ``out``: patterns still without bounds (these numbers make them), so built directly, not read
    from a calibration file, which refuses a pattern that bounds nothing."""
    patterns = [Pattern(p["name"], p["scenario"], p["statistic"], -np.inf, np.inf) for p in pats]
    return point_statistics(read_runs(out), read_timeseries(out), patterns, 2).iloc[0]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> list[dict]:
    """Patterns observed at the planted value: each statistic ± a tolerance."""
    exp = table_experiment("truth", [{"familiarity_gain": PLANTED, "idea_lifetime": 10}], ["iran-us-track-two"], [Arm("base")], 99, 64, TS)
    out = tmp_path_factory.mktemp("truth") / "truth"
    run_sweep(exp, out, workers=1, progress=False)
    pats = [{"name": s, "scenario": "iran-us-track-two", "statistic": s} for s in ("trust_change", "trust_rise")]
    obs = observed(out, pats)
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
        """Patterns observed at a lower gain (0.25, by the same procedure as ``synthetic``): prior
        points near it meet them (measured 10 of 160), and the posterior moves there, away from PLANTED."""
        lower, truth = 0.25, tmp_path / "lower"
        point = {"familiarity_gain": lower, "idea_lifetime": 10}
        run_sweep(table_experiment("lower", [point], ["iran-us-track-two"], [Arm("base")], 99, 64, TS), truth, workers=1, progress=False)
        pats = [{k: p[k] for k in ("name", "scenario", "statistic")} for p in synthetic]
        obs = observed(truth, pats)
        shifted = [p | {"low": float(obs[p["name"]]) - 0.03, "high": float(obs[p["name"]]) + 0.03} for p in pats]
        assert shifted[0]["high"] < synthetic[0]["low"]  # trust_change: patterns the planted gain does not meet
        s = run_calibration(calibration_from_dict(config(shifted)), tmp_path / "c", workers=1, progress=False, figures=False)
        assert s["accepted"] >= 3, s["accepted"]  # not satisfied by accepting nothing
        post = s["posterior"]["familiarity_gain"]
        assert post["q95"] < PLANTED
        assert abs(post["mean"] - lower) < 0.1


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
            (lambda d: d["calibration"].update(answer=5), "calibration.answer"),
            (lambda d: d.update(arms=[{"name": "only"}]), "arms"),
            (lambda d: d.update(full={"replications": 8}), "full"),
            (lambda d: d["calibration"]["patterns"].append(dict(d["calibration"]["patterns"][0])), "calibration.patterns[2].name"),
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


class TestAccept:
    """Rejection with planted statistics: a point is accepted only if it meets every pattern, not
    just the first (audit: mutating the loop to ``patterns[:1]`` passed every other test)."""

    PATTERNS = [
        Pattern("first", "iran-us-track-two", "trust_change", -0.1, 0.1),
        Pattern("second", "iran-us-track-two", "trust_rise", 0.05, np.inf),
        Pattern("last", "canada-china-hrd", "peak_progress", -np.inf, 0.05),
    ]
    #: point 0 meets all three; 1 fails only the second; 2 fails only the last; 3 fails only the first
    TABLE = pd.DataFrame(
        {"first": [0.0, 0.05, -0.05, 0.4], "second": [0.2, 0.0, 0.1, 0.3], "last": [0.0, 0.0, 0.5, 0.01]},
        index=pd.Index([0, 1, 2, 3], name="point"),
    )

    def test_every_pattern_must_be_met(self):
        ok, dist = accept(self.TABLE, self.PATTERNS)
        assert ok.tolist() == [True, False, False, False]
        assert dist[0] == 0 and (dist[1:] > 0).all()

    @pytest.mark.parametrize("point, fails", [(1, "second"), (2, "last")])
    def test_rejected_when_only_a_later_pattern_fails(self, point, fails):
        """The point meets the first pattern; it must be rejected for missing a later one alone."""
        row = self.TABLE.iloc[[point]]
        met = {p.name: bool(p.shortfall(row[p.name].to_numpy(float))[0] == 0) for p in self.PATTERNS}
        assert [n for n, m in met.items() if not m] == [fails]  # the first pattern met, only `fails` missed
        ok, dist = accept(self.TABLE, self.PATTERNS)
        assert not ok[point] and dist[point] > 0

    def test_distance_is_the_scaled_shortfall(self):
        _, dist = accept(self.TABLE, self.PATTERNS)
        scale = {n: np.nanstd(self.TABLE[n].to_numpy(float)) for n in self.TABLE}
        assert dist[2] == pytest.approx(0.45 / scale["last"])  # point 2: `last` missed by 0.5 - 0.05
        assert dist[1] == pytest.approx(0.05 / scale["second"])  # point 1: `second` missed by 0.05
        assert dist[3] == pytest.approx(0.3 / scale["first"])  # point 3: `first` missed by 0.4 - 0.1


class TestPatternMustBound:
    """A pattern with neither ``low`` nor ``high`` (or only infinite ones) is met by every value:
    it can neither accept nor reject a point, yet it was accepted without a word (bad-input
    audit). Refused in one line; one finite bound is enough."""

    @staticmethod
    def pattern(**bounds) -> dict:
        return {"name": "falling trust", "scenario": "iran-us-track-two", "statistic": "trust_change"} | bounds

    @pytest.mark.parametrize(
        "bounds, shown",
        [({}, "'(neither low nor high)'"), ({"low": -np.inf, "high": np.inf}, "[-inf, inf]"), ({"low": -np.inf}, "[-inf, inf]")],
    )
    def test_refused_in_one_line(self, tmp_path, capsys, bounds, shown):
        path = tmp_path / "unbounded.toml"
        path.write_text(to_toml(config([self.pattern(**bounds)])).replace("Infinity", "inf"))
        assert main(["calibrate", str(path), "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith("dialogue-sim: error:")
        assert f"{path}: calibration.patterns[0].low/high = {shown}: bounds nothing" in err and "a finite low" in err
        assert not (tmp_path / "o").exists()

    @pytest.mark.parametrize("bounds", [{"low": 0.0}, {"high": 0.0}, {"low": -np.inf, "high": 0.5}, {"low": -0.1, "high": 0.1}])
    def test_one_finite_bound_is_enough(self, bounds):
        (p,) = calibration_from_dict(config([self.pattern(**bounds)])).patterns
        assert (p.low, p.high) == (bounds.get("low", -np.inf), bounds.get("high", np.inf))


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
    narrowed = {"idea_lifetime": (1, 40), "cynicism_rate": (0, 1)}
    for name, (low, high) in design.items():
        assert (low, high) == narrowed.get(name, (PARAMS[name].low, PARAMS[name].high)), name
    assert {"reporting", "lean_filing"} <= set(design)
    assert "setup_rounds" not in design  # no case restarts with a delay: its posterior would be its prior


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


def headline(tmp_path, fair: bool) -> str:
    """The shipped headline experiment cut to one grid point and 24 replications (with or without
    its fair-restart arm), as a TOML file for ``calibration.answer``."""
    import tomllib

    from sim.scenarios import EXPERIMENT_DIR

    d = tomllib.loads((EXPERIMENT_DIR / "lean-years.toml").read_text())
    d.pop("full", None)
    d["replications"], d["scenarios"] = 24, ["leadership-change"]
    d["design"] = {"kind": "grid", "params": {"turnover": [0.05]}}
    d["analysis"] = {k: v for k, v in d["analysis"].items() if k in ("shift_round", "window", "windows", "reference", "treatment")}
    d["analysis"]["main"] = "leadership-change"
    if fair:
        d["analysis"]["fair_restart"] = "paused"
    path = tmp_path / f"head-{fair}.toml"
    path.write_text(to_toml(d))
    return str(path)


class TestCalibratedAnswer:
    """The headline estimand over the posterior and the grid, split at the fair-restart arm into
    the restart penalty imposed by construction and what remains without it."""

    def test_split_into_construction_and_the_rest(self, synthetic, tmp_path):
        from sim.analysis.calibration import summary_lines

        cal = calibration_from_dict(config(synthetic, answer=headline(tmp_path, True)))
        s = run_calibration(cal, tmp_path / "c", workers=1, progress=False, figures=False)
        a = s["answer"]
        assert a["fair_restart"] == "paused"
        for label in ("calibrated", "grid"):
            for r in a[label]:
                assert r["effect"] == pytest.approx(r["construction"] + r["net"], abs=1e-12)  # the same pairs in every arm
                assert r["construction_ci_low"] <= r["construction"] <= r["construction_ci_high"]
            assert any(r["construction"] != 0 and r["net"] != 0 for r in a[label])
        for r in a["calibrated"] + a["grid"]:
            assert r["construction"] == pytest.approx(r["p_fair"] - r["p_reference"], abs=1e-12)
        assert any("paused − wind-down (the restart penalty imposed by construction)" in x for x in summary_lines(s))

    def test_no_split_without_a_fair_restart_arm(self, synthetic, tmp_path):
        from sim.analysis.calibration import summary_lines

        cal = calibration_from_dict(config(synthetic, answer=headline(tmp_path, False)))
        s = run_calibration(cal, tmp_path / "c", workers=1, progress=False, figures=False)
        assert "construction" not in s["answer"]["calibrated"][0]
        assert not any("imposed by construction" in x for x in summary_lines(s))


def test_a_binary_file_is_one_line(tmp_path, capsys):
    """The calibration file gets the checks of every input file (read_toml): not a traceback."""
    path = tmp_path / "bad.toml"
    path.write_bytes(b"\xff\xfe not text")
    assert main(["calibrate", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err and "UTF-8" in err
    assert not (tmp_path / "o").exists()

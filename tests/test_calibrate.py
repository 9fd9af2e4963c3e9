"""Calibration by rejection ABC on a cheap configuration: it runs, resumes after an interruption
with the same result, recovers a planted parameter from synthetic patterns, and rejects bad input."""

from __future__ import annotations

from pathlib import Path

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


# ---------------------------------------------------------------- load-time refusals (audit items 5-8)


def cheap(patterns: list[dict], scenarios: tuple[str, ...] = ("iran-us-track-two",), every: int = 1, samples: int = 8, **cal) -> dict:
    """A calibration small enough to run in seconds: ``patterns`` over ``scenarios``, kept every ``every`` rounds."""
    d = config(patterns, samples=samples, **cal) | {"scenarios": list(scenarios), "replications": 2, "chunk_size": 64}
    d["output"] = {"timeseries": TS, "every": every}
    return d


def refused(tmp_path, capsys, d: dict) -> str:
    """Run ``calibrate`` on ``d`` written beside ``tmp_path``: the one-line error (exit 2, nothing written)."""
    path = tmp_path / "cal.toml"
    path.write_text(to_toml(d))
    assert main(["calibrate", str(path), "--out", str(tmp_path / "o"), "--workers", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"dialogue-sim: error: {path}: "), err
    assert not (tmp_path / "o").exists()
    return err.removeprefix(f"dialogue-sim: error: {path}: ")


RISE = {"name": "trust rises", "scenario": "iran-us-track-two", "statistic": "trust_rise", "low": -1.0}
RATE = {"name": "ideas carried upward", "scenario": "iran-us-track-two", "statistic": "idea_rate_rise", "low": -1.0}


class TestWindowRoundsKept:
    """A windowed pattern (the rounds around the Iran-US shift at round 21, window 2: 19-20 before,
    21-22 after) reads rounds that ``[output] every`` may not keep. It failed after the whole prior
    sweep (every = 3, idea_rate_rise: IndexError; every = 5, trust_rise: 'Mean of empty slice'
    warnings, 0 accepted, exit 0), with out/prior left; now refused at load, naming output.every
    and the steps that do keep them."""

    def test_every_that_skips_the_rate_windows_is_refused(self, tmp_path, capsys):
        msg = refused(tmp_path, capsys, cheap([RATE], every=3))
        assert msg.startswith("output.every = 3: allowed: 1 (a step that keeps at least two rounds")
        assert "rounds 19–20 with 21–22 around the leadership change at round 21 of iran-us-track-two" in msg

    def test_every_that_skips_the_mean_windows_is_refused(self, tmp_path, capsys):
        msg = refused(tmp_path, capsys, cheap([RISE], every=5))
        assert msg.startswith("output.every = 5: allowed: 1–2 (a step that keeps at least one round of each window")

    def test_a_one_round_window_gives_no_rate(self, tmp_path, capsys):
        """window = 1 keeps one round each side: the rate of a cumulative count from one round is 0
        whatever the run, a pattern that can tell nothing."""
        msg = refused(tmp_path, capsys, cheap([RATE], window=1))
        assert msg.startswith("calibration.window = 1: allowed: a whole number in [2, 1000]")

    def test_a_pattern_on_a_series_not_kept_is_refused(self, tmp_path, capsys):
        d = cheap([RATE])
        d["output"]["timeseries"] = ["trust", "delegation_level"]
        msg = refused(tmp_path, capsys, d)
        assert msg.startswith("output.timeseries = ['trust', 'delegation_level']: allowed: a list that includes 'ideas_reported'")

    @pytest.mark.parametrize("every", range(1, 8))
    def test_refused_exactly_where_a_window_is_not_kept(self, tmp_path, every):
        """For each step: refused at load if and only if the statistics of a real sweep at that
        step cannot be computed (an empty window, or one round for a rate)."""
        for pat in (RISE, RATE):
            d = cheap([pat], every=every, samples=1) | {"replications": 1}
            try:
                cal = calibration_from_dict(d)
            except InputError as e:
                assert e.field == "output.every"
                refused_ = True
            else:
                refused_ = False
            exp = table_experiment("e", [{"familiarity_gain": 0.5, "idea_lifetime": 10}], ["iran-us-track-two"], [Arm("base")], 5, 1, TS)
            exp.every = every
            out = tmp_path / f"{pat['statistic']}-{every}"
            run_sweep(exp, out, workers=1, progress=False)
            pattern = [Pattern(pat["name"], pat["scenario"], pat["statistic"], -np.inf, np.inf)]
            try:
                st = point_statistics(read_runs(out), read_timeseries(out), pattern, 2)
            except (ValueError, IndexError):
                computable = False
            else:
                computable = bool(np.isfinite(st.to_numpy()).all())
            assert refused_ == (not computable), (pat["statistic"], every)
            if not refused_:
                assert cal.experiment.every == every

    def test_the_rate_is_per_round_when_rounds_are_skipped(self, tmp_path):
        """With every = 2 and window = 4 the kept rounds are 18, 20 and 22, 24: the idea rate is the
        increase over the two rounds between them divided by 2 (it was divided by 1)."""
        row = [{"familiarity_gain": 0.5, "idea_lifetime": 10, "idea_rate": 1.0, "reporting": 1.0}]  # ideas reported around the shift
        full = table_experiment("e", row, ["iran-us-track-two"], [Arm("base")], 5, 8, TS)
        run_sweep(full, tmp_path / "full", workers=1, progress=False)
        half = table_experiment("e", row, ["iran-us-track-two"], [Arm("base")], 5, 8, TS)
        half.every = 2
        run_sweep(half, tmp_path / "half", workers=1, progress=False)
        ts = read_timeseries(tmp_path / "full").pivot(index="run_id", columns="round", values="ideas_reported")
        expected = (((ts[24] - ts[22]) - (ts[20] - ts[18])) / 2).mean()
        assert expected > 0.1  # measured 0.375: not 0 = 0, and a division by 1 would give twice it
        pattern = [Pattern("rate", "iran-us-track-two", "idea_rate_rise", -np.inf, np.inf)]
        got = point_statistics(read_runs(tmp_path / "half"), read_timeseries(tmp_path / "half"), pattern, 4).iloc[0, 0]
        assert got == pytest.approx(expected)

    def test_posterior_predictive_runs_keep_the_same_rounds(self):
        """The accepted sets' fresh runs are summarised like the prior sample's: the same step
        (they kept every round, so a pattern's statistic was a different one)."""
        from sim.batch.calibrate import ppc_experiment

        cal = calibration_from_dict(cheap([RISE], every=2))
        assert ppc_experiment(cal, [{"familiarity_gain": 0.5, "idea_lifetime": 10}]).every == 2


class TestPatternScenario:
    def test_a_shift_pattern_on_a_scenario_without_one_is_refused_at_load(self, tmp_path, capsys):
        """It was refused only after every prior run, naming neither file nor field, with out/prior left."""
        pats = [{"name": "no progress", "scenario": "canada-china-hrd", "statistic": "peak_progress", "high": 0.05}]
        pats.append(RISE | {"scenario": "canada-china-hrd"})
        msg = refused(tmp_path, capsys, cheap(pats, scenarios=("canada-china-hrd", "iran-us-track-two")))
        assert msg.startswith(
            "calibration.patterns[1].scenario = 'canada-china-hrd': trust_rise needs a scenario with a leadership change "
            "(allowed: iran-us-track-two;"
        )

    def test_a_scenario_file_beside_the_calibration_is_found_by_every_step(self, tmp_path, monkeypatch):
        """``my-iran.toml`` beside the calibration file, run from another folder: the prior sweep
        found it there, the statistics (and the posterior predictive runs) looked in the current folder."""
        import shutil

        from sim.batch.calibrate import load_calibration
        from sim.scenarios import SCENARIO_DIR

        beside = tmp_path / "cal"
        beside.mkdir()
        shutil.copy(SCENARIO_DIR / "iran-us-track-two.toml", beside / "my-iran.toml")
        (beside / "cal.toml").write_text(to_toml(cheap([RISE | {"scenario": "my-iran.toml"}], scenarios=("my-iran.toml",))))
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        monkeypatch.chdir(elsewhere)
        cal = load_calibration(beside / "cal.toml")
        s = run_calibration(cal, tmp_path / "out", workers=1, progress=False, figures=False)
        assert s["accepted"] == 8 and s["posterior_predictive"]["trust rises"]["met_share"] == 1.0
        assert cal.shifts == {"my-iran.toml": 21}


class TestAnswerAtLoad:
    def test_an_answer_without_treatment_and_reference_is_refused_at_load(self, tmp_path, capsys):
        """The estimand is treatment − reference: without them it failed after the prior sweep."""
        import tomllib

        head = tomllib.loads(Path(headline(tmp_path, False)).read_text())
        del head["analysis"]["treatment"]
        (tmp_path / "head.toml").write_text(to_toml(head))
        msg = refused(tmp_path, capsys, cheap([RISE], answer=str(tmp_path / "head.toml")))
        assert msg.startswith(f"calibration.answer = '{tmp_path / 'head.toml'}': allowed: an experiment whose [analysis] names")

    def test_an_answer_file_beside_the_calibration_is_found(self, tmp_path, monkeypatch):
        from sim.batch.calibrate import load_calibration

        (tmp_path / "head.toml").write_text(Path(headline(tmp_path, True)).read_text())
        (tmp_path / "cal.toml").write_text(to_toml(cheap([RISE], answer="head.toml")))
        monkeypatch.chdir(tmp_path.parent)
        cal = load_calibration(tmp_path / "cal.toml")
        head = cal.answer_experiment()
        assert head is not None and head.source == str(tmp_path / "head.toml")


class TestNothingAccepted:
    """With no accepted point it said 'wrote OUT/ (calibration.json, posterior.csv, report.html,
    figures/)' but wrote neither the report nor the figures. Now the report is written and says
    that no point was accepted, and calibration.json lists what was written."""

    def test_the_report_says_so_and_the_message_is_true(self, tmp_path, capsys):
        path = tmp_path / "cal.toml"
        path.write_text(to_toml(cheap([RISE | {"low": 5.0}])))
        out = tmp_path / "oz"
        assert main(["calibrate", str(path), "--out", str(out), "--workers", "1"]) == 0
        said = capsys.readouterr().out
        assert "0 of 8 prior points" in said
        listed = said.strip().splitlines()[-1].split("(", 1)[1].rstrip(")").split(", ")
        for f in listed:
            assert (out / f).exists(), f
        page = (out / "report.html").read_text()
        assert "No prior point met every pattern: no posterior" in page
        s = __import__("json").loads((out / "calibration.json").read_text())
        assert s["accepted"] == 0 and s["written"] == ["calibration.json", "prior_sample.csv", "posterior.csv", "report.html", "figures/"]
        assert all((out / f).exists() for f in s["written"] + s["figures"])
        assert not (out / "ppc").exists()


class TestSizeLimit:
    def test_a_vast_prior_is_refused_up_front_as_sweep_refuses_it(self, tmp_path, capsys, monkeypatch):
        """Audit: a calibration of 4e9 prior runs started (and made its folder) where ``sweep``
        refuses the same experiment; now the same cost check, and the same --allow-large.
        (Mutation: without the check, the stand-in for the run fails the test at once.)"""
        import tomllib

        from sim.analysis import calibration
        from sim.scenarios import EXPERIMENT_DIR

        monkeypatch.setattr(calibration, "run_calibration", lambda *a, **k: pytest.fail("a vast calibration was started"))

        d = tomllib.loads((EXPERIMENT_DIR / "calibration.toml").read_text())
        d["design"]["samples"], d["replications"] = 2_000_000, 1000
        path = tmp_path / "vast.toml"
        path.write_text(to_toml(d))
        out = tmp_path / "out"
        assert main(["calibrate", str(path), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--allow-large" in err and str(path) in err, err
        assert not out.exists()

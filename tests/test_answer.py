"""The answer follows planted truths: runs tables built with a known positive effect, a negative
one, curves that cross, a null and an earlier-not-more effect; the JSON and the verdict sentences
must say so. Also the effect curve's bands and the answer box."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sim.analysis import answer, decompose, estimands

SHIFT, HORIZON, N = 40, 60, 400
ANALYSIS = {"shift_round": SHIFT, "soon": 10, "treatment": "keep-open", "reference": "wind-down", "main": "main"}


def runs_table(keep: np.ndarray, ref: np.ndarray) -> pd.DataFrame:
    """A runs table of N pairs whose agreement rounds (NaN: none) are ``keep`` and ``ref``."""
    rows = []
    for arm, rounds in (("keep-open", keep), ("wind-down", ref)):
        for i, r in enumerate(rounds):
            rows.append(
                {
                    "run_id": len(rows),
                    "scenario": "main",
                    "arm": arm,
                    "point": i % 8,
                    "replication": i // 8,
                    "turnover": 0.1 * (i % 8),
                    "status": "ok",
                    "agreement": bool(np.isfinite(r)),
                    "agreement_round": r,
                }
            )
    return pd.DataFrame(rows)


def agree(rng: np.random.Generator, p: float, lo: int, hi: int, u: np.ndarray | None = None) -> np.ndarray:
    u = rng.random(N) if u is None else u
    return np.where(u < p, rng.integers(lo, hi + 1, N), np.nan).astype(float)


def build(keep: np.ndarray, ref: np.ndarray, analysis: dict | None = None, **kw) -> dict:
    return answer.build_answer(
        runs_table(keep, ref),
        name="planted",
        fingerprint="f1nger",
        arms=["keep-open", "wind-down"],
        scenarios=["main"],
        horizons={"main": HORIZON},
        analysis=ANALYSIS if analysis is None else analysis,
        **kw,
    )


def primary(ans: dict) -> dict:
    return estimands.find(ans["estimands"], "main", "keep-open", "wind-down")


class TestPlantedTruths:
    def test_positive(self):
        rng = np.random.default_rng(1)
        ans = build(agree(rng, 0.7, 41, 45), agree(rng, 0.3, 41, 45))
        row = primary(ans)
        assert answer.sign(row["soon"]) == "positive" and answer.sign(row["by_horizon"]) == "positive"
        assert row["by_horizon"]["value"] == pytest.approx(0.4, abs=0.08)
        assert not row["shape"]["crosses"] and row["shape"]["rounds_above_zero"] and not row["shape"]["rounds_below_zero"]
        v = ans["verdict"]
        assert "raised the chance of agreement" in v[0] and "raised the chance of agreement" in v[1]
        assert "The effect is positive" in v[2]

    def test_negative(self):
        rng = np.random.default_rng(2)
        ans = build(agree(rng, 0.3, 41, 45), agree(rng, 0.7, 41, 45))
        row = primary(ans)
        assert answer.sign(row["soon"]) == "negative" and answer.sign(row["by_horizon"]) == "negative"
        v = ans["verdict"]
        assert "lowered the chance of agreement" in v[0] and "lowered the chance of agreement" in v[1]
        assert "The effect is negative" in v[2] and "raised" not in " ".join(v[:3])

    def test_curves_that_cross(self):
        rng = np.random.default_rng(3)
        ans = build(agree(rng, 0.5, 41, 44), agree(rng, 0.9, 53, 57))
        row = primary(ans)
        assert answer.sign(row["soon"]) == "positive" and answer.sign(row["by_horizon"]) == "negative"
        assert row["shape"]["crosses"]
        assert max(row["shape"]["rounds_above_zero"]) < min(row["shape"]["rounds_below_zero"])
        v = ans["verdict"]
        assert "raised" in v[0] and "lowered" in v[1] and "crosses zero" in v[2] and "reverses later" in v[2]

    def test_null(self):
        rng = np.random.default_rng(4)
        ans = build(agree(rng, 0.5, 41, 59), agree(rng, 0.5, 41, 59))
        row = primary(ans)
        assert answer.sign(row["soon"]) == "null" and answer.sign(row["by_horizon"]) == "null"
        assert not row["shape"]["rounds_above_zero"] and not row["shape"]["rounds_below_zero"]
        v = ans["verdict"]
        assert "made no difference" in v[0] and "made no difference" in v[1] and v[2].startswith("At no round")
        assert "raised" not in " ".join(v) and "lowered" not in " ".join(v)

    def test_earlier_not_more(self):
        rng = np.random.default_rng(5)
        u = rng.random(N)  # the same runs agree in both arms, the kept-open ones 8 rounds sooner
        ans = build(np.where(u < 0.6, 42.0, np.nan), np.where(u < 0.6, 50.0, np.nan))
        row = primary(ans)
        assert row["earlier"]["value"] == pytest.approx(-8) and row["more"]["value"] == pytest.approx(0)
        assert row["rmst"]["value"] == pytest.approx(-8 * np.mean(u < 0.6))
        assert any("Earlier vs more — earlier, not more" in s and "earlier by 8.0" in s for s in ans["verdict"])

    def test_agreements_before_the_shift_are_reported_apart(self):
        rng = np.random.default_rng(6)
        keep, ref = agree(rng, 0.5, 41, 50), agree(rng, 0.5, 41, 50)
        keep[:10] = 30.0  # agreed in the lean years
        row = primary(build(keep, ref))
        assert row["before_shift"]["arm"] == 10 and row["before_shift"]["pairs_left_out"] == 10
        assert row["curve"]["n_pairs"] == N - 10
        # none of them counts as an agreement at the shift
        kept = ~np.isin(np.arange(N), np.arange(10))
        expected = np.mean((keep[kept] == SHIFT).astype(float) - (ref[kept] == SHIFT).astype(float))
        assert row["curve"]["estimate"][0] == pytest.approx(expected)

    def test_the_json_holds_every_estimand_and_round_trips(self, tmp_path):
        rng = np.random.default_rng(7)
        ans = build(agree(rng, 0.6, 41, 50), agree(rng, 0.4, 41, 50))
        path = answer.write_answer(ans, tmp_path / "answer.json")
        back = json.loads(path.read_text())
        assert back["fingerprint"] == "f1nger" and back["verdict"] == ans["verdict"]
        assert set(back["estimands_declared"]) == set(estimands.ESTIMANDS)
        row = back["estimands"][0]
        for k in ("curve", "soon", "by_horizon", "rmst", "earlier", "more", "before_shift"):
            assert k in row
        assert len(row["curve"]["estimate"]) == HORIZON - SHIFT + 1


class TestEffectCurve:
    def test_estimate_is_the_paired_difference_in_cumulative_agreement(self):
        a = np.array([40, 45, np.nan, 60, 52.0])
        r = np.array([np.nan, 41, 41, 59, np.nan])
        c = estimands.effect_curve(a, r, SHIFT, HORIZON)
        for k, rnd in zip(c["k"], c["round"], strict=True):
            want = np.mean((a <= rnd).astype(float) - (r <= rnd).astype(float))
            assert c["estimate"][k - 1] == pytest.approx(want)

    def test_simultaneous_band_contains_the_pointwise_band(self):
        rng = np.random.default_rng(8)
        c = estimands.effect_curve(agree(rng, 0.6, 41, 60), agree(rng, 0.4, 41, 60), SHIFT, HORIZON)
        assert c["critical"] > 1.96
        for e, pl, ph, sl, sh in zip(
            c["estimate"], c["pointwise_low"], c["pointwise_high"], c["simultaneous_low"], c["simultaneous_high"], strict=True
        ):
            assert sl <= pl + 0.01 and sh >= ph - 0.01 and sl <= e <= sh


def test_answer_box_is_built_from_the_json():
    rng = np.random.default_rng(9)
    ans = build(agree(rng, 0.7, 41, 45), agree(rng, 0.3, 41, 45))
    box = answer.answer_html(ans, "<figure>curve</figure>")
    assert box.startswith("<section id='answer'") and "<figure>curve</figure>" in box
    for s in ans["verdict"][:3]:
        assert s.replace("'", "&#x27;") in box
    ans["verdict"] = ["a planted sentence"]
    assert "a planted sentence" in answer.answer_html(ans)


class TestPhrase:
    """The verb carries the sign: 'lowered … by' prints the magnitude, never a double negative."""

    def test_lowered_prints_the_magnitude(self):
        """Kills: the negative branch printing the signed estimate ('lowered … by −0.02')."""
        e = {"value": -0.02, "low": -0.04, "high": -0.01}
        assert answer._phrase(e, "raised", "lowered", "the chance") == "lowered the chance by 0.02 (95% CI [0.01, 0.04])"

    def test_raised_and_null_keep_their_sign(self):
        up = {"value": 0.03, "low": 0.01, "high": 0.05}
        assert answer._phrase(up, "raised", "lowered", "the chance") == "raised the chance by +0.03 (95% CI [+0.01, +0.05])"
        null = {"value": -0.01, "low": -0.03, "high": 0.01}
        assert answer._phrase(null, "raised", "lowered", "the chance") == (
            "made no difference to the chance that can be told from zero: -0.01 (95% CI [-0.03, +0.01])"
        )

    def test_the_verdict_has_no_double_negative(self):
        rng = np.random.default_rng(2)
        v = build(agree(rng, 0.3, 41, 45), agree(rng, 0.7, 41, 45))["verdict"]
        assert "lowered the chance of agreement by 0." in v[0] and "lowered the chance of agreement by -" not in " ".join(v)


def _e(value, low, high) -> dict:
    return {"value": value, "low": low, "high": high, "n": 192}


def planted_decomposition(gap: tuple[float, float], error: tuple[float, float], unattributed: dict) -> dict:
    """A decomposition with known numbers: ``gap`` and ``error`` are the transplant gap and the
    additivity error soon and by the horizon."""

    def part(g: float, err: float) -> dict:
        return {
            "total": _e(0.0, -0.04, 0.04),
            "observed": _e(-0.16, -0.21, -0.12),
            "construction": _e(0.02, -0.02, 0.05),
            "carried": _e(-0.02, -0.07, 0.04),
            "carry_overs": _e(0.05, 0.01, 0.11),
            "costs": _e(-0.07, -0.12, -0.03),
            "components": [{"name": "familiarity", "shapley": _e(0.04, 0.02, 0.08)}],
            "transplant_gap": g,
            "additivity_error": err,
        }

    return {
        "donor": "keep-open",
        "recipient": "wind-down",
        "at_round": 40,
        "pairs": 192,
        "by_construction": ["set-up delay"],
        "unattributed": unattributed,
        "soon": part(gap[0], error[0]),
        "by_horizon": part(gap[1], error[1]),
    }


def carries(dec: dict) -> list[str]:
    ans = {"primary": {"scenario": "main", "arm": "keep-open", "reference": "wind-down"}, "estimands": [], "decompositions": [dec]}
    out = answer._construction(ans, {})
    assert len(out) == 2 and all(s.startswith("What carries it") for s in out)
    return out


class TestInexactDecomposition:
    """'What carries it' says first when the decomposition does not account for the effect (planted
    transplant gap / additivity error above :data:`decompose.EXACT_TOLERANCE`) and names what it
    cannot attribute. Kills: the warning dropped, put after the shares, the guard inverted, the
    unattributed parameters not named, the tolerance replaced by a looser one."""

    HEAD = "What carries it soon after the shift (keep-open − wind-down, state transplant at round 40, 192 pairs): "

    def test_exact_decomposition_has_no_warning(self):
        soon, hz = carries(planted_decomposition((0.0, 1e-12), (1e-15, 0.0), {}))
        assert soon.startswith(self.HEAD + "total +0.00 (95% CI [-0.04, +0.04]), set by the reopen event")
        assert "NOT" not in soon + hz and "familiarity +0.04" in soon

    def test_a_transplant_gap_with_an_unattributed_parameter(self):
        soon, hz = carries(planted_decomposition((0.16, 0.0), (0.0, 0.0), {"gatekeeping": 192}))
        assert soon.startswith(
            self.HEAD + "the decomposition does NOT account for this effect (a full transplant does not reproduce the keep-open "
            "run: mean gap 0.16; the effect as run is -0.16 (95% CI [-0.21, -0.12])): the arms also differ in gatekeeping "
            "(192 pairs), which no component transplants; its shares below explain only the transplanted state — total +0.00"
        )
        assert "NOT" not in hz  # exact by the horizon: no warning there

    def test_an_additivity_error_with_nothing_unattributed(self):
        soon, hz = carries(planted_decomposition((0.0, 0.0), (0.0, 0.05), {}))
        assert "NOT" not in soon
        assert hz.startswith(
            "What carries it by the horizon (keep-open − wind-down, state transplant at round 40, 192 pairs): "
            "the decomposition does NOT account for this effect (the shares do not add up to the total: "
            "largest per-pair error 0.05; the effect as run is"
        )
        assert "no state outside the components is recorded as differing" in hz

    def test_both_and_several_parameters(self):
        soon, _ = carries(planted_decomposition((0.39, 0.0), (0.02, 0.0), {"gatekeeping": 192, "regime": 7}))
        assert "mean gap 0.39; the shares do not add up to the total: largest per-pair error 0.02;" in soon
        assert "differ in gatekeeping (192 pairs), regime (7 pairs), which no component transplants" in soon

    def test_the_tolerance_is_floating_point_level(self):
        tol = decompose.EXACT_TOLERANCE
        assert tol == 1e-9
        assert "NOT" not in carries(planted_decomposition((tol, 0.0), (tol, 0.0), {"gatekeeping": 1}))[0]
        assert "NOT" in carries(planted_decomposition((2 * tol, 0.0), (0.0, 0.0), {"gatekeeping": 1}))[0]


class TestDeclaredDecompositionMissing:
    """An experiment that declares a decomposition whose answer has none (its experiment could not
    be rebuilt: another model code, a moved scenario) says so in the verdict, not only in the
    report's body. Kills: the line dropped, or given when nothing was declared."""

    def answer(self, declared: bool) -> dict:
        rng = np.random.default_rng(4)
        analysis = ANALYSIS | ({"decomposition": {"recipients": ["wind-down"]}} if declared else {})
        note = "The decomposition needs the experiment as it was run (the model's code changed)."
        return build(agree(rng, 0.6, 41, 60), agree(rng, 0.4, 41, 60), analysis, decomposition_note=note)

    def test_said_in_the_verdict(self):
        lines = [s for s in self.answer(True)["verdict"] if s.startswith("What carries it")]
        assert lines == [
            "What carries it: the experiment declares a decomposition, but none is in this answer — The decomposition needs "
            "the experiment as it was run (the model's code changed)."
        ]

    def test_not_said_when_none_was_declared(self):
        ans = self.answer(False)
        assert ans["decomposition_missing"] is None and not any("What carries it" in s for s in ans["verdict"])

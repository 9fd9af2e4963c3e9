"""The answer follows planted truths: runs tables built with a known positive effect, a negative
one, curves that cross, a null and an earlier-not-more effect; the JSON and the verdict sentences
must say so. Also the effect curve's bands and the answer box."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sim.analysis import answer, estimands

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


def build(keep: np.ndarray, ref: np.ndarray) -> dict:
    return answer.build_answer(
        runs_table(keep, ref),
        name="planted",
        fingerprint="f1nger",
        arms=["keep-open", "wind-down"],
        scenarios=["main"],
        horizons={"main": HORIZON},
        analysis=ANALYSIS,
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

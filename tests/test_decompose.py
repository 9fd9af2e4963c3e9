"""The state-transplant decomposition: a constructed case where only one component differs is
attributed wholly to it; contributions add up to the total; a full transplant reproduces the
donor run and an empty one the recipient run (so a hook that copies nothing, or the wrong
fields, fails here). Also PRIM scenario discovery on a planted region, and the p-value corrections."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.analysis import decompose, discovery, stats
from sim.batch.ensemble import simulate
from sim.batch.experiment import Arm, Experiment
from sim.batch.transplant import OTHER, components, run_transplants

from .conftest import small_experiment

SHIFT = 40


def crisis_experiment(replications: int = 12) -> Experiment:
    """Two arms identical but for a crisis that wipes familiarity in round 40 while the channel is
    closed (no turnover, so nothing else can differ): only familiarity differs at round 40."""
    reopen = {"round": 41, "kind": "channel_reopen", "setup_rounds": 0, "fresh_personnel": False}
    return Experiment(
        name="one-component",
        scenarios=["leadership-change"],
        seed=7,
        replications=replications,
        params={"turnover": 0.0, "initial_familiarity": 0.6, "familiarity_decay": 0.0},
        arms=[
            Arm("donor", events=[reopen], channel_open=False),
            Arm("recipient", events=[{"round": 40, "kind": "crisis", "severity": 1.0}, reopen], channel_open=False),
        ],
    )


@pytest.fixture(scope="module")
def crisis_dec():
    return decompose.decompose(crisis_experiment(), "leadership-change", "donor", "recipient", 40, SHIFT, 10, replications=12)


@pytest.fixture(scope="module")
def exp():
    return small_experiment()


@pytest.fixture(scope="module")
def dec(exp):
    return decompose.decompose(exp, "leadership-change", "keep-open", "wind-down", 40, SHIFT, 10, replications=2, permutations=2)


class TestOneDifferingComponent:
    def test_everything_is_attributed_to_familiarity(self, crisis_dec):
        dec = crisis_dec
        for key in ("soon", "by_horizon"):
            part = dec[key]
            phi = part["_phi"]
            names = [c["name"] for c in part["components"]]
            total = phi.sum(axis=1)
            fam = names.index("familiarity")
            np.testing.assert_allclose(phi[:, fam], total)  # 100% to familiarity, pair by pair
            others = np.delete(phi, fam, axis=1)
            assert np.abs(others).max() == 0
        assert dec["soon"]["total"]["low"] > 0, "the crisis must change outcomes for the test to bite"


class TestAdditivity:
    def test_contributions_and_interaction_add_up_to_the_total(self, dec):
        assert dec["soon"]["total"]["value"] != 0  # not vacuous
        for key in ("soon", "by_horizon"):
            part = dec[key]
            assert part["additivity_error"] == 0
            shap = sum(c["shapley"]["value"] for c in part["components"])
            assert shap == pytest.approx(part["total"]["value"], abs=1e-5)
            singles = sum(c["single"]["value"] for c in part["components"])
            assert singles + part["interaction"]["value"] == pytest.approx(part["total"]["value"], abs=1e-5)
            assert any(c["shapley"]["value"] != 0 for c in part["components"]) or part["total"]["value"] == 0
            # a full transplant is the kept-open run: total equals the observed arm difference
            assert part["transplant_gap"] == 0
            assert part["total"]["value"] == pytest.approx(part["observed"]["value"])

    def test_no_transplant_is_the_recipient_run_and_a_full_one_the_donor_run(self, exp):
        pairs = [(p, r) for p in range(len(exp.points)) for r in range(2)]
        names = list(components())
        masks = np.array([np.zeros(len(names), bool), np.ones(len(names), bool)])
        tr = run_transplants(exp, 0, pairs, 0, 1, 40, masks, names)
        alone = simulate([exp.setup(0, p, 1) for p, _ in pairs], [exp.seed_of(p, r) for p, r in pairs], metrics=[])
        donor = simulate([exp.setup(0, p, 0) for p, _ in pairs], [exp.seed_of(p, r) for p, r in pairs], metrics=[])
        np.testing.assert_array_equal(tr.recipient[:, 0], alone.agreement_round)
        np.testing.assert_array_equal(tr.donor, donor.agreement_round)
        # agreements after the transplant round follow the donor exactly
        late = donor.agreement_round > 40
        np.testing.assert_array_equal(tr.recipient[late, 1], donor.agreement_round[late])

    def test_components_partition_the_dynamic_state(self):
        comps = components()
        fields = [f for fs in comps.values() for f in fs]
        assert len(fields) == len(set(fields))
        assert "familiarity" in fields and "setup_left" in fields and "agreed" not in fields
        assert OTHER not in comps or comps[OTHER]


class TestDiscovery:
    def test_prim_finds_the_planted_regions(self):
        a, b = np.meshgrid(np.linspace(0, 1, 11), np.linspace(0, 1, 11))
        eff = pd.DataFrame({"a": a.ravel(), "b": b.ravel()})
        eff["effect"] = np.where(eff["a"] >= 0.7, 0.3, np.where(eff["b"] <= 0.2, -0.3, 0.0))
        out = discovery.discover(eff, ["a", "b"], margin=0.1)
        pos = out["boxes"]["positive"][0]
        assert "a ≥ 0.7" in pos["rule"] and pos["density"] == 1.0 and pos["coverage"] == 1.0
        neg = out["boxes"]["negative"][0]
        assert "b ≤ 0.2" in neg["rule"] and neg["density"] >= 0.9
        assert out["counts"]["positive"] == 44


class TestCorrections:
    def test_holm_by_hand_and_bh_from_scipy(self):
        p = [0.01, 0.04, 0.03, 0.005]
        np.testing.assert_allclose(stats.adjust_p(p, "holm"), [0.03, 0.06, 0.06, 0.02])
        np.testing.assert_allclose(stats.adjust_p(p, "bh"), [0.02, 0.04, 0.04, 0.02])
        with pytest.raises(ValueError):
            stats.adjust_p(p, "bonferroni")

    def test_paired_p_value(self):
        assert stats.paired_p_value([0, 0, 0]) == 1.0
        assert stats.paired_p_value([1, 1, 1]) == 0.0
        assert stats.paired_p_value(np.r_[np.ones(30), np.zeros(30)]) < 1e-6

"""The state-transplant decomposition: a constructed case where only one component differs is
attributed wholly to it; contributions add up to the total; a full transplant reproduces the
donor run and an empty one the recipient run (so a hook that copies nothing, or the wrong
fields, fails here). Also the p-value corrections."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analysis import decompose, stats
from sim.batch import transplant
from sim.batch.ensemble import simulate
from sim.batch.executors import LocalProcessExecutor, SerialExecutor
from sim.batch.experiment import Arm, Experiment
from sim.batch.transplant import COMPONENTS, EVENT_SET, classification, components, run_transplants, shapley_plan
from sim.core import rules
from sim.core.state import State, layout_of

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
        # not vacuous: on this small grid no pair's agreement differs within 10 rounds of the shift
        # (the soon window's total is 0 at 2–8 replications), by the horizon it does
        assert dec["by_horizon"]["total"]["value"] != 0
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

    def test_the_main_split_sums_the_shapley_values_over_its_sets(self, dec):
        """construction / carried split by decompose.BY_CONSTRUCTION, costs / carry-overs by
        decompose.COSTS (named sets, not the components' own flags), each the full estimate of the
        per-pair sum. Kills: ``in`` ↔ ``not in`` on either set (construction and carried swap; costs
        become the sum of the other components)."""
        names = [c["name"] for c in dec["soon"]["components"]]
        sets = {
            "construction": [n in decompose.BY_CONSTRUCTION for n in names],
            "carried": [n not in decompose.BY_CONSTRUCTION for n in names],
            "costs": [n in decompose.COSTS for n in names],
            "carry_overs": [n not in decompose.BY_CONSTRUCTION and n not in decompose.COSTS for n in names],
        }
        for key, members in sets.items():  # not vacuous: every set holds some components and not all
            assert any(members) and not all(members), key
        assert [c["by_construction"] for c in dec["soon"]["components"]] == sets["construction"]
        assert [c["kind"] == "cost" for c in dec["soon"]["components"]] == sets["costs"]
        told_apart = {"construction/carried": 0, "costs/carry_overs": 0}
        for window in ("soon", "by_horizon"):
            part = dec[window]
            phi = part["_phi"]
            for key, members in sets.items():
                idx = np.flatnonzero(members)
                want = sum(part["components"][c]["shapley"]["value"] for c in idx)
                assert part[key]["value"] == pytest.approx(want, abs=1e-5), (window, key)
                assert part[key] == decompose._e(phi[:, idx].sum(axis=1)), (window, key)  # CI and n too
            told_apart["construction/carried"] += part["construction"]["value"] != part["carried"]["value"]
            told_apart["costs/carry_overs"] += part["costs"]["value"] != part["carry_overs"]["value"]
            # the two splits are of the same total (every pair's Shapley values add up to it)
            assert part["construction"]["value"] + part["carried"]["value"] == pytest.approx(part["total"]["value"], abs=1e-5)
            costs_and_carry = part["costs"]["value"] + part["carry_overs"]["value"]
            assert costs_and_carry == pytest.approx(part["carried"]["value"], abs=1e-5)
        # not vacuous: a swap of either pair changes some value (soon: construction −0.25, carried +0.25)
        assert all(told_apart.values()), told_apart

    def test_components_partition_the_dynamic_state(self):
        coords = [f for fs in components().values() for f in fs]
        assert len(coords) == len(set(coords))
        where = classification()
        assert "unclassified" not in where.values(), "a State field no component, event set or bookkeeping holds"
        assert where["familiarity"] == "familiarity + hollow distrust" and where["setup_left"] == "set-up delay"
        assert where["agreed"] == "bookkeeping" and where["arrivals"] == "personnel (who sits)"


class TestExactnessMeasures:
    """transplant_gap and additivity_error are computed from the runs, not set: planted on
    hand-made transplant runs (no simulation), each takes the value planted. Kills: either entry
    replaced by a constant 0.0."""

    #: 4 pairs × 3 components, one permutation; the window is rounds 40 … 49.
    P, C, LAST = 4, 3, 49

    def runs(self) -> transplant.TransplantRuns:
        """Recipient copies that agree (round 45) exactly when familiarity (component 0) is
        transplanted, and donor runs that agree at 45 as a full transplant does."""
        names = ["familiarity", "positions", "cynicism"]
        masks, _ = shapley_plan(self.P, self.C, 1, seed=0)
        recipient = np.where(masks[:, :, 0], 45, -1)
        return transplant.TransplantRuns(names, masks, np.full(self.P, 45), recipient, {n: self.P for n in names}, {})

    def test_exact_runs_give_zero(self):
        part = decompose.attribute(self.runs(), SHIFT, self.LAST, 1)
        assert part["transplant_gap"] == 0 and part["additivity_error"] == 0
        assert part["total"]["value"] == 1.0 and part["components"][0]["shapley"]["value"] == 1.0

    def test_a_donor_the_full_transplant_misses_gives_the_gap(self):
        tr = self.runs()
        tr.donor[:3] = 60  # three of four donor runs agree after the window: the full transplant no longer reproduces them
        part = decompose.attribute(tr, SHIFT, self.LAST, 1)
        assert part["transplant_gap"] == 0.75
        tr.donor[0] = 39  # before the window: still outside it
        assert decompose.attribute(tr, SHIFT, self.LAST, 1)["transplant_gap"] == 0.75

    def test_shapley_values_that_miss_the_total_give_the_error(self, monkeypatch):
        real = decompose.shapley_values

        def off(*args):
            phi = real(*args)
            phi[2, 1] += 0.25  # pair 2's contributions now sum to its total + 0.25
            phi[3, 0] -= 0.1
            return phi

        monkeypatch.setattr(decompose, "shapley_values", off)
        part = decompose.attribute(self.runs(), SHIFT, self.LAST, 1)
        assert part["additivity_error"] == pytest.approx(0.25)
        assert part["transplant_gap"] == 0


# ---------------------------------------------------------------- one planted difference per component

#: Costs and carry-overs switched on strongly in lean years candid enough for agreements to come
#: (three in four runs agree by the horizon), with distrust and trust both present at the shift.
PLANT_PARAMS = {
    "script_pressure": 0.45,
    "script_relief": 0.9,
    "hollow_distrust": 0.3,
    "entrenchment": 0.5,
    "substitution": 0.2,
    "cynicism_rate": 0.3,
}
#: Where a component needs other settings to hold state worth planting into.
PLANT_OVERRIDES = {
    "familiarity": {"hollow_distrust": 0.03, "script_pressure": 0.45},  # lean years candid enough for trust
    "personnel (who sits)": {"entrenchment": 0.0},  # no drift, so new people need no rebuilt x(0)
    "positions": {"openness": 0.9},  # views that move away from the anchors and stay moved
    "hollow distrust": {"script_pressure": 0.5, "hollow_distrust": 0.3},  # distrust in every run, trust in some pairs
}

#: Where 6 replications are too few for the planted change to alter an agreement: deeper distrust only
#: delays the trust that recovers after the shift (measured: no changed outcome at 6–16 replications,
#: 3 changed pairs at 24).
PLANT_REPLICATIONS = {"hollow distrust": 24}


def _plant(name: str, st: State, b: int, cross: np.ndarray) -> None:
    """Change run ``b``'s state in component ``name`` only, written by hand from the component's
    meaning (not with :func:`sim.batch.transplant.transplant`); ``cross`` marks cross-side pairs."""
    F = st.familiarity
    if name == "familiarity":
        F[b] = np.where(cross & (F[b] >= 0), 0.9, F[b])  # strong trust where there was no distrust
    elif name == "hollow distrust":
        F[b] = np.where(cross & (F[b] <= 0), -0.9, F[b])  # deep distrust where there was no trust
    elif name == "alumni memory":
        st.alumni[b] = 0.9
    elif name == "positions":
        st.private[b] = 1 - st.private[b]
        st.expressed[b] = 1 - st.expressed[b]
    elif name == "leadership idea memory":
        st.memory_age[b] = 0.0  # every idea bin just reported
    elif name == "set-up delay":
        st.setup_left[b] = 10
    elif name == "personnel (who sits)":
        drawn = np.linspace(0.05, 0.95, st.anchor.shape[1])
        st.anchor[b] = drawn + (st.anchor[b] - st.anchor_drawn[b])  # new people, each drifted as before
        st.anchor_drawn[b] = drawn
        st.tenure[b] = 0.0
        st.arrivals[b] += 1
    elif name == "entrenchment":
        st.anchor[b] = st.anchor_drawn[b] + 3 * (st.anchor[b] - st.anchor_drawn[b])  # the same people, drifted further
    elif name == "cynicism":
        st.exposure[b] = st.exposure[b] + 1000  # cynical for the whole window despite candid meetings
        st.cynicism[b] = rules.cynicism_of(st.exposure[b], PLANT_PARAMS["cynicism_rate"])
    elif name == "substitution":
        st.leader_exposure[b] = st.leader_exposure[b] + 50  # pressure fully substituted
        st.motivation[b] = 0.0
    else:
        raise AssertionError(f"no planted difference for {name}")


def planted_decomposition(name: str, monkeypatch) -> dict:
    """keep-open against itself, with the recipient copies' ``name`` component changed by hand at
    round 40 before the transplant: only that component differs between donor and recipient."""
    real = transplant.simulate

    def simulate(setups, seeds, on_round, **kw):
        G = 2 * len(COMPONENTS) + 2  # shapley_plan with one permutation: V = 2C + 1 copies, plus the donor

        def hook(t, st, rows):
            if t == SHIFT:
                for local, row in enumerate(rows):
                    if row % G:
                        _plant(name, st, local, cross)
            on_round(t, st, rows)

        return real(setups, seeds, on_round=hook, **kw)

    monkeypatch.setattr(transplant, "simulate", simulate)
    r = PLANT_REPLICATIONS.get(name, 6)
    exp = small_experiment(params=PLANT_PARAMS | PLANT_OVERRIDES.get(name, {}), replications=r)
    cross = layout_of(exp.setup(0, 0, 0)).cross
    # every component: keep-open's own events reopen nothing, so by default set-up and personnel would be left out
    return decompose.decompose(exp, "leadership-change", "keep-open", "keep-open", SHIFT, SHIFT, 10, replications=r, names=list(COMPONENTS))


class TestOnePlantedComponent:
    """For every component: a recipient that differs from the donor in that component alone has
    the whole effect attributed to it, pair by pair, in both windows."""

    @pytest.mark.parametrize("name", list(COMPONENTS))
    def test_all_of_the_effect_goes_to_the_planted_component(self, name, monkeypatch):
        dec = planted_decomposition(name, monkeypatch)
        assert dec["differing"][name] == dec["pairs"], "the planted difference must show in its component"
        assert {n for n, k in dec["differing"].items() if k} == {name}, "and in no other"
        assert not dec["unattributed"]
        bites = 0
        for key in ("soon", "by_horizon"):
            part = dec[key]
            phi, names = part["_phi"], [c["name"] for c in part["components"]]
            total = phi.sum(axis=1)
            c = names.index(name)
            np.testing.assert_array_equal(phi[:, c], total)
            assert np.abs(np.delete(phi, c, axis=1)).max() == 0
            assert part["additivity_error"] == 0 and part["transplant_gap"] == 0
            bites += int(np.count_nonzero(total))
        assert bites > 0, f"planting {name} must change some outcome for the test to bite"


class TestSplitState:
    """The state kept apart for the decomposition changes nothing in a run: the leadership's
    exposure equals the delegates' and x(0) − drawn x(0) is entrenchment's drift alone."""

    @pytest.mark.parametrize("entrenchment", [0.0, 0.5])
    def test_leader_exposure_and_drawn_anchor(self, entrenchment):
        exp = small_experiment(params=PLANT_PARAMS | {"entrenchment": entrenchment})
        setups = [exp.setup(0, p, a) for p in range(len(exp.points)) for a in range(2)]
        drifted = []

        def hook(t, st, rows):
            np.testing.assert_array_equal(st.leader_exposure, st.exposure)
            drifted.append(np.abs(st.anchor - st.anchor_drawn).max())

        simulate(setups, list(range(len(setups))), metrics=[], on_round=hook)
        assert (max(drifted) == 0) == (entrenchment == 0)


class TestEventSetState:
    """State that only scheduled events set is the same in the headline arms at the reopen round;
    where arms differ in such an event the decomposition says the state is not attributed."""

    def test_headline_arms_leave_nothing_unattributed(self, dec):
        assert dec["unattributed"] == {}
        assert dec["differing"]["set-up delay"] > 0 and dec["differing"]["personnel (who sits)"] > 0

    def test_an_arm_with_its_own_gatekeeper_is_reported(self):
        base = small_experiment(replications=2)
        gate = {"round": 20, "kind": "gatekeeper_change", "side": "A", "value": 0.5}
        exp = small_experiment(replications=2, arms=[base.arms[0], Arm("wind-down", events=[*base.arms[1].events, gate])])
        out = decompose.decompose(exp, "leadership-change", "keep-open", "wind-down", SHIFT, SHIFT, 10, replications=2)
        assert set(out["unattributed"]) == {"gatekeeping"} and out["unattributed"]["gatekeeping"] == out["pairs"]
        assert set(EVENT_SET) >= set(out["unattributed"])


class TestWorkerCount:
    """The transplant runs give the same results whatever executor and number of workers."""

    def test_serial_and_two_processes_agree(self, exp, monkeypatch):
        monkeypatch.setattr(transplant, "TASK_RUNS", 64)  # several tasks, so the workers share them
        pairs = [(p, r) for p in range(len(exp.points)) for r in range(3)]
        masks, _ = shapley_plan(len(pairs), len(COMPONENTS), 1, seed=3)
        runs = [
            run_transplants(exp, 0, pairs, 0, 1, SHIFT, masks, executor=ex)
            for ex in (SerialExecutor(), LocalProcessExecutor(2), LocalProcessExecutor(3))
        ]
        for other in runs[1:]:
            np.testing.assert_array_equal(other.donor, runs[0].donor)
            np.testing.assert_array_equal(other.recipient, runs[0].recipient)
            assert other.differing == runs[0].differing
        assert (runs[0].recipient >= 0).any()

    def test_forked_workers_inherit_the_warm_up(self, exp, monkeypatch):
        """As a sweep's workers do, the transplant runs' forked workers get the model compiled in the
        parent: run_transplants passes a warm-up that local processes call before they fork (and
        serial runs ignore). Kills: the warm-up not passed, or not called before the pool."""
        import sim.batch.executors as executors

        order: list[str] = []
        monkeypatch.setattr(transplant, "warm_up", lambda e: order.append(f"warm {e.name}"))
        real_pool = executors.ProcessPoolExecutor

        def pool(*a, **k):
            order.append("pool")
            return real_pool(*a, **k)

        monkeypatch.setattr(executors, "ProcessPoolExecutor", pool)
        monkeypatch.setattr(executors.LocalProcessExecutor, "context", staticmethod(lambda: executors.get_context("fork")))
        masks, _ = shapley_plan(2, len(COMPONENTS), 1, seed=3)
        run_transplants(exp, 0, [(0, 0), (0, 1)], 0, 1, SHIFT, masks, executor=LocalProcessExecutor(2))
        assert order == [f"warm {exp.name}", "pool"]
        order.clear()
        run_transplants(exp, 0, [(0, 0), (0, 1)], 0, 1, SHIFT, masks, executor=SerialExecutor())
        assert order == []


class TestCorrections:
    def test_holm_by_hand_and_bh_from_scipy(self):
        p = [0.01, 0.04, 0.03, 0.005]
        np.testing.assert_allclose(stats.adjust_p(p, "holm"), [0.03, 0.06, 0.06, 0.02])
        np.testing.assert_allclose(stats.adjust_p(p, "bh"), [0.02, 0.04, 0.04, 0.02])
        with pytest.raises(ValueError):
            stats.adjust_p(p, "bonferroni")

    def test_replications_each_cell_needs(self):
        from sim.analysis.report import correct

        cells = pd.DataFrame(
            {
                "mean_diff": [0.10, 0.0, 0.0],
                "ci_low": [0.06, -0.06, -0.01],
                "ci_high": [0.14, 0.06, 0.01],
                "p_value": [1e-6, 0.9, 0.9],
            }
        )
        out = correct(cells, "bh", tolerance=0.03, replications=8)
        assert out["significant"].tolist() == [True, False, False]
        assert out["adequate"].tolist() == [True, False, True]
        # decided: its CI (±0.04 around 0.10) clears zero from 8 × (0.04 / 0.10)² → 2; ±0.06 → ±0.03 needs 4× the
        # replications; already precise: fewer suffice
        assert out["replications_needed"].tolist() == [2, 32, 1]

    def test_significant_only_where_the_ci_excludes_zero(self):
        """A cell whose adjusted p-value passes but whose printed CI includes 0 is not called
        significant (the review found 3.75% of cells so under the t test). Kills: significance
        from the p-value alone."""
        from sim.analysis.report import correct

        cells = pd.DataFrame(
            {
                "a": [1, 2],
                "b": [1, 1],
                "mean_diff": [0.005, 0.1],
                "ci_low": [-0.001, 0.05],
                "ci_high": [0.011, 0.15],
                "p_value": [1e-4, 1e-4],
            }
        )
        out = correct(cells, "bh", tolerance=0.03, replications=8)
        assert out["significant"].tolist() == [False, True]

    def test_paired_p_value(self):
        """Differences of 0/1 outcomes: the exact McNemar test (3 pairs all one way: 2 × 0.5³ = 0.25,
        where the t test said 0; 4 one way: 0.125 against t's 0.045). Kills: the t test for them."""
        assert stats.paired_p_value([0, 0, 0]) == 1.0
        assert stats.paired_p_value([1, 1, 1]) == pytest.approx(0.25)
        assert stats.paired_p_value([1, 1, 1, 1, 0, 0, 0]) == pytest.approx(0.125)
        assert stats.paired_p_value([1, -1, 1, 0]) == pytest.approx(1.0)
        assert stats.paired_p_value(np.r_[np.ones(30), np.zeros(30)]) < 1e-6
        assert stats.paired_p_value([0.5, 0.5, 0.5]) == 0.0  # not 0/1 differences: the t test's limit
        assert stats.paired_p_value([0.2, 0.4, 0.1, 0.3]) == pytest.approx(0.0305, abs=1e-3)


# ---------------------------------------------------------------- several recipients: wind-down, then paused

#: The headline experiment's restarted arms (experiments/lean-years.toml), small: wind-down with the
#: restart rules, paused without them.
PAUSED_REOPEN = {"round": SHIFT, "kind": "channel_reopen", "setup_rounds": 0, "fresh_personnel": False}


def two_recipient_experiment(**kw) -> Experiment:
    base = small_experiment()
    paused = Arm("paused", events=[{"round": 10, "kind": "channel_close"}, PAUSED_REOPEN])
    dec = {"recipients": ["wind-down", "paused"], "replications": 2}
    return small_experiment(arms=[*base.arms, paused], analysis=base.analysis | {"decomposition": dec}, **kw)


def declared(exp: Experiment, folder) -> tuple[dict | None, str]:
    """:func:`decompose.run_declared` on a results folder holding only ``exp``'s manifest (it runs
    no sweep: the transplant runs are its own)."""
    import json

    from sim.batch.store import manifest

    (folder / "manifest.json").write_text(json.dumps(manifest(exp, 1), default=str), encoding="utf-8")
    return decompose.run_declared(folder, workers=1)


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    exp = two_recipient_experiment()
    return exp, declared(exp, tmp_path_factory.mktemp("two-recipients"))


def test_results_of_another_model_code_are_not_decomposed(tmp_path, monkeypatch):
    """Transplant runs of this model paired with stored runs of another would attribute the
    difference between the two models: run_declared refuses, and says why."""
    import sim.version

    exp = two_recipient_experiment()
    monkeypatch.setattr(sim.version, "model_code", lambda root=None: "0123456789abcdef")
    import json

    from sim.batch.store import manifest

    (tmp_path / "manifest.json").write_text(json.dumps(manifest(exp, 1), default=str), encoding="utf-8")
    monkeypatch.undo()
    dec, note = decompose.run_declared(tmp_path, workers=1)
    assert dec is None
    assert "the model's code changed" in note and "re-run the sweep" in note, note


class TestComponentsPerRecipient:
    """Against a restart without the restart rules the components they set are left out; the
    others are transplanted as against a restart with them."""

    def test_which_components_each_reopen_sets(self):
        close = {"round": 10, "kind": "channel_close"}
        assert transplant.components_for([close, {"round": 40, "kind": "channel_reopen"}]) == list(COMPONENTS)
        no_rules = transplant.components_for([close, PAUSED_REOPEN])
        assert no_rules == [n for n in COMPONENTS if n not in transplant.BY_CONSTRUCTION]
        setup_only = transplant.components_for([close, PAUSED_REOPEN | {"setup_rounds": 3}])
        assert set(COMPONENTS) - set(setup_only) == {"personnel (who sits)"}
        fresh_only = transplant.components_for([close, PAUSED_REOPEN | {"fresh_personnel": True}])
        assert set(COMPONENTS) - set(fresh_only) == {"set-up delay"}
        assert transplant.components_for([]) == no_rules  # never reopened: nothing set by a reopen

    def test_the_shipped_experiment_decomposes_wind_down_then_paused(self):
        from sim.batch.experiment import load_experiment

        exp = load_experiment(Path(__file__).resolve().parent.parent / "experiments" / "lean-years.toml")
        cfg = exp.analysis["decomposition"]
        assert cfg["recipients"] == ["wind-down", "paused"], "wind-down first: the phase cells' mechanisms use the first"
        arms = {a.name: a for a in exp.arms}
        assert transplant.components_for(arms["wind-down"].events) == list(COMPONENTS)
        assert not set(transplant.components_for(arms["paused"].events)) & transplant.BY_CONSTRUCTION

    def test_left_out_components_are_equal_and_the_transplant_still_exact(self, two):
        _, (dec, _) = two
        paused = decompose.all_of(dec)[1]
        assert paused["left_out"] == ["set-up delay", "personnel (who sits)"] and paused["by_construction"] == []
        assert list(paused["components"]) == [n for n in COMPONENTS if n not in transplant.BY_CONSTRUCTION]
        assert paused["differing"]["set-up delay"] == paused["differing"]["personnel (who sits)"] == 0
        assert paused["differing"]["positions"] > 0  # not vacuous: the lean years did differ
        for key in ("soon", "by_horizon"):
            assert paused[key]["transplant_gap"] == 0 and paused[key]["additivity_error"] == 0
            assert paused[key]["total"]["value"] == pytest.approx(paused[key]["observed"]["value"])
        assert "left out: paused's reopen does not set them" in paused["note"]

    def test_a_left_out_component_that_differs_is_transplanted_after_all(self):
        """A restart without the rules whose personnel differ anyway (a turnover shock while closed):
        every component is transplanted, so the full transplant still reproduces the donor run."""
        base = small_experiment(replications=2)
        shock = {"round": 20, "kind": "turnover_shock", "side": "all", "fraction": 0.5}
        arm = Arm("wind-down", events=[{"round": 10, "kind": "channel_close"}, shock, PAUSED_REOPEN])
        exp = small_experiment(replications=2, arms=[base.arms[0], arm])
        out = decompose.decompose(exp, "leadership-change", "keep-open", "wind-down", SHIFT, SHIFT, 10, replications=2)
        assert out["left_out"] == [] and list(out["components"]) == list(COMPONENTS)
        assert out["differing"]["personnel (who sits)"] > 0
        assert out["by_horizon"]["transplant_gap"] == 0
        assert "none could be left out" in out["components_note"] and "personnel (who sits) in" in out["components_note"]


class TestEveryRecipient:
    """run_declared decomposes every declared recipient, in the declared order (the first is the
    one the verdict and the phase cells' mechanisms read). Mutation evidence: with the loop cut to
    the first recipient, or the list reversed, these fail."""

    def test_both_recipients_in_order(self, two):
        _, (dec, note) = two
        assert [d["recipient"] for d in decompose.all_of(dec)] == ["wind-down", "paused"]
        assert dec["recipient"] == "wind-down" and note == dec["note"]
        assert [d["by_construction"] for d in decompose.all_of(dec)] == [sorted(transplant.BY_CONSTRUCTION), []]

    def test_each_is_the_decomposition_of_its_recipient(self, two):
        exp, (dec, _) = two
        for d in decompose.all_of(dec):
            alone = decompose.decompose(exp, "leadership-change", "keep-open", d["recipient"], SHIFT, SHIFT, 10, replications=2)
            for key in ("soon", "by_horizon"):
                np.testing.assert_array_equal(d[key]["_phi"], alone[key]["_phi"])
            assert d["differing"] == alone["differing"]

    def test_the_public_part_keeps_the_first_and_drops_the_rest(self, two):
        _, (dec, _) = two
        pub = decompose.public(dec)
        assert pub["recipient"] == "wind-down" and "_more" not in pub


# ---------------------------------------------------------------- the sentences, from planted numbers


def est(value, low, high) -> dict:
    return {"value": value, "low": low, "high": high, "n": 64}


def planted(by_construction: list[str], comps: list[tuple[str, dict]]) -> dict:
    """A decomposition in the shape :func:`decompose.sentences` reads, with known numbers: the
    by-horizon part is the soon part halved."""

    def part(k: float) -> dict:
        return {
            "total": est(-0.3 * k, -0.4 * k, -0.2 * k),
            "construction": est(0.1 * k, 0.05 * k, 0.15 * k),
            "carry_overs": est(0.02 * k, -0.01 * k, 0.05 * k),
            "costs": est(-0.32 * k, -0.4 * k, -0.25 * k),
            "components": [{"name": n, "shapley": {key: None if v is None else v * k for key, v in e.items()}} for n, e in comps],
        }

    recipient = "wind-down" if by_construction else "paused"
    return {"donor": "keep-open", "recipient": recipient, "pairs": 64, "by_construction": by_construction} | {
        "soon": part(1.0),
        "by_horizon": part(0.5),
    }


COMPS = [
    ("familiarity", est(0.04, 0.01, 0.07)),
    ("alumni memory", est(0.01, -0.01, 0.03)),  # CI includes 0: never named
    ("substitution", est(-0.3, -0.38, -0.22)),
]


class TestSentences:
    """Planted-truth tests of :func:`decompose.sentences` and :func:`decompose.measures`; each fails
    with the mutation named in its docstring."""

    def test_net_of_the_restart_rules(self):
        """Branch: no by-construction component → 'Net of the restart rules', no reopen-event share.
        Kills: the label or the guard on the construction clause inverted; a null CI called a share."""
        s = decompose.sentences(planted([], COMPS))
        assert s[0] == (
            "Net of the restart rules (keep-open − paused, soon after the shift, 64 pairs): total -0.30 (95% CI [-0.40, -0.20]), "
            "below zero; carry-overs +0.02 (95% CI [-0.01, +0.05]), not told from zero; costs of staying open -0.32 "
            "(95% CI [-0.40, -0.25]), below zero. Components whose share is told from zero: substitution -0.30 (95% CI "
            "[-0.38, -0.22]); familiarity +0.04 (95% CI [+0.01, +0.07])."
        )
        assert s[1].startswith("Net of the restart rules (keep-open − paused, by the horizon, 64 pairs): total -0.15 (95% CI")
        assert "set by the reopen event" not in " ".join(s) and "alumni memory" not in " ".join(s)

    def test_including_the_restart_rules(self):
        """Branch: by-construction components → 'Including the restart rules' and their share from
        'construction'. Kills: construction printed from another part, the clause dropped."""
        s = decompose.sentences(planted(["personnel (who sits)", "set-up delay"], COMPS))
        assert s[0].startswith(
            "Including the restart rules (keep-open − wind-down, soon after the shift, 64 pairs): total -0.30 (95% CI "
            "[-0.40, -0.20]), below zero; set by the reopen event (personnel (who sits), set-up delay; a lower bound) +0.10 "
            "(95% CI [+0.05, +0.15]), above zero; carry-overs +0.02"
        )

    def test_no_share_told_from_zero_and_no_ci(self):
        """A share whose CI includes 0, or that has none (one pair), is never called above or below
        zero nor named. Kills: the sign filter dropped; 'no CI' replaced by a sign."""
        d = planted([], [("familiarity", est(0.3, None, None)), ("positions", est(-0.1, -0.2, 0.01))])
        d["soon"]["total"] = est(0.05, None, None)
        s = decompose.sentences(d)[0]
        assert "total +0.05, no CI;" in s
        assert s.endswith("Components whose share is told from zero: none can be told from zero.")

    def test_an_inexact_decomposition_says_so_first(self):
        """A full transplant that misses the donor run: each window's sentence starts by saying the
        decomposition does not account for the effect, as the answer's does; an exact one does not.
        Kills: the warning dropped from sentences(), or given for exact decompositions too."""
        d = planted([], COMPS)
        assert not any("does NOT account" in s for s in decompose.sentences(d))
        d["unattributed"] = {"gatekeeping": 192}
        for key in ("soon", "by_horizon"):
            d[key] |= {"transplant_gap": 0.16, "additivity_error": 0.0}
        for s in decompose.sentences(d):
            head, _, rest = s.partition("): the decomposition does NOT account for this effect (")
            assert head.startswith("Net of the restart rules (keep-open − paused") and rest, s
            assert "mean gap 0.16" in rest and "gatekeeping (192 pairs)" in rest and " — total " in rest, s

    def test_what_each_measures(self):
        """Branch per measures(): all rules, none, part. Kills: the branches swapped."""
        base = {"donor": "keep-open", "recipient": "r"}
        full = decompose.measures(base | {"by_construction": ["personnel (who sits)", "set-up delay"]})
        assert full.startswith("keep-open − r includes the restart rules: r's reopen brings fresh personnel and a set-up delay,")
        assert "lower bound" in full
        net = decompose.measures(base | {"by_construction": []})
        assert net.startswith("keep-open − r is net of the restart rules: r's reopen brings neither fresh personnel nor a set-up delay,")
        part = decompose.measures(base | {"by_construction": ["set-up delay"]})
        assert part.startswith("keep-open − r includes part of the restart rules: r's reopen brings a set-up delay but not fresh personnel")


class TestCellMechanismsFamilyWise:
    """The mechanism of a cell is named from family-wise CIs over the components: ten components
    with no effect (each pair's share ±1 at rate 3% each way) name one in few cells; a planted
    component is still named. Kills: uncorrected 95% CIs (a name in about half of the cells)."""

    @staticmethod
    def planted(rng: np.random.Generator, cells: int, pairs: int, strong: float = 0.0) -> dict:
        C = 10
        u = rng.random((cells * pairs, C))
        phi = np.where(u < 0.03, 1.0, np.where(u < 0.06, -1.0, 0.0))
        if strong:
            phi[:, 0] = np.where(rng.random(cells * pairs) < strong, 1.0, 0.0)
        design = pd.DataFrame({"a": np.repeat(np.arange(cells), pairs), "b": 1})
        comps = [{"name": f"c{i}"} for i in range(C)]
        return {"_design": design, "soon": {"_phi": phi, "components": comps}}

    def test_null_components_are_rarely_named(self):
        rng = np.random.default_rng(11)
        out = decompose.cell_mechanisms(self.planted(rng, 40, 400), "a", "b")
        named = (~out["mechanism"].str.startswith("no single")).mean()
        assert named <= 0.15, named

    def test_a_planted_component_is_named(self):
        rng = np.random.default_rng(12)
        out = decompose.cell_mechanisms(self.planted(rng, 5, 400, strong=0.1), "a", "b")
        assert out["mechanism"].str.startswith("c0 (").all(), out["mechanism"].tolist()

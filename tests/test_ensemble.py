"""sim.batch.ensemble.simulate must follow exactly the trajectories of the per-run DialogueModel."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import DialogueModel, load_scenario, resolve
from sim.batch.ensemble import simulate
from sim.core.metrics import METRICS
from sim.scenarios import Scenario, scenario_from_dict

from .test_invariants import SCENARIOS, overrides


def with_events(sc: Scenario, events: list[dict]) -> Scenario:
    """``sc`` plus validated extra events (given as TOML-like tables)."""
    extra = scenario_from_dict(
        {"rounds": sc.rounds, "sides": [{"name": s.name, "host": s.host} for s in sc.sides], "events": events}
    ).events
    return dataclasses.replace(sc, events=sorted([*sc.events, *extra], key=lambda e: e.round))


def check_batch(runs: list[tuple[Scenario, dict]], seeds: list[int]) -> dict[str, np.ndarray]:
    setups = [resolve(sc, ov) for sc, ov in runs]
    out = simulate(setups, seeds)
    T = max(s.rounds for s in setups)
    for name in METRICS:
        assert out.series[name].shape == (len(runs), T + 1), name
    for b, ((sc, ov), seed) in enumerate(zip(runs, seeds, strict=True)):
        model = DialogueModel(sc, overrides=ov, rng=seed)
        model.run_for(T)
        df = model.datacollector.get_model_vars_dataframe()
        assert len(df) == T + 1
        for name in METRICS:
            np.testing.assert_allclose(
                out.series[name][b],
                df[name].to_numpy(dtype=float),
                rtol=1e-9,
                atol=1e-12,
                err_msg=f"run {b} ({sc.name}, {ov}, seed {seed}): metric {name}",
            )
        assert out.agreement_round[b] == model.state.agreement_round[0]
    return out


def test_ensemble_identical_setups_match_models():
    sc = load_scenario("leadership-change")
    check_batch([(sc, {})] * 4, [1, 2, 3, 4])


def test_ensemble_mixed_parameters_and_timelines():
    sc = load_scenario("leadership-change")
    closed = with_events(sc, [{"round": 10, "kind": "channel_close"}, {"round": 25, "kind": "channel_reopen", "setup_rounds": 3}])
    shocked = with_events(
        sc,
        [
            {"round": 12, "kind": "turnover_shock", "side": "A", "fraction": 0.7},
            {"round": 20, "kind": "delegation_downgrade", "side": "B", "drop": 0.5},
            {"round": 30, "kind": "delegation_upgrade", "side": "B"},
            {"round": 33, "kind": "crisis", "severity": 0.4},
            {"round": 35, "kind": "gatekeeper_change", "side": "A", "value": 0.9},
            {"round": 36, "kind": "follow_up", "value": 0.6},
        ],
    )
    runs = [
        (sc, {}),
        (sc, {"turnover": 0.5}),
        (closed, {}),
        (sc, {"A.turnover": 0.3, "openness": 0.8, "confidence_bound": 0.4}),
        (shocked, {"handover": 0.6, "institutional_memory": 0.5}),
        (closed, {"turnover": 0.0, "familiarity_decay": 0.3}),
    ]
    out = check_batch(runs, [5, 5, 5, 6, 7, 8])
    # the batch really mixes different trajectories
    assert not np.allclose(out.series["trust"][0], out.series["trust"][1])
    assert not np.allclose(out.series["channel_open"][0], out.series["channel_open"][2])


def test_ensemble_with_hosts_and_many_sides():
    sc = load_scenario("multilateral-track15")
    late = with_events(sc, [{"round": 3, "kind": "channel_close"}, {"round": 5, "kind": "channel_reopen"}])
    runs = [(sc, {}), (late, {"script_pressure": 0.2}), (sc, {"DPRK.position": 0.4, "idea_rate": 0.9})]
    check_batch(runs, [21, 22, 23])


def test_ensemble_canada_china_variants():
    sc = load_scenario("canada-china-hrd")
    no_events = dataclasses.replace(sc, events=[])
    check_batch([(sc, {}), (no_events, {}), (sc, {"China.gatekeeping": 0.0})], [3, 3, 4])


def test_ensemble_rejects_bad_batches():
    a = resolve(load_scenario("lean-years"))
    b = resolve(load_scenario("lean-years"), {"members": 3})
    with pytest.raises(ValueError):
        simulate([a, a], [1])
    with pytest.raises(ValueError):
        simulate([a, b], [1, 2])


def test_ensemble_sub_batches_match_models():
    """More runs than one sub-batch: runs on both sides of the cut follow their models."""
    from sim.batch import ensemble

    sc = load_scenario("lean-years")
    n = ensemble.BATCH + 3
    turnovers = [0.05 + 0.9 * k / n for k in range(n)]
    setups = [resolve(sc, {"turnover": t}) for t in turnovers]
    seeds = [1000 + k for k in range(n)]
    out = simulate(setups, seeds, rounds=12)
    assert out.series["trust"].shape == (n, 13)
    for b in (0, ensemble.BATCH - 1, ensemble.BATCH, n - 1):
        model = DialogueModel(sc, rounds=12, overrides={"turnover": turnovers[b]}, rng=seeds[b])
        model.run_for(12)
        df = model.datacollector.get_model_vars_dataframe()
        for name in METRICS:
            np.testing.assert_allclose(
                out.series[name][b], df[name].to_numpy(dtype=float), rtol=1e-9, atol=1e-12, err_msg=f"run {b}: {name}"
            )


def test_ensemble_every_keeps_a_subset_of_rounds():
    sc = load_scenario("leadership-change")
    setups = [resolve(sc), resolve(sc, {"turnover": 0.4})]
    full = simulate(setups, [1, 2])
    thin = simulate(setups, [1, 2], every=7)
    kept = list(thin.rounds)
    assert kept == sorted(set(range(0, sc.rounds + 1, 7)) | {sc.rounds})
    for name in METRICS:
        np.testing.assert_allclose(thin.series[name], full.series[name][:, kept], rtol=1e-12, err_msg=name)
    np.testing.assert_array_equal(thin.agreement_round, full.agreement_round)


def test_ensemble_outcomes_match_models():
    from sim.batch.ensemble import OUTCOMES

    sc = load_scenario("iran-us-track-two")
    overrides = [{}, {"turnover": 0.3}, {"script_pressure": 0.1}]
    seeds = [4, 5, 6]
    out = simulate([resolve(sc, ov) for ov in overrides], seeds)
    assert set(out.outcomes) == set(OUTCOMES)
    for b, (ov, seed) in enumerate(zip(overrides, seeds, strict=True)):
        model = DialogueModel(sc, overrides=ov, rng=seed)
        model.run_for(sc.rounds)
        df = model.datacollector.get_model_vars_dataframe()
        o = {k: v[b] for k, v in out.outcomes.items()}
        assert bool(o["agreement"]) == bool(model.state.agreed[0])
        assert o["agreement_round"] == model.state.agreement_round[0]
        assert o["cost"] == pytest.approx(df["cost"].iloc[-1])
        assert o["meetings"] == df["meeting"].iloc[1:].sum()
        assert o["ideas_generated"] == df["ideas_generated"].iloc[-1]
        assert o["ideas_reported"] == df["ideas_reported"].iloc[-1]
        assert o["final_trust"] == pytest.approx(df["trust"].iloc[-1])
        assert o["final_position_gap"] == pytest.approx(df["position_gap"].iloc[-1])
        assert o["peak_progress"] == pytest.approx(df["progress"].iloc[1:].max())


@st.composite
def batches(draw):
    name = draw(st.sampled_from(sorted(SCENARIOS)))
    sc = SCENARIOS[name]
    sides = [s.name for s in sc.sides]
    k = draw(st.integers(2, 4))
    ovs = [draw(overrides(sides, members=False)) for _ in range(k)]
    seeds = draw(st.lists(st.integers(0, 2**32 - 1), min_size=k, max_size=k))
    return sc, ovs, seeds


@settings(max_examples=25)
@given(batches())
def test_ensemble_matches_models_random_parameters(batch):
    sc, ovs, seeds = batch
    check_batch([(sc, ov) for ov in ovs], seeds)


class TestVariantsEnsembleEqualsModel:
    """Every structural variant and the calendar: the ensemble follows the per-run model exactly."""

    def test_opinion_contact_agreement_and_calendar_variants(self):
        sc = load_scenario("leadership-change")
        runs = [
            (sc, {"opinion_update": 1}),
            (sc, {"opinion_update": 1, "pairwise_weight": 0.2, "contact": 1}),
            (sc, {"contact": 1}),
            (sc, {"ratification_softness": 0.5}),
            (sc, {"meetings_per_year": 2.0}),
            (sc, {}),
        ]
        out = check_batch(runs, [31, 32, 33, 34, 35, 31])
        assert not np.allclose(out.series["position_gap"][0], out.series["position_gap"][5])  # the variant changes the run

    def test_variants_in_a_multilateral_scenario(self):
        sc = load_scenario("multilateral-track15")
        check_batch([(sc, {"opinion_update": 1, "contact": 1}), (sc, {"ratification_softness": 1.0, "meetings_per_year": 0.5})], [41, 42])


class TestSharedRounds:
    """Runs that are the same run until their events part (paired arms) are simulated once up to
    then and copied (:func:`sim.batch.ensemble.shared_rounds`): the copies must follow the per-run
    model exactly, and sharing must change no number."""

    @staticmethod
    def arms() -> tuple[list[tuple[Scenario, dict]], list[int]]:
        sc = load_scenario("leadership-change")
        close = with_events(sc, [{"round": 10, "kind": "channel_close"}, {"round": 30, "kind": "channel_reopen"}])
        early = with_events(sc, [{"round": 4, "kind": "channel_close"}])
        runs = [(sc, {"turnover": 0.4}), (close, {"turnover": 0.4}), (early, {"turnover": 0.4}), (sc, {"turnover": 0.4})]
        runs += [(close, {"turnover": 0.3}), (sc, {"turnover": 0.4})]
        return runs, [5, 5, 5, 5, 5, 6]

    def test_paired_arms_share_the_rounds_before_they_part(self):
        from sim.batch.ensemble import shared_rounds
        from sim.core.state import Params

        runs, seeds = self.arms()
        setups = [resolve(sc, ov) for sc, ov in runs]
        source, until = shared_rounds(setups, seeds, Params.from_setups(setups))
        # the closed arm parts at round 10, the early one at 4, the identical run never; a run with
        # another parameter or another seed shares nothing
        assert until.tolist() == [0, 9, 3, setups[0].rounds, 0, 0]
        assert source.tolist() == [0, 0, 0, 0, 4, 5]

    def test_shared_runs_follow_their_models(self):
        runs, seeds = self.arms()
        check_batch(runs, seeds)

    def test_a_horizon_before_the_runs_part(self):
        """Cut at round 6, before the closed arm parts (round 10): every run is still returned,
        equal to its source."""
        runs, seeds = self.arms()
        setups = [resolve(sc, ov) for sc, ov in runs]
        out = simulate(setups, seeds, rounds=6)
        assert out.n_runs == len(runs)
        for name in METRICS:
            np.testing.assert_array_equal(out.series[name][1], out.series[name][0], err_msg=name)
        for name, v in out.outcomes.items():
            assert v[1] == v[0] and v[3] == v[0], name

    def test_sharing_changes_no_number(self, monkeypatch):
        from sim.batch import ensemble

        runs, seeds = self.arms()
        setups = [resolve(sc, ov) for sc, ov in runs]
        shared = simulate(setups, seeds, every=3)
        monkeypatch.setattr(ensemble, "shared_rounds", lambda s, *_: (np.arange(len(s)), np.zeros(len(s), dtype=int)))
        alone = simulate(setups, seeds, every=3)
        for name in METRICS:
            np.testing.assert_array_equal(shared.series[name], alone.series[name], err_msg=name)
        for name, v in alone.outcomes.items():
            np.testing.assert_array_equal(shared.outcomes[name], v, err_msg=name)

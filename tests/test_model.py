"""The per-run Mesa model: Friedkin–Johnsen / DeGroot reductions, reproducibility, kwargs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.linalg import expm

from sim import DialogueModel
from sim.core.state import rank_of

from .conftest import build_scenario


def fj_scenario(openness: list[float], members: list[int], self_weight: float, rounds: int = 400):
    """Bound of confidence off, no turnover, no script, channel open, no events, lean sides."""
    sides = [{"name": f"S{k}", "params": {"openness": lam, "members": m}} for k, (lam, m) in enumerate(zip(openness, members, strict=True))]
    return build_scenario(
        rounds=rounds,
        params={
            "confidence_bound": 1.0,
            "turnover": 0.0,
            "script_pressure": 0.0,
            "self_weight": self_weight,
        },
        sides=sides,
    )


def full_W(n: int, self_weight: float) -> np.ndarray:
    """Row-stochastic: self_weight on the diagonal and 1 for every other member."""
    W = np.ones((n, n))
    np.fill_diagonal(W, self_weight)
    return W / W.sum(axis=1, keepdims=True)


FJ_CASES = [
    ([0.2, 0.7], [4, 5], 2.0),
    ([0.5, 0.1], [6, 6], 1.0),
    ([0.3, 0.9, 0.6], [3, 2, 4], 0.5),
    ([0.0, 0.8], [5, 3], 3.0),  # a fully stubborn side
]


@pytest.mark.parametrize(("openness", "members", "self_weight"), FJ_CASES)
def test_fj_one_year_matches_the_flow(openness, members, self_weight):
    """A year of the Friedkin–Johnsen flow dx/dt = κ(ΛWx + (I − Λ)x(0) − x), κ = 1:
    x(1) = x* + e^{ΛW − I}(x − x*), x* = (I − ΛW)⁻¹(I − Λ)x(0) (the map's fixed point)."""
    sc = fj_scenario(openness, members, self_weight)
    model = DialogueModel(sc, rng=7)
    n = model.layout.N
    lam = model.state.openness[0]
    np.testing.assert_allclose(lam, np.repeat(openness, members))
    x0 = model.state.anchor[0].copy()
    W = full_W(n, self_weight)
    x_star = np.linalg.solve(np.eye(n) - lam[:, None] * W, (1 - lam) * x0)
    E = expm(lam[:, None] * W - np.eye(n))
    for _ in range(4):  # check the first step (x = x0) and later ones (x != x0)
        x = model.state.private[0].copy()
        model.step()
        assert bool(model.state.meeting[0])
        expected = x_star + E @ (x - x_star)
        np.testing.assert_allclose(model.state.private[0], expected, rtol=0, atol=1e-13)
        # no script: what is said is what is privately held (before the update)
        np.testing.assert_allclose(model.state.expressed[0], x, rtol=0, atol=1e-13)
        np.testing.assert_array_equal(model.state.anchor[0], x0)


def test_fj_reads_each_occupants_openness():
    """λ_i is the occupant's (``state.openness``, set from the side's parameter on arrival), not the
    parameter read afresh: with side S0's occupants given 0.9 and the parameter left at 0.2, a
    year of the flow is the one with λ = 0.9 for them. Mutation: the flow reading the parameter
    (``P.member("openness")``) fails here."""
    sc = fj_scenario([0.2, 0.7], [4, 5], 2.0)
    model = DialogueModel(sc, rng=7)
    model.state.openness[0, :4] = 0.9
    lam, x0, n = model.state.openness[0].copy(), model.state.anchor[0].copy(), model.layout.N
    W = full_W(n, 2.0)
    x_star = np.linalg.solve(np.eye(n) - lam[:, None] * W, (1 - lam) * x0)
    model.step()
    expected = x_star + expm(lam[:, None] * W - np.eye(n)) @ (x0 - x_star)
    np.testing.assert_allclose(model.state.private[0], expected, rtol=0, atol=1e-13)


@pytest.mark.parametrize(("openness", "members", "self_weight"), FJ_CASES)
def test_fj_converges_to_closed_form(openness, members, self_weight):
    sc = fj_scenario(openness, members, self_weight)
    model = DialogueModel(sc, rng=11)
    n = model.layout.N
    lam = np.diag(model.state.openness[0])
    x0 = model.state.anchor[0].copy()
    W = full_W(n, self_weight)
    x_star = np.linalg.solve(np.eye(n) - lam @ W, (np.eye(n) - lam) @ x0)
    model.run_for(300)
    np.testing.assert_allclose(model.state.private[0], x_star, rtol=0, atol=1e-10)
    # the fixed point is not trivially the start (the test would otherwise be vacuous)
    assert np.abs(x_star - x0).max() > 1e-3


@pytest.mark.parametrize(("members", "self_weight"), [([4, 5], 1.0), ([3, 3, 2], 2.5)])
def test_degroot_reduction(members, self_weight):
    """Openness 1: Abelson's flow dx/dt = κ(W − I)x, the continuous-time DeGroot model (κ = 1)."""
    sc = fj_scenario([1.0] * len(members), members, self_weight)
    model = DialogueModel(sc, rng=3)
    W = full_W(model.layout.N, self_weight)
    E = expm(W - np.eye(model.layout.N))
    for _ in range(3):
        x = model.state.private[0].copy()
        model.step()
        np.testing.assert_allclose(model.state.private[0], E @ x, rtol=0, atol=1e-13)
    # W is symmetric, hence doubly stochastic: consensus at the initial mean
    mean0 = model.state.anchor[0].mean()
    model.run_for(200)
    np.testing.assert_allclose(model.state.private[0], mean0, rtol=0, atol=1e-10)


def _model_df(seed: int, rounds: int = 25, scenario: str = "leadership-change") -> pd.DataFrame:
    m = DialogueModel(scenario, rng=seed)
    m.run_for(rounds)
    return m.datacollector.get_model_vars_dataframe()


def test_same_seed_same_dataframe():
    a, b = _model_df(42), _model_df(42)
    pd.testing.assert_frame_equal(a, b)


def test_same_seed_same_agent_dataframe():
    dfs = []
    for _ in range(2):
        m = DialogueModel("canada-china-hrd", rng=5)
        m.run_for(9)
        dfs.append(m.datacollector.get_agent_vars_dataframe())
    pd.testing.assert_frame_equal(dfs[0], dfs[1])


def test_different_seeds_differ():
    a, b = _model_df(1), _model_df(2)
    assert not a.equals(b)
    # the initial positions are drawn from the seed
    assert a["position_gap"].iloc[0] != b["position_gap"].iloc[0]


def test_params_kwargs_equal_overrides():
    a = DialogueModel("lean-years", rng=9, turnover=0.4, openness=0.7)
    b = DialogueModel("lean-years", rng=9, overrides={"turnover": 0.4, "openness": 0.7})
    assert a.setup.side["turnover"] == [0.4, 0.4]
    assert a.setup.side["openness"] == [0.7, 0.7]
    a.run_for(15)
    b.run_for(15)
    pd.testing.assert_frame_equal(a.datacollector.get_model_vars_dataframe(), b.datacollector.get_model_vars_dataframe())


def test_rounds_argument_sets_horizon():
    m = DialogueModel("lean-years", rounds=7, rng=1)
    assert m.setup.rounds == 7
    m.run_for(7)
    assert m.steps == 7
    assert not m.running
    assert len(m.datacollector.get_model_vars_dataframe()) == 8


def test_agent_views_match_state_arrays():
    m = DialogueModel("multilateral-track15", rng=4)
    m.run_for(8)
    st, lay = m.state, m.layout
    rank = rank_of(st, lay)[0]
    for agent in m.seats:
        i = agent.slot
        assert agent.private == st.private[0, i]
        assert agent.expressed == st.expressed[0, i]
        assert agent.openness == st.openness[0, i]
        assert agent.tenure == st.tenure[0, i]
        assert agent.active == bool(st.active[0, i])
        assert agent.rank == pytest.approx(rank[i])
        assert agent.side == lay.side_names[lay.side_of[i]]


class TestSeats:
    """An agent is a seat; the person in it changes when a newcomer sits down."""

    def test_person_changes_exactly_when_the_seat_is_refilled(self):
        # entrenchment off: otherwise a continuing delegate's anchor drifts toward the line
        m = DialogueModel("leadership-change", overrides={"turnover": 0.3, "entrenchment": 0.0}, rng=5)
        people = {a.slot: a.person for a in m.seats}
        assert sorted(people.values()) == list(range(m.layout.N))
        changed = 0
        for _ in range(30):
            anchor = m.state.anchor[0].copy()
            m.step()
            for a in m.seats:
                new = a.person != people[a.slot]
                # a newcomer brings a freshly drawn anchor (prejudice); a continuing delegate keeps theirs
                assert new == (m.state.anchor[0, a.slot] != anchor[a.slot]), a.slot
                changed += new
                people[a.slot] = a.person
        assert changed > 0
        assert len({a.person for a in m.seats}) == m.layout.N

    def test_mesa_attributes_are_not_shadowed(self):
        import mesa

        from sim.scenarios import Scenario

        m = DialogueModel("lean-years", rng=1)
        m.run_for(3)
        assert m.steps == 3 and not hasattr(m, "round")
        assert not isinstance(m.scenario, Scenario)  # Mesa's own
        assert m.setup.scenario.name == "lean-years"
        assert isinstance(m.seats, mesa.agent.AgentSet) and len(m.seats) == m.layout.N

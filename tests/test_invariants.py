"""State invariants under random parameters (within their spec bounds) and random seeds."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import DialogueModel, load_scenario
from sim.core.params import PARAMS, SIDE_PARAMS
from sim.core.state import State

from .conftest import build_scenario

#: A scenario that goes through every event kind, with the channel closed twice.
EVENTFUL = build_scenario(
    name="eventful",
    rounds=40,
    channel="track1.5",
    params={"members": 4},
    sides=[{"name": "A"}, {"name": "B"}, {"name": "H", "host": True, "params": {"members": 2}}],
    events=[
        {"round": 3, "kind": "delegation_downgrade", "side": "B", "drop": 0.5},
        {"round": 5, "kind": "channel_close"},
        {"round": 6, "kind": "crisis", "severity": 0.3},
        {"round": 9, "kind": "channel_reopen", "setup_rounds": 2},
        {"round": 12, "kind": "turnover_shock", "side": "A", "fraction": 0.5},
        {"round": 14, "kind": "delegation_upgrade", "side": "B", "recall": 0.5},
        {"round": 16, "kind": "leadership_change", "side": "all", "regime": "ripe"},
        {"round": 18, "kind": "gatekeeper_change", "side": "A", "value": 0.5},
        {"round": 20, "kind": "follow_up", "value": 0.5},
        {"round": 25, "kind": "channel_close"},
        {"round": 27, "kind": "leadership_change", "side": "B", "regime": "lean", "position": 0.9},
        {"round": 30, "kind": "channel_reopen", "setup_rounds": 0, "fresh_personnel": False},
        {"round": 33, "kind": "delegation_downgrade", "side": "all", "factor": 0.05, "drop": 1.0},
        {"round": 36, "kind": "delegation_upgrade", "side": "all", "factor": 0.05},
    ],
)

SCENARIOS = {
    "eventful": EVENTFUL,
    "canada-china-hrd": load_scenario("canada-china-hrd"),
    "multilateral-track15": load_scenario("multilateral-track15"),
    "iran-us-track-two": load_scenario("iran-us-track-two"),
}

#: Drawn parameters: everything in the spec (members capped to keep runs small).
DRAWN = [p for p in PARAMS if p != "members"]


@st.composite
def overrides(draw, side_names: list[str], members: bool = True):
    names = draw(st.lists(st.sampled_from(DRAWN + (["members"] if members else [])), min_size=1, max_size=8, unique=True))
    out = {}
    for n in names:
        p = PARAMS[n]
        key = n
        if n in SIDE_PARAMS and draw(st.booleans()):
            key = f"{draw(st.sampled_from(side_names))}.{n}"
        if n == "members":
            out[key] = draw(st.integers(1, 8))
        elif p.integer:
            out[key] = draw(st.integers(int(p.low), int(p.high)))
        else:
            out[key] = draw(st.floats(p.low, p.high, allow_nan=False))
    return out


@st.composite
def runs(draw):
    name = draw(st.sampled_from(sorted(SCENARIOS)))
    sc = SCENARIOS[name]
    ov = draw(overrides([s.name for s in sc.sides]))
    seed = draw(st.integers(0, 2**32 - 1))
    return sc, ov, seed


def check_state(st_: State, model: DialogueModel) -> None:
    lay = model.layout
    b = 0
    active = st_.active[b]
    for name in ("private", "expressed", "anchor"):
        v = getattr(st_, name)[b]
        assert np.all(np.isfinite(v)), f"{name} not finite: {v}"
        assert np.all((v >= 0) & (v <= 1)), f"{name} outside [0, 1]: {v}"
    F = st_.familiarity[b]
    assert np.all(np.isfinite(F))
    assert np.all((F >= -1) & (F <= 1)), "familiarity outside [-1, 1] (negative: distrust)"
    np.testing.assert_allclose(F, F.T, rtol=0, atol=1e-12, err_msg="familiarity not symmetric")
    assert np.all(F[~lay.cross] == 0), "familiarity within a side"
    assert np.all(F[~active, :] == 0) and np.all(F[:, ~active] == 0), "familiarity of an inactive member"
    A = st_.alumni[b]
    assert np.all((A >= 0) & (A <= 1)), "alumni familiarity outside [0, 1]"
    m = st_.motivation[b]
    assert np.all((m >= 0) & (m <= 1)), f"motivation outside [0, 1]: {m}"
    lv = st_.level[b]
    assert np.all((lv > 0) & (lv <= 1)), f"level outside (0, 1]: {lv}"
    assert 0 <= st_.progress[b] <= 1, f"progress {st_.progress[b]}"
    assert np.all((st_.gatekeeping[b] >= 0) & (st_.gatekeeping[b] <= 1))
    assert np.all((st_.cynicism[b] >= 0) & (st_.cynicism[b] <= 1)), f"cynicism outside [0, 1]: {st_.cynicism[b]}"
    assert np.all(st_.tenure[b] >= 0)
    assert np.all(st_.tenure[b][~active] == 0), "an empty slot has tenure"
    assert st_.ideas_reported[b] <= st_.ideas_generated[b]
    assert st_.cost_round[b] >= 0
    assert np.all(st_.memory_age[b] >= 0)
    assert np.all(st_.exposure[b] >= 0), "negative hollow exposure"
    if not st_.open[b]:
        assert not st_.meeting[b], "a meeting in a closed channel"
        assert st_.cost_round[b] == 0, "cost in a closed channel"
    if not st_.meeting[b]:
        assert st_.cost_round[b] == 0, "cost without a meeting"


def check_transition(prev: State, cur: State) -> None:
    b = 0
    assert cur.round == prev.round + 1
    if prev.agreed[b]:
        assert cur.agreed[b], "agreement went backwards"
        assert cur.agreement_round[b] == prev.agreement_round[b], "agreement_round changed"
    if cur.agreed[b]:
        assert 1 <= cur.agreement_round[b] <= cur.round
    else:
        assert cur.agreement_round[b] == -1
    for name in ("ideas_generated", "ideas_reported", "cost"):
        assert getattr(cur, name)[b] >= getattr(prev, name)[b], f"{name} decreased"
    np.testing.assert_allclose(cur.cost[b], prev.cost[b] + cur.cost_round[b], rtol=1e-12, atol=1e-12)


@settings(max_examples=40)
@given(runs())
def test_state_invariants(run):
    sc, ov, seed = run
    model = DialogueModel(sc, overrides=ov, rng=seed)
    prev = model.state.copy()
    check_state(prev, model)
    for _ in range(model.setup.rounds):
        model.step()
        cur = model.state.copy()
        check_state(cur, model)
        check_transition(prev, cur)
        prev = cur
    df = model.datacollector.get_model_vars_dataframe()
    closed = df["channel_open"] == 0
    assert (df.loc[closed, "meeting"] == 0).all()
    assert (df.loc[closed, "cost_round"] == 0).all()


def test_eventful_scenario_closes_the_channel():
    """The invariant test's scenario really has closed rounds (so the closed-channel checks bite)."""
    model = DialogueModel(EVENTFUL, rng=1)
    model.run_for(EVENTFUL.rounds)
    df = model.datacollector.get_model_vars_dataframe()
    assert (df["channel_open"] == 0).sum() >= 5
    assert (df["meeting"] == 1).sum() >= 10


def test_zero_self_weight_isolated_delegates_keep_finite_positions(make_scenario):
    """self_weight = 0 and confidence_bound = 0 are both inside the spec bounds; positions must
    stay numbers in [0, 1] (a delegate who hears nobody keeps its view)."""
    sc = make_scenario(
        rounds=5,
        params={"self_weight": 0.0, "confidence_bound": 0.0, "confidence_gain": 0.0, "turnover": 0.0, "entrenchment": 0.0},
    )
    model = DialogueModel(sc, rng=1)
    x_start = model.state.private[0].copy()
    model.run_for(3)
    x = model.state.private[0]
    assert np.all(np.isfinite(x)), x
    assert np.all((x >= 0) & (x <= 1))
    # nobody within a zero bound (positions are distinct): each keeps its view (no entrenchment)
    np.testing.assert_allclose(x, x_start)

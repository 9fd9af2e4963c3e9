"""One test (at least) per event kind: its effect against the same seed without the event,
or before against after."""

from __future__ import annotations

import inspect
import sys

import numpy as np
import pytest

from sim import DialogueModel
from sim.scenarios import EventKind

from .conftest import QUIET, build_scenario, run_states, side_slice

A, B = 0, 1
SIDES = [{"name": "A", "params": {"members": 6, "rank": 0.8}}, {"name": "B", "params": {"members": 6, "rank": 0.8}}]


def scenario(events=(), rounds=20, **params):
    return build_scenario(rounds=rounds, params=params, sides=SIDES, events=list(events))


def run(events=(), rounds=20, seed=3, **params):
    """States at rounds 0..rounds of a two-side run with ``params``; also returns the model."""
    model = DialogueModel(scenario(events, rounds, **params), rng=seed)
    return run_states(model, rounds), model


@pytest.mark.parametrize("kind", list(EventKind), ids=lambda k: k.value)
def test_every_event_kind_has_a_test(kind):
    """Found in this module, not listed by hand: a test function named ``test_<kind>_…`` that
    schedules the kind itself."""
    here = sys.modules[__name__]
    found = [f for n, f in vars(here).items() if n.startswith(f"test_{kind.value}_") and inspect.isfunction(f)]
    assert any(f'"kind": "{kind.value}"' in inspect.getsource(f) for f in found), f"no test_{kind.value}_… scheduling it in {here.__name__}"


# ---------------------------------------------------------------- leadership_change


def test_leadership_change_raises_motivation_and_moves_line():
    ev = {"round": 5, "kind": "leadership_change", "side": "A", "regime": "ripe", "position": 0.42}
    # substitution off: otherwise B's motivation target follows its exposure to A's (now candid) delegates
    with_ev, _ = run([ev], turnover=0.1, substitution=0.0)
    without, _ = run([], turnover=0.1, substitution=0.0)
    for t in range(5):  # identical before the event
        np.testing.assert_array_equal(with_ev[t].motivation, without[t].motivation)
        np.testing.assert_array_equal(with_ev[t].private, without[t].private)
    for t in range(5, 21):
        assert with_ev[t].motivation[0, A] > without[t].motivation[0, A]
        assert with_ev[t].motivation[0, B] == without[t].motivation[0, B]  # B untouched
        assert with_ev[t].line[0, A] == 0.42
        assert with_ev[t].line[0, B] == without[t].line[0, B]
        assert bool(with_ev[t].ripe[0, A]) and not bool(with_ev[t].ripe[0, B])
    assert without[20].line[0, A] != 0.42
    # motivation approaches the ripe target (0.9 by default)
    assert with_ev[20].motivation[0, A] == pytest.approx(0.9, abs=1e-3)
    # a serious leadership upgrades its delegation (participation shift)
    assert with_ev[20].level[0, A] > without[20].level[0, A]


def test_leadership_change_without_position_keeps_line():
    ev = {"round": 4, "kind": "leadership_change", "side": "all", "regime": "ripe"}
    with_ev, _ = run([ev])
    without, _ = run([])
    np.testing.assert_array_equal(with_ev[-1].line, without[-1].line)
    assert np.all(with_ev[-1].motivation > without[-1].motivation)


def test_leadership_change_back_to_lean_lowers_motivation():
    evs = [
        {"round": 2, "kind": "leadership_change", "side": "B", "regime": "ripe"},
        {"round": 10, "kind": "leadership_change", "side": "B", "regime": "lean"},
    ]
    states, _ = run(evs)
    assert states[9].motivation[0, B] > 0.8
    assert states[20].motivation[0, B] < 0.2


# ---------------------------------------------------------------- delegation_downgrade


def test_delegation_downgrade_multiplies_level_and_drops_juniors():
    ev = {"round": 4, "kind": "delegation_downgrade", "side": "B", "factor": 0.5, "drop": 0.34}
    with_ev, model = run([ev], turnover=0.2)
    without, _ = run([], turnover=0.2)
    sb = side_slice(model, B)
    assert with_ev[3].level[0, B] == pytest.approx(0.8)
    assert with_ev[4].level[0, B] == pytest.approx(0.8 * 0.5)
    assert with_ev[4].level[0, A] == without[4].level[0, A]
    # round(0.34 * 6) = 2 members stay home: the two most junior slots
    active_b = with_ev[4].active[0, sb]
    np.testing.assert_array_equal(active_b, [True, True, True, True, False, False])
    assert with_ev[4].active[0, side_slice(model, A)].all()
    # their familiarity is gone, and the slots stay empty despite turnover
    for t in range(4, 21):
        assert with_ev[t].active[0, sb].sum() == 4
        dropped = np.flatnonzero(~with_ev[t].active[0])
        assert np.all(with_ev[t].familiarity[0, dropped, :] == 0)
    # cheaper than without the downgrade
    assert with_ev[4].cost_round[0] < without[4].cost_round[0]


def test_delegation_downgrade_default_factor_is_parameter():
    ev = {"round": 2, "kind": "delegation_downgrade", "side": "A"}
    states, _ = run([ev], downgrade_factor=0.3)
    assert states[2].level[0, A] == pytest.approx(0.8 * 0.3)
    assert states[2].level[0, B] == pytest.approx(0.8)
    assert states[2].active.all()  # drop defaults to 0


# ---------------------------------------------------------------- delegation_upgrade


def _upgrade_run(recall: float):
    evs = [
        {"round": 3, "kind": "delegation_downgrade", "side": "B", "factor": 0.5, "drop": 0.5},
        {"round": 5, "kind": "delegation_upgrade", "side": "B", "factor": 0.5, "recall": recall},
    ]
    return run(evs, initial_familiarity=0.6, institutional_memory=0.0, **QUIET)


def test_delegation_upgrade_raises_level_refills_and_recalls():
    states, model = _upgrade_run(recall=1.0)
    sa, sb = side_slice(model, A), side_slice(model, B)
    assert states[3].level[0, B] == pytest.approx(0.4)
    assert states[5].level[0, B] == pytest.approx(0.8)  # min(1, 0.4 / 0.5)
    assert states[4].active[0, sb].sum() == 3
    assert states[5].active[0, sb].all()  # empty slots refilled
    refilled = np.flatnonzero(~states[4].active[0])
    assert refilled.size == 3
    np.testing.assert_array_equal(states[5].tenure[0, refilled], 1.0)  # newcomers (reset, then one round)
    # newcomers recall the alumni's contacts (0.6) with every member of A
    np.testing.assert_allclose(states[5].familiarity[0][np.ix_(refilled, np.arange(sa.start, sa.stop))], 0.6)
    # stayers keep theirs
    stayers = np.arange(sb.start, sb.stop)[states[4].active[0, sb]]
    np.testing.assert_allclose(states[5].familiarity[0][np.ix_(stayers, np.arange(sa.start, sa.stop))], 0.6)


def test_delegation_upgrade_recall_zero_starts_from_scratch():
    with_recall, model = _upgrade_run(recall=1.0)
    no_recall, _ = _upgrade_run(recall=0.0)
    refilled = np.flatnonzero(~no_recall[4].active[0])
    sa = side_slice(model, A)
    np.testing.assert_array_equal(no_recall[5].familiarity[0][np.ix_(refilled, np.arange(sa.start, sa.stop))], 0.0)
    assert no_recall[5].level[0, B] == pytest.approx(0.8)
    for t in range(5, 21):
        assert with_recall[t].familiarity[0].mean() > no_recall[t].familiarity[0].mean()


def test_delegation_upgrade_level_capped_at_one():
    ev = {"round": 2, "kind": "delegation_upgrade", "side": "A", "factor": 0.5}
    states, _ = run([ev])
    assert states[2].level[0, A] == 1.0


# ---------------------------------------------------------------- channel_close


def test_channel_close_stops_meetings_and_cost_and_decays_familiarity():
    ev = {"round": 6, "kind": "channel_close"}
    params = {"turnover": 0.0, "initial_familiarity": 0.5, "familiarity_decay": 0.2}
    closed, _ = run([ev], **params)
    open_, _ = run([], **params)
    for t in range(1, 6):
        assert closed[t].meeting[0] and closed[t].cost_round[0] > 0
    for t in range(6, 21):
        assert not closed[t].open[0]
        assert not closed[t].meeting[0]
        assert closed[t].cost_round[0] == 0
        assert closed[t].cost[0] == closed[5].cost[0]
        np.testing.assert_allclose(closed[t].familiarity, closed[t - 1].familiarity * 0.8, rtol=1e-12)
        assert open_[t].meeting[0]
        # private positions are frozen without meetings
        np.testing.assert_array_equal(closed[t].private, closed[5].private)
    assert closed[20].familiarity.max() < open_[20].familiarity.max()


# ---------------------------------------------------------------- channel_reopen


def _reopen(fresh: bool, setup_rounds: int | None = 2, **params):
    ev = {"round": 8, "kind": "channel_reopen", "fresh_personnel": fresh}
    if setup_rounds is not None:
        ev["setup_rounds"] = setup_rounds
    evs = [{"round": 3, "kind": "channel_close"}, ev]
    p = {"turnover": 0.0, "initial_familiarity": 0.5, "familiarity_decay": 0.1, "institutional_memory": 0.0}
    return run(evs, **(p | params))


def test_channel_reopen_setup_rounds_then_meetings():
    states, model = _reopen(fresh=False)
    df = model.datacollector.get_model_vars_dataframe()
    meeting = df["meeting"].to_numpy()
    np.testing.assert_array_equal(meeting[1:3], 1)
    np.testing.assert_array_equal(meeting[3:8], 0)  # closed
    np.testing.assert_array_equal(df["channel_open"].to_numpy()[8:], 1)
    np.testing.assert_array_equal(meeting[8:10], 0)  # two set-up rounds
    np.testing.assert_array_equal(meeting[10:], 1)
    np.testing.assert_array_equal(df["cost_round"].to_numpy()[8:10], 0)
    assert (df["cost_round"].to_numpy()[10:] > 0).all()


def test_channel_reopen_default_setup_rounds_is_parameter():
    ev = [{"round": 3, "kind": "channel_close"}, {"round": 8, "kind": "channel_reopen"}]
    _, model = run(ev, setup_rounds=3)
    meeting = model.datacollector.get_model_vars_dataframe()["meeting"].to_numpy()
    np.testing.assert_array_equal(meeting[8:11], 0)
    np.testing.assert_array_equal(meeting[11:], 1)


def test_channel_reopen_fresh_personnel_resets_familiarity():
    fresh, _ = _reopen(fresh=True)
    same, _ = _reopen(fresh=False)
    np.testing.assert_array_equal(fresh[7].familiarity, same[7].familiarity)  # identical until the reopening
    assert same[8].familiarity.max() > 0.2
    np.testing.assert_array_equal(fresh[8].familiarity, 0.0)
    np.testing.assert_array_equal(fresh[8].tenure, 1.0)  # everybody new
    np.testing.assert_array_equal(same[8].tenure, 8.0)
    assert not np.array_equal(fresh[8].anchor, same[8].anchor)
    np.testing.assert_array_equal(same[8].anchor, same[7].anchor)


def test_channel_reopen_fresh_personnel_briefed_by_memory():
    fresh, model = _reopen(fresh=True, institutional_memory=0.5)
    sa, sb = side_slice(model, A), side_slice(model, B)
    F7 = fresh[7].familiarity[0]
    # the alumni of each side: the best-connected leaver's mean familiarity with the other side
    alumni = max(F7[sa, sb].mean(axis=1).max(), F7[sb, sa].mean(axis=1).max())
    # newcomers are briefed with half of it, then the set-up round (no meeting) decays it by 0.9
    np.testing.assert_allclose(fresh[8].familiarity[0][sa, sb], 0.9 * 0.5 * alumni, rtol=1e-12)
    assert 0 < fresh[8].familiarity.max() < F7.max()


def test_channel_reopen_on_open_channel_is_no_op():
    ev = [{"round": 4, "kind": "channel_reopen", "setup_rounds": 5}]
    with_ev, _ = run(ev)
    without, _ = run([])
    np.testing.assert_array_equal(with_ev[-1].private, without[-1].private)
    assert all(s.meeting[0] for s in with_ev[1:])


# ---------------------------------------------------------------- turnover_shock


def test_turnover_shock_replaces_members_and_resets_tenure():
    ev = {"round": 5, "kind": "turnover_shock", "side": "A", "fraction": 1.0}
    params = {"initial_familiarity": 0.5, "handover": 0.0, "institutional_memory": 0.0, **QUIET}
    with_ev, model = run([ev], **params)
    without, _ = run([], **params)
    sa, sb = side_slice(model, A), side_slice(model, B)
    np.testing.assert_array_equal(with_ev[5].tenure[0, sa], 1.0)
    np.testing.assert_array_equal(with_ev[5].tenure[0, sb], 5.0)
    np.testing.assert_array_equal(without[5].tenure[0], 5.0)
    assert np.all(with_ev[5].anchor[0, sa] != without[5].anchor[0, sa])
    np.testing.assert_array_equal(with_ev[5].anchor[0, sb], without[5].anchor[0, sb])
    # no handover, no memory: the newcomers know nobody
    np.testing.assert_array_equal(with_ev[5].familiarity, 0.0)
    np.testing.assert_allclose(without[5].familiarity[0][sa, sb], 0.5)
    # the leavers' contacts went to the alumni
    assert with_ev[5].alumni[0, A, B] == pytest.approx(0.5)


def test_turnover_shock_handover_carries_familiarity():
    ev = {"round": 5, "kind": "turnover_shock", "side": "A", "fraction": 1.0}
    states, model = run([ev], initial_familiarity=0.5, handover=0.5, institutional_memory=0.0, **QUIET)
    sa, sb = side_slice(model, A), side_slice(model, B)
    np.testing.assert_allclose(states[5].familiarity[0][sa, sb], 0.25)


def test_turnover_shock_fraction_zero_changes_nothing():
    ev = {"round": 5, "kind": "turnover_shock", "side": "all", "fraction": 0.0}
    with_ev, _ = run([ev], turnover=0.1)
    without, _ = run([], turnover=0.1)
    for a, b in zip(with_ev, without, strict=True):
        np.testing.assert_array_equal(a.private, b.private)
        np.testing.assert_array_equal(a.familiarity, b.familiarity)


# ---------------------------------------------------------------- crisis


def test_crisis_cuts_familiarity_by_severity():
    ev = {"round": 4, "kind": "crisis", "severity": 0.25}
    with_ev, _ = run([ev], initial_familiarity=0.6, **QUIET)
    without, _ = run([], initial_familiarity=0.6, **QUIET)
    np.testing.assert_allclose(with_ev[3].familiarity, without[3].familiarity)
    np.testing.assert_allclose(with_ev[4].familiarity, without[4].familiarity * 0.75, rtol=1e-12)
    assert with_ev[4].familiarity.max() == pytest.approx(0.45)


# ---------------------------------------------------------------- gatekeeper_change


def _idea_rich(events):
    return run(
        events,
        rounds=25,
        seed=5,
        idea_rate=1.0,
        initial_familiarity=1.0,
        script_pressure=0.0,
        confidence_bound=1.0,
        reporting=1.0,
        rank=1.0,
        gatekeeping=0.0,
        translation_loss=0.0,
        turnover=0.0,
    )


def test_gatekeeper_change_blocks_reports_to_that_side():
    ev = {"round": 1, "kind": "gatekeeper_change", "side": "B", "value": 1.0}
    gated, _ = _idea_rich([ev])
    free, _ = _idea_rich([])
    for s in gated:
        assert np.all(np.isinf(s.memory_age[0, B])), "an idea reached the gatekept leadership"
    assert gated[-1].gatekeeping[0, B] == 1.0
    assert gated[-1].ideas_generated[0] > 0
    assert np.isfinite(gated[-1].memory_age[0, A]).any()  # A still hears of ideas
    assert np.isfinite(free[-1].memory_age[0, B]).any()  # and B would have without the gatekeeper


# ---------------------------------------------------------------- follow_up


def test_follow_up_raises_familiarity():
    ev = {"round": 1, "kind": "follow_up", "value": 0.5}
    params = {"turnover": 0.0, "initial_familiarity": 0.1, "familiarity_gain": 0.2, "script_pressure": 0.3}
    with_ev, _ = run([ev], **params)
    without, _ = run([], **params)
    assert with_ev[1].follow_up[0] == 0.5 and without[1].follow_up[0] == 0.0
    for t in range(1, 21):
        assert with_ev[t].familiarity[0].mean() > without[t].familiarity[0].mean()

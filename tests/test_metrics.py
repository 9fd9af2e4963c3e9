"""Outcome measures (sim/core/metrics.py) recomputed by hand from the state."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sim import DialogueModel
from sim.core.metrics import METRICS


def _by_hand(model: DialogueModel) -> dict[str, float]:
    st, lay = model.state, model.layout
    active = st.active[0]
    players = [s for s in range(lay.S) if not lay.host[s]]
    cross_pairs = [(i, j) for i in range(lay.N) for j in range(lay.N) if lay.side_of[i] != lay.side_of[j] and active[i] and active[j]]
    trust = float(np.mean([st.familiarity[0, i, j] for i, j in cross_pairs])) if cross_pairs else 0.0

    def gap(v):
        means = {s: v[(lay.side_of == s) & active].mean() for s in players if ((lay.side_of == s) & active).any()}
        pairs = [(a, b) for a, b in itertools.combinations(players, 2) if a in means and b in means]
        return float(np.mean([abs(means[a] - means[b]) for a, b in pairs])) if pairs else 0.0

    return {
        "trust": trust,
        "position_gap": gap(st.private[0]),
        "expressed_gap": gap(st.expressed[0]),
        "motivation": float(min(st.motivation[0, s] for s in players)),
        "delegation_level": float(np.mean([st.level[0, s] for s in players])),
        "delegates": float(active.sum()),
        "agreement": float(st.agreed[0]),
        "channel_open": float(st.open[0]),
        "meeting": float(st.meeting[0]),
        "cost": float(st.cost[0]),
        "cost_round": float(st.cost_round[0]),
        "ideas_generated": float(st.ideas_generated[0]),
        "ideas_reported": float(st.ideas_reported[0]),
        "progress": float(st.progress[0]),
        "cynicism": float(np.mean([st.cynicism[0, s] for s in players])),
    }


@pytest.mark.parametrize(
    ("scenario", "rounds"), [("multilateral-track15", 4), ("multilateral-track15", 12), ("canada-china-hrd", 8), ("iran-us-track-two", 24)]
)
def test_metrics_match_hand_computation(scenario, rounds):
    model = DialogueModel(scenario, rng=2)
    model.run_for(rounds)
    expected = _by_hand(model)
    assert set(expected) == set(METRICS)
    for name, fn in METRICS.items():
        got = fn(model.state, model.layout)
        assert got.shape == (1,)
        assert got[0] == pytest.approx(expected[name], rel=1e-12, abs=1e-12), name


def test_trust_ignores_empty_slots_and_own_side():
    model = DialogueModel(
        "lean-years", rng=1, turnover=0.0, initial_familiarity=0.4, familiarity_gain=0.0, familiarity_fatigue=0.0, hollow_distrust=0.0
    )
    model.step()
    assert METRICS["trust"](model.state, model.layout)[0] == pytest.approx(0.4)
    # the position gap of two sides is the distance between their mean private positions
    x, so = model.state.private[0], model.layout.side_of
    assert METRICS["position_gap"](model.state, model.layout)[0] == pytest.approx(abs(x[so == 0].mean() - x[so == 1].mean()))


class TestMetricSpec:
    """One metric table feeds the ensemble, the DataCollector, the figures and the explorer."""

    def test_every_metric_has_label_units_kind(self):
        from sim.core.metrics import METRIC_SPEC

        assert list(METRIC_SPEC) == list(METRICS)
        for name, m in METRIC_SPEC.items():
            assert m.name == name and m.label and m.units and m.description, name

    def test_kinds_match_the_values(self):
        """A metric declared binary only takes 0/1, a share stays in [0, 1], a count is whole."""
        from sim.core.metrics import METRIC_SPEC, Kind

        m = DialogueModel("iran-us-track-two", overrides={"turnover": 0.3}, rng=3)
        m.run_for(60)
        df = m.datacollector.get_model_vars_dataframe()
        for name, spec in METRIC_SPEC.items():
            v = df[name].to_numpy(dtype=float)
            if spec.kind is Kind.BINARY:
                assert set(np.unique(v)) <= {0.0, 1.0}, name
            elif spec.kind is Kind.SHARE:
                assert v.min() >= 0 and v.max() <= 1, name
            elif spec.kind is Kind.COUNT:
                assert np.all(v == np.round(v)) and v.min() >= 0, name

    def test_figures_and_explorer_read_the_spec(self):
        from sim.abm.views import CURVES, label_of
        from sim.analysis import figures
        from sim.core.metrics import METRIC_SPEC, binary_metrics

        assert {n: m.description for n, m in METRIC_SPEC.items()} == figures.LABELS
        assert figures.BINARY == binary_metrics() == {"agreement", "channel_open", "meeting"}
        assert all(label_of(name) == f"{METRIC_SPEC[name].label} ({METRIC_SPEC[name].units})" for name in CURVES)

    def test_default_timeseries_are_metrics(self):
        from sim.batch.experiment import Experiment
        from sim.core.metrics import DEFAULT_TIMESERIES

        assert set(DEFAULT_TIMESERIES) <= set(METRICS)
        assert Experiment("x", ["lean-years"]).timeseries == list(DEFAULT_TIMESERIES)


class TestRunSummary:
    def test_model_outcomes_equal_the_ensembles(self):
        """One definition of a run's outcomes: the model (and `run`'s summary.json) and a sweep agree."""
        from sim.batch.ensemble import OUTCOMES, simulate
        from sim.scenarios import load_scenario, resolve

        sc = load_scenario("leadership-change")
        m = DialogueModel(sc, overrides={"turnover": 0.2}, rng=11)
        m.run_for(sc.rounds)
        res = simulate([resolve(sc, {"turnover": 0.2})], [11])
        got = m.outcomes()
        assert list(got) == list(OUTCOMES)
        for k in OUTCOMES:
            assert got[k] == pytest.approx(float(res.outcomes[k][0])), k

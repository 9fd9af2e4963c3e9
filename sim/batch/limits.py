"""Size limits of a sweep (:func:`experiment_cost`); a run's, and the limits themselves, are in
:mod:`sim.scenarios.limits` (shared with the explorer)."""

from __future__ import annotations

from sim.batch.ensemble import BATCH
from sim.batch.experiment import Design, Experiment
from sim.scenarios.limits import BYTES_PER_PAIR, FLAG, MAX_MEMORY, MAX_WORK, Cost, check_cost, setup_cost

__all__ = ["BYTES_PER_PAIR", "FLAG", "MAX_MEMORY", "MAX_WORK", "Cost", "check_cost", "experiment_cost", "setup_cost"]


def experiment_cost(exp: Experiment, max_probe: int = 200) -> Cost:
    """The cost of a sweep; member counts are probed at up to ``max_probe`` design points per
    scenario and arm when a design or an arm changes them."""
    n_points = len(exp.points)
    swept = any(k.rpartition(".")[2] == "members" for k in exp.design_names) and exp.design is not Design.NONE
    probe = range(0, n_points, max(1, n_points // max_probe)) if swept else range(1)
    per_scenario = exp.n_runs // len(exp.loaded_scenarios)
    work = 0
    biggest = 0
    for s in range(len(exp.loaded_scenarios)):
        sizes = [exp.setup(s, p, a) for a in range(len(exp.arms)) for p in probe]
        n = max(sum(st.members) for st in sizes)
        rounds = max(st.rounds for st in sizes)
        work += per_scenario * rounds * n * n
        biggest = max(biggest, n)
    batch = min(exp.chunk_size, BATCH, exp.n_runs)
    return Cost(exp.n_runs, work, batch * biggest * biggest * BYTES_PER_PAIR)

"""Size limits: the work and memory a run or a sweep will need, estimated before it starts.

Work is counted in member-pair-rounds (runs × rounds × members²), the cost of the pairwise
rules; memory is the peak of one batch of the ensemble, about :data:`BYTES_PER_PAIR` bytes per
member pair and run (measured with tracemalloc, 10 sides × 40 members: 440-460 bytes).
Going over a limit is refused with an error naming the ``--allow-large`` flag.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.batch.ensemble import BATCH
from sim.batch.experiment import Design, Experiment
from sim.scenarios import InputError, Setup

#: Peak bytes per member pair and run in a batch (see the module docstring).
BYTES_PER_PAIR = 500
#: Default limits: member-pair-rounds of a sweep (about 50× the shipped headline sweep with
#: --full) or a run, and bytes of one process's batch.
MAX_WORK = 10**11
MAX_MEMORY = 1024**3
FLAG = "--allow-large"


@dataclass(frozen=True)
class Cost:
    runs: int
    work: int  # member-pair-rounds
    memory: int  # peak bytes of one process

    def describe(self) -> str:
        return f"{self.runs} run(s), {self.work:.3g} member-pair-rounds, about {self.memory / 1024**2:.0f} MiB per process"


def setup_cost(setup: Setup, runs: int = 1, batch: int = 1) -> Cost:
    n = sum(setup.members)
    return Cost(runs, runs * setup.rounds * n * n, batch * n * n * BYTES_PER_PAIR)


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


def check_cost(cost: Cost, what: str, allow_large: bool = False, max_work: int = MAX_WORK, max_memory: int = MAX_MEMORY) -> None:
    """Refuse (an :class:`InputError` naming :data:`FLAG`) a cost over the limits."""
    if allow_large:
        return
    if cost.work > max_work:
        raise InputError(what, "size", cost.describe(), f"more than {max_work:.0e} member-pair-rounds; to run it anyway add {FLAG}")
    if cost.memory > max_memory:
        raise InputError(
            what, "size", cost.describe(), f"more than {max_memory / 1024**2:.0f} MiB per process; to run it anyway add {FLAG}"
        )

"""Size limits of a run: the work and memory it will need, estimated before it starts.

Work is counted in member-pair-rounds (runs × rounds × members²), the cost of the pairwise
rules; memory is the peak of one batch of the ensemble, about :data:`BYTES_PER_PAIR` bytes per
member pair and run (measured with tracemalloc, 10 sides × 40 members: 440-460 bytes).
Going over a limit is refused with an error naming the ``--allow-large`` flag (the CLI) or what
to do instead (the explorer). The cost of a sweep is :func:`sim.batch.limits.experiment_cost`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.core.setup import InputError, Setup

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


def check_cost(
    cost: Cost,
    what: str,
    allow_large: bool = False,
    max_work: int = MAX_WORK,
    max_memory: int = MAX_MEMORY,
    instead: str = f"to run it anyway add {FLAG}",
) -> None:
    """Refuse (an :class:`InputError` saying ``instead``: by default, naming :data:`FLAG`) a cost over the limits."""
    if allow_large:
        return
    if cost.work > max_work:
        raise InputError(what, "size", cost.describe(), f"more than {max_work:.0e} member-pair-rounds; {instead}")
    if cost.memory > max_memory:
        raise InputError(what, "size", cost.describe(), f"more than {max_memory / 1024**2:.0f} MiB per process; {instead}")

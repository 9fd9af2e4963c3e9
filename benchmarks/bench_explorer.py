"""Benchmark: how long the explorer takes to advance and redraw one round (server side).

For every shipped scenario: one model step plus drawing the three figures to PNG, as the
explorer does on Step, in plain and in compare mode. Run: .venv/bin/python benchmarks/bench_explorer.py
"""

from __future__ import annotations

import io
import time

import matplotlib.pyplot as plt

from sim.abm.app import curves_figure, make_model, network_figure, positions_figure
from sim.scenarios import scenario_names


def render(models) -> None:
    for fig in (curves_figure(models), network_figure(models[0][1]), positions_figure(models[0][1])):
        fig.savefig(io.BytesIO(), format="png")
    plt.close("all")


def per_round(name: str, compare: bool, rounds: int = 10) -> float:
    models = [("A", make_model(name, 1, {}))] + ([("B", make_model(name, 1, {"turnover": 0.5}))] if compare else [])
    t0 = time.perf_counter()
    for _ in range(rounds):
        for _, m in models:
            m.step()
        render(models)
    return (time.perf_counter() - t0) / rounds


if __name__ == "__main__":
    print(f"{'scenario':24s} {'one run':>10s} {'compare':>10s}   (seconds per round: step + three figures)")
    for name in scenario_names():
        print(f"{name:24s} {per_round(name, False):10.3f} {per_round(name, True):10.3f}")

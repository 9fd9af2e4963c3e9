"""Write the numbers the guides quote from the code and the experiment files, so they cannot go stale.

Each generated passage sits between ``<!-- numbers:NAME -->`` and ``<!-- /numbers -->`` in
docs/students-guide.md or README.md. Run from the project root after changing an experiment,
a scenario or the model:

    .venv/bin/python docs/update_numbers.py          # rewrite the passages
    .venv/bin/python docs/update_numbers.py --check  # exit 1 if any passage is out of date

tests/test_docs.py runs the check, so a change that alters a quoted number fails the suite until
the docs are regenerated.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"(<!-- numbers:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /numbers -->)", re.S)


def headline(path: Path = ROOT / "experiments" / "lean-years.toml") -> str:
    """The size of the headline experiment and of its --full version, from the file."""
    from sim.batch.experiment import load_experiment

    e, f = load_experiment(path), load_experiment(path, full=True)
    return (
        f"Alternatively, `./dev main` sets up *and* runs the project's headline experiment\n"
        f"(`experiments/lean-years.toml`: {len(e.scenarios)} scenarios × {len(e.points):,} parameter combinations × "
        f"{len(e.arms)} arms × {e.replications}\n"
        f"replications = {e.n_runs:,} runs, sweeping {', '.join(e.design_params)}), writes its results\n"
        "to `results/lean-years/` (deleting an older\n"
        "copy of that folder first) and its report to `results/lean-years/report.html` (how long the sweep\n"
        "takes on two cores is measured in [performance.md](performance.md); the report with its case studies\n"
        f"takes longer). `./dev main --full` does the same with {f.replications} replications ({f.n_runs:,} runs), into\n"
        "`results/lean-years-full/`. You do not need it for this guide.\n"
    )


def readme_headline(path: Path = ROOT / "experiments" / "lean-years.toml") -> str:
    from sim.batch.experiment import load_experiment

    e = load_experiment(path)
    return (
        f"`./dev main` sweeps [`experiments/lean-years.toml`](experiments/lean-years.toml) ({e.n_runs:,}\n"
        f"runs: {len(e.scenarios)} scenarios × {len(e.points):,} parameter combinations × {len(e.arms)} arms × "
        f"{e.replications} replications)\n"
    )


def compare_example(seed: int = 3, change: str = "0.4") -> str:
    """What `dialogue-sim compare leadership-change --set-b turnover=0.4 --seed 3` shows."""
    import numpy as np

    from sim.analysis.compare import compare
    from sim.scenarios import find_scenario, load_scenario, resolve

    sc = load_scenario(find_scenario("leadership-change"))
    a, b = resolve(sc, {}), resolve(sc, {"turnover": change})
    comp = compare(a, b, [seed])
    shift = next(e.round for e in a.events if e.kind.value == "leadership_change")
    before = int(np.searchsorted(comp.rounds, shift)) - 1

    def story(out: dict, arr: dict) -> str:
        r = int(out["agreement_round"][0])
        ends = f"reaches agreement at round {r}" if r >= 0 else f"there is no agreement by round {int(comp.rounds[-1])}"
        return f"builds trust to {arr['trust'][0, before]:.2f} by round {int(comp.rounds[before])} and {ends}"

    turnover = sorted(set(a.side["turnover"]))
    lead = f"the scenario's turnover of {'/'.join(f'{t:g}' for t in turnover)}"
    return f"With seed {seed}, {lead} {story(comp.outcomes_a, comp.a)}; with turnover {change} the run {story(comp.outcomes_b, comp.b)}.\n"


GENERATORS: dict[str, Callable[[], str]] = {
    "headline": headline,
    "readme-headline": readme_headline,
    "compare-example": compare_example,
}
FILES = [ROOT / "docs" / "students-guide.md", ROOT / "README.md"]


def render(text: str) -> str:
    """``text`` with every numbers passage regenerated."""

    def sub(m: re.Match) -> str:
        name = m.group("name")
        if name not in GENERATORS:
            raise KeyError(f"unknown numbers passage {name!r}; known: {', '.join(GENERATORS)}")
        return m.group(1) + GENERATORS[name]() + m.group(4)

    return BLOCK.sub(sub, text)


def stale() -> list[str]:
    """The files whose numbers passages are out of date."""
    return [str(f.relative_to(ROOT)) for f in FILES if render(f.read_text()) != f.read_text()]


def main(argv: list[str]) -> int:
    if "--check" in argv:
        bad = stale()
        if bad:
            print(f"out of date: {', '.join(bad)}; run .venv/bin/python docs/update_numbers.py", file=sys.stderr)
        return 1 if bad else 0
    for f in FILES:
        new = render(f.read_text())
        if new != f.read_text():
            f.write_text(new)
            print(f"updated {f.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Calibration files: an experiment (the prior sample) plus a ``[calibration]`` table of patterns.

A calibration TOML is an experiment file (see :mod:`sim.batch.experiment`) whose design is the
prior: ``kind = "lhs"`` over ``[design.params]`` bounds, i.e. independent uniform priors
sampled by Latin hypercube. Its ``[calibration]`` table names the patterns the sources document,
each a statistic of one scenario with the interval it must fall in (``low``, ``high`` or both; a
pattern bounding neither side would meet every value, telling nothing, and is refused)::

    [calibration]
    window = 2                    # rounds compared before and after a scenario's leadership change
    posterior_replications = 16   # replications per accepted set in the predictive runs
    max_posterior = 400           # accepted sets used for the predictive runs (design order)
    answer = "lean-years"         # the headline experiment whose estimand is recomputed ("" for none)
    case_runs = 400               # runs per case check under the posterior (0: skip the case checks)

    [[calibration.patterns]]
    name = "no progress"
    scenario = "canada-china-hrd"
    statistic = "peak_progress"
    low = 0.0
    high = 0.05
    source = "002: ..."

The runs reuse the sweep's store and resume machinery (:func:`sim.batch.sweep.run_sweep`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.batch.experiment import Arm, Design, Experiment, experiment_from_dict, load_experiment
from sim.scenarios import EXPERIMENT_DIR, InputError, read_toml

#: Statistics a pattern may use: per run, then averaged over the replications of a design point.
STATISTICS = {
    "agreement": "share of runs reaching agreement by the horizon",
    "peak_progress": "highest share of leaderships supporting one idea",
    "ideas_reported": "ideas carried to a leadership per run",
    "trust_change": "final minus initial trust",
    "trust_rise": "mean trust in the window after the leadership change minus the window before",
    "participation_rise": "mean delegation level after the leadership change minus before",
    "idea_rate_rise": "ideas reported per round after the leadership change minus before",
}
#: Time series the statistics need.
NEEDS = {"trust_change": "trust", "trust_rise": "trust", "participation_rise": "delegation_level", "idea_rate_rise": "ideas_reported"}


@dataclass(frozen=True)
class Pattern:
    name: str
    scenario: str
    statistic: str
    low: float
    high: float
    source: str = ""

    def shortfall(self, x: np.ndarray) -> np.ndarray:
        """Distance outside [low, high] (0 inside)."""
        return np.maximum(self.low - x, 0) + np.maximum(x - self.high, 0)


@dataclass
class Calibration:
    experiment: Experiment
    patterns: list[Pattern]
    window: int = 2
    posterior_replications: int = 16
    max_posterior: int = 400
    answer: str | None = "lean-years"
    case_runs: int = 400
    source: str = "<python>"
    raw: dict[str, Any] = field(default_factory=dict)

    def answer_experiment(self, full: bool = False) -> Experiment | None:
        if not self.answer:
            return None
        p = Path(self.answer)
        path = p if p.suffix == ".toml" else EXPERIMENT_DIR / f"{self.answer}.toml"
        return load_experiment(path, full=full)


_CAL = {"window", "posterior_replications", "max_posterior", "answer", "case_runs", "patterns"}
_PAT = {"name", "scenario", "statistic", "low", "high", "source"}


def load_calibration(path: str | Path) -> Calibration:
    path = Path(path)
    d = read_toml(path)  # the checks every input file gets: a file, its size, UTF-8, TOML, nesting
    return calibration_from_dict(d, str(path), default_name=path.stem)


def calibration_from_dict(d: dict[str, Any], src: str = "<python>", default_name: str = "calibration") -> Calibration:
    cal = d.get("calibration")
    if not isinstance(cal, dict):
        raise InputError(src, "calibration", cal, "allowed: a [calibration] table with patterns")
    for k in cal:
        if k not in _CAL:
            raise InputError(src, f"calibration.{k}", cal[k], f"unknown field; allowed: {', '.join(sorted(_CAL))}")
    exp = experiment_from_dict({k: v for k, v in d.items() if k not in ("calibration", "full")}, src, default_name)
    if exp.design is not Design.LHS:
        raise InputError(
            src, "design.kind", str(d.get("design", {}).get("kind")), "allowed: lhs (independent uniform priors over [design.params])"
        )
    if "full" in d:  # calibrate has no --full: a [full] table would be ignored without a word
        raise InputError(src, "full", d["full"], "allowed: no [full] table in a calibration (set replications and samples directly)")
    if "arms" in d or len(exp.arms) != 1 or exp.arms[0].events:
        raise InputError(src, "arms", [a.name for a in exp.arms], "a calibration runs the scenarios as documented: no arms")
    ints = {"window": (1, 1000), "posterior_replications": (1, 100_000), "max_posterior": (1, 1_000_000), "case_runs": (0, 1_000_000)}
    for k, (lo, hi) in ints.items():
        v = cal.get(k, 1)
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise InputError(src, f"calibration.{k}", v, f"allowed: a whole number in [{lo}, {hi}]")
    pats = cal.get("patterns")
    if not isinstance(pats, list) or not pats:
        raise InputError(src, "calibration.patterns", pats, "allowed: one or more [[calibration.patterns]] tables")
    patterns: list[Pattern] = []
    for i, p in enumerate(pats):
        where = f"calibration.patterns[{i}]"
        if not isinstance(p, dict):
            raise InputError(src, where, p, f"allowed: a table with {', '.join(sorted(_PAT))}")
        for k in p:
            if k not in _PAT:
                raise InputError(src, f"{where}.{k}", p[k], f"unknown field; allowed: {', '.join(sorted(_PAT))}")
        if p.get("scenario") not in exp.scenarios:
            raise InputError(src, f"{where}.scenario", p.get("scenario"), f"allowed: {', '.join(exp.scenarios)}")
        if p.get("statistic") not in STATISTICS:
            raise InputError(src, f"{where}.statistic", p.get("statistic"), f"allowed: {', '.join(STATISTICS)}")
        lo, hi = p.get("low", -np.inf), p.get("high", np.inf)
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (lo, hi)) or not lo < hi:
            raise InputError(src, f"{where}.low/high", [lo, hi], "allowed: numbers with low < high (one may be omitted)")
        if not (np.isfinite(lo) or np.isfinite(hi)):  # every value lies in it: the pattern could neither accept nor reject
            given = [lo, hi] if {"low", "high"} & set(p) else "(neither low nor high)"
            raise InputError(src, f"{where}.low/high", given, "bounds nothing; allowed: a finite low, a finite high, or both (low < high)")
        name = str(p.get("name", f"pattern {i}"))
        if name in [q.name for q in patterns]:  # one column per name: a second would overwrite the first
            raise InputError(src, f"{where}.name", name, "allowed: a name no other pattern has")
        need = NEEDS.get(p["statistic"])
        if need and need not in exp.timeseries:
            raise InputError(src, "output.timeseries", exp.timeseries, f"pattern {p.get('name')!r} needs {need!r} kept")
        patterns.append(Pattern(name, p["scenario"], p["statistic"], float(lo), float(hi), str(p.get("source", ""))))
    answer = cal.get("answer", "lean-years")
    if not isinstance(answer, str):
        raise InputError(src, "calibration.answer", answer, 'allowed: an experiment\'s name or .toml path, or "" for none')
    out = Calibration(
        exp,
        patterns,
        window=cal.get("window", 2),
        posterior_replications=cal.get("posterior_replications", 16),
        max_posterior=cal.get("max_posterior", 400),
        answer=answer or None,
        case_runs=cal.get("case_runs", 400),
        source=src,
        raw=d,
    )
    if out.answer:
        try:
            out.answer_experiment()
        except InputError as e:
            raise InputError(src, "calibration.answer", answer, f"not a usable experiment ({e})") from None
    return out


def table_experiment(
    name: str,
    rows: list[dict[str, float]],
    scenarios: list[str],
    arms: list[Arm],
    seed: int,
    replications: int,
    timeseries: list[str],
    params: dict[str, float] | None = None,
    analysis: dict[str, Any] | None = None,
    chunk_size: int = 2000,
) -> Experiment:
    """An experiment over an explicit table of parameter sets (e.g. accepted posterior draws)."""
    return Experiment(
        name=name,
        scenarios=scenarios,
        seed=seed,
        replications=replications,
        arms=arms,
        params=dict(params or {}),
        design=Design.TABLE,
        rows=rows,
        timeseries=timeseries,
        chunk_size=chunk_size,
        analysis=dict(analysis or {}),
    )

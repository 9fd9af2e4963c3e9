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

Everything is checked here, before any run: a pattern comparing rounds around the leadership
change (trust_rise, participation_rise, idea_rate_rise) needs a scenario with one, and an
``[output] every`` that keeps at least one round of each window (two for idea_rate_rise, a rate).
Scenario and answer ``.toml`` paths are also looked for beside the calibration file.

The runs reuse the sweep's store and resume machinery (:func:`sim.batch.sweep.run_sweep`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.batch.experiment import Arm, Design, Experiment, experiment_from_dict, load_experiment
from sim.scenarios import EXPERIMENT_DIR, EventKind, InputError, Scenario, read_toml

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
#: Statistics that compare the ``window`` rounds before a scenario's first leadership change with
#: the ``window`` rounds from it on, and how many kept rounds each of the two windows needs (a
#: mean needs one; a rate of a cumulative count needs two, else it is 0 whatever the run did).
WINDOWED = {"trust_rise": 1, "participation_rise": 1, "idea_rate_rise": 2}


def leadership_change(sc: Scenario) -> int | None:
    """The round of ``sc``'s first leadership change (the shift the windowed statistics compare
    around), or None when it has none."""
    r = [e.round for e in sc.events if e.kind is EventKind.LEADERSHIP_CHANGE]
    return min(r) if r else None


def kept_rounds(horizon: int, every: int) -> list[int]:
    """The rounds a run's time series keeps (as :func:`sim.batch.ensemble.simulate` does)."""
    return sorted(set(range(0, horizon + 1, max(1, every))) | {horizon})


def window_rounds(rounds: np.ndarray, shift: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Masks over ``rounds`` (the kept rounds): the window before the shift and the window from it on."""
    return (rounds >= shift - window) & (rounds < shift), (rounds >= shift) & (rounds < shift + window)


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
    #: each scenario entry's first leadership change (None: it has none), from the scenario the
    #: sweep runs (a .toml path resolved as the sweep resolves it: also beside the calibration file)
    shifts: dict[str, int | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.shifts:
            self.shifts = dict(zip(self.experiment.scenarios, map(leadership_change, self.experiment.loaded_scenarios), strict=True))

    def answer_experiment(self, full: bool = False) -> Experiment | None:
        """The headline experiment: a name in the shipped experiments, or a .toml path (relative
        paths also tried beside the calibration file, as scenario paths are)."""
        if not self.answer:
            return None
        p = Path(self.answer)
        if p.suffix != ".toml":
            p = EXPERIMENT_DIR / f"{self.answer}.toml"
        elif not p.exists() and self.source != "<python>" and (Path(self.source).parent / p).exists():
            p = Path(self.source).parent / p
        return load_experiment(p, full=full)


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
    shifts = {s: leadership_change(exp.scenario_for(sc, exp.arms[0])) for s, sc in zip(exp.scenarios, exp.loaded_scenarios, strict=True)}
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
            raise InputError(
                src, "output.timeseries", exp.timeseries, f"allowed: a list that includes {need!r} ({where}, {name!r}, reads it)"
            )
        if p["statistic"] in WINDOWED and shifts[p["scenario"]] is None:
            with_change = [s for s in exp.scenarios if shifts[s] is not None]
            raise InputError(
                src,
                f"{where}.scenario",
                p["scenario"],
                f"{p['statistic']} needs a scenario with a leadership change (allowed: "
                + (", ".join(with_change) if with_change else "none of this calibration's scenarios has one")
                + f"; or a statistic without one: {', '.join(s for s in STATISTICS if s not in WINDOWED)})",
            )
        patterns.append(Pattern(name, p["scenario"], p["statistic"], float(lo), float(hi), str(p.get("source", ""))))
    _check_windows(src, exp, patterns, cal.get("window", 2), shifts)
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
        shifts=shifts,
    )
    if out.answer:
        try:
            head = out.answer_experiment()
        except InputError as e:
            raise InputError(src, "calibration.answer", answer, f"not a usable experiment ({e})") from None
        assert head is not None
        missing = [k for k in ("treatment", "reference") if k not in head.analysis]
        if missing:  # the estimand is treatment − reference: without them it fails after the prior sweep
            allowed = f"allowed: an experiment whose [analysis] names treatment and reference (no {missing[0]})"
            raise InputError(src, "calibration.answer", answer, allowed)
        try:  # the experiments the answer runs, built now on one prior point, so their errors come before any run
            answer_experiments(out, [dict(zip(exp.design_names, map(float, exp.points[0]), strict=True))])
        except InputError as e:
            raise InputError(src, "calibration.answer", answer, f"not a usable experiment ({e})") from None
    return out


def _check_windows(src: str, exp: Experiment, patterns: list[Pattern], window: int, shifts: dict[str, int | None]) -> None:
    """Every windowed pattern must find its kept rounds in both windows around its scenario's
    shift (``output.every`` keeps every ``every``-th round and the last): otherwise its statistic
    is an empty mean (NaN, never accepted) or an index error after the whole prior sweep."""
    horizon = {s: exp.rounds or sc.rounds for s, sc in zip(exp.scenarios, exp.loaded_scenarios, strict=True)}

    def met(p: Pattern, every: int) -> bool:
        shift = shifts[p.scenario]
        assert shift is not None  # refused above
        before, after = window_rounds(np.array(kept_rounds(horizon[p.scenario], every)), shift, window)
        return min(before.sum(), after.sum()) >= WINDOWED[p.statistic]

    def what(p: Pattern) -> str:
        shift = shifts[p.scenario]
        assert shift is not None
        last = min(shift + window - 1, horizon[p.scenario])
        return (
            f"{p.name!r} ({p.statistic}) compares rounds {_span(shift - window, shift - 1)} with {_span(shift, last)} "
            f"around the leadership change at round {shift} of {p.scenario}"
        )

    def rounds(p: Pattern) -> str:
        return "at least one round" if WINDOWED[p.statistic] == 1 else "at least two rounds (a rate from one round is 0 whatever the run)"

    windowed = [(i, p) for i, p in enumerate(patterns) if p.statistic in WINDOWED]
    for i, p in windowed:  # with every round kept: the window, or the scenario, leaves too few
        if met(p, 1):
            continue
        if window < WINDOWED[p.statistic]:
            allowed = f"allowed: a whole number in [{WINDOWED[p.statistic]}, 1000] ({what(p)}; it needs {rounds(p)} of each window)"
            raise InputError(src, "calibration.window", window, allowed)
        allowed = f"allowed: a scenario with {rounds(p)} before and after its shift ({what(p)})"
        raise InputError(src, f"calibration.patterns[{i}].scenario", p.scenario, allowed)
    for _, p in windowed:  # every round kept would do: the step of output.every skips a window
        if met(p, exp.every):
            continue
        top = max(horizon[q.scenario] for _, q in windowed)
        steps = [e for e in range(1, top + 1) if all(met(q, e) for _, q in windowed)]  # 1 among them
        allowed = f"allowed: {_steps(steps, top)} (a step that keeps {rounds(p)} of each window: {what(p)})"
        raise InputError(src, "output.every", exp.every, allowed)


def _span(a: int, b: int) -> str:
    a = max(a, 0)
    return f"{a}" if a == b else f"{a}–{b}"


def _steps(steps: list[int], top: int, limit: int = 8) -> str:
    """``[1, 2, 3, 5]`` as ``1–3, 5`` (``top``: every larger step keeps what ``top`` keeps)."""
    runs: list[list[int]] = []
    for e in steps:
        if runs and e == runs[-1][1] + 1:
            runs[-1][1] = e
        else:
            runs.append([e, e])
    parts = [f"{a}" if a == b else f"{a}–{b}" for a, b in runs]
    if steps and steps[-1] == top:
        parts[-1] = f"{runs[-1][0]} or more"
    return ", ".join(parts[:limit]) + (", …" if len(parts) > limit else "")


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
    every: int = 1,
    source: str = "<python>",
) -> Experiment:
    """An experiment over an explicit table of parameter sets (e.g. accepted posterior draws).
    ``source``: the file its scenario entries come from (a relative .toml path is also looked for
    beside it, as in the experiment that named it)."""
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
        every=every,
        analysis=dict(analysis or {}),
        source=source,
    )


def ppc_experiment(cal: Calibration, rows: list[dict[str, float]]) -> Experiment:
    """The posterior predictive runs: the accepted sets with fresh seeds, keeping the same rounds
    as the prior sample (so each pattern's statistic is computed the same way)."""
    exp = cal.experiment
    return table_experiment(
        f"{exp.name}-ppc",
        rows,
        exp.scenarios,
        [Arm("base")],
        exp.seed + 1,
        cal.posterior_replications,
        exp.timeseries,
        exp.params,
        chunk_size=exp.chunk_size,
        every=exp.every,
        source=exp.source,
    )


def answer_experiments(cal: Calibration, rows: list[dict[str, float]]) -> tuple[Experiment, Experiment]:
    """The headline experiment's estimand over ``rows`` (the posterior) and over its own grid:
    the treatment, reference and (if named) fair-restart arms on its main scenario."""
    import tomllib

    head = cal.answer_experiment()
    assert head is not None
    a = head.analysis
    main, treat, ref, fair = a.get("main", head.scenarios[0]), str(a.get("treatment")), str(a.get("reference")), a.get("fair_restart")
    names = (treat, ref) + ((str(fair),) if fair else ())
    arms = [x for x in head.arms if x.name in names]
    keep = ("shift_round", "window", "windows", "reference", "treatment", "fair_restart")
    ana = {k: v for k, v in a.items() if k in keep} | {"main": main}
    calibrated = table_experiment(
        f"{head.name}-calibrated",
        rows,
        [main],
        arms,
        head.seed,
        cal.posterior_replications,
        ["agreement"],
        head.params,
        ana,
        source=head.source,
    )
    d = tomllib.loads(Path(head.source).read_text(encoding="utf-8"))
    d = {k: v for k, v in d.items() if k != "full"} | {
        "scenarios": [main],
        "arms": [x for x in d.get("arms", []) if x["name"] in names],
        "analysis": ana,
        "output": {"timeseries": ["agreement"]},
    }
    return calibrated, experiment_from_dict(d, head.source, head.name)

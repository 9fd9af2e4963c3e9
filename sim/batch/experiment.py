"""Experiments: scenarios × arms × a parameter design × replications, with derived seeds.

An experiment is built in Python (:class:`Experiment`) or from a TOML file
(:func:`load_experiment`); both go through the same validation, which runs before any run
starts. Run ``(scenario, point, arm, replication)`` gets the seed derived from the
experiment seed by ``numpy.random.SeedSequence(seed, spawn_key=(point, replication))``:
arms and scenarios share seeds (common random numbers), so differences are paired. With
``[design] common_seeds = true`` the design points share them too (``spawn_key=(0,
replication)``): replication r of every point uses the same random numbers, so the mean over
the R replications is a deterministic function of the parameters for the experiment's seed
set. With ``common_seeds = "base"`` (Sobol and Morris designs) the points of one base sample
share them (``spawn_key=(base sample, replication)``): the pick-freeze differences of a Sobol
estimator are taken under common random numbers while every base sample brings fresh seeds
(see :mod:`sim.analysis.sensitivity`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from sim.core.metrics import DEFAULT_TIMESERIES, METRICS
from sim.core.names import check_name, is_safe_name, safe_filename
from sim.core.params import PARAMS
from sim.scenarios import (
    MAX_ROUNDS,
    InputError,
    Scenario,
    Setup,
    check_depth,
    load_scenario,
    parse_event,
    read_toml,
    resolve,
    split_key,
    text_field,
)

#: Hard limits: what the design matrix and the run index can hold in memory.
MAX_POINTS = 2_000_000
MAX_REPLICATIONS = 10_000_000
MAX_EVENTS = 10_000

#: Estimands an experiment may declare in ``[analysis.estimands]`` (name → one-line rationale);
#: computed by :mod:`sim.analysis.estimands`.
ESTIMANDS = ("effect_curve", "soon", "by_horizon", "rmst", "earlier", "more", "before_shift", "decomposition", "discovery")


class Design(Enum):
    """Parameter designs."""

    NONE = "none"
    GRID = "grid"
    LHS = "lhs"
    SOBOL = "sobol"
    MORRIS = "morris"
    TABLE = "table"


@dataclass
class Arm:
    """A variant applied to every scenario: extra events, channel state at start, parameters."""

    name: str
    events: list[dict[str, Any]] = field(default_factory=list)
    channel_open: bool | None = None
    params: dict[str, float] = field(default_factory=dict)


@dataclass
class Experiment:
    """Everything that defines a sweep. ``design_params`` maps a parameter to its grid values
    (grid) or its ``[low, high]`` bounds (lhs, sobol, morris); ``rows`` is the explicit table.

    After validation, :attr:`loaded_scenarios` holds the :class:`~sim.scenarios.Scenario` of
    each entry of :attr:`scenarios` (a name or a path), in the same order."""

    loaded_scenarios: list[Scenario] = field(init=False, repr=False, compare=False)

    name: str
    scenarios: list[str]
    seed: int = 0
    replications: int = 1
    rounds: int | None = None
    arms: list[Arm] = field(default_factory=lambda: [Arm("base")])
    params: dict[str, float] = field(default_factory=dict)
    design: Design | str = Design.NONE
    design_params: dict[str, Any] = field(default_factory=dict)
    rows: list[dict[str, float]] = field(default_factory=list)
    samples: int = 0
    levels: int = 4
    second_order: bool = False
    common_seeds: bool | str = False  # True, False or "base"
    timeseries: list[str] = field(default_factory=lambda: list(DEFAULT_TIMESERIES))
    every: int = 1
    chunk_size: int = 500
    description: str = ""
    analysis: dict[str, Any] = field(default_factory=dict)
    source: str = "<python>"

    def __post_init__(self) -> None:
        self._validate()

    # ------------------------------------------------------------ validation
    def _validate(self) -> None:
        src = self.source
        check_name(src, "name", self.name)
        text_field(src, "description", self.description)
        try:
            if not isinstance(self.design, (str, Design)):
                raise ValueError
            self.design = Design(self.design)
        except ValueError:
            raise InputError(src, "design.kind", self.design, f"allowed: {', '.join(d.value for d in Design)}") from None
        _whole(src, "replications", self.replications, 1, MAX_REPLICATIONS)
        _whole(src, "seed", self.seed, 0, 2**63 - 1)
        if self.rounds is not None:
            _whole(src, "rounds", self.rounds, 1, MAX_ROUNDS)
        _whole(src, "chunk_size", self.chunk_size, 1, 100_000)
        _whole(src, "output.every", self.every, 1, MAX_ROUNDS)
        _whole(src, "design.levels", self.levels, 2, 1000)
        if not isinstance(self.second_order, bool):
            raise InputError(src, "design.second_order", self.second_order, "allowed: true or false")
        if not (isinstance(self.common_seeds, bool) or self.common_seeds == "base"):
            raise InputError(src, "design.common_seeds", self.common_seeds, 'allowed: true, false or "base"')
        if not isinstance(self.timeseries, list) or not self.timeseries:
            raise InputError(src, "output.timeseries", self.timeseries, f"allowed: a list of one or more of {', '.join(METRICS)}")
        for m in self.timeseries:
            if not isinstance(m, str) or m not in METRICS:
                raise InputError(src, "output.timeseries", m, f"allowed: {', '.join(METRICS)}")
        if len(set(self.timeseries)) != len(self.timeseries):
            raise InputError(src, "output.timeseries", self.timeseries, "allowed: each metric once")
        if not isinstance(self.scenarios, list) or not self.scenarios:
            raise InputError(src, "scenarios", self.scenarios, "allowed: a list of one or more scenario names or paths")
        for i, entry in enumerate(self.scenarios):
            if not isinstance(entry, str) or not entry or len(entry) > 4096:
                raise InputError(src, f"scenarios[{i}]", entry, "allowed: a scenario name or a .toml path")
        if not isinstance(self.arms, list) or not self.arms or not all(isinstance(a, Arm) for a in self.arms):
            raise InputError(src, "arms", self.arms, "allowed: one or more arms")
        for i, a in enumerate(self.arms):
            check_name(src, f"arms[{i}].name", a.name)
        if len({a.name for a in self.arms}) != len(self.arms):
            raise InputError(src, "arms", [a.name for a in self.arms], "allowed: one or more arms with unique names")
        for where, table in (("params", self.params), ("design.params", self.design_params), ("analysis", self.analysis)):
            if not isinstance(table, dict):
                raise InputError(src, where, table, "allowed: a table")
        if not isinstance(self.rows, list):
            raise InputError(src, "design.rows", self.rows, "allowed: a list of tables")
        self.loaded_scenarios = [self._load(i, s) for i, s in enumerate(self.scenarios)]
        seen: dict[str, int] = {}
        for i, sc in enumerate(self.loaded_scenarios):
            key = str(Path(sc.path).resolve()) if sc.path != "<python>" else sc.name
            if key in seen or sc.name in [x.name for x in self.loaded_scenarios[:i]]:
                raise InputError(
                    src, f"scenarios[{i}]", self.scenarios[i], "the same scenario twice (its runs would share seeds); allowed: each once"
                )
            seen[key] = i
        for k, v in self.params.items():
            self._check_value(f"params.{k}", k, v)
        kind = self.design
        if kind in (Design.GRID, Design.LHS, Design.SOBOL, Design.MORRIS) and not self.design_params:
            raise InputError(src, "design.params", {}, f"a {kind.value} design needs at least one parameter")
        if kind in (Design.NONE, Design.TABLE) and self.design_params:
            raise InputError(src, "design.params", self.design_params, "needs design.kind = grid, lhs, sobol or morris")
        if self.common_seeds == "base" and kind not in (Design.SOBOL, Design.MORRIS):
            raise InputError(src, "design.common_seeds", "base", 'needs design.kind = "sobol" or "morris" (a design of base samples)')
        if kind is not Design.TABLE and self.rows:
            raise InputError(src, "design.rows", self.rows, 'needs design.kind = "table"')
        for k, v in self.design_params.items():
            where = f"design.params.{k}"
            self._check_name(where, k, v)
            if kind is Design.GRID:
                if not isinstance(v, list) or not v:
                    raise InputError(src, where, v, "allowed: a non-empty list of values")
                for x in v:
                    self._check_value(where, k, x)
            elif kind in (Design.LHS, Design.SOBOL, Design.MORRIS):
                p = PARAMS[k.rpartition(".")[2]]
                ok = isinstance(v, list) and len(v) == 2 and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
                if not ok or not v[0] < v[1]:
                    raise InputError(src, where, v, "allowed: [low, high] with low < high")
                if v[0] < p.low or v[1] > p.high:
                    raise InputError(src, where, v, f"bounds outside the parameter's own [{p.low:g}, {p.high:g}]")
        if kind is Design.TABLE:
            if not self.rows:
                raise InputError(src, "design.rows", [], "a table design needs one or more rows")
            if not all(isinstance(row, dict) for row in self.rows):
                raise InputError(src, "design.rows", self.rows, "allowed: a list of tables of name = value")
            names = sorted({k for row in self.rows for k in row})
            for i, row in enumerate(self.rows):
                if not isinstance(row, dict) or sorted(row) != names:
                    raise InputError(src, f"design.rows[{i}]", row, f"every row must set the same parameters: {', '.join(names)}")
                for k, v in row.items():
                    self._check_value(f"design.rows[{i}].{k}", k, v)
        if kind in (Design.LHS, Design.SOBOL, Design.MORRIS):
            _whole(src, "design.samples", self.samples, 1, MAX_POINTS)
        for a in self.arms:
            if not isinstance(a.params, dict):
                raise InputError(src, f"arms.{a.name}.params", a.params, "allowed: a table of name = value")
            if not isinstance(a.events, list) or len(a.events) > MAX_EVENTS:
                raise InputError(src, f"arms.{a.name}.events", a.events, f"allowed: a list of at most {MAX_EVENTS} event tables")
            for k, v in a.params.items():
                self._check_value(f"arms.{a.name}.params.{k}", k, v)
            if a.channel_open is not None and not isinstance(a.channel_open, bool):
                raise InputError(src, f"arms.{a.name}.channel_open", a.channel_open, "allowed: true or false")
        n_points = self._count_points()
        if n_points > MAX_POINTS:
            raise InputError(src, "design", f"{n_points} points", f"allowed: at most {MAX_POINTS} design points")
        # every arm × scenario must resolve (events within the horizon, sides known)
        for sc in self.loaded_scenarios:
            for a in self.arms:
                self.scenario_for(sc, a)
        self._check_analysis()
        self._points = self._make_points()

    def _check_analysis(self) -> None:
        """``[analysis]``: what the report computes (see docs/experiments or lean-years.toml)."""
        src, a = self.source, self.analysis
        allowed = {
            "shift_round",
            "window",
            "windows",
            "soon",
            "reference",
            "treatment",
            "fair_restart",
            "main",
            "placebo",
            "one_sided",
            "phase",
            "primary",
            "estimands",
            "conditions",
            "decomposition",
            "discovery",
            "correction",
            "cell_tolerance",
        }
        arm_names = [x.name for x in self.arms]
        for k, v in a.items():
            if k not in allowed:
                raise InputError(src, f"analysis.{k}", v, f"unknown field; allowed: {', '.join(sorted(allowed))}")
        horizon = min(self.rounds or sc.rounds for sc in self.loaded_scenarios)
        for k in ("shift_round", "window", "soon"):
            if k in a and (isinstance(a[k], bool) or not isinstance(a[k], int) or not 0 <= a[k] <= horizon):
                raise InputError(src, f"analysis.{k}", a[k], f"allowed: a whole number in [0, {horizon}]")
        if "windows" in a and (
            not isinstance(a["windows"], list)
            or not a["windows"]
            or not all(isinstance(w, int) and not isinstance(w, bool) and 1 <= w <= horizon for w in a["windows"])
        ):
            raise InputError(src, "analysis.windows", a["windows"], f"allowed: a list of whole numbers in [1, {horizon}]")
        for k in ("reference", "treatment", "fair_restart"):
            if k in a and a[k] not in arm_names:
                raise InputError(src, f"analysis.{k}", a[k], f"allowed: {', '.join(arm_names)}")
        for k in ("main", "placebo", "one_sided"):
            if k in a and a[k] not in self.scenarios:
                raise InputError(src, f"analysis.{k}", a[k], f"allowed: {', '.join(self.scenarios)}")
        for i, pair in enumerate(_list(src, "analysis.phase", a.get("phase", []), "pairs of parameter names")):
            known = ["window", *self.design_params]
            ok = isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) and p in known for p in pair)
            if not ok:
                raise InputError(
                    src, f"analysis.phase[{i}]", pair, f"allowed: a pair of swept parameters ({', '.join(self.design_params)}) or 'window'"
                )
        self._check_estimands()

    def _check_estimands(self) -> None:
        """``primary``, ``estimands`` (name → one-line rationale), ``conditions``, ``decomposition``,
        ``discovery`` and ``correction``."""
        src, a = self.source, self.analysis
        arm_names = [x.name for x in self.arms]
        if "primary" in a and a["primary"] not in ESTIMANDS:
            raise InputError(src, "analysis.primary", a["primary"], f"allowed: {', '.join(ESTIMANDS)}")
        est = a.get("estimands", {})
        if not isinstance(est, dict):
            raise InputError(src, "analysis.estimands", est, 'allowed: a table of estimand = "one-line rationale"')
        for k, v in est.items():
            if k not in ESTIMANDS:
                raise InputError(src, f"analysis.estimands.{k}", v, f"unknown estimand; allowed: {', '.join(ESTIMANDS)}")
            if not isinstance(v, str) or not v.strip() or "\n" in v:
                raise InputError(src, f"analysis.estimands.{k}", v, "allowed: a one-line rationale (text)")
        conds = a.get("conditions", [])
        if not isinstance(conds, list):
            raise InputError(src, "analysis.conditions", conds, "allowed: a list of tables with name, where and rationale")
        for i, c in enumerate(conds):
            where = f"analysis.conditions[{i}]"
            if not isinstance(c, dict) or set(c) - {"name", "where", "rationale"} or not isinstance(c.get("name"), str):
                raise InputError(src, where, c, "allowed: a table with name (text), where (a table) and rationale (text)")
            w = c.get("where", {})
            if not isinstance(w, dict) or not w:
                raise InputError(src, f"{where}.where", w, "allowed: a table of swept parameter = value or [values]")
            for k, v in w.items():
                if k not in self.design_params:
                    raise InputError(src, f"{where}.where.{k}", v, f"allowed: a swept parameter ({', '.join(self.design_params)})")
                for x in v if isinstance(v, list) else [v]:
                    self._check_value(f"{where}.where.{k}", k, x)
        dec = a.get("decomposition", {})
        dkeys = {"recipients": list, "replications": int, "permutations": int, "at_round": int, "max_pairs": int}
        if not isinstance(dec, dict):
            raise InputError(src, "analysis.decomposition", dec, f"allowed: a table with {', '.join(dkeys)}")
        for k, v in dec.items():
            if k not in dkeys:
                raise InputError(src, f"analysis.decomposition.{k}", v, f"unknown field; allowed: {', '.join(dkeys)}")
            if dkeys[k] is int and (isinstance(v, bool) or not isinstance(v, int) or v < (0 if k == "at_round" else 1)):
                raise InputError(src, f"analysis.decomposition.{k}", v, "allowed: a whole number ≥ 1")
        donor = a.get("treatment", arm_names[0])
        for r in dec.get("recipients", []):
            if r not in arm_names or r == donor:
                others = [x for x in arm_names if x != donor]
                raise InputError(
                    src, "analysis.decomposition.recipients", r, f"allowed: an arm other than the treatment: {', '.join(others)}"
                )
        horizon = self.rounds or min((sc.rounds for sc in self.loaded_scenarios), default=0)
        if "at_round" in dec and horizon and not dec["at_round"] < horizon:
            raise InputError(src, "analysis.decomposition.at_round", dec["at_round"], f"allowed: a round before the horizon ({horizon})")
        disc = a.get("discovery", {})
        if not isinstance(disc, dict) or set(disc) - {"margin", "resamples"}:
            raise InputError(
                src, "analysis.discovery", disc, "allowed: a table with margin (a number in [0, 1]) and resamples (an integer ≥ 0)"
            )
        m = disc.get("margin", 0.05)
        if isinstance(m, bool) or not isinstance(m, (int, float)) or not 0 <= m <= 1:
            raise InputError(src, "analysis.discovery.margin", m, "allowed: a number in [0, 1]")
        k = disc.get("resamples", 20)
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise InputError(src, "analysis.discovery.resamples", k, "allowed: an integer ≥ 0 (bootstrap resamples for a box's stability)")
        if a.get("correction", "bh") not in ("bh", "holm"):
            raise InputError(src, "analysis.correction", a["correction"], "allowed: bh (Benjamini–Hochberg), holm")
        tol = a.get("cell_tolerance", 0.05)
        if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 < tol <= 1:
            raise InputError(src, "analysis.cell_tolerance", tol, "allowed: a number in (0, 1] (a CI half-width in probability)")

    def _load(self, i: int, s: str) -> Scenario:
        """A scenario name, or a path (relative paths also tried beside the experiment file)."""
        cand = Path(s)
        if cand.suffix == ".toml" and not cand.exists() and self.source != "<python>":
            beside = Path(self.source).parent / cand
            cand = beside if beside.exists() else cand
        try:
            return load_scenario(cand if cand.suffix == ".toml" else s)
        except InputError as e:
            if e.source == "scenario" or (e.field == "file" and not cand.is_file()):  # the entry names no scenario file
                tried_beside = self.source != "<python>" and not Path(s).is_absolute() and not cand.exists()
                where = f" (nor beside {self.source})" if tried_beside else ""
                raise InputError(self.source, f"scenarios[{i}]", s, e.allowed + where) from None
            raise

    def _check_name(self, where: str, key: str, v: Any) -> None:
        side, _ = split_key(self.source, key, v, where)
        if side:
            for sc in self.loaded_scenarios:
                if side not in [x.name for x in sc.sides]:
                    raise InputError(self.source, where, v, f"side {side!r} is not in scenario {sc.name}")

    def _check_value(self, where: str, key: str, v: Any) -> None:
        self._check_name(where, key, v)
        try:
            PARAMS[key.rpartition(".")[2]].check(v)
        except ValueError as e:
            raise InputError(self.source, where, v, str(e)) from None

    # ------------------------------------------------------------ design
    def _count_points(self) -> int:
        """The number of design points, known before the design matrix is made."""
        d = len(self.design_params)
        kind = self.design
        if kind is Design.GRID:
            return math.prod(len(v) for v in self.design_params.values())
        if kind is Design.TABLE:
            return len(self.rows)
        if kind is Design.LHS:
            return self.samples
        if kind is Design.SOBOL:
            return self.samples * (2 * d + 2 if self.second_order else d + 2)
        if kind is Design.MORRIS:
            return self.samples * (d + 1)
        return 1

    def _make_points(self) -> np.ndarray:
        """The design matrix (points × parameters), in the order of :attr:`design_names`."""
        names = self.design_names
        kind = self.design
        if kind is Design.NONE:
            return np.zeros((1, 0))
        if kind is Design.GRID:
            return np.array(list(itertools.product(*(self.design_params[n] for n in names))), dtype=float)
        if kind is Design.TABLE:
            return np.array([[row[n] for n in names] for row in self.rows], dtype=float)
        bounds = np.array([self.design_params[n] for n in names], dtype=float)
        if kind is Design.LHS:
            from scipy.stats import qmc

            u = qmc.LatinHypercube(d=len(names), rng=np.random.default_rng(self.seed)).random(self.samples)
            pts = qmc.scale(u, bounds[:, 0], bounds[:, 1])
        else:
            pts = self._salib_sample()
        for j, n in enumerate(names):  # integer parameters take whole values
            if PARAMS[n.rpartition(".")[2]].integer:
                pts[:, j] = np.rint(pts[:, j])
        return pts

    def salib_problem(self) -> dict:
        names = self.design_names
        return {"num_vars": len(names), "names": names, "bounds": [list(self.design_params[n]) for n in names]}

    def _salib_sample(self) -> np.ndarray:
        if self.design is Design.SOBOL:
            import warnings

            from SALib.sample import sobol

            # N not a power of 2: SciPy warns that the Sobol' points lose their balance; said in one
            # plain line by `sweep` and `report` instead (:func:`sobol_balance_note`)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "The balance properties of Sobol' points require n to be a power of 2", UserWarning)
                return sobol.sample(self.salib_problem(), self.samples, calc_second_order=self.second_order, seed=self.seed)
        from SALib.sample import morris

        return morris.sample(self.salib_problem(), self.samples, num_levels=self.levels, seed=self.seed)

    @property
    def design_names(self) -> list[str]:
        if self.design is Design.TABLE:
            return sorted({k for row in self.rows for k in row})
        return list(self.design_params)

    @property
    def points(self) -> np.ndarray:
        return self._points

    # ------------------------------------------------------------ runs
    @property
    def n_runs(self) -> int:
        return len(self.loaded_scenarios) * len(self._points) * len(self.arms) * self.replications

    def run_index(self, run_id: int) -> tuple[int, int, int, int]:
        """run_id → (scenario, point, arm, replication)."""
        run_id, r = divmod(run_id, self.replications)
        run_id, a = divmod(run_id, len(self.arms))
        s, p = divmod(run_id, len(self._points))
        return s, p, a, r

    @property
    def block(self) -> int:
        """Design points per base sample: d + 2 (Sobol; 2d + 2 with second order), d + 1 (Morris), else 1."""
        if self.design in (Design.SOBOL, Design.MORRIS) and self.samples:
            return self._count_points() // self.samples
        return 1

    def seed_of(self, point: int, replication: int) -> int:
        """The run seed: SeedSequence(seed, spawn_key=(point, replication)), as a 63-bit integer;
        with :attr:`common_seeds` true, point 0's seed for every point (it depends on the replication
        only); with ``"base"``, the first point's of the point's base sample."""
        key = 0 if self.common_seeds is True else point - point % self.block if self.common_seeds == "base" else point
        ss = np.random.SeedSequence(self.seed, spawn_key=(key, replication))
        return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))

    def scenario_for(self, sc: Scenario, arm: Arm) -> Scenario:
        """The scenario with the arm's events and channel state applied (validated)."""
        horizon = self.rounds or sc.rounds
        evs = [
            parse_event(self.source, f"arms.{arm.name}.events[{i}]", e, [s.name for s in sc.sides], horizon)
            for i, e in enumerate(arm.events)
        ]
        out = dataclasses.replace(
            sc,
            events=sorted(sc.events + evs, key=lambda e: e.round),
            channel_open=sc.channel_open if arm.channel_open is None else arm.channel_open,
        )
        if self.rounds:
            late = [e for e in out.events if e.round > self.rounds]
            if late:
                raise InputError(
                    self.source, "rounds", self.rounds, f"scenario {sc.name} has an event at round {late[0].round}, past the horizon"
                )
        return out

    def overrides(self, point: int, arm: Arm) -> dict[str, float]:
        vals = dict(self.params) | dict(arm.params)
        vals |= {n: float(v) for n, v in zip(self.design_names, self._points[point], strict=True)}
        return vals

    def setup(self, s: int, p: int, a: int) -> Setup:
        arm = self.arms[a]
        return resolve(self.scenario_for(self.loaded_scenarios[s], arm), self.overrides(p, arm), self.rounds, self.source)

    def run_ids(self) -> Iterator[int]:
        return iter(range(self.n_runs))

    # ------------------------------------------------------------ identity
    def spec(self) -> dict[str, Any]:
        """A JSON-able description (stored in the manifest; its hash guards --resume)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init and f.name != "source"}
        d["design"] = Design(self.design).value
        d["arms"] = [dataclasses.asdict(a) for a in self.arms]
        return json.loads(json.dumps(d, default=str))

    def identity(self) -> dict[str, Any]:
        """What a resumed sweep must share with the interrupted one, by part: the spec (without
        the report-only [analysis]), each resolved scenario, the package version and the model
        code (:func:`sim.version.model_code`). Stored in the manifest, so a refusal can name
        the part that differs (:func:`identity_differences`)."""
        from sim.version import __version__, model_code

        spec = {k: v for k, v in self.spec().items() if k != "analysis"}
        scenarios = {
            name: hashlib.sha256(repr(dataclasses.replace(sc, path="")).encode()).hexdigest()[:16]
            for name, sc in zip(self.scenarios, self.loaded_scenarios, strict=True)
        }
        return {"spec": spec, "scenarios": scenarios, "version": __version__, "model_code": model_code()}

    def fingerprint(self) -> str:
        """A hash of :meth:`identity`: what a resumed sweep must share with the interrupted one."""
        blob = json.dumps(self.identity(), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


_TOP = {
    "name",
    "description",
    "seed",
    "replications",
    "rounds",
    "scenarios",
    "params",
    "arms",
    "design",
    "analysis",
    "full",
    "output",
    "chunk_size",
    "calibration",  # read by sim.batch.calibrate; a sweep of a calibration file runs its prior sample
}


def load_experiment(path: str | Path, full: bool = False) -> Experiment:
    """Read and validate an experiment TOML file; ``full`` applies its ``[full]`` table
    (e.g. more replications) over the top-level values."""
    path = Path(path)
    src = str(path)
    if not path.exists():
        raise InputError(src, "file", src, "no such file")
    d = read_toml(path)
    extra = d.get("full", {})
    if not isinstance(extra, dict):
        raise InputError(src, "full", extra, "allowed: a [full] table of top-level fields")
    for k in extra:
        if k not in {"replications", "seed", "rounds", "chunk_size"}:
            raise InputError(src, f"full.{k}", extra[k], "allowed: replications, seed, rounds, chunk_size")
    stem = path.stem if is_safe_name(path.stem) else safe_filename(path.stem)[:64]
    base = {k: v for k, v in d.items() if k != "full"}
    try:  # [full] is checked whether or not it is used, and its errors name full.FIELD
        exp_full = experiment_from_dict(base | extra, src, default_name=stem) if extra else None
    except InputError as e:
        if e.field in extra:
            raise InputError(src, f"full.{e.field}", e.value, e.allowed) from None
        raise
    if full and exp_full is not None:
        return exp_full
    return experiment_from_dict(base, src, default_name=stem)


def _table(src: str, fld: str, v: Any) -> dict:
    if not isinstance(v, dict):
        raise InputError(src, fld, v, "allowed: a table")
    return v


def _list(src: str, fld: str, v: Any, what: str) -> list:
    if not isinstance(v, list):
        raise InputError(src, fld, v, f"allowed: a list of {what}")
    return v


def _whole(src: str, fld: str, v: Any, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise InputError(src, fld, v, f"allowed: a whole number in [{lo}, {hi}]")
    return v


def _keys(src: str, where: str, d: dict, allowed: Sequence[str]) -> None:
    for k in d:
        if k not in allowed:
            raise InputError(src, f"{where}{k}", d[k], f"unknown field; allowed: {', '.join(allowed)}")


def experiment_from_dict(d: Mapping[str, Any], src: str = "<python>", default_name: str = "experiment") -> Experiment:
    """Validate an experiment given as a dict (as parsed from TOML): every field's type here,
    the values and their consistency in :class:`Experiment`."""
    if not isinstance(d, Mapping):
        raise InputError(src, "experiment", d, "allowed: a table of experiment fields")
    check_depth(src, d)
    _keys(src, "", dict(d), sorted(_TOP))
    design = _table(src, "design", d.get("design", {}))
    output = _table(src, "output", d.get("output", {}))
    _keys(src, "design.", design, ("kind", "params", "rows", "samples", "levels", "second_order", "common_seeds"))
    _keys(src, "output.", output, ("timeseries", "every"))
    arms = []
    for i, a in enumerate(_list(src, "arms", d.get("arms", [{"name": "base"}]), "[[arms]] tables")):
        if not isinstance(a, dict) or "name" not in a:
            raise InputError(src, f"arms[{i}]", a, "allowed: a table with name, and optionally events, channel_open, params")
        _keys(src, f"arms[{i}].", a, ("name", "events", "channel_open", "params"))
        name = check_name(src, f"arms[{i}].name", a["name"])
        events = _list(src, f"arms[{i}].events", a.get("events", []), "event tables")
        params = _table(src, f"arms[{i}].params", a.get("params", {}))
        arms.append(Arm(name, list(events), a.get("channel_open"), dict(params)))
    scen = d.get("scenarios", [])
    if isinstance(scen, str):
        scen = [scen]
    rows = _list(src, "design.rows", design.get("rows", []), "tables of name = value")
    for i, row in enumerate(rows):
        _table(src, f"design.rows[{i}]", row)
    kw: dict[str, Any] = {
        "name": d.get("name", default_name),
        "description": d.get("description", ""),
        "scenarios": list(_list(src, "scenarios", scen, "scenario names or paths")),
        "seed": d.get("seed", 0),
        "replications": d.get("replications", 1),
        "rounds": d.get("rounds"),
        "arms": arms,
        "params": dict(_table(src, "params", d.get("params", {}))),
        "design": design.get("kind", "none"),
        "design_params": dict(_table(src, "design.params", design.get("params", {}))),
        "rows": [dict(r) for r in rows],
        "samples": design.get("samples", 0),
        "levels": design.get("levels", 4),
        "second_order": design.get("second_order", False),
        "common_seeds": design.get("common_seeds", False),
        "timeseries": list(_list(src, "output.timeseries", output.get("timeseries", list(DEFAULT_TIMESERIES)), "metrics")),
        "every": output.get("every", 1),
        "chunk_size": d.get("chunk_size", 500),
        "analysis": dict(_table(src, "analysis", d.get("analysis", {}))),
        "source": src,
    }
    return Experiment(**kw)


def experiment_from_manifest(manifest: Mapping[str, Any], where: str = "manifest.json") -> Experiment:
    """The experiment a results folder was made from, rebuilt from its manifest (the spec, with
    scenario paths resolved beside the experiment file it names); :class:`InputError` if it
    cannot be, or is no longer the same (a scenario file changed or moved, another version)."""
    init = {f.name for f in dataclasses.fields(Experiment) if f.init}
    spec = {k: v for k, v in dict(manifest.get("experiment", {})).items() if k in init and k != "source"}
    try:
        arms = [Arm(**a) for a in spec.get("arms", [])]
        exp = Experiment(**{**spec, "arms": arms, "source": str(manifest.get("source") or "<python>")})
    except (InputError, TypeError, ValueError) as e:
        raise InputError(where, "experiment", spec.get("name", "?"), f"cannot be rebuilt ({e})") from None
    if exp.fingerprint() != manifest.get("fingerprint"):
        raise InputError(
            where, "experiment", exp.name, f"differs from the one that made these results: {identity_differences(manifest, exp)}"
        )
    return exp


def identity_differences(manifest: Mapping[str, Any], exp: Experiment) -> str:
    """What differs between the experiment that made a results folder (its manifest's
    ``identity``) and ``exp``, in words: the spec's fields by name, the scenarios by name, the
    package version or the model code; for a folder made before the identity was stored, only
    that something does."""
    old = manifest.get("identity")
    if not isinstance(old, Mapping):
        return "the folder was made by an older dialogue-sim that did not record what it was made with"
    new = exp.identity()
    out: list[str] = []
    if old.get("model_code") != new["model_code"]:
        out.append(
            f"the model's code changed (code {old.get('model_code')} then, {new['model_code']} now: "
            "another dialogue-sim version or an edited sim/core)"
        )
    if old.get("version") != new["version"]:
        out.append(f"dialogue-sim {old.get('version')} then, {new['version']} now")
    o_spec, n_spec = dict(old.get("spec") or {}), new["spec"]
    fields = sorted(k for k in set(o_spec) | set(n_spec) if o_spec.get(k) != n_spec.get(k))
    for k in fields[:4]:
        out.append(f"{k} = {_short(o_spec.get(k))} then, {_short(n_spec.get(k))} now")
    if len(fields) > 4:
        out.append(f"and {len(fields) - 4} more field(s): {', '.join(fields[4:])}")
    o_sc, n_sc = dict(old.get("scenarios") or {}), new["scenarios"]
    changed = sorted(k for k in set(o_sc) | set(n_sc) if o_sc.get(k) != n_sc.get(k))
    if changed:
        out.append(f"scenario(s) {', '.join(changed)} resolve differently (a scenario file or a default changed)")
    return "; ".join(out) or "their fingerprints differ"


def _short(value: object, width: int = 60) -> str:
    """``value`` as JSON, cut to ``width`` characters."""
    text = json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= width else text[: width - 1] + "…"


def sobol_balance_note(design: str, samples: object) -> str | None:
    """One line for a Sobol design whose base-sample count is not a power of 2 (its points lose the
    balance of the Sobol' sequence and the indices converge more slowly), else None."""
    if design != Design.SOBOL.value or not isinstance(samples, int) or samples < 1 or not samples & (samples - 1):
        return None
    return (
        f"the Sobol design's {samples} base samples are not a power of 2, so its points lose the balance of the Sobol' "
        f"sequence and the indices converge more slowly; use a power of 2 (e.g. {1 << samples.bit_length()})"
    )


def chunks(exp: Experiment) -> Iterator[tuple[int, range]]:
    """(chunk id, run ids): consecutive runs that share a layout, at most ``chunk_size`` each.

    Deterministic for a given experiment, so a resumed sweep finds the same chunks."""
    per_point = any(k.rpartition(".")[2] == "members" for k in [*exp.design_names, *(k for a in exp.arms for k in a.params)])
    cid, start, key = 0, 0, None
    cache: dict[tuple[int, int, int], tuple] = {}
    for rid in exp.run_ids():
        s, p, a, _ = exp.run_index(rid)
        if per_point:
            k = cache.get((s, p, a))
            if k is None:
                k = cache[(s, p, a)] = (s, tuple(exp.setup(s, p, a).members))
        else:
            k = (s,)
        if rid > start and (k != key or rid - start >= exp.chunk_size):
            yield cid, range(start, rid)
            cid, start = cid + 1, rid
        key = k
    if exp.n_runs > start:
        yield cid, range(start, exp.n_runs)


def seeds_table(exp: Experiment, run_ids: Sequence[int]) -> list[int]:
    return [exp.seed_of(exp.run_index(r)[1], exp.run_index(r)[3]) for r in run_ids]

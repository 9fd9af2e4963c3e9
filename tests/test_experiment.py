"""Experiments: derived seeds, parameter designs, chunks, and validation of experiment files."""

from __future__ import annotations

import itertools
import subprocess
import tomllib
from pathlib import Path

import numpy as np
import pytest

from sim.batch.experiment import Arm, Design, Experiment, chunks, load_experiment, seeds_table
from sim.cli import main
from sim.core.params import PARAMS
from sim.scenarios import InputError

from .conftest import DIALOGUE_SIM, RIPE_SCENARIO


def expected_seed(seed: int, point: int, replication: int) -> int:
    ss = np.random.SeedSequence(seed, spawn_key=(point, replication))
    return int(ss.generate_state(1, np.uint64)[0] >> 1)


def small(**kw) -> Experiment:
    base = dict(name="small", scenarios=["lean-years"], seed=11, replications=3, rounds=15, chunk_size=5)
    return Experiment(**(base | kw))


# ---------------------------------------------------------------- seeds


@pytest.mark.parametrize("seed", [0, 1, 20261127, 2**40 + 3])
def test_seed_rule_is_seedsequence_first_word_shifted(seed):
    exp = small(seed=seed, design="grid", design_params={"turnover": [0.1, 0.2, 0.3]}, replications=4)
    for p, r in itertools.product(range(3), range(4)):
        s = exp.seed_of(p, r)
        assert s == expected_seed(seed, p, r)
        assert 0 <= s < 2**63  # fits a signed 64-bit column


def test_seeds_differ_between_points_replications_and_experiment_seeds():
    exp = small(design="grid", design_params={"turnover": [0.1, 0.2, 0.3, 0.4]}, replications=5)
    seeds = [exp.seed_of(p, r) for p in range(4) for r in range(5)]
    assert len(set(seeds)) == len(seeds)
    # (point, replication) is not symmetric: (0, 1) and (1, 0) are different runs
    assert exp.seed_of(0, 1) != exp.seed_of(1, 0)
    other = small(seed=12, design="grid", design_params={"turnover": [0.1, 0.2, 0.3, 0.4]}, replications=5)
    assert not set(seeds) & {other.seed_of(p, r) for p in range(4) for r in range(5)}


def test_common_seeds_depend_on_the_replication_only():
    """``[design] common_seeds``: every design point uses point 0's seeds (replication r of every
    point draws the same random numbers), still different between replications and experiment seeds."""
    grid = {"turnover": [0.1, 0.2, 0.3, 0.4]}
    exp = small(design="grid", design_params=grid, replications=5, common_seeds=True)
    for p, r in itertools.product(range(4), range(5)):
        assert exp.seed_of(p, r) == expected_seed(exp.seed, 0, r) == small(design="grid", design_params=grid, replications=5).seed_of(0, r)
    assert len({exp.seed_of(0, r) for r in range(5)}) == 5
    assert exp.fingerprint() != small(design="grid", design_params=grid, replications=5).fingerprint()  # --resume cannot mix them


def test_arms_and_scenarios_share_seeds(tmp_path):
    (tmp_path / "ripe.toml").write_text(RIPE_SCENARIO)
    exp = small(
        scenarios=["lean-years", str(tmp_path / "ripe.toml")],
        arms=[Arm("keep"), Arm("closed", channel_open=False), Arm("low", params={"turnover": 0.01})],
        design="grid",
        design_params={"handover": [0.0, 1.0]},
        replications=2,
    )
    ids = list(exp.run_ids())
    seeds = seeds_table(exp, ids)
    by_pr: dict[tuple[int, int], set[int]] = {}
    for rid, sd in zip(ids, seeds, strict=True):
        s, p, a, r = exp.run_index(rid)
        assert sd == expected_seed(exp.seed, p, r)
        by_pr.setdefault((p, r), set()).add(sd)
    assert len(by_pr) == 2 * 2
    assert all(len(v) == 1 for v in by_pr.values())  # same seed in every arm and scenario
    assert len({next(iter(v)) for v in by_pr.values()}) == 4


def test_run_index_enumerates_every_combination_once():
    exp = small(
        scenarios=["lean-years", "one-sided-shift"],
        arms=[Arm("a"), Arm("b")],
        design="grid",
        design_params={"turnover": [0.1, 0.2, 0.3]},
        replications=2,
        rounds=None,
    )
    assert exp.n_runs == 2 * 3 * 2 * 2
    combos = [exp.run_index(r) for r in exp.run_ids()]
    assert sorted(combos) == list(itertools.product(range(2), range(3), range(2), range(2)))
    assert combos == sorted(combos)  # replications innermost, scenarios outermost


# ---------------------------------------------------------------- designs

GRID = {"turnover": [0.05, 0.2, 0.4], "handover": [0.0, 0.5, 1.0], "members": [4, 6]}


def test_grid_design_is_the_full_product_in_order():
    exp = small(design="grid", design_params=GRID)
    assert exp.design is Design.GRID
    assert exp.design_names == ["turnover", "handover", "members"]
    assert exp.points.shape == (3 * 3 * 2, 3)
    np.testing.assert_array_equal(exp.points, np.array(list(itertools.product(*GRID.values())), dtype=float))
    assert exp.n_runs == 18 * 1 * 3


def test_lhs_design_points_inside_bounds_and_stratified():
    bounds = {"turnover": [0.05, 0.4], "openness": [0.1, 0.9]}
    exp = small(design="lhs", design_params=bounds, samples=12)
    pts = exp.points
    assert pts.shape == (12, 2)
    for j, (lo, hi) in enumerate(bounds.values()):
        assert np.all((pts[:, j] >= lo) & (pts[:, j] <= hi))
        # Latin hypercube: exactly one point in each of the 12 equal slices of every axis
        bins = np.floor((pts[:, j] - lo) / (hi - lo) * 12).astype(int)
        assert sorted(bins) == list(range(12))
    np.testing.assert_array_equal(pts, small(design="lhs", design_params=bounds, samples=12).points)
    assert not np.array_equal(pts, small(design="lhs", design_params=bounds, samples=12, seed=99).points)


def test_lhs_integer_parameter_takes_whole_values():
    exp = small(design="lhs", design_params={"members": [2, 9], "turnover": [0.0, 0.5]}, samples=10)
    m = exp.points[:, 0]
    assert np.all(m == np.rint(m)) and np.all((m >= 2) & (m <= 9))
    assert PARAMS["members"].integer


@pytest.mark.parametrize(("second_order", "per_n"), [(False, lambda d: d + 2), (True, lambda d: 2 * d + 2)])
def test_sobol_design_size(second_order, per_n):
    bounds = {"turnover": [0.05, 0.4], "handover": [0.0, 1.0], "openness": [0.1, 0.9]}
    exp = small(design="sobol", design_params=bounds, samples=8, second_order=second_order)
    d = len(bounds)
    assert exp.points.shape == (8 * per_n(d), d)
    for j, (lo, hi) in enumerate(bounds.values()):
        assert np.all((exp.points[:, j] >= lo) & (exp.points[:, j] <= hi))
    assert exp.salib_problem() == {"num_vars": 3, "names": list(bounds), "bounds": list(bounds.values())}


def test_morris_design_size_and_levels():
    bounds = {"turnover": [0.0, 0.6], "handover": [0.0, 1.0], "openness": [0.1, 0.7]}
    exp = small(design="morris", design_params=bounds, samples=5, levels=4)
    d = len(bounds)
    assert exp.points.shape == (5 * (d + 1), d)
    for j, (lo, hi) in enumerate(bounds.values()):
        levels = lo + (hi - lo) * np.arange(4) / 3
        assert np.all(np.isclose(exp.points[:, j][:, None], levels[None, :]).any(axis=1))


def test_table_design_rows():
    rows = [{"turnover": 0.1, "handover": 0.2}, {"handover": 0.4, "turnover": 0.3}, {"turnover": 0.5, "handover": 0.6}]
    exp = small(design="table", rows=rows)
    assert exp.design_names == ["handover", "turnover"]
    np.testing.assert_array_equal(exp.points, [[0.2, 0.1], [0.4, 0.3], [0.6, 0.5]])
    assert exp.overrides(1, exp.arms[0]) == {"handover": 0.4, "turnover": 0.3}


def test_none_design_is_one_point():
    exp = small(arms=[Arm("a"), Arm("b")], replications=4, params={"turnover": 0.3})
    assert exp.design is Design.NONE
    assert exp.points.shape == (1, 0)
    assert exp.n_runs == 1 * 1 * 2 * 4
    assert exp.overrides(0, exp.arms[0]) == {"turnover": 0.3}


def test_overrides_precedence_design_over_arm_over_params():
    exp = small(
        params={"turnover": 0.3, "handover": 0.1},
        arms=[Arm("x", params={"turnover": 0.2, "openness": 0.4})],
        design="grid",
        design_params={"handover": [0.7]},
    )
    assert exp.overrides(0, exp.arms[0]) == {"turnover": 0.2, "handover": 0.7, "openness": 0.4}


# Same experiment, in Python and as a TOML file.
DESIGN_CASES = {
    "grid": (
        dict(design="grid", design_params=GRID),
        '[design]\nkind = "grid"\n[design.params]\nturnover = [0.05, 0.2, 0.4]\nhandover = [0.0, 0.5, 1.0]\nmembers = [4, 6]\n',
        18,
    ),
    "lhs": (
        dict(design="lhs", design_params={"turnover": [0.05, 0.4], "openness": [0.1, 0.9]}, samples=7),
        '[design]\nkind = "lhs"\nsamples = 7\n[design.params]\nturnover = [0.05, 0.4]\nopenness = [0.1, 0.9]\n',
        7,
    ),
    "sobol": (
        dict(design="sobol", design_params={"turnover": [0.05, 0.4], "openness": [0.1, 0.9]}, samples=4),
        '[design]\nkind = "sobol"\nsamples = 4\n[design.params]\nturnover = [0.05, 0.4]\nopenness = [0.1, 0.9]\n',
        4 * (2 + 2),
    ),
    "morris": (
        dict(design="morris", design_params={"turnover": [0.0, 0.6], "handover": [0.0, 1.0]}, samples=3, levels=6),
        '[design]\nkind = "morris"\nsamples = 3\nlevels = 6\n[design.params]\nturnover = [0.0, 0.6]\nhandover = [0.0, 1.0]\n',
        3 * (2 + 1),
    ),
    "table": (
        dict(design="table", rows=[{"turnover": 0.1, "handover": 0.2}, {"turnover": 0.3, "handover": 0.4}]),
        '[design]\nkind = "table"\nrows = [{ turnover = 0.1, handover = 0.2 }, { turnover = 0.3, handover = 0.4 }]\n',
        2,
    ),
    "none": (dict(), "", 1),
}


@pytest.mark.parametrize("case", list(DESIGN_CASES))
def test_python_and_toml_experiments_agree(tmp_path, case):
    kw, design_toml, n_points = DESIGN_CASES[case]
    common = dict(
        name="same",
        scenarios=["lean-years"],
        seed=5,
        replications=2,
        rounds=15,
        chunk_size=5,
        arms=[Arm("keep"), Arm("wind", events=[{"round": 3, "kind": "channel_close"}])],
        timeseries=["agreement", "trust"],
        every=3,
    )
    py = Experiment(**common, **kw)
    path = tmp_path / f"{case}.toml"
    path.write_text(
        'name = "same"\nseed = 5\nreplications = 2\nrounds = 15\nchunk_size = 5\nscenarios = ["lean-years"]\n'
        '[[arms]]\nname = "keep"\n[[arms]]\nname = "wind"\nevents = [{ round = 3, kind = "channel_close" }]\n'
        '[output]\ntimeseries = ["agreement", "trust"]\nevery = 3\n' + design_toml
    )
    toml = load_experiment(path)
    assert toml.design is py.design is Design(case)
    assert len(py.points) == n_points
    assert toml.design_names == py.design_names
    np.testing.assert_array_equal(toml.points, py.points)
    assert toml.n_runs == py.n_runs == n_points * 2 * 2
    assert toml.spec() == py.spec()
    assert toml.fingerprint() == py.fingerprint()
    assert list(chunks(toml)) == list(chunks(py))


def test_shipped_experiment_files_load():
    files = sorted((Path(__file__).resolve().parent.parent / "experiments").glob("*.toml"))
    assert files
    for path in files:
        raw = tomllib.loads(path.read_text())
        exp = load_experiment(path)
        assert exp.name == raw.get("name", path.stem)
        assert [a.name for a in exp.arms] == [a["name"] for a in raw.get("arms", [{"name": "base"}])]
        assert exp.replications == raw.get("replications", 1)
        if exp.design is Design.GRID:
            assert len(exp.points) == np.prod([len(v) for v in raw["design"]["params"].values()])
        assert exp.n_runs == len(exp.scenarios) * len(exp.points) * len(exp.arms) * exp.replications


# ---------------------------------------------------------------- chunks


def test_chunks_cover_every_run_once_in_order_and_respect_chunk_size():
    exp = small(design="grid", design_params={"turnover": [0.1, 0.2, 0.3]}, arms=[Arm("a"), Arm("b")], replications=4, chunk_size=5)
    plan = list(chunks(exp))
    assert [cid for cid, _ in plan] == list(range(len(plan)))
    assert [r for _, ids in plan for r in ids] == list(range(exp.n_runs))
    assert all(1 <= len(ids) <= 5 for _, ids in plan)
    assert len(plan) == -(-exp.n_runs // 5)
    assert plan == list(chunks(exp))


def test_chunks_never_mix_layouts():
    exp = small(design="grid", design_params={"members": [3, 5]}, replications=3, chunk_size=4)
    for _, ids in chunks(exp):
        layouts = {tuple(exp.setup(*exp.run_index(r)[:3]).members) for r in ids}
        assert len(layouts) == 1
    assert [len(ids) for _, ids in chunks(exp)] == [3, 3]


# ---------------------------------------------------------------- validation

BASE = 'name = "bad"\nscenarios = ["lean-years"]\nreplications = 2\nrounds = 15\n'

#: (TOML text, field, value) of bad experiment files.
BAD_FILES = {
    "unknown param": (BASE + "[params]\nnot_a_param = 0.5\n", "params.not_a_param", 0.5),
    "unknown design param": (BASE + '[design]\nkind = "grid"\n[design.params]\nbogus = [0.1, 0.2]\n', "design.params.bogus", [0.1, 0.2]),
    "bounds outside": (
        BASE + '[design]\nkind = "lhs"\nsamples = 4\n[design.params]\nturnover = [0.5, 1.5]\n',
        "design.params.turnover",
        [0.5, 1.5],
    ),
    "zero replications": (BASE.replace("replications = 2", "replications = 0"), "replications", 0),
    "unknown design kind": (BASE + '[design]\nkind = "factorial"\n', "design.kind", "factorial"),
    "unknown scenario": (BASE.replace("lean-years", "no-such-scenario"), "scenarios[0]", "no-such-scenario"),
    "arm event past horizon": (
        BASE + '[[arms]]\nname = "late"\nevents = [{ round = 30, kind = "channel_close" }]\n',
        "arms.late.events[0].round",
        30,
    ),
    "scenario event past horizon": (BASE.replace("lean-years", "leadership-change"), "rounds", 15),
    "grid value out of bounds": (BASE + '[design]\nkind = "grid"\n[design.params]\nturnover = [0.1, 2.0]\n', "design.params.turnover", 2.0),
    "arm param out of bounds": (BASE + '[[arms]]\nname = "x"\nparams = { handover = -1.0 }\n', "arms.x.params.handover", -1.0),
    "unknown top-level field": (BASE + "replicates = 3\n", "replicates", 3),
    "unknown estimand": (BASE + '[analysis.estimands]\nmedian = "why"\n', "analysis.estimands.median", "why"),
    "primary not an estimand": (BASE + '[analysis]\nprimary = "mean"\n', "analysis.primary", "mean"),
    "cell tolerance not a probability": (BASE + "[analysis]\ncell_tolerance = 0\n", "analysis.cell_tolerance", 0),
    "decomposition recipient not an arm": (
        BASE + '[analysis.decomposition]\nrecipients = ["nobody"]\n',
        "analysis.decomposition.recipients",
        "nobody",
    ),
    "condition on an unswept parameter": (
        BASE + '[[analysis.conditions]]\nname = "c"\nwhere = { turnover = 0.1 }\n',
        "analysis.conditions[0].where.turnover",
        0.1,
    ),
    "decomposition past the horizon": (BASE + "[analysis.decomposition]\nat_round = 1000\n", "analysis.decomposition.at_round", 1000),
    "decomposition recipient is the treatment": (
        BASE + '[[arms]]\nname = "a"\n[[arms]]\nname = "b"\n[analysis]\ntreatment = "a"\n[analysis.decomposition]\nrecipients = ["a"]\n',
        "analysis.decomposition.recipients",
        "a",
    ),
    "bad [full] replications, without --full": (BASE + '[full]\nreplications = "many"\n', "full.replications", "many"),
    "discovery margin out of range": (BASE + "[analysis.discovery]\nmargin = 2.0\n", "analysis.discovery.margin", 2.0),
    "discovery resamples negative": (BASE + "[analysis.discovery]\nresamples = -1\n", "analysis.discovery.resamples", -1),
    "unknown correction": (BASE + '[analysis]\ncorrection = "bonferroni"\n', "analysis.correction", "bonferroni"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_experiment_file_raises_input_error(tmp_path, case):
    text, fld, value = BAD_FILES[case]
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputError) as ei:
        load_experiment(path)
    msg = str(ei.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: ")
    assert f"{fld} = {value!r}" in msg
    assert ei.value.field == fld


def test_malformed_toml_raises_input_error(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('name = "x\nscenarios = ["lean-years"]\n')
    with pytest.raises(InputError) as ei:
        load_experiment(path)
    msg = str(ei.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: toml = ")
    assert "valid TOML" in msg


def test_missing_file_raises_input_error(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(InputError, match="no such file") as ei:
        load_experiment(path)
    assert str(path) in str(ei.value)


@pytest.mark.parametrize(
    ("kw", "fld"),
    [
        (dict(replications=0), "replications"),
        (dict(design="lhs", design_params={"turnover": [0.0, 0.5]}, samples=0), "design.samples"),
        (dict(design="grid", design_params={}), "design.params"),
        (dict(design="table", rows=[]), "design.rows"),
        (dict(arms=[Arm("a"), Arm("a")]), "arms"),
        (dict(timeseries=["nonsense"]), "output.timeseries"),
        (dict(every=0), "output.every"),
        (dict(chunk_size=0), "chunk_size"),
        (dict(design="grid", design_params={"Z.turnover": [0.1]}), "design.params.Z.turnover"),
    ],
)
def test_bad_python_experiment_raises_input_error(kw, fld):
    with pytest.raises(InputError) as ei:
        small(**kw)
    assert ei.value.field == fld
    assert str(ei.value).startswith("<python>: ")


@pytest.mark.parametrize("case", [*BAD_FILES, "malformed toml"])
def test_cli_refuses_bad_experiment_before_writing(tmp_path, capsys, case):
    text = 'name = "x\n' if case == "malformed toml" else BAD_FILES[case][0]
    path = tmp_path / "bad.toml"
    path.write_text(text)
    out = tmp_path / "results"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("dialogue-sim: error: ")
    assert str(path) in lines[0]
    assert captured.out == ""
    assert not out.exists()


def test_cli_subprocess_exit_status_for_bad_experiment(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(BAD_FILES["bounds outside"][0])
    out = tmp_path / "results"
    res = subprocess.run(
        [str(DIALOGUE_SIM), "sweep", str(path), "--out", str(out)], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert res.returncode != 0
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert str(path) in lines[0] and "design.params.turnover" in lines[0]
    assert not out.exists()
    assert not (tmp_path / "results").exists()


TABLE_MISSING_COLUMN = BASE + '[design]\nkind = "table"\nrows = [{ turnover = 0.1, handover = 0.2 }, { turnover = 0.3 }]\n'


def test_table_row_missing_a_column_is_an_input_error(tmp_path):
    path = tmp_path / "table.toml"
    path.write_text(TABLE_MISSING_COLUMN)
    with pytest.raises(InputError) as ei:
        load_experiment(path)
    msg = str(ei.value)
    assert msg.startswith(f"{path}: design.rows[1]")
    assert "handover" in msg


def test_cli_refuses_table_row_missing_a_column(tmp_path, capsys):
    path = tmp_path / "table.toml"
    path.write_text(TABLE_MISSING_COLUMN)
    out = tmp_path / "results"
    try:
        status = main(["sweep", str(path), "--out", str(out), "--workers", "1"])
    except Exception as e:  # a crash (not an InputError) is the failure this test reports
        pytest.fail(f"dialogue-sim sweep crashed instead of a one-line error: {type(e).__name__}: {e}")
    assert status == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and str(path) in lines[0]
    assert not out.exists()


def test_scenario_path_relative_to_the_experiment_file(tmp_path, monkeypatch):
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "ripe.toml").write_text(RIPE_SCENARIO)
    (folder / "exp.toml").write_text('name = "rel"\nscenarios = ["ripe.toml"]\nrounds = 10\n')
    monkeypatch.chdir(tmp_path)
    exp = load_experiment(folder / "exp.toml")
    assert exp.setup(0, 0, 0).scenario.name == "ripe"
    assert exp.setup(0, 0, 0).rounds == 10

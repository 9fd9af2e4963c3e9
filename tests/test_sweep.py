"""Sweeps: outcomes and seeds in the runs table, executors, resume after kill -9, failures,
progress lines and the layout of the results folder."""

from __future__ import annotations

import io
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import mesa
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from pandas.testing import assert_frame_equal

import sim.batch.executors
from sim import DialogueModel
from sim.batch.executors import run_chunk
from sim.batch.experiment import Arm, Experiment, chunks, load_experiment
from sim.batch.processes import keep_heap
from sim.batch.store import ResultStore, read_runs, read_timeseries
from sim.batch.sweep import Progress, run_sweep
from sim.cli import main
from sim.scenarios import InputError

from .conftest import DIALOGUE_SIM, FORK_SERVER_CHILDREN, RIPE_SCENARIO

ARMS = [
    Arm("keep"),
    Arm("wind", events=[{"round": 3, "kind": "channel_close"}, {"round": 10, "kind": "channel_reopen"}]),
]


@pytest.fixture(scope="module")
def ripe_path(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("scenarios") / "ripe.toml"
    p.write_text(RIPE_SCENARIO)
    return p


def make_exp(ripe_path: Path, **kw) -> Experiment:
    """2 scenarios × 4 points × 2 arms × 3 replications = 48 runs of 20 rounds, chunks of 5."""
    base = dict(
        name="tiny",
        scenarios=[str(ripe_path), "lean-years"],
        seed=42,
        replications=3,
        rounds=20,
        arms=ARMS,
        design="grid",
        design_params={"turnover": [0.05, 0.4], "handover": [0.0, 1.0]},
        chunk_size=5,
        every=6,
        timeseries=["agreement", "progress", "trust", "cost"],
    )
    return Experiment(**(base | kw))


@pytest.fixture(scope="module")
def serial(ripe_path, tmp_path_factory):
    """The reference: the tiny experiment swept serially."""
    exp = make_exp(ripe_path)
    out = tmp_path_factory.mktemp("serial") / "out"
    summary = run_sweep(exp, out, workers=1, progress=False)
    return exp, out, summary


def expected_seed(seed: int, point: int, replication: int) -> int:
    ss = np.random.SeedSequence(seed, spawn_key=(point, replication))
    return int(ss.generate_state(1, np.uint64)[0] >> 1)


# ---------------------------------------------------------------- seeds and outcomes


def test_runs_table_seeds_follow_the_rule_and_are_paired(serial):
    exp, out, _ = serial
    df = read_runs(out)
    assert (df["seed"] == [expected_seed(exp.seed, p, r) for p, r in zip(df["point"], df["replication"], strict=True)]).all()
    # paired: every arm and scenario of a (point, replication) has the same seed ...
    per_pr = df.groupby(["point", "replication"])["seed"].nunique()
    assert (per_pr == 1).all()
    assert len(per_pr) == 4 * 3
    # ... and different (point, replication) have different seeds
    assert df.groupby(["point", "replication"])["seed"].first().is_unique
    keep = df[df["arm"] == "keep"].set_index(["scenario", "point", "replication"])["seed"]
    wind = df[df["arm"] == "wind"].set_index(["scenario", "point", "replication"])["seed"]
    assert len(keep) == len(wind) == 24
    pd.testing.assert_series_equal(keep.sort_index(), wind.sort_index())


def test_sweep_outcomes_equal_dialogue_model_runs(serial):
    exp, out, _ = serial
    df = read_runs(out)
    ts = read_timeseries(out)
    assert df["agreement"].any() and not df["agreement"].all()  # the check sees both kinds of run
    for row in df.itertuples():
        s, p, a, r = exp.run_index(row.run_id)
        assert (exp.scenarios[s], exp.arms[a].name, p, r) == (row.scenario, row.arm, row.point, row.replication)
        setup = exp.setup(s, p, a)
        model = DialogueModel(setup.scenario, rounds=exp.rounds, overrides=exp.overrides(p, exp.arms[a]), rng=row.seed)
        model.run_for(exp.rounds)
        got = int(model.state.agreement_round[0])
        assert bool(model.state.agreed[0]) == row.agreement, row.run_id
        if got < 0:
            assert pd.isna(row.agreement_round), row.run_id
        else:
            assert row.agreement_round == got, row.run_id
        assert row.cost == pytest.approx(float(model.state.cost[0]), rel=1e-12, abs=1e-12)
        # the kept rounds of the time series are the model's rounds
        mdf = model.datacollector.get_model_vars_dataframe()
        mine = ts[ts["run_id"] == row.run_id]
        for m in exp.timeseries:
            np.testing.assert_allclose(
                mine[m].to_numpy(),
                mdf[m].to_numpy(dtype=float)[mine["round"].to_numpy()],
                rtol=1e-9,
                atol=1e-12,
                err_msg=f"run {row.run_id} {m}",
            )


def test_run_chunk_alone_matches_run_chunk_in_a_batch(ripe_path):
    """The retry path of run_chunk (each run alone) gives the batch's results."""
    exp = make_exp(ripe_path)
    whole, whole_ts = run_chunk(exp, range(5))
    assert whole.column("run_id").to_pylist() == [0, 1, 2, 3, 4]
    wdf, wts = whole.to_pandas(), whole_ts.to_pandas()
    for rid in range(5):
        one, one_ts = run_chunk(exp, [rid])
        assert_frame_equal(one.to_pandas(), wdf[wdf["run_id"] == rid].reset_index(drop=True), rtol=1e-12, atol=1e-12)
        assert_frame_equal(one_ts.to_pandas(), wts[wts["run_id"] == rid].reset_index(drop=True), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- executors


def test_local_processes_match_serial(serial, tmp_path):
    exp, ref, _ = serial
    out = tmp_path / "procs"
    summary = run_sweep(exp, out, workers=2, progress=False)
    assert summary["executor"] == "processes:2"
    assert summary["completed"] == exp.n_runs
    assert_frame_equal(read_runs(out), read_runs(ref), check_exact=True)
    assert_frame_equal(read_timeseries(out), read_timeseries(ref), check_exact=True)


def probe_workers(tmp_path, module: str, expr: str) -> tuple[list[str], list[str]]:
    """A 4-run sweep with 2 local workers in a fresh interpreter (``m`` is ``module``), each worker
    writing ``expr`` when a chunk starts: (what the driver prints — the runs completed, the executor
    and ``expr`` in the driver afterwards — and what the workers wrote)."""
    f = tmp_path / "t.toml"
    f.write_text('name = "t"\nseed = 1\nreplications = 4\nrounds = 45\nscenarios = ["leadership-change"]\nchunk_size = 1\n')
    code = (
        f"import sim.batch.executors as ex\nimport {module} as m\n"
        "from sim.batch.experiment import load_experiment\nfrom sim.batch.sweep import run_sweep\n"
        "real = ex._worker_chunk\n"
        "def probe(cid, ids):\n"
        f"    open({str(tmp_path / 'seen')!r}, 'a').write(str({expr}) + chr(10))\n"
        "    return real(cid, ids)\n"
        "ex._worker_chunk = probe\n"
        f"s = run_sweep(load_experiment({str(f)!r}), {str(tmp_path / 'out')!r}, workers=2, progress=False)\n"
        f"print(s['completed'], s['executor'], {expr})\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return p.stdout.split(), (tmp_path / "seen").read_text().split()


def test_forked_workers_inherit_the_compiled_rules(tmp_path):
    """A single-threaded driver compiles (or loads) numba's loops once before forking local workers
    (``executors.warm_up``), so each worker starts with them instead of loading or compiling its own.
    A fresh interpreter, so that nothing was compiled before the sweep; each worker notes whether
    the position flow's compiled loop was already there when its first chunk started."""
    printed, seen = probe_workers(tmp_path, "sim.core.rules", "m.flow_round.loaded()")
    assert printed == ["4", "processes:2", "True"], printed
    assert seen == ["True"] * 4


def test_no_process_outlives_a_sweep_from_a_threaded_driver(tmp_path):
    """A driver with other Python threads (the explorer, a notebook) gets forkserver workers; when
    the sweep returns, the fork server is stopped too (no fork server left among its children)."""
    f = tmp_path / "t.toml"
    f.write_text(
        'name = "t"\nseed = 1\nreplications = 2\nrounds = 45\nscenarios = ["leadership-change"]\nchunk_size = 1\n'
        '[design]\nkind = "grid"\n[design.params]\nturnover = [0.05, 0.3]\n'
    )
    code = (
        "import os, threading\nfrom sim.batch.experiment import load_experiment\nfrom sim.batch.sweep import run_sweep\n"
        "threading.Thread(target=threading.Event().wait, daemon=True).start()  # a second thread: forkserver\n"
        f"s = run_sweep(load_experiment({str(f)!r}), {str(tmp_path / 'out')!r}, workers=2, progress=False)\n"
        + FORK_SERVER_CHILDREN
        + "print(s['completed'], len(kids))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert p.stdout.strip().splitlines()[-1] == "4 0"


def test_dask_local_cluster_matches_serial(serial, tmp_path):
    distributed = pytest.importorskip("distributed")
    exp, ref, _ = serial
    out = tmp_path / "dask"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None) as cluster:
        summary = run_sweep(exp, out, scheduler=cluster.scheduler_address, progress=False)
        with distributed.Client(cluster) as client:
            kept = client.run(keep_heap.cache_info)  # the chunks ran through _on_dask_worker, which fixes malloc
    assert summary["executor"].startswith("dask:tcp://127.0.0.1")
    assert sorted(k.currsize for k in kept.values()) == [1, 1], kept
    assert summary["completed"] == exp.n_runs
    assert_frame_equal(read_runs(out), read_runs(ref), check_exact=True)
    assert_frame_equal(read_timeseries(out), read_timeseries(ref), check_exact=True)


# ---------------------------------------------------------------- resume

BIG_EXPERIMENT = """
name = "kill-me"
seed = 3
replications = 1000
scenarios = ["lean-years"]
chunk_size = 10
[[arms]]
name = "open"
[output]
timeseries = ["trust", "cost"]
every = 10
"""


def parts(out: Path) -> list[Path]:
    return sorted((out / "runs").glob("part-*.parquet"))


def checked_parts(out: Path) -> list[Path]:
    """Runs parts whose checksum sidecar is written: their chunks are complete."""
    return sorted((out / "runs").glob(".part-*.parquet.check"))


def test_resume_after_kill_9_equals_uninterrupted_sweep(tmp_path):
    path = tmp_path / "big.toml"
    path.write_text(BIG_EXPERIMENT)
    exp = load_experiment(path)
    n_chunks = len(list(chunks(exp)))
    assert n_chunks == 100
    out = tmp_path / "interrupted"
    cmd = [str(DIALOGUE_SIM), "sweep", str(path), "--out", str(out), "--workers", "1"]
    with open(tmp_path / "first.log", "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=log, cwd=tmp_path)
        try:
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                if (out / "runs").is_dir() and checked_parts(out):
                    os.kill(proc.pid, signal.SIGKILL)
                    break
                time.sleep(0.002)
        finally:
            if proc.poll() is None and time.monotonic() >= deadline:
                proc.kill()
            proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, (tmp_path / "first.log").read_text()
    n_done = len(checked_parts(out))
    assert 0 < n_done < n_chunks, "the sweep was not interrupted part-way: make BIG_EXPERIMENT bigger"

    res = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert res.returncode == 0, res.stderr
    assert f"done: {exp.n_runs}/{exp.n_runs} runs, 0 failed" in res.stdout
    assert len(parts(out)) == n_chunks
    assert not list(out.rglob("*.tmp"))

    ref = tmp_path / "uninterrupted"
    run_sweep(exp, ref, workers=1, progress=False)
    got = read_runs(out)
    assert got["run_id"].tolist() == list(range(exp.n_runs))  # none missing, none duplicated
    assert_frame_equal(got, read_runs(ref), check_exact=True)
    assert_frame_equal(read_timeseries(out), read_timeseries(ref), check_exact=True)
    sessions = json.loads((out / "manifest.json").read_text())["sessions"]
    assert len(sessions) == 1  # the killed session never finished
    assert sessions[0]["resumed_from"] >= 10 * n_done
    assert sessions[0]["resumed_from"] + sessions[0]["runs_this_session"] == exp.n_runs


def test_resume_of_a_complete_sweep_runs_nothing(serial, tmp_path):
    exp, ref, _ = serial
    out = tmp_path / "again"
    run_sweep(exp, out, workers=1, progress=False)
    before = read_runs(out)
    summary = run_sweep(exp, out, workers=1, resume=True, progress=False)
    assert summary["runs_this_session"] == 0
    assert summary["resumed_from"] == summary["completed"] == exp.n_runs
    assert_frame_equal(read_runs(out), before, check_exact=True)
    assert len(json.loads((out / "manifest.json").read_text())["sessions"]) == 2


def test_resume_reruns_missing_chunks_only(serial, tmp_path):
    exp, ref, _ = serial
    out = tmp_path / "partial"
    run_sweep(exp, out, workers=1, progress=False)
    (out / "runs" / "part-000002.parquet").unlink()
    (out / "runs" / ".part-000004.parquet.tmp").write_bytes(b"half a file")
    rerun: list[int] = []
    summary = run_sweep(exp, out, workers=1, resume=True, progress=False, on_chunk=rerun.append)
    assert rerun == [2]
    assert summary["runs_this_session"] == 5
    assert not list(out.rglob("*.tmp"))
    assert_frame_equal(read_runs(out), read_runs(ref), check_exact=True)
    assert_frame_equal(read_timeseries(out), read_timeseries(ref), check_exact=True)


def test_a_killed_writer_leaves_nothing_a_plain_parquet_reader_trips_on(serial, tmp_path, monkeypatch):
    """A SIGKILL mid-write leaves the part's temporary file. Its name is hidden, so
    ``pd.read_parquet(folder)`` (pyarrow skips names starting with '.' or '_') still reads the
    complete parts; a visible ``part-N.parquet.tmp`` made it fail."""
    import sim.batch.store as store

    exp, ref, _ = serial
    out = tmp_path / "out"
    written: list[Path] = []
    real = store._write_table
    monkeypatch.setattr(store, "_write_table", lambda table, path: (written.append(path), real(table, path)))
    run_sweep(exp, out, workers=1, progress=False)
    assert written and all(p.name.startswith(".") and p.name.endswith(".tmp") for p in written)
    for p in written[:2]:  # what a kill inside a write leaves: the runs and time-series temporaries
        p.write_bytes(b"PAR1 half a file")
    assert len(pd.read_parquet(out / "runs")) == exp.n_runs
    assert len(pd.read_parquet(out / "timeseries")) == len(read_timeseries(ref))


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


SMALL_EXPERIMENT = 'name = "{name}"\nseed = {seed}\nreplications = 4\nrounds = 12\nscenarios = ["lean-years"]\nchunk_size = 3\n'


def _snapshot(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_resume_into_folder_of_another_experiment_is_refused(tmp_path, capsys):
    a = _write(tmp_path, "a.toml", SMALL_EXPERIMENT.format(name="a", seed=1))
    b = _write(tmp_path, "b.toml", SMALL_EXPERIMENT.format(name="a", seed=2))  # same name, other seed
    out = tmp_path / "out"
    assert main(["sweep", str(a), "--out", str(out), "--workers", "1"]) == 0
    capsys.readouterr()
    before = _snapshot(out)
    assert main(["sweep", str(b), "--out", str(out), "--workers", "1", "--resume"]) == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("dialogue-sim: error")]
    assert len(lines) == 1, err
    assert "--resume" in lines[0] and "manifest.json" in lines[0]
    assert "seed = 1 then, 2 now" in lines[0]  # the field that differs, by name
    assert _snapshot(out) == before


def test_resume_after_the_model_code_changed_is_refused(tmp_path, capsys, monkeypatch):
    """A ``git pull`` (or an edited rule) between the interrupt and the resume would mix runs of
    two models in one table: the fingerprint holds the model's code, and the refusal names it."""
    import sim.version

    a = _write(tmp_path, "a.toml", SMALL_EXPERIMENT.format(name="a", seed=1))
    out = tmp_path / "out"
    assert main(["sweep", str(a), "--out", str(out), "--workers", "1"]) == 0
    capsys.readouterr()
    before = _snapshot(out)
    monkeypatch.setattr(sim.version, "model_code", lambda root=None: "0123456789abcdef")
    assert main(["sweep", str(a), "--out", str(out), "--workers", "1", "--resume"]) == 2
    err = capsys.readouterr().err
    assert "the model's code changed" in err and "0123456789abcdef now" in err, err
    assert _snapshot(out) == before


class TestModelCode:
    """What the model code's hash sees: code, under the sources that make runs; not docstrings,
    comments or layout, and not the analysis."""

    @pytest.fixture
    def tree(self, tmp_path):
        root = tmp_path / "sim"
        for rel in ("core/rules.py", "scenarios/loader.py", "batch/ensemble.py", "analysis/report.py"):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text('"""Doc."""\n\ndef f(x):\n    """Doc."""\n    return x + 1  # note\n')
        return root

    def digest(self, root: Path) -> str:
        from sim.version import model_code

        model_code.cache_clear()
        return model_code(root)

    def test_a_changed_rule_changes_it(self, tree):
        before = self.digest(tree)
        (tree / "core/rules.py").write_text('"""Doc."""\n\ndef f(x):\n    """Doc."""\n    return x + 2  # note\n')
        assert self.digest(tree) != before

    def test_docstrings_comments_and_layout_do_not(self, tree):
        before = self.digest(tree)
        (tree / "core/rules.py").write_text('"""Other."""\n\n\ndef f(x):\n    """Other."""\n\n    return x + 1\n')
        assert self.digest(tree) == before

    def test_the_analysis_does_not(self, tree):
        before = self.digest(tree)
        (tree / "analysis/report.py").write_text("def g():\n    return 3\n")
        assert self.digest(tree) == before

    def test_the_installed_package_has_a_hash(self):
        from sim.version import model_code

        assert re.fullmatch(r"[0-9a-f]{16}", model_code())


def test_second_sweep_without_resume_is_refused(tmp_path):
    a = _write(tmp_path, "a.toml", SMALL_EXPERIMENT.format(name="a", seed=1))
    out = tmp_path / "out"
    cmd = [str(DIALOGUE_SIM), "sweep", str(a), "--out", str(out), "--workers", "1"]
    first = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert first.returncode == 0, first.stderr
    before = _snapshot(out)
    second = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert second.returncode != 0
    errors = [ln for ln in second.stderr.splitlines() if "error" in ln]
    assert len(errors) == 1, second.stderr
    assert str(out) in errors[0] and "--resume" in errors[0]
    assert "Traceback" not in second.stderr
    assert _snapshot(out) == before


# ---------------------------------------------------------------- failures


def test_failing_run_is_recorded_and_the_others_complete(serial, tmp_path, monkeypatch):
    exp, ref, _ = serial
    bad_run = 10  # the first run of chunk 2 (runs 10..14)
    bad_seed = exp.seed_of(exp.run_index(bad_run)[1], exp.run_index(bad_run)[3])
    s, p, a, _ = exp.run_index(bad_run)
    bad_setup = exp.setup(s, p, a)
    assert exp.arms[a].name == "wind" and exp.scenarios[s].endswith("ripe.toml")
    real = sim.batch.executors._simulate

    def flaky(exp_, setups, seeds):
        # the run crashes whenever it is simulated, in a batch or alone; runs sharing its
        # seed (the other arm, the other scenario) are fine
        if any(sd == bad_seed and st == bad_setup for st, sd in zip(setups, seeds, strict=True)):
            raise RuntimeError(f"boom in run with seed {bad_seed}")
        return real(exp_, setups, seeds)

    monkeypatch.setattr(sim.batch.executors, "_simulate", flaky)
    out = tmp_path / "failing"
    summary = run_sweep(exp, out, workers=1, progress=False)
    assert summary["failed"] == 1
    assert summary["failed_this_session"] == 1
    assert summary["completed"] == exp.n_runs
    df = read_runs(out)
    assert len(df) == exp.n_runs
    bad = df[df["run_id"] == bad_run].iloc[0]
    assert bad["status"] == "error"
    assert isinstance(bad["error"], str) and "boom in run" in bad["error"]
    for k in ("agreement", "agreement_round", "cost", "meetings", "final_trust"):
        assert pd.isna(bad[k]), k
    good = df[df["run_id"] != bad_run]
    assert (df["seed"] == bad_seed).sum() == 4  # both arms × both scenarios share the seed; only one fails
    assert (good["status"] == "ok").all()
    assert good["error"].isna().all()
    want = read_runs(ref)
    want = want[want["run_id"] != bad_run]
    # the chunk-mates of the failing run were retried alone: the same results (to rounding)
    assert_frame_equal(good.reset_index(drop=True), want.reset_index(drop=True), check_dtype=False, rtol=1e-12, atol=1e-12)
    ts = read_timeseries(out)
    assert bad_run not in set(ts["run_id"])
    ref_ts = read_timeseries(ref)
    assert_frame_equal(ts, ref_ts[ref_ts["run_id"] != bad_run].reset_index(drop=True), rtol=1e-12, atol=1e-12)
    session = json.loads((out / "manifest.json").read_text())["sessions"][-1]
    assert session["failed_this_session"] == 1


# ---------------------------------------------------------------- progress

LINE = re.compile(r"(\d+)/(\d+) runs .*?([\d.]+) runs/s, ETA (\S+)")


def test_progress_prints_plain_lines_on_a_non_tty():
    stream = io.StringIO()
    bar = Progress(total=10, done=0, stream=stream, interval=0.0)
    assert bar.bar is None
    for n in (3, 3, 4):
        bar.update(n)
    bar.close()
    text = stream.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert len(lines) == 3
    found = [LINE.search(ln) for ln in lines]
    assert all(found), lines
    assert [(int(m[1]), int(m[2])) for m in found] == [(3, 10), (6, 10), (10, 10)]
    assert all(m[4] == "?" or re.fullmatch(r"\d+s", m[4]) for m in found)
    assert found[-1][4] == "0s"


def test_progress_of_a_resumed_sweep_counts_from_the_done_runs():
    stream = io.StringIO()
    bar = Progress(total=20, done=12, stream=stream, interval=0.0)
    bar.update(8)
    m = LINE.search(stream.getvalue())
    assert m and (int(m[1]), int(m[2])) == (20, 20)
    assert bar.rate() > 0


def test_run_sweep_reports_progress_on_stderr(ripe_path, tmp_path, capsys):
    exp = make_exp(ripe_path, replications=1)
    run_sweep(exp, tmp_path / "out", workers=1, progress=True)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines
    last = LINE.search(lines[-1])
    assert last and (int(last[1]), int(last[2])) == (exp.n_runs, exp.n_runs)


# ---------------------------------------------------------------- the results folder


def test_manifest(serial):
    exp, out, summary = serial
    m = json.loads((out / "manifest.json").read_text())
    assert m["experiment"] == exp.spec()
    assert m["experiment"]["design_params"] == {"turnover": [0.05, 0.4], "handover": [0.0, 1.0]}
    assert m["experiment"]["arms"][1]["events"] == ARMS[1].events
    assert m["fingerprint"] == exp.fingerprint()
    assert m["n_runs"] == exp.n_runs == 48
    assert m["n_chunks"] == len(list(chunks(exp)))
    assert "SeedSequence" in m["seeds"] and "spawn_key=(point, replication)" in m["seeds"]
    v = m["versions"]
    assert v["numpy"] == np.__version__
    assert v["mesa"] == mesa.__version__
    assert v["python"] == platform.python_version()
    sessions = m["sessions"]
    assert len(sessions) == 1
    assert sessions[0]["executor"] == "serial"
    assert sessions[0]["runs_this_session"] == exp.n_runs
    assert isinstance(sessions[0]["elapsed_s"], (int, float)) and sessions[0]["elapsed_s"] >= 0
    assert summary["elapsed_s"] == sessions[0]["elapsed_s"]


def test_runs_table_one_row_per_run(serial):
    exp, out, summary = serial
    df = read_runs(out)
    assert df["run_id"].tolist() == list(range(exp.n_runs))
    for col in (
        "scenario",
        "arm",
        "point",
        "replication",
        "seed",
        "turnover",
        "handover",
        "status",
        "error",
        "agreement",
        "agreement_round",
        "cost",
    ):
        assert col in df.columns, col
    assert (df["status"] == "ok").all()
    assert summary["failed"] == 0 and summary["completed"] == exp.n_runs
    for row in df.itertuples():
        s, p, a, r = exp.run_index(row.run_id)
        assert row.scenario == exp.scenarios[s]
        assert row.arm == exp.arms[a].name
        assert (row.turnover, row.handover) == tuple(exp.points[p])
        assert row.replication == r
    assert set(df["arm"]) == {"keep", "wind"}
    assert len(parts(out)) == len(list(chunks(exp)))
    for part, (_, ids) in zip(parts(out), chunks(exp), strict=True):
        assert pq.read_table(part, columns=["run_id"]).column("run_id").to_pylist() == list(ids)


@pytest.mark.parametrize(("rounds", "every"), [(20, 6), (20, 5), (20, 1), (20, 50)])
def test_timeseries_thinned_to_every_and_the_last_round(ripe_path, tmp_path, rounds, every):
    exp = make_exp(ripe_path, rounds=rounds, every=every, replications=1, scenarios=["lean-years"])
    out = tmp_path / "out"
    run_sweep(exp, out, workers=1, progress=False)
    ts = read_timeseries(out)
    assert list(ts.columns) == ["run_id", "round", *exp.timeseries]
    want = sorted(set(range(0, rounds + 1, every)) | {rounds})
    assert sorted(set(ts["run_id"])) == list(range(exp.n_runs))
    for _, g in ts.groupby("run_id"):
        assert g["round"].tolist() == want


def test_result_store_refuses_folder_without_manifest(tmp_path, ripe_path):
    exp = make_exp(ripe_path)
    out = tmp_path / "stuff"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="manifest.json"):
        ResultStore(out).open(exp, resume=True, plan=list(chunks(exp)))
    with pytest.raises(InputError, match="--resume"):
        ResultStore(out).open(exp, resume=False, plan=list(chunks(exp)))
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_ctrl_c_stops_the_workers_at_once(tmp_path):
    """Ctrl-C (here: KeyboardInterrupt in the driver after the first chunk) terminates the local
    workers instead of waiting for the chunks already queued to them, which then went on to finish
    and write their parts (measured: 218 s after Ctrl-C with 100,000-run chunks; a second Ctrl-C
    during that wait hung the sweep). At most one chunk can finish in the instant between."""
    from sim.batch.store import read_runs

    from .conftest import small_experiment

    exp = small_experiment(replications=60, chunk_size=48)  # 960 runs, 20 chunks
    seen: list[int] = []

    def stop(cid: int) -> None:
        seen.append(cid)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(exp, tmp_path / "cut", workers=2, progress=False, on_chunk=stop)
    parts = sorted((tmp_path / "cut" / "runs").glob("part-*.parquet"))
    assert len(seen) == 1 and 1 <= len(parts) <= 2, parts  # without stopping the workers: 4-5 parts
    again = run_sweep(exp, tmp_path / "cut", workers=2, progress=False, resume=True)
    assert again["completed"] == exp.n_runs and len(read_runs(tmp_path / "cut")) == exp.n_runs


def test_no_more_workers_than_chunks():
    """--workers 300 for a 4-chunk sweep forked 300 processes (bad-input audit): capped at the chunks."""
    from sim.batch.executors import LocalProcessExecutor, make_executor

    ex = make_executor(300, None, 4)
    assert isinstance(ex, LocalProcessExecutor) and ex.workers == 4


# ---------------------------------------------------------------- malloc in workers

HEAP_PROBE = """
import resource, sys, tomllib
from sim.batch.ensemble import simulate
from sim.batch.experiment import experiment_from_dict
from sim.batch.processes import keep_heap
from sim.scenarios import EXPERIMENT_DIR
d = tomllib.loads((EXPERIMENT_DIR / "sensitivity.toml").read_text())
d.pop("full")
exp = experiment_from_dict(d, "sensitivity.toml")
idx = [exp.run_index(r) for r in range(1024)]  # one batch of the shipped Sobol sweep's first chunk
setups, seeds = [exp.setup(s, p, a) for s, p, a, _ in idx], [exp.seed_of(p, r) for _, p, _, r in idx]
if sys.argv[1] == "keep":
    assert keep_heap()
simulate(setups[:8], seeds[:8], metrics=exp.timeseries, every=exp.every)  # compiled or loaded before counting
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
simulate(setups, seeds, metrics=exp.timeseries, every=exp.every)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def test_keep_heap_stops_the_page_faults_a_fixed_trim_threshold_causes():
    """With MALLOC_TRIM_THRESHOLD_ set, as Dask's nanny sets it for every worker, glibc maps and
    unmaps each of a round's arrays of about 1 MiB afresh: a batch of 1,024 runs of the Sobol sweep
    takes about 300,000 page faults against about 6,000 (the model at half speed:
    benchmarks/bench_dask.py). keep_heap() keeps them on the heap. Counted in page faults, not time;
    fails if keep_heap does nothing."""
    if not sys.platform.startswith("linux"):
        pytest.skip("glibc's mallopt")
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536", "OPENBLAS_NUM_THREADS": "1"}
    faults = {}
    for how in ("fixed", "keep"):
        p = subprocess.run([sys.executable, "-c", HEAP_PROBE, how], env=env, capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        faults[how] = int(p.stdout.split()[-1])
    assert faults["keep"] * 5 < faults["fixed"], faults


def test_local_workers_keep_the_heap(tmp_path):
    """The process executor's workers call keep_heap() when they start (each notes it on its chunk);
    the driver's malloc is left as it was."""
    printed, seen = probe_workers(tmp_path, "sim.batch.processes", "m.keep_heap.cache_info().currsize")
    assert printed == ["4", "processes:2", "0"], printed
    assert seen == ["1"] * 4

"""Regression tests for issue #14's integrity and process cases: checksummed parts, damaged
parts recomputed on --resume, incomplete sweeps said so, one sweep per folder, workers that
never outlive the driver, and a crash-consistency test (kill at random moments + corrupt a part)."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from sim.batch.experiment import load_experiment
from sim.batch.store import ResultStore, check_part, describe_status, status
from sim.batch.sweep import read_runs, read_timeseries, run_sweep
from sim.cli import main
from sim.scenarios import InputError

from .conftest import DIALOGUE_SIM, RIPE_SCENARIO

#: 16 chunks of 4 short runs: long enough to be killed mid-way, short enough for the suite.
EXPERIMENT = """
name = "crash"
scenarios = ["ripe.toml"]
seed = 11
replications = 8
rounds = 12
chunk_size = 4
[[arms]]
name = "open"
[[arms]]
name = "closed"
channel_open = false
[design]
kind = "grid"
[design.params]
turnover = [0.05, 0.3]
handover = [0.0, 1.0]
[output]
timeseries = ["agreement", "trust"]
"""


@pytest.fixture(scope="module")
def exp_file(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("crash")
    (d / "ripe.toml").write_text(RIPE_SCENARIO)
    (d / "exp.toml").write_text(EXPERIMENT)
    return d / "exp.toml"


@pytest.fixture(scope="module")
def reference(exp_file, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "out"
    run_sweep(load_experiment(exp_file), out, workers=1, progress=False)
    return out


def same_results(a: Path, b: Path) -> None:
    pd.testing.assert_frame_equal(read_runs(a), read_runs(b))
    pd.testing.assert_frame_equal(read_timeseries(a), read_timeseries(b))


def children(pid: int) -> set[int]:
    out = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out |= {int(x) for x in (task / "children").read_text().split()}
    return out


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pids: set[int], timeout: float = 10.0) -> set[int]:
    end = time.monotonic() + timeout
    while time.monotonic() < end and any(alive(p) for p in pids):
        time.sleep(0.1)
    return {p for p in pids if alive(p)}


def start_sweep(exp_file: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(DIALOGUE_SIM), "sweep", str(exp_file), "--out", str(out), "--workers", "2", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def parts(out: Path, folder: str = "runs") -> list[Path]:
    return sorted((out / folder).glob("part-*.parquet"))


def wait_parts(out: Path, n: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end and len(parts(out)) < n and proc.poll() is None:
        time.sleep(0.02)


class TestChecksums:
    def test_every_part_has_a_sidecar_that_matches(self, reference):
        for folder in ("runs", "timeseries"):
            ps = parts(reference, folder)
            assert ps
            for p in ps:
                assert check_part(p) is None
                assert ResultStore.sidecar(p).is_file()

    @pytest.mark.parametrize("damage", ["truncate", "flip", "delete-ts", "no-sidecar"])
    def test_damaged_part_detected_and_recomputed_on_resume(self, exp_file, reference, tmp_path, capsys, damage):
        out = tmp_path / "out"
        run_sweep(load_experiment(exp_file), out, workers=1, progress=False)
        p = parts(out)[3]
        if damage == "truncate":
            p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
        elif damage == "empty":
            p.write_bytes(b"")
        elif damage == "flip":
            data = bytearray(p.read_bytes())
            data[len(data) // 2] ^= 0xFF
            p.write_bytes(bytes(data))
        elif damage == "delete-ts":
            (out / "timeseries" / p.name).unlink()
        else:
            ResultStore.sidecar(p).unlink()
        assert check_part(p) is not None or damage == "delete-ts"
        st = status(out)
        if damage == "no-sidecar":  # whole but unverifiable: read, yet recomputed by --resume
            assert st["damaged"] == [] and st["runs"] == st["n_runs"]
            assert main(["sweep", str(exp_file), "--out", str(out), "--resume", "--workers", "1"]) == 0
            assert "chunks 3" in capsys.readouterr().err
            same_results(out, reference)
            return
        assert st["damaged"] == [3] and st["runs"] == st["n_runs"] - 4
        line = describe_status(st)
        assert line is not None and f"{st['n_runs'] - 4} of {st['n_runs']} runs" in line and "chunk 3" in line
        # report/plot read only complete chunks: never a crash on a damaged part
        assert len(read_runs(out)) == st["n_runs"] - 4
        rc = main(["sweep", str(exp_file), "--out", str(out), "--resume", "--workers", "1"])
        err = capsys.readouterr().err
        assert rc == 0 and "recomputed" in err and "chunks 3" in err
        same_results(out, reference)


class TestIncompleteSweepIsSaidSo:
    def test_report_and_plot_say_how_many_runs_are_missing(self, exp_file, tmp_path, capsys):
        out = tmp_path / "out"
        exp = load_experiment(exp_file)

        class Stop(Exception):
            pass

        def stop_after(cid: int) -> None:
            if cid >= 5:
                raise Stop

        with pytest.raises(Stop):
            run_sweep(exp, out, workers=1, progress=False, on_chunk=stop_after)
        st = status(out)
        assert st["runs"] == 24 and st["n_runs"] == exp.n_runs and len(st["missing"]) == st["n_chunks"] - 6
        assert main(["plot", str(out), "--out", str(tmp_path / "figs")]) == 0
        err = capsys.readouterr().err
        assert f"incomplete: 24 of {exp.n_runs} runs" in err and "--resume" in err
        assert main(["report", str(out), "--no-cases"]) == 0
        err = capsys.readouterr().err
        assert f"incomplete: 24 of {exp.n_runs} runs" in err
        assert f"incomplete: 24 of {exp.n_runs} runs" in (out / "report.html").read_text()


def damage(out: Path, how: str, cid: int = 3) -> None:
    """Damage chunk ``cid`` of a results folder: truncate its runs part, delete its time-series
    part, or lose both parts and their sidecars (a chunk gone without a trace)."""
    p = out / "runs" / f"part-{cid:06d}.parquet"
    if how == "truncate":
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    elif how == "delete-ts":
        (out / "timeseries" / p.name).unlink()
    else:
        for d in ("runs", "timeseries"):
            for f in (out / d / p.name, ResultStore.sidecar(out / d / p.name)):
                f.unlink()


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
class TestReportAndPlotRecomputeDamagedParts:
    """``report`` and ``plot`` recompute damaged or lost parts first (through the sweep's resume
    path, in the command; the report itself runs no simulation), say which, and give what an
    undamaged folder gives."""

    @pytest.fixture
    def damaged(self, exp_file, reference, tmp_path) -> Path:
        import shutil

        out = tmp_path / "out"
        shutil.copytree(reference, out)
        return out

    @pytest.mark.parametrize("how", ["truncate", "delete-ts", "lost"])
    def test_every_kind_of_damage_is_recomputed(self, damaged, reference, how):
        from sim.batch.sweep import repair

        damage(damaged, how)
        assert status(damaged)["runs"] == status(damaged)["n_runs"] - 4
        assert repair(damaged, workers=1) == [3]
        same_results(damaged, reference)
        assert repair(damaged, workers=1) == []  # nothing left to do

    def test_report_recomputes_and_says_so(self, damaged, reference, capsys):
        damage(damaged, "truncate")
        assert main(["report", str(damaged), "--no-cases"]) == 0
        err = capsys.readouterr().err
        assert "recomputed 1 damaged or lost chunk(s)" in err and "(chunks 3)" in err, err
        assert "incomplete" not in err and "Traceback" not in err
        same_results(damaged, reference)
        st = status(damaged)
        assert st["damaged"] == st["missing"] == [] and st["runs"] == st["n_runs"]
        assert "incomplete" not in (damaged / "report.html").read_text()

    def test_plot_recomputes_and_draws_what_the_undamaged_folder_draws(self, damaged, reference, tmp_path, capsys):
        damage(damaged, "truncate", cid=5)
        damage(damaged, "delete-ts", cid=9)
        args = ["--metric", "agreement", "--no-svg", "--workers", "1"]
        assert main(["plot", str(damaged), *args, "--out", str(tmp_path / "fixed")]) == 0
        err = capsys.readouterr().err
        assert "recomputed 2 damaged or lost chunk(s)" in err and "(chunks 5, 9)" in err, err
        assert main(["plot", str(reference), *args, "--out", str(tmp_path / "ref")]) == 0
        assert "recomputed" not in capsys.readouterr().err
        names = sorted(p.name for p in (tmp_path / "ref").glob("*.png"))
        assert names
        for n in names:
            assert (tmp_path / "fixed" / n).read_bytes() == (tmp_path / "ref" / n).read_bytes(), n
        same_results(damaged, reference)

    def test_no_repair_only_says_which_parts(self, damaged, reference, tmp_path, capsys):
        damage(damaged, "truncate")
        assert main(["plot", str(damaged), "--no-repair", "--metric", "agreement", "--no-svg", "--out", str(tmp_path / "f")]) == 0
        err = capsys.readouterr().err
        assert "recomputed" not in err and "1 damaged part(s) left out (chunk 3)" in err
        assert status(damaged)["damaged"] == [3]

    def test_runs_never_run_by_an_interrupted_sweep_are_left_to_resume(self, exp_file, tmp_path, capsys):
        out = tmp_path / "out"

        def stop_after(cid: int) -> None:
            if cid >= 5:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            run_sweep(load_experiment(exp_file), out, workers=1, progress=False, on_chunk=stop_after)
        damage(out, "truncate", cid=2)
        assert main(["plot", str(out), "--metric", "agreement", "--no-svg", "--out", str(tmp_path / "f")]) == 0
        err = capsys.readouterr().err
        assert "recomputed 1 damaged or lost chunk(s)" in err and "(chunks 2)" in err
        st = status(out)
        assert st["runs"] == 24 and st["damaged"] == [] and "incomplete: 24 of" in err and "--resume" in err

    def test_a_changed_experiment_is_not_recomputed_but_said(self, damaged, tmp_path, capsys):
        import json

        damage(damaged, "truncate")
        m = json.loads((damaged / "manifest.json").read_text())
        m["fingerprint"] = "0" * 16
        (damaged / "manifest.json").write_text(json.dumps(m))
        assert main(["plot", str(damaged), "--metric", "agreement", "--no-svg", "--out", str(tmp_path / "f")]) == 0
        err = capsys.readouterr().err
        assert "not recomputed" in err and "differs from the one that made these results" in err
        assert status(damaged)["damaged"] == [3]


class TestOneSweepPerFolder:
    def test_a_second_sweep_into_a_locked_folder_is_refused(self, exp_file, tmp_path):
        out = tmp_path / "out"
        exp = load_experiment(exp_file)
        holder = ResultStore(out)
        from sim.batch.experiment import chunks

        holder.open(exp, False, list(chunks(exp)))
        try:
            with pytest.raises(InputError, match="another sweep"):
                run_sweep(exp, out, workers=1, progress=False, resume=True)
        finally:
            holder.close()
        run_sweep(exp, out, workers=1, progress=False, resume=True)  # free again once released


class TestWorkersNeverOutliveTheDriver:
    def test_kill_9_of_the_driver_ends_its_workers(self, exp_file, tmp_path):
        out = tmp_path / "out"
        proc = start_sweep(exp_file, out)
        try:
            wait_parts(out, 2, proc)
            kids = children(proc.pid)
            assert kids, "no worker processes seen"
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            assert not wait_gone(kids), "workers outlived the driver"
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()

    def test_a_killed_worker_is_one_line_with_a_resume_hint(self, exp_file, reference, tmp_path):
        out = tmp_path / "out"
        proc = start_sweep(exp_file, out)
        try:
            wait_parts(out, 1, proc)
            kids = {k for k in children(proc.pid) if b"resource_tracker" not in _cmdline(k)}  # the pool's workers
            if not kids or proc.poll() is not None:
                pytest.skip("the sweep finished before a worker could be killed")
            os.kill(max(kids), signal.SIGKILL)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
        if proc.returncode == 0:  # only if every chunk was done before the pool saw its worker die
            assert len(parts(out)) == len(parts(reference)), f"a worker died mid-sweep, yet the sweep exited 0 with parts missing: {err}"
            pytest.skip("every chunk was done before the worker died")
        lines = [ln for ln in err.splitlines() if ln.startswith("dialogue-sim:")]
        assert len(lines) == 1, err
        assert "--resume" in lines[0] and "Traceback" not in err


class TestCrashConsistency:
    def test_kill_at_random_moments_and_corrupt_a_part_then_resume_equals_uninterrupted(self, exp_file, reference, tmp_path):
        rng = random.Random(20261129)
        out = tmp_path / "out"
        for attempt in range(3):
            proc = start_sweep(exp_file, out, *(["--resume"] if attempt else []))
            try:
                wait_parts(out, rng.randint(1, 3) + 4 * attempt, proc)
                time.sleep(rng.uniform(0, 0.3))
                kids = children(proc.pid)
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
            finally:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
            assert not wait_gone(kids), "workers outlived the driver"
            done = parts(out)
            if done:  # corrupt one finished part, as a crash mid-write or a bad disk would
                victim = rng.choice(done)
                victim.write_bytes(victim.read_bytes()[: rng.randint(0, victim.stat().st_size - 1)])
        r = subprocess.run(
            [str(DIALOGUE_SIM), "sweep", str(exp_file), "--out", str(out), "--resume", "--workers", "2"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 0, r.stderr
        same_results(out, reference)
        assert status(out)["damaged"] == [] and describe_status(status(out)) is None


def descendants(pid: int) -> set[int]:
    """Every living process below ``pid`` (children, grandchildren, ...)."""
    out, todo = set(), [pid]
    while todo:
        kids = children(todo.pop()) - out
        out |= kids
        todo.extend(kids)
    return {p for p in out if alive(p)}


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.fixture
def no_process_left():
    """Fails the test if it leaves a process behind (multiprocessing's resource tracker, one per
    interpreter and ended with it, is not the test's)."""
    before = descendants(os.getpid())
    yield
    new = {p for p in descendants(os.getpid()) - before if "resource_tracker" not in cmdline(p)}
    left = wait_gone(new, timeout=20)
    assert not left, [cmdline(p) for p in left]


def dask_lines(capsys) -> list[str]:
    return [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("dialogue-sim:")]


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")
class TestDask:
    """Case 14: a worker that Dask restarts continues the sweep; a lost or empty cluster is one
    line with a --resume hint, leaving nothing, or a folder that --resume completes."""

    def test_killed_workers_are_restarted_and_the_sweep_goes_on(self, exp_file, reference, tmp_path, no_process_left):
        distributed = pytest.importorskip("distributed")
        import dask

        out = tmp_path / "out"
        killed: list[int] = []
        # LocalCluster drops a worker that is not back within lost-worker-timeout (15 s): on a
        # loaded machine a restart can take longer, and a real cluster's nanny has no such limit
        with (
            dask.config.set({"distributed.deploy.lost-worker-timeout": "300s"}),
            distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None, silence_logs=50
            ) as cluster,
        ):
            with distributed.Client(cluster) as c:
                first = set(c.run(os.getpid).values())

            def kill_every_worker(cid: int) -> None:
                if not killed:  # after the first chunk, with others in flight: only restarted workers can finish
                    for pid in first:
                        os.kill(pid, signal.SIGKILL)
                    killed.extend(first)

            summary = run_sweep(
                load_experiment(exp_file), out, scheduler=cluster.scheduler_address, progress=False, on_chunk=kill_every_worker
            )
            with distributed.Client(cluster) as c:
                c.wait_for_workers(2, timeout=120)
                now = set(c.run(os.getpid).values())
        assert len(killed) == 2 and now.isdisjoint(first) and len(now) == 2  # both were restarted
        assert summary["completed"] == summary["n_runs"] and summary["runs_this_session"] == summary["n_runs"]
        same_results(out, reference)
        assert status(out)["damaged"] == []

    def test_losing_the_scheduler_mid_sweep_leaves_a_folder_resume_completes(self, exp_file, reference, tmp_path, capsys):
        distributed = pytest.importorskip("distributed")
        from sim.batch.executors import SweepInterrupted

        out = tmp_path / "out"
        cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None)
        try:

            def close_the_cluster(cid: int) -> None:
                if cid == 1:
                    cluster.close()

            with pytest.raises(SweepInterrupted, match="Dask") as ei:
                run_sweep(load_experiment(exp_file), out, scheduler=cluster.scheduler_address, progress=False, on_chunk=close_the_cluster)
        finally:
            cluster.close()
        assert "\n" not in str(ei.value)
        assert 0 < status(out)["runs"] < status(out)["n_runs"]
        assert main(["sweep", str(exp_file), "--out", str(out), "--resume", "--workers", "1"]) == 0
        same_results(out, reference)

    def test_unreachable_scheduler_is_one_line_and_leaves_nothing(self, exp_file, reference, tmp_path, capsys, monkeypatch):
        from sim.batch.executors import DaskExecutor

        monkeypatch.setattr(DaskExecutor, "connect_timeout", 2.0)
        out = tmp_path / "out"
        for address in ("tcp://127.0.0.1:9", "foo"):
            rc = main(["sweep", str(exp_file), "--out", str(out), "--scheduler", address, "--workers", "1"])
            err = dask_lines(capsys)
            assert rc == 1 and len(err) == 1 and "Dask scheduler" in err[0] and address in err[0]
            assert "nothing was written" in err[0] and "--resume" in err[0]
            assert not out.exists()
        assert main(["sweep", str(exp_file), "--out", str(out), "--workers", "1"]) == 0  # a plain re-run is accepted
        same_results(out, reference)

    def test_a_scheduler_without_workers_is_one_line_and_a_resume_is_accepted(self, exp_file, reference, tmp_path, capsys, monkeypatch):
        distributed = pytest.importorskip("distributed")
        from sim.batch.executors import DaskExecutor

        monkeypatch.setattr(DaskExecutor, "wait_for_workers", 1.0)
        out = tmp_path / "out"
        with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=None) as cluster:
            rc = main(["sweep", str(exp_file), "--out", str(out), "--scheduler", cluster.scheduler_address])
        err = dask_lines(capsys)
        assert rc == 1 and len(err) == 1 and "has no workers" in err[0] and "--resume" in err[0]
        assert not out.exists()
        assert main(["sweep", str(exp_file), "--out", str(out), "--resume", "--workers", "1"]) == 0
        same_results(out, reference)


class TestDiskFull:
    """Case 15: a full disk is one line (exit 1, with a --resume hint for a sweep), and leaves no
    half-made folder that neither --resume nor a new sweep accepts."""

    @staticmethod
    def enospc(*args, **kwargs):
        raise OSError(28, "No space left on device", "part.parquet.tmp")

    def test_full_before_the_manifest_leaves_nothing(self, exp_file, tmp_path, capsys, monkeypatch):
        import sim.batch.store as store

        monkeypatch.setattr(store, "manifest", self.enospc)
        out = tmp_path / "out"
        rc = main(["sweep", str(exp_file), "--out", str(out), "--workers", "1"])
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("dialogue-sim:")]
        assert rc == 1 and len(err) == 1 and "No space left on device" in err[0]
        assert sorted(p.name for p in tmp_path.iterdir()) == []

    def test_full_during_the_sweep_is_resumable(self, exp_file, reference, tmp_path, capsys, monkeypatch):
        import sim.batch.store as store

        out = tmp_path / "out"
        calls = {"n": 0}
        real = store._write_table

        def fill_up(table, path):
            calls["n"] += 1
            if calls["n"] > 6:
                self.enospc()
            real(table, path)

        monkeypatch.setattr(store, "_write_table", fill_up)
        rc = main(["sweep", str(exp_file), "--out", str(out), "--workers", "1"])
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("dialogue-sim:")]
        assert rc == 1 and len(err) == 1 and "--resume" in err[0] and "Traceback" not in err[0]
        assert not list(out.rglob("*.tmp"))
        monkeypatch.setattr(store, "_write_table", real)
        assert main(["sweep", str(exp_file), "--out", str(out), "--workers", "1", "--resume"]) == 0
        same_results(out, reference)

    def test_run_on_a_full_disk(self, tmp_path, capsys, monkeypatch):
        import sim.abm.plots as plots

        monkeypatch.setattr(plots, "plot_run", self.enospc)
        rc = main(["run", "lean-years", "--rounds", "3", "--out", str(tmp_path / "r")])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 1 and len(err) == 1 and "No space left on device" in err[0]
        assert list(tmp_path.iterdir()) == []

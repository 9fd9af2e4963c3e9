"""``dialogue-sim plot``: arguments are checked against the manifest before any data is read (the
error names the swept parameters and kept metrics), only the needed columns are read, and
drawing in two processes gives the same figures as in one."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim.analysis.results as results_mod
import sim.batch.store as store
from sim.analysis import curves
from sim.analysis.results import ResultColumns, Results, Table
from sim.cli import main

from .conftest import DIALOGUE_SIM, FORK_SERVER_CHILDREN


@pytest.fixture
def no_data_reads(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("data read before the arguments were checked")

    monkeypatch.setattr(store, "read_parts", refuse)
    monkeypatch.setattr(results_mod, "read_parts", refuse)
    monkeypatch.setattr(results_mod, "read_runs", refuse)
    monkeypatch.setattr(results_mod, "read_timeseries", refuse)


class TestValidationFirst:
    def test_bad_by_lists_the_swept_parameters_without_reading_data(self, small_sweep, tmp_path, capsys, no_data_reads):
        assert main(["plot", str(small_sweep), "--by", "bogus", "--out", str(tmp_path / "f")]) == 2
        err = capsys.readouterr().err
        assert "allowed: arm, scenario or a swept parameter (turnover, handover)" in err
        assert not (tmp_path / "f").exists()

    def test_bad_metric_lists_the_kept_metrics_without_reading_data(self, small_sweep, tmp_path, capsys, no_data_reads):
        assert main(["plot", str(small_sweep), "--metric", "ideas_generated", "--out", str(tmp_path / "f")]) == 2
        assert "allowed: agreement, trust, progress, cost" in capsys.readouterr().err

    def test_the_errors_load_no_data_module(self, small_sweep, tmp_path):
        """A bad argument is refused before pandas, pyarrow, SciPy or matplotlib is imported (what
        makes the error quick), with exit status 2 and one line."""
        code = (
            "import sys\nfrom sim.cli import main\n"
            f"rc = main(['plot', {str(small_sweep)!r}, '--by', 'bogus', '--out', {str(tmp_path / 'f')!r}])\n"
            "heavy = sorted(m for m in ('pandas', 'pyarrow', 'scipy', 'matplotlib') if m in sys.modules)\n"
            "print(rc, heavy)\n"
        )
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert p.stdout.strip() == "2 []"
        assert len(p.stderr.strip().splitlines()) == 1 and "'bogus'" in p.stderr

    def test_bad_workers(self, small_sweep, tmp_path, capsys, no_data_reads):
        assert main(["plot", str(small_sweep), "--workers", "0", "--out", str(tmp_path / "f")]) == 2
        assert "--workers" in capsys.readouterr().err


class TestReading:
    def test_the_numpy_columns_are_pyarrow_and_pandas_values(self, small_sweep):
        """Table.from_arrow (no pandas) gives the values pandas gives: nullable integers as floats
        with NaN, strings as objects, every other column equal."""
        import pyarrow as pa

        for part in ("runs", "timeseries"):
            t = store.read_parts(small_sweep / part)
            t = t.append_column("sliced", pa.chunked_array([pa.array([None, 1, 2], pa.int32()).slice(1)] * (len(t) // 2)))
            t = t.append_column("names", pa.chunked_array([pa.array(["x", None, "y"]).slice(1)] * (len(t) // 2)))
            table, frame = Table.from_arrow(t), t.to_pandas()
            assert table.columns == list(frame.columns) and len(table) == len(frame)
            for c in frame.columns:
                pd.testing.assert_series_equal(pd.Series(table[c], name=c), frame[c], check_dtype=frame[c].dtype.kind != "O")

    def test_only_the_needed_columns_are_read(self, small_sweep):
        res = ResultColumns.load(small_sweep, ["trust"], "turnover")
        assert list(res.ts.columns) == ["run_id", "round", "trust"]
        assert "handover" not in res.runs and "cost" not in res.runs and "turnover" in res.runs

    def test_the_survival_summary_needs_no_time_series(self, small_sweep):
        """The time series are read on first use, so the survival figure (the runs alone) is
        sent to a drawing process while they are read."""
        from sim.analysis.figure_set import summary

        res = ResultColumns.load(small_sweep, ["trust"], "arm")
        assert res._ts is None
        summary(res, ("survival", ""))
        assert res._ts is None
        assert len(res.ts) > 0 and res._ts is res.ts  # read once

    def test_dense_view_matches_the_long_table(self, small_sweep):
        res = Results.load(small_sweep)
        ids = res.runs["run_id"].to_numpy()[[0, 5, 17]]
        rounds, v = curves.wide(res.ts, "trust", ids)
        for k, rid in enumerate(ids):
            long = res.ts[res.ts["run_id"] == rid].set_index("round")["trust"]
            assert list(long.index) == list(rounds)
            assert (long.to_numpy() == v[k]).all()

    def test_dense_view_of_a_shuffled_or_gappy_table_is_the_same(self, small_sweep):
        """A sweep's table (run-major, the same rounds in every run) is reshaped; any other order,
        or a run with a missing round, goes through the general path to the same values."""
        res = Results.load(small_sweep)
        ids = res.runs["run_id"].to_numpy()
        rounds, regular = curves.wide(res.ts, "trust", ids)
        assert "rows" not in curves._DENSE  # the fast path was taken
        shuffled = res.ts.sample(frac=1.0, random_state=1)
        _, v = curves.wide(shuffled, "trust", ids)
        assert "rows" in curves._DENSE and np.array_equal(v, regular)
        gappy = res.ts.drop(index=res.ts.index[3])
        _, g = curves.wide(gappy, "trust", ids)
        assert np.isnan(g[0, 3]) and np.array_equal(np.delete(g, 3, axis=1)[1:], np.delete(regular, 3, axis=1)[1:])


class TestSummaries:
    """The figures' summaries are the same from pandas tables and from numpy columns, and group
    and pair runs as pandas does."""

    def test_the_same_from_pandas_and_from_numpy_columns(self, small_sweep):
        frames = Results.load(small_sweep)
        light = ResultColumns.load(small_sweep, ["trust", "agreement"], "turnover")
        for by in ("arm", "turnover", "scenario"):
            a, b = curves.outcome_curves(frames.runs, frames.ts, "trust", by), curves.outcome_curves(light.runs, light.ts, "trust", by)
            assert list(a.panels) == list(b.panels) and (a.low, a.high) == (b.low, b.high)
            for pa_, pb in zip(a.panels.values(), b.panels.values(), strict=True):
                assert [c.label for c in pa_] == [c.label for c in pb]
                for ca, cb in zip(pa_, pb, strict=True):
                    assert ca.size == cb.size and np.array_equal(ca.mean, cb.mean) and np.array_equal(ca.q90, cb.q90)
        da = curves.difference_curves(frames.runs, frames.ts, "agreement", "keep-open", "wind-down")
        db = curves.difference_curves(light.runs, light.ts, "agreement", "keep-open", "wind-down")
        for ca, cb in zip(da.panels.values(), db.panels.values(), strict=True):
            assert ca.size == cb.size and np.array_equal(ca.mean, cb.mean) and np.array_equal(ca.sd, cb.sd)

    def test_groups_are_pandas_groupby_groups(self, small_sweep):
        """Sorted scenarios and values, missing values and failed runs left out, rows in order."""
        runs = Results.load(small_sweep).runs.copy()
        runs.loc[runs.index[::7], "turnover"] = np.nan
        runs.loc[runs.index[::11], "status"] = "failed"
        got = curves._groups(runs, "turnover")
        ok = runs[runs["status"] == "ok"]
        for sc in sorted(runs["scenario"].unique()):
            want = [(v, g.index.to_numpy()) for v, g in ok[ok["scenario"] == sc].groupby("turnover", sort=True)]
            assert [v for v, _ in got[sc]] == [v for v, _ in want]
            assert all(np.array_equal(runs.index.to_numpy()[p], w) for (_, p), (_, w) in zip(got[sc], want, strict=True))

    def test_pairs_are_the_paired_runs_in_the_arms_order(self, small_sweep):
        runs = Results.load(small_sweep).runs.copy()
        runs.loc[runs.index[5], "status"] = "failed"
        runs = runs.sample(frac=1.0, random_state=3)  # the reference arm in another order
        for sc, (a, b) in curves.pairs(runs, "keep-open", "wind-down").items():
            ok = runs[(runs["status"] == "ok") & (runs["scenario"] == sc)]
            ia = ok[ok["arm"] == "keep-open"].set_index(["point", "replication"])["run_id"]
            ib = ok[ok["arm"] == "wind-down"].set_index(["point", "replication"])["run_id"]
            common = ia.index.intersection(ib.index)
            assert np.array_equal(a, ia.loc[common].to_numpy()) and np.array_equal(b, ib.loc[common].to_numpy())


@pytest.mark.filterwarnings("error:This process .* is multi-threaded:DeprecationWarning")  # no fork of a threaded process
class TestWorkers:
    def test_two_workers_draw_the_same_figures(self, small_sweep, tmp_path, capsys):
        one, two = tmp_path / "one", tmp_path / "two"
        assert main(["plot", str(small_sweep), "--metric", "agreement", "--workers", "1", "--no-svg", "--out", str(one)]) == 0
        assert main(["plot", str(small_sweep), "--metric", "agreement", "--workers", "2", "--no-svg", "--out", str(two)]) == 0
        names = sorted(p.name for p in one.iterdir() if not p.name.startswith("."))
        assert (
            names
            == sorted(p.name for p in two.iterdir() if not p.name.startswith("."))
            == [
                "curves-agreement.png",
                "diff-agreement-keep-open-vs-wind-down.png",
                "survival.png",
            ]
        )
        for n in names:
            assert (one / n).read_bytes() == (two / n).read_bytes(), n
        err = capsys.readouterr().err
        assert "plot: 3/3 figures" in err and "ETA" in err

    def test_no_process_outlives_the_command(self, small_sweep, tmp_path):
        """When ``plot`` with drawing processes returns, the fork server they came from is stopped
        (``close_pool``), rather than left to exit a moment after the command has."""
        code = (
            "import os\nfrom sim.cli import main\n"
            f"args = [{str(small_sweep)!r}, '--metric', 'agreement', '--workers', '2', '--no-svg', '--out', {str(tmp_path / 'f')!r}]\n"
            "rc = main(['plot', *args])\n" + FORK_SERVER_CHILDREN + "print(rc, len(kids))\n"
        )
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert p.stdout.strip().splitlines()[-1] == "0 0"

    def test_the_survival_figure_imports_no_scipy_stats(self, small_sweep, tmp_path):
        """The Kaplan–Meier curves are computed without ``scipy.stats`` (its import was most of
        the survival figure's time in a drawing process)."""
        code = (
            "import sys\nfrom sim.analysis import figures\nfrom sim.analysis.figure_set import summary\n"
            "from sim.analysis.results import ResultColumns\n"
            f"res = ResultColumns.load({str(small_sweep)!r}, ['agreement'])\n"
            f"figures.draw(summary(res, ('survival', '')), {str(tmp_path)!r})\n"
            "print('scipy.stats' in sys.modules)\n"
        )
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert p.stdout.strip().splitlines()[-1] == "False"
        assert (tmp_path / "survival.png").is_file()

    def test_the_reading_process_imports_neither_pandas_nor_matplotlib(self, small_sweep, tmp_path):
        """With drawing processes, the process that reads the data never loads pandas (the figures'
        columns are read as numpy arrays), matplotlib or SciPy (the drawing processes do)."""
        code = (
            "import sys\nfrom sim.cli import main\n"
            f"rc = main(['plot', {str(small_sweep)!r}, '--workers', '2', '--out', {str(tmp_path / 'f')!r}])\n"
            "print(rc, sorted(m for m in ('pandas', 'scipy', 'matplotlib') if m in sys.modules))\n"
        )
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert p.stdout.strip().splitlines()[-1] == "0 []"
        assert len(list((tmp_path / "f").glob("*.png"))) == 9  # survival, and 4 kept metrics × (curves, difference)


class TestAuditArguments:
    """Found by the bad-input audit of 2026-11-30."""

    def test_svg_and_no_svg_together_refused(self, small_sweep, tmp_path, capsys):
        assert main(["plot", str(small_sweep), "--svg", "--no-svg", "--out", str(tmp_path / "f")]) == 2
        assert "--svg" in capsys.readouterr().err and not (tmp_path / "f").exists()

    def test_a_metric_named_twice_is_drawn_once(self, small_sweep, tmp_path, capsys):
        assert main(["plot", str(small_sweep), "--metric", "trust", "--metric", "trust", "--out", str(tmp_path / "f")]) == 0
        pngs = sorted(p.name for p in (tmp_path / "f").glob("*.png"))
        said = int(capsys.readouterr().out.split("wrote ")[1].split()[0])
        assert said == len(pngs) and len(pngs) == len(set(pngs))


def _descendants(pid: int) -> dict[int, str]:
    """The processes under ``pid`` (children, theirs, ...), each with its start time (from /proc)."""
    found: dict[int, str] = {}
    todo = [pid]
    while todo:
        for f in Path(f"/proc/{todo.pop()}/task").glob("*/children"):
            try:
                kids = [int(k) for k in f.read_text().split()]
            except OSError:
                continue
            for k in kids:
                if k not in found and (st := _start_time(k)) is not None:
                    found[k] = st
                    todo.append(k)
    return found


def _start_time(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _running(pid: int, started: str) -> bool:
    """``pid`` is still the process that started at ``started``, and not a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[19] == started and fields[0] != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads the process tree from /proc")
class TestCtrlC:
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) during ``plot --workers 2``
    (found by an audit): once while the fork server imports the figure modules (it
    printed a ``KeyboardInterrupt`` traceback, and the pool's starting thread an ``EOFError`` one),
    once as the figures' temporary folder appears, once while the figures are drawn (the folder
    was removed while the drawing processes still wrote into it, and stayed behind; the drawing
    processes, interrupted holding the pool's queue lock, hung the exit). Each time: exit 130, one
    line on stderr besides the progress, no temporary folder, no process left."""

    @pytest.mark.parametrize("moment", ["fork server", "temporary folder", "first figure"])
    def test_one_line_nothing_left(self, small_sweep, tmp_path, moment):
        out = tmp_path / "f"
        cmd = [str(DIALOGUE_SIM), "plot", str(small_sweep), "--workers", "2", "--svg", "--out", str(out)]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        err: list[str] = []
        reader = threading.Thread(target=lambda: err.extend(p.stderr), daemon=True)  # type: ignore[arg-type]
        reader.start()
        kids: dict[int, str] = {}  # every process under the command, gathered until the signal

        def reached() -> bool:
            if moment == "fork server":
                return any(b"forkserver" in Path(f"/proc/{k}/cmdline").read_bytes() for k in kids if _running(k, kids[k]))
            if moment == "temporary folder":
                return any(tmp_path.glob(".f.*.tmp"))
            return any(line.startswith("plot: 1/") for line in err)

        try:
            deadline = time.monotonic() + 30
            while p.poll() is None and time.monotonic() < deadline:
                kids |= _descendants(p.pid)
                try:
                    if reached():
                        break
                except OSError:
                    pass
                time.sleep(0.005)
            assert p.poll() is None, f"plot ended before the {moment}: {''.join(err)}"
            kids |= _descendants(p.pid)
            assert kids, "no drawing processes"
            os.killpg(p.pid, signal.SIGINT)
            p.wait(timeout=20)
        finally:
            if p.poll() is None:  # hung: end it, and what it started, so that the suite goes on
                for k, st in [*_descendants(p.pid).items(), *kids.items()]:
                    if _running(k, st):
                        with contextlib.suppress(OSError):
                            os.kill(k, signal.SIGKILL)
                p.kill()
                p.wait()
        reader.join(timeout=5)
        end = time.monotonic() + 5
        while time.monotonic() < end and any(_running(k, st) for k, st in kids.items()):
            time.sleep(0.05)
        left = []
        for k, st in kids.items():  # named, then ended (before any assertion: the suite goes on without them)
            if _running(k, st):
                with contextlib.suppress(OSError):
                    left.append(Path(f"/proc/{k}/cmdline").read_bytes().replace(b"\0", b" ")[:100].decode(errors="replace"))
                    os.kill(k, signal.SIGKILL)
        text = "".join(err)
        assert p.returncode == 130, text
        assert "Traceback" not in text, text
        assert [ln for ln in text.splitlines() if not ln.startswith("plot: ")] == ["dialogue-sim: interrupted"], text
        assert sorted(q.name for q in tmp_path.iterdir()) == [], "a temporary folder (or partial output) was left"
        assert not left, f"processes outlived the command: {left}"


class TestPlotBesideTheReport:
    def test_the_reports_figures_that_plot_does_not_redraw_stay(self, small_sweep, tmp_path, capsys):
        """``report`` then ``plot`` into the same RESULTS/figures: plot replaces the figures it
        draws and keeps the report's others (answer-effect.png, the SVGs), still listed in the
        folder's marker. (Audit: plot deleted 7 of the report's 12 files, its SVGs among them.)
        Mutation: atomic_dir without ``keep`` fails here."""
        import json
        import shutil

        res = tmp_path / "results"
        shutil.copytree(small_sweep, res)
        assert main(["report", str(res), "--no-cases"]) == 0
        figs = res / "figures"
        before = {p.name: p.read_bytes() for p in figs.iterdir()}
        assert main(["plot", str(res), "--workers", "1", "--no-svg"]) == 0
        capsys.readouterr()
        after = {p.name for p in figs.iterdir()}
        assert set(before) <= after, sorted(set(before) - after)
        listed = set(json.loads((figs / ".dialogue-sim").read_text())["files"])
        assert listed == after - {".dialogue-sim"}

"""``dialogue-sim plot``: arguments are checked against the manifest before any data is read (the
error names the swept parameters and kept metrics), only the needed columns are read, and
drawing in two processes gives the same figures as in one."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import sim.analysis.results as results_mod
import sim.batch.store as store
from sim.analysis import curves
from sim.analysis.results import Results
from sim.cli import main


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
    def test_only_the_needed_columns_are_read(self, small_sweep):
        res = Results.load(small_sweep, metrics=["trust"], by="turnover")
        assert list(res.ts.columns) == ["run_id", "round", "trust"]
        assert "handover" not in res.runs and "cost" not in res.runs and "turnover" in res.runs

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

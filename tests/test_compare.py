"""``dialogue-sim compare``: two settings on the same seeds, paired run by run; the table's numbers
are recomputed here from runs of DialogueModel, and bad input is refused before anything runs."""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest

from sim import DialogueModel
from sim.analysis.compare import compare
from sim.cli import main
from sim.scenarios import find_scenario, load_scenario, resolve

ROUNDS = 45


@pytest.fixture(scope="module")
def lc():
    return load_scenario(find_scenario("leadership-change"))


class TestPairedRuns:
    def test_same_seed_same_trajectory_as_the_per_run_model(self, lc):
        a, b = resolve(lc, {}, ROUNDS), resolve(lc, {"turnover": "0.4"}, ROUNDS)
        comp = compare(a, b, [3, 4], "base", "turnover 0.4")
        for k, seed in enumerate([3, 4]):
            for setup_over, arr in (({}, comp.a), ({"turnover": "0.4"}, comp.b)):
                m = DialogueModel(lc, rounds=ROUNDS, overrides=setup_over, rng=seed)
                m.run_for(ROUNDS)
                df = m.datacollector.get_model_vars_dataframe()
                np.testing.assert_allclose(arr["trust"][k], df["trust"].to_numpy(), atol=1e-9)

    def test_identical_settings_differ_by_nothing(self, lc):
        a = resolve(lc, {}, ROUNDS)
        comp = compare(a, a, [1, 2, 3])
        for m in comp.metrics:
            assert np.all(comp.difference(m) == 0)
        t = comp.table().set_index("outcome")
        assert t.loc["cost (rank-weighted delegate-meetings)", "B − A (paired mean)"] == "+0.00"

    def test_a_change_shows_in_the_table(self, lc):
        a, b = resolve(lc, {}, ROUNDS), resolve(lc, {"turnover": "0.5"}, ROUNDS)
        comp = compare(a, b, range(6))
        t = comp.table().set_index("outcome")
        d = comp.outcomes_b["final_trust"] - comp.outcomes_a["final_trust"]
        assert d.mean() < 0
        assert t.loc["final familiarity across sides (−1 to 1)", "B − A (paired mean)"] == f"{d.mean():+.2f}"
        assert t.loc["final familiarity across sides (−1 to 1)", "pairs"] == 6
        assert t.loc["P(agreement by the horizon)", "A"].endswith("%")


class TestCommand:
    def test_writes_table_and_figure(self, tmp_path, capsys):
        out = tmp_path / "cmp"
        argv = ["compare", "leadership-change", "--set-b", "turnover=0.4", "--runs", "3", "--rounds", "45", "--out", str(out)]
        assert main(argv) == 0
        # the hidden marker says the program made this folder (so a later --out may replace it)
        assert {p.name for p in out.iterdir()} == {".dialogue-sim", "compare.csv", "compare.png", "compare.svg"}
        rows = list(csv.DictReader((out / "compare.csv").open()))
        assert rows[0]["outcome"] == "P(agreement by the horizon)" and rows[0]["pairs"] == "3"
        printed = capsys.readouterr().out
        assert "B = leadership-change turnover=0.4" in printed and "P(agreement by the horizon)" in printed

    def test_two_scenarios_one_run(self, tmp_path, capsys):
        out = tmp_path / "cmp2"
        assert main(["compare", "leadership-change", "lean-years", "--rounds", "45", "--out", str(out)]) == 0
        rows = list(csv.DictReader((out / "compare.csv").open()))
        assert rows[0]["95% CI"] == "– (one pair)"

    @pytest.mark.parametrize(
        ("argv", "words"),
        [
            (["compare", "leadership-change"], "A and B are the same"),
            (["compare", "leadership-change", "--set-b", "turnover=7"], "turnover"),
            (["compare", "leadership-change", "--set-b", "bogus=1"], "bogus"),
            (["compare", "leadership-change", "--set-b", "Z.turnover=0.2"], "--set-b: Z.turnover"),  # was labelled --set
            (["compare", "nowhere", "--set-b", "turnover=0.2"], "nowhere"),
            (["compare", "leadership-change", "--set-b", "turnover=0.2", "--runs", "0"], "--runs"),
            (["compare", "leadership-change", "multilateral-track15"], "leadership_change event at round 40"),  # was dropped silently
            (["compare", "leadership-change", "--set-b", "turnover=0.2", "--runs", "100000000"], "--allow-large"),  # was a MemoryError
        ],
    )
    def test_bad_input(self, argv, words, tmp_path, capsys):
        out = tmp_path / "never"
        assert main([*argv, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("dialogue-sim: error:") and words in err and len(err.splitlines()) == 1
        assert not out.exists()


class TestProgress:
    """``compare --runs 2000`` printed only its start line until it was done (bad-input audit).
    On a terminal it shows the same bar with an ETA as ``run`` and ``sweep`` (counting runs, A's
    then B's, as their rounds are done); in a pipe or a file plain lines, as a sweep's; the same results either way."""

    ARGV = ["compare", "leadership-change", "--set-b", "turnover=0.4", "--runs", "3", "--rounds", "45"]

    @staticmethod
    def stderr(monkeypatch, tty: bool):
        import io
        import sys

        err = io.StringIO()
        err.isatty = lambda: tty  # type: ignore[method-assign]
        monkeypatch.setattr(sys, "stderr", err)
        return err

    def test_a_bar_with_an_eta_on_a_terminal_and_the_same_table(self, tmp_path, monkeypatch):
        err = self.stderr(monkeypatch, tty=True)
        assert main([*self.ARGV, "--out", str(tmp_path / "tty")]) == 0
        shown = err.getvalue()
        assert "compare:" in shown and "6/6" in shown and "run/s" in shown and "<" in shown  # tqdm: [elapsed<eta, rate]
        self.stderr(monkeypatch, tty=False)
        assert main([*self.ARGV, "--out", str(tmp_path / "pipe")]) == 0
        assert (tmp_path / "tty" / "compare.csv").read_bytes() == (tmp_path / "pipe" / "compare.csv").read_bytes()

    def test_plain_progress_lines_in_a_pipe(self, tmp_path, monkeypatch):
        """As a sweep's: no bar, a plain line every few seconds and one at the end (a log of a
        long compare shows it was moving, and how fast)."""
        err = self.stderr(monkeypatch, tty=False)
        assert main([*self.ARGV, "--out", str(tmp_path / "pipe")]) == 0
        lines = err.getvalue().splitlines()
        assert lines[0] == "compare: 3 run(s) each of A and B on seeds 0–2 …"
        assert re.fullmatch(r"compare: 6/6 runs \(100%\), \d+ runs/s, ETA 0s", lines[-1]), lines
        assert "\r" not in err.getvalue() and "<" not in err.getvalue()  # no bar

    def test_counting_changes_no_result(self, lc):
        a, b = resolve(lc, {}, ROUNDS), resolve(lc, {"turnover": "0.4"}, ROUNDS)
        told: list[int] = []
        counted = compare(a, b, range(5), on_runs=told.append)
        plain = compare(a, b, range(5))
        assert sum(told) == 10 and all(n > 0 for n in told)
        for m in plain.metrics:
            np.testing.assert_array_equal(counted.a[m], plain.a[m])
            np.testing.assert_array_equal(counted.b[m], plain.b[m])
        for k in plain.outcomes_a:
            np.testing.assert_array_equal(counted.outcomes_a[k], plain.outcomes_a[k])
            np.testing.assert_array_equal(counted.outcomes_b[k], plain.outcomes_b[k])

    def test_whole_runs_counted_over_sub_batches(self):
        """2,000 runs go through the ensemble in sub-batches of 1,024 and 976: each round of a
        sub-batch is a round of each of its runs; the count reaches every run, in whole runs."""
        from sim.analysis.compare import _run_counter

        told: list[int] = []
        hook = _run_counter(45, told.append)
        hook(1, None, range(0, 1024))
        assert told == [1024 // 45]  # counted from the first round on, not when a sub-batch ends
        for rows in (range(0, 1024), range(1024, 2000)):
            for t in range(2 if rows.start == 0 else 1, 46):
                hook(t, None, rows)
        assert sum(told) == 2000 and all(n > 0 for n in told)


class TestCompileNotice:
    """compare runs the model, so on a fresh install it compiles its loops first (10-20 s): it
    says so on a terminal, as run, sweep and calibrate do (it said nothing)."""

    def test_compare_is_inside_the_notice(self, monkeypatch, tmp_path):
        import contextlib

        import sim.cli

        entered: list[bool] = []

        @contextlib.contextmanager
        def notice():
            entered.append(True)
            yield

        monkeypatch.setattr(sim.cli, "compile_notice", notice)
        main(["compare", "leadership-change", "--out", str(tmp_path / "o")])  # refused, but after entering the notice
        assert entered == [True]

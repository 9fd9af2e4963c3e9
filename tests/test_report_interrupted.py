"""``dialogue-sim report`` interrupted or failing leaves the folder as it was: the earlier report's
files all as they were (never a mix of its figures and the new ones), or, with no earlier report,
nothing the command added. The new report is built beside the old one and moved into place at
the end (:func:`sim.core.staging.staged`)."""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

import pytest

from sim.analysis import effect_figures, figures
from sim.cli import main
from sim.core import staging


@pytest.fixture
def results_copy(small_sweep, tmp_path) -> Path:
    dst = tmp_path / "results"
    shutil.copytree(small_sweep, dst)
    return dst


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` (hidden ones too): a file's bytes, None for a folder."""
    return {p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


def first_report(folder: Path, capsys) -> dict[str, bytes | None]:
    assert main(["report", str(folder), "--no-cases"]) == 0
    capsys.readouterr()
    before = snapshot(folder)
    assert "report.html" in before and "answer.json" in before and "figures/survival.png" in before
    return before


def different_figures(monkeypatch) -> None:
    """The second report's figures differ in every byte from the first's (another resolution)."""
    monkeypatch.setattr(figures, "DPI", 60)


def moves_failing(monkeypatch, at: int, event) -> list[Path]:
    """``event(dst)`` happens at the ``at``-th move of the new report's files into place (then
    the move itself, if ``event`` returns); returns the destinations moved to, as they come."""
    move, calls = staging._move, []

    def moving(src: Path, dst: Path) -> None:
        calls.append(dst)
        if len(calls) == at:
            event(dst)
        move(src, dst)

    monkeypatch.setattr(staging, "_move", moving)
    return calls


def interrupt_at_third_figure(monkeypatch) -> None:
    """Ctrl-C while the standard figures are drawn, after two of them were written."""
    draw, calls = figures.draw, []

    def drawing(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return draw(*a, **k)

    monkeypatch.setattr(figures, "draw", drawing)


def interrupt_after_answer(monkeypatch) -> None:
    """Ctrl-C after every standard figure, the phase diagrams and answer.json were written."""

    def drawing(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(effect_figures, "effect_curve_figure", drawing)


INTERRUPTIONS = {"third figure": interrupt_at_third_figure, "after answer.json": interrupt_after_answer}


def interrupted(argv: list[str], capsys) -> str:
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert err == "dialogue-sim: interrupted\n", err
    return err


@pytest.mark.parametrize("where", INTERRUPTIONS)
def test_an_interrupted_report_leaves_the_earlier_one_as_it_was(where, results_copy, monkeypatch, capsys):
    """Mutation evidence: with the report built in place (the code before this change), the
    figures written before the interruption are the new ones (other bytes) beside the old HTML."""
    before = first_report(results_copy, capsys)
    different_figures(monkeypatch)
    INTERRUPTIONS[where](monkeypatch)
    interrupted(["report", str(results_copy), "--no-cases"], capsys)
    after = snapshot(results_copy)
    assert sorted(after) == sorted(before)  # no file added or removed (no temporary folder left)
    changed = [k for k in before if after[k] != before[k]]
    assert not changed, changed


@pytest.mark.parametrize("where", INTERRUPTIONS)
def test_an_interrupted_first_report_adds_nothing(where, results_copy, tmp_path, monkeypatch, capsys):
    before = snapshot(results_copy)
    INTERRUPTIONS[where](monkeypatch)
    interrupted(["report", str(results_copy), "--no-cases"], capsys)
    assert snapshot(results_copy) == before
    # to a folder that does not exist yet: the folders made for it are gone too
    out = tmp_path / "new" / "sub" / "r.html"
    INTERRUPTIONS[where](monkeypatch)  # counting from 0 again
    interrupted(["report", str(results_copy), "--no-cases", "--out", str(out)], capsys)
    assert not (tmp_path / "new").exists()


def test_ctrl_c_while_the_files_are_moved_into_place_undoes_the_moves(results_copy, monkeypatch, capsys):
    """A Ctrl-C that arrives while the new files are moved into place is held until they all are,
    then every move is undone: the earlier report stands, exit 130. (Mutation evidence: without
    acting on the held signal the new report stands and the command exits 0.)"""
    before = first_report(results_copy, capsys)
    different_figures(monkeypatch)
    calls = moves_failing(monkeypatch, 3, lambda dst: signal.raise_signal(signal.SIGINT))
    interrupted(["report", str(results_copy), "--no-cases"], capsys)
    assert len(calls) > 6  # the moves went on after the signal (then were undone)
    assert snapshot(results_copy) == before


def test_a_failed_move_undoes_the_moves(results_copy, monkeypatch, capsys):
    """A rename that fails halfway (a full or vanished disk): one error line, exit 1, and the
    earlier report's files are back, unchanged. (Mutation evidence: without the undo, the figures
    moved before the failure are the new ones.)"""
    before = first_report(results_copy, capsys)
    different_figures(monkeypatch)

    def full(dst: Path) -> None:
        raise OSError(28, "No space left on device", str(dst))

    moves_failing(monkeypatch, 6, full)
    assert main(["report", str(results_copy), "--no-cases"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("dialogue-sim: error:") and "No space left on device" in err, err
    assert snapshot(results_copy) == before


def test_a_file_put_among_the_figures_meanwhile_is_left_alone(results_copy, monkeypatch, capsys):
    """A file dialogue-sim did not write, put in the figures folder while the report is built: the
    report is not moved into place (exit 2, one line), that file and the earlier report stay."""
    before = first_report(results_copy, capsys)
    different_figures(monkeypatch)
    draw = effect_figures.effect_curve_figure

    def drawing(*a, **k):
        (results_copy / "figures" / "mine.txt").write_text("mine")
        return draw(*a, **k)

    monkeypatch.setattr(effect_figures, "effect_curve_figure", drawing)
    assert main(["report", str(results_copy), "--no-cases"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did not write (mine.txt)" in err, err
    after = snapshot(results_copy)
    assert after.pop("figures/mine.txt") == b"mine"
    assert after == before


def test_a_second_report_replaces_the_first_and_keeps_other_figures(results_copy, monkeypatch, capsys):
    """Completed, the new report's files replace the old ones; a figure dialogue-sim wrote there
    that this report does not draw (listed in the folder's marker) stays, still listed; no
    temporary file or folder is left."""
    first_report(results_copy, capsys)
    figs = results_copy / "figures"
    (figs / "phase-old.png").write_bytes(b"an earlier figure")
    marker = json.loads((figs / ".dialogue-sim").read_text())
    (figs / ".dialogue-sim").write_text(json.dumps(marker | {"files": [*marker["files"], "phase-old.png"]}))
    before = snapshot(results_copy)
    different_figures(monkeypatch)
    assert main(["report", str(results_copy), "--no-cases"]) == 0
    after = snapshot(results_copy)
    assert set(after) == set(before)
    assert after["figures/phase-old.png"] == b"an earlier figure"
    assert after["figures/survival.png"] != before["figures/survival.png"]
    assert json.loads(after["figures/.dialogue-sim"] or b"")["files"] == sorted(
        k.removeprefix("figures/") for k in after if k.startswith("figures/") and k != "figures/.dialogue-sim"
    )


def test_ctrl_c_after_the_report_is_written_is_quiet(results_copy):
    """Ctrl-C once the command has said "wrote …", during the interpreter's shutdown (which joins
    the worker pools' finalizers): the report stands, the exit status is the command's, and no
    traceback from the clean-up is printed (``sim.cli.entry``); a signal that comes before main()
    has returned gets the usual one line and 130. Mutation: without its ignoring
    SIGINT, multiprocessing's atexit callback printed "Exception ignored … KeyboardInterrupt"
    (caught in 2 of 3 tries: the others landed before main() returned)."""
    import subprocess

    from .conftest import DIALOGUE_SIM, interrupt_when

    proc = subprocess.Popen(
        [str(DIALOGUE_SIM), "report", str(results_copy), "--no-cases"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    stdout = proc.stdout
    assert stdout is not None
    lines: list[str] = []
    err = interrupt_when(proc, lambda: lines.append(stdout.readline()), timeout=60)
    assert lines[0].startswith("wrote "), lines
    if proc.returncode == 130:  # the signal came before main() returned: the one line, and the report stands
        assert err == "dialogue-sim: interrupted\n", err
    else:
        assert proc.returncode == 0 and "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert (results_copy / "report.html").is_file()

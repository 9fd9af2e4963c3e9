"""Regression tests for issue #14: never delete a user's files, strict schemas, one-line errors.

Each class is one numbered case of the issue (the number is in its name)."""

from __future__ import annotations

import os
import pickle
import stat
import subprocess
from pathlib import Path

import pytest

from sim.batch.experiment import load_experiment
from sim.cli import main
from sim.core.names import safe_filename
from sim.core.outputs import MARKER, atomic_dir
from sim.scenarios import InputError, load_scenario

from .conftest import DIALOGUE_SIM

SIDES = '[[sides]]\nname = "A"\n[[sides]]\nname = "B"\n'


def one_error_line(capsys, rc: int, *parts: str) -> str:
    """The command failed with exit 2 and exactly one stderr line holding ``parts``."""
    cap = capsys.readouterr()
    assert rc == 2, cap.err
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1, cap.err
    assert lines[0].startswith("dialogue-sim: error: ")
    for p in parts:
        assert p in lines[0], (p, lines[0])
    return lines[0]


def user_folder(root: Path) -> dict[str, str]:
    """A folder of a user's files, including a summary.json like a run's; return its listing."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "summary.json").write_text("{}")
    (root / "canary.txt").write_text("canary")
    (root / "sub").mkdir()
    (root / "sub" / "keep.txt").write_text("keep")
    return listing(root)


def listing(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


class TestCase01OutNeverTheCurrentFolderOrAnAncestor:
    @pytest.mark.parametrize("out", [".", "sub/..", "sub/deeper/../..", ".."])
    def test_refused_and_nothing_touched(self, tmp_path, monkeypatch, capsys, out):
        work = tmp_path / "work"
        before = user_folder(work)
        (work / "sub" / "deeper").mkdir()
        monkeypatch.chdir(work)
        rc = main(["run", "lean-years", "--rounds", "3", "--out", out])
        one_error_line(capsys, rc, "--out", "current folder")
        assert listing(work) == before
        assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]

    def test_home_and_root_refused(self, tmp_path, monkeypatch, capsys):
        monkeypatch.setenv("HOME", str(tmp_path))
        monkeypatch.chdir(tmp_path)
        (tmp_path / "elsewhere").mkdir()
        monkeypatch.chdir(tmp_path / "elsewhere")
        for out in (str(tmp_path), "/"):
            rc = main(["run", "lean-years", "--rounds", "3", "--out", out])
            one_error_line(capsys, rc, "--out", "home folder")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere"]

    def test_sweep_out_dot_refused(self, tmp_path, monkeypatch, capsys):
        before = user_folder(tmp_path / "w")
        monkeypatch.chdir(tmp_path / "w")
        rc = main(["sweep", str(load_experiment_path()), "--out", ".", "--workers", "1"])
        one_error_line(capsys, rc, "--out")
        assert listing(tmp_path / "w") == before


def load_experiment_path() -> Path:
    from sim.scenarios import EXPERIMENT_DIR

    return EXPERIMENT_DIR / "turnover-handover.toml"


class TestCase02OnlyMarkedRunFoldersAreReplaced:
    def test_folder_with_a_summary_json_is_not_a_run(self, tmp_path, capsys):
        out = tmp_path / "myfolder"
        before = user_folder(out)
        (out / "Documents").mkdir()
        (out / "Documents" / "thesis.tex").write_text("\\chapter{}")
        before = listing(out)
        rc = main(["run", "lean-years", "--rounds", "3", "--out", str(out)])
        one_error_line(capsys, rc, "--out", "did not write")
        assert listing(out) == before

    def test_a_run_folder_is_marked_and_replaced(self, tmp_path, capsys):
        out = tmp_path / "run"
        assert main(["run", "lean-years", "--rounds", "3", "--out", str(out)]) == 0
        assert (out / MARKER).is_file()
        assert main(["run", "lean-years", "--rounds", "4", "--seed", "1", "--out", str(out)]) == 0
        capsys.readouterr()
        assert '"rounds": 4' in (out / "summary.json").read_text()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]

    def test_a_marker_of_another_kind_does_not_count(self, tmp_path, capsys):
        out = tmp_path / "figs"
        with atomic_dir(out, "figures") as tmp:
            (tmp / "a.png").write_text("x")
        rc = main(["run", "lean-years", "--rounds", "3", "--out", str(out)])
        one_error_line(capsys, rc, "--out")
        assert (out / "a.png").read_text() == "x"

    def test_run_folder_permissions_follow_the_umask(self, tmp_path, capsys):
        old = os.umask(0o022)
        try:
            assert main(["run", "lean-years", "--rounds", "3", "--out", str(tmp_path / "r")]) == 0
        finally:
            os.umask(old)
        capsys.readouterr()
        assert stat.S_IMODE((tmp_path / "r").stat().st_mode) == 0o755


class TestCase03NamesNeverBecomePaths:
    @pytest.mark.parametrize("name", ["/abs/path/victim", "../../x", "a/b", ".hidden", "x" * 65, "", "a..b"])
    def test_unsafe_scenario_name_refused(self, tmp_path, monkeypatch, capsys, name):
        f = tmp_path / "s.toml"
        f.write_text(f"name = {name!r}\nrounds = 5\n" + SIDES)
        monkeypatch.chdir(tmp_path)
        rc = main(["run", str(f)])
        one_error_line(capsys, rc, str(f), "name", "allowed")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]

    @pytest.mark.parametrize("field", ["name", "arm"])
    def test_unsafe_experiment_and_arm_names_refused(self, tmp_path, monkeypatch, capsys, field):
        text = 'scenarios = ["lean-years"]\nrounds = 5\n'
        text += 'name = "../../x"\n' if field == "name" else 'name = "ok"\n[[arms]]\nname = "../../x"\n'
        f = tmp_path / "e.toml"
        f.write_text(text)
        monkeypatch.chdir(tmp_path)
        rc = main(["sweep", str(f), "--workers", "1"])
        one_error_line(capsys, rc, str(f), "../../x")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["e.toml"]

    def test_safe_filename(self):
        for label in ["../../x", "/abs", "a b/c", "..", ".x", "ok-name_1.2"]:
            s = safe_filename(label)
            assert "/" not in s and ".." not in s and not s.startswith(".") and s
        assert safe_filename("ok-name_1.2") == "ok-name_1.2"


class TestCase04EmptySidePrefix:
    def test_set_with_an_empty_side_refused(self, capsys, tmp_path):
        rc = main(["run", "lean-years", "--set", ".turnover=0.5", "--out", str(tmp_path / "r")])
        one_error_line(capsys, rc, "--set", ".turnover", "empty side")

    def test_experiment_with_an_empty_side_refused(self, tmp_path):
        f = tmp_path / "e.toml"
        f.write_text('scenarios = ["lean-years"]\n[design]\nkind = "grid"\n[design.params]\n".turnover" = [0.0, 1.0]\n')
        with pytest.raises(InputError, match="empty side") as e:
            load_experiment(f)
        assert e.value.field == "design.params..turnover"


class TestCase07DuplicateScenariosAndArms:
    def test_same_scenario_twice(self, tmp_path):
        f = tmp_path / "e.toml"
        f.write_text('scenarios = ["lean-years", "lean-years"]\n')
        with pytest.raises(InputError, match="same scenario twice"):
            load_experiment(f)

    def test_same_scenario_by_name_and_by_path(self, tmp_path):
        from sim.scenarios import SCENARIO_DIR

        f = tmp_path / "e.toml"
        f.write_text(f'scenarios = ["lean-years", "{SCENARIO_DIR / "lean-years.toml"}"]\n')
        with pytest.raises(InputError, match="same scenario twice"):
            load_experiment(f)

    def test_same_arm_twice(self, tmp_path):
        f = tmp_path / "e.toml"
        f.write_text('scenarios = ["lean-years"]\n[[arms]]\nname = "a"\n[[arms]]\nname = "a"\n')
        with pytest.raises(InputError, match="unique"):
            load_experiment(f)


BASE = 'scenarios = ["lean-years"]\nrounds = 10\n'


class TestCase08StrictBooleansAndNumbers:
    @pytest.mark.parametrize(
        ("text", "fld"),
        [
            ('[design]\nkind = "sobol"\nsamples = 4\nsecond_order = "no"\n[design.params]\nturnover = [0.0, 1.0]\n', "design.second_order"),
            ('[design]\nkind = "sobol"\nsamples = 4\ncommon_seeds = 1\n[design.params]\nturnover = [0.0, 1.0]\n', "design.common_seeds"),
            ("chunk_size = true\n", "chunk_size"),
            ("replications = 2.0\n", "replications"),
            ("seed = -1\n", "seed"),
            ("[output]\nevery = true\n", "output.every"),
            ('[[arms]]\nname = "a"\nchannel_open = 1\n', "arms.a.channel_open"),
        ],
    )
    def test_refused(self, tmp_path, text, fld):
        f = tmp_path / "e.toml"
        f.write_text(BASE + text)
        with pytest.raises(InputError) as e:
            load_experiment(f)
        assert e.value.field == fld

    def test_repeated_set_refused(self, capsys, tmp_path):
        rc = main(["run", "lean-years", "--set", "turnover=0.1", "--set", "turnover=0.2", "--out", str(tmp_path / "r")])
        one_error_line(capsys, rc, "--set", "turnover", "twice")


class TestCase12WrongTypesAreOneLineErrors:
    @pytest.mark.parametrize(
        ("text", "fld"),
        [
            ("output = 3\n", "output"),
            ('analysis = "x"\n', "analysis"),
            ("arms = 3\n", "arms"),
            ('arms = ["a"]\n', "arms[0]"),
            ("params = [1]\n", "params"),
            ('[design]\nkind = "grid"\nparams = 3\n', "design.params"),
            ('[design]\nkind = "table"\nrows = 3\n', "design.rows"),
            ('[design]\nkind = "table"\nrows = [1, 2]\n', "design.rows[0]"),
            ('[[arms]]\nname = "a"\nevents = 3\n', "arms[0].events"),
            ('[[arms]]\nname = "a"\nevents = [3]\n', "arms.a.events[0]"),
            ('[design]\nkind = "morris"\nsamples = 2\nlevels = "4"\n[design.params]\nturnover = [0.0, 1.0]\n', "design.levels"),
            ("[design.params]\nturnover = [0.1, 0.2]\n", "design.params"),
            ('[design]\nkind = ["grid"]\n', "design.kind"),
            ("scenarios = [1]\n", "scenarios[0]"),
            ('[analysis]\nphase = "x"\n', "analysis.phase"),
            ('[analysis]\nphase = [[{}, "window"]]\n', "analysis.phase[0]"),
            ('[output]\ntimeseries = "trust"\n', "output.timeseries"),
            ("full = 3\n", "full"),
        ],
    )
    def test_experiment_field_of_the_wrong_type(self, tmp_path, capsys, text, fld):
        f = tmp_path / "e.toml"
        text = BASE + text if not text.startswith("scenarios") else text
        f.write_text(text)
        with pytest.raises(InputError) as e:
            load_experiment(f)
        assert e.value.field == fld
        rc = main(["sweep", str(f), "--out", str(tmp_path / "out"), "--workers", "1"])
        one_error_line(capsys, rc, str(f), fld)
        assert not (tmp_path / "out").exists()

    @pytest.mark.parametrize(
        ("text", "fld"),
        [
            ('channel = ["track2"]\n', "channel"),
            ("channel = {a = 1}\n", "channel"),
            ("name = 3\n", "name"),
            ("description = [1]\n", "description"),
            ('[[events]]\nround = 2\nkind = ["crisis"]\n', "events[0].kind"),
            ('[[events]]\nround = 2\nkind = "turnover_shock"\nside = {a = 1}\n', "events[0].side"),
            ('[[events]]\nround = 2\nkind = "leadership_change"\nregime = ["ripe"]\n', "events[0].regime"),
        ],
    )
    def test_scenario_field_of_the_wrong_type(self, tmp_path, capsys, text, fld):
        f = tmp_path / "s.toml"
        f.write_text(text + "rounds = 5\n" + SIDES if text.startswith(("channel", "name", "desc")) else "rounds = 5\n" + SIDES + text)
        with pytest.raises(InputError) as e:
            load_scenario(f)
        assert e.value.field == fld
        rc = main(["run", str(f), "--out", str(tmp_path / "out")])
        one_error_line(capsys, rc, str(f), fld)

    def test_deep_nesting(self, tmp_path, capsys):
        f = tmp_path / "deep.toml"
        f.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
        for cmd in (["run", str(f)], ["sweep", str(f)]):
            rc = main([*cmd, "--out", str(tmp_path / "out")])
            one_error_line(capsys, rc, str(f), "nesting")
        f.write_text("x = " + "[" * 20 + "]" * 20 + "\n")
        rc = main(["run", str(f), "--out", str(tmp_path / "out")])
        one_error_line(capsys, rc, str(f), "nesting")

    def test_binary_files(self, tmp_path, capsys):
        f = tmp_path / "bin.toml"
        f.write_bytes(bytes(range(256)) * 4)
        for cmd in (["run", str(f)], ["sweep", str(f)]):
            rc = main([*cmd, "--out", str(tmp_path / "out")])
            one_error_line(capsys, rc, str(f), "UTF-8")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["bin.toml"]


class TestCase13LateErrors:
    def test_rounds_over_the_limit_refused_before_writing(self, tmp_path, capsys):
        f = tmp_path / "e.toml"
        f.write_text('scenarios = ["lean-years"]\nrounds = 200000\n')
        rc = main(["sweep", str(f), "--out", str(tmp_path / "out"), "--workers", "2"])
        line = one_error_line(capsys, rc, str(f), "rounds", "200000")
        assert "--rounds" not in line
        assert not (tmp_path / "out").exists()

    def test_input_error_survives_pickling(self):
        e = InputError("x.toml", "rounds", 200000, "allowed: a whole number in [1, 100000]")
        back = pickle.loads(pickle.dumps(e))
        assert type(back) is InputError
        assert (back.source, back.field, back.value, back.allowed, str(back)) == (e.source, e.field, e.value, e.allowed, str(e))


class TestCase16SizeLimits:
    @pytest.mark.parametrize(
        ("text", "what"),
        [
            ("replications = 1000000000\n", "replications"),
            ('[design]\nkind = "sobol"\nsamples = 1000000000\n[design.params]\nturnover = [0.0, 1.0]\n', "design.samples"),
            ("[design]\nkind = 'grid'\n[design.params]\n" + "".join(f"{p} = {[0.1 * i for i in range(1, 8)]}\n" for p in (
                "turnover", "handover", "openness", "reporting", "gatekeeping", "translation_loss", "follow_up", "idea_rate")), "design"),
        ],
    )  # fmt: skip
    def test_huge_designs_refused_at_once(self, tmp_path, capsys, text, what):
        f = tmp_path / "e.toml"
        f.write_text(BASE + text)
        rc = main(["sweep", str(f), "--out", str(tmp_path / "out"), "--workers", "1"])
        one_error_line(capsys, rc, str(f), what)

    def test_work_over_the_limit_names_the_flag(self, tmp_path, capsys):
        f = tmp_path / "e.toml"
        f.write_text('scenarios = ["lean-years"]\nrounds = 1000\nreplications = 9000000\n')
        rc = main(["sweep", str(f), "--out", str(tmp_path / "out"), "--workers", "1"])
        one_error_line(capsys, rc, str(f), "--allow-large")
        assert not (tmp_path / "out").exists()

    def test_huge_scenario_names_the_flag(self, tmp_path, capsys):
        f = tmp_path / "big.toml"
        f.write_text("rounds = 10\n[params]\nmembers = 40\n" + "".join(f'[[sides]]\nname = "s{i}"\n' for i in range(50)))
        rc = main(["run", str(f), "--out", str(tmp_path / "out")])
        one_error_line(capsys, rc, str(f), "--allow-large", "MiB")

    def test_many_events_refused(self, tmp_path, capsys):
        f = tmp_path / "ev.toml"
        f.write_text("rounds = 10\n" + SIDES + '[[events]]\nround = 2\nkind = "crisis"\n' * 10_001)
        rc = main(["run", str(f), "--out", str(tmp_path / "out")])
        one_error_line(capsys, rc, str(f), "events")

    def test_plot_by_a_column_that_is_not_swept(self, small_sweep, capsys, tmp_path):
        rc = main(["plot", str(small_sweep), "--by", "seed", "--out", str(tmp_path / "f")])
        one_error_line(capsys, rc, "--by", "seed", "turnover")


class TestCase17Cosmetic:
    def test_argparse_errors_are_one_line(self):
        for argv in (["run"], ["sweep", "x.toml", "--workers", "two"], ["nope"], []):
            p = subprocess.run([str(DIALOGUE_SIM), *argv], capture_output=True, text=True, timeout=60)
            assert p.returncode == 2
            lines = p.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("dialogue-sim: error: "), p.stderr

    def test_a_folder_given_as_a_scenario(self, tmp_path, capsys):
        (tmp_path / "dir.toml").mkdir()
        for arg in (str(tmp_path), str(tmp_path / "dir.toml")):
            rc = main(["run", arg, "--out", str(tmp_path / "out")])
            one_error_line(capsys, rc, "is a folder")

    def test_byte_order_mark_accepted(self, tmp_path, capsys):
        f = tmp_path / "bom.toml"
        f.write_bytes(b"\xef\xbb\xbf" + ('name = "bom"\nrounds = 3\n' + SIDES).encode())
        assert load_scenario(f).name == "bom"
        e = tmp_path / "bom-exp.toml"
        e.write_bytes(b"\xef\xbb\xbf" + b'scenarios = ["lean-years"]\n')
        assert load_experiment(e).name == "bom-exp"

    def test_long_description_not_echoed(self, tmp_path, capsys):
        f = tmp_path / "long.toml"
        f.write_text(f'description = "{"x" * 9000}"\nrounds = 3\n' + SIDES)
        assert main(["run", str(f), "--out", str(tmp_path / "out")]) == 0
        assert len(capsys.readouterr().out) < 2000

    def test_huge_file_refused_without_echo(self, tmp_path, capsys):
        f = tmp_path / "huge.toml"
        f.write_text(f'description = "{"x" * 3_000_000}"\nrounds = 3\n' + SIDES)
        rc = main(["run", str(f), "--out", str(tmp_path / "out")])
        assert len(one_error_line(capsys, rc, str(f), "bytes")) < 500


class TestAuditUsersFilesBesideResults:
    """Found by the bad-input audit of 2026-11-30: a resumed sweep removed every ``*.tmp`` under
    ``--out`` and took any folder with a manifest.json; ``report`` replaced a user's answer.json
    beside its HTML and its fixed temporary name (``report.html.tmp``)."""

    def test_resume_keeps_a_users_tmp_files(self, small_sweep, tmp_path):
        import shutil

        out = tmp_path / "results"
        shutil.copytree(small_sweep, out)
        (out / "mynotes").mkdir()
        for p in (out / "mynotes" / "draft.tmp", out / "session.tmp", out / "runs" / "my-old.tmp"):
            p.write_text("mine")
        (out / "runs" / ".part-000000.parquet.tmp").write_text("half-written")  # what an interrupted sweep leaves
        (out / "runs" / "part-000001.parquet.tmp").write_text("half-written")  # and what an older version left
        from sim.batch.sweep import run_sweep

        from .conftest import small_experiment

        run_sweep(small_experiment(), out, workers=1, progress=False, resume=True)
        for p in (out / "mynotes" / "draft.tmp", out / "session.tmp", out / "runs" / "my-old.tmp"):
            assert p.read_text() == "mine", p
        assert not (out / "runs" / ".part-000000.parquet.tmp").exists()
        assert not (out / "runs" / "part-000001.parquet.tmp").exists()

    def test_resume_refuses_an_unmarked_folder_and_leaves_no_lock(self, small_sweep, tmp_path):
        mine = tmp_path / "mine"
        user_folder(mine)
        (mine / "manifest.json").write_text((small_sweep / "manifest.json").read_text())
        (mine / "cache.tmp").write_text("cache")
        before = listing(mine)
        from sim.batch.sweep import run_sweep

        from .conftest import small_experiment

        with pytest.raises(InputError, match="not a sweep results folder"):
            run_sweep(small_experiment(), mine, workers=1, progress=False, resume=True)
        assert listing(mine) == before and not (mine / ".lock").exists()

    def test_report_keeps_a_users_answer_json_and_tmp(self, small_sweep, tmp_path, capsys):
        docs = tmp_path / "docs"
        docs.mkdir()
        (docs / "answer.json").write_text("notes")
        rc = main(["report", str(small_sweep), "--no-cases", "--out", str(docs / "report.html")])
        one_error_line(capsys, rc, "--out", "answer.json", "did not write")
        assert (docs / "answer.json").read_text() == "notes" and not (docs / "report.html").exists()
        (docs / "answer.json").unlink()
        (docs / "report.html.tmp").write_text("draft")
        (docs / "answer.json.tmp").write_text("draft")
        assert main(["report", str(small_sweep), "--no-cases", "--out", str(docs / "report.html")]) == 0
        assert (docs / "report.html.tmp").read_text() == "draft" and (docs / "answer.json.tmp").read_text() == "draft"
        assert main(["report", str(small_sweep), "--no-cases", "--out", str(docs / "report.html")]) == 0  # its own: replaced


class TestAuditDamagedManifest:
    """Found by the bad-input audit of 2026-11-30: a damaged manifest.json gave tracebacks
    (JSONDecodeError, TypeError, KeyError, AttributeError) in plot, report and sweep --resume."""

    @pytest.mark.parametrize(
        "damage, field",
        [
            ("not json", "manifest"),
            ("[1]", "manifest"),
            ("{}", "experiment"),
            ({"arms": "x"}, "experiment.arms"),
            ({"analysis": [1]}, "experiment.analysis"),
            ({"design_names": 5}, "design_names"),
        ],
    )
    @pytest.mark.parametrize("command", ["plot", "report", "resume"])
    def test_one_line_naming_the_field(self, small_sweep, tmp_path, capsys, damage, field, command):
        import json
        import shutil

        out = tmp_path / "results"
        shutil.copytree(small_sweep, out)
        path = out / "manifest.json"
        if isinstance(damage, dict):
            m = json.loads(path.read_text())
            for k, v in damage.items():
                (m if k == "design_names" else m["experiment"])[k] = v
            path.write_text(json.dumps(m))
        else:
            path.write_text(damage)
        if command == "resume":
            from sim.batch.sweep import run_sweep

            from .conftest import small_experiment

            with pytest.raises(InputError, match=field.replace(".", r"\.")):
                run_sweep(small_experiment(), out, workers=1, progress=False, resume=True)
            return
        argv = ["plot", str(out), "--out", str(tmp_path / "f")] if command == "plot" else ["report", str(out), "--no-cases"]
        one_error_line(capsys, main(argv), "manifest.json", field)


class TestAuditSizesAndSpecialFiles:
    """Found by the bad-input audit of 2026-11-30: the explorer loaded any scenario (a 50-side file
    took 3.3 GB and 21 s a step) and any file size; a device or a FIFO given as a file was read
    without end or blocked."""

    def test_the_explorer_refuses_a_scenario_over_the_limits(self):
        from sim.abm.session import Session

        s = Session(load_scenario("lean-years"), seed=0)
        sides = "".join(f'[[sides]]\nname = "S{i}"\n[sides.params]\nmembers = 40\n' for i in range(50))
        with pytest.raises(InputError, match="too large for the explorer"):
            s.load(f'name = "big"\nrounds = 10\n{sides}', "big.toml")
        assert s.scenario.name == "lean-years"  # nothing changed

    def test_the_explorer_refuses_a_file_over_the_size_limit(self):
        from sim.abm.session import Session
        from sim.scenarios.loader import MAX_FILE_BYTES

        s = Session(load_scenario("lean-years"), seed=0)
        with pytest.raises(InputError, match="at most"):
            s.load(b"# " + b"x" * MAX_FILE_BYTES, "huge.toml")

    @pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
    def test_a_special_file_is_one_line(self, tmp_path, capsys, special):
        path = special
        if special == "fifo":
            path = str(tmp_path / "f.toml")
            os.mkfifo(path)
        rc = main(["sweep", path, "--out", str(tmp_path / "o")])
        one_error_line(capsys, rc, path, "not a regular file")


class TestAuditPartialOutput:
    """Found by the bad-input audit of 2026-11-30."""

    def test_an_interrupted_report_leaves_nothing_it_added(self, small_sweep, tmp_path, monkeypatch, capsys):
        """Ctrl-C during the report left figures/ and answer.json without report.html."""
        import sim.analysis.report as report

        real = report.answer.write_answer

        def write_then_interrupt(*a, **k):
            real(*a, **k)
            raise KeyboardInterrupt

        monkeypatch.setattr(report.answer, "write_answer", write_then_interrupt)
        docs = tmp_path / "docs"
        docs.mkdir()
        (docs / "mine.txt").write_text("mine")
        assert main(["report", str(small_sweep), "--no-cases", "--out", str(docs / "report.html")]) == 130
        assert sorted(p.name for p in docs.iterdir()) == ["mine.txt"]

    def test_an_out_folder_that_cannot_be_written_is_refused_before_the_work(self, tmp_path, monkeypatch, capsys):
        import sim.core.outputs as outputs

        monkeypatch.setattr(outputs.os, "access", lambda p, mode: False)
        rc = main(["run", "lean-years", "--rounds", "3", "--out", str(tmp_path / "o")])
        one_error_line(capsys, rc, "--out", "cannot be written")

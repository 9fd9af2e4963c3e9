"""The ``dialogue-sim`` command (also ``python -m sim``)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from sim.core.outputs import atomic_dir, check_out_dir, check_replaceable
from sim.core.params import PARAMS, markdown_table
from sim.scenarios import InputError, find_scenario, load_scenario, resolve, scenario_names

if TYPE_CHECKING:
    from sim.abm.model import DialogueModel
    from sim.analysis.compare import Comparison
    from sim.batch.experiment import Experiment
    from sim.scenarios import Setup

FORMATS = ("csv", "parquet")


def parse_set(items: Sequence[str], flag: str = "--set") -> dict[str, str]:
    """``["turnover=0.5", "Canada.handover=0.2"]`` → dict; validation happens in resolve()."""
    out = {}
    for item in items:
        name, eq, value = item.partition("=")
        if not eq or not name.strip() or not value.strip():
            raise InputError(flag, "argument", item, "expected name=value or SIDE.name=value")
        if name.strip() in out:
            raise InputError(flag, name.strip(), value.strip(), "given twice; allowed: each name once")
        out[name.strip()] = value.strip()
    return out


def _brief(text: str, limit: int = 100) -> str:
    """A description on one short line (long ones are cut, never echoed whole)."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def cmd_scenarios(args: argparse.Namespace) -> int:
    for name in scenario_names():
        sc = load_scenario(name)
        print(f"{name:24s} {_brief(sc.description)}")
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    if args.markdown:
        print(markdown_table())
        return 0
    for p in PARAMS.values():
        print(f"{p.name:22s} {p.scope.value:8s} default {p.default:<6g} [{p.low:g}, {p.high:g}] {p.units}: {p.meaning}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from sim.abm.model import DialogueModel
    from sim.abm.plots import plot_run

    if args.format not in FORMATS:
        raise InputError("--format", "format", args.format, f"allowed: {', '.join(FORMATS)}")
    if args.seed < 0:
        raise InputError("--seed", "seed", args.seed, "allowed: a whole number ≥ 0")
    path = find_scenario(args.scenario)
    sc = load_scenario(path)
    out = Path(args.out) if args.out else Path("runs") / f"{sc.name}-seed{args.seed}"
    check_replaceable(out, "run")
    overrides = parse_set(args.set)
    from sim.batch.limits import check_cost, setup_cost

    check_cost(setup_cost(resolve(sc, overrides, args.rounds)), str(path), allow_large=args.allow_large)
    model = DialogueModel(sc, rounds=args.rounds, overrides=overrides, rng=args.seed)
    run_with_progress(model, model.setup.rounds)
    df = model.datacollector.get_model_vars_dataframe()
    df.index.name = "round"
    agents = model.datacollector.get_agent_vars_dataframe().reset_index()
    with atomic_dir(out) as tmp:
        if args.format == "csv":
            df.to_csv(tmp / "timeseries.csv")
            agents.to_csv(tmp / "members.csv", index=False)
        else:
            df.to_parquet(tmp / "timeseries.parquet")
            agents.to_parquet(tmp / "members.parquet", index=False)
        plot_run(df, model.setup.events, model.layout.side_names, f"{sc.name} (seed {args.seed})", tmp / "curves.png")
        summary = summarize(model)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2))
        (tmp / "events.log").write_text("\n".join(model.log) + "\n")
    print(f"scenario {sc.name}: {_brief(sc.description)}")
    for k, v in summary.items():
        print(f"  {k:22s} {v}")
    print(f"wrote {out}/ (timeseries.{args.format}, members.{args.format}, curves.png, summary.json, events.log)")
    return 0


def run_with_progress(model: DialogueModel, rounds: int) -> None:
    """``model.run_for(rounds)``, with a progress bar and an ETA on a terminal (in steps of about
    1% of the rounds: the same rounds, so the same run); silent in a pipe or a file, where one
    run's few seconds need no log line."""
    if not sys.stderr.isatty():
        model.run_for(rounds)
        return
    from sim.batch.sweep import Progress

    bar = Progress(rounds, 0, label="run", unit="round")
    step = max(1, rounds // 100)
    try:
        for t in range(0, rounds, step):
            k = min(step, rounds - t)
            model.run_for(k)
            bar.update(k)
    finally:
        bar.close()


def summarize(model: DialogueModel) -> dict[str, Any]:
    """summary.json of ``run``: the run's outcomes (:data:`sim.core.metrics.OUTCOMES`, computed
    as in a sweep), rounded for reading."""
    o = model.outcomes()
    r = int(o["agreement_round"])
    return {
        "seed": model.seed,
        "rounds": int(model.steps),
        "agreement": bool(o["agreement"]),
        "agreement_round": r if r >= 0 else None,
        "meetings_held": int(o["meetings"]),
        "final_trust": round(float(o["final_trust"]), 3),
        "final_position_gap": round(float(o["final_position_gap"]), 3),
        "ideas_generated": int(o["ideas_generated"]),
        "ideas_reported": int(o["ideas_reported"]),
        "cost": round(float(o["cost"]), 2),
    }


#: The most worker processes a command starts (more would only thrash: each one is a full Python).
MAX_WORKERS = 1024


def _check_workers(workers: int | None) -> None:
    """``--workers``: absent (one per core) or a whole number in [1, MAX_WORKERS], for every command."""
    if workers is not None and not 1 <= workers <= MAX_WORKERS:
        raise InputError("--workers", "workers", workers, f"allowed: a whole number in [1, {MAX_WORKERS}]")


def cmd_sweep(args: argparse.Namespace) -> int:
    from sim.batch.executors import SweepInterrupted
    from sim.batch.experiment import Design, load_experiment, sobol_balance_note
    from sim.batch.limits import check_cost, experiment_cost
    from sim.batch.sweep import run_sweep

    _check_workers(args.workers)
    exp = load_experiment(args.experiment, full=args.full)  # every check happens here, before any run or output
    out = Path(args.out) if args.out else Path("results") / exp.name
    check_out_dir(out)
    check_cost(experiment_cost(exp), args.experiment, allow_large=args.allow_large)
    if balance := sobol_balance_note(Design(exp.design).value, exp.samples):
        print(f"dialogue-sim: warning: {balance}", file=sys.stderr)
    if args.resume:
        _check_full_matches(args, exp, out)
    print(
        f"experiment {exp.name}: {exp.n_runs} runs ({len(exp.scenarios)} scenario(s) × {len(exp.points)} point(s) × "
        f"{len(exp.arms)} arm(s) × {exp.replications} replication(s)) → {out}",
        file=sys.stderr,
    )
    try:
        summary = run_sweep(exp, out, workers=args.workers, scheduler=args.scheduler, resume=args.resume)
    except KeyboardInterrupt:
        print(f"dialogue-sim: interrupted; {_kept(out, args)}", file=sys.stderr)
        return 130
    except SweepInterrupted as e:
        print(f"dialogue-sim: error: {e}; {_kept(out, args)}", file=sys.stderr)
        return 1
    print(
        f"done: {summary['completed']}/{summary['n_runs']} runs, {summary['failed']} failed, "
        f"{summary['runs_this_session']} this session in {summary['elapsed_s']:.1f}s "
        f"({summary['runs_per_s']} runs/s, {summary['executor']}); results in {out}"
    )
    return 0


def _check_full_matches(args: argparse.Namespace, exp: Experiment, out: Path) -> None:
    """:class:`InputError` naming ``--full`` when the folder to resume was made by the other
    configuration of the same file (with ``--full`` and resumed without it, or the reverse);
    any other mismatch is left to the store's refusal, which names the fields."""
    from sim.batch.experiment import load_experiment
    from sim.core.outputs import read_manifest

    try:
        made = read_manifest(out / "manifest.json").get("fingerprint")
    except (InputError, OSError):
        return
    if made == exp.fingerprint():
        return
    try:
        other = load_experiment(args.experiment, full=not args.full)
    except InputError:
        return
    if other.fingerprint() == made:
        how = "with --full; add --full" if not args.full else "without --full; drop --full"
        raise InputError("--resume", "full", bool(args.full), f"{out} was made {how} to continue it")


def _kept(out: Path, args: argparse.Namespace) -> str:
    """What an interrupted sweep or calibration leaves: its completed chunks, or nothing yet;
    and how to go on (:func:`_again`)."""
    if out.is_dir():
        return f"completed chunks are kept in {out}; continue with {_again(args)}"
    return "nothing was written; run it again (--resume works too)"


def _again(args: argparse.Namespace) -> str:
    """The flags that continue an interrupted command: ``--resume``, with ``--full`` for a sweep
    of the ``[full]`` configuration (without it the resume is another experiment, and refused)."""
    return "--full --resume" if getattr(args, "full", False) else "--resume"


def cmd_calibrate(args: argparse.Namespace) -> int:
    from sim.analysis.calibration import run_calibration, summary_lines
    from sim.batch.calibrate import load_calibration

    _check_workers(args.workers)
    cal = load_calibration(args.experiment)  # every check happens here, before any run or output
    out = Path(args.out) if args.out else Path("results") / cal.experiment.name
    check_out_dir(out)
    from sim.batch.limits import check_cost, experiment_cost

    check_cost(experiment_cost(cal.experiment), args.experiment, allow_large=args.allow_large)  # the prior sweep, as sweep checks it
    print(
        f"calibration {cal.experiment.name}: {cal.experiment.n_runs} prior runs, "
        f"then runs under the posterior if any point is accepted → {out}",
        file=sys.stderr,
    )
    from sim.batch.executors import SweepInterrupted

    new = not out.exists()
    try:
        s = run_calibration(cal, out, workers=args.workers, resume=args.resume, scheduler=args.scheduler)
    except KeyboardInterrupt:
        print(f"dialogue-sim: interrupted; {_kept(out, args)}", file=sys.stderr)
        return 130
    except SweepInterrupted as e:  # a dead worker, an unreachable scheduler: one line, as for sweep
        if new and out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # made by this command and still empty: nothing is left
        print(f"dialogue-sim: error: {e}; {_kept(out, args)}", file=sys.stderr)
        return 1
    print("\n".join(summary_lines(s)))
    print(f"wrote {out}/ ({', '.join(s['written'])})")
    return 0


def _sweep_folder(path: str) -> Path:
    """``path`` if it looks like a sweep's results folder (manifest.json and runs/), else the one-line error."""
    p = Path(path)
    if not (p / "manifest.json").is_file() or not (p / "runs").is_dir():
        raise InputError(str(p), "results", str(p), "not a sweep results folder (needs manifest.json and runs/)")
    return p


def _results_dir(path: str, repair: bool = True, workers: int | None = None) -> Path:
    """A sweep's results folder, its damaged or lost parts recomputed first (unless not
    ``repair``); says on stderr (one line each) what was recomputed and what is still missing."""
    from sim.batch.store import describe_status, status
    from sim.core.outputs import read_manifest

    p = _sweep_folder(path)
    read_manifest(p / "manifest.json")  # a damaged one is the error, before any repair is tried
    if repair:
        _repair_parts(p, workers)
    try:
        line = describe_status(status(p))
    except (ValueError, KeyError, OSError):
        raise InputError(str(p), "manifest.json", str(p / "manifest.json"), "unreadable; allowed: a folder written by 'sweep'") from None
    if line:
        print(f"dialogue-sim: warning: {p}: {line}", file=sys.stderr, flush=True)
    return p


def _repair_parts(folder: Path, workers: int | None = None) -> None:
    """Recompute the damaged or lost parts of a results folder through the sweep's resume path
    (the report itself runs no simulation), saying so in one line; a warning if it cannot be."""
    from sim.batch.sweep import repair

    try:
        fixed = repair(folder, workers=workers)
    except (InputError, OSError) as e:
        print(f"dialogue-sim: warning: damaged or lost parts not recomputed: {e}", file=sys.stderr, flush=True)
        return
    except (ValueError, KeyError):
        return  # an unreadable manifest: _results_dir says so
    if fixed:
        ids = ", ".join(map(str, fixed[:10])) + (", …" if len(fixed) > 10 else "")
        print(f"dialogue-sim: recomputed {len(fixed)} damaged or lost chunk(s) of {folder} (chunks {ids})", file=sys.stderr, flush=True)


def plot_choices(manifest: dict) -> tuple[list[str], list[str]]:
    """The kept time-series metrics and the ``--by`` choices (arm, scenario, swept parameters) of a
    results folder, from its manifest alone."""
    spec = manifest.get("experiment", {})
    return list(spec.get("timeseries", [])), ["arm", "scenario", *manifest.get("design_names", [])]


def cmd_plot(args: argparse.Namespace) -> int:
    import os
    import time

    t0 = time.monotonic()
    folder = _sweep_folder(args.results)
    try:  # every argument is checked against the manifest before any data is read or module loaded
        from sim.core.outputs import read_manifest

        manifest = read_manifest(folder / "manifest.json")
        kept, by_choices = plot_choices(manifest)
        n_arms = len(manifest["experiment"]["arms"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(str(folder / "manifest.json"), "manifest", "unreadable", f"a manifest written by 'sweep' ({e})") from None
    swept = ", ".join(by_choices[2:]) or "none swept here"
    if args.svg and args.no_svg:
        raise InputError("--svg", "svg", "--svg --no-svg", "allowed: one of them")
    for m in args.metric:
        if m not in kept:
            raise InputError("--metric", "metric", m, f"not kept in these results; allowed: {', '.join(kept)} (swept parameters: {swept})")
    if args.by not in by_choices:
        raise InputError(
            "--by", "by", args.by, f"allowed: arm, scenario or a swept parameter ({swept}); kept metrics: {', '.join(kept) or 'none'}"
        )
    _check_workers(args.workers)
    out = Path(args.out) if args.out else folder / "figures"
    check_replaceable(out, "figures")

    from sim.analysis.figure_set import DEFAULT_METRICS, close_pool, drawing_pool, figure_jobs, make_figures

    metrics = list(dict.fromkeys(args.metric)) or [m for m in DEFAULT_METRICS if m in kept]  # a metric named twice: once
    total = len(figure_jobs(metrics, args.by, n_arms))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    workers = min(args.workers or cores, total)  # drawing processes; 1: draw in this process
    pool = None
    try:
        pool = drawing_pool(workers) if workers > 1 else None  # they start while the data are read
        from sim.analysis.results import ResultColumns
        from sim.batch.store import verify_once

        with verify_once():  # repair, status and the readers (runs now, time series later) hash each part once
            folder = _results_dir(args.results, repair=not args.no_repair)
            res = ResultColumns.load(folder, metrics, args.by)  # the time series are read after the survival figure is sent
            print(f"plot: read {len(res.runs)} runs in {time.monotonic() - t0:.1f}s", file=sys.stderr, flush=True)
            t1, done, first = time.monotonic(), [0], [0.0]

            def progress(name: str) -> None:
                done[0] += 1
                el = time.monotonic() - t1
                if done[0] == 1:
                    first[0] = el
                eta = figure_eta(el, first[0], done[0], total, workers)
                line = f"plot: {done[0]}/{total} figures ({name}), {time.monotonic() - t0:.1f}s elapsed, ETA {eta}"
                print(line, file=sys.stderr, flush=True)

            fmts = ("png", "svg") if args.svg and not args.no_svg else ("png",)
            with atomic_dir(out, "figures", keep=True) as tmp:  # the report's other figures stay
                figs = make_figures(res, tmp, metrics, by=args.by, progress=progress, formats=fmts, pool=pool)
    finally:
        if pool is not None:
            close_pool(pool)
    n = sum(len(v) for v in figs.values())
    print(f"wrote {n} figures ({' and '.join(f.upper() for f in fmts)}) to {out}")
    return 0


def figure_eta(elapsed: float, first: float, done: int, total: int, workers: int) -> str:
    """The time left to draw ``total`` figures, ``done`` of them in after ``elapsed`` seconds, the
    first after ``first``: the pace since the first figure (which alone pays the drawing processes'
    start-up, several times a figure's cost); "estimating" until the first batch of ``workers``
    parallel drawings (at least two figures) is in."""
    if done < max(workers, 2):
        return "estimating"
    return f"{(elapsed - first) / (done - 1) * (total - done):.0f}s"


def cmd_compare(args: argparse.Namespace) -> int:
    from sim.scenarios import resolve

    if args.runs < 1:
        raise InputError("--runs", "runs", args.runs, "allowed: a whole number ≥ 1")
    if args.seed < 0:
        raise InputError("--seed", "seed", args.seed, "allowed: a whole number ≥ 0")
    if args.rounds is not None and args.rounds < 1:
        raise InputError("--rounds", "rounds", args.rounds, "allowed: a whole number ≥ 1")
    sides = []
    for name, sets, flag in ((args.a, args.set_a, "--set-a"), (args.b or args.a, args.set_b, "--set-b")):
        sc = load_scenario(find_scenario(name))
        overrides = parse_set(sets, flag)
        setup = resolve(sc, overrides, args.rounds, overrides_source=flag)  # every check happens here, before any run
        label = sc.name + "".join(f" {k}={v}" for k, v in overrides.items())
        sides.append((sc, setup, label))
    (sa, a, la), (sb, b, lb) = sides
    if args.rounds is None and a.rounds != b.rounds:  # both run to the shorter horizon: no event may fall past it
        horizon = min(a.rounds, b.rounds)
        for sc, setup, _ in sides:
            late = [e for e in setup.events if e.round > horizon]
            if late:
                need = max(e.round for e in late)
                raise InputError(
                    "--rounds",
                    "rounds",
                    f"{horizon} (the shorter scenario's)",
                    f"{sc.name} has a {late[0].kind.value} event at round {late[0].round}, past it; allowed: --rounds N with N ≥ {need}",
                )
    from sim.batch.ensemble import BATCH
    from sim.batch.limits import check_cost, setup_cost

    for sc, setup, _ in sides:  # --runs 100000000 was a MemoryError after a long wait
        check_cost(setup_cost(setup, runs=args.runs, batch=min(args.runs, BATCH)), sc.name, allow_large=args.allow_large)
    if la == lb:
        raise InputError(
            "--set-b", "set_b", "(none)", "A and B are the same setting; change B with a second scenario or --set-b NAME=VALUE"
        )
    out = Path(args.out) if args.out else Path("runs") / "compare"
    check_out_dir(out)
    if out.is_dir() and any(out.iterdir()) and not (out / "compare.csv").exists():
        raise InputError(
            "--out", "out", str(out), "holds something other than a comparison; allowed: a new folder or an earlier comparison"
        )

    from sim.analysis.figures import compare_figure

    seeds = list(range(args.seed, args.seed + args.runs))
    print(f"compare: {args.runs} run(s) each of A and B on seeds {seeds[0]}–{seeds[-1]} …", file=sys.stderr, flush=True)
    comp = compare_with_progress(a, b, seeds, la, lb, args.rounds)
    table = comp.table()
    events = sorted({(e.round, e.kind.value) for e in [*a.events, *b.events]})
    with atomic_dir(out) as tmp:
        table.to_csv(tmp / "compare.csv", index=False)
        compare_figure(comp, tmp, events=events)
    print(f"A = {la}\nB = {lb}\n{table.to_string(index=False)}")
    print(f"wrote {out}/ (compare.csv, compare.png, compare.svg)")
    return 0


def compare_with_progress(a: Setup, b: Setup, seeds: list[int], la: str, lb: str, rounds: int | None) -> Comparison:
    """:func:`sim.analysis.compare.compare`, with progress and an ETA on stderr (counting runs, A's
    then B's, as rounds of them are done: the same runs, so the same results): a bar on a
    terminal, a plain line every few seconds and at the end elsewhere, as a sweep's."""
    from sim.analysis.compare import compare
    from sim.batch.sweep import Progress

    bar = Progress(2 * len(seeds), 0, label="compare", unit="run")
    try:
        return compare(a, b, seeds, la, lb, rounds=rounds, on_runs=bar.update)
    finally:
        bar.close()


REPORT_TITLE = "<title>Report: "


def _ours_answer(path: Path) -> bool:
    """``path`` is absent or an answer.json an earlier report wrote (JSON with its question)."""
    if not path.exists():
        return True
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    from sim.analysis.answer import QUESTION

    return isinstance(d, dict) and d.get("question") == QUESTION and "fingerprint" in d


def _check_report_target(target: Path) -> None:
    """Every file a report at ``target`` replaces is one dialogue-sim wrote: the HTML, its
    answer.json and the ``figures`` folder beside it (checked again just before they are replaced)."""
    if target.is_dir():
        raise InputError("--out", "out", str(target), "is a folder; allowed: a .html file path")
    if target.exists():
        with open(target, "rb") as f:
            head = f.read(4096).decode("utf-8", "replace")
        if REPORT_TITLE not in head:
            raise InputError("--out", "out", str(target), "is a file dialogue-sim did not write; allowed: a new .html file path")
    check_out_dir(target.parent)
    from sim.analysis.report import answer_path

    if not _ours_answer(answer_path(target)) or answer_path(target).is_dir():
        raise InputError(
            "--out", "out", str(answer_path(target)), "is a file dialogue-sim did not write (the report's answer.json); allowed: a new path"
        )
    check_replaceable(target.parent / "figures", "figures")


def _design_notes(results: Path) -> list[str]:
    """What the user should know about a Sobol design before reading its indices, in one line each:
    too few base samples for the CIs, or a count that is not a power of 2 (SciPy's Sobol' points
    lose their balance: the sweep's "balance properties" warning)."""
    from sim.analysis.sensitivity import MIN_BASE
    from sim.core.outputs import read_manifest

    spec = read_manifest(results / "manifest.json")["experiment"]
    n = spec.get("samples")
    if spec.get("design") != "sobol" or not isinstance(n, int) or n < 1:
        return []
    notes = []
    if n < MIN_BASE:
        notes.append(
            f"the Sobol design has {n} base sample(s), too few for the bootstrap CIs of its indices to mean anything "
            f"(the convergence figure starts at {MIN_BASE}): read the Sensitivity section as a placeholder"
        )
    from sim.batch.experiment import sobol_balance_note

    if balance := sobol_balance_note("sobol", n):
        notes.append(balance)
    return notes


@contextlib.contextmanager
def _notes_as_lines() -> Iterator[None]:
    """The analysis's notes (:class:`sim.analysis.stats.AnalysisNote`: something about its input
    the user should know, in the project's terms) as one line each on stderr, each once; any other
    warning is shown as Python shows it."""
    import warnings
    from typing import TextIO

    from sim.analysis.stats import AnalysisNote

    said: set[str] = set()
    with warnings.catch_warnings():
        warnings.simplefilter("always", AnalysisNote)  # every one reaches the line below (said once there)
        show = warnings.showwarning

        def said_once(
            message: Warning | str, category: type[Warning], filename: str, lineno: int, file: TextIO | None = None, line: str | None = None
        ) -> None:
            if not issubclass(category, AnalysisNote):
                show(message, category, filename, lineno, file, line)
                return
            msg = " ".join(str(message).split())
            if msg not in said:
                said.add(msg)
                print(f"dialogue-sim: warning: {msg}", file=sys.stderr, flush=True)

        warnings.showwarning = said_once
        yield


def cmd_report(args: argparse.Namespace) -> int:
    from sim.analysis.report import answer_path, build_report
    from sim.core.staging import staged

    _check_workers(args.workers)
    res = _results_dir(args.results, repair=not args.no_repair, workers=args.workers)
    target = Path(args.out) if args.out else res / "report.html"
    _check_report_target(target)
    case_results = []
    if not args.no_cases:
        from sim.analysis.cases import run_cases

        case_results = run_cases()  # a separate step: the report only reads their results
    from sim.analysis.decompose import run_declared
    from sim.batch.executors import SweepInterrupted

    try:  # the transplant runs, also a separate step, on the same executors as a sweep
        decomposition = run_declared(res, workers=args.workers, scheduler=args.scheduler, progress=True)
    except SweepInterrupted as e:
        print(f"dialogue-sim: error: the decomposition's runs: {e}; no report was written", file=sys.stderr)
        return 1
    for note in _design_notes(res):
        print(f"dialogue-sim: warning: {note}", file=sys.stderr, flush=True)
    with _notes_as_lines():
        path = staged(
            target,
            lambda at: build_report(res, at, cases=case_results, decomposition=decomposition),
            companions=[answer_path(target)],
            folder="figures",
            check=_check_report_target,
        )
    print(f"wrote {path}")
    return 0


def warm_up() -> None:
    """Five rounds of a shipped scenario in this process, so that numba's loops are compiled (or
    loaded from its cache) before the explorer's first page asks for a model, not while it waits."""
    from sim.abm.model import DialogueModel

    DialogueModel(load_scenario(find_scenario("lean-years")), rounds=5, rng=0).run_for(5)


def cmd_app(args: argparse.Namespace) -> int:
    """Serve the explorer in this process: SIGINT and SIGTERM stop it, no child is left."""
    if not 0 < args.port < 65536:
        raise InputError("--port", "port", args.port, "allowed: a whole number in [1, 65535]")
    import socket

    from sim.abm.server import serve

    with socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET) as probe:  # before the URL is printed
        try:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: a port left in TIME_WAIT by a stop is free
            probe.bind((args.host, args.port))
        except OSError as e:
            import errno

            if isinstance(e, socket.gaierror) or e.errno == errno.EADDRNOTAVAIL:  # the host, not the port
                allowed = "allowed: an address of this machine, such as 127.0.0.1 or 0.0.0.0"
                raise InputError("--host", "host", args.host, f"cannot be listened on ({e.strerror}); {allowed}") from None
            raise InputError("--port", "port", args.port, f"cannot be used on {args.host} ({e.strerror}); allowed: a free port") from None
    try:
        warm_up()
        print(f"explorer on http://{args.host}:{args.port}/ (Ctrl-C stops it)", file=sys.stderr, flush=True)
        serve(args.host, args.port)
    except KeyboardInterrupt:  # Ctrl-C, also during the warm-up's compile: no traceback
        return 130
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block): ``dialogue-sim: error: ...``, exit 2."""

    def error(self, message: str) -> NoReturn:
        msg = " ".join(message.split())
        self.exit(2, f"dialogue-sim: error: {self.prog}: {msg} (see '{self.prog} --help')\n")


NO_REPAIR = "do not recompute damaged or lost result parts; only say which they are"


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="dialogue-sim", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("scenarios", help="list the shipped scenarios")
    p.set_defaults(func=cmd_scenarios)
    p = sub.add_parser("params", help="list the parameters (name, scope, default, bounds, units, meaning)")
    p.add_argument("--markdown", action="store_true")
    p.set_defaults(func=cmd_params)
    p = sub.add_parser("run", help="run one scenario and write its time series and curves")
    p.add_argument("scenario", help="a scenario name (see 'scenarios') or a path to a TOML file")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a parameter for all sides, or SIDE.NAME=VALUE for one side",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--out", default=None, help="output folder (default runs/SCENARIO-seedN)")
    p.add_argument("--format", default="csv", help="csv or parquet")
    p.add_argument("--allow-large", action="store_true", help="run even if the estimated work or memory is over the limits")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("sweep", help="run an experiment file, writing Parquet results as it goes")
    p.add_argument("experiment", help="an experiment TOML file (see experiments/)")
    p.add_argument("--workers", type=int, default=None, help="local worker processes (default: all cores; 1 = serial)")
    p.add_argument("--scheduler", default=None, metavar="ADDR", help="a Dask scheduler, e.g. tcp://HOST:8786")
    p.add_argument("--out", default=None, help="results folder (default results/EXPERIMENT)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted sweep in --out")
    p.add_argument("--full", action="store_true", help="apply the experiment's [full] table (e.g. more replications)")
    p.add_argument("--allow-large", action="store_true", help="run even if the estimated work or memory is over the limits")
    p.set_defaults(func=cmd_sweep)
    p = sub.add_parser("calibrate", help="pattern-oriented calibration by rejection ABC (resumable)")
    p.add_argument("experiment", help="a calibration TOML file (see experiments/calibration.toml)")
    p.add_argument("--workers", type=int, default=None, help="local worker processes (default: all cores; 1 = serial)")
    p.add_argument("--out", default=None, help="results folder (default results/NAME)")
    p.add_argument("--scheduler", default=None, metavar="ADDR", help="a Dask scheduler for the sweeps, e.g. tcp://HOST:8786")
    p.add_argument("--resume", action="store_true", help="continue an interrupted calibration in --out")
    p.add_argument("--allow-large", action="store_true", help="run even if the prior sweep's estimated work or memory is over the limits")
    p.set_defaults(func=cmd_calibrate)
    p = sub.add_parser("plot", help="figures from a sweep's results folder")
    p.add_argument("results", help="a results folder written by 'sweep'")
    p.add_argument("--metric", action="append", default=[], help="a kept time-series metric (repeatable)")
    p.add_argument("--by", default="arm", help="colour curves by arm (default), scenario or a swept parameter")
    p.add_argument("--out", default=None, help="folder for the figures (default RESULTS/figures)")
    p.add_argument("--workers", type=int, default=None, help="processes drawing figures (default: all cores; 1 = serial)")
    p.add_argument("--svg", action="store_true", help="also write each figure as SVG (slower; the report's figures always are)")
    p.add_argument("--no-svg", action="store_true", help="PNG only (the default)")
    p.add_argument("--no-repair", action="store_true", help=NO_REPAIR)
    p.set_defaults(func=cmd_plot)
    p = sub.add_parser("compare", help="two settings or scenarios on the same seeds: difference figure and table")
    p.add_argument("a", help="scenario A (a name or a TOML file)")
    p.add_argument("b", nargs="?", default=None, help="scenario B (default: the same as A, changed with --set-b)")
    p.add_argument("--set-a", action="append", default=[], metavar="NAME=VALUE", help="override a parameter in A")
    p.add_argument("--set-b", action="append", default=[], metavar="NAME=VALUE", help="override a parameter in B")
    p.add_argument("--runs", type=int, default=1, help="runs of each (seeds SEED … SEED+RUNS−1, the same for A and B)")
    p.add_argument("--seed", type=int, default=0, help="the first seed")
    p.add_argument("--rounds", type=int, default=None, help="horizon (default: the shorter of the two scenarios')")
    p.add_argument("--out", default=None, help="output folder (default runs/compare)")
    p.add_argument("--allow-large", action="store_true", help="run even if the estimated work or memory is over the limits")
    p.set_defaults(func=cmd_compare)
    p = sub.add_parser("report", help="one self-contained HTML report of a sweep")
    p.add_argument("results", help="a results folder written by 'sweep'")
    p.add_argument("--out", default=None, help="the HTML file (default RESULTS/report.html)")
    p.add_argument("--no-cases", action="store_true", help="skip the case-study runs")
    p.add_argument("--workers", type=int, default=None, help="processes for the decomposition's runs (default: all cores; 1 = serial)")
    p.add_argument("--scheduler", default=None, metavar="ADDR", help="a Dask scheduler for the decomposition's runs, e.g. tcp://HOST:8786")
    p.add_argument("--no-repair", action="store_true", help=NO_REPAIR)
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("app", help="the interactive explorer in the browser (Solara)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.set_defaults(func=cmd_app)
    return ap


#: Commands that run the model, and so may compile its loops.
MODEL_COMMANDS = ("run", "sweep", "calibrate", "compare", "app")
COMPILING = "dialogue-sim: compiling the model's loops (once after installing or changing sim/core/rules.py; 10-20 s)"


@contextlib.contextmanager
def compile_notice() -> Iterator[None]:
    """Say once on stderr, when it is a terminal, that numba starts compiling (its ``numba:compile``
    event fires on a cache miss only), so that a fresh install's first 10-20 s are not silent.
    Forked sweep workers inherit the listener and say it for themselves when they compile. Not
    said into a pipe or a file, where no one waits on the line (and output stays the same whether
    or not the cache was warm)."""
    if not sys.stderr.isatty():
        yield
        return
    from numba.core import event

    class Notice(event.Listener):
        said = False

        def on_start(self, ev: event.Event) -> None:
            if not self.said:
                self.said = True
                print(COMPILING, file=sys.stderr, flush=True)

        def on_end(self, ev: event.Event) -> None:
            pass

    with event.install_listener("numba:compile", Notice()):
        yield


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with compile_notice() if args.command in MODEL_COMMANDS else contextlib.nullcontext():
            return args.func(args)
    except InputError as e:
        print(f"dialogue-sim: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C in a command without a message of its own: no traceback
        print("dialogue-sim: interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # disk full, permissions, a vanished folder: one line, not a traceback
        where = f"{e.filename}: " if e.filename else ""
        hint = f"; completed chunks are kept, continue with {_again(args)}" if args.command == "sweep" else ""
        print(f"dialogue-sim: error: {where}{e.strerror or e}{hint}", file=sys.stderr)
        return 1


def entry() -> NoReturn:
    """The ``dialogue-sim`` console script and ``python -m sim``: :func:`main`, then the
    interpreter's shutdown with Ctrl-C ignored. By then the command's work is done and its exit
    status decided; a Ctrl-C during the clean-up that follows (multiprocessing joining its worker
    pools' finalizers) would only print a traceback from it. SIGTERM still ends a stuck shutdown."""
    import signal

    code = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(code)


if __name__ == "__main__":
    entry()

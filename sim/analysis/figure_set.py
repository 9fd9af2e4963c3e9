"""The standard figures of a results folder (outcome and paired-difference curves per metric,
Kaplan–Meier time to agreement), drawn one after another or in forked worker processes that
share the loaded data. Used by ``dialogue-sim plot`` and by the report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sim.analysis import figures
from sim.analysis.results import Results

DEFAULT_METRICS = ("agreement", "trust", "progress", "ideas_reported", "cost")


def make_figures(
    res: Results,
    out: Path,
    metrics: list[str] | None = None,
    by: str = "arm",
    progress: Callable[[str], None] | None = None,
    workers: int = 1,
    formats: tuple[str, ...] = ("png", "svg"),
) -> dict[str, list[Path]]:
    """Every figure of the report, saved under ``out`` (PNG, and SVG unless ``formats`` says
    otherwise); ``progress`` is called with each figure's name as it is written. With
    ``workers`` > 1 the figures are drawn in that many forked processes (the data are shared)."""
    metrics = metrics or [m for m in DEFAULT_METRICS if m in res.ts]
    jobs = [("survival", "")]
    for m in metrics:
        if len(res.arms) > 1 and by == "arm":
            jobs.append(("diff", m))
        jobs.append(("curves", m))
    global _JOB
    _JOB = (res, Path(out), by, formats)
    note = progress or (lambda name: None)
    paths: dict[tuple[str, str], Path] = {}
    try:
        if workers > 1 and len(jobs) > 1:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor, as_completed

            import scipy.special  # noqa: F401 (the bands' t quantiles: imported once here, not in every worker)

            for m in metrics:  # built once here, shared with the forked workers
                figures.dense(res.ts, m)
            with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=mp.get_context("fork")) as pool:
                futures = {pool.submit(_figure_job, j): j for j in jobs}
                for f in as_completed(futures):
                    paths[futures[f]] = f.result()
                    note(paths[futures[f]].stem)
        else:
            for j in jobs:
                paths[j] = _figure_job(j)
                note(paths[j].stem)
    finally:
        _JOB = None
    figs: dict[str, list[Path]] = {"curves": [], "survival": [paths[jobs[0]]], "phase": [], "sensitivity": []}
    figs["curves"] = [paths[j] for j in jobs[1:]]
    return figs


_JOB: tuple | None = None  # what _figure_job draws from (set by make_figures, inherited by forked workers)


def _figure_job(job: tuple[str, str]) -> Path:
    assert _JOB is not None, "set by make_figures"
    res, out, by, formats = _JOB
    kind, m = job
    events = _events(res)
    with figures.formats(formats):
        if kind == "survival":
            return figures.survival_curves(
                res.runs, {s: res.shift for s in res.scenarios}, {s: res.horizon(s) for s in res.scenarios}, out, by=by
            )
        if kind == "diff":
            return figures.difference_curves(res.runs, res.ts, m, res.treatment, res.reference, out, events=events, shift=res.shift)
        return figures.outcome_curves(res.runs, res.ts, m, out, by=by, events=events, shift=res.shift)


def _events(res: Results) -> dict[str, list[tuple[int, str]]]:
    """Each scenario's event marks (round, label) as kept in the manifest."""
    events = {sc: [(int(e[0]), str(e[1])) for e in evs] for sc, evs in res.manifest.get("events", {}).items()}
    if not events and res.shift:  # results written before scenario events were kept in the manifest
        events = {sc: [(res.shift, "shift")] for sc in res.scenarios}
    return events

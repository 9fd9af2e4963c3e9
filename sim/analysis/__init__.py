"""From stored results to answers: statistics, figures for sweeps, case studies and the report.

The report reads a sweep's results folder (through :mod:`sim.batch.store`) and case-study
results computed beforehand (:func:`sim.analysis.cases.run_cases`); it runs no simulation itself."""

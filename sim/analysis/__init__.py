"""From stored results to answers: statistics, figures for sweeps, case studies and the report."""

"""The model itself, in numpy (numba compiles the rules' loops over small arrays): the parameter spec, the input types, the state arrays,
the rules, one round (:func:`sim.core.step.step`) and the metrics.

Nothing here imports Mesa, TOML, pandas or anything above it; both the per-run Mesa model
(:mod:`sim.abm`) and the ensemble (:mod:`sim.batch`) call these same functions.
"""

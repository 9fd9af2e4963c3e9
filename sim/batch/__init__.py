"""Many runs, along the flow: :mod:`~sim.batch.ensemble` (a batch of runs advanced together by
the same rules) < :mod:`~sim.batch.experiment` (spec, validation, design, seeds, chunk plan) <
:mod:`~sim.batch.store` (the Parquet results folder and its readers) <
:mod:`~sim.batch.executors` (serial, local processes, Dask, behind one interface) <
:mod:`~sim.batch.sweep` (plan, resume, progress)."""

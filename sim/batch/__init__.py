"""Many runs: the ensemble (a batch of runs advanced together by the same rules), the
experiment spec (design, arms, seeds), the executors and the Parquet result store."""

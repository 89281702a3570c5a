"""Running a bake-off: the plan, the scheduler with its limits, and the local and Ray executors."""

"""Running a bake-off: the validated request, task selection, the plan, the scheduler with its
limits, the local and Ray executors, the dry-run estimate, and `bakeoff apply`'s writes."""

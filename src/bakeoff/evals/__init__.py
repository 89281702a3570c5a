"""Evaluation, as four packages in layer order: `store` (records, the SQLite store and its
migrations), `trial` (a task, its workspace, the check, the tamper scan, the judge), `verdict`
(grades, statistics, comparisons, recommendations) and `run` (the request, the scheduler, the
executors); `suite/` holds the built-in tasks as data, `observer` what a running bake-off
reports."""

"""One trial: the task, its workspace, the agent's changes, the check, the tamper scan and
the judge."""

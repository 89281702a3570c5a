"""Reports: the terminal tables and the live board, the self-contained HTML page, and exports
(JSON, JSONL, CSV, Inspect's eval log). They read a graded outcome and the `Observer` protocol,
never the runner."""

"""Reports: the terminal tables, the self-contained HTML page, and JSON/CSV export."""

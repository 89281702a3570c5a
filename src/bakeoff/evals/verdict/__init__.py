"""The verdict: grades, statistics, paired comparisons, calibration, recommendations and routing."""

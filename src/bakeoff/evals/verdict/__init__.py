"""The verdict: grades, statistics, paired comparisons, the work compared, calibration,
recommendations, routing, the graded outcome of a stored run and the names models are shown
under."""

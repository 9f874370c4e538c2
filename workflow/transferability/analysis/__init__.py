"""From metrics files to the results: the results table, which nets count, statistics,
the claims and their report, the figures and the report tables."""

"""Statistics for a region and a period (API.md Release 2, "Statistics and map")."""

"""The map of published offers and needs at their coarse points (API.md Release 2, "Statistics and map")."""

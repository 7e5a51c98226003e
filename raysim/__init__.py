"""raysim."""

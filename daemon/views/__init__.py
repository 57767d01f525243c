"""The read model, for the CLI and the dashboard: what a run, a model's history and a run's files look like,
as plain dicts of JSON types. Reads only: the rows come from store/reads.py, the figures from the run records."""

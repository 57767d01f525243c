"""Workflows: YAML -> typed records (model, loader), expressions (expr), job plan (planner), run (runner)."""

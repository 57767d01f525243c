"""Executors: where jobs run. EXECUTORS maps a name to a factory taking the settings."""

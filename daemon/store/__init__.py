"""The SQLite job store: runs, jobs, steps (and the delivery outbox of the reporters)."""

from daemon.store.db import RUN_DONE, Store

__all__ = ["RUN_DONE", "Store"]

"""The shared queue, when `[queue] url` is set: opened once per process, its schema checked."""

from __future__ import annotations

from daemon.settings import Settings, host_name
from daemon.store import pgschema
from daemon.store.postgres import Engine
from daemon.store.queue import Queue


def open_queue(settings: Settings) -> Queue | None:
    """None when no queue is configured (SQLite alone). Raises QueueUnavailable or QueueSchemaError."""
    if not settings.queue.url:
        return None
    engine = Engine(settings.queue.url, max_size=settings.parallel_runs + 4, name=f"benchd@{host_name(settings)}")
    try:
        pgschema.require_latest(engine)
    except BaseException:
        engine.close()
        raise
    return Queue(engine)

"""Journal events <-> JSON objects, for a job's events to travel from the host that ran it to the host that
folds the run (through the queue's database): `{"type": "StepFinished", "job_id": …, "step": {…}}`.

Driven by each event's fields and type hints, as the records are (codec.py): records come back as their
types, lists as tuples where the field is one. Only the classes in EVENTS are built, and only from their
fields: nothing in the data is imported, evaluated or unpickled.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from daemon.record.codec import dump_value, load_value, type_hints
from daemon.record.events import (
    Event,
    JobFinished,
    JobStarted,
    Log,
    MetricsRecorded,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
)

EVENTS: dict[str, type[Any]] = {cls.__name__: cls for cls in (
    RunStarted, JobStarted, StepStarted, StepFinished, JobFinished, MetricsRecorded, Log, RunFinished)}


def dump_event(event: Event) -> dict[str, Any]:
    name = type(event).__name__
    if EVENTS.get(name) is not type(event):
        raise TypeError(f"not a journal event: {event!r}")
    return {"type": name, **{f.name: dump_value(getattr(event, f.name)) for f in dataclasses.fields(event)}}


def load_event(data: Mapping[str, Any]) -> Event:
    """The event `data` describes; ValueError if it is no event of this benchd's (a field missing or unknown)."""
    if not isinstance(data, Mapping):
        raise ValueError(f"an event is a JSON object, not {type(data).__name__}")
    name = data.get("type")
    cls = EVENTS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"unknown event type {name!r} (known: {', '.join(EVENTS)})")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    missing = [n for n, f in fields.items() if n not in data and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    unknown = [k for k in data if k != "type" and k not in fields]
    if missing or unknown:  # hosts on different benchd versions: say so rather than fold half an event
        said = "; ".join(f"{what}: {', '.join(keys)}" for what, keys in (("missing", missing), ("unknown", unknown))
                         if keys)
        raise ValueError(f"{name} event does not match this benchd's ({said})")
    hints = type_hints(cls)  # type: ignore[arg-type]  # as in codec.py: functools.cache types its key as Hashable
    event: Event = cls(**{k: load_value(hints[k], v) for k, v in data.items() if k != "type"})
    return event

"""Dataclass <-> JSON dict, driven by the type hints, so each record type is only its fields.

Keys the record does not know are kept in `extra` (in their order) and written back after the known
ones: a newer benchd's result.json still loads, and load → dump gives the same bytes.
A field with metadata `omit=True` is left out of the JSON while it is None (`skip_reason`, `matrix`…).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T", bound="Record")

OMIT: Mapping[str, Any] = {"omit": True}


def omitted(default: Any = None) -> Any:
    """A field left out of the JSON while it is None."""
    return dataclasses.field(default=default, metadata=OMIT)


@dataclasses.dataclass(frozen=True)
class Record:
    """Base of every record type: `to_dict()` / `from_dict()`."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if value is None and f.metadata.get("omit"):
                continue
            out[f.name] = dump_value(value)
        out.update(getattr(self, "extra", {}))
        return out

    @classmethod
    def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
        if not isinstance(data, Mapping):
            raise ValueError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
        hints = type_hints(cls)  # type: ignore[arg-type]
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        kwargs = {name: load_value(hints[name], data[name]) for name in known if name in data}
        if "extra" in hints:
            kwargs["extra"] = {k: v for k, v in data.items() if k not in known}
        return cls(**kwargs)


@cache
def type_hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def dump_value(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, tuple | list):
        return [dump_value(v) for v in value]
    if isinstance(value, Mapping):
        return {k: dump_value(v) for k, v in value.items()}
    return value


def load_value(hint: Any, value: Any) -> Any:
    """Build `value` as `hint` says: records, tuples of records, optional records; JSON as it is."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return load_value(options[0], value) if len(options) == 1 else value
    if origin is tuple:
        item = typing.get_args(hint)[0]
        if not isinstance(value, list | tuple):
            raise ValueError(f"expected a list, got {type(value).__name__}")
        return tuple(load_value(item, v) for v in value)
    if isinstance(hint, type) and issubclass(hint, Record):
        return hint.from_dict(value)
    return value

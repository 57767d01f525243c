"""The firmware's `BENCHD_RESULT {json}` line (ARCHITECTURE.md section 7), both versions, as a typed value.

Version 1 (no "v"): model_sha256, cycles, top, ok. Version 2 ("v": 2) adds "instructions" (the virtual core)
or "cycles" (a real board), and the output: "out" (every byte, as a signed byte, when there are at most 64:
an int8 output's values; an int16 or float32 output little-endian, byte for byte) or "out_sha256". Pure
functions, no I/O: the monitor (real and simulated boards) and the virtual core share it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

RESULT_PREFIX = "BENCHD_RESULT "
VERSIONS = (1, 2)
_SHA256 = re.compile(r"[0-9a-f]{64}")


class ResultLineError(ValueError):
    """A BENCHD_RESULT line that is not valid JSON or breaks the contract; the message says how."""


@dataclass(frozen=True)
class InferenceResult:
    version: int
    ok: bool
    model_sha256: str | None = None
    cycles: int | None = None  # a real board's cycle counter
    instructions: int | None = None  # retired instructions on the virtual core
    top: tuple[tuple[int, int], ...] = ()
    out: tuple[int, ...] | None = None  # the whole output's bytes as int8 (version 2, at most 64)
    out_sha256: str | None = None  # the output's hash when it is larger
    vector: int | None = None
    error: str | None = None  # what the firmware said went wrong


def parse_line(line: str) -> InferenceResult | None:
    """The result a console line carries, None when it carries none; ResultLineError when it is broken."""
    if RESULT_PREFIX not in line:
        return None
    payload = line.split(RESULT_PREFIX, 1)[1].strip()
    try:
        value = json.loads(payload)
    except ValueError as exc:
        raise ResultLineError(f"BENCHD_RESULT is not JSON ({exc}): {payload[:200]!r}") from exc
    return parse_result(value)


def parse_result(value: Any) -> InferenceResult:
    """Checks one decoded BENCHD_RESULT object of either version."""
    if not isinstance(value, dict):
        raise ResultLineError(f"BENCHD_RESULT must be a JSON object, not {type(value).__name__}")
    version = value.get("v", 1)
    if version not in VERSIONS:
        raise ResultLineError(f"BENCHD_RESULT version {version!r} is unknown (benchd reads {VERSIONS})")
    ok = value.get("ok", True)
    if not isinstance(ok, bool):
        raise ResultLineError(f"BENCHD_RESULT \"ok\" must be true or false, not {ok!r}")
    sha = _optional(value, "model_sha256", str)
    if sha is not None and not _SHA256.fullmatch(sha):
        raise ResultLineError(f"BENCHD_RESULT \"model_sha256\" is not 64 hex digits: {sha!r}")
    out_sha = _optional(value, "out_sha256", str)
    if out_sha is not None and not _SHA256.fullmatch(out_sha):
        raise ResultLineError(f"BENCHD_RESULT \"out_sha256\" is not 64 hex digits: {out_sha!r}")
    return InferenceResult(
        version=version, ok=ok, model_sha256=sha,
        cycles=_counter(value, "cycles"), instructions=_counter(value, "instructions") if version >= 2 else None,
        top=_top(value.get("top", [])), out=_out(value.get("out")) if version >= 2 else None,
        out_sha256=out_sha if version >= 2 else None, vector=_optional(value, "vector", int),
        error=_optional(value, "error", str))


def _optional(value: dict[str, Any], key: str, kind: type) -> Any:
    item = value.get(key)
    if item is None:
        return None
    if not isinstance(item, kind) or isinstance(item, bool):
        raise ResultLineError(f"BENCHD_RESULT \"{key}\" must be a {kind.__name__}, not {item!r}")
    return item


def _counter(value: dict[str, Any], key: str) -> int | None:
    count = _optional(value, key, int)
    if count is not None and count < 0:
        raise ResultLineError(f"BENCHD_RESULT \"{key}\" must not be negative: {count}")
    return count  # type: ignore[no-any-return]


def _top(top: Any) -> tuple[tuple[int, int], ...]:
    if not isinstance(top, list) or not all(
            isinstance(pair, list) and len(pair) == 2 and all(_is_int(x) for x in pair) for pair in top):
        raise ResultLineError(f"BENCHD_RESULT \"top\" must be [[index, value], ...], not {top!r}")
    return tuple((int(i), int(v)) for i, v in top)


def _out(out: Any) -> tuple[int, ...] | None:
    if out is None:
        return None
    if not isinstance(out, list) or not all(_is_int(x) and -128 <= x <= 127 for x in out):
        raise ResultLineError(f"BENCHD_RESULT \"out\" must be a list of int8 values, not {str(out)[:200]}")
    return tuple(int(x) for x in out)


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)

"""Which inbox entries count as drops."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from pathlib import Path

TEMP_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload", ".swp", "~")


def is_candidate(path: Path, patterns: Sequence[str] = ("*.tflite",)) -> bool:
    """Hidden files, editor and copy temporaries, and sidecars are not drops."""
    name = path.name
    if not name or name.startswith((".", "~")) or name.endswith(TEMP_SUFFIXES):
        return False
    return any(fnmatch.fnmatch(name.lower(), p.lower()) for p in patterns)


def sidecar_of(path: Path) -> Path:
    return path.with_name(path.name + ".json")

"""Drop names as the file system has them (any bytes but `/` and NUL, up to 255 of them) and as benchd
shows and files them: a name is never used to build another name that could be too long or unencodable.

- `shown`: the name as safe text for the store, logs and result.json: bytes that are not UTF-8 and
  control characters become `\\xNN`; never a UnicodeEncodeError.
- `snapshot_name`: `shown`, shortened in the middle to fit under NAME_MAX with room to spare.
- `filed_name`: processed/ and rejected/ names derive from the run id and the content hash, never the name.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

SNAPSHOT_MAX_BYTES = 200  # under NAME_MAX (255), with room for a suffix a tool may add
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def shown(path: Path | str) -> str:
    """The name (or path) as text: UTF-8 as is, other bytes and control characters escaped as \\xNN."""
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def snapshot_name(name: str) -> str:
    """A shown name that fits in SNAPSHOT_MAX_BYTES: long names keep their start and their extension."""
    if len(name.encode("utf-8")) <= SNAPSHOT_MAX_BYTES:
        return name
    stem, dot, ext = name.rpartition(".")
    suffix = f".{ext}" if dot and stem and len(ext) <= 16 else ""
    head = name[: len(name) - len(suffix)].encode("utf-8")[: SNAPSHOT_MAX_BYTES - len(suffix) - 3]
    return head.decode("utf-8", "ignore") + "..." + suffix


def filed_name(run_id: str, sha256: str, name: str) -> str:
    """`<run-id>-<sha256 prefix>.tflite`: unique per run, short whatever the drop was called."""
    ext = ".tflite" if name.lower().endswith(".tflite") else ""
    return f"{run_id}-{sha256[:12] or 'unread'}{ext}"

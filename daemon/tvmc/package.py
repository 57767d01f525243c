"""The compiled module archive (`module.tar`): `mod.so` (the Relax VM executable) and `metadata.json`.

The metadata carries what `tvmc run` and `benchd/validate` need without the original model: input and
output names, shapes, dtypes and quantization, the TVM version and the model's sha256.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path
from typing import Any

from daemon.errors import ModelError

FORMAT = "benchd-tvmc-relax"
FORMAT_VERSION = 1
LIBRARY = "mod.so"
METADATA = "metadata.json"


def write_package(output: Path, library: Path, metadata: dict[str, Any]) -> None:
    """Write the archive next to its final name first, so a failed compile never leaves half a tar."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    meta = json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION, **metadata}, indent=2).encode()
    with tarfile.open(partial, "w") as tar:
        tar.add(library, arcname=LIBRARY)
        entry = tarfile.TarInfo(METADATA)
        entry.size = len(meta)
        entry.mtime = int(time.time())
        entry.mode = 0o644
        tar.addfile(entry, io.BytesIO(meta))
    partial.replace(output)


def read_package(path: Path, into: Path) -> tuple[Path, dict[str, Any]]:
    """Extract only the two known members (regular files, fixed names) into `into`."""
    if not path.is_file():
        raise ModelError(
            f"compiled module {path} not found: run `tvmc compile MODEL --target llvm --output {path}` first"
        )
    try:
        with tarfile.open(path, "r") as tar:
            members = {m.name: m for m in tar.getmembers()}
            for name in (LIBRARY, METADATA):
                member = members.get(name)
                if member is None or not member.isfile():
                    if "codegen" in " ".join(members) or any(n.endswith(".c") for n in members):
                        raise ModelError(f"{path} is a Model Library Format (MLF) archive, which runs on "
                                         "boards only; compile with --target llvm to run it on the host")
                    raise ModelError(f"{path} has no {name}: it was not written by `tvmc compile` "
                                     "(benchd's front end); compile the model again")
                src = tar.extractfile(member)
                assert src is not None  # a regular file always has a stream
                (into / name).write_bytes(src.read())
    except tarfile.TarError as exc:
        raise ModelError(f"{path} is not a readable tar archive ({exc}); compile the model again") from exc
    metadata = json.loads((into / METADATA).read_text(encoding="utf-8"))
    if metadata.get("format") != FORMAT or metadata.get("format_version") != FORMAT_VERSION:
        raise ModelError(f"{path} was written by another tvmc front end (format "
                         f"{metadata.get('format')!r} v{metadata.get('format_version')}); compile it again")
    return into / LIBRARY, metadata

"""The Model Library Format layout (as TVM <= 0.18 writes it), in a deterministic tar.

    metadata.json                          memory sizes (TVM's keys) + a `benchd` section
    codegen/host/include/tvmgen_default.h  the AOT C interface
    codegen/host/src/default_lib0.c        constants, arena, tvmgen_default_run
    codegen/host/src/benchd_*.c, *.h       the kernels, copied from daemon/codegen/kernels/

No `runtime/` is needed: the sources build with a C99 compiler and libc alone.
"""

from __future__ import annotations

import io
import json
import tarfile
from importlib import resources
from pathlib import Path
from typing import Any

SRC = "codegen/host/src"
INCLUDE = "codegen/host/include"


def kernel_files() -> dict[str, bytes]:
    """name -> content of every kernel source and header shipped in daemon/codegen/kernels/."""
    folder = resources.files("daemon.codegen").joinpath("kernels")
    return {entry.name: entry.read_bytes() for entry in sorted(folder.iterdir(), key=lambda e: e.name)
            if entry.name.endswith((".c", ".h"))}


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0  # fixed metadata: same model, same bytes
    tar.addfile(info, io.BytesIO(data))


def write_archive(output: Path, metadata: dict[str, Any], header: str, model_source: str) -> list[str]:
    """Write the archive (atomically: a temp file renamed into place); returns its member names."""
    files: dict[str, bytes] = {
        "metadata.json": (json.dumps(metadata, indent=2, sort_keys=True) + "\n").encode(),
        f"{INCLUDE}/tvmgen_default.h": header.encode(),
        f"{SRC}/default_lib0.c": model_source.encode(),
        **{f"{SRC}/{name}": data for name, data in kernel_files().items()},
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".part")
    with tarfile.open(partial, "w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in files.items():
            _add(tar, name, data)
    partial.replace(output)
    return list(files)


def extract_archive(archive: Path, dest: Path) -> None:
    """Unpack an archive safely: regular files only, nothing outside `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            target = (root / member.name).resolve()
            if not member.isreg() and not member.isdir():
                raise ValueError(f"{archive}: {member.name} is not a regular file")
            if member.name.startswith("/") or root not in target.parents:
                raise ValueError(f"{archive}: {member.name} points outside the archive")
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None
            target.write_bytes(source.read())

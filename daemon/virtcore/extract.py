"""Extracting an MLF archive (ARCHITECTURE.md section 6) safely, and finding what the firmware build needs.

The archive comes from a compile job fed by a dropped, untrusted model: members with an absolute path, a
`..` step, a link of any kind or a device are refused before anything is written.
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from daemon.errors import VirtCoreError

HEADER = "codegen/host/include/tvmgen_default.h"
# A TVM archive's code includes tvm/runtime/*.h and dlpack/*.h from here. None of the CRT's .c files is built (as
# in target/esp-idf): AOT + USMP calls none, and they need a crt_config.h no archive ships; target/runner's
# crt_platform.c and crt_workspace.c stand in for what TVM code may call.
CRT_INCLUDE = "runtime/include"


@dataclass(frozen=True)
class MlfTree:
    """An extracted archive: its model sources and include folders."""

    root: Path
    sources: tuple[Path, ...]  # codegen/host/src/*.c
    include_dirs: tuple[Path, ...]
    has_runtime: bool

    @property
    def header(self) -> Path:
        return self.root / HEADER

    def workspace_bytes(self) -> int | None:
        """The arena the archive's metadata.json declares (TVM's key; benchd's backend writes it too)."""
        try:
            meta = json.loads((self.root / "metadata.json").read_text())
            memory = meta.get("memory") or meta["modules"]["default"]["memory"]
            return int(memory["functions"]["main"][0]["workspace_size_bytes"])
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            return None


def extract_archive(archive: Path, dest: Path) -> MlfTree:
    """Extracts `archive` into `dest` (created) after checking every member; returns what is inside."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(archive, member)
            if hasattr(tarfile, "data_filter"):  # PEP 706 (3.11.4+): a second guard where the Python has it
                tar.extractall(dest, members=members, filter="data")
            else:
                tar.extractall(dest, members=members)  # every member was checked above
    except (OSError, tarfile.TarError) as exc:
        raise VirtCoreError(f"cannot read the MLF archive {archive}: {exc}") from exc
    return _describe(archive, dest)


def _check_member(archive: Path, member: tarfile.TarInfo) -> None:
    path = PurePosixPath(member.name)
    if path.is_absolute() or member.name.startswith(("/", "\\")) or ".." in path.parts or "\\" in member.name:
        raise VirtCoreError(f"unsafe member in {archive}: {member.name!r} (absolute path or '..'); refusing to "
                            "extract it: rebuild the archive with relative paths")
    if member.issym() or member.islnk():
        raise VirtCoreError(f"unsafe member in {archive}: {member.name!r} is a link (to {member.linkname!r}); "
                            "an MLF archive holds plain files and folders only")
    if not (member.isfile() or member.isdir()):
        raise VirtCoreError(f"unexpected member type in {archive}: {member.name!r} is neither a file nor a folder")


def _describe(archive: Path, root: Path) -> MlfTree:
    if not (root / HEADER).is_file():
        raise VirtCoreError(f"{archive} has no {HEADER}: is it a Model Library Format archive (TVM <= 0.18 with "
                            "--output-format mlf, or `benchd compile-c`)?")
    sources = sorted((root / "codegen/host/src").glob("*.c"))
    if not sources:
        raise VirtCoreError(f"{archive} has no C sources in codegen/host/src: only the C backend's archives can run "
                            "on the virtual core (a TVM archive needs --target c)")
    has_runtime = (root / CRT_INCLUDE).is_dir()
    includes = [root / "codegen/host/include"] + ([root / CRT_INCLUDE] if has_runtime else [])
    return MlfTree(root, tuple(sources), tuple(includes), has_runtime)

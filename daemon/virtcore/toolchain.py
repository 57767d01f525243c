"""Which toolchain and QEMU built and ran a firmware, for the result: a figure is only comparable with the
same compiler and emulator. The benchd/riscv image records its pinned Debian versions at build time;
elsewhere the tools are asked."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

IMAGE_VERSIONS = Path("/opt/benchd/riscv-versions.json")  # written by docker/riscv/Dockerfile
PROBES = {"gcc-riscv64-unknown-elf": ["riscv64-unknown-elf-gcc", "--version"],
          "qemu-system-riscv32": ["qemu-system-riscv32", "--version"]}


def toolchain_versions(recorded: Path = IMAGE_VERSIONS) -> dict[str, str]:
    """Package -> version: the image's pinned record when there is one, else each tool's first line."""
    try:
        versions = json.loads(recorded.read_text())
        if isinstance(versions, dict):
            return {str(k): str(v) for k, v in versions.items()}
    except (OSError, ValueError):
        pass
    found = {}
    for name, argv in PROBES.items():
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)  # noqa: S603
        except (OSError, subprocess.TimeoutExpired):
            continue
        if proc.returncode == 0 and proc.stdout.strip():
            found[name] = proc.stdout.splitlines()[0].strip()
    return found

"""The virtual core's tests need Debian's RISC-V toolchain and QEMU; with CI=true their absence fails."""

from __future__ import annotations

import os
import shutil

import pytest

TOOLS = ("riscv64-unknown-elf-gcc", "qemu-system-riscv32")


@pytest.fixture
def riscv_tools() -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if not missing:
        return
    reason = (f"needs {', '.join(missing)}: apt-get install gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf "
              "qemu-system-misc")
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("CI=true: " + reason)
    pytest.skip(reason)

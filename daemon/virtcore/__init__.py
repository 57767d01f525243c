"""The virtual ESP32-C3 core: an MLF archive built for QEMU `virt` (RV32IMC, picolibc) and run there.

One job per module: `archive` (safe extraction), `vectors` (test inputs), `build` (the ELF), `qemu` (the
run, time-bounded), `elfsize` (ROM/RAM). Needs Debian's gcc-riscv64-unknown-elf, picolibc-riscv64-unknown-elf
and qemu-system-misc (the benchd/riscv image has them).
"""

from daemon.errors import VirtCoreError
from daemon.virtcore.build import Firmware, build_firmware
from daemon.virtcore.elfsize import MemoryUsage, elf_size
from daemon.virtcore.extract import MlfTree, extract_archive
from daemon.virtcore.qemu import VirtRun, run_firmware
from daemon.virtcore.vectors import vectors_for

__all__ = ["Firmware", "MemoryUsage", "MlfTree", "VirtCoreError", "VirtRun", "build_firmware", "elf_size",
           "extract_archive", "run_firmware", "vectors_for"]

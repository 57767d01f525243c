"""Cross-compiling what main/CMakeLists.txt registers, under ESP-IDF v5.3.1's flags, with Debian's RISC-V gcc.

The flags are ESP-IDF v5.3.1's for a C file of an esp32c3 app: `__build_set_default_build_specifications` in
tools/cmake/build.cmake (definitions, sections, the warning set), `-std=gnu17` (`__build_set_lang_version`),
`-O2` for CONFIG_COMPILER_OPTIMIZATION_PERF and `-Wno-old-style-declaration` (the top CMakeLists.txt), and
the arch of tools/cmake/toolchain-esp32c3.cmake. ESP-IDF's own headers are replaced by idf_stubs/.
benchd's own files get -Werror on top: ESP-IDF only makes -Wall's warnings errors, we keep them all out.
Everything gets GCC 14's default errors (GCC14_ERRORS).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from fw_cmake import Registration

CC = "riscv64-unknown-elf-gcc"
ARCH = ("-march=rv32imc_zicsr_zifencei", "-mabi=ilp32")
# gcc 12 picks no multilib for an -march with extensions named: the link names the base ISA, as
# daemon/virtcore/build.py does (picolibc's rv32im libraries run on the C3 unchanged).
LINK_ARCH = ("-march=rv32imc", "-mabi=ilp32")
ESP_IDF_FLAGS = (
    "-D_GLIBCXX_USE_POSIX_SEMAPHORE", "-D_GLIBCXX_HAVE_POSIX_SEMAPHORE", "-D_GNU_SOURCE",
    "-ffunction-sections", "-fdata-sections",
    "-Wall", "-Werror=all", "-Wno-error=unused-function", "-Wno-error=unused-variable",
    "-Wno-error=unused-but-set-variable", "-Wno-error=deprecated-declarations", "-Wextra",
    "-Wno-unused-parameter", "-Wno-sign-compare", "-Wno-enum-conversion", "-gdwarf-4", "-ggdb",
    "-std=gnu17", "-O2", "-Wno-old-style-declaration",
)
# What GCC 14 (ESP-IDF >= 5.4's compiler) makes errors by default; Debian's gcc 12 is told so, to keep the
# sources ready for it. A source's own COMPILE_OPTIONS come after these, as in CMake.
GCC14_ERRORS = ("-Werror=implicit-function-declaration", "-Werror=implicit-int", "-Werror=int-conversion",
                "-Werror=incompatible-pointer-types")
HERE = Path(__file__).resolve().parent
STUBS = HERE / "idf_stubs"
TARGET = HERE.parents[1] / "target"
OURS = (TARGET / "esp-idf" / "main", TARGET / "runner")


def _ours(src: Path) -> bool:
    return any(src.resolve().is_relative_to(folder) for folder in OURS)


def compile_registered(reg: Registration, work: Path) -> tuple[list[Path], list[str]]:
    """Compiles every registered source; returns the objects and the failures (source: compiler output)."""
    work.mkdir(parents=True, exist_ok=True)
    includes = [f"-I{d}" for d in (*reg.paths("INCLUDE_DIRS"), STUBS)]
    objects, failures = [], []
    for i, src in enumerate(reg.paths("SRCS")):
        extra = ["-Werror"] if _ours(src) else reg.source_options.get(str(src), [])
        obj = work / f"{i:02d}_{src.stem}.o"
        argv = [CC, *ARCH, *ESP_IDF_FLAGS, *GCC14_ERRORS, *extra, "--specs=picolibc.specs", *includes,
                "-c", str(src), "-o", str(obj)]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
        if proc.returncode != 0 or (_ours(src) and proc.stderr.strip()):
            failures.append(f"{src}:\n{proc.stderr.strip()}")
        objects.append(obj)
    return objects, failures


def link_for_qemu(objects: list[Path], work: Path, passes: int = 2) -> subprocess.CompletedProcess[str]:
    """Links the objects with idf_stubs/qemu_idf.c onto target/virt's start-up and memory map."""
    virt = TARGET / "virt"
    elf = work / "firmware.elf"
    argv = [CC, *LINK_ARCH, "-O2", "--specs=picolibc.specs", f"-I{STUBS}", f"-DBENCHD_STUB_PASSES={passes}",
            "-nostartfiles", "-Wl,--gc-sections", "-T", str(virt / "link.ld"), str(virt / "start.S"),
            str(STUBS / "qemu_idf.c"), *map(str, objects), "-o", str(elf)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)

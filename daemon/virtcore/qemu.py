"""Running a virt firmware under `qemu-system-riscv32 -M virt` with a hard time bound.

QEMU counts retired instructions exactly only with `-icount shift=0` (otherwise `rdinstret` returns host
ticks), and the CPU is trimmed to the C3's extensions (no A, F, D), so code the C3 could not run traps here.
The firmware leaves through the SiFive test device, so QEMU's exit status is the firmware's: 0 all passed,
2 an inference failed, 3 a trap (target/virt/platform.c); anything else is QEMU's own failure.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from daemon.errors import VirtCoreError
from daemon.firmware.resultline import InferenceResult, ResultLineError, parse_line

QEMU = "qemu-system-riscv32"
CPU = "rv32,a=false,f=false,d=false"  # the ESP32-C3 is RV32IMC (+Zicsr for its counters)
EXIT_PASSED, EXIT_INFERENCE_FAILED, EXIT_TRAPPED = 0, 2, 3
DEFAULT_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class VirtRun:
    exit_code: int
    results: tuple[InferenceResult, ...]
    console: str
    seconds: float
    bad_lines: tuple[str, ...] = field(default_factory=tuple)  # BENCHD_RESULT lines that broke the contract

    @property
    def passed(self) -> bool:
        return self.exit_code == EXIT_PASSED and not self.bad_lines


def qemu_argv(elf: Path) -> list[str]:
    return [QEMU, "-M", "virt", "-cpu", CPU, "-nographic", "-monitor", "none", "-bios", "none",
            "-icount", "shift=0", "-kernel", str(elf)]


def run_firmware(elf: Path, timeout_s: float = DEFAULT_TIMEOUT_S) -> VirtRun:
    """Boots `elf`, returns its console and parsed result lines; VirtCoreError past the time bound."""
    start = time.monotonic()
    try:
        proc = subprocess.Popen(qemu_argv(elf), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,  # noqa: S603
                                stderr=subprocess.PIPE, start_new_session=True)
    except FileNotFoundError as exc:
        raise VirtCoreError(f"{QEMU} is not installed: `apt-get install qemu-system-misc`, or run the job in the "
                            "benchd/riscv image") from exc
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        out, err = _kill(proc)
        console = out.decode("utf-8", "replace")
        raise VirtCoreError(f"the virt firmware did not exit within {timeout_s:.0f} s, so QEMU was killed: it hangs "
                            f"or the model is too slow for the bound; last console lines: {_tail(console)}") from None
    finally:
        if proc.poll() is None:
            _kill(proc)
    console = out.decode("utf-8", "replace")
    if proc.returncode not in (EXIT_PASSED, EXIT_INFERENCE_FAILED, EXIT_TRAPPED):
        raise VirtCoreError(f"{QEMU} failed (exit {proc.returncode}): "
                            f"{err.decode('utf-8', 'replace').strip()[-500:] or _tail(console)}")
    results, bad = _results(console)
    return VirtRun(proc.returncode, tuple(results), console, time.monotonic() - start, tuple(bad))


def _kill(proc: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    """Stops QEMU's whole process group and collects what it printed."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    out, err = proc.communicate()
    return out, err


def _results(console: str) -> tuple[list[InferenceResult], list[str]]:
    results, bad = [], []
    for line in console.splitlines():
        try:
            result = parse_line(line.rstrip("\r"))
        except ResultLineError as exc:
            bad.append(str(exc))
            continue
        if result is not None:
            results.append(result)
    return results, bad


def _tail(console: str, lines: int = 3) -> str:
    kept = [line.strip() for line in console.splitlines() if line.strip()][-lines:]
    return " | ".join(kept) or "(none)"

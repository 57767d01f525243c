"""Board benchmarks, measured side by side in one run and printed as ratios (no timed assertions).

    python tests/bench/bench_boards.py

1. Flash a 1 MB image to 1 simulated board, then to 4 in parallel (one process per board, as a
   matrix job runs them); goal: ratio <= 1.2. Measured twice: with the simulator answering as fast as
   it can (CPU-bound: shows benchd's and esptool's own overhead on this machine's cores) and with UART
   pacing (each board takes as long as a real link at the negotiated baud, so the boards, not the host,
   are the bottleneck, as on a bench).
2. Discovery of 1 vs 4 simulated boards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from daemon import log  # noqa: E402
from daemon.boards.discovery import discover  # noqa: E402
from daemon.firmware.bundle import write_bundle  # noqa: E402
from daemon.settings import BoardSettings  # noqa: E402

log.configure("warning", json=False)  # figures only: esptool's debug notes (routed into structlog) stay out

FLASH_ONE = """
import sys, time
from pathlib import Path
from daemon.boards.flasher import flash_with_retries
from daemon.firmware.bundle import load_bundle
bundle = load_bundle(Path(sys.argv[2]))
start = time.monotonic()
report = flash_with_retries(sys.argv[1], bundle)
print(f"{time.monotonic() - start:.3f} {report.baud}")
"""


def simulate(count: int, pacing: bool) -> tuple[subprocess.Popen[str], list[str]]:
    args = [sys.executable, "-m", "daemon", "--log-level", "error", "boards", "simulate", "--count", str(count)]
    proc = subprocess.Popen(args + (["--pacing"] if pacing else []), stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    return proc, [proc.stdout.readline().strip() for _ in range(count)]


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    proc.communicate(timeout=10)


def flash_parallel(ports: list[str], firmware: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-c", FLASH_ONE, port, str(firmware)], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) for port in ports]
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        if proc.returncode != 0:
            raise SystemExit(f"flashing failed on one board: {out}")
    return time.monotonic() - start


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        half = 512 * 1024  # half random, half zeros: compresses about as well as a real app image
        app = b"BENCHD_MODEL_SHA256=" + b"0" * 64 + os.urandom(half) + bytes(half - 84)
        firmware = write_bundle(Path(tmp) / "fw", {0x10000: ("app.bin", app)})
        print(f"flash: {len(app) / 2**20:.2f} MB image, stub + compressed + MD5 verify, 1 board vs 4 in parallel")
        for pacing in (False, True):
            proc, ports = simulate(4, pacing)
            try:
                one = flash_parallel(ports[:1], firmware)
                four = flash_parallel(ports, firmware)
            finally:
                stop(proc)
            label = "UART-paced (as on a bench)" if pacing else "unpaced (host CPU-bound)"
            print(f"  {label:<28} 1 board {one:6.2f} s   4 boards {four:6.2f} s   ratio {four / one:4.2f} "
                  f"(goal <= 1.2)")
        for count in (1, 4):
            proc, ports = simulate(count, False)
            try:
                start = time.monotonic()
                boards = discover(BoardSettings(ports=tuple(ports)))
                took = time.monotonic() - start
            finally:
                stop(proc)
            assert len(boards) == count
            if count == 1:
                single = took
            print(f"discovery: {count} board(s) {took:5.2f} s" + (f"   ratio to 1 board {took / single:4.2f}"
                                                               if count > 1 else ""))
    print(f"(machine: {os.cpu_count()} logical CPUs, shared; figures vary run to run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What a simulated board prints after a reset: ROM banner, bootloader, app, BENCHD_RESULT lines.

The lines follow a real ESP32-C3 running an ESP-IDF app, so the monitor is tested against the same text
it meets on a bench. Faults change the story: silence, a boot loop, a panic, wrong outputs (`bad-output`,
`corrupt_result`: also applied to what a flashed virt firmware prints, sim/virtapp.py), or an unflashed chip (the
ROM's "invalid header" loop).
"""

from __future__ import annotations

import hashlib
import json
import re

from daemon.boards.sim.spec import BoardSpec

IMAGE_MAGIC = 0xE9
LOOP_PERIOD_S = 0.15  # a reset loop repeats this often; real chips take 0.1-0.5 s
LOOPS = 40  # bounded: a simulated loop ends after a few seconds, as if the power supply gave up
MODEL_MARK = re.compile(rb"BENCHD_MODEL_SHA256=([0-9a-f]{64})")
_OUT = re.compile(r'("out":\s*\[)([^\]]*)(\])')
_TOP = re.compile(r'("top":\s*\[)((?:\s*\[[^\]]*\],?)*)(\s*\])')
_PAIR = re.compile(r"(\[\s*-?\d+,\s*)(-?\d+)(\s*\])")
_INT = re.compile(r"-?\d+")
_OUT_SHA = re.compile(r'("out_sha256":\s*")([0-9a-f]{64})(")')

ROM_BANNER = (
    "ESP-ROM:esp32c3-api1-20210207\r\nBuild:Feb  7 2021\r\n"
    "rst:{rst},boot:0xc (SPI_FAST_FLASH_BOOT)\r\nSaved PC:0x40380686\r\n"
    "SPIWP:0xee\r\nmode:DIO, clock div:1\r\n"
)
BOOTLOADER = (
    "load:0x3fcd5820,len:0x1714\r\nload:0x403cc710,len:0x968\r\nload:0x403ce710,len:0x2f9c\r\n"
    "entry 0x403cc71a\r\n"
    "I (24) boot: ESP-IDF v5.3.1 2nd stage bootloader\r\n"
    "I (24) boot: chip revision: v0.4\r\n"
    "I (35) boot: Partition Table:\r\n"
    "I (63) boot: Loaded app from partition at offset 0x10000\r\n"
)
APP = (
    "I (128) cpu_start: Unicore app\r\n"
    "I (160) app_init: Project name:     benchd-target\r\n"
    "I (220) main_task: Calling app_main()\r\n"
    "I (221) benchd: model {sha}, {n} test vectors\r\n"
)
PANIC = (
    "Guru Meditation Error: Core  0 panic'ed (Load access fault). Exception was unhandled.\r\n"
    "\r\nCore  0 register dump:\r\nMEPC    : 0x42007a1e  RA      : 0x42007a0c\r\n"
    "\r\nRebooting...\r\n"
)


def model_sha256(flash: bytes | bytearray) -> str:
    """The firmware embeds `BENCHD_MODEL_SHA256=<hex>`; read it back as the real app would print it."""
    found = MODEL_MARK.search(flash)
    return found.group(1).decode() if found else "0" * 64


def result_line(spec: BoardSpec, sha: str, n: int) -> str:
    # Deterministic per board and run, so tests can tell the boards' metrics apart.
    cycles = 150_000 + 1_000 * spec.index + 7 * n
    payload = {"model_sha256": sha, "cycles": cycles, "top": [[3, 125], [1, -125]], "ok": True, "vector": n}
    line = "BENCHD_RESULT " + json.dumps(payload, separators=(",", ":"))
    return (corrupt_result(line) if "bad-output" in spec.faults else line) + "\r\n"


def corrupt_result(line: str) -> str:
    """The `bad-output` fault on one console line: the lowest bit of every output value of a BENCHD_RESULT line
    flipped ("out", the values of "top"; a hashed output hashes other bytes); the rest of the text as printed."""
    if "BENCHD_RESULT " not in line:
        return line

    def flip(found: re.Match[str]) -> str:
        return str(int(found[0]) ^ 1)

    line = _OUT.sub(lambda m: m[1] + _INT.sub(flip, m[2]) + m[3], line)
    line = _TOP.sub(lambda m: m[1] + _PAIR.sub(lambda p: p[1] + str(int(p[2]) ^ 1) + p[3], m[2]) + m[3], line)
    return _OUT_SHA.sub(lambda m: m[1] + hashlib.sha256(bytes.fromhex(m[2])).hexdigest() + m[3], line)


def timeline(spec: BoardSpec, flash: bytes | bytearray) -> list[tuple[float, bytes]]:
    """(seconds after reset, bytes) for one power-on; finite even when the board loops."""
    if "silent" in spec.faults:
        return []
    if flash[0] != IMAGE_MAGIC:  # never flashed: the ROM finds no bootloader and resets, forever
        word = int.from_bytes(flash[0:4], "little")
        text = ROM_BANNER.format(rst="0x7 (TG0WDT_SYS_RST)") + f"invalid header: {word:#010x}\r\n"
        return [(k * LOOP_PERIOD_S, text.encode()) for k in range(LOOPS)]
    first = ROM_BANNER.format(rst="0x1 (POWERON)") + BOOTLOADER
    again = ROM_BANNER.format(rst="0xc (RTC_SW_CPU_RST)") + BOOTLOADER
    if "boot-loop" in spec.faults:  # e.g. a brown-out during start-up: banners, never the app
        return [(k * LOOP_PERIOD_S, (first if k == 0 else again).encode()) for k in range(LOOPS)]
    sha = model_sha256(flash)
    app = APP.format(sha=sha[:12], n=spec.results) + "".join(f"{line}\r\n" for line in spec.boot_lines)
    if "panic" in spec.faults:
        return [(k * LOOP_PERIOD_S, ((first if k == 0 else again) + app + PANIC).encode()) for k in range(LOOPS)]
    events = [(0.0, first.encode()), (0.02, app.encode())]
    events += [(0.05 + 0.01 * n, result_line(spec, sha, n).encode()) for n in range(spec.results)]
    events.append((0.06 + 0.01 * spec.results, b"I (900) benchd: done\r\n"))
    return events

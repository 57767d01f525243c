"""What a simulated board is (identity, flash size, faults): read by the chip model and by its boot log."""

from __future__ import annotations

from dataclasses import dataclass

from daemon.errors import BoardError

FAULTS = ("unplug", "unplug-once", "bad-md5", "silent", "boot-loop", "panic", "wrong-chip", "bad-output")
# bad-output: a board that flashes and boots fine but computes wrong results, as a chip with a bad SRAM bit would:
# the lowest bit of every output value its BENCHD_RESULT lines carry is flipped (bootlog.corrupt_result). For dry
# runs of the health check and of the monitor's bit-exact check.
CHIPS = ("esp32c3", "esp32")


@dataclass
class BoardSpec:
    """What a simulated board is: its identity, its flash and the faults it suffers."""

    index: int = 0
    chip: str = "esp32c3"
    mac: bytes = b""
    flash_size: int = 4 << 20
    faults: frozenset[str] = frozenset()
    boot_lines: tuple[str, ...] = ()  # extra app log lines; BENCHD_RESULT lines come from bootlog
    results: int = 3  # BENCHD_RESULT lines printed after each boot
    mac_base: int = 0xB0  # fourth MAC byte: simulators in different processes get different MACs

    def __post_init__(self) -> None:
        if not self.mac:
            self.mac = bytes([0x58, 0xCF, 0x79, self.mac_base & 0xFF, (self.index >> 8) & 0xFF, self.index & 0xFF])
        unknown = set(self.faults) - set(FAULTS)
        if unknown or self.chip not in CHIPS:
            raise BoardError(f"unknown fault {sorted(unknown)} or chip {self.chip!r}; faults: {', '.join(FAULTS)}")
        if "wrong-chip" in self.faults:
            self.chip = "esp32"

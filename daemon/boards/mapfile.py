"""ROM and RAM of an ESP-IDF firmware, read from the linker's map file in its build folder.

ESP-IDF links the app with GNU ld and `-Map=<project>.map` beside flasher_args.json. The output sections are
those of components/esp_system/ld/esp32c3/sections.ld.in (v5.3.1): what the image carries in flash (ROM) and
what the app holds in internal SRAM from the start (RAM: IRAM code, data, bss), as `idf.py size` counts them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

# Loaded from the image: flash-mapped code and data, plus what the bootloader copies into RAM.
IMAGE_SECTIONS = frozenset({
    ".flash.text", ".flash.appdesc", ".flash.rodata", ".flash.tdata", ".eh_frame_hdr", ".eh_frame",
    ".iram0.text", ".iram0.data", ".dram0.data", ".rtc.text", ".rtc.data", ".rtc.force_fast", ".rtc.force_slow",
})
# Internal SRAM taken before the heap: IRAM (code and data), DRAM data, bss and noinit.
RAM_SECTIONS = frozenset({".iram0.text", ".iram0.data", ".iram0.bss", ".dram0.data", ".dram0.bss", ".noinit"})
# An output section at column 0: `.name 0xADDR 0xSIZE`, or `.long.name` alone with the figures on the next line.
_SECTION = re.compile(r"^(\.[\w.]+)(?:[ \t]+|\n[ \t]+)0x([0-9a-fA-F]+)[ \t]+0x([0-9a-fA-F]+)", re.MULTILINE)


@dataclass(frozen=True)
class MemoryUsage:
    rom_bytes: int  # the app image's loadable bytes (what goes to flash)
    ram_bytes: int  # static internal SRAM (IRAM + DRAM)
    map_file: str


def section_sizes(text: str) -> dict[str, int]:
    """Output section -> size, from the "Linker script and memory map" part of a GNU ld map file."""
    start = text.find("Linker script and memory map")
    sizes: dict[str, int] = {}
    for name, _addr, size in _SECTION.findall(text[max(start, 0):]):
        sizes[name] = sizes.get(name, 0) + int(size, 16)
    return sizes


def map_file(folder: Path) -> Path | None:
    """The app's map file: named after the app binary in flasher_args.json, else the one *.map at the top."""
    try:
        app = json.loads((folder / "flasher_args.json").read_text(encoding="utf-8")).get("app", {}).get("file")
    except (OSError, ValueError, AttributeError):
        app = None
    if isinstance(app, str) and (folder / Path(app).with_suffix(".map").name).is_file():
        return folder / Path(app).with_suffix(".map").name
    found = sorted(folder.glob("*.map"))
    return found[0] if len(found) == 1 else None


def memory_usage(folder: Path) -> MemoryUsage | None:
    """ROM and RAM of the build in `folder`; None when it has no map file (not an ESP-IDF build)."""
    path = map_file(folder)
    if path is None:
        return None
    sizes = section_sizes(path.read_text(encoding="utf-8", errors="replace"))
    if not sizes:
        return None
    return MemoryUsage(sum(sizes.get(s, 0) for s in IMAGE_SECTIONS), sum(sizes.get(s, 0) for s in RAM_SECTIONS),
                       path.name)

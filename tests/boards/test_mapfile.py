"""ROM and RAM of an ESP-IDF build from its map file (issue 17, "what to build" 2): a real GNU ld map, made by
Debian's RISC-V linker with ESP-IDF v5.3.1's C3 output section names, against what `size -A` says of the ELF."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from daemon.boards.mapfile import IMAGE_SECTIONS, RAM_SECTIONS, memory_usage, section_sizes

APP = """
const char appdesc[32] __attribute__((section(".rodata_desc"))) = "benchd";
const int table[300] = {1, 2, 3};
int counter = 5;
int zeros[1000];
__attribute__((section(".iram1.0"))) int fast(int x) { return x * counter; }
int main(void) { zeros[3] = fast(table[1]); return zeros[3]; }
void _start(void) { main(); }
"""
# The C3 memory map and section names of components/esp_system/ld/esp32c3/{memory,sections}.ld.in, cut down;
# .flash.rodata_noload's long name makes ld wrap its figures onto the next line.
LINKER_SCRIPT = """
MEMORY {
  iram0_0_seg (RX) : org = 0x4037C000, len = 0x40000
  dram0_0_seg (RW) : org = 0x3FC7C000, len = 0x40000
  irom_seg (RX) : org = 0x42000020, len = 0x400000
  drom_seg (R) : org = 0x3C000020, len = 0x400000
}
SECTIONS {
  .iram0.text : { *(.iram1 .iram1.*) } > iram0_0_seg
  .dram0.data : { *(.data .data.* .sdata .sdata.*) } > dram0_0_seg
  .dram0.bss (NOLOAD) : { *(.bss .bss.* .sbss .sbss.* COMMON) } > dram0_0_seg
  .flash.text : { *(.text .text.*) } > irom_seg
  .flash.appdesc : ALIGN(0x10) { *(.rodata_desc) } > drom_seg
  .flash.rodata : ALIGN(0x10) { *(.rodata .rodata.* .srodata .srodata.*) } > drom_seg
  .flash.rodata_noload (NOLOAD) : { . += 64; } > drom_seg
}
"""


def link(folder: Path) -> dict[str, int]:
    """Link the app as `benchd-target.elf` with its map; the section sizes `size -A` reads from the ELF."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.c").write_text(APP)
    (folder / "app.ld").write_text(LINKER_SCRIPT)
    subprocess.run(["riscv64-unknown-elf-gcc", "-march=rv32imc_zicsr_zifencei", "-mabi=ilp32", "-O1", "-nostdlib",
                    "-T", "app.ld", "-Wl,-Map=benchd-target.map", "-o", "benchd-target.elf", "app.c"],
                   cwd=folder, check=True, timeout=60)
    listing = subprocess.run(["riscv64-unknown-elf-size", "-A", "benchd-target.elf"], cwd=folder, check=True,
                             capture_output=True, text=True).stdout
    return {f[0]: int(f[1]) for f in (line.split() for line in listing.splitlines()) if f and f[0].startswith(".")}


def test_rom_and_ram_come_from_the_map_file(tmp_path: Path, riscv_tools: None) -> None:
    build = tmp_path / "build"
    truth = link(build)
    (build / "flasher_args.json").write_text(json.dumps({"app": {"offset": "0x10000", "file": "benchd-target.bin"}}))
    sizes = section_sizes((build / "benchd-target.map").read_text())
    assert {k: v for k, v in sizes.items() if k in truth} == truth  # every output section, the wrapped one too
    usage = memory_usage(build)
    assert usage is not None and usage.map_file == "benchd-target.map"
    assert usage.rom_bytes == sum(truth.get(s, 0) for s in IMAGE_SECTIONS) == 14 + 4 + 32 + 32 + 1200
    assert usage.ram_bytes == sum(truth.get(s, 0) for s in RAM_SECTIONS) == 14 + 4 + 4000


def test_a_build_without_a_map_file_has_no_figures(tmp_path: Path) -> None:
    (tmp_path / "flasher_args.json").write_text("{}")
    assert memory_usage(tmp_path) is None

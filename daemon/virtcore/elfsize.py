"""ROM and RAM of a firmware ELF by MLonMCU's section rules, read from the section headers with `struct`.

`.text*` and `*rodata*` count as ROM; `.data*`, `.sdata*` (and `.tdata*`, picolibc's thread-local data,
which is also initialised from ROM) as both ROM and RAM; `.bss*`, `.sbss*`, `.noinit` as RAM. Only sections
that occupy memory (SHF_ALLOC) count; the stack and heap areas of target/virt/link.ld are not sections of
either kind, so they are left out, as MLonMCU leaves them out.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from daemon.errors import VirtCoreError

SHF_ALLOC = 0x2
ROM_ONLY = (".text*", "*rodata*")
ROM_AND_RAM = (".data*", ".sdata*", ".tdata*")
RAM_ONLY = (".bss*", ".sbss*", ".noinit")


@dataclass(frozen=True)
class MemoryUsage:
    rom_bytes: int
    ram_bytes: int
    sections: dict[str, int] = field(default_factory=dict)  # every allocated section and its size


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatchcase(name, pattern) for pattern in patterns)


def memory_usage(sections: dict[str, int]) -> MemoryUsage:
    """Applies the rules to {section name: size}."""
    rom = ram = 0
    for name, size in sections.items():
        if _matches(name, ROM_ONLY):
            rom += size
        elif _matches(name, ROM_AND_RAM):
            rom += size
            ram += size
        elif _matches(name, RAM_ONLY):
            ram += size
    return MemoryUsage(rom, ram, dict(sections))


def elf_size(elf: Path) -> MemoryUsage:
    """ROM/RAM of a 32- or 64-bit little-endian ELF file."""
    return memory_usage(allocated_sections(elf.read_bytes(), str(elf)))


def allocated_sections(data: bytes, name: str = "ELF") -> dict[str, int]:
    if data[:4] != b"\x7fELF" or len(data) < 52:
        raise VirtCoreError(f"{name} is not an ELF file")
    if data[5] != 1:
        raise VirtCoreError(f"{name} is big-endian; the virtual core builds little-endian RISC-V ELFs")
    wide = data[4] == 2  # ELFCLASS64
    try:
        if wide:
            shoff, = struct.unpack_from("<Q", data, 0x28)
            shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
            header = "<IIQQQQIIQQ"
        else:
            shoff, = struct.unpack_from("<I", data, 0x20)
            shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x2E)
            header = "<IIIIIIIIII"
        entries = [struct.unpack_from(header, data, shoff + i * shentsize) for i in range(shnum)]
        names_offset = entries[shstrndx][4]
        sections: dict[str, int] = {}
        for name_index, _type, flags, _addr, _offset, size, *_ in entries:
            if flags & SHF_ALLOC and size:
                end = data.index(b"\0", names_offset + name_index)
                sections[data[names_offset + name_index : end].decode("ascii", "replace")] = size
    except (struct.error, IndexError, ValueError) as exc:
        raise VirtCoreError(f"{name}: the section headers are truncated or corrupt ({exc})") from exc
    return sections

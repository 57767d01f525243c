"""What the ROM runs after `esptool load-ram`: the loaded segments, executed on a small RV32IMC core.

Enough of an ESP32-C3 for small RAM programs: its 400 KB SRAM (seen at both the data and the instruction
addresses), UART0's TX FIFO register, the ROM's `ets_printf`, and RV32IMC. The program runs only as fast
as the UART drains (`read` is called by the transport on every tick and gives what the UART sent since);
anything the core does not know (another ROM function, a CSR write that matters, an unmapped address)
stops it, with the reason in `fault`, as a hung chip would: silent from then on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

DRAM, IRAM_OFFSET, SRAM_SIZE = 0x3FC80000, 0x700000, 0x60000  # IRAM 0x40380000 aliases DRAM 0x3FC80000
PERIPHERALS = range(0x60000000, 0x600D1000)
UART0_FIFO = 0x60000000
ETS_PRINTF = 0x40000040  # esp32c3.rom.ld
STACK_TOP = 0x3FCDF000  # below the ROM's own data, as the download-mode ROM leaves sp
BYTES_PER_S = 11_520  # 115200 baud, 10 bits a byte
STEPS_PER_READ = 20_000  # one transport tick never stalls the line for long
MASK = 0xFFFFFFFF


def _sext(value: int, bits: int) -> int:
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


class Halt(Exception):
    """The core stopped: an instruction or an address it does not model."""


class RamApp:
    def __init__(self, segments: Sequence[tuple[int, bytes]], entry: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.sram = bytearray(SRAM_SIZE)
        for addr, data in segments:
            start = self._offset(addr, len(data))
            self.sram[start : start + len(data)] = data
        self.x = [0] * 32
        self.x[2] = STACK_TOP
        self.pc = entry
        self.fault = ""
        self._out = bytearray()
        self._clock = clock
        self._last = clock()

    def read(self) -> bytes:
        """Run for the time since the last call; returns what the UART sent meanwhile."""
        now = self._clock()
        budget = min(int((now - self._last) * BYTES_PER_S), 4096)
        self._last = now
        steps = 0
        while not self.fault and len(self._out) < budget and steps < STEPS_PER_READ:
            try:
                self.step()
            except Halt as stop:
                self.fault = str(stop)
            steps += 1
        out, self._out = bytes(self._out[:budget]), self._out[budget:]
        return out

    # -- memory ---------------------------------------------------------------------------------------
    def _offset(self, addr: int, size: int) -> int:
        base = addr - IRAM_OFFSET if addr >= DRAM + IRAM_OFFSET else addr
        if not DRAM <= base <= DRAM + SRAM_SIZE - size:
            raise Halt(f"access to unmapped address {addr:#010x} at pc {self.pc:#010x}")
        return base - DRAM

    def load(self, addr: int, size: int) -> int:
        if addr in PERIPHERALS:
            return 0  # UART status reads "TX FIFO empty"; other peripherals read as reset
        start = self._offset(addr, size)
        return int.from_bytes(self.sram[start : start + size], "little")

    def store(self, addr: int, size: int, value: int) -> None:
        if addr == UART0_FIFO:
            self._out.append(value & 0xFF)
        elif addr not in PERIPHERALS:
            start = self._offset(addr, size)
            self.sram[start : start + size] = (value & ((1 << 8 * size) - 1)).to_bytes(size, "little")

    def cstring(self, addr: int) -> bytes:
        start = self._offset(addr, 1)
        end = self.sram.find(0, start)
        return bytes(self.sram[start : end if end >= 0 else SRAM_SIZE])

    # -- the ROM --------------------------------------------------------------------------------------
    def ets_printf(self) -> None:
        fmt, args, out, i = self.cstring(self.x[10]), iter(self.x[11:18]), bytearray(), 0
        while i < len(fmt):
            if fmt[i] != ord("%") or i + 1 == len(fmt):
                out.append(fmt[i])
                i += 1
                continue
            j = i + 1
            while fmt[j] in b"-0123456789l" and j + 1 < len(fmt):
                j += 1
            spec, conv = fmt[i + 1 : j].replace(b"l", b"").decode(), chr(fmt[j])
            value = next(args, 0) if conv != "%" else 0
            text = {"d": str(_sext(value, 32)), "i": str(_sext(value, 32)), "u": str(value), "x": f"{value:x}",
                    "X": f"{value:X}", "c": chr(value & 0xFF), "p": f"0x{value:08x}", "%": "%"}.get(conv)
            if conv == "s":
                text = self.cstring(value).decode("latin-1")
            if text is None:
                text = fmt[i : j + 1].decode("latin-1")  # a conversion the ROM's printf has not either
            width, pad = int(spec.lstrip("-0") or 0), "0" if spec.startswith("0") and conv in "diuxX" else " "
            out += (text.ljust(width) if spec.startswith("-") else text.rjust(width, pad)).encode("latin-1")
            i = j + 1
        self._out += out.replace(b"\n", b"\r\n")  # the ROM's putc turns \n into \r\n
        self.x[10] = len(out)

    # -- the core -------------------------------------------------------------------------------------
    def step(self) -> None:
        if self.pc == ETS_PRINTF:
            self.ets_printf()
            self.pc = self.x[1]
            return
        if self.pc < DRAM + IRAM_OFFSET:
            raise Halt(f"jump to {self.pc:#010x}: not in SRAM and not a ROM function the simulator has")
        half = self.load(self.pc, 2)
        if half & 3 == 3:
            op, rd, rs1, rs2, imm, size = _decode32(self.load(self.pc, 4))
        else:
            op, rd, rs1, rs2, imm, size = _decode16(half)
        self._execute(op, rd, rs1, rs2, imm, size)
        self.x[0] = 0

    def _execute(self, op: str, rd: int, rs1: int, rs2: int, imm: int, size: int) -> None:
        x, pc = self.x, self.pc
        a, b = x[rs1], x[rs2]
        nxt = pc + size
        if op in _ALU:
            x[rd] = _ALU[op](a, b if op in _REG_OPS else imm & MASK) & MASK
        elif op == "lui":
            x[rd] = imm & MASK
        elif op == "auipc":
            x[rd] = (pc + imm) & MASK
        elif op == "jal":
            x[rd], nxt = nxt, (pc + imm) & MASK
        elif op == "jalr":
            x[rd], nxt = nxt, (a + imm) & ~1 & MASK
        elif op in _BRANCH:
            if _BRANCH[op](a, b):
                nxt = (pc + imm) & MASK
        elif op in _LOADS:
            width, signed = _LOADS[op]
            value = self.load((a + imm) & MASK, width)
            x[rd] = _sext(value, 8 * width) & MASK if signed else value
        elif op in _STORES:
            self.store((a + imm) & MASK, _STORES[op], b)
        elif op == "fence":
            pass
        else:
            raise Halt(f"instruction {op} at pc {pc:#010x} is not modelled")
        self.pc = nxt


def _signed_div(a: int, b: int) -> int:
    a, b = _sext(a, 32), _sext(b, 32)
    return -1 if b == 0 else (-(2**31) if a == -(2**31) and b == -1 else int(a / b))


def _signed_rem(a: int, b: int) -> int:
    a, b = _sext(a, 32), _sext(b, 32)
    return a if b == 0 else (0 if a == -(2**31) and b == -1 else a - b * int(a / b))


_ALU: dict[str, Callable[[int, int], int]] = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "xor": lambda a, b: a ^ b, "or": lambda a, b: a | b,
    "and": lambda a, b: a & b, "sll": lambda a, b: a << (b & 31), "srl": lambda a, b: a >> (b & 31),
    "sra": lambda a, b: _sext(a, 32) >> (b & 31), "slt": lambda a, b: int(_sext(a, 32) < _sext(b, 32)),
    "sltu": lambda a, b: int(a < b), "mul": lambda a, b: a * b,
    "mulh": lambda a, b: (_sext(a, 32) * _sext(b, 32)) >> 32, "mulhsu": lambda a, b: (_sext(a, 32) * b) >> 32,
    "mulhu": lambda a, b: (a * b) >> 32, "div": _signed_div, "divu": lambda a, b: a // b if b else MASK,
    "rem": _signed_rem, "remu": lambda a, b: a % b if b else a,
}
_REG_OPS = set(_ALU)
_ALU.update({imm: _ALU[reg] for imm, reg in (("addi", "add"), ("xori", "xor"), ("ori", "or"), ("andi", "and"),
                                            ("slli", "sll"), ("srli", "srl"), ("srai", "sra"), ("slti", "slt"),
                                            ("sltiu", "sltu"))})
_BRANCH: dict[str, Callable[[int, int], bool]] = {
    "beq": lambda a, b: a == b, "bne": lambda a, b: a != b, "blt": lambda a, b: _sext(a, 32) < _sext(b, 32),
    "bge": lambda a, b: _sext(a, 32) >= _sext(b, 32), "bltu": lambda a, b: a < b, "bgeu": lambda a, b: a >= b,
}
_LOADS = {"lb": (1, True), "lh": (2, True), "lw": (4, True), "lbu": (1, False), "lhu": (2, False)}
_STORES = {"sb": 1, "sh": 2, "sw": 4}
_OP = {(0, 0): "add", (0, 0x20): "sub", (1, 0): "sll", (2, 0): "slt", (3, 0): "sltu", (4, 0): "xor",
       (5, 0): "srl", (5, 0x20): "sra", (6, 0): "or", (7, 0): "and", (0, 1): "mul", (1, 1): "mulh",
       (2, 1): "mulhsu", (3, 1): "mulhu", (4, 1): "div", (5, 1): "divu", (6, 1): "rem", (7, 1): "remu"}
_OP_IMM = {0: "addi", 2: "slti", 3: "sltiu", 4: "xori", 6: "ori", 7: "andi", 1: "slli", 5: "srli"}


def _decode32(i: int) -> tuple[str, int, int, int, int, int]:
    opcode, rd, f3, rs1, rs2, f7 = i & 0x7F, (i >> 7) & 31, (i >> 12) & 7, (i >> 15) & 31, (i >> 20) & 31, i >> 25
    imm_i = _sext(i >> 20, 12)
    if opcode == 0x37 or opcode == 0x17:
        return ("lui" if opcode == 0x37 else "auipc"), rd, 0, 0, _sext(i & 0xFFFFF000, 32), 4
    if opcode == 0x6F:
        imm = ((i >> 11) & 0x100000) | (i & 0xFF000) | ((i >> 9) & 0x800) | ((i >> 20) & 0x7FE)
        return "jal", rd, 0, 0, _sext(imm, 21), 4
    if opcode == 0x67:
        return "jalr", rd, rs1, 0, imm_i, 4
    if opcode == 0x63:
        imm = ((i >> 19) & 0x1000) | ((i << 4) & 0x800) | ((i >> 20) & 0x7E0) | ((i >> 7) & 0x1E)
        return ("beq", "bne", "?", "?", "blt", "bge", "bltu", "bgeu")[f3], 0, rs1, rs2, _sext(imm, 13), 4
    if opcode == 0x03:
        return ("lb", "lh", "lw", "?", "lbu", "lhu", "?", "?")[f3], rd, rs1, 0, imm_i, 4
    if opcode == 0x23:
        return ("sb", "sh", "sw", "?", "?", "?", "?", "?")[f3], 0, rs1, rs2, _sext(((i >> 20) & 0xFE0) | rd, 12), 4
    if opcode == 0x13:
        name = "srai" if f3 == 5 and f7 == 0x20 else _OP_IMM[f3]
        return name, rd, rs1, 0, (rs2 if f3 in (1, 5) else imm_i), 4
    if opcode == 0x33:
        return _OP.get((f3, f7), "?"), rd, rs1, rs2, 0, 4
    if opcode == 0x0F:
        return "fence", 0, 0, 0, 0, 4
    return f"{i:#010x}", 0, 0, 0, 0, 4  # SYSTEM (ecall, CSRs, wfi) and the rest: not modelled


def _decode16(i: int) -> tuple[str, int, int, int, int, int]:
    quadrant, f3 = i & 3, i >> 13
    rd, rs2 = (i >> 7) & 31, (i >> 2) & 31
    rdp, rs2p = 8 + ((i >> 7) & 7), 8 + ((i >> 2) & 7)
    imm6 = _sext(((i >> 7) & 0x20) | ((i >> 2) & 0x1F), 6)
    if quadrant == 0:
        lw_imm = ((i >> 7) & 0x38) | ((i << 1) & 0x40) | ((i >> 4) & 0x4)
        if f3 == 0 and i:
            imm = ((i >> 7) & 0x30) | ((i >> 1) & 0x3C0) | ((i >> 4) & 0x4) | ((i >> 2) & 0x8)
            return "addi", rs2p, 2, 0, imm, 2
        if f3 == 2:
            return "lw", rs2p, rdp, 0, lw_imm, 2
        if f3 == 6:
            return "sw", 0, rdp, rs2p, lw_imm, 2
    elif quadrant == 1:
        cj = ((i >> 1) & 0x800) | ((i >> 7) & 0x10) | ((i >> 1) & 0x300) | ((i << 2) & 0x400) | \
             ((i >> 1) & 0x40) | ((i << 1) & 0x80) | ((i >> 2) & 0xE) | ((i << 3) & 0x20)
        if f3 == 0:
            return "addi", rd, rd, 0, imm6, 2
        if f3 in (1, 5):
            return "jal", (1 if f3 == 1 else 0), 0, 0, _sext(cj, 12), 2
        if f3 == 2:
            return "addi", rd, 0, 0, imm6, 2
        if f3 == 3 and rd == 2:
            imm = ((i >> 3) & 0x200) | ((i >> 2) & 0x10) | ((i << 1) & 0x40) | ((i << 4) & 0x180) | ((i << 3) & 0x20)
            return "addi", 2, 2, 0, _sext(imm, 10), 2
        if f3 == 3:
            return "lui", rd, 0, 0, _sext(((i << 5) & 0x20000) | ((i << 10) & 0x1F000), 18), 2
        if f3 == 4:
            kind = (i >> 10) & 3
            if kind < 3:
                shamt = ((i >> 7) & 0x20) | ((i >> 2) & 0x1F)
                return ("srli", "srai", "andi")[kind], rdp, rdp, 0, (imm6 if kind == 2 else shamt), 2
            return ("sub", "xor", "or", "and")[(i >> 5) & 3], rdp, rdp, rs2p, 0, 2
        imm = ((i >> 4) & 0x100) | ((i << 1) & 0xC0) | ((i << 3) & 0x20) | ((i >> 7) & 0x18) | ((i >> 2) & 0x6)
        return ("beq" if f3 == 6 else "bne"), 0, rdp, 0, _sext(imm, 9), 2
    elif quadrant == 2:
        if f3 == 0:
            return "slli", rd, rd, 0, ((i >> 7) & 0x20) | rs2, 2
        if f3 == 2:
            return "lw", rd, 2, 0, ((i >> 7) & 0x20) | ((i >> 2) & 0x1C) | ((i << 4) & 0xC0), 2
        if f3 == 4:
            if not (i >> 12) & 1:
                return ("jalr", 0, rd, 0, 0, 2) if rs2 == 0 else ("add", rd, 0, rs2, 0, 2)
            if rs2 == 0 and rd:
                return "jalr", 1, rd, 0, 0, 2
            if rs2:
                return "add", rd, rd, rs2, 0, 2
        if f3 == 6:
            return "sw", 0, 2, rs2, ((i >> 7) & 0x3C) | ((i >> 1) & 0xC0), 2
    return f"{i:#06x}", 0, 0, 0, 0, 2

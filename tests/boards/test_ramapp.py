"""The small RV32IMC core behind `load-ram` (daemon/boards/sim/ramapp.py), with a hand-held clock."""

from __future__ import annotations

from daemon.boards.sim.ramapp import RamApp

IRAM, DRAM = 0x403D0000, 0x3FCD8000
# riscv64-unknown-elf-as -march=rv32imc, linked at IRAM: sum 1..10 in a bnez loop; mul, div and rem of
# 7, 6, -7, 2; sw/lw through DRAM; `call` a routine that saves ra on the stack and calls the ROM's
# ets_printf(fmt, sum, mul, div, rem, mul, "ok"); sb 'Z' into UART0's FIFO; ebreak.
PROGRAM = bytes.fromhex(
    "0144a9442694fd14f5fc1d43994333067302655e894eb346de033367de033785cd3fa28510c11041b2871308850041050128b7020060"
    "1303a005238062000290411106c6b702004093820204e7800200b24041018280"
)
FORMAT = b"sum=%d mul=%d div=%d rem=%d hex=%08x s=%-3s|\n\0"


def test_a_program_runs_as_fast_as_the_uart_drains_and_stops_at_what_is_not_modelled() -> None:
    now = [0.0]
    app = RamApp([(DRAM, b"\0" * 8 + b"ok\0\0\0\0\0\0" + FORMAT), (IRAM, PROGRAM)], IRAM, clock=lambda: now[0])
    assert app.read() == b""  # no time has passed: the UART has sent nothing
    now[0] = 1.0
    assert app.read() == b"sum=55 mul=42 div=-3 rem=-1 hex=0000002a s=ok |\r\nZ"
    assert "instruction 0x9002 at pc 0x403d003e" in app.fault  # c.ebreak: the core stops there
    now[0] = 2.0
    assert app.read() == b""


def test_an_access_outside_sram_stops_the_core_with_the_address() -> None:
    now = [0.0]
    app = RamApp([(IRAM, bytes.fromhex("b7020050" "83a20200"))], IRAM, clock=lambda: now[0])  # lw t0, 0x50000000
    now[0] = 0.1
    app.read()
    assert "unmapped address 0x50000000" in app.fault

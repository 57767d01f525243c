"""Pure pieces: SLIP framing and the console judge (no I/O)."""

from __future__ import annotations

import pytest

from daemon.boards.console import ConsoleJudge
from daemon.boards.sim.slip import SlipDecoder, encode

pytestmark = [pytest.mark.board, pytest.mark.timeout(10)]


def test_slip_round_trip_with_escapes_and_split_reads() -> None:
    frames = [b"\x00\xc0\xdb\x01", b"plain", b"\xdb\xdc\xc0\xc0"]
    wire = b"noise" + b"".join(encode(f) for f in frames)
    decoder = SlipDecoder()
    got = []
    for i in range(0, len(wire), 3):  # arbitrary chunking, as a socket delivers it
        got += decoder.feed(wire[i : i + 3])
    assert got == frames


def test_judge_collects_results_and_spots_failures() -> None:
    judge = ConsoleJudge(count=2)
    judge.feed('BENCHD_RESULT {"cycles": 10, "top": [[1, 2]], "ok": true}')
    judge.feed("BENCHD_RESULT {not json")
    assert [r["cycles"] for r in judge.results] == [10]
    assert judge.bad_results == ["{not json"]
    assert judge.matches == 2 and judge.satisfied  # a broken line still shows the firmware got that far
    judge.feed("rst:0xc (RTC_SW_CPU_RST),boot:0xc (SPI_FAST_FLASH_BOOT)")
    judge.feed("abort() was called at PC 0x42007a1e on core 0")
    assert judge.panic and "abort()" in judge.panic
    assert judge.resets == 1 and not judge.looping

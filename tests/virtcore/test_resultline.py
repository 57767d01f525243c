"""BENCHD_RESULT lines of both versions (ARCHITECTURE.md section 7), and the monitor's board entry from them."""

from __future__ import annotations

import pytest

from daemon.actions.monitor import board_entry
from daemon.boards.console import ConsoleJudge, ConsoleResult
from daemon.firmware.resultline import ResultLineError, parse_line

SHA = "ab" * 32
V1 = f'BENCHD_RESULT {{"model_sha256": "{SHA}", "cycles": 123456, "top": [[3, 125], [1, -125]], "ok": true}}'
V2 = (f'BENCHD_RESULT {{"v": 2, "model_sha256": "{SHA}", "instructions": 4242, "top": [[0, 9]], '
      f'"out": [9, -128, 127], "ok": true, "vector": 1}}')
V2_HASHED = (f'BENCHD_RESULT {{"v": 2, "model_sha256": "{SHA}", "cycles": 77, "top": [], "out_sha256": "{"cd" * 32}", '
             '"ok": false}')


def test_version_1_line() -> None:
    result = parse_line("I (312) app: " + V1)
    assert result is not None and result.version == 1 and result.cycles == 123456 and result.instructions is None
    assert result.top == ((3, 125), (1, -125)) and result.out is None and result.ok is True


def test_version_2_line_with_the_whole_output() -> None:
    result = parse_line(V2)
    assert result is not None and result.version == 2 and result.instructions == 4242 and result.cycles is None
    assert result.out == (9, -128, 127) and result.vector == 1 and result.model_sha256 == SHA


def test_version_2_line_with_the_output_hash_from_a_real_board() -> None:
    result = parse_line(V2_HASHED)
    assert result is not None and result.cycles == 77 and result.out is None and result.out_sha256 == "cd" * 32
    assert result.ok is False


def test_a_line_without_a_result_is_none() -> None:
    assert parse_line("benchd: done, 0 failure(s)") is None


@pytest.mark.parametrize(("payload", "complaint"), [
    ('{"v": 3, "ok": true}', "version 3"),
    ('{"v": 2, "out": [1, 200], "ok": true}', "int8"),
    ('{"v": 2, "instructions": -1, "ok": true}', "negative"),
    ('{"v": 2, "instructions": 5, "ok": "yes"}', "true or false"),
    ('{"v": 2, "model_sha256": "xyz", "ok": true}', "64 hex"),
    ('{"v": 2, "top": [[1]], "ok": true}', "[[index, value]"),
    ('{"v": 2, "ok": tru', "not JSON"),
    ('[1, 2]', "JSON object"),
])
def test_broken_lines_say_what_is_wrong(payload: str, complaint: str) -> None:
    with pytest.raises(ResultLineError, match=complaint.replace("[", r"\[")):
        parse_line("BENCHD_RESULT " + payload)


def test_monitor_board_entry_reads_both_versions() -> None:
    judge = ConsoleJudge(count=3)
    for line in (V1, V2, V2.replace('"instructions": 4242', '"instructions": 4000')):
        judge.feed(line)
    entry = board_entry({"id": "sim-1"}, ConsoleResult("ok", "fine", judge.results), "monitor.log")
    assert entry["cycles_per_inference"] == 123456 and entry["instructions"] == 4121  # median of 4242 and 4000
    assert entry["outputs"] == [[9, -128, 127], [9, -128, 127]] and entry["inferences"] == 3 and entry["all_ok"]


def test_monitor_board_entry_is_not_ok_with_a_broken_line(capsys: pytest.CaptureFixture[str]) -> None:
    judge = ConsoleJudge()
    judge.feed(V2)
    judge.feed('BENCHD_RESULT {"v": 2, "out": [999], "ok": true}')
    entry = board_entry({"id": "sim-1"}, ConsoleResult("ok", "fine", judge.results), "monitor.log")
    assert entry["inferences"] == 1 and entry["all_ok"] is False
    assert "::warning::" in capsys.readouterr().out

"""The step log sink: the last line it keeps is a long line's head, where a message says what went wrong."""

from __future__ import annotations

from pathlib import Path

from daemon.executors.logsink import LogSink


def test_the_last_line_keeps_a_long_lines_head(tmp_path: Path) -> None:
    sink = LogSink(tmp_path / "step.log")
    reason = "model.tflite: operator 3 (ABS) is not supported; tensor " + "functional_1/block/Relu;" * 40
    sink.write(b"compiling\n" + reason.encode() + b"\n\n")
    sink.close()
    assert sink.last_line.startswith("model.tflite: operator 3 (ABS) is not supported")
    assert len(sink.last_line) == 500
    assert (tmp_path / "step.log").read_bytes().startswith(b"compiling\n")

"""What `benchd run` shows: a live table on a terminal, plain lines elsewhere, a last line with the status,
the result folder and the figures; broken pipes end quietly."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from daemon import cli
from daemon.record import (
    BoardResult,
    HostMetrics,
    JobFinished,
    JobRecord,
    JobStarted,
    Metrics,
    ModelInfo,
    ReferenceCMetrics,
    RunRecord,
    StepFinished,
    StepRecord,
    StepStarted,
    VirtualMetrics,
)
from daemon.reporters.terminal import LiveDisplay, PlainDisplay, display_for, figures, last_line

RECORD = RunRecord(run_id="r1", status="success", model=ModelInfo("kws_xs.tflite"))
SKIP = ("image benchd/espidf is not on this machine, could not be pulled (x), and building docker/espidf failed: "
        "a RUN step returned 1; run `benchd images bootstrap` … then `benchd images build espidf` to see the log")


def _events() -> list[object]:
    return [JobStarted(JobRecord("compile-host", "running", executor="docker")),
            StepStarted("compile-host", 0, StepRecord("compile", "compile", "running")),
            StepFinished("compile-host", 0, StepRecord("compile", "compile", "success", 2.25)),
            StepStarted("compile-host", 1, StepRecord("validate", "benchd/validate", "running")),
            JobStarted(JobRecord("firmware", "skipped", skip_reason=SKIP)),
            JobFinished("firmware", "skipped", {}, skip_reason=SKIP)]


def test_plain_lines_name_steps_and_give_skip_reasons_in_one_line() -> None:
    out = io.StringIO()
    display = PlainDisplay(out)
    for event in _events():
        display.on_event(event, RECORD)  # type: ignore[arg-type]
    assert out.getvalue().splitlines() == [
        "  .. compile-host / compile", "  ok compile-host / compile (2.2 s)", "  .. compile-host / benchd/validate",
        "  -- firmware skipped: image benchd/espidf not built (its build failed) — `benchd images build espidf` "
        "shows why"]


def test_the_live_table_shows_job_status_duration_and_the_running_step() -> None:
    from rich.console import Console

    display = LiveDisplay(io.StringIO())
    for event in _events():
        display.on_event(event, RECORD)  # type: ignore[arg-type]
    screen = io.StringIO()
    Console(file=screen, width=160, color_system=None).print(display.table())
    lines = screen.getvalue().splitlines()
    assert lines[0].split() == ["job", "status", "duration", "step"]
    running = next(line for line in lines if line.startswith("compile-host"))
    assert "running" in running and running.rstrip().endswith("benchd/validate") and " s " in running
    skipped = next(line for line in lines if line.startswith("firmware"))
    assert "skipped" in skipped and "`benchd images build espidf`" in skipped


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_live_table_only_on_a_terminal_and_never_with_json() -> None:
    assert isinstance(display_for(_Tty()), LiveDisplay)
    assert isinstance(display_for(io.StringIO()), PlainDisplay)
    assert isinstance(display_for(_Tty(), json_only=True), PlainDisplay)


def test_the_last_line_has_status_folder_and_figures() -> None:
    record = RunRecord(run_id="r1", status="success", model=ModelInfo("kws_xs.tflite"), metrics=Metrics(
        host=HostMetrics(latency_ms=0.104, latency_p95_ms=0.2, max_abs_diff=5, top1_agreement=0.9),
        reference_c=ReferenceCMetrics(arena_bytes=8000), virtual=VirtualMetrics(instructions=2375856),
        boards=(BoardResult(id="a", bit_exact=3), BoardResult(id="b", status="failure"))))
    line = last_line(record, Path("/r/kws_xs/r1"))
    assert line == ("success: kws_xs.tflite  /r/kws_xs/r1  top-1 90 %, max diff 5 LSB, latency median 0.104 ms, "
                    "p95 0.200 ms, arena 8,000 B, 2,375,856 instructions, boards 1/2 ok")
    assert figures(RECORD) == [] and last_line(RECORD, None) == "success: kws_xs.tflite"


class _Closed(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_broken_pipe_ends_quietly_in_process(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "stdout", _Closed())
    assert cli.main(["status", "--json", "--state", str(tmp_path)]) == 141
    assert capsys.readouterr().err == ""


def test_a_broken_pipe_ends_quietly(tmp_path: Path) -> None:
    """`benchd status --json | head -c0`: the reader is gone before benchd writes."""
    proc = subprocess.Popen([sys.executable, "-m", "daemon", "runs", "--json", "--state", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) in (0, 141) and "Traceback" not in err and "BrokenPipe" not in err, err

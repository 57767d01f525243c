"""junit.xml: one case per step and per board, readable by a JUnit parser (junitparser)."""

from __future__ import annotations

from pathlib import Path

# junitparser is a dev dependency: a missing one must fail, never skip.
import junitparser
import pytest
from report_fixtures import record_of, sample_result

from daemon.reporters.junit import JunitReporter
from daemon.reporters.reporter import RunInfo


def write(tmp_path: Path, result: dict) -> Path:
    JunitReporter().report(RunInfo(result["run_id"], "kws.tflite", "ab" * 32, tmp_path / "out"), record_of(result))
    return tmp_path / "out" / "junit.xml"


def cases(xml: Path) -> dict[str, object]:
    return {f"{c.classname}/{c.name}": c for suite in junitparser.JUnitXml.fromfile(str(xml)) for c in suite}


def test_success_has_a_case_per_step_and_board(tmp_path: Path) -> None:
    xml = junitparser.JUnitXml.fromfile(str(write(tmp_path, sample_result("run-1"))))
    assert [s.name for s in xml] == ["microkws.inspect", "microkws.compile-host", "microkws.boards"]
    assert (xml.tests, xml.failures, xml.errors, xml.skipped) == (4, 0, 0, 0)
    found = cases(write(tmp_path, sample_result("run-1")))
    assert found["microkws.compile-host/compile"].time == pytest.approx(20.5)
    board = found["microkws.boards/A0B1C2 (ESP32-C3 on socket://127.0.0.1:5555)"]
    assert board.is_passed and "cycles_per_inference: 123456" in board.system_out


def test_failure_skip_and_error_map_to_junit_results(tmp_path: Path) -> None:
    result = sample_result("run-1", "failure")
    result["jobs"].append({"id": "firmware", "status": "skipped", "skip_reason": "needs.compile-host failed",
                           "executor": None, "steps": [], "outputs": {}})
    result["jobs"].append({"id": "flash", "status": "error", "executor": "local", "steps": [], "outputs": {}})
    result["errors"].append({"where": "flash", "message": "no board attached: plug one in"})
    result["metrics"]["boards"].append({"id": "B2", "chip": "ESP32-C3", "port": "/dev/ttyACM1",
                                        "error": "Guru Meditation Error"})
    xml = junitparser.JUnitXml.fromfile(str(write(tmp_path, result)))
    assert (xml.tests, xml.failures, xml.errors, xml.skipped) == (7, 2, 1, 1)
    found = cases(write(tmp_path, result))
    validate = found["microkws.compile-host/validate"]
    assert isinstance(validate.result[0], junitparser.Failure)
    assert validate.result[0].message == "top-1 agreement 0.60 < 0.95"
    assert "log: logs/compile-host/2-validate.log" in validate.result[0].text
    assert isinstance(found["microkws.firmware/(job)"].result[0], junitparser.Skipped)
    flash = found["microkws.flash/(job)"].result[0]
    assert isinstance(flash, junitparser.Error) and flash.message == "no board attached: plug one in"
    assert isinstance(found["microkws.boards/B2 (ESP32-C3 on /dev/ttyACM1)"].result[0], junitparser.Failure)


def test_rejected_drop_still_yields_one_case_with_the_reason(tmp_path: Path) -> None:
    result = sample_result("run-1", "error", jobs=[], metrics={"host": {}, "boards": []},
                           errors=[{"where": "intake", "message": "not a TFLite flatbuffer"}])
    result["pipeline"]["name"] = None
    xml = junitparser.JUnitXml.fromfile(str(write(tmp_path, result)))
    (case,) = [c for suite in xml for c in suite]
    assert case.name == "kws.tflite" and case.result[0].message == "intake: not a TFLite flatbuffer"
    assert xml.errors == 1

"""junit.xml beside result.json: one <testsuite> per job (a <testcase> per step) and one for the boards.

CI systems (Jenkins, GitLab, Buildkite) read this format; the schema is the common Ant/Jenkins one:
<failure> for a step that failed, <error> for one that could not run, <skipped> for a skipped one.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from daemon.record import RunRecord
from daemon.reporters.reporter import RunInfo

FAILED = {"failure": "failure", "error": "error", "cancelled": "error"}


def _case(suite: ET.Element, classname: str, name: str, status: str, seconds: float, message: str | None,
          detail: str = "") -> None:
    case = ET.SubElement(suite, "testcase", classname=classname, name=name, time=f"{seconds:.3f}")
    if status == "skipped":
        ET.SubElement(case, "skipped", message=message or "skipped")
    elif status in FAILED:
        node = ET.SubElement(case, FAILED[status], message=message or status, type=status)
        node.text = detail or message or status
    elif status != "success":  # running / queued: the run ended without this one finishing
        node = ET.SubElement(case, "error", message=f"ended while {status}", type="incomplete")
        node.text = message or f"ended while {status}"


def _count(suite: ET.Element) -> None:
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    for tag, attr in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
        suite.set(attr, str(sum(1 for c in cases if c.find(tag) is not None)))
    suite.set("time", f"{sum(float(c.get('time', 0)) for c in cases):.3f}")


def _board_status(board: dict[str, Any]) -> tuple[str, str | None]:
    if board.get("error"):
        return "failure", str(board["error"])
    if board.get("ok") is False or board.get("status") in FAILED:
        return FAILED.get(str(board.get("status")), "failure"), f"board result not ok: {board.get('status', '')}"
    return "success", None


def build_junit(result: dict[str, Any]) -> ET.Element:
    pipeline = (result.get("pipeline") or {}).get("name") or "benchd"
    model = (result.get("model") or {}).get("name") or "model"
    root = ET.Element("testsuites", name=f"benchd {pipeline}: {model}")
    stamp = result.get("started_at") or result.get("finished_at") or ""
    for job in result.get("jobs") or []:
        suite = ET.SubElement(root, "testsuite", name=f"{pipeline}.{job['id']}", timestamp=stamp)
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="executor", value=str(job.get("executor") or "-"))
        image = job.get("image") or {}
        if image:
            ET.SubElement(props, "property", name="image", value=f"{image.get('ref')}@{image.get('digest')}")
        steps = job.get("steps") or []
        for step in steps:
            detail = f"{step.get('error') or ''}\nexit code: {step.get('exit_code')}\nlog: {step.get('log') or '-'}"
            _case(suite, f"{pipeline}.{job['id']}", str(step.get("id")), str(step.get("status")),
                  float(step.get("duration_s") or 0), step.get("error"), detail.strip())
        if not steps:  # a job that never started a step still says why
            reason = job.get("skip_reason") or next(
                (e["message"] for e in result.get("errors") or [] if e.get("where") == job["id"]), None)
            _case(suite, f"{pipeline}.{job['id']}", "(job)", str(job.get("status")), 0.0, reason)
        _count(suite)
    boards = (result.get("metrics") or {}).get("boards") or []
    if boards:
        suite = ET.SubElement(root, "testsuite", name=f"{pipeline}.boards", timestamp=stamp)
        for board in boards:
            status, message = _board_status(board)
            label = f"{board.get('id')} ({board.get('chip') or '?'} on {board.get('port') or '?'})"
            _case(suite, f"{pipeline}.boards", label, status, float(board.get("flash_s") or 0), message)
            out = ET.SubElement(suite.findall("testcase")[-1], "system-out")
            out.text = f"cycles_per_inference: {board.get('cycles_per_inference')}\ntop: {board.get('top')}"
        _count(suite)
    if not root.findall("testsuite"):  # rejected before any job ran: one case that carries the reason
        suite = ET.SubElement(root, "testsuite", name=f"{pipeline}.run", timestamp=stamp)
        message = "; ".join(f"{e['where']}: {e['message']}" for e in result.get("errors") or []) or None
        _case(suite, f"{pipeline}.run", model, str(result.get("status")), float(result.get("duration_s") or 0),
              message)
        _count(suite)
    for attr in ("tests", "failures", "errors", "skipped"):
        root.set(attr, str(sum(int(s.get(attr, 0)) for s in root.findall("testsuite"))))
    root.set("time", f"{float(result.get('duration_s') or 0):.3f}")
    return root


def write_junit(path: Path, result: dict[str, Any]) -> None:
    tree = ET.ElementTree(build_junit(result))
    ET.indent(tree)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tree.write(tmp, encoding="utf-8", xml_declaration=True)
    os.replace(tmp, path)  # a CI job collecting artifacts never sees half a file


class JunitReporter:
    name = "junit"

    def on_start(self, run: RunInfo) -> None:
        pass

    def report(self, run: RunInfo, record: RunRecord) -> None:
        write_junit(run.result_dir / "junit.xml", record.to_dict())

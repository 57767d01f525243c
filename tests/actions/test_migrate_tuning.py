"""Tuning-record migration (TVM 0.9 AutoTVM logs -> v0.18.0): the pure functions and the action."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from daemon.actions.context import ActionContext, ActionError
from daemon.actions.migrate_tuning import migrate_lines, migrate_record, migrate_target, run

OLD = {
    "input": ["c -keys=cpu -link-params=0 -mcpu=generic -runtime=c -system-lib=1", "conv2d_NCHWc.x86",
              [["TENSOR", [1, 8, 49, 10], "int8"]], {}],
    "config": {"index": 7, "code_hash": None, "entity": [["tile_ic", "sp", [-1, 4]]]},
    "result": [[0.000123], 0, 1.5, 1650000000.0], "version": 0.2, "tvm_version": "0.9.0",
}


@pytest.mark.parametrize(("before", "after"), [
    ("c -keys=cpu -link-params=0 -runtime=c -system-lib=1", "c -keys=cpu"),
    ("llvm -link-params=1 -mcpu=cortex-m7", "llvm -mcpu=cortex-m7"),
    ("c -keys=arm_cpu,cpu -mcpu=cortex-m4 -model=stm32", "c -keys=arm_cpu,cpu -mcpu=cortex-m4 -model=stm32"),
    ("c --runtime=c -keys=cpu", "c -keys=cpu"),
    ("llvm -mattr=+runtime-thing", "llvm -mattr=+runtime-thing"),  # only whole attributes go
])
def test_obsolete_target_attributes_are_stripped(before, after):
    assert migrate_target(before) == after


def test_a_record_keeps_everything_but_the_obsolete_attributes():
    line, changed = migrate_record(json.dumps(OLD))
    new = json.loads(line)
    assert changed and new["input"][0] == "c -keys=cpu -mcpu=generic"
    assert {k: v for k, v in new.items() if k != "input"} == {k: v for k, v in OLD.items() if k != "input"}
    assert new["input"][1:] == OLD["input"][1:]
    again, changed_again = migrate_record(line)
    assert not changed_again and again == line  # idempotent


def test_old_short_layout_is_migrated_too():
    line, changed = migrate_record(json.dumps({"i": ["llvm -link-params=0", "dense", [], {}], "r": [[1], 0]}))
    assert changed and json.loads(line)["i"][0] == "llvm"


def test_lines_are_counted_and_bad_lines_name_file_and_line():
    clean = dict(OLD, input=["llvm -keys=cpu", *OLD["input"][1:]])
    lines, total, changed = migrate_lines(["", json.dumps(OLD), "# note", json.dumps(clean)])
    assert (len(lines), total, changed) == (2, 2, 1)
    with pytest.raises(ActionError, match=r"lab\.log:2: .*AutoTVM"):
        migrate_lines([json.dumps(OLD), "not json"], where="lab.log")


def _ctx(tmp_path, records: str) -> ActionContext:
    workspace = tmp_path / "ws"
    workspace.mkdir(exist_ok=True)
    return ActionContext("migrate-tuning", {"records": records}, tmp_path / "m.tflite", workspace,
                         workspace / "out", None, workspace / "summary.md")


def test_the_action_writes_a_copy_into_the_workspace_and_says_so(tmp_path, capsys):
    user_file = tmp_path / "lab tuning.json"
    user_file.write_text(json.dumps(OLD) + "\n")
    before = user_file.read_bytes()
    ctx = _ctx(tmp_path, str(user_file))
    run(ctx)
    assert user_file.read_bytes() == before  # never edited
    outputs = dict(line.split("=", 1) for line in (ctx.workspace / "out").read_text().splitlines())
    migrated = outputs["records"]
    assert outputs["migrated"] == "1" and migrated.startswith(str(ctx.workspace))
    assert json.loads(Path(migrated).read_text())["input"][0] == "c -keys=cpu -mcpu=generic"
    said = capsys.readouterr().out
    assert said.startswith("::warning::migrated 1 of 1 tuning records") and "unchanged" in said
    assert "migrated for TVM v0.18.0" in (ctx.workspace / "summary.md").read_text()


def test_the_action_explains_a_missing_file(tmp_path):
    with pytest.raises(ActionError, match="cannot read the tuning records .*records"):
        run(_ctx(tmp_path, str(tmp_path / "nope.json")))

from pathlib import Path

import pytest

from daemon.errors import PipelineError
from daemon.pipeline.loader import find_workflow, load_workflow

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
name: t
on:
  model_dropped: { paths: ["*.tflite"] }
jobs:
  a:
    steps:
      - id: one
        run: echo hi
  b:
    needs: a
    steps:
      - run: echo ${{ needs.a.outputs.x }}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "wf.yml"
    path.write_text(text)
    return path


def test_good_workflow_loads(tmp_path):
    wf = load_workflow(write(tmp_path, GOOD))
    assert list(wf.jobs) == ["a", "b"]
    assert wf.jobs["b"].needs == ("a",)
    assert wf.jobs["a"].steps[0].id == "one"
    assert len(wf.sha256) == 64


def test_default_pipeline_loads():
    wf = load_workflow(find_workflow("microkws", ROOT / "pipelines"))
    assert {"inspect", "compile-host", "compile-mlf", "firmware", "flash"} <= set(wf.jobs)
    assert wf.jobs["compile-host"].container == "benchd/tvm"
    assert wf.jobs["flash"].fail_fast is False


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ("    steps:\n      - id: one", "    stesp:\n      - id: one", 6, "unknown key 'stesp' in job a"),
        ("        run: echo hi", "        run: echo hi\n        shell: sh", 9, "unknown key 'shell' in a step"),
        ("echo ${{ needs.a.outputs.x }}", "echo ${{ needs.a.outputs.x ==  }}", 12, "bad expression"),
        ("echo ${{ needs.a.outputs.x }}", "echo ${{ github.sha }}", 12, "unknown context 'github'"),
        ("echo ${{ needs.a.outputs.x }}", "echo ${{ model.name", 12, "unclosed expression"),
        ("    needs: a", "    needs: c", 10, "needs 'c', which is not a job"),
        ("  a:\n    steps:", "  a:\n    needs: b\n    steps:", 6, "cycle: a -> b -> a"),
        ("        run: echo hi", "        uses: benchd/nope", 8, "unknown action 'benchd/nope'"),
        ("        run: echo hi", "        run: echo hi\n        uses: benchd/inspect", 7, "exactly one of"),
        ("on:\n", "on:\n  push: {}\n", 3, "unknown key 'push' in on"),
    ],
)
def test_mistakes_name_file_and_line(tmp_path, old, new, line, message):
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(PipelineError) as info:
        load_workflow(path)
    assert str(info.value).startswith(f"{path}:{line}: "), str(info.value)
    assert message in str(info.value)


def test_step_outputs_must_come_from_an_earlier_step(tmp_path):
    text = GOOD.replace("        run: echo hi", "        run: echo ${{ steps.later.outputs.x }}")
    with pytest.raises(PipelineError, match="steps.later is not an earlier step"):
        load_workflow(write(tmp_path, text))


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, GOOD.replace("  b:\n", "  b:\n   - [unbalanced\n"))
    with pytest.raises(PipelineError, match=rf"^{path}:1[0-9]: not valid YAML"):
        load_workflow(path)


def test_unknown_pipeline_name_lists_the_known_ones(tmp_path):
    with pytest.raises(PipelineError, match="known: microkws"):
        find_workflow("nope", ROOT / "pipelines")

import time
from pathlib import Path

import pytest

from daemon.actions import ACTIONS
from daemon.errors import PipelineError
from daemon.pipeline import loader
from daemon.pipeline.jobs import _uses_boards
from daemon.pipeline.loader import find_workflow


def load_workflow(path: Path) -> loader.Workflow:
    return loader.load_workflow(path, actions=ACTIONS)  # as the service hands them over

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


def test_a_jobs_if_may_name_its_own_matrix_axes_only(tmp_path):
    text = GOOD.replace("  b:\n    needs: a\n", "  b:\n    needs: a\n    if: matrix.backend == 'tvm'\n"
                        "    strategy: { matrix: { backend: [c, tvm] } }\n")
    assert load_workflow(write(tmp_path, text)).jobs["b"].if_ == "matrix.backend == 'tvm'"
    with pytest.raises(PipelineError, match=r"wf.yml:11: matrix.board is used but job b has no matrix axis 'board'"):
        load_workflow(write(tmp_path, text.replace("matrix.backend ==", "matrix.board ==")))


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
        ("        run: echo hi", "        run: echo hi\n        uses: benchd/inspect", 9, "exactly one of"),
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


# -- hostile and careless workflows (issue 12): a clear PipelineError at the culprit's line, never a traceback --
def fails_at(tmp_path: Path, text: str, line: int, message: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(PipelineError) as info:
        load_workflow(path)
    assert str(info.value).startswith(f"{path}:{line}: "), str(info.value)
    assert message in str(info.value), str(info.value)
    return str(info.value)


def laughs(levels: int) -> str:
    """`l0: &l0 [x × 9]`, `lN: &lN [*lN-1 × 9]`: 9**levels values once expanded (the billion laughs)."""
    lines = ["x-laughs:", "  l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_quickly_at_the_alias(tmp_path):
    text = laughs(10) + GOOD.replace("        run: echo hi", "        run: echo hi\n        with: *l9")
    started = time.monotonic()
    message = fails_at(tmp_path, text, 6, "expands to more than")  # l4 (66,430 values) crosses the bound
    assert time.monotonic() - started < 5, "expansion must stop at the bound, not run to exhaustion"
    assert "MemoryError" not in message


def test_an_alias_inside_its_own_anchor_is_a_cycle_error(tmp_path):
    fails_at(tmp_path, "name: t\njobs: &j\n  a:\n    steps: *j\n", 4, "refers to the value that contains it")


def test_nesting_beyond_the_bound_is_an_error_not_a_recursion_error(tmp_path):
    fails_at(tmp_path, "name: t\njobs:\n  a: " + "[" * 5000 + "]" * 5000 + "\n", 3, "nested deeper than 64")


def test_a_flat_list_of_a_million_values_stops_early(tmp_path):
    started = time.monotonic()
    fails_at(tmp_path, "name: t\njobs: [" + "x, " * 120_000 + "x]\n", 2, "more than 50000 values")
    assert time.monotonic() - started < 5


def test_an_oversized_file_is_refused_before_parsing(tmp_path):
    path = write(tmp_path, GOOD + "#" * (600 << 10) + "\n")
    with pytest.raises(PipelineError, match=rf"^{path}: \d+ bytes is too large"):
        load_workflow(path)


def test_plain_aliases_still_work(tmp_path):
    text = GOOD.replace("  a:\n    steps:", "  a:\n    env: &shared { MODE: fast }\n    steps:").replace(
        "    needs: a\n", "    needs: a\n    env: *shared\n")
    wf = load_workflow(write(tmp_path, text))
    assert wf.jobs["a"].env == wf.jobs["b"].env == {"MODE": "fast"}


def test_duplicate_job_ids_name_both_lines(tmp_path):
    text = GOOD + "  a:\n    steps:\n      - run: echo again\n"
    fails_at(tmp_path, text, 13, "duplicate key 'a' (first at line 5)")


def test_duplicate_step_keys_name_both_lines(tmp_path):
    fails_at(tmp_path, GOOD.replace("        run: echo hi", "        run: echo hi\n        run: rm -rf ~"), 9,
             "duplicate key 'run' (first at line 8)")


@pytest.mark.parametrize("key", ["? [a, b]\n  : {steps: [{run: x}]}", "{a: 1}: {steps: [{run: x}]}",
                                 "[a]: {steps: [{run: x}]}"])
def test_keys_that_are_not_scalars_are_refused(tmp_path, key):
    # GitHub's own starter workflows had `? [a, b]`-style keys: TypeError: unhashable type: 'list' before
    fails_at(tmp_path, f"name: t\njobs:\n  {key}\n", 3, "a key must be a plain name")


@pytest.mark.parametrize("value", [".nan", ".NaN", ".inf", "-.inf", "-1", "0", "0.0", "1e9", "'10'", "true", "[1]"])
def test_timeout_minutes_must_be_finite_and_positive(tmp_path, value):
    text = GOOD.replace("  a:\n    steps:", f"  a:\n    timeout-minutes: {value}\n    steps:")
    fails_at(tmp_path, text, 6, "timeout-minutes must be a number of minutes above 0")
    step = GOOD.replace("        run: echo hi", f"        run: echo hi\n        timeout-minutes: {value}")
    fails_at(tmp_path, step, 9, "timeout-minutes must be a number")


def test_a_good_timeout_is_kept(tmp_path):
    wf = load_workflow(write(tmp_path, GOOD.replace("  a:\n    steps:", "  a:\n    timeout-minutes: 0.5\n    steps:")))
    assert wf.jobs["a"].timeout_minutes == 0.5


def test_a_quoted_false_is_not_true(tmp_path):
    text = GOOD.replace("  a:\n    steps:", "  a:\n    continue-on-error: 'false'\n    steps:")
    fails_at(tmp_path, text, 6, "continue-on-error must be true or false")


@pytest.mark.parametrize(("needs", "line", "message"), [
    ("5", 10, "needs must be a job id or a list"),
    ("[[a]]", 10, "needs must be a job id or a list"),
    ("\n      - a\n      - c", 12, "needs 'c', which is not a job"),  # the item's line, not `needs:`
])
def test_needs_must_name_jobs(tmp_path, needs, line, message):
    fails_at(tmp_path, GOOD.replace("    needs: a", f"    needs: {needs}"), line, message)


def test_an_expression_in_a_run_block_is_reported_on_its_own_line(tmp_path):
    text = GOOD.replace("        run: echo hi", "        run: |\n          echo hi\n          echo ${{ github.sha }}")
    fails_at(tmp_path, text, 10, "unknown context 'github'")  # line 8 is `run: |`, the line before
    second = GOOD.replace("        run: echo hi",
                          "        run: >\n          echo ${{ model.name }}\n\n          echo ${{ model.nope }}")
    fails_at(tmp_path, second, 11, "model has no field 'nope'")
    unclosed = GOOD.replace("        run: echo hi", "        run: |\n          echo hi\n          echo ${{ model.name")
    fails_at(tmp_path, unclosed, 10, "unclosed expression")


def test_reference_errors_point_at_the_expression_not_the_step(tmp_path):
    text = GOOD.replace("      - id: one\n        run: echo hi",
                        "      - id: one\n        name: first\n        run: echo ${{ steps.later.outputs.x }}")
    fails_at(tmp_path, text, 9, "steps.later is not an earlier step")
    text = GOOD.replace("  b:\n    needs: a\n", "  b:\n    needs: []\n")
    fails_at(tmp_path, text, 12, "needs.a is used but this job does not list it")
    text = GOOD.replace("  b:\n    needs: a\n", "  b:\n    outputs:\n      y: x\n      x: ${{ needs.a.result }}\n")
    fails_at(tmp_path, text, 12, "needs.a is used but job b does not list it")


def test_an_empty_run_is_an_error_not_an_index_error(tmp_path):
    fails_at(tmp_path, GOOD.replace("        run: echo hi", "        run: ''"), 8, "`run:` needs a script")


def test_a_deeply_nested_expression_is_an_error_not_a_recursion_error(tmp_path):
    deep = "(" * 5000 + "true" + ")" * 5000
    fails_at(tmp_path, GOOD.replace("        run: echo hi", f"        if: {deep}\n        run: echo hi"), 8,
             "nested too deeply")


def test_without_the_actions_table_only_the_form_of_uses_is_checked(tmp_path):
    path = write(tmp_path, GOOD.replace("        run: echo hi", "        uses: benchd/someday"))
    assert loader.load_workflow(path).jobs["a"].steps[0].action == "someday"
    with pytest.raises(PipelineError, match="unknown action 'benchd/someday'"):
        load_workflow(path)
    with pytest.raises(PipelineError, match=rf"^{path}:8: unknown action 'actions/checkout@v4'"):
        loader.load_workflow(write(tmp_path, GOOD.replace("        run: echo hi", "        uses: actions/checkout@v4")))


def test_empty_steps_are_reported_at_steps_not_at_the_job(tmp_path):
    fails_at(tmp_path, GOOD.replace("    steps:\n      - id: one\n        run: echo hi\n", "    steps:\n\n"), 6,
             "job a needs a non-empty list of steps")


def with_runs_on(runs_on: str) -> str:
    return GOOD.replace("  a:\n    steps:", f"  a:\n    runs-on: {runs_on}\n    steps:")


def test_runs_on_takes_a_list_of_labels_the_placement_first(tmp_path):
    wf = load_workflow(write(tmp_path, with_runs_on("[board:esp32c3, flash=4MB, sensor=mic, rev=v0.4, x/y_z-1]")))
    assert wf.jobs["a"].runs_on == "board:esp32c3"
    assert wf.jobs["a"].labels == ("board:esp32c3", "flash=4MB", "sensor=mic", "rev=v0.4", "x/y_z-1")
    block = load_workflow(write(tmp_path, with_runs_on("\n      - host\n      - docker")))
    assert (block.jobs["a"].runs_on, block.jobs["a"].labels) == ("host", ("host", "docker"))


def test_runs_on_as_one_word_still_works(tmp_path):
    wf = load_workflow(write(tmp_path, with_runs_on("board:esp32c3")))
    assert (wf.jobs["a"].runs_on, wf.jobs["a"].labels) == ("board:esp32c3", ("board:esp32c3",))
    assert (wf.jobs["b"].runs_on, wf.jobs["b"].labels) == ("host", ("host",))  # no runs-on: the host


@pytest.mark.parametrize(("runs_on", "line", "message"), [
    ("[flash=4MB, sensor=mic]", 6, "jobs.a.runs-on has no placement: it is `host` or `board:<kind>`"),
    ("[]", 6, "jobs.a.runs-on has no placement"),
    ("docker", 6, "jobs.a.runs-on has no placement"),
    ("[board:esp32c3, flash=4MB, host]", 6, "jobs.a.runs-on has two placements (board:esp32c3, host)"),
    ("\n      - board:esp32c3\n      - board:esp32s3", 8, "two placements (board:esp32c3, board:esp32s3)"),
    ("[flash=4MB, board:esp32c3]", 6, "jobs.a.runs-on: put the placement 'board:esp32c3' first"),
    ("[host, flash=4MB, flash=8MB]", 6, "jobs.a.runs-on[2]: label 'flash' is given twice"),
])
def test_runs_on_needs_exactly_one_placement_first(tmp_path, runs_on, line, message):
    fails_at(tmp_path, with_runs_on(runs_on), line, message)


@pytest.mark.parametrize("label", ["'flash = 4MB'", "a=b=c", "'sensor=mic!'", "=4MB", "flash=", "{flash: 4MB}", "5",
                                   "board:", "board:esp32c3=x", "''"])
def test_a_bad_label_is_refused_with_its_key_path(tmp_path, label):
    fails_at(tmp_path, with_runs_on(f"[host, {label}]"), 6, "jobs.a.runs-on[1]: bad label")


def test_a_board_job_given_as_a_list_still_asks_for_boards(tmp_path):
    assert _uses_boards(load_workflow(write(tmp_path, with_runs_on("[board:esp32c3, flash=4MB]"))))
    assert not _uses_boards(load_workflow(write(tmp_path, with_runs_on("[host, docker]"))))

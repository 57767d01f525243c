"""YAML -> Workflow, with every mistake reported as file:line (unknown keys, bad expressions, cycles)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

from daemon.errors import PipelineError
from daemon.pipeline import expr
from daemon.pipeline.document import Document
from daemon.pipeline.model import Job, Step, Workflow

WORKFLOW_KEYS = {"name", "on", "env", "jobs"}
JOB_KEYS = {
    "name", "needs", "if", "runs-on", "container", "timeout-minutes", "continue-on-error",
    "strategy", "env", "outputs", "steps",
}
STEP_KEYS = {"id", "name", "run", "uses", "with", "env", "if", "timeout-minutes", "continue-on-error",
             "working-directory"}


ACTION_NAME = re.compile(r"benchd/[a-z0-9][a-z0-9-]*")
# A `runs-on` label: `name` or `name=value`; the placement (`host`, `board:<kind>`) is one of these too.
LABEL = re.compile(r"[A-Za-z0-9_.:/-]+(=[A-Za-z0-9_.:/-]+)?")
MAX_BYTES = 512 << 10  # a workflow is a page of YAML; anything near this is a mistake or an attack
MAX_TIMEOUT_MINUTES = 7 * 24 * 60.0  # a week; larger values overflow the runner's timers
# The pipelines that ship inside the package (package data), found by name from any directory. The
# checkout's top-level pipelines/ holds the same files (tests/pipeline/test_builtin.py keeps them equal).
BUILTIN_PIPELINES = Path(__file__).resolve().parent.parent / "pipelines"

def _mapping(doc: Document, value: Any, path: tuple[Any, ...], what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise doc.error(path, f"{what} must be a mapping")
    return value


def _keys(doc: Document, data: dict[str, Any], allowed: set[str], path: tuple[Any, ...], what: str) -> None:
    for key in data:
        if key not in allowed:
            raise doc.error((*path, key), f"unknown key {key!r} in {what} (supported: {', '.join(sorted(allowed))})")


def _strings(doc: Document, data: Any, path: tuple[Any, ...], what: str) -> dict[str, str]:
    out = {}
    for key, value in _mapping(doc, data, path, what).items():
        if isinstance(value, dict | list):
            raise doc.error((*path, key), f"{what}.{key} must be a single value")
        out[str(key)] = expr.to_text(value)
    return out


Refs = list[tuple[int, expr.Node]]  # (line, parsed expression)


def _check_expressions(doc: Document, value: Any, path: tuple[Any, ...], bare: bool = False) -> Refs:
    """Parse every expression in a value now, so that errors point at the line of the expression."""
    nodes: Refs = []
    if isinstance(value, dict):
        for k, v in value.items():
            nodes += _check_expressions(doc, v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            nodes += _check_expressions(doc, v, (*path, i))
    elif isinstance(value, str):
        bodies = expr.embedded(value)
        if "${{" in value and value.count("${{") != len(bodies):
            unclosed = len(bodies) if value.count("}}") else 0
            raise doc.error_line(doc.line_of_expression(path, unclosed), f"unclosed expression in {value!r}")
        for nth, body in enumerate(bodies or ([value] if bare else [])):
            line = doc.line_of_expression(path, nth) if bodies else doc.line(path)
            try:
                nodes.append((line, expr.parse(body)))
            except expr.ExprError as exc:
                raise doc.error_line(line, f"bad expression: {exc}") from exc
            except RecursionError as exc:  # the expression parser recurses once per `(` or `!`
                raise doc.error_line(line, "bad expression: nested too deeply") from exc
    return nodes


def _flag(doc: Document, data: dict[str, Any], key: str, path: tuple[Any, ...], default: bool) -> bool:
    """`true`/`false` only: bool("false") is True, so a quoted value would silently mean the opposite."""
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise doc.error((*path, key), f"{key} must be true or false, not {value!r}")
    return value


def _step_name(data: dict[str, Any], step_id: str) -> str:
    """How reports and the terminal call a step: its `name:`, else its action, else its `id:`; an unnamed
    `run:` step is `run: <first words>`, never a long shell line cut anywhere."""
    if data.get("name"):
        return str(data["name"])
    if data.get("uses"):
        return str(data["uses"])
    if data.get("id"):
        return str(data["id"])
    first = str(data.get("run", "")).strip().splitlines()[0]
    return "run: " + (first if len(first) <= 40 else first[:first.rfind(" ", 0, 40) if " " in first[:40] else 39] + "…")


def _step(doc: Document, data: Any, path: tuple[Any, ...], index: int, seen: set[str], needs: list[str],
          actions: Collection[str] | None) -> Step:
    data = _mapping(doc, data, path, "a step")
    _keys(doc, data, STEP_KEYS, path, "a step")
    if ("run" in data) == ("uses" in data):
        both = [k for k in data if k in ("run", "uses")]  # point at the second one, when there are two
        raise doc.error((*path, *both[1:]), "a step needs exactly one of `run:` or `uses:`")
    run = data.get("run")
    if "run" in data and (not isinstance(run, str) or not run.strip()):
        raise doc.error((*path, "run"), "`run:` needs a script (a non-empty string)")
    workdir = data.get("working-directory")
    if workdir is not None and not isinstance(workdir, str):
        raise doc.error((*path, "working-directory"), "working-directory must be a path (a string)")
    uses = data.get("uses")
    if uses is not None and (not isinstance(uses, str) or not ACTION_NAME.fullmatch(uses)
                             or (actions is not None and uses[7:] not in actions)):
        known = ", ".join("benchd/" + a for a in actions) if actions is not None else "benchd/<name>"
        raise doc.error((*path, "uses"), f"unknown action {uses!r} (built-in: {known})")
    step_id = str(data.get("id") or f"step-{index + 1}")
    if step_id in seen:
        raise doc.error((*path, "id"), f"step id {step_id!r} is used twice in this job")
    refs = _check_expressions(doc, data.get("if"), (*path, "if"), bare=True)
    for key in ("run", "with", "env", "working-directory"):
        refs += _check_expressions(doc, data.get(key), (*path, key))
    for line, node in refs:
        for ref in expr.references(node):
            if ref[0] == "steps" and ref[1] not in seen:
                raise doc.error_line(line, f"steps.{ref[1]} is not an earlier step of this job")
            if ref[0] == "needs" and ref[1] not in needs:
                raise doc.error_line(line, f"needs.{ref[1]} is used but this job does not list it in `needs`")
    seen.add(step_id)
    return Step(
        index=index,
        id=step_id,
        name=_step_name(data, step_id),
        line=doc.line(path),
        run=None if run is None else str(run),
        uses=None if uses is None else str(uses),
        with_=_strings(doc, data.get("with"), (*path, "with"), "with"),
        env=_strings(doc, data.get("env"), (*path, "env"), "env"),
        if_=None if data.get("if") is None else str(data["if"]),
        timeout_minutes=_number(doc, data.get("timeout-minutes"), (*path, "timeout-minutes")),
        continue_on_error=_flag(doc, data, "continue-on-error", path, False),
        working_directory=workdir,
    )


def _number(doc: Document, value: Any, path: tuple[Any, ...]) -> float | None:
    if value is None:
        return None
    # `not 0 < value <= max` also refuses .nan (every comparison with NaN is false) and .inf
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_TIMEOUT_MINUTES:
        raise doc.error(path, f"timeout-minutes must be a number of minutes above 0 and at most "
                              f"{MAX_TIMEOUT_MINUTES:g}, not {value!r}")
    return float(value)


def _is_placement(label: str) -> bool:
    return label == "host" or label.startswith("board:")


def _labels(doc: Document, value: Any, path: tuple[Any, ...]) -> tuple[str, ...]:
    """`runs-on`: `host` or `board:<kind>` (where the job runs), or a list of labels that starts with one
    (`[board:esp32c3, flash=4MB]`: the board must carry the others too). Every label, the placement first."""
    key = ".".join(str(p) for p in path)  # jobs.<id>.runs-on
    listed = isinstance(value, list)
    items: list[Any] = value if listed else [value]
    spots = [((*path, i), f"{key}[{i}]") for i in range(len(items))] if listed else [(path, key)]
    for item, (at, shown) in zip(items, spots, strict=True):
        if not isinstance(item, str) or not LABEL.fullmatch(item) or item == "board:" \
                or (_is_placement(item) and "=" in item):
            raise doc.error(at, f"{shown}: bad label {item!r}: a label is `name` or `name=value` of letters, "
                                "digits and `_ . : / -` (a placement: `host` or `board:<kind>`)")
    placements = [i for i, label in enumerate(items) if _is_placement(label)]
    if not placements:
        raise doc.error(path, f"{key} has no placement: it is `host` or `board:<kind>`, alone or first in a "
                              "list of labels (`[board:esp32c3, flash=4MB]`)")
    if len(placements) > 1:
        first, second = (items[i] for i in placements[:2])
        raise doc.error(spots[placements[1]][0], f"{key} has two placements ({first}, {second}): a job runs "
                                                 "on the host or on one kind of board")
    if placements[0] != 0:
        raise doc.error(spots[placements[0]][0], f"{key}: put the placement {items[placements[0]]!r} first "
                                                 "in the list of labels")
    names: set[str] = set()
    for label, (at, shown) in zip(items, spots, strict=True):
        name = label.split("=", 1)[0]
        if name in names:  # `flash=4MB, flash=8MB` matches no board
            raise doc.error(at, f"{shown}: label {name!r} is given twice")
        names.add(name)
    return tuple(items)


def _job(doc: Document, job_id: str, data: Any, all_jobs: set[str], actions: Collection[str] | None) -> Job:
    path = ("jobs", job_id)
    data = _mapping(doc, data, path, f"job {job_id}")
    _keys(doc, data, JOB_KEYS, path, f"job {job_id}")
    needs = data.get("needs") or []
    needs = [needs] if isinstance(needs, str) else needs
    if not isinstance(needs, list) or not all(isinstance(n, str) for n in needs):
        raise doc.error((*path, "needs"), "needs must be a job id or a list of job ids")
    needs_paths = [(*path, "needs")] if isinstance(data.get("needs"), str) else \
        [(*path, "needs", i) for i in range(len(needs))]
    for need, need_path in zip(needs, needs_paths, strict=True):
        if need not in all_jobs:
            raise doc.error(need_path, f"job {job_id} needs {need!r}, which is not a job here")
    container, network = data.get("container"), "none"
    if isinstance(container, dict):
        _keys(doc, container, {"image", "network"}, (*path, "container"), "container")
        network = str(container.get("network", "none"))
        container = container.get("image")
    labels = _labels(doc, data.get("runs-on", "host"), (*path, "runs-on"))
    strategy = _mapping(doc, data.get("strategy"), (*path, "strategy"), "strategy")
    _keys(doc, strategy, {"matrix", "fail-fast"}, (*path, "strategy"), "strategy")
    matrix = _mapping(doc, strategy.get("matrix"), (*path, "strategy", "matrix"), "matrix")
    refs = _check_expressions(doc, data.get("if"), (*path, "if"), bare=True)
    for key in ("env", "outputs", "strategy"):
        refs += _check_expressions(doc, data.get(key), (*path, key))
    for line, node in refs:
        for ref in expr.references(node):
            if ref[0] == "needs" and ref[1] not in needs:
                raise doc.error_line(line, f"needs.{ref[1]} is used but job {job_id} does not list it in `needs`")
            if ref[0] == "matrix" and ref[1] not in matrix:  # a job's `if:` is weighed per instance when it names one
                raise doc.error_line(line, f"matrix.{ref[1]} is used but job {job_id} has no matrix axis {ref[1]!r} "
                                           "under strategy.matrix")
    steps_data = data.get("steps")
    if not isinstance(steps_data, list) or not steps_data:
        raise doc.error((*path, "steps"), f"job {job_id} needs a non-empty list of steps")
    seen: set[str] = set()
    steps = tuple(_step(doc, s, (*path, "steps", i), i, seen, needs, actions) for i, s in enumerate(steps_data))
    return Job(
        id=job_id,
        name=str(data.get("name") or job_id),
        line=doc.line(path),
        steps=steps,
        needs=tuple(needs),
        if_=None if data.get("if") is None else str(data["if"]),
        runs_on=labels[0],
        labels=labels,
        container=None if container is None else str(container),
        network=network,
        timeout_minutes=_number(doc, data.get("timeout-minutes"), (*path, "timeout-minutes")),
        continue_on_error=_flag(doc, data, "continue-on-error", path, False),
        matrix=matrix,
        fail_fast=_flag(doc, strategy, "fail-fast", (*path, "strategy"), True),
        env=_strings(doc, data.get("env"), (*path, "env"), "env"),
        outputs=_strings(doc, data.get("outputs"), (*path, "outputs"), "outputs"),
    )


def _check_cycles(doc: Document, jobs: dict[str, Job]) -> None:
    state: dict[str, int] = {}

    def visit(job_id: str, trail: list[str]) -> None:
        if state.get(job_id) == 2:
            return
        if state.get(job_id) == 1:
            cycle = " -> ".join([*trail[trail.index(job_id):], job_id])
            raise doc.error(("jobs", job_id, "needs"), f"`needs` form a cycle: {cycle}")
        state[job_id] = 1
        for need in jobs[job_id].needs:
            visit(need, [*trail, job_id])
        state[job_id] = 2

    for job_id in jobs:
        visit(job_id, [])


def load_workflow(file: Path, actions: Collection[str] | None = None, shown_as: Path | None = None) -> Workflow:
    """`actions`: the built-in action names (the service's ACTIONS table: the pipeline layer does not import
    actions); a `uses:` naming another is an error here. None checks the `benchd/<name>` form only.
    `shown_as`: the file to name in errors and in the workflow (a snapshot is read, its source is named)."""
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise PipelineError(f"{shown_as or file}: cannot read the workflow: {exc.strerror}") from exc
    if len(raw) > MAX_BYTES:
        raise PipelineError(f"{shown_as or file}: {len(raw)} bytes is too large for a workflow (at most {MAX_BYTES})")
    file = shown_as or file
    doc = Document(file, raw.decode("utf-8", "replace"))
    data = _mapping(doc, doc.data, (), "a workflow")
    _keys(doc, data, WORKFLOW_KEYS, (), "the workflow")
    on = _mapping(doc, data.get("on"), ("on",), "on")
    _keys(doc, on, {"model_dropped"}, ("on",), "on")
    dropped = _mapping(doc, on.get("model_dropped"), ("on", "model_dropped"), "on.model_dropped")
    _keys(doc, dropped, {"paths"}, ("on", "model_dropped"), "on.model_dropped")
    jobs_data = _mapping(doc, data.get("jobs"), ("jobs",), "jobs")
    if not jobs_data:
        raise doc.error(("jobs",), "a workflow needs at least one job")
    _check_expressions(doc, data.get("env"), ("env",))
    jobs = {str(job_id): _job(doc, str(job_id), body, set(jobs_data), actions) for job_id, body in jobs_data.items()}
    _check_cycles(doc, jobs)
    return Workflow(
        name=str(data.get("name") or file.stem),
        file=file,
        sha256=hashlib.sha256(raw).hexdigest(),
        paths=tuple(str(p) for p in dropped.get("paths", ["*.tflite"])),
        env=_strings(doc, data.get("env"), ("env",), "env"),
        jobs=jobs,
    )


def find_workflow(name_or_file: str, pipelines_dir: Path, builtin: Path = BUILTIN_PIPELINES) -> Path:
    """A pipeline name (`microkws`): pipelines_dir/NAME.yml (beside the config) if there is one, else the
    pipeline built into the package; anything with a .yml/.yaml suffix is a path."""
    candidate = Path(name_or_file)
    if candidate.suffix in (".yml", ".yaml"):
        if not candidate.is_file():
            raise PipelineError(f"pipeline file {candidate} not found")
        return candidate
    for folder in (pipelines_dir, builtin):
        for suffix in (".yml", ".yaml"):
            path = folder / f"{name_or_file}{suffix}"
            if path.is_file():
                return path
    known = sorted({p.stem for folder in (pipelines_dir, builtin) if folder.is_dir() for p in folder.glob("*.y*ml")})
    raise PipelineError(f"no pipeline named {name_or_file!r} in {pipelines_dir} or built in "
                        f"(known: {', '.join(known) or 'none'}); --pipeline takes a name or a .yml file")

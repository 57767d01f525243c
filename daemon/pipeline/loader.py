"""YAML -> Workflow, with every mistake reported as file:line (unknown keys, bad expressions, cycles)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml

from daemon.actions import ACTIONS
from daemon.errors import PipelineError
from daemon.pipeline import expr
from daemon.pipeline.model import Job, Step, Workflow

WORKFLOW_KEYS = {"name", "on", "env", "jobs"}
JOB_KEYS = {
    "name", "needs", "if", "runs-on", "container", "timeout-minutes", "continue-on-error",
    "strategy", "env", "outputs", "steps",
}
STEP_KEYS = {"id", "name", "run", "uses", "with", "env", "if", "timeout-minutes", "continue-on-error",
             "working-directory"}


_SCALARS = yaml.SafeLoader("")  # only its scalar constructors are used (true, 10, 1.5, null)


class _Doc:
    """The YAML tree as plain Python plus the line of every node, addressed by its path."""

    def __init__(self, file: Path, text: str) -> None:
        self.file = file
        self.lines: dict[tuple[Any, ...], int] = {}
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark else 1
            raise PipelineError(f"{file}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
        self.data = self._convert(node, ()) if node is not None else {}

    def _convert(self, node: yaml.Node, path: tuple[Any, ...]) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            out = {}
            for key_node, value_node in node.value:
                key = key_node.value
                self.lines[(*path, key)] = key_node.start_mark.line + 1
                out[key] = self._convert(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self._convert(v, (*path, i)) for i, v in enumerate(node.value)]
        # Scalars: let YAML type them (true, 10, 1.5, strings); `on` stays a plain string key here.
        return _SCALARS.construct_object(node) if node.tag != "tag:yaml.org,2002:str" else node.value

    def error(self, path: tuple[Any, ...], message: str) -> PipelineError:
        while path and path not in self.lines:
            path = path[:-1]
        return PipelineError(f"{self.file}:{self.lines.get(path, 1)}: {message}")


def _mapping(doc: _Doc, value: Any, path: tuple[Any, ...], what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise doc.error(path, f"{what} must be a mapping")
    return value


def _keys(doc: _Doc, data: dict[str, Any], allowed: set[str], path: tuple[Any, ...], what: str) -> None:
    for key in data:
        if key not in allowed:
            raise doc.error((*path, key), f"unknown key {key!r} in {what} (supported: {', '.join(sorted(allowed))})")


def _strings(doc: _Doc, data: Any, path: tuple[Any, ...], what: str) -> dict[str, str]:
    out = {}
    for key, value in _mapping(doc, data, path, what).items():
        if isinstance(value, dict | list):
            raise doc.error((*path, key), f"{what}.{key} must be a single value")
        out[str(key)] = expr.to_text(value)
    return out


def _check_expressions(doc: _Doc, value: Any, path: tuple[Any, ...], bare: bool = False) -> list[expr.Node]:
    """Parse every expression in a value now, so that errors point at the line."""
    nodes: list[expr.Node] = []
    if isinstance(value, dict):
        for k, v in value.items():
            nodes += _check_expressions(doc, v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            nodes += _check_expressions(doc, v, (*path, i))
    elif isinstance(value, str):
        bodies = expr.embedded(value) or ([value] if bare else [])
        if "${{" in value and not expr.embedded(value):
            raise doc.error(path, f"unclosed expression in {value!r}")
        for body in bodies:
            try:
                nodes.append(expr.parse(body))
            except expr.ExprError as exc:
                raise doc.error(path, f"bad expression: {exc}") from exc
    return nodes


def _step(doc: _Doc, data: Any, path: tuple[Any, ...], index: int, seen: set[str]) -> Step:
    data = _mapping(doc, data, path, "a step")
    _keys(doc, data, STEP_KEYS, path, "a step")
    if ("run" in data) == ("uses" in data):
        raise doc.error(path, "a step needs exactly one of `run:` or `uses:`")
    uses = data.get("uses")
    if uses is not None and (not str(uses).startswith("benchd/") or str(uses)[7:] not in ACTIONS):
        known = ", ".join("benchd/" + a for a in ACTIONS)
        raise doc.error((*path, "uses"), f"unknown action {uses!r} (built-in: {known})")
    step_id = str(data.get("id") or f"step-{index + 1}")
    if step_id in seen:
        raise doc.error((*path, "id"), f"step id {step_id!r} is used twice in this job")
    refs = _check_expressions(doc, data.get("if"), (*path, "if"), bare=True)
    for key in ("run", "with", "env", "working-directory"):
        refs += _check_expressions(doc, data.get(key), (*path, key))
    for ref in (r for node in refs for r in expr.references(node)):
        if ref[0] == "steps" and ref[1] not in seen:
            raise doc.error(path, f"steps.{ref[1]} is not an earlier step of this job")
    seen.add(step_id)
    return Step(
        index=index,
        id=step_id,
        name=str(data.get("name") or uses or str(data.get("run", "")).strip().splitlines()[0][:60]),
        line=doc.lines.get(path, 1),
        run=None if data.get("run") is None else str(data["run"]),
        uses=None if uses is None else str(uses),
        with_=_strings(doc, data.get("with"), (*path, "with"), "with"),
        env=_strings(doc, data.get("env"), (*path, "env"), "env"),
        if_=None if data.get("if") is None else str(data["if"]),
        timeout_minutes=_number(doc, data.get("timeout-minutes"), (*path, "timeout-minutes")),
        continue_on_error=bool(data.get("continue-on-error", False)),
        working_directory=data.get("working-directory"),
    )


def _number(doc: _Doc, value: Any, path: tuple[Any, ...]) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise doc.error(path, f"timeout-minutes must be a positive number, not {value!r}")
    return float(value)


def _job(doc: _Doc, job_id: str, data: Any, all_jobs: set[str]) -> Job:
    path = ("jobs", job_id)
    data = _mapping(doc, data, path, f"job {job_id}")
    _keys(doc, data, JOB_KEYS, path, f"job {job_id}")
    needs = data.get("needs") or []
    needs = [needs] if isinstance(needs, str) else list(needs)
    for need in needs:
        if need not in all_jobs:
            raise doc.error((*path, "needs"), f"job {job_id} needs {need!r}, which is not a job here")
    container, network = data.get("container"), "none"
    if isinstance(container, dict):
        _keys(doc, container, {"image", "network"}, (*path, "container"), "container")
        network = str(container.get("network", "none"))
        container = container.get("image")
    runs_on = str(data.get("runs-on", "host"))
    if runs_on != "host" and not runs_on.startswith("board:"):
        raise doc.error((*path, "runs-on"), f"runs-on must be `host` or `board:<kind>`, not {runs_on!r}")
    strategy = _mapping(doc, data.get("strategy"), (*path, "strategy"), "strategy")
    _keys(doc, strategy, {"matrix", "fail-fast"}, (*path, "strategy"), "strategy")
    matrix = _mapping(doc, strategy.get("matrix"), (*path, "strategy", "matrix"), "matrix")
    refs = _check_expressions(doc, data.get("if"), (*path, "if"), bare=True)
    for key in ("env", "outputs", "strategy"):
        refs += _check_expressions(doc, data.get(key), (*path, key))
    for ref in (r for node in refs for r in expr.references(node)):
        if ref[0] == "needs" and ref[1] not in needs:
            raise doc.error(path, f"needs.{ref[1]} is used but job {job_id} does not list it in `needs`")
    steps_data = data.get("steps")
    if not isinstance(steps_data, list) or not steps_data:
        raise doc.error(path, f"job {job_id} needs a non-empty list of steps")
    seen: set[str] = set()
    steps = tuple(_step(doc, s, (*path, "steps", i), i, seen) for i, s in enumerate(steps_data))
    return Job(
        id=job_id,
        name=str(data.get("name") or job_id),
        line=doc.lines.get(path, 1),
        steps=steps,
        needs=tuple(needs),
        if_=None if data.get("if") is None else str(data["if"]),
        runs_on=runs_on,
        container=None if container is None else str(container),
        network=network,
        timeout_minutes=_number(doc, data.get("timeout-minutes"), (*path, "timeout-minutes")),
        continue_on_error=bool(data.get("continue-on-error", False)),
        matrix=matrix,
        fail_fast=bool(strategy.get("fail-fast", True)),
        env=_strings(doc, data.get("env"), (*path, "env"), "env"),
        outputs=_strings(doc, data.get("outputs"), (*path, "outputs"), "outputs"),
    )


def _check_cycles(doc: _Doc, jobs: dict[str, Job]) -> None:
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


def load_workflow(file: Path) -> Workflow:
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise PipelineError(f"{file}: cannot read the workflow: {exc.strerror}") from exc
    doc = _Doc(file, raw.decode("utf-8", "replace"))
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
    jobs = {str(job_id): _job(doc, str(job_id), body, set(jobs_data)) for job_id, body in jobs_data.items()}
    _check_cycles(doc, jobs)
    return Workflow(
        name=str(data.get("name") or file.stem),
        file=file,
        sha256=hashlib.sha256(raw).hexdigest(),
        paths=tuple(str(p) for p in dropped.get("paths", ["*.tflite"])),
        env=_strings(doc, data.get("env"), ("env",), "env"),
        jobs=jobs,
    )


def find_workflow(name_or_file: str, pipelines_dir: Path) -> Path:
    """A pipeline name (`microkws`) is looked up in pipelines/; anything with a suffix is a path."""
    candidate = Path(name_or_file)
    if candidate.suffix in (".yml", ".yaml"):
        if not candidate.is_file():
            raise PipelineError(f"pipeline file {candidate} not found")
        return candidate
    for suffix in (".yml", ".yaml"):
        path = pipelines_dir / f"{name_or_file}{suffix}"
        if path.is_file():
            return path
    known = sorted(p.stem for p in pipelines_dir.glob("*.y*ml")) if pipelines_dir.is_dir() else []
    raise PipelineError(f"no pipeline named {name_or_file!r} in {pipelines_dir} (known: {', '.join(known) or 'none'})")

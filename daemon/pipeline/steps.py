"""What a step needs around its process: its script text, environment, and parsing what it wrote back."""

from __future__ import annotations

import json
from typing import Any

from daemon.executors.base import StepOutcome
from daemon.pipeline import expr
from daemon.pipeline.model import Step
from daemon.record import SKIP_EXIT

BAD_INPUT_EXIT = 2  # benchd, tvmc and actions exit 2 for input they cannot work with


def input_env_name(name: str) -> str:
    """`with: {samples: 20}` arrives as BENCHD_INPUT_SAMPLES, as INPUT_<NAME> does in GitHub Actions."""
    return "BENCHD_INPUT_" + name.upper().replace("-", "_")


def script_for(step: Step, ctx: expr.Context) -> tuple[str, dict[str, str]]:
    """The `run:` text with each `${{ … }}` replaced by a variable reference.

    Values never become shell text: `${{ model.name }}` turns into `${BENCHD_EXPR_1}` and the value
    travels in the environment, so a file called `$(rm -rf ~).tflite` stays a name.
    """
    env: dict[str, str] = {}

    def substitute(match: Any) -> str:
        name = f"BENCHD_EXPR_{len(env) + 1}"
        env[name] = expr.to_text(expr.evaluate(expr.parse(match.group(1)), ctx))
        return "${" + name + "}"

    return expr.EMBEDDED.sub(substitute, step.run or ""), env


def action_inputs(step: Step, ctx: expr.Context) -> dict[str, str]:
    return {input_env_name(k): expr.to_text(expr.render(v, ctx)) for k, v in step.with_.items()}


def render_env(values: dict[str, str], ctx: expr.Context) -> dict[str, str]:
    return {k: expr.to_text(expr.render(v, ctx)) for k, v in values.items()}


def parse_outputs(text: str) -> dict[str, str]:
    """`key=value` lines, and GitHub's `key<<DELIM` … `DELIM` blocks for multi-line values."""
    outputs: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delim = line.split("<<", 1)
            block: list[str] = []
            i += 1
            while i < len(lines) and lines[i] != delim:
                block.append(lines[i])
                i += 1
            outputs[key.strip()] = "\n".join(block)
        elif "=" in line:
            key, value = line.split("=", 1)
            outputs[key.strip()] = value
        i += 1
    return outputs


def parse_metrics(text: str) -> list[dict[str, Any]]:
    """JSON lines an action appended with ActionContext.add_metrics; bad lines are skipped."""
    out = []
    for line in text.splitlines():
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(item, dict):
            out.append(item)
    return out


def status_of(outcome: StepOutcome, cancelled: bool) -> str:
    """A step's status from how its process ended; `cancelled`: the run or the instance was being stopped."""
    if outcome.exit_code is None and not outcome.timed_out and cancelled:
        return "cancelled"
    if outcome.timed_out or outcome.exit_code is None:
        return "error"
    if outcome.exit_code == 0:
        return "success"
    if outcome.exit_code == SKIP_EXIT:
        return "skipped"
    return "error" if outcome.exit_code == BAD_INPUT_EXIT else "failure"

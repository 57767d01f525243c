"""What a built-in action (`uses: benchd/<name>`) sees, and how it talks back to the runner.

Actions run as their own process (`python -m daemon.actions NAME`), in the job's executor, like a
`run:` step: TVM never loads into the daemon, and a container job runs its actions inside the container.
Inputs arrive as BENCHD_INPUT_<NAME> (upper case, '-' as '_'), as INPUT_<NAME> does in GitHub Actions.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from daemon.errors import BenchdError


class ActionError(BenchdError):
    """The action failed for a reason a lab engineer can act on; the message says which."""


@dataclass
class ActionContext:
    name: str
    inputs: dict[str, str]
    model: Path
    workspace: Path
    output_file: Path | None
    metrics_file: Path | None
    summary_file: Path | None
    env: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_environment(cls, name: str, env: Mapping[str, str] | None = None) -> ActionContext:
        env = os.environ if env is None else env
        prefix = "BENCHD_INPUT_"
        inputs = {k[len(prefix) :].lower(): v for k, v in env.items() if k.startswith(prefix)}

        def path(var: str) -> Path | None:
            return Path(env[var]) if env.get(var) else None

        return cls(
            name=name,
            inputs=inputs,
            model=Path(env.get("BENCHD_MODEL", "")),
            workspace=Path(env.get("BENCHD_WORKSPACE", ".")),
            output_file=path("BENCHD_OUTPUT"),
            metrics_file=path("BENCHD_METRICS"),
            summary_file=path("BENCHD_SUMMARY"),
            env=env,
        )

    # -- inputs -----------------------------------------------------------------------------------
    def get(self, key: str, default: str | None = None) -> str | None:
        value = self.inputs.get(key.lower().replace("-", "_"))
        return default if value in (None, "") else value

    def require(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise ActionError(f"benchd/{self.name} needs the input '{key}' (set it under `with:`)")
        return value

    def get_float(self, key: str, default: float) -> float:
        value = self.get(key)
        try:
            return default if value is None else float(value)
        except ValueError as exc:
            raise ActionError(f"benchd/{self.name}: input '{key}' must be a number, not {value!r}") from exc

    def get_int(self, key: str, default: int) -> int:
        value = self.get(key)
        try:
            return default if value is None else int(value)
        except ValueError as exc:
            raise ActionError(f"benchd/{self.name}: input '{key}' must be a whole number, not {value!r}") from exc

    # -- talking back -----------------------------------------------------------------------------
    def set_output(self, key: str, value: Any) -> None:
        text = value if isinstance(value, str) else json.dumps(value)
        if "\n" in text:
            raise ValueError("outputs are single lines")
        if self.output_file is not None:
            with self.output_file.open("a", encoding="utf-8") as f:
                f.write(f"{key}={text}\n")

    def add_metrics(self, section: str, data: Any) -> None:
        """Record metrics for result.json: section 'host' (dict, merged), 'boards' (list, appended),
        or 'model' (dict merged into result.model)."""
        if self.metrics_file is None:
            return
        with self.metrics_file.open("a", encoding="utf-8") as f:
            f.write(json.dumps({section: data}) + "\n")

    def summary(self, markdown: str) -> None:
        if self.summary_file is not None:
            with self.summary_file.open("a", encoding="utf-8") as f:
                f.write(markdown.rstrip() + "\n")

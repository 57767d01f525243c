"""Executors: where jobs run. EXECUTORS maps a name to a factory; `select` picks one per job."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from daemon.errors import ExecutorError
from daemon.executors.base import Executor
from daemon.executors.local import LocalExecutor
from daemon.settings import Settings


def _docker(settings: Settings) -> Executor:
    from daemon.executors.container import create_docker_executor  # only container jobs load the SDK

    return create_docker_executor(settings)


EXECUTORS: dict[str, Callable[[Settings], Executor]] = {
    "local": lambda settings: LocalExecutor(settings.state),
    "docker": _docker,
}


@dataclass
class Choice:
    executor: Executor
    name: str
    warning: str | None = None


class ExecutorSelector:
    """executor = auto | docker | local. Host jobs always run locally; `container:` jobs need Docker,
    except with `auto` on a machine whose engine does not answer (run locally, with a warning)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._cache: dict[str, Executor] = {}

    def _get(self, name: str) -> Executor:
        if name not in self._cache:
            self._cache[name] = EXECUTORS[name](self.settings)
        return self._cache[name]

    def select(self, container: str | None) -> Choice:
        mode = self.settings.executor
        if container is None or mode == "local":
            warning = None
            if container is not None:
                warning = f"executor is `local`: ran on the host instead of in {container}"
            return Choice(self._get("local"), "local", warning)
        if mode == "docker":
            return Choice(self._get("docker"), "docker")
        try:
            return Choice(self._get("docker"), "docker") if docker_answers() else self._fallback(container)
        except (ImportError, ExecutorError):
            return self._fallback(container)

    def kill_all(self) -> None:
        for executor in self._cache.values():
            executor.kill_all()

    def _fallback(self, container: str) -> Choice:
        return Choice(
            self._get("local"),
            "local",
            f"docker engine not reachable: ran on the host instead of in {container} "
            "(start dockerd for pinned, reproducible results)",
        )


def docker_answers() -> bool:
    from daemon.executors.container import engine_available

    return bool(engine_available())


__all__ = ["EXECUTORS", "Choice", "ExecutorSelector"]

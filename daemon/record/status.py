"""Run and job statuses, and everything decided by a status, in one table: whether it is final, how bad it
is (a run is as bad as its worst job), and the exit code `benchd run` ends with."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Status(StrEnum):
    """A StrEnum: rows, result.json and workflow expressions carry the plain strings."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    SKIPPED = "skipped"  # jobs only: `if:` was false, a need did not succeed, or a step said it does not apply
    FAILURE = "failure"
    ERROR = "error"
    CANCELLED = "cancelled"


# status -> (final, rank: worse is higher, exit code of `benchd run`/`rerun`); None: not final
TABLE: dict[Status, tuple[int, int | None]] = {
    Status.QUEUED: (-1, None),
    Status.RUNNING: (-1, None),
    Status.SUCCESS: (0, 0),
    Status.SKIPPED: (1, None),
    Status.FAILURE: (2, 1),
    Status.ERROR: (3, 2),
    Status.CANCELLED: (4, 2),
}
RUN_DONE = tuple(s for s, (_, code) in TABLE.items() if code is not None)  # a run ends in one of these
STOPPED = "stopped"  # not a status: a run cut short by the daemon stopping, to be run again


def exit_code(status: str) -> int:
    """0 success, 1 failure, 2 error or cancelled (and anything unknown)."""
    code = TABLE.get(status, (0, None))[1]  # type: ignore[call-overload]  # a StrEnum key is its string
    return 2 if code is None else code


def worst(statuses: Iterable[str]) -> str:
    """The worst of job statuses (success < skipped < failure < error < cancelled); success for none."""
    return max(statuses, key=lambda s: TABLE[Status(s)][0], default=Status.SUCCESS.value)

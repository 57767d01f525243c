"""What kind of failure an error in result.json is (`errors[].kind`), so that a queue retries what the
bench broke and never blames the model for it.

`infra`: the bench failed (engine, board, lease, the daemon itself): worth running again elsewhere.
`test`: a step failed (exit code, timeout, wrong outputs): not retried. `model`: the drop or its pipeline
cannot be run at all. `cancelled`: stopped by a user or by fail-fast.

A producer that knows the kind says it (`Log(..., kind=...)`); `error_kind` guesses it for the rest.
"""

from __future__ import annotations

ERROR_KINDS = ("infra", "test", "model", "cancelled")

# Where the daemon itself speaks (a job's or a step's key is `job` or `job/step`): exact names, so that a
# job a user called `pipeline` is still a job.
_MODEL_WHERE = ("intake", "pipeline", "sidecar")  # a rejected drop, a pipeline that does not load, its sidecar
_INFRA_WHERE = ("runner",)  # an internal error, a run interrupted too often, a duplicate whose original is gone
# What an executor puts in a step's error when the step did not get to fail on its own.
_INFRA_SAYS = ("docker engine not reachable", "the step's exit code is unknown", "cannot start ")


def error_kind(where: str, message: str) -> str:
    """One of ERROR_KINDS for an error whose producer did not say."""
    if message.startswith("cancelled") or "cancelled by" in message:
        return "cancelled"
    if where in _MODEL_WHERE:
        return "model"
    if where in _INFRA_WHERE or message.startswith(_INFRA_SAYS):
        return "infra"
    return "test"

"""One table for statuses: exit codes, the worst-of order, and the schema's enums agree with it."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from daemon.record.status import RUN_DONE, Status, exit_code, worst


@pytest.mark.parametrize(("status", "code"), [("success", 0), ("failure", 1), ("error", 2), ("cancelled", 2),
                                              ("running", 2), ("nonsense", 2)])
def test_exit_codes(status: str, code: int) -> None:
    assert exit_code(status) == code


def test_a_run_is_as_bad_as_its_worst_job() -> None:
    assert worst([]) == "success"
    assert worst(["success", "skipped"]) == "skipped"
    assert worst(["failure", "error", "success"]) == "error"
    assert worst(["cancelled", "error"]) == "cancelled"


def test_the_schema_lists_exactly_the_statuses() -> None:
    schema = json.loads(resources.files("daemon.record").joinpath("result.schema.json").read_text())
    run_enum = schema["properties"]["status"]["enum"]
    assert set(run_enum) == set(Status) - {Status.SKIPPED}, "a run is never skipped; a job may be"
    assert set(RUN_DONE) == {"success", "failure", "error", "cancelled"}
    assert Status.SUCCESS == "success" and json.dumps(Status.ERROR) == '"error"', "rows and JSON keep plain strings"

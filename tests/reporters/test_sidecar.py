"""MODEL.tflite.json: parsed at intake; a malformed one is a clear ReportError (the run goes on)."""

from __future__ import annotations

import pytest

from daemon.errors import ReportError
from daemon.reporters.sidecar import parse_sidecar

SHA = "0123456789abcdef0123456789abcdef01234567"


def test_valid_sidecar_is_normalised_and_extra_keys_kept() -> None:
    parsed = parse_sidecar(f'{{"repo": "lab-x/kws.models", "sha": "{SHA.upper()}", "context": " bench/c3 ", '
                           '"note": "kept"}')
    assert parsed == {"repo": "lab-x/kws.models", "sha": SHA, "context": "bench/c3", "note": "kept"}


def test_context_is_optional() -> None:
    assert "context" not in parse_sidecar(f'{{"repo": "a/b", "sha": "{SHA}"}}')


@pytest.mark.parametrize(("text", "message"), [
    ('{"repo": "a/b", "sha": ', "not valid JSON (Expecting value at line 1 column 24)"),
    ("[1, 2]", "expected a JSON object, got list"),
    ('{"repo": "a/b"}', "missing 'sha'"),
    ("{}", "missing 'repo' and 'sha'"),
    (f'{{"repo": "https://github.com/a/b", "sha": "{SHA}"}}', "'repo' must be 'owner/name'"),
    (f'{{"repo": "a/b.git", "sha": "{SHA}"}}', "no URL, no .git"),
    ('{"repo": "a/b", "sha": "0123abc"}', "full commit id (40 hex digits"),
    (f'{{"repo": "a/b", "sha": "{SHA}", "context": 3}}', "'context' must be a short non-empty string"),
])
def test_malformed_sidecar_says_what_is_wrong_and_how_it_should_look(text: str, message: str) -> None:
    with pytest.raises(ReportError) as err:
        parse_sidecar(text)
    assert message in str(err.value)


def test_a_malformed_sidecar_is_an_error_in_the_result_and_the_model_still_runs(samples, tmp_path):
    """Through the daemon: the sidecar's error is kept for the result, the model is still benchmarked."""
    import json
    import shutil

    from daemon.app.service import Daemon
    from daemon.settings import Settings

    wf = tmp_path / "wf.yml"
    wf.write_text("jobs:\n  a:\n    steps:\n      - run: echo ran\n")
    settings = Settings(inbox=tmp_path / "inbox", results=tmp_path / "results", state=tmp_path / "state",
                        pipeline=str(wf), executor="local")
    settings.inbox.mkdir()
    model = settings.inbox / "kws.tflite"
    shutil.copy(samples["kws_xs.tflite"], model)
    (settings.inbox / "kws.tflite.json").write_text('{"repo": "lab/kws", "sha": ')
    daemon = Daemon(settings)
    try:
        decision = daemon.drop(model)
        row = daemon.store.claim_run(decision.run_id)
        record = daemon.execute(row)
    finally:
        daemon.store.close()
    assert [j.status for j in record.jobs] == ["success"]
    assert [e.where for e in record.errors] == ["sidecar"]
    assert "not valid JSON (Expecting value at line 1 column 28)" in record.errors[0].message
    written = json.loads(next(settings.results.rglob("result.json")).read_text())
    assert written["errors"][0]["where"] == "sidecar"

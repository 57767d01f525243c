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


def test_intake_records_a_malformed_sidecar_and_still_queues_the_run(tmp_path, samples) -> None:
    """Through the daemon's intake: the error is kept for the result, the model is still benchmarked."""
    import json
    import shutil

    from daemon.intake.intake import Intake
    from daemon.settings import Settings
    from daemon.store.db import Store

    settings = Settings(inbox=tmp_path / "inbox", results=tmp_path / "results", state=tmp_path / "state")
    settings.inbox.mkdir()
    model = settings.inbox / "kws.tflite"
    shutil.copy(samples["kws_xs.tflite"], model)
    (settings.inbox / "kws.tflite.json").write_text('{"repo": "lab/kws", "sha": ')
    store = Store(settings.db_path)
    try:
        accepted = Intake(settings, store).accept(model, move=False)
        assert accepted is not None and accepted.status == "queued"
        row = store.get_run(accepted.run_id)
        assert row is not None
        assert json.loads(row["sidecar"]) == {
            "_error": "kws.tflite.json: not valid JSON (Expecting value at line 1 column 28); "
                      'expected e.g. {"repo": "owner/name", "sha": "<full 40-hex commit id>", "context": "benchd"}'}
    finally:
        store.close()

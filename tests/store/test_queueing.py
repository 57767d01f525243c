"""Opening the shared queue: None without `[queue] url`; the URL's password never in a message."""

from __future__ import annotations

import pytest

from daemon.settings import QueueSettings, Settings
from daemon.store.queueing import open_engine, open_queue, redact


def test_without_a_url_there_is_no_queue() -> None:
    assert open_queue(Settings()) is None and open_engine(Settings()) is None


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://bench:hunter2@db.lab:5432/benchd", "postgresql://bench:***@db.lab:5432/benchd"),
    ("postgresql://bench:pa%40ss@db.lab/benchd", "postgresql://bench:***@db.lab/benchd"),
    ("postgresql://db.lab/benchd?user=bench&password=hunter2&sslmode=require",
     "postgresql://db.lab/benchd?user=bench&password=***&sslmode=require"),
    ("host=db.lab password=hunter2 dbname=benchd", "host=db.lab password=*** dbname=benchd"),
    ("postgresql://bench@db.lab/benchd", "postgresql://bench@db.lab/benchd"),
])
def test_redact_hides_the_password_wherever_the_url_keeps_it(url: str, shown: str) -> None:
    assert redact(url, url) == shown


def test_redact_hides_the_decoded_password_in_a_message_too() -> None:
    url = "postgresql://bench:pa%40ss@db.lab/benchd"
    assert redact('invalid value "pa@ss" near "pa%40ss"', url) == 'invalid value "***" near "***"'


def test_an_unreachable_queue_is_named_without_its_password() -> None:
    from daemon.store.postgres import QueueUnavailable

    settings = Settings(queue=QueueSettings(url="postgresql://bench:hunter2@127.0.0.1:1/benchd"))
    with pytest.raises(QueueUnavailable) as caught:
        open_queue(settings)
    assert "postgresql://bench:***@127.0.0.1:1/benchd" in str(caught.value) and "hunter2" not in str(caught.value)

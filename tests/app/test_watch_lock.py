"""Issue 12 item 8: one `benchd watch` per state folder."""

from __future__ import annotations

import pytest
from daemon_kit import benchd, make_settings, start_watch, stop, wait_for

from daemon.app.service import Daemon
from daemon.errors import BenchdError


def test_a_second_benchd_watch_on_one_state_folder_exits_2_naming_the_first(tmp_path):
    settings = make_settings(tmp_path)
    first = start_watch(settings)
    try:
        assert wait_for(lambda: (settings.state / "watch.lock").exists() and
                        (settings.state / "watch.lock").read_text().strip() == str(first.pid))
        second = benchd("watch", settings=settings, timeout=30)
        assert second.returncode == 2
        assert f"already watched by pid {first.pid}" in second.stderr
        assert first.poll() is None  # the first one goes on
    finally:
        stop(first)
    assert first.returncode == 0


def test_the_lock_goes_with_its_daemon(tmp_path):
    settings = make_settings(tmp_path)
    one = Daemon(settings)
    one.start()
    try:
        with pytest.raises(BenchdError, match="already watched by pid"):
            Daemon(settings).start()
    finally:
        one.stop()
    two = Daemon(settings)  # released on stop (and by the kernel on kill -9)
    two.start()
    two.stop()

"""Intake: which drops count, when they are complete, and how each ends (run, duplicate or error)."""

import os
import shutil
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from daemon.app.service import Daemon
from daemon.intake.filters import is_candidate
from daemon.intake.intake import Duplicate, Pending, Queued, Rejected
from daemon.intake.watcher import InboxWatcher
from daemon.settings import Settings
from daemon.store import Store

ROOT = Path(__file__).resolve().parents[2]


class Front:
    """The daemon's front door as these tests use it: a drop → intake's decision, its result written
    by the service for the decisions that end at once (rejected, duplicate)."""

    STATUS = {Queued: "queued", Rejected: "error", Duplicate: "duplicate", Pending: "pending"}

    def __init__(self, settings, store, image_digest=None):
        self.daemon = Daemon(settings, store=store)
        if image_digest is not None:
            self.daemon.intake.image_digest = image_digest

    def accept(self, path, force=False):
        decision = self.daemon.drop(path, force=force)
        message = getattr(decision, "reason", "")
        if isinstance(decision, Duplicate):
            message = f"same content and pipeline as run {decision.of_run}"
        return SimpleNamespace(run_id=decision.run_id, status=self.STATUS[type(decision)], message=message)


@pytest.fixture
def env(tmp_path):
    settings = Settings(inbox=tmp_path / "inbox", results=tmp_path / "results", state=tmp_path / "state",
                        pipelines_dir=ROOT / "pipelines", max_model_mb=1)
    settings.inbox.mkdir()
    store = Store(settings.db_path)
    yield settings, store, Front(settings, store)
    store.close()


def result_of(store: Store, run_id: str) -> dict:
    import json

    row = store.get_run(run_id)
    return json.loads((Path(row.result_dir) / "result.json").read_text())


@pytest.mark.parametrize(
    ("name", "counted"),
    [("kws.tflite", True), ("KWS.TFLITE", True), (".hidden.tflite", False), ("kws.tflite.part", False),
     ("kws.tflite~", False), ("kws.tflite.json", False), ("notes.txt", False), ("~lock.tflite", False)],
)
def test_which_names_are_drops(name, counted):
    assert is_candidate(Path("/inbox") / name) is counted


def test_a_good_model_is_queued_on_a_snapshot(env, samples):
    settings, store, intake = env
    drop = settings.inbox / "kws xs.tflite"
    shutil.copy(samples["kws_xs.tflite"], drop)
    accepted = intake.accept(drop)
    assert accepted.status == "queued"
    row = store.get_run(accepted.run_id)
    snapshot = Path(row.model_path)
    assert snapshot.read_bytes() == drop.read_bytes()
    assert snapshot.parent.name == row.sha256 and snapshot.name == drop.name
    assert drop.exists()  # stays in the inbox until its run ends
    assert intake.accept(drop).status == "pending"  # a second event for the same drop adds nothing


@pytest.mark.parametrize(
    ("sample", "message"),
    [
        ("empty.tflite", "is empty (0 bytes)"),
        ("truncated.tflite", "truncated"),
        ("random.tflite", "random.tflite is not a TFLite flatbuffer"),
    ],
)
def test_broken_files_end_as_error_results(env, samples, sample, message):
    settings, store, intake = env
    drop = settings.inbox / sample
    shutil.copy(samples[sample], drop)
    accepted = intake.accept(drop)
    assert accepted.status == "error"
    assert message.lower() in accepted.message.lower()
    result = result_of(store, accepted.run_id)
    assert result["status"] == "error" and result["errors"][0]["where"] == "intake"
    assert result["errors"][0]["kind"] == "model"
    # filed under the run id and the content hash, never the drop's own name (which may be too long to prefix)
    assert not drop.exists() and [p.name for p in settings.rejected.glob(f"{accepted.run_id}-*.tflite")]


def test_a_file_over_the_size_limit_is_rejected(env):
    settings, store, intake = env
    drop = settings.inbox / "huge.tflite"
    drop.write_bytes(b"\0" * (1024 * 1024 + 1))
    accepted = intake.accept(drop)
    assert accepted.status == "error" and "over the 1 MB limit (max_model_mb" in accepted.message


def test_a_symlink_out_of_the_inbox_is_rejected_unread(env, samples, tmp_path):
    settings, store, intake = env
    secret = tmp_path / "secret.tflite"
    shutil.copy(samples["kws_xs.tflite"], secret)
    link = settings.inbox / "link.tflite"
    link.symlink_to(secret)
    accepted = intake.accept(link)
    assert accepted.status == "error" and "outside the inbox" in accepted.message
    assert not list((settings.state / "models").rglob("*.tflite"))  # never copied
    assert secret.exists()


def test_float_models_warn_or_reject_per_config(env, samples):
    settings, store, intake = env
    drop = settings.inbox / "float.tflite"
    shutil.copy(samples["kws_float.tflite"], drop)
    assert intake.accept(drop).status == "queued"
    strict = Front(Settings(**{**settings.__dict__, "float_models": "reject"}), store)
    other = settings.inbox / "float2.tflite"
    shutil.copy(samples["kws_float.tflite"], other)
    accepted = strict.accept(other, force=True)
    assert accepted.status == "error" and "not int8-quantized" in accepted.message


def test_same_content_twice_points_to_the_earlier_run(env, samples):
    settings, store, intake = env
    first = settings.inbox / "a.tflite"
    shutil.copy(samples["kws_xs.tflite"], first)
    run_id = intake.accept(first).run_id
    store.claim_run(run_id)
    store.finish_run(run_id, "success", None, settings.results / "a" / run_id)
    again = settings.inbox / "b.tflite"
    shutil.copy(samples["kws_xs.tflite"], again)
    accepted = intake.accept(again)
    assert accepted.status == "duplicate" and run_id in accepted.message
    assert result_of(store, accepted.run_id)["duplicate_of"] == run_id
    forced = settings.inbox / "c.tflite"
    shutil.copy(samples["kws_xs.tflite"], forced)
    assert intake.accept(forced, force=True).status == "queued"


def test_a_broken_pipeline_gives_every_drop_an_error_naming_file_and_line(env, samples, tmp_path):
    settings, store, _ = env
    bad = tmp_path / "bad.yml"
    bad.write_text("jobs:\n  a:\n    steps:\n      - run: echo ${{ nope.x }}\n")
    intake = Front(Settings(**{**settings.__dict__, "pipeline": str(bad)}), store)
    drop = settings.inbox / "m.tflite"
    shutil.copy(samples["kws_xs.tflite"], drop)
    accepted = intake.accept(drop)
    assert accepted.status == "error" and f"{bad}:4: bad expression" in accepted.message


class Collector:
    def __init__(self):
        self.paths: list[Path] = []
        self.event = threading.Event()

    def __call__(self, path: Path) -> None:
        self.paths.append(path)
        self.event.set()

    def wait(self, count: int, timeout: float = 10) -> list[Path]:
        deadline = time.monotonic() + timeout
        while len(self.paths) < count and time.monotonic() < deadline:
            self.event.wait(0.05)
            self.event.clear()
        return self.paths


def test_watcher_counts_a_closed_write_and_an_atomic_rename_once_each(tmp_path):
    got = Collector()
    watcher = InboxWatcher(tmp_path, got, stable_s=0.3)
    watcher.start()
    try:
        (tmp_path / "direct.tflite").write_bytes(b"x" * 1000)
        part = tmp_path / "renamed.tflite.part"
        part.write_bytes(b"y" * 1000)
        os.rename(part, tmp_path / "renamed.tflite")
        (tmp_path / ".hidden.tflite").write_bytes(b"z")
        (tmp_path / "readme.txt").write_bytes(b"z")
        names = [p.name for p in got.wait(2)]
        time.sleep(0.8)  # past the stability window: nothing more may arrive
    finally:
        watcher.stop()
    assert sorted(set(names)) == ["direct.tflite", "renamed.tflite"]


def test_a_file_held_open_is_taken_only_once_its_writer_closed_it_and_it_stayed_the_same(tmp_path):
    """A writer that pauses longer than stable_s with the file open is never taken mid-write (issue 12, 4)."""
    got = Collector()
    watcher = InboxWatcher(tmp_path, got, stable_s=0.3)
    watcher.start()
    try:
        path = tmp_path / "slow.tflite"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT)
        for _ in range(3):
            os.write(fd, b"a" * 100)
            time.sleep(0.5)  # longer than stable_s, file still open
        seen_while_writing = list(got.paths)
        os.close(fd)
        closed = time.monotonic()
        assert got.wait(1, timeout=5) == [path]
        assert time.monotonic() - closed >= 0.25  # closed, then unchanged for stable_s
    finally:
        watcher.stop()
    assert seen_while_writing == []


def test_a_writer_appending_in_pieces_gives_one_drop(tmp_path):
    """open-append-close, again and again, quicker than stable_s: one drop once it is done (issue 12, 4)."""
    got = Collector()
    watcher = InboxWatcher(tmp_path, got, stable_s=0.4)
    watcher.start()
    try:
        path = tmp_path / "pieces.tflite"
        for _ in range(8):
            with path.open("ab") as f:
                f.write(b"p" * 1000)
            time.sleep(0.1)
        assert got.wait(1, timeout=5) == [path]
        time.sleep(0.6)
    finally:
        watcher.stop()
    assert got.paths == [path]


def test_files_waiting_at_start_are_found(tmp_path):
    (tmp_path / "b.tflite").write_bytes(b"b")
    (tmp_path / "a.tflite").write_bytes(b"a")
    (tmp_path / "x.tflite.part").write_bytes(b"x")
    watcher = InboxWatcher(tmp_path, lambda p: None)
    assert {p.name for p in watcher.scan()} == {"a.tflite", "b.tflite"}


def test_a_file_moved_in_from_another_folder_is_complete_at_once(tmp_path):
    inbox, outside = tmp_path / "inbox", tmp_path / "outside"
    inbox.mkdir()
    outside.mkdir()
    (outside / "moved.tflite").write_bytes(b"m" * 100)
    got = Collector()
    watcher = InboxWatcher(inbox, got, stable_s=30)  # a stability wait would outlast the test
    watcher.start()
    try:
        os.rename(outside / "moved.tflite", inbox / "moved.tflite")
        assert [p.name for p in got.wait(1, timeout=5)] == ["moved.tflite"]
    finally:
        watcher.stop()


def test_a_symlink_made_in_the_inbox_and_a_rename_out_of_it_are_handled_at_once(tmp_path):
    """A symlink gets no close event: it is complete when it appears. A rename out of the inbox (a drop filed
    away) holds nothing back: the next drop is seen at once (watchdog held an unpaired move 0.5 s)."""
    inbox, outside = tmp_path / "inbox", tmp_path / "outside"
    inbox.mkdir()
    outside.mkdir()
    (inbox / "old.tflite.part").write_bytes(b"o")
    (outside / "target.tflite").write_bytes(b"t" * 100)
    got = Collector()
    watcher = InboxWatcher(inbox, got, stable_s=30)  # a stability wait would outlast the test
    watcher.start()
    try:
        (inbox / "link.tflite").symlink_to(outside / "target.tflite")
        assert [p.name for p in got.wait(1, timeout=5)] == ["link.tflite"]
        os.rename(inbox / "old.tflite.part", outside / "old.tflite")
        part = inbox / "next.tflite.part"
        part.write_bytes(b"n")
        started = time.monotonic()
        os.rename(part, inbox / "next.tflite")
        assert [p.name for p in got.wait(2, timeout=5)] == ["link.tflite", "next.tflite"]
        assert time.monotonic() - started < 0.4
    finally:
        watcher.stop()


def test_a_rebuilt_image_makes_the_same_content_run_again(env, samples):
    settings, store, _ = env
    digests = {"benchd/tvm": "sha256:old"}
    intake = Front(settings, store, image_digest=digests.get)
    first = settings.inbox / "a.tflite"
    shutil.copy(samples["kws_xs.tflite"], first)
    run_id = intake.accept(first).run_id
    out = settings.results / "a" / run_id
    out.mkdir(parents=True)
    (out / "result.json").write_text('{"jobs": [{"image": {"ref": "benchd/tvm", "digest": "sha256:old"}}]}')
    store.claim_run(run_id)
    store.finish_run(run_id, "success", None, out)
    again = settings.inbox / "b.tflite"
    shutil.copy(samples["kws_xs.tflite"], again)
    assert intake.accept(again).status == "duplicate"
    digests["benchd/tvm"] = "sha256:new"  # `benchd images build tvm` since
    third = settings.inbox / "c.tflite"
    shutil.copy(samples["kws_xs.tflite"], third)
    assert intake.accept(third).status == "queued"

"""No orphans (issue 12, item 7): host step processes never outlive their step or the daemon, and what a
crash left is reaped at the next start. Containers: tests/executors/test_docker_containment.py."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from daemon.executors import reaper
from daemon.executors.base import JobSpec, StepCommand
from daemon.executors.local import LocalExecutor

ROOT = Path(__file__).resolve().parents[2]

# A step that leaves three processes: itself (the group leader), a background child in its group, and a
# child that left the group with setsid. Each writes its pid to a marker file.
HANG = """
sleep 300 &
echo $! > {m}/child
setsid bash -c 'echo $$ > {m}/escaped; exec sleep 300' &
echo $$ > {m}/leader
wait
"""


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def wait_dead(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


def read_markers(folder: Path, names: tuple[str, ...] = ("leader", "child", "escaped"),
                 timeout: float = 60) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = {n: int((folder / n).read_text()) for n in names}
            return found
        except (FileNotFoundError, ValueError):
            time.sleep(0.05)
    raise AssertionError(f"markers {names} not written in {timeout} s: the step did not start")


def test_what_a_step_leaves_running_ends_with_it(tmp_path):
    markers = tmp_path / "m"
    markers.mkdir()
    # The leader leaves once its children have started (a step ends the moment its first process does).
    script = HANG.replace("wait\n", "until [ -s {m}/escaped ] && [ -s {m}/child ]; do sleep 0.01; done\nexit 0\n")
    script = script.format(m=markers)
    session = LocalExecutor(tmp_path / "state").open_job(JobSpec("r", "j", tmp_path, tmp_path / "m.tflite"))
    outcome = session.run_step(StepCommand(("bash", "-c", script), {}, tmp_path, tmp_path / "log", 60))
    assert outcome.exit_code == 0 and outcome.duration_s < 5  # the children holding its output do not keep it
    pids = read_markers(markers, timeout=1)
    assert wait_dead(list(pids.values()), 5) == []
    assert list((tmp_path / "state" / "processes").iterdir()) == []  # its record is gone with it


def _spawn_tagged(tag: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "300"], env={"PATH": os.environ["PATH"], reaper.TAG_VAR: tag},
                            start_new_session=True)


def test_start_up_reaps_what_a_dead_daemon_recorded(tmp_path):
    state = tmp_path / "state"
    (state / "processes").mkdir(parents=True)
    gone = subprocess.Popen(["true"])
    gone.wait()  # a daemon that is dead now
    orphan, kept = _spawn_tagged("aa" * 8), _spawn_tagged("bb" * 8)
    try:
        (state / "processes" / f"{'aa' * 8}.json").write_text(json.dumps(
            {"pgid": orphan.pid, "daemon": gone.pid, "daemon_start": 1}))
        me = os.getpid()  # this one's daemon is alive: its steps are its own
        (state / "processes" / f"{'bb' * 8}.json").write_text(json.dumps(
            {"pgid": kept.pid, "daemon": me, "daemon_start": reaper.start_time(me)}))
        assert reaper.reap_recorded(state) == [orphan.pid]
        assert orphan.wait(timeout=5) == -signal.SIGKILL
        assert kept.poll() is None
        assert [p.name for p in (state / "processes").iterdir()] == [f"{'bb' * 8}.json"]
    finally:
        for p in (orphan, kept):
            p.kill()
            p.wait()


def _watch(tmp_path: Path, samples: dict[str, Path], markers: Path) -> subprocess.Popen[bytes]:
    wf = tmp_path / "hang.yml"
    wf.write_text("jobs:\n  hang:\n    steps:\n      - run: |\n"
                  + "".join(f"          {line}\n" for line in HANG.format(m=markers).strip().splitlines()))
    (tmp_path / "inbox").mkdir(exist_ok=True)
    env = {**os.environ, "BENCHD_PIPELINE": str(wf)}
    env.pop("BENCHD_CONFIG", None)
    with (tmp_path / "watch.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "daemon", "watch", "--inbox", str(tmp_path / "inbox"), "--results",
             str(tmp_path / "results"), "--state", str(tmp_path / "state"), "--executor", "local"],
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=log)


def _guard_of(daemon: int) -> int:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except (OSError, ValueError):
                continue
            if ppid == daemon and b"reaper.py" in cmdline:
                return int(entry)
    raise AssertionError(f"no guard process beside daemon {daemon}")


@pytest.mark.timeout(120)
def test_kill_9_of_the_daemon_takes_its_steps_along(tmp_path, samples):
    markers = tmp_path / "m"
    markers.mkdir()
    watch = _watch(tmp_path, samples, markers)
    try:
        (tmp_path / "inbox" / "kws.tflite").write_bytes(samples["kws_xs.tflite"].read_bytes())
        pids = read_markers(markers)
        guard = _guard_of(watch.pid)
        watch.kill()  # kill -9, mid-step
        watch.wait()
        assert wait_dead(list(pids.values()), 5) == [], (pids, (tmp_path / "watch.log").read_text())
        assert wait_dead([guard], 5) == []  # the guard's work is done
    finally:
        watch.kill()
        watch.wait()


@pytest.mark.timeout(180)
def test_a_restart_reaps_what_survived_the_daemon_and_its_guard(tmp_path, samples):
    markers = tmp_path / "m"
    markers.mkdir()
    watch = _watch(tmp_path, samples, markers)
    second = None
    try:
        (tmp_path / "inbox" / "kws.tflite").write_bytes(samples["kws_xs.tflite"].read_bytes())
        pids = read_markers(markers)
        os.kill(_guard_of(watch.pid), signal.SIGKILL)  # the guard dies first (an OOM kill, a careless kill)
        watch.kill()
        watch.wait()
        assert wait_dead([pids["leader"]], 5) == []  # PR_SET_PDEATHSIG
        assert wait_dead([pids["child"], pids["escaped"]], 0.5) != []  # the guard's part was not done
        for name in pids:
            (markers / name).unlink()
        second = _watch(tmp_path, samples, markers)
        assert wait_dead(list(pids.values()), 30) == []  # reaped at start-up
        again = read_markers(markers)  # the interrupted run runs again
        second.kill()
        second.wait()
        assert wait_dead(list(again.values()), 5) == []
    finally:
        for proc in (watch, second):
            if proc is not None:
                proc.kill()
                proc.wait()


def test_the_tag_scan_reads_only_processes_newer_than_the_step_unless_pids_wrapped():
    tag = reaper.new_tag()
    child = subprocess.Popen(["sleep", "30"], env={**os.environ, reaper.TAG_VAR: tag})
    try:
        later = subprocess.Popen(["true"])  # a step that started after the tagged process
        later.wait()
        if later.pid > child.pid:  # (pids did not wrap in between)
            assert reaper.kill_tagged({tag}, since=later.pid) == []  # older than the step: not read
        assert reaper.kill_tagged({tag}, since=reaper._last_pid() + 1) == [child.pid]  # "wrapped": all read
        assert child.wait(timeout=5) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


# A parent that runs one step through LocalExecutor and then hangs in it; `fallback` takes the preexec_fn path
# (no setpriv), the other the setpriv path.
PARENT = """
import sys
from pathlib import Path
from daemon.executors import reaper
from daemon.executors.base import JobSpec, StepCommand
from daemon.executors.local import LocalExecutor
if sys.argv[2] == "fallback":
    reaper._setpriv = lambda: None
tmp = Path(sys.argv[1])
job = LocalExecutor().open_job(JobSpec("r", "j", tmp, tmp / "m.tflite"))
job.run_step(StepCommand(("bash", "-c", f"echo $$ > {tmp}/leader; exec sleep 300"), {}, tmp, tmp / "log", 600))
"""


@pytest.mark.timeout(60)
@pytest.mark.parametrize("launch", ["setpriv", "fallback"])
def test_a_step_dies_with_the_process_that_spawned_it_even_without_the_guard(tmp_path, launch):
    if launch == "setpriv" and reaper.launch(["true"])[1] is not None:
        pytest.skip("no setpriv with --pdeathsig here (util-linux 2.33+): the fallback is tested")
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path), launch],
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        leader = read_markers(tmp_path, ("leader",))["leader"]
        guard = _guard_of(parent.pid)
        os.kill(guard, signal.SIGKILL)  # only PR_SET_PDEATHSIG is left to take the step along
        assert wait_dead([guard], 5) == []
        assert alive(leader)
        parent.kill()  # kill -9
        parent.wait()
        assert wait_dead([leader], 5) == []
    finally:
        parent.kill()
        parent.wait()


def test_the_spawn_needs_no_preexec_fn_where_setpriv_exists():
    """A preexec_fn makes CPython fork the whole daemon and run Python in the child (+6 ms a step, measured),
    where without one it vforks: setpriv sets the parent-death signal instead."""
    if shutil.which("setpriv") is None:
        pytest.skip("no setpriv here: the preexec_fn fallback is used")
    argv, preexec = reaper.launch(["bash", "-e", "script"])
    assert preexec is None
    assert argv[-4:] == ["--", "bash", "-e", "script"] and "--pdeathsig" in argv


DIES_MID_SPAWN = """
import os, subprocess, sys
from daemon.executors import reaper
groups = reaper.StepGroups()
tag = reaper.new_tag()
groups.expect(tag)
# What a kill -9 between the spawn and `record` leaves: a tagged step with no parent-death signal, no group
# told to the guard.
proc = subprocess.Popen(["sleep", "60"], env={**os.environ, reaper.TAG_VAR: tag}, start_new_session=True)
print(proc.pid, flush=True)
os.kill(os.getpid(), 9)
"""


def test_a_step_spawned_as_its_daemon_dies_is_killed_by_its_announced_tag():
    daemon = subprocess.run([sys.executable, "-c", DIES_MID_SPAWN], capture_output=True, text=True, timeout=30,
                            cwd=Path(__file__).resolve().parents[2])
    pid = int(daemon.stdout.split()[0])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists() and _state(pid) != "Z":
        time.sleep(0.05)
    alive = Path(f"/proc/{pid}").exists() and _state(pid) != "Z"
    if alive:
        os.kill(pid, signal.SIGKILL)
    assert not alive


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"

"""A run's workspace as the daemon touches it: through descriptors, never through a path a step chose.

Steps write the workspace; the daemon reads back what they leave (outputs, metrics, summary, artifacts)
and writes its own control files there (step scripts, the files a step appends to, boards.json). All of it
goes through daemon.executors.safefs: links are refused (or copied as links, never followed), reads are
bounded, and each control file is created new for its step under an unguessable name in `.benchd/`, the
folder that stays the daemon's when a container job gets the rest of the workspace. A step that renames
`.benchd/` away does not matter: the daemon holds the folder open and keeps using the one it made.
"""

from __future__ import annotations

import os
import secrets
import shutil
import threading
from pathlib import Path

from daemon.executors import safefs

CONTROL = ".benchd"
WORKSPACE = "workspace"  # the workspace in its run folder (state/runs/<run-id>/workspace)
CONTROL_LIMIT = 1024 * 1024  # bytes of one step's outputs, metrics or summary read back (GitHub's 1 MiB)
STEP_FILES = ("output", "metrics", "summary")
MAX_NOTES = 20  # warnings about one artifacts copy; the rest are counted


class Workspace:
    """Created fresh (a re-run after a crash starts clean); closed by the runner in `finally`. `made`: the
    folder and its control folder were just made empty by the daemon (a spare, see SpareRoots)."""

    def __init__(self, path: Path, made: bool = False) -> None:
        if not made:
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir(parents=True)
        self.path = path
        self.fd = os.open(path, safefs.DIR_FLAGS)  # under the state folder: the daemon's own path
        if not made:
            os.mkdir(CONTROL, 0o755, dir_fd=self.fd)
        self.control_fd = safefs.open_dir(self.fd, CONTROL)

    def close(self) -> None:
        for fd in (self.control_fd, self.fd):
            os.close(fd)

    # -- control files ----------------------------------------------------------------------------
    def write_control(self, name: str, text: str) -> Path:
        safefs.create_file(self.control_fd, name, text.encode("utf-8"))
        return self.path / CONTROL / name

    def new_script(self, slug: str, text: str) -> Path:
        """A `run:` step's script: new, read-only to the step, under a name no earlier step could guess."""
        for _ in range(5):
            name = f"{slug}-{secrets.token_hex(6)}.sh"
            try:
                safefs.create_file(self.control_fd, name, text.encode("utf-8"))
            except FileExistsError:
                continue
            return self.path / CONTROL / name
        raise safefs.UnsafePath(f"{CONTROL}/{slug}-*.sh: could not create a new script file")

    def new_step_files(self, slug: str, owner: tuple[int, int] | None) -> dict[str, Path]:
        """$BENCHD_OUTPUT, $BENCHD_METRICS, $BENCHD_SUMMARY for one step: new empty files owned by `owner`."""
        for _ in range(5):
            stem = f"{slug}-{secrets.token_hex(6)}"
            try:
                for kind in STEP_FILES:
                    safefs.create_file(self.control_fd, f"{stem}.{kind}", owner=owner)
            except FileExistsError:
                continue
            return {kind: self.path / CONTROL / f"{stem}.{kind}" for kind in STEP_FILES}
        raise safefs.UnsafePath(f"{CONTROL}/{slug}-*: could not create new step files")

    def read_step_file(self, path: Path, variable: str) -> tuple[str, str | None]:
        """What a step wrote to one of its files, and a warning when it was not (all) read."""
        try:
            got = safefs.read_file(self.control_fd, path.name, CONTROL_LIMIT, single_link=True)
        except (safefs.UnsafePath, OSError) as exc:
            return "", f"${variable} not read: {exc}"
        if got is None:
            return "", None
        data, more = got
        warning = f"${variable}: only the first {CONTROL_LIMIT} bytes were read" if more else None
        return data.decode("utf-8", "replace"), warning

    # -- the workspace at large -------------------------------------------------------------------
    def make_dir(self, rel: str, owner: tuple[int, int] | None = None) -> Path:
        """A step's working-directory: made if missing; no part of it may be a link."""
        os.close(safefs.make_dirs(self.fd, rel, owner))
        return self.path.joinpath(*safefs.parts(rel))

    def copy_artifacts(self, out_dir: Path) -> list[str]:
        """workspace/artifacts → out_dir/artifacts (replacing an earlier attempt's copy); the warnings."""
        try:
            src = safefs.open_dir(self.fd, "artifacts")
        except FileNotFoundError:
            return []
        except (safefs.UnsafePath, OSError) as exc:
            return [f"artifacts not copied: {exc}"]
        try:
            dest = out_dir / "artifacts"
            shutil.rmtree(dest, ignore_errors=True)  # never follows the links an earlier copy kept
            out_dir.mkdir(parents=True, exist_ok=True)
            out_fd = os.open(out_dir, safefs.DIR_FLAGS)
            try:
                dst = safefs.make_dirs(out_fd, "artifacts")
            finally:
                os.close(out_fd)
            try:
                report = safefs.copy_tree(src, dst)
            finally:
                os.close(dst)
        finally:
            os.close(src)
        notes = [f"artifacts/{link}: a symbolic link, kept as a link and not followed" for link in report.links]
        notes += [f"artifacts/{why}: not copied" for why in report.refused]
        if len(notes) > MAX_NOTES:
            notes = [*notes[:MAX_NOTES], f"and {len(notes) - MAX_NOTES} more notes on artifacts"]
        return notes



class SpareRoots:
    """Run folders made ahead (`runs/.spare-<pid>-<n>/workspace/.benchd/`), each taken by one rename when a
    run starts: three mkdirs were on the way from a drop to its first step, and a mkdir costs 0.1-0.5 ms on
    a loaded ext4 where a rename costs 0.03 (measured). Made again after a run ends; the first run of a
    process, or one that finds none, makes its folders itself. A dead daemon's spares are leftovers that
    start-up recovery removes with the other run folders."""

    def __init__(self, runs: Path) -> None:
        self.runs = runs.resolve()
        self._ready: list[Path] = []
        self._made = 0
        self._lock = threading.Lock()

    def take(self, run_root: Path) -> bool:
        """Put a spare at `run_root` (anything there before is removed); False: none, make the folders."""
        with self._lock:
            spare = self._ready.pop() if self._ready else None
        if spare is None:
            return False
        shutil.rmtree(run_root, ignore_errors=True)
        try:
            os.rename(spare, run_root)
        except OSError:
            shutil.rmtree(spare, ignore_errors=True)
            return False
        return True

    def make(self, keep: int) -> None:
        """Make spares until `keep` are ready (one per run that may start at once)."""
        while True:
            with self._lock:
                if len(self._ready) >= keep:
                    return
                self._made += 1
                spare = self.runs / f".spare-{os.getpid()}-{self._made}"
            try:
                (spare / WORKSPACE / CONTROL).mkdir(parents=True)
            except OSError:
                shutil.rmtree(spare, ignore_errors=True)
                return
            with self._lock:
                self._ready.append(spare)

    def clear(self) -> None:
        """The process is stopping: its spares go (none is left behind in the state folder)."""
        with self._lock:
            ready, self._ready = self._ready, []
        for spare in ready:
            shutil.rmtree(spare, ignore_errors=True)
